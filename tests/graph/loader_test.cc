#include "graph/loader.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/file_io.h"
#include "google/protobuf/util/message_differencer.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr char kExample[] = "examples/gated_mlp.pbtxt";

TEST(LoaderTest, LoadsTheExample) {
  absl::StatusOr<LoadedGraph> g = LoadGraphFile(kExample);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->graph.node_size(), 17);
  EXPECT_EQ(g->graph.node(0).name(), "x");
  EXPECT_EQ(g->graph.node(16).name(), "probs");
  EXPECT_EQ(g->graph.node(16).op(), "Softmax");
  ASSERT_EQ(g->graph.output_size(), 2);
  EXPECT_EQ(g->graph.output(0), "probs");
  EXPECT_EQ(g->source.file(), kExample);
}

TEST(LoaderTest, TextAndBinaryRoundTrip) {
  absl::StatusOr<LoadedGraph> text = LoadGraphFile(kExample);
  ASSERT_TRUE(text.ok()) << text.status();
  std::string bytes;
  ASSERT_TRUE(text->graph.SerializeToString(&bytes));
  const std::string path = TestTempPath("gated_mlp.pb");
  ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());

  absl::StatusOr<LoadedGraph> binary = LoadGraphFile(path);
  ASSERT_TRUE(binary.ok()) << binary.status();
  std::string diff;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(text->graph, binary->graph)) << diff;
  EXPECT_EQ(binary->graph.node_size(), 17);
  // Binary files have no lines: errors point at the node index.
  EXPECT_EQ(binary->source.file(), path);
  EXPECT_EQ(binary->source.Where(3), path + ": node 3");

  // Both validate to the same schedule and shapes.
  absl::StatusOr<ValidGraph> a = ValidateGraph(*std::move(text));
  absl::StatusOr<ValidGraph> b = ValidateGraph(*std::move(binary));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->topo_order(), b->topo_order());
  for (int i = 0; i < a->num_nodes(); ++i) {
    EXPECT_EQ(a->info(i).shapes, b->info(i).shapes) << a->node(i).name();
  }
}

TEST(LoaderTest, ParseGraphBinaryMatchesParseGraphText) {
  const std::string text = R"pb(
    node {
      name: "c"
      op: "Const"
      attr {
        key: "value"
        value { tensor { dtype: DT_FLOAT dims: 1 raw_data: "\000\000\200?" } }
      }
    }
    output: "c:0"
  )pb";
  absl::StatusOr<LoadedGraph> t = ParseGraphText(text, "t.pbtxt");
  ASSERT_TRUE(t.ok()) << t.status();
  absl::StatusOr<LoadedGraph> b =
      ParseGraphBinary(t->graph.SerializeAsString(), "t.pb");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(MessageDifferencer::Equals(t->graph, b->graph));
  EXPECT_EQ(b->graph.node(0).attr().at("value").tensor().raw_data(),
            std::string("\0\0\x80?", 4));
}

// Where() must point at the "node {" that opens each node, 1-based.
TEST(SourceMapTest, WhereMatchesEachNodeStartInTheExample) {
  absl::StatusOr<std::string> contents = ReadFileCapped(kExample, 1 << 20);
  ASSERT_TRUE(contents.ok()) << contents.status();
  std::vector<std::string> expected;
  std::vector<std::string> lines = absl::StrSplit(*contents, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    if (absl::StartsWith(lines[i], "node {")) {
      expected.push_back(absl::StrCat(kExample, ":", i + 1, ":1"));
    }
  }
  absl::StatusOr<LoadedGraph> g = LoadGraphFile(kExample);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(static_cast<int>(expected.size()), g->graph.node_size());
  for (int i = 0; i < g->graph.node_size(); ++i) {
    EXPECT_EQ(g->source.Where(i), expected[i]);
  }
  EXPECT_EQ(g->source.Where(0), absl::StrCat(kExample, ":2:1"));
  EXPECT_EQ(g->source.Where(16), absl::StrCat(kExample, ":90:1"));
}

TEST(SourceMapTest, WhereCountsColumnsFromOne) {
  const std::string text =
      "# comment\n"
      "    node { name: \"a\" }\n"
      "node { name: \"b\" } node { name: \"c\" }\n"
      "output: \"a\"\n"
      "  output: \"b\"\n";
  absl::StatusOr<LoadedGraph> g = ParseGraphText(text, "cols.pbtxt");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->source.Where(0), "cols.pbtxt:2:5");
  EXPECT_EQ(g->source.Where(1), "cols.pbtxt:3:1");
  EXPECT_EQ(g->source.Where(2), "cols.pbtxt:3:20");
  EXPECT_EQ(g->source.WhereOutput(0), "cols.pbtxt:4:1");
  EXPECT_EQ(g->source.WhereOutput(1), "cols.pbtxt:5:3");
}

TEST(SourceMapTest, FallsBackToTheIndex) {
  EXPECT_EQ(SourceMap().Where(4), "node 4");
  EXPECT_EQ(SourceMap().WhereOutput(1), "output 1");
  SourceMap map("g.pb");
  EXPECT_EQ(map.Where(4), "g.pb: node 4");
  EXPECT_EQ(map.WhereOutput(0), "g.pb: output 0");
  map.SetNodeLocation(2, 11, 2);  // 0-based in, 1-based out.
  EXPECT_EQ(map.Where(2), "g.pb:12:3");
  EXPECT_EQ(map.Where(0), "g.pb: node 0");  // Filled in, but not set.
  EXPECT_EQ(map.Where(3), "g.pb: node 3");
  EXPECT_EQ(map.Where(-1), "g.pb: node -1");
  map.SetOutputLocation(0, 0, 0);
  EXPECT_EQ(map.WhereOutput(0), "g.pb:1:1");
}

TEST(IsTextGraphPathTest, ByExtension) {
  EXPECT_TRUE(IsTextGraphPath("a.pbtxt"));
  EXPECT_TRUE(IsTextGraphPath("dir/a.txt"));
  EXPECT_TRUE(IsTextGraphPath("a.textproto"));
  EXPECT_TRUE(IsTextGraphPath(".pbtxt"));
  EXPECT_FALSE(IsTextGraphPath("a.pb"));
  EXPECT_FALSE(IsTextGraphPath("a.pbtxt.pb"));
  EXPECT_FALSE(IsTextGraphPath("pbtxt"));
  EXPECT_FALSE(IsTextGraphPath("a.PBTXT"));
  EXPECT_FALSE(IsTextGraphPath("a.pbtxt/"));
  EXPECT_FALSE(IsTextGraphPath(""));
}

TEST(LoaderTest, ParseErrorsAreOneBased) {
  absl::StatusOr<LoadedGraph> g =
      ParseGraphText("node {\n  nme: \"x\"\n}\n", "p.pbtxt");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  // The parser reports an unknown field at the ':' after its name.
  EXPECT_TRUE(absl::StartsWith(g.status().message(), "p.pbtxt:2:6: "))
      << g.status();
  EXPECT_TRUE(absl::StrContains(g.status().message(), "nme")) << g.status();

  absl::StatusOr<LoadedGraph> open = ParseGraphText("node {", "q.pbtxt");
  ASSERT_FALSE(open.ok());
  EXPECT_TRUE(absl::StartsWith(open.status().message(), "q.pbtxt:1:"))
      << open.status();
}

TEST(LoaderTest, SizeCapIsInclusive) {
  const std::string text = "node { name: \"x\" }";
  const int64_t n = static_cast<int64_t>(text.size());
  LoadOptions options;
  options.max_file_bytes = n;
  EXPECT_TRUE(ParseGraphText(text, "t.pbtxt", options).ok());
  options.max_file_bytes = n - 1;
  absl::StatusOr<LoadedGraph> g = ParseGraphText(text, "t.pbtxt", options);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StartsWith(g.status().message(), "t.pbtxt: "));

  Graph one;
  one.add_node()->set_name("x");
  const std::string wire = one.SerializeAsString();
  options.max_file_bytes = static_cast<int64_t>(wire.size());
  EXPECT_TRUE(ParseGraphBinary(wire, "t.pb", options).ok());
  options.max_file_bytes = static_cast<int64_t>(wire.size()) - 1;
  EXPECT_EQ(ParseGraphBinary(wire, "t.pb", options).status().code(),
            absl::StatusCode::kResourceExhausted);

  // From a file: refused before it is read.
  const std::string path = TestTempPath("cap.pbtxt");
  ASSERT_TRUE(WriteFileAtomic(path, text).ok());
  options.max_file_bytes = n - 1;
  EXPECT_EQ(LoadGraphFile(path, options).status().code(),
            absl::StatusCode::kResourceExhausted);
  options.max_file_bytes = n;
  EXPECT_TRUE(LoadGraphFile(path, options).ok());
}

TEST(LoaderTest, MissingFileIsNotFound) {
  absl::StatusOr<LoadedGraph> g = LoadGraphFile("no/such/graph.pbtxt");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(g.status().message(), "no/such/graph.pbtxt"));
}

TEST(LoaderTest, DirectoryIsRejected) {
  absl::StatusOr<LoadedGraph> g = LoadGraphFile("examples");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LoaderTest, BinaryContentsInATextFileDoNotParse) {
  Graph one;
  one.add_node()->set_name("x");
  const std::string path = TestTempPath("binary.pbtxt");
  ASSERT_TRUE(WriteFileAtomic(path, one.SerializeAsString()).ok());
  absl::StatusOr<LoadedGraph> g = LoadGraphFile(path);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  // The serialized graph starts 0a 03: a newline, then a control character.
  EXPECT_TRUE(absl::StartsWith(g.status().message(), path + ":2:1: "))
      << g.status();
}

TEST(LoaderTest, DuplicateAttrInTextNamesNodeAndKey) {
  absl::StatusOr<LoadedGraph> g = ParseGraphText(
      "node { name: \"a\" }\n"
      "node {\n"
      "  name: \"s\"\n"
      "  attr { key: \"k\" value { i: 1 } }\n"
      "  attr { key: \"j\" value { i: 1 } }\n"
      "  attr { key: \"k\" value { i: 2 } }\n"
      "}\n",
      "dup.pbtxt");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message(),
            "dup.pbtxt:2:1: node 's': attr 'k' is given more than once");
}

}  // namespace
}  // namespace rill
