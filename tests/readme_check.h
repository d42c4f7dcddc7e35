#ifndef RILL_TESTS_README_CHECK_H_
#define RILL_TESTS_README_CHECK_H_

// README.md's fenced blocks, each preceded by a marker that says how the
// block is checked, and a replay of its `$ ` command lines against the real
// binaries. The marker convention and the masking rule are described in
// README.md ("How the README is checked").

#include <string>
#include <vector>

namespace rill {

struct ReadmeBlock {
  int line = 0;      // README line of the opening fence (1-based).
  int end_line = 0;  // README line of the closing fence.
  std::string kind;  // The marker's first word; "" when there is no marker.
  std::string arg;   // The rest of the marker.
  std::string text;  // The lines between the fences, each ending in '\n'.
};

// Every fenced block of `readme`, in order, with the marker on the line
// just before its opening fence (`<!-- docs_test: KIND ARG -->`).
std::vector<ReadmeBlock> ReadmeBlocks(const std::string& readme);

// README lines holding a marker that is followed by neither a fence nor a
// table row.
std::vector<int> DanglingMarkers(const std::string& readme);

// `line` with its machine-dependent figures replaced by `*`: durations
// ("0.34 s", "195.1 ms", "0.105s", "2m28s"), rates ("312.4 steps/s") and
// whatever follows "ETA ". Nothing else is masked.
std::string MaskTimings(const std::string& line);

// A scratch directory laid out as README's commands expect: a copy of
// examples/ (commands write into it), tests/ and tools/ linked, and `rill`
// on the PATH. README's /tmp/ is the scratch directory's tmp/, and
// bazel-bin/ the runfiles root.
class ReadmeShell {
 public:
  ReadmeShell();

  // Runs each `$ ` line of a transcript block through /bin/sh (stdout and
  // stderr together) and compares what follows it, masked, with the real
  // output. A line `...` stands for any number of lines. Returns "" when
  // everything matches, else a message naming the README line, the command
  // and the first line that differs.
  // Appends each command's raw output to `*outputs` when given.
  std::string Replay(const ReadmeBlock& block, std::string* outputs = nullptr);

  // Where a path written in README.md (/tmp/... or relative) is here.
  std::string Path(const std::string& readme_path) const;

  // What `command` (README's spelling) prints, stdout and stderr together.
  std::string Run(const std::string& command);

 private:
  std::string root_;  // The runfiles root.
  std::string dir_;   // The scratch directory, commands' working directory.
};

}  // namespace rill

#endif  // RILL_TESTS_README_CHECK_H_
