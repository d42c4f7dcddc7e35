#include "train/event_writer.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

// Events written here, read back by tests/train/read_tfevents.py, which
// checks both CRCs of every record with Debian's python3-crc32c and decodes
// the protobuf wire format by hand.
TEST(EventWriterTest, AnIndependentReaderChecksTheCrcsAndValues) {
  const std::string dir = TestTempPath("events/train");
  std::filesystem::remove_all(dir);
  absl::StatusOr<std::unique_ptr<EventWriter>> writer =
      EventWriter::Create(dir);
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_NE((*writer)->path().find("/events.out.tfevents."), std::string::npos);
  ASSERT_TRUE((*writer)
                  ->AddScalars(1, {{"loss", 2.5}, {"lr", 1e-3}, {"val", NAN}})
                  .ok());
  ASSERT_TRUE((*writer)->AddScalars(20, {{"loss", 0.125}}).ok());
  ASSERT_TRUE((*writer)->AddScalars(30, {{"val", NAN}}).ok());  // Nothing.
  ASSERT_TRUE((*writer)->Sync().ok());

  const std::string out = TestTempPath("events/read.txt");
  const std::string command =
      absl::StrCat("/usr/bin/python3 tests/train/read_tfevents.py ",
                   (*writer)->path(), " > ", out, " 2>&1");
  ASSERT_EQ(std::system(command.c_str()), 0) << ReadTestFile(out);
  // float32(1e-3) printed by Python's repr of the double it widens to.
  EXPECT_EQ(ReadTestFile(out),
            "version brain.Event:2\n"
            "1 loss 2.5\n"
            "1 lr 0.0010000000474974513\n"
            "20 loss 0.125\n");
}

TEST(EventWriterTest, RecordFraming) {
  // The masked CRCs from python3-crc32c:
  //   m = lambda d: (((c := crc32c.crc32c(d)) >> 15 | c << 17)
  //                  + 0xa282ead8) & 0xffffffff
  //   m(struct.pack("<Q", 3)) == 0x0e4999b0, m(b"abc") == 0x21f1576e
  EXPECT_EQ(MaskedCrc32c(std::string("\x03\0\0\0\0\0\0\0", 8)), 0x0e4999b0u);
  EXPECT_EQ(MaskedCrc32c("abc"), 0x21f1576eu);
  const std::string record = TfRecord("abc");
  EXPECT_EQ(record, std::string("\x03\0\0\0\0\0\0\0"
                                "\xb0\x99\x49\x0e"
                                "abc"
                                "\x6e\x57\xf1\x21",
                                19));
}

}  // namespace
}  // namespace rill
