#include "tests/readme_check.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/test_util.h"

namespace rill {
namespace {

const char kMarkerOpen[] = "<!-- docs_test:";
const char kMarkerClose[] = "-->";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(' ') + 1 - b);
}

void ReplaceAll(std::string& text, const std::string& from,
                const std::string& to) {
  for (size_t at = 0; (at = text.find(from, at)) != std::string::npos;
       at += to.size()) {
    text.replace(at, from.size(), to);
  }
}

bool IsMarker(const std::string& line) {
  return StartsWith(line, kMarkerOpen) &&
         line.size() >= sizeof kMarkerOpen - 1 + sizeof kMarkerClose - 1 &&
         line.compare(line.size() - 3, 3, kMarkerClose) == 0;
}

// Whether `actual[j..]` matches `expected[i..]`, where an expected `...`
// line matches any run of lines. On a mismatch, `*bad_i` and `*bad_j` are
// the furthest pair of lines that failed to match (`bad_j` may be past the
// end: output ended early).
bool Match(const std::vector<std::string>& expected,
           const std::vector<std::string>& actual, size_t i, size_t j,
           size_t* bad_i, size_t* bad_j) {
  if (i == expected.size()) {
    if (j == actual.size()) return true;
    if (i >= *bad_i) *bad_i = i, *bad_j = j;
    return false;
  }
  if (Trim(expected[i]) == "...") {
    for (size_t k = j; k <= actual.size(); ++k) {
      if (Match(expected, actual, i + 1, k, bad_i, bad_j)) return true;
    }
    return false;
  }
  if (j < actual.size() && expected[i] == actual[j]) {
    return Match(expected, actual, i + 1, j + 1, bad_i, bad_j);
  }
  if (i >= *bad_i) *bad_i = i, *bad_j = j;
  return false;
}

}  // namespace

std::vector<ReadmeBlock> ReadmeBlocks(const std::string& readme) {
  std::vector<std::string> lines = Lines(readme);
  std::vector<ReadmeBlock> blocks;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!StartsWith(lines[i], "```")) continue;
    ReadmeBlock block;
    block.line = static_cast<int>(i) + 1;
    if (i > 0 && IsMarker(lines[i - 1])) {
      const std::string& m = lines[i - 1];
      std::string body = Trim(m.substr(
          sizeof kMarkerOpen - 1,
          m.size() - (sizeof kMarkerOpen - 1) - (sizeof kMarkerClose - 1)));
      size_t space = body.find(' ');
      block.kind = body.substr(0, space);
      if (space != std::string::npos) block.arg = Trim(body.substr(space));
    }
    for (++i; i < lines.size() && !StartsWith(lines[i], "```"); ++i) {
      block.text += lines[i] + "\n";
    }
    block.end_line = static_cast<int>(i) + 1;
    blocks.push_back(block);
  }
  return blocks;
}

std::vector<int> DanglingMarkers(const std::string& readme) {
  std::vector<std::string> lines = Lines(readme);
  std::vector<int> dangling;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!IsMarker(lines[i])) continue;
    if (i + 1 < lines.size() &&
        (StartsWith(lines[i + 1], "```") || StartsWith(lines[i + 1], "|"))) {
      continue;
    }
    dangling.push_back(static_cast<int>(i) + 1);
  }
  return dangling;
}

std::string MaskTimings(const std::string& line) {
  static const std::regex* eta = new std::regex(R"(ETA \S+)");
  static const std::regex* rate =
      new std::regex(R"([0-9]+(\.[0-9]+)? steps/s)");
  static const std::regex* duration =
      new std::regex(R"(\b([0-9]+h)?([0-9]+m)?[0-9]+(\.[0-9]+)? ?(ms|s)\b)");
  std::string out = std::regex_replace(line, *eta, "ETA *");
  out = std::regex_replace(out, *rate, "* steps/s");
  return std::regex_replace(out, *duration, "*");
}

ReadmeShell::ReadmeShell() {
  char cwd[4096];
  root_ = getcwd(cwd, sizeof cwd) != nullptr ? cwd : ".";
  dir_ = TestTempPath("readme");
  const std::string setup =
      "rm -rf '" + dir_ + "' && mkdir -p '" + dir_ + "/tmp' '" + dir_ +
      "/bin' && cp -rL examples '" + dir_ + "/' && chmod -R u+w '" + dir_ +
      "/examples' && ln -s '" + root_ + "/tests' '" + dir_ +
      "/tests' && ln -s '" + root_ + "/tools' '" + dir_ + "/tools' && ln -s '" +
      root_ + "/tools/rill' '" + dir_ + "/bin/rill'";
  if (std::system(setup.c_str()) != 0) {
    std::fprintf(stderr, "ReadmeShell: setup failed: %s\n", setup.c_str());
    std::abort();
  }
}

std::string ReadmeShell::Path(const std::string& readme_path) const {
  if (StartsWith(readme_path, "/tmp/")) return dir_ + readme_path;
  return dir_ + "/" + readme_path;
}

std::string ReadmeShell::Run(const std::string& command) {
  std::string script = command;
  ReplaceAll(script, "/tmp/", dir_ + "/tmp/");
  ReplaceAll(script, "bazel-bin/", root_ + "/");
  std::ofstream(dir_ + "/.readme_command.sh") << script << "\n";
  const std::string sh = "cd '" + dir_ + "' && PATH='" + dir_ +
                         "/bin':\"$PATH\" /bin/sh .readme_command.sh 2>&1";
  std::string out;
  FILE* p = popen(sh.c_str(), "r");
  if (p == nullptr) return "popen failed\n";
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  pclose(p);
  ReplaceAll(out, dir_ + "/tmp", "/tmp");
  return out;
}

std::string ReadmeShell::Replay(const ReadmeBlock& block,
                                std::string* outputs) {
  std::vector<std::string> lines = Lines(block.text);
  std::ostringstream failures;
  for (size_t i = 0; i < lines.size();) {
    const int readme_line = block.line + 1 + static_cast<int>(i);
    if (!StartsWith(lines[i], "$ ")) {
      failures << "README.md:" << readme_line
               << ": a transcript line before any `$ ` command: " << lines[i]
               << "\n";
      break;
    }
    const std::string command = lines[i].substr(2);
    const size_t first = ++i;
    while (i < lines.size() && !StartsWith(lines[i], "$ ")) ++i;
    std::vector<std::string> expected(lines.begin() + first, lines.begin() + i);
    const std::string output = Run(command);
    if (outputs != nullptr) *outputs += output;
    std::vector<std::string> actual = Lines(output);
    for (std::string& l : expected) l = MaskTimings(l);
    for (std::string& l : actual) l = MaskTimings(l);
    size_t bad_i = 0, bad_j = 0;
    if (Match(expected, actual, 0, 0, &bad_i, &bad_j)) continue;
    failures << "README.md:" << readme_line + 1 + bad_i << ": `$ " << command
             << "` prints otherwise (timings masked as *)\n  README: "
             << (bad_i < expected.size() ? expected[bad_i] : "(no more lines)")
             << "\n  actual: "
             << (bad_j < actual.size() ? actual[bad_j] : "(no more lines)")
             << "\n  the whole actual output:\n";
    for (const std::string& l : actual) failures << "    " << l << "\n";
  }
  return failures.str();
}

}  // namespace rill
