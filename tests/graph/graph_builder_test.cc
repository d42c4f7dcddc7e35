#include "graph/graph_builder.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "core/tensor_proto.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "gtest/gtest.h"

namespace rill {
namespace {

absl::StatusOr<Tensor> Zeros(const Shape& shape) {
  return FilledTensor(DType::kF32, shape, [](int64_t) { return 0.0; });
}

const Node* Find(const Graph& g, const std::string& name) {
  for (const Node& n : g.node()) {
    if (n.name() == name) return &n;
  }
  return nullptr;
}

TEST(GraphBuilderTest, NamesNodesUnderThePrefixAndItsScopes) {
  GraphBuilder b("test", "block");
  EXPECT_EQ(b.Op("a", "Tanh", {"x"}).name(), "block/a");
  GraphBuilder inner = b.Scope("inner");
  EXPECT_EQ(inner.prefix(), "block/inner");
  EXPECT_EQ(std::string(inner.Op("b", "Tanh", {"block/a"})), "block/inner/b");
  GraphBuilder root("test", "");
  EXPECT_EQ(root.Op("c", "Tanh", {"x"}).Output(1), "c:1");
  EXPECT_EQ(root.Scope("s").prefix(), "s");

  Graph g;
  ASSERT_TRUE(b.Commit(&g).ok());  // The scope's node comes along.
  ASSERT_EQ(g.node_size(), 2);
  EXPECT_EQ(g.node(1).name(), "block/inner/b");
  EXPECT_EQ(g.node(1).input(0), "block/a");
}

TEST(GraphBuilderTest, SetsEachAttributeWithItsType) {
  GraphBuilder b("test", "");
  const Node* n = b.Op("n", "Any")
                      .AttrInt("i", -3)
                      .AttrFloat("f", 0.25)
                      .AttrBool("b", true)
                      .AttrString("s", "mean")
                      .AttrInts("is", {2, -1})
                      .AttrType("t", DType::kF64)
                      .AttrShape("shape", {-1, 4})
                      .node();
  const auto& a = n->attr();
  EXPECT_EQ(a.at("i").value_case(), AttrValue::kI);
  EXPECT_EQ(a.at("i").i(), -3);
  EXPECT_EQ(a.at("f").value_case(), AttrValue::kF);
  EXPECT_EQ(a.at("f").f(), 0.25f);
  EXPECT_EQ(a.at("b").value_case(), AttrValue::kB);
  EXPECT_TRUE(a.at("b").b());
  EXPECT_EQ(a.at("s").value_case(), AttrValue::kS);
  EXPECT_EQ(a.at("s").s(), "mean");
  ASSERT_EQ(a.at("is").value_case(), AttrValue::kList);
  EXPECT_EQ(std::vector<int64_t>(a.at("is").list().i().begin(),
                                 a.at("is").list().i().end()),
            (std::vector<int64_t>{2, -1}));
  EXPECT_EQ(a.at("t").value_case(), AttrValue::kType);
  EXPECT_EQ(a.at("t").type(), DTypeToProto(DType::kF64));
  ASSERT_EQ(a.at("shape").value_case(), AttrValue::kShape);
  EXPECT_EQ(a.at("shape").shape().dim_size(), 2);
  EXPECT_EQ(a.at("shape").shape().dim(0), -1);
  EXPECT_EQ(a.at("shape").shape().dim(1), 4);
}

// Each row stages block/a, then what makes Commit fail; the graph keeps
// only the node it had.
struct FailingCommit {
  const char* what;
  std::function<void(GraphBuilder&)> stage;
  absl::StatusCode code;
  const char* message;
};

TEST(GraphBuilderTest, AFailedCommitAddsNothing) {
  const FailingCommit rows[] = {
      {"a name the graph has",
       [](GraphBuilder& b) { b.Op("b", "Tanh", {"block/a"}); },
       absl::StatusCode::kAlreadyExists,
       "test block 'block': the graph already has a node 'block/b'"},
      {"a name staged twice",
       [](GraphBuilder& b) {
         b.Scope("nested").staging()->add_node()->set_name("block/a");
       },
       absl::StatusCode::kInvalidArgument,
       "two of its nodes are named 'block/a'"},
      {"the first value that could not be made",
       [](GraphBuilder& b) {
         b.Parameter("bad", absl::ResourceExhaustedError("too big"));
         b.Const("worse", absl::InvalidArgumentError("later"));
       },
       absl::StatusCode::kResourceExhausted, "block/bad"},
  };
  for (const FailingCommit& row : rows) {
    Graph g;
    AddNode(&g, "block/b", "Identity", {"x"});
    GraphBuilder b("test block", "block");
    b.Op("a", "Tanh", {"x"});
    row.stage(b);
    absl::Status st = b.Commit(&g);
    EXPECT_EQ(st.code(), row.code) << row.what;
    EXPECT_TRUE(absl::StrContains(st.message(), row.message))
        << row.what << ": " << st;
    EXPECT_EQ(g.node_size(), 1) << row.what;
  }
}

// The typed helpers make nodes that validate with the shapes of
// nn.Linear, nn.Dropout and nn.LayerNorm.
TEST(GraphBuilderTest, LinearDropoutAndLayerNormValidate) {
  GraphBuilder b("test", "net");
  std::string x = b.Input("x", DType::kF32, {-1, 3, 4});
  std::string w = b.Parameter("fc.weight", Zeros(Shape{5, 4}));
  std::string bias = b.Parameter("fc.bias", Zeros(Shape{5}));
  std::string h = b.Linear("fc", x, w, bias);
  EXPECT_EQ(h, "net/fc");
  std::string logits =
      b.Linear("proj", h, b.Parameter("proj.weight", Zeros(Shape{2, 5})), "");
  std::string d = b.Dropout("drop", h, 0.5, 7);
  EXPECT_EQ(d, "net/drop:0");
  std::string n = b.LayerNorm("norm", d, b.Parameter("g", Zeros(Shape{5})),
                              b.Parameter("beta", Zeros(Shape{5})));
  std::string s = b.Op("sum", "Add", {n, b.Scalar("one", DType::kF32, 1)});
  std::string c = b.Cast("as_f64", s, DType::kF64);
  Graph g;
  ASSERT_TRUE(b.Commit(&g).ok());

  const Node* mm = Find(g, "net/fc_mm");
  ASSERT_NE(mm, nullptr);
  EXPECT_EQ(mm->op(), "MatMul");
  EXPECT_TRUE(mm->attr().at("transpose_b").b());
  EXPECT_EQ(Find(g, "net/fc")->op(), "Add");
  EXPECT_EQ(Find(g, "net/proj")->op(), "MatMul");  // No bias: no Add.
  EXPECT_EQ(Find(g, "net/proj_mm"), nullptr);
  const Node* drop = Find(g, "net/drop");
  EXPECT_EQ(drop->attr().at("rate").f(), 0.5f);
  EXPECT_TRUE(drop->attr().at("training").b());
  EXPECT_EQ(drop->attr().at("seed").i(), 7);

  absl::StatusOr<ValidGraph> valid =
      ValidateGraph(LoadedGraph{g, SourceMap("builder")});
  ASSERT_TRUE(valid.ok()) << valid.status();
  auto shape_of = [&](const std::string& ref) {
    absl::StatusOr<TensorRef> r = valid->Resolve(ref);
    EXPECT_TRUE(r.ok()) << ref;
    return valid->info(r->node).shapes[r->output];
  };
  EXPECT_EQ(shape_of(h), (Shape{-1, 3, 5}));
  EXPECT_EQ(shape_of(logits), (Shape{-1, 3, 2}));
  EXPECT_EQ(shape_of(d), (Shape{-1, 3, 5}));
  EXPECT_EQ(shape_of(n), (Shape{-1, 3, 5}));
  EXPECT_EQ(shape_of("net/one"), (Shape{1}));
  absl::StatusOr<TensorRef> cast = valid->Resolve(c);
  ASSERT_TRUE(cast.ok());
  EXPECT_EQ(valid->info(cast->node).dtypes[0], DType::kF64);
}

TEST(GraphBuilderTest, LinearCanNameItsProduct) {
  GraphBuilder b("test", "head");
  EXPECT_EQ(b.Linear("output", "x", "w", "b", "matmul"), "head/output");
  Graph g;
  ASSERT_TRUE(b.Commit(&g).ok());
  ASSERT_EQ(g.node_size(), 2);
  EXPECT_EQ(g.node(0).name(), "head/matmul");
  EXPECT_EQ(g.node(1).input(0), "head/matmul");
}

}  // namespace
}  // namespace rill
