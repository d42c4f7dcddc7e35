#include "graph/dot.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "tests/graph/test_ops.h"

namespace rill {
namespace {

constexpr char kSmallGraph[] = R"pb(
  node {
    name: "x"
    op: "Input"
    attr {
      key: "dtype"
      value { type: DT_FLOAT }
    }
    attr {
      key: "shape"
      value { shape { dim: -1 dim: 4 } }
    }
  }
  node {
    name: "layer/w"
    op: "Parameter"
    attr {
      key: "value"
      value {
        tensor {
          dtype: DT_DOUBLE
          dims: 4
          dims: 2
          double_val: [ 1, 2, 3, 4, 5, 6, 7, 8 ]
        }
      }
    }
  }
  node {
    name: "x64"
    op: "Input"
    attr {
      key: "dtype"
      value { type: DT_DOUBLE }
    }
    attr {
      key: "shape"
      value { shape { dim: -1 dim: 4 } }
    }
  }
  node { name: "layer/mm" op: "MatMul" input: "x64" input: "layer/w" }
  node { name: "y" op: "Tanh" input: "layer/mm" }
  node { name: "sq" op: "Mul" input: "x" input: "x" }
  output: "y"
)pb";

ValidGraph ValidateOrDie(const std::string& text,
                         const OpRegistry& registry = GlobalOpRegistry()) {
  absl::StatusOr<LoadedGraph> loaded = ParseGraphText(text, "dot.pbtxt");
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  ValidateOptions options;
  options.registry = &registry;
  absl::StatusOr<ValidGraph> g = ValidateGraph(*std::move(loaded), options);
  EXPECT_TRUE(g.ok()) << g.status();
  return *std::move(g);
}

std::vector<std::string> Lines(const std::string& dot) {
  return absl::StrSplit(dot, '\n', absl::SkipEmpty());
}

// Edges between nodes (n<i> -> n<j>), leaving out the edges to outputs.
std::vector<std::string> NodeEdges(const std::string& dot) {
  std::vector<std::string> edges;
  for (const std::string& line : Lines(dot)) {
    if (absl::StrContains(line, " -> n")) edges.push_back(line);
  }
  return edges;
}

TEST(DotTest, IsAClosedDigraph) {
  const std::string dot = *ToDot(ValidateOrDie(kSmallGraph));
  EXPECT_TRUE(absl::StartsWith(dot, "digraph rill {\n")) << dot;
  EXPECT_TRUE(absl::EndsWith(dot, "\n}\n")) << dot;
  // Braces balance outside quoted labels, and close only at the very end.
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < dot.size(); ++i) {
    char c = dot[i];
    if (quoted) {
      if (c == '\\') ++i;
      if (c == '"') quoted = false;
      continue;
    }
    if (c == '"') quoted = true;
    if (c == '{') ++depth;
    if (c == '}' && --depth == 0) {
      EXPECT_EQ(i, dot.size() - 2) << "closed before the end";
    }
    ASSERT_GE(depth, 0) << "at " << i;
  }
  EXPECT_FALSE(quoted);
  EXPECT_EQ(depth, 0);
  // Every statement between the braces ends with ';'.
  std::vector<std::string> lines = Lines(dot);
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    EXPECT_TRUE(absl::EndsWith(lines[i], ";")) << lines[i];
  }
}

TEST(DotTest, OneBoxPerNodeWithNameAndOp) {
  ValidGraph g = ValidateOrDie(kSmallGraph);
  const std::string dot = *ToDot(g);
  for (int i = 0; i < g.num_nodes(); ++i) {
    const std::string label =
        "\"" + g.node(i).name() + "\\n" + g.node(i).op() + "\"";
    const std::string box = "  n" + std::to_string(i) + " [label=" + label;
    EXPECT_TRUE(absl::StrContains(dot, box)) << box << "\n" << dot;
  }
  EXPECT_TRUE(absl::StrContains(dot, "n0 [label=\"x\\nInput\", style=filled"));
  EXPECT_TRUE(absl::StrContains(
      dot, "n1 [label=\"layer/w\\nParameter\", style=filled"));
  EXPECT_TRUE(absl::StrContains(dot, "n4 [label=\"y\\nTanh\"];"));
}

TEST(DotTest, OneEdgePerInputLabelledWithDtypeAndShape) {
  ValidGraph g = ValidateOrDie(kSmallGraph);
  const std::string dot = *ToDot(g);
  int inputs = 0;
  for (int i = 0; i < g.num_nodes(); ++i) inputs += g.node(i).input_size();
  EXPECT_EQ(static_cast<int>(NodeEdges(dot).size()), inputs) << dot;
  for (const char* edge : {
           "  n2 -> n3 [label=\"f64[?, 4]\"];",
           "  n1 -> n3 [label=\"f64[4, 2]\"];",
           "  n3 -> n4 [label=\"f64[?, 2]\"];",
           "  n0 -> n5 [label=\"f32[?, 4]\"];",  // Twice: Mul(x, x).
       }) {
    EXPECT_TRUE(absl::StrContains(dot, edge)) << edge << "\n" << dot;
  }
  std::vector<std::string> edges = NodeEdges(dot);
  EXPECT_EQ(std::count(edges.begin(), edges.end(),
                       "  n0 -> n5 [label=\"f32[?, 4]\"];"),
            2);
  // The graph output gets its own plaintext box.
  EXPECT_TRUE(absl::StrContains(
      dot, "  out_4_0 [shape=plaintext, label=\"y\"];\n  n4 -> out_4_0;\n"));
}

TEST(DotTest, SecondOutputEdgesNameTheOutput) {
  ValidGraph g =
      ValidateOrDie(R"pb(
                      node {
                        name: "x"
                        op: "Input"
                        attr {
                          key: "dtype"
                          value { type: DT_FLOAT }
                        }
                        attr {
                          key: "shape"
                          value { shape { dim: 3 } }
                        }
                      }
                      node { name: "s" op: "SelfAndShape" input: "x" }
                      node { name: "d" op: "Identity" input: "s:1" }
                      output: "s:1"
                    )pb",
                    TestOpRegistry());
  const std::string dot = *ToDot(g);
  EXPECT_TRUE(absl::StrContains(dot, "  n1 -> n2 [label=\":1 i64[1]\"];"))
      << dot;
  EXPECT_TRUE(
      absl::StrContains(dot, "  out_1_1 [shape=plaintext, label=\"s:1\"];"))
      << dot;
  EXPECT_EQ(NodeEdges(dot).size(), 2u);
}

TEST(DotTest, FetchesPruneToWhatTheyNeed) {
  ValidGraph g = ValidateOrDie(kSmallGraph);
  // layer/mm needs x64 and layer/w; x, y and sq are left out.
  const std::string dot = *ToDot(g, {{"layer/mm"}, false});
  for (const char* kept : {"n1 [", "n2 [", "n3 ["}) {
    EXPECT_TRUE(absl::StrContains(dot, kept)) << kept << "\n" << dot;
  }
  for (const char* dropped : {"n0 [", "n4 [", "n5 [", "-> n5", "-> n4"}) {
    EXPECT_FALSE(absl::StrContains(dot, dropped)) << dropped << "\n" << dot;
  }
  EXPECT_TRUE(absl::StrContains(
      dot, "  out_3_0 [shape=plaintext, label=\"layer/mm\"];"));
  absl::Status unknown = ToDot(g, {{"nope"}, false}).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(unknown.message(), "nope")) << unknown;
}

TEST(DotTest, ScopesBecomeNestedClusters) {
  ValidGraph g = ValidateOrDie(kSmallGraph);
  const std::string dot = *ToDot(g, {{}, true});
  // layer/w and layer/mm inside one cluster labelled "layer".
  const size_t open = dot.find("subgraph cluster_0 {\n    label=\"layer\";\n");
  ASSERT_NE(open, std::string::npos) << dot;
  const size_t close = dot.find("  }\n", open);
  const std::string cluster = dot.substr(open, close - open);
  EXPECT_TRUE(absl::StrContains(cluster, "    n1 [label=\"layer/w"));
  EXPECT_TRUE(absl::StrContains(cluster, "    n3 [label=\"layer/mm"));
  EXPECT_FALSE(absl::StrContains(cluster, "n4 ["));
  EXPECT_EQ(dot.find("subgraph", open + 1), std::string::npos);
}

}  // namespace
}  // namespace rill
