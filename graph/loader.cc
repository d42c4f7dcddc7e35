#include "graph/loader.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/file_io.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace rill {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

// Collects the first parse error with its position.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(std::string source) : source_(std::move(source)) {}
  void AddError(int line, int column, const std::string& message) override {
    if (!error_.empty()) return;
    error_ = absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string source_;
  std::string error_;
};

// A proto map keeps only the last of two entries with one key, silently; the
// repeated-entry view that reflection still exposes shows both.
absl::Status CheckDuplicateAttrs(const Graph& g, const SourceMap& source) {
  const FieldDescriptor* attr = Node::descriptor()->FindFieldByName("attr");
  for (int n = 0; n < g.node_size(); ++n) {
    const Node& node = g.node(n);
    const auto* reflection = node.GetReflection();
    std::set<std::string> seen;
    for (int i = 0; i < reflection->FieldSize(node, attr); ++i) {
      const auto& entry = reflection->GetRepeatedMessage(node, attr, i);
      std::string key = entry.GetReflection()->GetString(
          entry, entry.GetDescriptor()->FindFieldByName("key"));
      if (!seen.insert(key).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(source.Where(n), ": node '", node.name(),
                         "': attr '", key, "' is given more than once"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

void SourceMap::SetNodeLocation(int node, int line, int col) {
  if (static_cast<int>(nodes_.size()) <= node) nodes_.resize(node + 1);
  nodes_[node] = {line, col};
}

std::string SourceMap::Where(int node) const {
  if (node >= 0 && node < static_cast<int>(nodes_.size()) &&
      nodes_[node].line >= 0) {
    return absl::StrCat(file_, ":", nodes_[node].line + 1, ":",
                        nodes_[node].col + 1);
  }
  if (file_.empty()) return absl::StrCat("node ", node);
  return absl::StrCat(file_, ": node ", node);
}

bool IsTextGraphPath(const std::string& path) {
  return absl::EndsWith(path, ".pbtxt") || absl::EndsWith(path, ".txt") ||
         absl::EndsWith(path, ".textproto");
}

absl::StatusOr<LoadedGraph> ParseGraphText(const std::string& text,
                                           const std::string& source,
                                           const LoadOptions& options) {
  if (static_cast<int64_t>(text.size()) > options.max_file_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(source, ": ", text.size(), " bytes, over the limit of ",
                     options.max_file_bytes));
  }
  LoadedGraph out;
  out.source = SourceMap(source);
  TextFormat::Parser parser;
  FirstErrorCollector errors(source);
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  parser.SetRecursionLimit(options.max_recursion_depth);
  if (!parser.ParseFromString(text, &out.graph)) {
    return absl::InvalidArgumentError(
        errors.error().empty() ? absl::StrCat(source, ": cannot parse graph")
                               : errors.error());
  }
  const FieldDescriptor* node_field =
      Graph::descriptor()->FindFieldByName("node");
  for (int i = 0; i < out.graph.node_size(); ++i) {
    auto loc = tree.GetLocation(node_field, i);
    out.source.SetNodeLocation(i, loc.line, loc.column);
  }
  RETURN_IF_ERROR(CheckDuplicateAttrs(out.graph, out.source));
  return out;
}

absl::StatusOr<LoadedGraph> ParseGraphBinary(const std::string& bytes,
                                             const std::string& source,
                                             const LoadOptions& options) {
  if (static_cast<int64_t>(bytes.size()) > options.max_file_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(source, ": ", bytes.size(), " bytes, over the limit of ",
                     options.max_file_bytes));
  }
  LoadedGraph out;
  out.source = SourceMap(source);
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(bytes.size()));
  in.SetRecursionLimit(options.max_recursion_depth);
  if (!out.graph.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a valid binary rill graph (if it is text "
                             "format, name it .pbtxt)"));
  }
  RETURN_IF_ERROR(CheckDuplicateAttrs(out.graph, out.source));
  return out;
}

absl::StatusOr<LoadedGraph> LoadGraphFile(const std::string& path,
                                          const LoadOptions& options) {
  ASSIGN_OR_RETURN(std::string contents,
                   ReadFileCapped(path, options.max_file_bytes));
  return IsTextGraphPath(path) ? ParseGraphText(contents, path, options)
                               : ParseGraphBinary(contents, path, options);
}

}  // namespace rill
