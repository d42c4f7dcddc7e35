// The inference graph of `rill export`: loss inputs found, default fetches,
// pruning, Dropout removed, and the errors.

#include "graph/inference_graph.h"

#include <string>

#include "graph/loader.h"
#include "gtest/gtest.h"

namespace rill {
namespace {

std::string InputNode(const std::string& name) {
  return "node { name: '" + name + "' op: 'Input'\n" +
         "  attr { key: 'dtype' value { type: DT_FLOAT } }\n" +
         "  attr { key: 'shape' value { shape { dim: 2 dim: 3 } } } }\n";
}

// h = dropout(dropout(tanh(x))); logits = h; aux = h * extra;
// loss = mse(logits, target); mask reader r = h1's mask.
Graph Classifier(bool read_mask) {
  std::string text = InputNode("x") + InputNode("extra") + InputNode("target") +
                     "node { name: 't' op: 'Tanh' input: 'x' }\n"
                     "node { name: 'd1' op: 'Dropout' input: 't' }\n"
                     "node { name: 'd2' op: 'Dropout' input: 'd1' }\n"
                     "node { name: 'logits' op: 'Tanh' input: 'd2' }\n"
                     "node { name: 'aux' op: 'Mul' input: 'd2' "
                     "input: 'extra' }\n"
                     "node { name: 'loss' op: 'MeanSquaredError' "
                     "input: 'logits' input: 'target' }\n"
                     "output: 'logits' output: 'loss'\n";
  if (read_mask) {
    text += "node { name: 'r' op: 'Tanh' input: 'd1:1' }\noutput: 'r'\n";
  }
  return ParseGraphText(text, "classifier.pbtxt")->graph;
}

TEST(InferenceGraph, LossInputsAndDefaultFetches) {
  EXPECT_EQ(LossInputs(Classifier(false)),
            (std::vector<std::string>{"target"}));
  EXPECT_EQ(InferenceFetches(Classifier(false)),
            (std::vector<std::string>{"logits"}));
}

TEST(InferenceGraph, InputsThatOnlySomeOutputsNeedAreLossInputs) {
  Graph g = Classifier(false);
  g.add_output("aux");
  EXPECT_EQ(LossInputs(g), (std::vector<std::string>{"extra", "target"}));
}

TEST(InferenceGraph, PrunesAndRewiresPastDropouts) {
  absl::StatusOr<Graph> g = InferenceGraph(Classifier(false), {"logits"});
  ASSERT_TRUE(g.ok()) << g.status();
  std::vector<std::string> names;
  for (const Node& n : g->node()) names.push_back(n.name());
  EXPECT_EQ(names, (std::vector<std::string>{"x", "t", "logits"}));
  EXPECT_EQ(g->node(2).input(0), "t");
  EXPECT_EQ(std::vector<std::string>(g->output().begin(), g->output().end()),
            (std::vector<std::string>{"logits"}));
}

TEST(InferenceGraph, AFetchedDropoutBecomesAnIdentity) {
  absl::StatusOr<Graph> g = InferenceGraph(Classifier(false), {"d2"});
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->node_size(), 3);
  EXPECT_EQ(g->node(2).op(), "Identity");
  EXPECT_EQ(g->node(2).input(0), "t");
}

TEST(InferenceGraph, Errors) {
  absl::Status s = InferenceGraph(Classifier(false), {"loss"}).status();
  EXPECT_NE(s.message().find("fetch 'loss' needs the loss input 'target'"),
            std::string::npos)
      << s;
  s = InferenceGraph(Classifier(false), {"nope"}).status();
  EXPECT_NE(s.message().find("fetch 'nope' names no node"), std::string::npos)
      << s;
  s = InferenceGraph(Classifier(true), {"r"}).status();
  EXPECT_NE(s.message().find("node 'r' reads the mask of Dropout 'd1'"),
            std::string::npos)
      << s;
}

}  // namespace
}  // namespace rill
