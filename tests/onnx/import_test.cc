// Bad ONNX input gets a clear error naming the node or field; symbolic
// dims come through as rill's -1. One row per kind of bad input.

#include "onnx/import.h"

#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "onnx/onnx.pb.h"

namespace rill {
namespace {

// y = x + b: x f32[N, 3] (N a dim_param), b an initialiser f32[3].
::onnx::ModelProto AddModel() {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  auto* x = g->add_input();
  x->set_name("x");
  auto* xt = x->mutable_type()->mutable_tensor_type();
  xt->set_elem_type(::onnx::TensorProto::FLOAT);
  xt->mutable_shape()->add_dim()->set_dim_param("N");
  xt->mutable_shape()->add_dim()->set_dim_value(3);
  auto* b = g->add_initializer();
  b->set_name("b");
  b->set_data_type(::onnx::TensorProto::FLOAT);
  b->add_dims(3);
  for (float v : {1.0f, 2.0f, 3.0f}) b->add_float_data(v);
  auto* node = g->add_node();
  node->set_name("add");
  node->set_op_type("Add");
  node->add_input("x");
  node->add_input("b");
  node->add_output("y");
  auto* y = g->add_output();
  y->set_name("y");
  y->mutable_type()->mutable_tensor_type()->set_elem_type(
      ::onnx::TensorProto::FLOAT);
  return m;
}

TEST(OnnxImportTest, ImportsWithSymbolicDims) {
  absl::StatusOr<Graph> g = ImportOnnx(AddModel());
  ASSERT_TRUE(g.ok()) << g.status();
  const Node& input = g->node(0);
  EXPECT_EQ(input.op(), "Input");
  EXPECT_EQ(input.attr().at("shape").shape().dim(0), -1);
  EXPECT_EQ(g->output(0), "y");
}

struct BadCase {
  std::string name;
  std::function<void(::onnx::ModelProto*)> edit;
  std::string error;  // A part of the message.
};

class OnnxBadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(OnnxBadInputTest, ClearError) {
  ::onnx::ModelProto m = AddModel();
  GetParam().edit(&m);
  absl::StatusOr<Graph> g = ImportOnnxBytes(m.SerializeAsString(), "m.onnx");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find(GetParam().error), std::string::npos)
      << g.status();
  EXPECT_NE(g.status().message().find("m.onnx"), std::string::npos)
      << g.status();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OnnxBadInputTest,
    ::testing::Values(
        BadCase{"IrVersion", [](auto* m) { m->set_ir_version(99); },
                "ir_version 99 is not supported (3 to 8)"},
        BadCase{"NoIrVersion", [](auto* m) { m->clear_ir_version(); },
                "not an ONNX model: no ir_version"},
        BadCase{"Opset",
                [](auto* m) { m->mutable_opset_import(0)->set_version(18); },
                "ai.onnx opset 18 is not supported (7 to 17)"},
        BadCase{"NoDefaultOpset",
                [](auto* m) {
                  m->mutable_opset_import(0)->set_domain("com.example");
                },
                "no entry for the default domain"},
        BadCase{"UnknownDomainAndOp",
                [](auto* m) {
                  auto* n = m->mutable_graph()->add_node();
                  n->set_name("custom");
                  n->set_op_type("Foo");
                  n->set_domain("com.example");
                  auto* e = m->mutable_graph()->add_node();
                  e->set_name("cos");
                  e->set_op_type("Cos");
                },
                "2 ONNX node(s) use ops that rill does not import: node 1 "
                "'custom' (Foo, domain 'com.example'); node 2 'cos' (Cos, "
                "domain 'ai.onnx')"},
        BadCase{"DanglingInput",
                [](auto* m) {
                  m->mutable_graph()->mutable_node(0)->set_input(1, "nope");
                },
                "node 0 'add' (Add, domain 'ai.onnx'): input 'nope' is not "
                "an initializer, a graph input or an earlier node's output"},
        BadCase{"DanglingOutput",
                [](auto* m) {
                  m->mutable_graph()->mutable_output(0)->set_name("z");
                },
                "graph output 'z' is not produced"},
        BadCase{"DeclaredShapeDisagrees",
                [](auto* m) {
                  auto* s = m->mutable_graph()
                                ->mutable_output(0)
                                ->mutable_type()
                                ->mutable_tensor_type()
                                ->mutable_shape();
                  s->add_dim()->set_dim_param("N");
                  s->add_dim()->set_dim_value(4);
                },
                "graph output 'y': declared shape [N,4] but the nodes give "
                "[?, 3]"},
        BadCase{"ShapesDisagree",
                [](auto* m) {
                  auto* b = m->mutable_graph()->mutable_initializer(0);
                  b->set_dims(0, 2);
                  b->clear_float_data();
                  b->add_float_data(1);
                  b->add_float_data(2);
                },
                "node 'add' (Add)"},
        BadCase{"ValueCount",
                [](auto* m) {
                  m->mutable_graph()->mutable_initializer(0)->add_float_data(4);
                },
                "initializer 'b': float_data holds 4 values but dims need 3"},
        BadCase{"ExternalDataOutside",
                [](auto* m) {
                  auto* b = m->mutable_graph()->mutable_initializer(0);
                  b->clear_float_data();
                  b->set_data_location(::onnx::TensorProto::EXTERNAL);
                  auto* kv = b->add_external_data();
                  kv->set_key("location");
                  kv->set_value("../../etc/passwd");
                },
                "initializer 'b': external_data location '../../etc/passwd' "
                "is outside the model's directory"},
        BadCase{"UnsupportedDtype",
                [](auto* m) {
                  m->mutable_graph()
                      ->mutable_input(0)
                      ->mutable_type()
                      ->mutable_tensor_type()
                      ->set_elem_type(::onnx::TensorProto::FLOAT16);
                },
                "graph input 'x': ONNX data type 10 (FLOAT16) has no rill "
                "dtype"}),
    [](const auto& info) { return info.param.name; });

// A Shape of a symbolic dim stays symbolic; arithmetic the importer does
// not evaluate on it is an error naming the node.
TEST(OnnxImportTest, SymbolicShapeArithmetic) {
  ::onnx::ModelProto m = AddModel();
  auto* g = m.mutable_graph();
  auto add = [&](const char* name, const char* op,
                 std::vector<std::string> ins) {
    auto* node = g->add_node();
    node->set_name(name);
    node->set_op_type(op);
    for (const auto& in : ins) node->add_input(in);
    node->add_output(std::string(name) + "_out");
    return node;
  };
  add("shape", "Shape", {"x"});
  auto* cast = add("cast", "Cast", {"shape_out"});
  auto* to = cast->add_attribute();
  to->set_name("to");
  to->set_type(::onnx::AttributeProto::INT);
  to->set_i(::onnx::TensorProto::FLOAT);
  g->mutable_output(0)->set_name("cast_out");
  absl::StatusOr<Graph> r = ImportOnnx(m);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("node 'cast' (Cast): a Cast of "
                                      "symbolic dims to a non-integer type"),
            std::string::npos)
      << r.status();
  // Used as data: the error names the node and the value.
  cast->set_op_type("Neg");
  cast->clear_attribute();
  r = ImportOnnx(m);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("node 'cast' (Neg): 'shape_out' is "
                                      "shape arithmetic on symbolic "
                                      "dimensions"),
            std::string::npos)
      << r.status();
}

TEST(OnnxImportTest, TruncatedAndForeignBytes) {
  const std::string bytes = AddModel().SerializeAsString();
  for (const std::string& bad :
       {bytes.substr(0, bytes.size() - 3), std::string("not a model at all"),
        std::string()}) {
    absl::StatusOr<Graph> g = ImportOnnxBytes(bad, "m.onnx");
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.status().message().find("m.onnx: not an ONNX model"),
              std::string::npos)
        << g.status();
  }
}

}  // namespace
}  // namespace rill
