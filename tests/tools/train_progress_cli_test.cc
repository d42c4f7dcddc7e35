// What `rill train` shows: plain progress lines in a log file, checked
// against the run's own metrics.csv (the means since the previous line, the
// validation loss whenever it was measured, the epoch), with the timings
// masked; a bar redrawn in place on a terminal; and TensorBoard event files
// read back by the independent reader tests/train/read_tfevents.py.

#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tests/tools/train_cli_util.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

double Mean(const std::vector<std::vector<std::string>>& rows, int column,
            long long after, long long upto) {
  double sum = 0;
  for (long long s = after + 1; s <= upto; ++s)
    sum += std::stod(rows[s - 1][column]);
  return sum / (upto - after);
}

// `printed` is `exact` shown with `digits` significant digits.
void ExpectShown(const std::string& printed, double exact, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*g", digits, exact);
  EXPECT_EQ(printed, buffer);
}

TEST(TrainProgress, LogFileLinesAgreeWithMetricsCsv) {
  // Validation every 100 steps, lines every 250: every figure still shows.
  const std::string config = WriteSineConfig(
      "progress.train.pbtxt", {{"eval_every: 250", "eval_every: 100"}});
  const std::string out = TestTempPath("progress");
  fs::remove_all(out);
  CommandResult r = RunRill("train " + config + " -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\r'), std::string::npos);
  EXPECT_EQ(r.out.find('\033'), std::string::npos);
  const auto rows = CsvRows(ReadTestFile(out + "/metrics.csv"));
  ASSERT_EQ(rows.size(), 1500u);

  const std::regex line(
      "step (\\d+)/1500  loss (\\S+)  lr (\\S+)  grad_norm (\\S+)"
      "(  val_loss (\\S+))?  epoch (\\d+)/54  "
      "(first step [0-9.]+s|[0-9.]+ steps/s  ETA (\\?|\\d+s))");
  std::vector<long long> shown;
  std::istringstream lines(r.out);
  for (std::string text; std::getline(lines, text);) {
    if (text.rfind("step ", 0) != 0) continue;
    std::smatch m;
    ASSERT_TRUE(std::regex_match(text, m, line)) << text;
    const long long step = std::stoll(m[1]);
    const long long previous = shown.empty() ? 0 : shown.back();
    SCOPED_TRACE(text);
    ExpectShown(m[2], Mean(rows, 1, previous, step), 6);
    ExpectShown(m[3], std::stod(rows[step - 1][2]), 4);
    ExpectShown(m[4], Mean(rows, 3, previous, step), 4);
    EXPECT_EQ(m[5].matched, !rows[step - 1][4].empty());
    if (m[5].matched) ExpectShown(m[6], std::stod(rows[step - 1][4]), 6);
    // 896 training examples, batch 32: 28 steps an epoch.
    EXPECT_EQ(std::stoll(m[7]), (step + 27) / 28);
    EXPECT_EQ(std::string(m[8]).rfind("first step", 0) == 0, step == 1);
    shown.push_back(step);
  }
  std::vector<long long> expected = {1};
  for (long long s = 100; s <= 1500; s += 50) {
    if (s % 100 == 0 || s % 250 == 0) expected.push_back(s);
  }
  EXPECT_EQ(shown, expected);

  // The summary: the mean over the last line's steps, the last step's loss,
  // and how old the validation figure is.
  const std::regex summary(
      "done after 1500 steps in [0-9.]+ s: final loss (\\S+) \\(mean of the "
      "last 100 steps; the last step's (\\S+)\\), validation loss (\\S+) "
      "\\(at step 1500, the last step\\); checkpoint " +
      out + "/ckpt-00001500.rckpt\n");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, summary)) << r.out;
  ExpectShown(m[1], Mean(rows, 1, 1400, 1500), 6);
  ExpectShown(m[2], std::stod(rows[1499][1]), 6);
  ExpectShown(m[3], std::stod(rows[1499][4]), 6);
}

TEST(TrainProgress, TheSummaryNamesTheStepOfItsValidationLoss) {
  const std::string config =
      WriteSineConfig("stopped.train.pbtxt", {{"steps: 1500", "steps: 1000"}});
  const std::string out = TestTempPath("stopped");
  fs::remove_all(out);
  ASSERT_EQ(RunRill("train " + config + " -o " + out).exit_code, 0);
  // Resumed with more steps: lines at 1001, then at each validation (1020,
  // 1050, 1080) and at the end, 1100.
  const std::string longer = WriteSineConfig(
      "longer.train.pbtxt",
      {{"steps: 1500", "steps: 1100"}, {"eval_every: 250", "eval_every: 30"}});
  CommandResult r =
      RunRill("train " + longer + " -o " + out + " --resume " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(at step 1100, the last step)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("(mean of the last 20 steps;"), std::string::npos)
      << r.out;
}

TEST(TrainProgress, ATerminalGetsABarRedrawnInPlace) {
  const std::string config = WriteSineConfig(
      "tty.train.pbtxt", {{"steps: 1500", "steps: 20000"},
                          {"log_every: 250", "log_every: 10000"},
                          {"eval_every: 250", "eval_every: 0"}});
  const std::string out = TestTempPath("tty");
  fs::remove_all(out);
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("tools/rill", "rill", "train", config.c_str(), "-o", out.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = read(master, buffer, sizeof buffer)) > 0;) {
    text.append(buffer, n);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  close(master);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
  // Carriage return and erase-line, then the bar.
  const std::regex bar(
      "\r\033\\[Kstep \\d+/20000 \\[=*>? *\\] \\d+%  loss \\S+  ETA \\S+");
  const auto bars =
      std::distance(std::sregex_iterator(text.begin(), text.end(), bar),
                    std::sregex_iterator());
  EXPECT_GE(bars, 2) << text;
  // Each line erases the bar before it, so no bar is left in a line.
  EXPECT_NE(text.find("\r\033[Kstep 10000/20000  loss "), std::string::npos)
      << text;
  EXPECT_NE(text.find("done after 20000 steps"), std::string::npos);
}

// read_tfevents.py's "<step> <tag> <value>" lines for the one file in `dir`.
std::vector<std::string> ReadEvents(const std::string& dir) {
  std::vector<std::string> files = ListDir(dir);
  EXPECT_EQ(files.size(), 1u) << dir;
  if (files.empty()) return {};
  const std::string out = dir + ".txt";
  const std::string command =
      absl::StrCat("/usr/bin/python3 tests/train/read_tfevents.py ", dir, "/",
                   files.back(), " > ", out, " 2>&1");
  EXPECT_EQ(std::system(command.c_str()), 0) << ReadTestFile(out);
  return absl::StrSplit(ReadTestFile(out), '\n', absl::SkipEmpty());
}

// `event` is "<step> <tag> <v>" with v the float32 (TensorBoard keeps)
// nearest the metrics.csv figure `csv` (printed with 9 digits, as near).
void ExpectEvent(const std::string& event, size_t step, const std::string& tag,
                 const std::string& csv) {
  const std::string head = absl::StrCat(step, " ", tag, " ");
  ASSERT_EQ(event.rfind(head, 0), 0u) << event;
  const double value = std::stod(event.substr(head.size()));
  const double expected = std::stod(csv);
  EXPECT_NEAR(value, expected, 1.2e-7 * std::abs(expected)) << event;
}

TEST(TrainProgress, TensorBoardEventFilesHoldTheMetrics) {
  const std::string config =
      WriteSineConfig("tb.train.pbtxt", {{"steps: 1500", "steps: 500"}});
  const std::string out = TestTempPath("tb_out");
  const std::string tb = TestTempPath("tb");
  fs::remove_all(out);
  fs::remove_all(tb);
  CommandResult r =
      RunRill("train " + config + " -o " + out + " --tensorboard " + tb);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = CsvRows(ReadTestFile(out + "/metrics.csv"));
  ASSERT_EQ(rows.size(), 500u);

  std::vector<std::string> train = ReadEvents(tb + "/train");
  ASSERT_EQ(train.size(), 1u + 3 * 500) << train.back();
  EXPECT_EQ(train[0], "version brain.Event:2");
  for (size_t s = 1; s <= rows.size(); ++s) {
    SCOPED_TRACE(s);
    ExpectEvent(train[3 * s - 2], s, "loss", rows[s - 1][1]);
    ExpectEvent(train[3 * s - 1], s, "lr", rows[s - 1][2]);
    ExpectEvent(train[3 * s], s, "grad_norm", rows[s - 1][3]);
  }
  std::vector<std::string> validation = ReadEvents(tb + "/validation");
  ASSERT_EQ(validation.size(), 3u);  // Steps 250 and 500.
  EXPECT_EQ(validation[0], "version brain.Event:2");
  ExpectEvent(validation[1], 250, "loss", rows[249][4]);
  ExpectEvent(validation[2], 500, "loss", rows[499][4]);
  for (const auto& row : rows) {
    EXPECT_EQ(row[4].empty(), row[0] != "250" && row[0] != "500");
  }

  // The config's tensorboard_dir, relative to the config; a resumed run
  // marks where it restarts, so that TensorBoard drops what a killed run
  // wrote past its checkpoint.
  const std::string more =
      WriteSineConfig("tb_more.train.pbtxt", {{"steps: 1500", "steps: 600"}},
                      "tensorboard_dir: \"tb_from_config\"\n");
  fs::remove_all(TestTempPath("tb_from_config"));
  r = RunRill("train " + more + " -o " + out + " --resume " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  train = ReadEvents(TestTempPath("tb_from_config/train"));
  ASSERT_EQ(train.size(), 2u + 3 * 100);
  EXPECT_EQ(train[1], "501 session_log 1");
  EXPECT_EQ(train[2].rfind("501 loss ", 0), 0u);
  EXPECT_EQ(train.back().rfind("600 grad_norm ", 0), 0u);
}

}  // namespace
}  // namespace rill
