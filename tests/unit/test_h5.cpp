// io: HDF5 wrappers (serial here; the parallel path is in tests/mpi) and atomic publication.
#include <gtest/gtest.h>
#include <unistd.h>

#include "salm/core/error.hpp"
#include "salm/dist/communicator.hpp"
#include "salm/io/h5.hpp"
#include "salm/io/publish.hpp"
#include "test_support.hpp"

using namespace salm;

TEST(H5File, RowRangesAndAttributesRoundTrip) {
  test::TempDir dir;
  std::string path = dir.file("a.h5");
  {
    auto f = io::H5File::create_exclusive(path, MPI_COMM_NULL);
    EXPECT_FALSE(f.parallel());
    f.create_group("/g");
    f.create_dataset<float>("/g/x", {5, 2, 3});
    std::vector<float> rows(2 * 6);
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<float>(i) + 0.5f;
    f.write_rows("/g/x", 1, 2, rows.data());
    f.write_rows<float>("/g/x", 3, 0, nullptr);  // nothing to write is fine
    f.set_attr("/", "name", std::string("salm"));
    f.set_attr("/", "n", std::int64_t{42});
    f.set_attr("/g", "ratio", 0.25);
    f.set_attr("/", "empty", std::string());
    EXPECT_THROW(f.write_rows("/g/x", 4, 2, rows.data()), RuntimeError);
    f.close();
  }
  auto f = io::H5File::open_read(path);
  EXPECT_TRUE(f.exists("/g/x"));
  EXPECT_FALSE(f.exists("/g/y"));
  EXPECT_FALSE(f.exists("/nope/x"));
  EXPECT_EQ(f.dims("/g/x"), (std::vector<std::int64_t>{5, 2, 3}));
  EXPECT_EQ(f.type("/g/x"), io::H5Type::f32);
  EXPECT_EQ(f.type_name("/g/x"), "float32");
  auto back = f.read_rows<float>("/g/x", 1, 2);
  ASSERT_EQ(back.size(), 12u);
  EXPECT_FLOAT_EQ(back[0], 0.5f);
  EXPECT_FLOAT_EQ(back[11], 11.5f);
  EXPECT_EQ(f.attr_string("/", "name").value(), "salm");
  EXPECT_EQ(f.attr_string("/", "empty").value(), "");
  EXPECT_EQ(f.attr_int("/", "n").value(), 42);
  EXPECT_DOUBLE_EQ(f.attr_double("/g", "ratio").value(), 0.25);
  EXPECT_FALSE(f.attr_int("/", "missing").has_value());
  auto names = f.attr_names("/");
  EXPECT_EQ(names.size(), 3u);
  EXPECT_THROW(f.read_rows<float>("/g/x", 4, 2), InputError);
}

TEST(H5File, CreateNeverTruncates) {
  test::TempDir dir;
  std::string path = dir.file("a.h5");
  test::write_file(path, "precious");
  EXPECT_THROW(io::H5File::create_exclusive(path, MPI_COMM_NULL), Hdf5Error);
  EXPECT_EQ(test::read_file(path), "precious");
}

TEST(H5File, OpenReadRejectsNonHdf5) {
  test::TempDir dir;
  EXPECT_THROW(io::H5File::open_read(dir.file("missing.h5")), InputError);
  test::write_file(dir.file("text.h5"), "not hdf5 at all");
  try {
    io::H5File::open_read(dir.file("text.h5"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not an HDF5 file"), std::string::npos);
  }
}

TEST(AtomicOutput, PublishesOnlyOnCommit) {
  test::TempDir dir;
  dist::SelfCommunicator comm;
  std::string path = dir.file("out.h5");
  {
    io::AtomicH5Output out(path, false, comm);
    out.file().create_dataset<std::uint8_t>("/x", {3});
    EXPECT_TRUE(test::file_exists(path + ".partial"));
    EXPECT_FALSE(test::file_exists(path));
    // destroyed without commit: as after a failure
  }
  EXPECT_FALSE(test::file_exists(path + ".partial"));
  EXPECT_FALSE(test::file_exists(path));
  {
    io::AtomicH5Output out(path, false, comm);
    out.file().create_dataset<std::uint8_t>("/x", {3});
    out.commit();
  }
  EXPECT_TRUE(test::file_exists(path));
  EXPECT_FALSE(test::file_exists(path + ".partial"));
  EXPECT_EQ(io::H5File::open_read(path).dims("/x"), (std::vector<std::int64_t>{3}));
}

TEST(AtomicOutput, RefusesExistingOutputAndForeignPartial) {
  test::TempDir dir;
  dist::SelfCommunicator comm;
  std::string path = dir.file("out.h5");
  test::write_file(path, "keep me");
  EXPECT_THROW(io::AtomicH5Output(path, false, comm), InputError);
  EXPECT_EQ(test::read_file(path), "keep me");
  {
    io::AtomicH5Output out(path, true, comm);  // --overwrite: replaced only at commit
    out.file().create_dataset<std::uint8_t>("/x", {1});
    EXPECT_EQ(test::read_file(path), "keep me");
    out.commit();
  }
  EXPECT_NE(test::read_file(path), "keep me");

  std::string other = dir.file("other.h5");
  test::write_file(other + ".partial", "another run's");
  EXPECT_THROW(io::AtomicH5Output(other, false, comm), InputError);
  EXPECT_EQ(test::read_file(other + ".partial"), "another run's");
  EXPECT_THROW(io::check_output_path(dir.file("no/such/dir.h5"), false, comm), InputError);
}

TEST(OutputLock, ASecondClaimIsRefusedNamingTheHolderUntilTheFirstEnds) {
  test::TempDir dir;
  dist::SelfCommunicator comm;
  const std::string out = dir.file("n.h5");
  {
    io::OutputLock first(out, comm);
    EXPECT_TRUE(test::file_exists(out + ".lock"));
    try {
      io::OutputLock second(out, comm);
      FAIL() << "a second claim on the same output was granted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("in use by another salm run"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::to_string(::getpid())), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(test::file_exists(out + ".lock"));
  test::write_file(out + ".lock", "4242 gone-host\n");  // left by a killed run: nobody holds it
  EXPECT_NO_THROW(io::OutputLock again(out, comm));
  // An output's unfinished .partial is refused before any work, unless --overwrite.
  test::write_file(out + ".partial", "x");
  EXPECT_THROW(io::check_output_path(out, false, comm), InputError);
  EXPECT_NO_THROW(io::check_output_path(out, true, comm));
}
