#ifndef RILL_TESTS_TEST_UTIL_H_
#define RILL_TESTS_TEST_UTIL_H_

// Helpers the test suites share.

#include <string>
#include <vector>

namespace rill {

// `name` inside the test's private temporary directory ($TEST_TMPDIR).
std::string TestTempPath(const std::string& name);
// The entry names in `dir`, sorted, without "." and ".."; empty if missing.
std::vector<std::string> ListDir(const std::string& dir);
// The whole file, or "" when it cannot be read.
std::string ReadTestFile(const std::string& path);
// Writes `text` to TestTempPath(name) and returns that path.
std::string WriteTestFile(const std::string& name, const std::string& text);

struct CommandResult {
  int exit_code;
  std::string out, err;
};
// Runs `tools/rill ARGS` from the runfiles root (where examples/ lives),
// as a user would, capturing stdout and stderr.
CommandResult RunRill(const std::string& args);

}  // namespace rill

#endif  // RILL_TESTS_TEST_UTIL_H_
