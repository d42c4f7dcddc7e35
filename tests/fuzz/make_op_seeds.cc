// Writes one text-format graph per op test table row into a directory: seeds
// that lead graph_text_fuzzer to every op's shape function and attributes.
//   bazel run //tests/fuzz:make_op_seeds --
//   $PWD/tests/fuzz/corpus/graph_text_ops

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "core/file_io.h"
#include "google/protobuf/text_format.h"
#include "tests/ops/op_test_util.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_op_seeds DIR\n");
    return 2;
  }
  int i = 0;
  for (const rill::OpRow& row : rill::AllOpRows()) {
    // The very wide AddN rows would exceed the fuzzer's -max_len (64 KiB).
    if (row.inputs.size() > 64) continue;
    rill::Graph g = rill::RowGraph(row, rill::DType::kF32);
    std::string text;
    google::protobuf::TextFormat::PrintToString(g, &text);
    std::string path = absl::StrCat(argv[1], "/", row.op, "_", i++, ".pbtxt");
    absl::Status s = rill::WriteFileAtomic(path, text);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::printf("%d seeds\n", i);
  return 0;
}
