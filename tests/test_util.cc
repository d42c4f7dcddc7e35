#include "tests/test_util.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace rill {

std::string TestTempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string ReadTestFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string WriteTestFile(const std::string& name, const std::string& text) {
  std::string path = TestTempPath(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

CommandResult RunRill(const std::string& args) {
  std::string out = TestTempPath("stdout"), err = TestTempPath("stderr");
  int status =
      std::system(("tools/rill " + args + " >" + out + " 2>" + err).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
          ReadTestFile(out), ReadTestFile(err)};
}

}  // namespace rill
