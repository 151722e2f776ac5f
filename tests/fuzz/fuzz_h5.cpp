// libFuzzer harness, structure-aware: the fuzz input decides a salm dataset .h5 file (which
// splits, the shapes, element types and values of images and labels, the attributes and their
// string kinds, declared sizes with no data behind them), the HDF5 library writes it, and salm's
// reader opens and reads it in full. This fuzzes salm's validation of what HDF5 hands it. HDF5's
// own byte-level parser is not salm's code: fuzz_h5_raw feeds it raw bytes (tools/fuzz.sh h5-raw;
// docs/reliability.md says what it found in Debian's HDF5 1.10.8).
#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>

#include <vector>

#include "fuzz_common.hpp"

#include "salm/core/error.hpp"
#include "salm/io/h5.hpp"

namespace {

hid_t pick_type(FuzzedDataProvider& in, bool image) {
  static const hid_t* image_types[] = {&H5T_NATIVE_UINT8, &H5T_NATIVE_UINT8, &H5T_NATIVE_INT16, &H5T_NATIVE_FLOAT};
  static const hid_t* label_types[] = {&H5T_NATIVE_INT64, &H5T_NATIVE_INT64, &H5T_NATIVE_INT32, &H5T_NATIVE_UINT8,
                                       &H5T_NATIVE_DOUBLE};
  return image ? *image_types[in.ConsumeIntegralInRange<int>(0, 3)] : *label_types[in.ConsumeIntegralInRange<int>(0, 4)];
}

void write_dataset(hid_t file, const std::string& name, FuzzedDataProvider& in, bool image, std::int64_t rows) {
  int rank = image ? in.ConsumeIntegralInRange<int>(2, 5) : in.ConsumeIntegralInRange<int>(0, 2);
  std::vector<hsize_t> dims;
  for (int d = 0; d < rank; ++d) dims.push_back(d == 0 ? static_cast<hsize_t>(rows) : in.ConsumeIntegralInRange<hsize_t>(0, 6));
  hid_t type = pick_type(in, image);
  hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims.data(), nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  // Sometimes a huge declared first dimension with chunked storage and nothing written.
  bool lie = rank > 0 && in.ConsumeBool() && in.ConsumeBool();
  if (lie) {
    dims[0] = hsize_t{1} << in.ConsumeIntegralInRange<int>(20, 34);
    std::vector<hsize_t> maxd(dims.size(), H5S_UNLIMITED), chunk(dims.size(), 1);
    H5Sclose(space);
    space = H5Screate_simple(rank, dims.data(), maxd.data());
    H5Pset_chunk(dcpl, rank, chunk.data());
  }
  hid_t ds = H5Dcreate2(file, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (ds >= 0 && !lie) {
    hsize_t n = 1;
    for (auto d : dims) n *= d;
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(n) * H5Tget_size(type));
    auto given = in.ConsumeBytes<std::uint8_t>(bytes.size());
    std::copy(given.begin(), given.end(), bytes.begin());
    H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data());
  }
  if (ds >= 0) H5Dclose(ds);
  H5Pclose(dcpl);
  H5Sclose(space);
}

void string_attr(hid_t file, const char* name, const std::string& value, int kind) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, kind == 0 ? H5T_VARIABLE : std::max<std::size_t>(1, value.size()));
  H5Tset_cset(type, kind == 2 ? H5T_CSET_ASCII : H5T_CSET_UTF8);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  const char* p = value.c_str();
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  if (a >= 0) H5Awrite(a, type, kind == 0 ? static_cast<const void*>(&p) : padded.data());
  if (a >= 0) H5Aclose(a);
  H5Sclose(space);
  H5Tclose(type);
}

void number_attr(hid_t file, const char* name, FuzzedDataProvider& in) {
  bool real = in.ConsumeBool();
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t type = real ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
  hid_t a = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  double d = in.ConsumeFloatingPoint<double>();
  std::int64_t i = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::int64_t>(-2, 12) : in.ConsumeIntegral<std::int64_t>();
  if (a >= 0) H5Awrite(a, type, real ? static_cast<const void*>(&d) : &i);
  if (a >= 0) H5Aclose(a);
  H5Sclose(space);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = salm::fuzz::scratch("input.h5");
  salm::io::quiet_hdf5_errors();
  FuzzedDataProvider in(data, size);
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) std::abort();
  for (const char* split : {"train", "val", "test"}) {
    if (!in.ConsumeBool() && std::string(split) != "train") continue;
    H5Gclose(H5Gcreate2(file, split, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    std::int64_t rows = in.ConsumeIntegralInRange<std::int64_t>(0, 8);
    if (in.ConsumeIntegralInRange<int>(0, 9) != 0) write_dataset(file, std::string(split) + "/images", in, true, rows);
    if (in.ConsumeIntegralInRange<int>(0, 9) != 0)
      write_dataset(file, std::string(split) + "/labels", in, false, in.ConsumeBool() ? rows : in.ConsumeIntegralInRange<std::int64_t>(0, 8));
  }
  static const char* tasks[] = {"multi-class", "multi-label", "binary-class", "ordinal-regression", "", "regression"};
  if (in.ConsumeIntegralInRange<int>(0, 5)) string_attr(file, "name", in.ConsumeRandomLengthString(12), in.ConsumeIntegralInRange<int>(0, 2));
  if (in.ConsumeIntegralInRange<int>(0, 5)) number_attr(file, "num_classes", in);
  if (in.ConsumeIntegralInRange<int>(0, 5)) string_attr(file, "task", tasks[in.ConsumeIntegralInRange<int>(0, 5)], in.ConsumeIntegralInRange<int>(0, 2));
  if (in.ConsumeBool()) string_attr(file, "source", in.ConsumeRandomLengthString(12), in.ConsumeIntegralInRange<int>(0, 2));
  H5Fclose(file);
  try {
    salm::fuzz::read_everything(path);
  } catch (const salm::Error&) {
  }
  return 0;
}
