#include "tests/tools/train_cli_util.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {

std::string WriteSineConfig(
    const std::string& name,
    const std::vector<std::pair<std::string, std::string>>& replacements,
    const std::string& extra) {
  for (const char* f : {"sine_mlp.pbtxt", "sine_x.npy", "sine_y.npy"}) {
    std::filesystem::copy_file(
        std::string("examples/train/") + f, TestTempPath(f),
        std::filesystem::copy_options::overwrite_existing);
  }
  std::string text = ReadTestFile("examples/train/sine_mlp.train.pbtxt");
  for (const auto& [from, to] : replacements) {
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
  }
  const std::string path = TestTempPath(name);
  std::ofstream(path) << text << extra;
  return path;
}

std::vector<std::vector<std::string>> CsvRows(const std::string& csv) {
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(csv, '\n', absl::SkipEmpty())) {
    if (line.rfind("step,", 0) == 0) continue;
    rows.push_back(absl::StrSplit(line, ','));
  }
  return rows;
}

}  // namespace rill
