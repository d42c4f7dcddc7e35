#include "graph/validate.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/loader.h"
#include "gtest/gtest.h"
#include "tests/graph/test_ops.h"

namespace rill {
namespace {

constexpr char kSource[] = "t.pbtxt";

absl::StatusOr<ValidGraph> Validate(const std::string& text,
                                    ValidateOptions options = {}) {
  absl::StatusOr<LoadedGraph> loaded = ParseGraphText(text, kSource);
  if (!loaded.ok()) return loaded.status();
  return ValidateGraph(*std::move(loaded), options);
}

// An Input node in text format; dims of -1 are symbolic.
std::string InputNode(const std::string& name, std::vector<int64_t> dims,
                      const std::string& dtype = "DT_FLOAT") {
  std::string shape;
  for (int64_t d : dims) absl::StrAppend(&shape, "dim: ", d, " ");
  return absl::StrCat(
      "node { name: \"", name,
      "\" op: \"Input\" attr { key: \"dtype\" value { type: ", dtype,
      " } } attr { key: \"shape\" value { shape { ", shape, "} } } }\n");
}

std::string OpNode(const std::string& name, const std::string& op,
                   const std::vector<std::string>& inputs) {
  std::string out =
      absl::StrCat("node { name: \"", name, "\" op: \"", op, "\"");
  for (const std::string& in : inputs)
    absl::StrAppend(&out, " input: \"", in, "\"");
  return out + " }\n";
}

// Checks that every node comes after all of its producers.
void ExpectProducersFirst(const ValidGraph& g) {
  std::vector<int> position(g.num_nodes(), -1);
  for (size_t k = 0; k < g.topo_order().size(); ++k) {
    position[g.topo_order()[k]] = static_cast<int>(k);
  }
  for (int i = 0; i < g.num_nodes(); ++i) {
    ASSERT_GE(position[i], 0) << g.node(i).name() << " is not scheduled";
    for (const TensorRef& in : g.info(i).inputs) {
      EXPECT_LT(position[in.node], position[i])
          << g.node(in.node).name() << " must run before " << g.node(i).name();
    }
  }
}

TEST(TopoOrderTest, ProducersFirstThenNodeOrder) {
  // Consumers are written before producers. Ready nodes leave in node order,
  // so "c" (node 0) runs as soon as it is ready, before "d" (node 3), which
  // was ready from the start.
  absl::StatusOr<ValidGraph> g = Validate(R"pb(
    node { name: "c" op: "Tanh" input: "b" }
    node {
      name: "a"
      op: "Input"
      attr {
        key: "dtype"
        value { type: DT_FLOAT }
      }
      attr {
        key: "shape"
        value { shape { dim: 2 } }
      }
    }
    node { name: "b" op: "Tanh" input: "a" }
    node {
      name: "d"
      op: "Input"
      attr {
        key: "dtype"
        value { type: DT_FLOAT }
      }
      attr {
        key: "shape"
        value { shape { dim: 2 } }
      }
    }
  )pb");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->topo_order(), (std::vector<int>{1, 2, 0, 3}));
  ExpectProducersFirst(*g);
}

TEST(TopoOrderTest, IndependentNodesKeepNodeOrder) {
  absl::StatusOr<ValidGraph> g =
      Validate(InputNode("p", {2}) + InputNode("q", {2}) + InputNode("r", {2}) +
               OpNode("s", "Add", {"r", "p"}) + OpNode("t", "Tanh", {"q"}));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->topo_order(), (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(TopoOrderTest, DiamondAndRepeatedInput) {
  absl::StatusOr<ValidGraph> g = Validate(
      OpNode("out", "Add", {"left", "right"}) + OpNode("left", "Tanh", {"x"}) +
      OpNode("right", "Mul", {"x", "x"}) + InputNode("x", {3}));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->topo_order(), (std::vector<int>{3, 1, 2, 0}));
  ExpectProducersFirst(*g);
}

TEST(ValidateTest, TheExampleValidates) {
  absl::StatusOr<LoadedGraph> loaded =
      LoadGraphFile("examples/gated_mlp.pbtxt");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  absl::StatusOr<ValidGraph> g = ValidateGraph(*std::move(loaded));
  ASSERT_TRUE(g.ok()) << g.status();
  ExpectProducersFirst(*g);
  int probs = g->FindNode("probs");
  ASSERT_GE(probs, 0);
  EXPECT_EQ(g->info(probs).shapes[0].ToString(), "[?, 3]");
  EXPECT_EQ(g->info(g->FindNode("hidden")).shapes[0].ToString(), "[?, 8]");
  EXPECT_EQ(g->input_nodes(), (std::vector<int>{0}));
  ASSERT_EQ(g->outputs().size(), 2u);
  EXPECT_EQ(g->outputs()[0], (TensorRef{probs, 0}));
  EXPECT_EQ(g->outputs()[1], (TensorRef{g->FindNode("logits"), 0}));
}

TEST(ShapeInferenceTest, SymbolicBatchThroughMatMul) {
  absl::StatusOr<ValidGraph> g = Validate(R"pb(
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
      name: "w"
      op: "Input"
      attr {
        key: "dtype"
        value { type: DT_FLOAT }
      }
      attr {
        key: "shape"
        value { shape { dim: 4 dim: 8 } }
      }
    }
    node {
      name: "wt"
      op: "Input"
      attr {
        key: "dtype"
        value { type: DT_FLOAT }
      }
      attr {
        key: "shape"
        value { shape { dim: 8 dim: 4 } }
      }
    }
    node { name: "y" op: "MatMul" input: "x" input: "w" }
    node {
      name: "yt"
      op: "MatMul"
      input: "x"
      input: "wt"
      attr {
        key: "transpose_b"
        value { b: true }
      }
    }
    node {
      name: "z"
      op: "MatMul"
      input: "y"
      input: "y"
      attr {
        key: "transpose_a"
        value { b: true }
      }
    }
  )pb");
  ASSERT_TRUE(g.ok()) << g.status();
  const NodeInfo& y = g->info(g->FindNode("y"));
  EXPECT_EQ(y.shapes[0], (Shape{-1, 8}));
  EXPECT_EQ(y.shapes[0].ToString(), "[?, 8]");
  EXPECT_EQ(y.dtypes[0], DType::kF32);
  EXPECT_EQ(g->info(g->FindNode("yt")).shapes[0].ToString(), "[?, 8]");
  // [?, 8]^T x [?, 8] contracts the symbolic batch: [8, 8] is fully known.
  EXPECT_EQ(g->info(g->FindNode("z")).shapes[0], (Shape{8, 8}));
}

TEST(ShapeInferenceTest, SymbolicInnerDimensionIsNotAMismatch) {
  absl::StatusOr<ValidGraph> g =
      Validate(InputNode("a", {2, -1}) + InputNode("b", {5, 3}) +
               OpNode("y", "MatMul", {"a", "b"}));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->info(2).shapes[0], (Shape{2, 3}));
}

struct BroadcastCase {
  std::vector<int64_t> a, b;
  std::string out;
};

TEST(ShapeInferenceTest, Broadcasting) {
  const std::vector<BroadcastCase> cases = {
      {{-1, 3}, {1, 3}, "[?, 3]"},  // Symbolic against 1: stays symbolic.
      {{1, 3}, {-1, 3}, "[?, 3]"},
      {{-1, 3}, {5, 3}, "[5, 3]"},  // Symbolic against n: must be n.
      {{5, 3}, {-1, 3}, "[5, 3]"},
      {{-1, 3}, {-1, 3}, "[?, 3]"},
      {{-1, 1}, {1, 4}, "[?, 4]"},
      {{3}, {2, 3}, "[2, 3]"},  // Rank extension.
      {{2, 1, 3}, {4, 1}, "[2, 4, 3]"},
      {{}, {2, -1}, "[2, ?]"},     // Scalar.
      {{0, 3}, {1, 3}, "[0, 3]"},  // Empty.
  };
  for (const BroadcastCase& c : cases) {
    absl::StatusOr<ValidGraph> g = Validate(
        InputNode("a", c.a) + InputNode("b", c.b) +
        OpNode("s", "Add", {"a", "b"}) + OpNode("m", "Mul", {"b", "a"}));
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ(g->info(2).shapes[0].ToString(), c.out)
        << Shape(c.a).ToString() << " + " << Shape(c.b).ToString();
    EXPECT_EQ(g->info(3).shapes[0].ToString(), c.out)
        << Shape(c.b).ToString() << " * " << Shape(c.a).ToString();
  }
}

TEST(ShapeInferenceTest, BroadcastingMismatchNamesShapesAndNode) {
  absl::StatusOr<ValidGraph> g =
      Validate(InputNode("a", {2, 3}) + InputNode("b", {3, 2}) +
               OpNode("s", "Add", {"a", "b"}));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message(),
            "t.pbtxt:3:1: node 's' (Add): shapes [2, 3] and [3, 2] do not "
            "broadcast (dimension 0: 2 vs 3)");
}

TEST(MultiOutputTest, RefsPickTheOutput) {
  ValidateOptions options;
  options.registry = &TestOpRegistry();
  absl::StatusOr<ValidGraph> g = Validate(
      InputNode("x", {2, -1}) + OpNode("s", "SelfAndShape", {"x"}) +
          OpNode("self", "Tanh", {"s"}) + OpNode("dims", "Identity", {"s:1"}) +
          OpNode("self0", "Identity", {"s:0"}) +
          "output: \"s:1\" output: \"s\"\n",
      options);
  ASSERT_TRUE(g.ok()) << g.status();
  const int s = g->FindNode("s");
  ASSERT_EQ(s, 1);
  EXPECT_EQ(g->info(s).dtypes, (std::vector<DType>{DType::kF32, DType::kI64}));
  EXPECT_EQ(g->info(g->FindNode("self")).inputs[0], (TensorRef{s, 0}));
  EXPECT_EQ(g->info(g->FindNode("self")).shapes[0].ToString(), "[2, ?]");
  const NodeInfo& dims = g->info(g->FindNode("dims"));
  EXPECT_EQ(dims.inputs[0], (TensorRef{s, 1}));
  EXPECT_EQ(dims.dtypes[0], DType::kI64);
  EXPECT_EQ(dims.shapes[0], (Shape{2}));
  EXPECT_EQ(g->info(g->FindNode("self0")).inputs[0], (TensorRef{s, 0}));
  ASSERT_EQ(g->outputs().size(), 2u);
  EXPECT_EQ(g->outputs()[0], (TensorRef{s, 1}));
  EXPECT_EQ(g->outputs()[1], (TensorRef{s, 0}));
  EXPECT_EQ(g->RefName(g->outputs()[0]), "s:1");
  EXPECT_EQ(g->RefName(g->outputs()[1]), "s");

  absl::StatusOr<TensorRef> ref = g->Resolve("s:1");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(*ref, (TensorRef{s, 1}));
  absl::StatusOr<TensorRef> past = g->Resolve("s:2");
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(
      past.status().message(),
      "'s:2' asks for output 2 but node 's' (SelfAndShape) has 2 outputs");
}

TEST(MultiOutputTest, TheSecondOutputsDtypeIsChecked) {
  ValidateOptions options;
  options.registry = &TestOpRegistry();
  absl::StatusOr<ValidGraph> g =
      Validate(InputNode("x", {2}) + OpNode("s", "SelfAndShape", {"x"}) +
                   OpNode("t", "Tanh", {"s:1"}),
               options);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message(),
            "t.pbtxt:3:1: node 't' (Tanh): input 0 ('x', s:1) is i64 but Tanh "
            "takes {f32, f64}");
}

TEST(ResolveTest, ExplicitOutputZeroIsTheDefault) {
  absl::StatusOr<ValidGraph> g =
      Validate(InputNode("in/x", {2}) + OpNode("y", "Tanh", {"in/x:0"}));
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<TensorRef> bare = g->Resolve("in/x");
  absl::StatusOr<TensorRef> zero = g->Resolve("in/x:0");
  absl::StatusOr<TensorRef> padded = g->Resolve("in/x:000000000");
  ASSERT_TRUE(bare.ok() && zero.ok() && padded.ok());
  EXPECT_EQ(*bare, (TensorRef{0, 0}));
  EXPECT_EQ(*zero, *bare);
  EXPECT_EQ(*padded, *bare);
  EXPECT_EQ(g->info(1).inputs[0], *bare);
  EXPECT_EQ(g->RefName(*zero), "in/x");

  EXPECT_EQ(g->Resolve("y:1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(g->Resolve("nope").status().message(), "'nope' names no node");
  EXPECT_EQ(g->Resolve("").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(g->Resolve(":0").status().code(), absl::StatusCode::kNotFound);
  for (const char* bad : {"y:", "y:x", "y:-0", "y: 0", "y:0000000000"}) {
    EXPECT_EQ(g->Resolve(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(ParseInputRefTest, Grammar) {
  std::string name;
  int index = -1;
  ASSERT_TRUE(ParseInputRef("a/b", &name, &index).ok());
  EXPECT_EQ(name, "a/b");
  EXPECT_EQ(index, 0);
  ASSERT_TRUE(ParseInputRef("a:12", &name, &index).ok());
  EXPECT_EQ(name, "a");
  EXPECT_EQ(index, 12);
  ASSERT_TRUE(ParseInputRef("a:999999999", &name, &index).ok());
  EXPECT_EQ(index, 999999999);
  for (const char* bad : {"a:", "a:abc", "a:1a", "a:-1", "a:+1",
                          "a:99999999999", "a:1234567890"}) {
    EXPECT_FALSE(ParseInputRef(bad, &name, &index).ok()) << bad;
  }
}

TEST(IsValidNodeNameTest, Grammar) {
  for (const char* ok : {"a", "_", "A1", "layer1/w", "a.b-c_d/e", "_/grad/0"}) {
    EXPECT_TRUE(IsValidNodeName(ok)) << ok;
  }
  for (const char* bad : {"", "1abc", "a b", "/a", ".a", "-a", "a:0", "a\"b",
                          "a\nb", "\xc3\xa9"}) {
    EXPECT_FALSE(IsValidNodeName(bad)) << bad;
  }
}

TEST(CycleTest, MessageNamesTheCycleInDataflowOrder) {
  // b = a + d, c = tanh(b), d = tanh(c): b -> c -> d -> b.
  absl::StatusOr<ValidGraph> g =
      Validate(InputNode("a", {2}) + OpNode("b", "Add", {"a", "d"}) +
               OpNode("c", "Tanh", {"b"}) + OpNode("d", "Tanh", {"c"}));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(g.status().message(),
            "t.pbtxt:2:1: node 'b' (Add): the graph has a cycle: "
            "b -> c -> d -> b");
}

TEST(CycleTest, NodesDownstreamOfTheCycleAreLeftOut) {
  // "e" reads from the cycle c -> d -> b -> c but is not part of it.
  absl::StatusOr<ValidGraph> g =
      Validate(OpNode("e", "Tanh", {"c"}) + InputNode("a", {2}) +
               OpNode("b", "Add", {"a", "d"}) + OpNode("c", "Tanh", {"b"}) +
               OpNode("d", "Tanh", {"c"}));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message(),
            "t.pbtxt:4:1: node 'c' (Tanh): the graph has a cycle: "
            "c -> d -> b -> c");
}

TEST(CycleTest, SelfLoop) {
  absl::StatusOr<ValidGraph> g =
      Validate(InputNode("a", {2}) + OpNode("m", "Mul", {"a", "m"}));
  ASSERT_FALSE(g.ok());
  EXPECT_TRUE(absl::StrContains(
      g.status().message(), "node 'm' (Mul): the graph has a cycle: m -> m"))
      << g.status();
}

std::string Param(const std::string& name, int elements) {
  std::string values;
  for (int i = 0; i < elements; ++i) absl::StrAppend(&values, " float_val: 1");
  return absl::StrCat(
      "node { name: \"", name,
      "\" op: \"Parameter\" attr { key: \"value\" value { tensor { dtype: "
      "DT_FLOAT dims: ",
      elements, values, " } } } }\n");
}

TEST(MemoryBudgetTest, BoundaryIsInclusiveAndSummed) {
  const std::string text = Param("p", 4) + Param("q", 4);  // 16 + 16 bytes.
  ValidateOptions options;
  options.memory_budget = 32;
  absl::StatusOr<ValidGraph> fits = Validate(text, options);
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->memory_budget(), 32);

  options.memory_budget = 31;
  absl::StatusOr<ValidGraph> over = Validate(text, options);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(
      absl::StartsWith(over.status().message(),
                       "t.pbtxt:2:1: node 'q' (Parameter): attr 'value'"))
      << over.status();
}

TEST(MemoryBudgetTest, InputsDoNotCount) {
  ValidateOptions options;
  options.memory_budget = 1;
  absl::StatusOr<ValidGraph> g =
      Validate(InputNode("x", {1000000, 1000}), options);
  EXPECT_TRUE(g.ok()) << g.status();
}

TEST(ValidateTest, DescribeAndFindNode) {
  absl::StatusOr<ValidGraph> g =
      Validate(InputNode("x", {2}) + InputNode("y", {2}) +
               OpNode("z", "Add", {"x", "y"}));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->Describe(2), "t.pbtxt:3:1: node 'z' (Add)");
  EXPECT_EQ(g->node_op(2), "Add");
  EXPECT_EQ(g->FindNode("y"), 1);
  EXPECT_EQ(g->FindNode("nope"), -1);
  EXPECT_EQ(g->input_nodes(), (std::vector<int>{0, 1}));
  EXPECT_TRUE(g->outputs().empty());
  EXPECT_EQ(g->info(2).op->name(), "Add");
}

TEST(ValidateTest, GraphsWithoutASourceNameUseNodeIndices) {
  LoadedGraph loaded;
  Node* node = loaded.graph.add_node();
  node->set_name("t");
  node->set_op("Tanh");
  absl::StatusOr<ValidGraph> g = ValidateGraph(std::move(loaded));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message(),
            "node 0: node 't' (Tanh): Tanh takes 1 input(s), got 0");

  absl::StatusOr<ValidGraph> empty = ValidateGraph(LoadedGraph());
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().message(), "graph: the graph has no nodes");
}

TEST(ValidateTest, DefaultsAndExplicitAttrs) {
  absl::StatusOr<ValidGraph> g = Validate(
      InputNode("x", {2, 3}) +
      "node { name: \"s\" op: \"Softmax\" input: \"x\" attr { key: \"axis\" "
      "value { i: -2 } } }\n" +
      OpNode("d", "Softmax", {"x"}));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->info(1).shapes[0], (Shape{2, 3}));
  EXPECT_EQ(g->info(2).shapes[0], (Shape{2, 3}));
}

TEST(InferNodeTest, ReportsWithoutNodeContext) {
  const OpDef* add = GlobalOpRegistry().Find("Add");
  ASSERT_NE(add, nullptr);
  Node node;
  node.set_name("n");
  node.set_op("Add");
  node.add_input("a");
  node.add_input("b");
  std::vector<DType> dtypes;
  std::vector<Shape> shapes;
  absl::Status s =
      InferNode(*add, node, {DType::kF64, DType::kF64},
                {Shape{2, -1}, Shape{3}}, 1 << 20, &dtypes, &shapes);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(dtypes, (std::vector<DType>{DType::kF64}));
  EXPECT_EQ(shapes, (std::vector<Shape>{Shape{2, 3}}));

  s = InferNode(*add, node, {DType::kF64, DType::kF32}, {Shape{2}, Shape{2}},
                1 << 20, &dtypes, &shapes);
  EXPECT_EQ(s.message(),
            "input 1 ('b', b) is f32 but an earlier input of type T is f64");
}

}  // namespace
}  // namespace rill
