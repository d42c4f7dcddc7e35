#include "core/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

bool Mentions(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

TEST(FileIoTest, WriteThenReadBinary) {
  std::string path = TestTempPath("binary");
  std::string contents("a\0b\xFF\n", 5);
  ASSERT_TRUE(WriteFileAtomic(path, contents).ok());
  EXPECT_EQ(ReadFileCapped(path, 5).value(), contents);
  ASSERT_TRUE(WriteFileAtomic(path, "").ok());
  EXPECT_EQ(ReadFileCapped(path, 0).value(), "");
}

TEST(FileIoTest, ReadOverCapIsRefusedBeforeReading) {
  // A sparse 64 GiB file: reading it, or even allocating for it, would not
  // finish (and would abort under ASan), so only a check of the size passes.
  std::string path = TestTempPath("sparse");
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, int64_t{1} << 36), 0);
  close(fd);
  absl::StatusOr<std::string> r = ReadFileCapped(path, 1 << 20);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Mentions(r.status(), path)) << r.status();
  EXPECT_TRUE(Mentions(r.status(), "68719476736 bytes")) << r.status();
  unlink(path.c_str());
}

TEST(FileIoTest, ReadAtCapIsAllowedAndOneOverIsNot) {
  std::string path = TestTempPath("ten");
  ASSERT_TRUE(WriteFileAtomic(path, "0123456789").ok());
  EXPECT_EQ(ReadFileCapped(path, 10).value(), "0123456789");
  EXPECT_EQ(ReadFileCapped(path, 9).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(FileIoTest, ReadMissingFileIsNotFound) {
  std::string path = TestTempPath("does_not_exist");
  absl::StatusOr<std::string> r = ReadFileCapped(path, 100);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Mentions(r.status(), path)) << r.status();
}

TEST(FileIoTest, ReadDirectoryIsRejected) {
  std::string dir = TestTempPath("a_dir");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  absl::StatusOr<std::string> r = ReadFileCapped(dir, 100);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(r.status(), "not a regular file")) << r.status();
}

TEST(FileIoTest, WriteOverwritesAndLeavesNoTempFile) {
  std::string dir = TestTempPath("atomic");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  std::string path = dir + "/f";
  ASSERT_TRUE(WriteFileAtomic(path, std::string(1000, 'x')).ok());
  ASSERT_TRUE(WriteFileAtomic(path, "new").ok());
  EXPECT_EQ(ReadFileCapped(path, 100).value(), "new");
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{"f"});
}

TEST(FileIoTest, WriteIntoMissingDirectoryIsNotFound) {
  std::string dir = TestTempPath("missing_dir");
  absl::Status s = WriteFileAtomic(dir + "/f", "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Mentions(s, dir)) << s;
  struct stat st;
  EXPECT_NE(stat(dir.c_str(), &st), 0);
}

TEST(FileIoTest, FailedRenameKeepsTargetAndRemovesTempFile) {
  std::string dir = TestTempPath("rename_fails");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  // rename() of a file onto a non-empty directory fails.
  std::string target = dir + "/target";
  ASSERT_EQ(mkdir(target.c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomic(target + "/inside", "old").ok());
  absl::Status s = WriteFileAtomic(target, "new");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(Mentions(s, target)) << s;
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{"target"});
  EXPECT_EQ(ReadFileCapped(target + "/inside", 10).value(), "old");
}

}  // namespace
}  // namespace rill
