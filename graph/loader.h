#ifndef RILL_GRAPH_LOADER_H_
#define RILL_GRAPH_LOADER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "proto/graph.pb.h"

namespace rill {

struct LoadOptions {
  // Files past this size are refused before they are read or parsed.
  int64_t max_file_bytes = int64_t{1} << 30;
  // Text-format nesting limit; rill graphs nest about five deep.
  int max_recursion_depth = 32;
};

// Where each node was written, so errors can say file:line:col.
class SourceMap {
 public:
  SourceMap() = default;
  explicit SourceMap(std::string file) : file_(std::move(file)) {}
  void SetNodeLocation(int node, int line, int col);
  // "graph.pbtxt:12:3" (1-based), "graph.pb: node 4" for binary files, or
  // "node 4" with no file.
  std::string Where(int node) const;
  // The same for entry `output` of the graph's `output` field ("graph.pb:
  // output 1" for binary files).
  void SetOutputLocation(int output, int line, int col);
  std::string WhereOutput(int output) const;
  const std::string& file() const { return file_; }

 private:
  struct Location {
    int line = -1, col = -1;
  };
  static void Set(std::vector<Location>& v, int i, int line, int col);
  std::string WhereIn(const std::vector<Location>& v, int i,
                      const char* what) const;
  std::string file_;
  std::vector<Location> nodes_;
  std::vector<Location> outputs_;
};

struct LoadedGraph {
  Graph graph;
  SourceMap source;
};

// Text format when the name ends in .pbtxt, .txt or .textproto; binary
// otherwise (.pb).
absl::StatusOr<LoadedGraph> LoadGraphFile(const std::string& path,
                                          const LoadOptions& options = {});
// `source` names the text in errors.
absl::StatusOr<LoadedGraph> ParseGraphText(const std::string& text,
                                           const std::string& source,
                                           const LoadOptions& options = {});
absl::StatusOr<LoadedGraph> ParseGraphBinary(const std::string& bytes,
                                             const std::string& source,
                                             const LoadOptions& options = {});

bool IsTextGraphPath(const std::string& path);

}  // namespace rill

#endif  // RILL_GRAPH_LOADER_H_
