// `rill train` end to end: a run, Ctrl-C (SIGINT) checkpointing and exiting
// cleanly, resuming, `rill run --params` with the trained values, and bad
// configs exiting 1 with the file and field named.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tests/tools/train_cli_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

const char kConfig[] = "examples/train/sine_mlp.train.pbtxt";

TEST(TrainCli, TrainsResumesAndRunsWithTheTrainedParameters) {
  std::string out = TestTempPath("out");
  fs::remove_all(out);
  CommandResult train =
      RunRill(std::string("train ") + kConfig + " --out " + out);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.out.find("step 250/1500  loss "), std::string::npos)
      << train.out;
  EXPECT_NE(train.out.find("done after 1500 steps"), std::string::npos);
  std::string last = out + "/ckpt-00001500.rckpt";
  ASSERT_TRUE(fs::exists(last));
  EXPECT_TRUE(fs::exists(out + "/metrics.csv"));

  // The run's curves: three panels (loss with val_loss, lr, grad_norm).
  CommandResult plot =
      RunRill("plot " + out + "/metrics.csv -o " + out + "/curves.svg");
  ASSERT_EQ(plot.exit_code, 0) << plot.err;
  EXPECT_EQ(plot.out,
            out + "/curves.svg: 3 panels from " + out + "/metrics.csv\n");
  EXPECT_NE(ReadTestFile(out + "/curves.svg").find("class=\"val_loss\""),
            std::string::npos);
  EXPECT_EQ(RunRill("plot " + out + "/metrics.csv -o curves.png").exit_code, 2);

  // A finished run resumed does nothing more.
  CommandResult again = RunRill(std::string("train ") + kConfig + " --out " +
                                out + " --resume " + out);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("resumed from " + out + " at step 1500"),
            std::string::npos)
      << again.out;
  EXPECT_NE(again.out.find("nothing to train: already at step 1500 of 1500"),
            std::string::npos)
      << again.out;
  EXPECT_EQ(again.out.find("final loss"), std::string::npos) << again.out;

  // A fresh run into the same directory refuses, naming the ways out.
  CommandResult fresh =
      RunRill(std::string("train ") + kConfig + " --out " + out);
  EXPECT_EQ(fresh.exit_code, 1);
  EXPECT_NE(fresh.err.find("already holds a training run"), std::string::npos)
      << fresh.err;

  const std::string feeds =
      " --feed x=examples/train/sine_x.npy --feed "
      "target=examples/train/sine_y.npy";
  CommandResult before = RunRill("run examples/train/sine_mlp.pbtxt" + feeds);
  CommandResult after =
      RunRill("run examples/train/sine_mlp.pbtxt --params " + last + feeds);
  ASSERT_EQ(after.exit_code, 0) << after.err;
  // "loss f32[]\n  min L ..." : the trained loss is far below the initial.
  auto loss = [](const std::string& out) {
    return std::stod(out.substr(out.find("min ") + 4));
  };
  EXPECT_LT(loss(after.out), loss(before.out) / 10);
  // --params DIR reads DIR's newest checkpoint, as --resume DIR does.
  CommandResult from_dir =
      RunRill("run examples/train/sine_mlp.pbtxt --params " + out + feeds);
  ASSERT_EQ(from_dir.exit_code, 0) << from_dir.err;
  EXPECT_EQ(from_dir.out, after.out);
  CommandResult empty_dir = RunRill(
      "run examples/train/sine_mlp.pbtxt "
      "--params examples/train" +
      feeds);
  EXPECT_EQ(empty_dir.exit_code, 1);
  EXPECT_NE(empty_dir.err.find(
                "examples/train: no ckpt-<step>.rckpt checkpoint in it"),
            std::string::npos)
      << empty_dir.err;

  CommandResult wrong =
      RunRill("run examples/regression.pbtxt --params " + last +
              " --feed x=examples/regression_x.npy"
              " --feed target=examples/regression_target.npy");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("not a checkpoint of this graph"), std::string::npos)
      << wrong.err;
}

TEST(TrainCli, CtrlCWritesACheckpointAndExitsCleanly) {
  std::string out = TestTempPath("interrupted");
  fs::remove_all(out);
  // A long run, so that the interrupt lands in the middle of it.
  std::string config = WriteSineConfig("long.train.pbtxt",
                                       {{"steps: 1500", "steps: 100000000"}});
  std::string log = TestTempPath("interrupted.log");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl("tools/rill", "rill", "train", config.c_str(), "--out", out.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until training has started, then interrupt.
  for (int i = 0;
       i < 600 && ReadTestFile(log).find("step 1/") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  std::string text = ReadTestFile(log);
  ASSERT_TRUE(WIFEXITED(status)) << text;
  EXPECT_EQ(WEXITSTATUS(status), 0) << text;
  EXPECT_NE(text.find("stopped (interrupted) after "), std::string::npos)
      << text;
  // The last checkpoint is the step it stopped at.
  size_t at = text.find("stopped (interrupted) after ");
  ASSERT_NE(at, std::string::npos);
  long long steps = std::stoll(text.substr(at + 28));
  // Validation runs every 250 steps: the summary says how old its figure is.
  if (steps >= 250) {
    const long long age = steps % 250;
    EXPECT_NE(text.find(absl::StrCat("(at step ", steps - age, ", ",
                                     age == 0 ? std::string("the last step")
                                              : absl::StrCat(age, " steps old"),
                                     ")")),
              std::string::npos)
        << text;
  }
  char name[64];
  std::snprintf(name, sizeof name, "ckpt-%08lld.rckpt", steps);
  std::vector<std::string> files = ListDir(out);
  ASSERT_GE(files.size(), 2u) << text;
  EXPECT_EQ(files[files.size() - 2], name) << text;
  EXPECT_EQ(files.back(), "metrics.csv");
}

// Starts `rill train` with stdout and stderr to `log`; returns its pid.
pid_t StartTrain(const std::vector<std::string>& args, const std::string& log) {
  fs::remove(log);  // So that no line of an earlier run is waited for.
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv = {const_cast<char*>("rill"),
                               const_cast<char*>("train")};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(&a[0]));
    argv.push_back(nullptr);
    execv("tools/rill", argv.data());
    _exit(127);
  }
  return pid;
}

void WaitForLine(const std::string& log, const std::string& text) {
  for (int i = 0; i < 1200 && ReadTestFile(log).find(text) == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

// The steps of metrics.csv's complete rows, in order; the header must lead.
std::vector<long long> MetricsSteps(const std::string& csv) {
  std::vector<long long> steps;
  EXPECT_EQ(csv.rfind("step,loss,lr,grad_norm,val_loss\n", 0), 0u) << csv;
  size_t begin = csv.find('\n') + 1;
  for (size_t end; (end = csv.find('\n', begin)) != std::string::npos;
       begin = end + 1) {
    std::string row = csv.substr(begin, end - begin);
    EXPECT_EQ(std::count(row.begin(), row.end(), ','), 4) << row;
    steps.push_back(std::stoll(row));
  }
  return steps;
}

std::vector<long long> OneTo(long long n) {
  std::vector<long long> v(n);
  std::iota(v.begin(), v.end(), 1);
  return v;
}

// kill -9 at random moments, then --resume: the newest checkpoint always
// has every metrics row up to its step, and the resumed runs leave each
// step exactly once, with no torn row.
TEST(TrainCli, KillNineThenResumeLeavesEveryStepOnce) {
  std::string out = TestTempPath("killed");
  fs::remove_all(out);
  std::string config = WriteSineConfig(
      "killed.train.pbtxt", {{"steps: 1500", "steps: 100000000"},
                             {"checkpoint_every: 500", "checkpoint_every: 7"}});
  std::string log = TestTempPath("killed.log");
  std::mt19937 rng(2026);
  for (int trial = 0; trial < 5; ++trial) {
    SCOPED_TRACE(trial);
    std::vector<std::string> args = {config, "--out", out};
    if (trial > 0) args.insert(args.end(), {"--resume", out});
    pid_t pid = StartTrain(args, log);
    ASSERT_GT(pid, 0);
    WaitForLine(log, "/100000000  loss");
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 400));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    std::vector<std::string> files = ListDir(out);
    ASSERT_GE(files.size(), 2u) << ReadTestFile(log);
    std::string newest = files[files.size() - 2];  // Before metrics.csv.
    ASSERT_EQ(newest.rfind("ckpt-", 0), 0u) << newest;
    long long saved = std::stoll(newest.substr(5));
    std::vector<long long> steps =
        MetricsSteps(ReadTestFile(out + "/metrics.csv"));
    ASSERT_GE(steps.size(), static_cast<size_t>(saved));
    steps.resize(saved);
    EXPECT_EQ(steps, OneTo(saved));
  }
  pid_t pid = StartTrain({config, "--out", out, "--resume", out}, log);
  WaitForLine(log, "/100000000  loss");
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  std::string text = ReadTestFile(log);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << status << " " << text;
  size_t at = text.find("stopped (interrupted) after ");
  ASSERT_NE(at, std::string::npos) << text;
  long long steps = std::stoll(text.substr(at + 28));
  std::string csv = ReadTestFile(out + "/metrics.csv");
  EXPECT_EQ(MetricsSteps(csv), OneTo(steps));
  EXPECT_EQ(csv.back(), '\n');
}

// kill -9 at random moments of a finite run, each time resumed, then run to
// its end: metrics.csv and the last checkpoint are byte for byte those of
// a run that was never interrupted (no torn row, no step twice, the same
// parameters and optimizer state).
TEST(TrainCli, KilledAndResumedRunsEndAsAnUninterruptedOne) {
  const std::string config = WriteSineConfig(
      "finite.train.pbtxt", {{"steps: 1500", "steps: 3000"},
                             {"checkpoint_every: 500", "checkpoint_every: 7"},
                             {"log_every: 250", "log_every: 100"}});
  const std::string reference = TestTempPath("uninterrupted");
  fs::remove_all(reference);
  const auto start = std::chrono::steady_clock::now();
  CommandResult r = RunRill("train " + config + " --threads 1 -o " + reference);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Kills land between 2% and 15% of an uninterrupted run's time after its
  // first step, so that five of them fit in one run on a fast machine or a
  // slow one.
  const double run_ms = std::chrono::duration<double, std::milli>(
                            std::chrono::steady_clock::now() - start)
                            .count();
  std::uniform_real_distribution<double> delay(0.02 * run_ms, 0.15 * run_ms);

  const std::string out = TestTempPath("killed_finite");
  fs::remove_all(out);
  const std::string log = TestTempPath("killed_finite.log");
  std::mt19937 rng(21);
  int kills = 0;
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<std::string> args = {config, "--threads", "1", "-o", out};
    if (trial > 0) args.insert(args.end(), {"--resume", out});
    pid_t pid = StartTrain(args, log);
    ASSERT_GT(pid, 0);
    WaitForLine(log, "/3000  loss");
    std::this_thread::sleep_for(
        std::chrono::duration<double, std::milli>(delay(rng)));
    if (waitpid(pid, nullptr, WNOHANG) == pid) break;  // It had finished.
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    ++kills;
  }
  EXPECT_GE(kills, 3);
  r = RunRill("train " + config + " --threads 1 -o " + out + " --resume " +
              out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string csv = ReadTestFile(out + "/metrics.csv");
  EXPECT_EQ(MetricsSteps(csv), OneTo(3000));
  EXPECT_TRUE(csv == ReadTestFile(reference + "/metrics.csv"));
  const std::string last = "/ckpt-00003000.rckpt";
  EXPECT_TRUE(ReadTestFile(out + last) == ReadTestFile(reference + last));
}

TEST(TrainCli, BadConfigsExitOneNamingTheFileAndField) {
  std::string bad = TestTempPath("bad.train.pbtxt");
  std::ofstream(bad) << "graph: \"x.pbtxt\" loss: \"loss\" batch_size: 0\n";
  CommandResult r = RunRill("train " + bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(bad + ": data: bind at least one input"),
            std::string::npos)
      << r.err;
  std::ofstream(bad) << "graph: \"x.pbtxt\" nonsense: 1\n";
  r = RunRill("train " + bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not a valid TrainConfig"), std::string::npos) << r.err;
}

TEST(TrainCli, ThreadCountsOutOfRangeAreRefused) {
  std::string config =
      WriteSineConfig("threads.train.pbtxt", {}, "threads: 50000\n");
  CommandResult r =
      RunRill("train " + config + " --out " + TestTempPath("threads_out"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(config + ": threads: 50000: must be in [0, 1024]"),
            std::string::npos)
      << r.err;
  // A command-line mistake exits 2, naming the flag.
  for (const char* bad : {"abc", "-1", "5000"}) {
    r = RunRill(std::string("train ") + kConfig + " --threads " + bad);
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find(std::string("--threads ") + bad +
                         ": give a count in [0, 1024]"),
              std::string::npos)
        << r.err;
  }
  // --threads overrides the config's `threads: 50000`, so the run trains.
  r = RunRill("train " + config + " --threads 1 --out " +
              TestTempPath("threads_flag_out") + " --overwrite");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace rill
