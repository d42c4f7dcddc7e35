// Replays a fuzz target's seed corpus through its entry point in an ordinary
// (gcc, and in ./dev test also ASan+UBSan) build, so that every suite run
// exercises the fuzz targets and keeps them compiling. The directories to
// replay are the test's arguments.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> g_dirs;

TEST(FuzzCorpus, EverySeedRunsCleanly) {
  int files = 0;
  for (const std::string& dir : g_dirs) {
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      SCOPED_TRACE(e.path().string());
      std::ifstream f(e.path(), std::ios::binary);
      std::stringstream s;
      s << f.rdbuf();
      std::string bytes = s.str();
      EXPECT_EQ(
          LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                                 bytes.size()),
          0);
      ++files;
    }
  }
  EXPECT_GE(files, 5) << "the seed corpus is missing";
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) g_dirs.push_back(argv[i]);
  return RUN_ALL_TESTS();
}
