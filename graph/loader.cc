#include "graph/loader.h"

#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/file_io.h"
#include "core/quote.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/message.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/wire_format_lite.h"

namespace rill {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

// Collects the first parse error with its position.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(std::string source)
      : source_(std::move(source)) {}
  void AddError(int line, int column, const std::string& message) override {
    if (!error_.empty()) return;
    // The parser's message may repeat the file's text (a field name).
    error_ = absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ",
                          EscapeForMessage(message, 2 * kQuotedBytes));
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
        return absl::InvalidArgumentError(absl::StrCat(
            source.Where(n), ": node ", QuoteForMessage(node.name()), ": attr ",
            QuoteForMessage(key), " is given more than once"));
      }
    }
  }
  return absl::OkStatus();
}

// Binary parsing fills the attr map directly, so two entries with one key
// have already been merged by the time reflection could see them; read the
// keys from the wire bytes instead. Only called on bytes that parsed.
absl::Status CheckDuplicateAttrsBinary(const std::string& bytes, const Graph& g,
                                       const SourceMap& source) {
  using google::protobuf::internal::WireFormatLite;
  constexpr auto kLengthDelimited = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
  const uint32_t node_tag =
      WireFormatLite::MakeTag(Graph::kNodeFieldNumber, kLengthDelimited);
  const uint32_t attr_tag =
      WireFormatLite::MakeTag(Node::kAttrFieldNumber, kLengthDelimited);
  const uint32_t key_tag = WireFormatLite::MakeTag(1, kLengthDelimited);
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(bytes.size()));
  int n = 0;  // Index of the node being read.
  // Enters a length-delimited field; false when the bytes are malformed.
  auto enter = [&in](google::protobuf::io::CodedInputStream::Limit* limit) {
    int length;
    if (!in.ReadVarintSizeAsInt(&length)) return false;
    *limit = in.PushLimit(length);
    return true;
  };
  google::protobuf::io::CodedInputStream::Limit node_limit, entry_limit;
  while (uint32_t tag = in.ReadTag()) {
    if (tag != node_tag) {
      if (!WireFormatLite::SkipField(&in, tag)) break;
      continue;
    }
    if (!enter(&node_limit) || n >= g.node_size()) break;
    std::set<std::string> seen;
    while (uint32_t node_field = in.ReadTag()) {
      if (node_field != attr_tag) {
        if (!WireFormatLite::SkipField(&in, node_field)) break;
        continue;
      }
      if (!enter(&entry_limit)) break;
      std::string key;  // As in parsing: a missing key is "", the last wins.
      while (uint32_t entry_field = in.ReadTag()) {
        bool ok = entry_field == key_tag
                      ? WireFormatLite::ReadString(&in, &key)
                      : WireFormatLite::SkipField(&in, entry_field);
        if (!ok) break;
      }
      in.PopLimit(entry_limit);
      if (!seen.insert(key).second) {
        return absl::InvalidArgumentError(absl::StrCat(
            source.Where(n), ": node ", QuoteForMessage(g.node(n).name()),
            ": attr ", QuoteForMessage(key), " is given more than once"));
      }
    }
    in.PopLimit(node_limit);
    ++n;
  }
  return absl::OkStatus();
}

// Text format refuses a field that proto/graph.proto does not have; the
// binary parser would keep it aside and go on. Both refuse it, so that a
// file written for another schema (or damaged) is not half understood. The
// error names where the field sits and its number, which is all the wire
// format has.
absl::Status CheckNoUnknownFields(const google::protobuf::Message& m,
                                  const std::string& where) {
  const google::protobuf::Reflection* r = m.GetReflection();
  const google::protobuf::UnknownFieldSet& unknown = r->GetUnknownFields(m);
  if (!unknown.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": unknown field number ", unknown.field(0).number(), " in ",
        m.GetDescriptor()->full_name(),
        " (binary graphs, like text graphs, may hold only the fields of "
        "proto/graph.proto)"));
  }
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (!f->is_repeated()) {
      RETURN_IF_ERROR(CheckNoUnknownFields(
          r->GetMessage(m, f), absl::StrCat(where, ".", f->name())));
      continue;
    }
    for (int i = 0; i < r->FieldSize(m, f); ++i) {
      RETURN_IF_ERROR(CheckNoUnknownFields(
          r->GetRepeatedMessage(m, f, i),
          absl::StrCat(where, ".", f->name(), "[", i, "]")));
    }
  }
  return absl::OkStatus();
}

}  // namespace

void SourceMap::Set(std::vector<Location>& v, int i, int line, int col) {
  if (static_cast<int>(v.size()) <= i) v.resize(i + 1);
  v[i] = {line, col};
}

std::string SourceMap::WhereIn(const std::vector<Location>& v, int i,
                               const char* what) const {
  if (i >= 0 && i < static_cast<int>(v.size()) && v[i].line >= 0) {
    return absl::StrCat(file_, ":", v[i].line + 1, ":", v[i].col + 1);
  }
  if (file_.empty()) return absl::StrCat(what, " ", i);
  return absl::StrCat(file_, ": ", what, " ", i);
}

void SourceMap::SetNodeLocation(int node, int line, int col) {
  Set(nodes_, node, line, col);
}

std::string SourceMap::Where(int node) const {
  return WhereIn(nodes_, node, "node");
}

void SourceMap::SetOutputLocation(int output, int line, int col) {
  Set(outputs_, output, line, col);
}

std::string SourceMap::WhereOutput(int output) const {
  return WhereIn(outputs_, output, "output");
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
  const FieldDescriptor* output_field =
      Graph::descriptor()->FindFieldByName("output");
  for (int i = 0; i < out.graph.output_size(); ++i) {
    auto loc = tree.GetLocation(output_field, i);
    out.source.SetOutputLocation(i, loc.line, loc.column);
  }
  RETURN_IF_ERROR(CheckDuplicateAttrs(out.graph, out.source));
  return out;
}

absl::StatusOr<LoadedGraph> ParseGraphBinary(const std::string& bytes,
                                             const std::string& source,
                                             const LoadOptions& options) {
  // Protobuf's binary parser counts bytes in an int.
  if (static_cast<int64_t>(bytes.size()) > options.max_file_bytes ||
      bytes.size() > static_cast<size_t>(INT32_MAX)) {
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
  bool parsed;
  {
    // Protobuf would print its own reason (e.g. invalid UTF-8 in a string)
    // to stderr; the error below is the one the caller reports.
    google::protobuf::LogSilencer silence;
    parsed = out.graph.ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
  }
  if (!parsed) {
    return absl::InvalidArgumentError(absl::StrCat(
        source,
        ": not a valid binary rill graph: malformed wire data, nesting past "
        "the limit, or a string that is not UTF-8 (if it is text format, "
        "name it .pbtxt)"));
  }
  for (int n = 0; n < out.graph.node_size(); ++n) {
    RETURN_IF_ERROR(CheckNoUnknownFields(
        out.graph.node(n),
        absl::StrCat(out.source.Where(n), " (",
                     QuoteForMessage(out.graph.node(n).name()), ")")));
  }
  RETURN_IF_ERROR(CheckNoUnknownFields(out.graph, source));
  RETURN_IF_ERROR(CheckDuplicateAttrsBinary(bytes, out.graph, out.source));
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
