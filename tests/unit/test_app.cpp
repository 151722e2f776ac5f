// The subcommands' jobs in-process (salm::app with a SelfCommunicator, no binary): protect writes
// a noise file that keeps every guarantee, stops on its hook with a checkpoint and resumes to the
// same noise, refuses a checkpoint of other options; evaluate and its suite.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <csignal>

#include "salm/app/datasets.hpp"
#include "salm/app/estimate.hpp"
#include "salm/app/evaluate.hpp"
#include "salm/app/protect.hpp"
#include "salm/core/error.hpp"
#include "salm/io/h5.hpp"
#include "test_support.hpp"

using namespace salm;

namespace {

/// A tiny built-in dataset (48 train rows of 16x16x3, 3 classes), made in-process.
std::string tiny_dataset(const test::TempDir& dir) {
  app::SynthRequest r;
  r.options.classes = 3;
  r.options.train = 48;
  r.options.val = 12;
  r.options.test = 24;
  r.options.size = 16;
  r.output.out = dir.file("tiny.h5");
  dist::SelfCommunicator comm;
  app::synth(r, comm);
  return r.output.out;
}

app::ProtectRequest quick_protect(const std::string& data, const std::string& out) {
  app::ProtectRequest r;
  r.options.model = "small-cnn";
  r.options.pgd_steps = 3;
  r.options.train_steps = 2;
  r.options.max_iters = 2;
  r.options.batch_size = 16;
  r.options.stop_acc = 0;
  r.files.data = data;
  r.files.out = out;
  return r;
}

std::vector<float> delta_of(const std::string& path) { return io::H5File::open_read(path).read_all<float>("/delta"); }

}  // namespace

TEST(App, ProtectWritesANoiseFileThatKeepsEveryGuarantee) {
  test::TempDir dir;
  auto data = tiny_dataset(dir);
  dist::SelfCommunicator comm;
  auto req = quick_protect(data, dir.file("n.h5"));
  req.files.report = dir.file("n.json");
  auto r = app::protect(req, comm);
  EXPECT_EQ(r.status, app::ProtectStatus::completed);
  EXPECT_EQ(r.rows, 48);
  EXPECT_EQ(r.iterations, 2);
  EXPECT_FALSE(r.resumed);
  test::check_guarantees(dir.file("n.h5"), 10, 8);
  auto f = io::H5File::open_read(dir.file("n.h5"));
  EXPECT_EQ(f.attr_string("/", "method"), "salm");
  EXPECT_EQ(f.attr_double("/", "epsilon"), 8.0);
  EXPECT_EQ(f.attr_int("/", "ranks"), 1);
  EXPECT_TRUE(test::file_exists(dir.file("n.json")));
  EXPECT_FALSE(test::file_exists(dir.file("n.h5.ckpt")));  // removed after success
  // The same request again refuses to replace the file it wrote.
  EXPECT_THROW(app::protect(req, comm), InputError);
}

TEST(App, ProtectStopsOnItsHookAndResumesToTheSameNoise) {
  test::TempDir dir;
  auto data = tiny_dataset(dir);
  dist::SelfCommunicator comm;
  auto ref = quick_protect(data, dir.file("ref.h5"));
  ref.files.no_checkpoint = true;
  ASSERT_EQ(app::protect(ref, comm).status, app::ProtectStatus::completed);

  auto req = quick_protect(data, dir.file("res.h5"));
  int polls = 0;
  req.step_hook = [&] { return ++polls == 4 ? SIGUSR1 : 0; };  // the first iteration's second noise batch
  auto first = app::protect(req, comm);
  EXPECT_EQ(first.status, app::ProtectStatus::stopped);
  EXPECT_FALSE(test::file_exists(dir.file("res.h5")));
  EXPECT_TRUE(test::file_exists(dir.file("res.h5.ckpt/latest")));
  req.step_hook = {};
  auto second = app::protect(req, comm);
  EXPECT_EQ(second.status, app::ProtectStatus::completed);
  EXPECT_TRUE(second.resumed);
  EXPECT_EQ(delta_of(dir.file("res.h5")), delta_of(dir.file("ref.h5")));

  // A checkpoint of other options is refused, not mixed in.
  req.files.out = dir.file("other.h5");
  req.files.checkpoint_dir = dir.file("ckpt");
  req.step_hook = [&, n = 0]() mutable { return ++n == 2 ? SIGUSR1 : 0; };
  ASSERT_EQ(app::protect(req, comm).status, app::ProtectStatus::stopped);
  req.step_hook = {};
  req.options.k = 20;
  EXPECT_THROW(app::protect(req, comm), InputError);
  req.options.k = 10;
  req.options.max_iters = 3;  // so is one of another --max-iters
  EXPECT_THROW(app::protect(req, comm), InputError);
  req.options.max_iters = 2;  // the same options continue it
  auto same = app::protect(req, comm);
  EXPECT_TRUE(same.resumed);
  EXPECT_EQ(same.iterations, 2);
}

TEST(App, ProtectBaselinesAndBadRequests) {
  test::TempDir dir;
  auto data = tiny_dataset(dir);
  dist::SelfCommunicator comm;
  auto req = quick_protect(data, dir.file("sp.h5"));
  req.options.method = Method::sp;
  EXPECT_EQ(app::protect(req, comm).status, app::ProtectStatus::completed);
  test::check_guarantees(dir.file("sp.h5"), 100, 8);
  auto bad = quick_protect(data, dir.file("x.h5"));
  bad.options.momentum = std::nan("");
  EXPECT_THROW(app::protect(bad, comm), UsageError);
  bad = quick_protect(dir.file("missing.h5"), dir.file("x.h5"));
  EXPECT_THROW(app::protect(bad, comm), InputError);
  EXPECT_FALSE(test::file_exists(dir.file("x.h5")));
}

TEST(App, EvaluateOneVictimAndTheSuite) {
  test::TempDir dir;
  auto data = tiny_dataset(dir);
  dist::SelfCommunicator comm;
  auto p = quick_protect(data, dir.file("n.h5"));
  ASSERT_EQ(app::protect(p, comm).status, app::ProtectStatus::completed);

  app::EvaluateRequest e;
  e.victim.model = "small-cnn";
  e.victim.epochs = 1;
  e.victim.batch_size = 16;
  e.files.data = data;
  e.files.report = dir.file("clean.json");
  auto clean = app::evaluate(e, comm);
  ASSERT_EQ(clean.rows.size(), 1u);
  EXPECT_NEAR(clean.chance, 1.0 / 3, 1e-9);  // 24 balanced test rows of 3 classes
  EXPECT_FALSE(clean.rows[0].run.protected_);
  EXPECT_EQ(clean.rows[0].outcome.result.curve.size(), 1u);
  EXPECT_TRUE(test::file_exists(dir.file("clean.json")));

  e.files.noise = dir.file("n.h5");
  e.files.report.clear();
  e.files.suite = dir.file("audit.json");
  auto suite = app::evaluate(e, comm);
  ASSERT_GE(suite.rows.size(), 10u);
  EXPECT_EQ(suite.rows[0].run.name, "clean");
  EXPECT_EQ(suite.rows[1].run.name, "protected");
  EXPECT_EQ(suite.rows[1].outcome.protected_rows, 48);
  EXPECT_TRUE(test::file_exists(dir.file("audit.json")));
  EXPECT_TRUE(test::file_exists(app::markdown_path(dir.file("audit.json"))));
  EXPECT_EQ(app::markdown_path("a/b.json"), "a/b.md");
  EXPECT_EQ(app::markdown_path("table"), "table.md");

  // Inconsistent settings fail before anything is read.
  e.audit.jpeg = 50;
  EXPECT_THROW(app::evaluate(e, comm), UsageError);  // --suite runs every setting itself
  e.files.suite.reset();
  e.files.noise.clear();
  e.audit.jpeg.reset();
  e.audit.fraction = 50;
  EXPECT_THROW(app::evaluate(e, comm), UsageError);  // --fraction needs --noise
}

TEST(App, ADamagedOrEditedCheckpointIsRefusedNamingItsFile) {
  test::TempDir dir;
  auto data = tiny_dataset(dir);
  dist::SelfCommunicator comm;
  auto req = quick_protect(data, dir.file("n.h5"));
  req.step_hook = [n = 0]() mutable { return ++n == 3 ? SIGUSR1 : 0; };
  ASSERT_EQ(app::protect(req, comm).status, app::ProtectStatus::stopped);
  req.step_hook = {};
  const std::string ckpt = dir.file("n.h5.ckpt");
  const std::string gen = ckpt + "/" + test::read_file(ckpt + "/latest").substr(0, test::read_file(ckpt + "/latest").size() - 1);
  // Private, like the noise file: the checkpoint holds the noise.
  struct stat st {};
  ASSERT_EQ(::stat(ckpt.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const char* f : {"state.h5", "model.pt", "meta.json", "manifest.json"}) {
    ASSERT_EQ(::stat((gen + "/" + f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  for (const char* f : {"state.h5", "model.pt", "meta.json"}) {
    const std::string path = gen + "/" + f, good = test::read_file(path);
    std::string bad = good;
    bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x40);  // one byte
    test::write_file(path, bad);
    try {
      app::protect(req, comm);
      FAIL() << "a checkpoint with a damaged " << f << " was resumed";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("manifest"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(test::file_exists(dir.file("n.h5")));
    test::write_file(path, good);
  }
  ::unlink((gen + "/manifest.json").c_str());  // an unfinished generation
  EXPECT_THROW(app::protect(req, comm), InputError);
}

TEST(App, EstimateSlurmTimeIsWholeMinutesRoundedUpWithDays) {
  EXPECT_EQ(app::slurm_time(0), "00:01:00");
  EXPECT_EQ(app::slurm_time(60), "00:01:00");
  EXPECT_EQ(app::slurm_time(61), "00:02:00");
  EXPECT_EQ(app::slurm_time(3599), "01:00:00");
  EXPECT_EQ(app::slurm_time(24 * 3600 - 1), "1-00:00:00");
  EXPECT_EQ(app::slurm_time(26 * 3600 + 30), "1-02:01:00");
}
