// `rill train --resume` when things went wrong: a damaged newest checkpoint
// (a flipped byte, a truncated file) is passed over for the one before it,
// loudly, and the resumed run still ends where an undamaged one does; a
// config whose plan (steps, epochs, learning rate, schedule) changed since
// the checkpoint is reported, old -> new.

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tests/tools/train_cli_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

// The data steps of `csv`, in order.
std::vector<long long> Steps(const std::string& csv) {
  std::vector<long long> steps;
  for (const auto& row : CsvRows(csv)) steps.push_back(std::stoll(row[0]));
  return steps;
}

std::vector<long long> OneTo(long long n) {
  std::vector<long long> v;
  for (long long i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

void FlipByte(const std::string& path, size_t at) {
  std::string bytes = ReadTestFile(path);
  ASSERT_LT(at, bytes.size());
  bytes[at] ^= 0x40;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

void Truncate(const std::string& path) {
  fs::resize_file(path, fs::file_size(path) / 2);
}

TEST(TrainRecovery, ADamagedNewestCheckpointFallsBackToThePreviousOne) {
  const std::string config =
      WriteSineConfig("damaged.train.pbtxt",
                      {{"steps: 1500", "steps: 1000"},
                       {"checkpoint_every: 500", "checkpoint_every: 250"}},
                      "keep_checkpoints: 10\n");
  const std::string out = TestTempPath("damaged");
  fs::remove_all(out);
  const std::string train = "train " + config + " --threads 1 -o " + out;
  CommandResult r = RunRill(train);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string newest = out + "/ckpt-00001000.rckpt";
  const std::string previous = out + "/ckpt-00000750.rckpt";
  const std::string intact = ReadTestFile(newest);
  const std::string metrics = ReadTestFile(out + "/metrics.csv");

  struct Case {
    const char* name;
    void (*damage)(const std::string&);
  };
  const Case cases[] = {
      {"a flipped byte", [](const std::string& p) { FlipByte(p, 3000); }},
      {"truncated", Truncate},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    c.damage(newest);
    r = RunRill(train + " --resume " + out);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("warning: " + newest), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("warning: resuming from " + previous +
                         " (step 750), the newest intact checkpoint, instead "
                         "of the damaged " +
                         newest),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.out.find("resumed from " + out + " at step 750"),
              std::string::npos)
        << r.out;
    // The 250 steps are made again, exactly as the first time.
    EXPECT_EQ(ReadTestFile(newest), intact);
    EXPECT_EQ(ReadTestFile(out + "/metrics.csv"), metrics);
    EXPECT_EQ(Steps(ReadTestFile(out + "/metrics.csv")), OneTo(1000));
  }

  // Two damaged ones: both are named, and the run goes back to step 500.
  Truncate(newest);
  FlipByte(previous, 100);
  r = RunRill(train + " --resume " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming from " + out +
                       "/ckpt-00000500.rckpt (step "
                       "500), the newest intact checkpoint, instead of the "
                       "damaged " +
                       newest + ", " + previous),
            std::string::npos)
      << r.err;
  EXPECT_EQ(ReadTestFile(newest), intact);

  // A damaged file named on its own is an error that says how to fall back.
  Truncate(newest);
  r = RunRill(train + " --resume " + newest);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(newest), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--resume DIR falls back past a damaged newest "
                       "checkpoint"),
            std::string::npos)
      << r.err;

  // Nothing intact: an error naming every file, and no file is changed.
  for (const std::string& f : ListDir(out)) {
    if (f.rfind("ckpt-", 0) == 0) Truncate(out + "/" + f);
  }
  r = RunRill(train + " --resume " + out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(out + ": every checkpoint in it is damaged (" + newest),
            std::string::npos)
      << r.err;
  EXPECT_EQ(ReadTestFile(out + "/metrics.csv"), metrics);
}

TEST(TrainRecovery, AChangedPlanOnResumeIsReported) {
  const std::string out = TestTempPath("replanned");
  fs::remove_all(out);
  const std::string first =
      WriteSineConfig("plan500.train.pbtxt", {{"steps: 1500", "steps: 500"}});
  CommandResult r = RunRill("train " + first + " -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // The same plan again: nothing to report.
  r = RunRill("train " + first + " -o " + out + " --resume " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("another plan"), std::string::npos) << r.err;

  struct Case {
    std::vector<std::pair<std::string, std::string>> changes;
    std::string report;
  };
  const Case cases[] = {
      {{{"steps: 1500", "steps: 800"}},
       "steps 500 -> 800, total_steps 500 -> 800"},
      {{{"steps: 1500", "epochs: 20"}},
       // 20 epochs of 28 batches.
       "steps 500 -> 0, epochs 0 -> 20, total_steps 500 -> 560"},
      {{{"steps: 1500", "steps: 500"},
        {"learning_rate: 0.01", "learning_rate: 0.02"}},
       "learning_rate 0.01 -> 0.02"},
      {{{"steps: 1500", "steps: 500"},
        {"schedule { cosine { warmup_steps: 50 min_lr: 0.0005 } }", ""}},
       "schedule cosine { warmup_steps: 50 min_lr: 0.0005 } -> constant {}"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.report);
    const std::string changed =
        WriteSineConfig("changed.train.pbtxt", c.changes);
    const std::string copy = out + "_copy";
    fs::remove_all(copy);
    fs::copy(out, copy);
    r = RunRill("train " + changed + " -o " + copy + " --resume " + copy);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("warning: " + copy +
                         "/ckpt-00000500.rckpt was saved by a run with "
                         "another plan (saved -> this config): " +
                         c.report),
              std::string::npos)
        << r.err;
  }
}

}  // namespace
}  // namespace rill
