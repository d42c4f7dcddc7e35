// Malformed-model regression tests (RELIABILITY.md): each file in
// testdata/malformed/ is one bad model, and must be rejected with the right
// status code and a message that names the file, the line:col of the bad node
// (where the text has one) and the node or field at fault. The same files are
// the seed corpus of tests/fuzz/graph_text_fuzzer.cc.

#include <dirent.h>

#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/file_io.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

constexpr char kDir[] = "tests/graph/testdata/malformed/";

struct Case {
  // Under kDir unless it holds a '/'.
  const char* file;
  absl::StatusCode code;
  // "line:col" that must follow the path in the message; "" where the text
  // has no position to give (an empty graph, a file refused unread), and
  // then the message must still start with the path.
  const char* where;
  // Each must appear in the message: the node or field, and what is wrong.
  std::vector<std::string> substrings;
  LoadOptions load = {};
  int64_t memory_budget = ValidateOptions().memory_budget;
};

std::string PathOf(const Case& c) {
  return absl::StrContains(c.file, '/') ? c.file : absl::StrCat(kDir, c.file);
}

LoadOptions MaxBytes(int64_t n) {
  LoadOptions o;
  o.max_file_bytes = n;
  return o;
}

LoadOptions MaxDepth(int depth) {
  LoadOptions o;
  o.max_recursion_depth = depth;
  return o;
}

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
constexpr auto kExhausted = absl::StatusCode::kResourceExhausted;

// clang-format off
const std::vector<Case>& Cases() {
  static const auto* cases = new std::vector<Case>{
      // Ops, arity, attributes.
      {"unknown_op.pbtxt", kInvalid, "8:1",
       {"node 'y' (Frobnicate)", "unknown op 'Frobnicate'"}},
      {"arity_too_few.pbtxt", kInvalid, "8:1",
       {"node 'y' (MatMul)", "MatMul takes 2 input(s), got 1"}},
      {"arity_too_many.pbtxt", kInvalid, "8:1",
       {"node 'y' (Tanh)", "Tanh takes 1 input(s), got 2"}},
      {"missing_required_attr.pbtxt", kInvalid, "8:1",
       {"node 'y' (Input)", "missing required attr 'shape'"}},
      {"unknown_attr.pbtxt", kInvalid, "8:1",
       {"node 'y' (Tanh)", "unknown attr 'alpha'", "Tanh takes no attrs"}},
      {"attr_wrong_type_bool.pbtxt", kInvalid, "14:1",
       {"node 'y' (MatMul)", "attr 'transpose_a' must be of type bool"}},
      {"attr_wrong_type_int.pbtxt", kInvalid, "8:1",
       {"node 'y' (Softmax)", "attr 'axis' must be of type int"}},
      {"attr_no_value.pbtxt", kInvalid, "8:1",
       {"node 'y' (Softmax)", "attr 'axis' must be of type int"}},
      {"duplicate_attr.pbtxt", kInvalid, "8:1",
       {"node 'y'", "attr 'axis' is given more than once"}},
      {"unsupported_dtype.pbtxt", kInvalid, "8:1",
       {"node 'y' (Input)", "unsupported dtype 99"}},
      // References.
      {"missing_input_node.pbtxt", kInvalid, "8:1",
       {"node 'y' (Tanh)", "input 0: 'nope' names no node"}},
      {"dangling_output_index.pbtxt", kInvalid, "8:1",
       {"node 'y' (Tanh)", "'x:3' asks for output 3",
        "node 'x' (Input) has 1 output"}},
      {"input_ref_empty_index.pbtxt", kInvalid, "8:1",
       {"node 'y' (Tanh)", "input 'x:' is not of the form"}},
      {"input_ref_not_a_number.pbtxt", kInvalid, "8:1",
       {"node 'y' (Tanh)", "input 'x:abc' is not of the form"}},
      {"input_ref_index_overflow.pbtxt", kInvalid, "8:1",
       {"node 'y' (Tanh)", "input 'x:99999999999' is not of the form"}},
      {"input_ref_negative_index.pbtxt", kInvalid, "8:1",
       {"node 'y' (Tanh)", "input 'x:-1' is not of the form"}},
      {"graph_output_missing.pbtxt", kInvalid, "14:1",
       {"graph output", "'nope' names no node"}},
      {"graph_output_bad_index.pbtxt", kInvalid, "13:1",
       {"graph output", "'y:1' asks for output 1"}},
      {"graph_output_malformed.pbtxt", kInvalid, "13:1",
       {"graph output", "'y:' is not of the form"}},
      // Names.
      {"duplicate_node_name.pbtxt", kInvalid, "13:1",
       {"node 'y' (Sigmoid)", "duplicate node name",
        absl::StrCat("first defined at ", kDir, "duplicate_node_name.pbtxt:8:1")}},
      {"duplicate_graph_input.pbtxt", kInvalid, "8:1",
       {"node 'x' (Input)", "duplicate node name",
        absl::StrCat("first defined at ", kDir, "duplicate_graph_input.pbtxt:2:1")}},
      {"invalid_node_name_digit.pbtxt", kInvalid, "8:1",
       {"node '1abc' (Tanh)", "a node name must match"}},
      {"invalid_node_name_space.pbtxt", kInvalid, "8:1",
       {"node 'a b' (Tanh)", "a node name must match"}},
      {"invalid_node_name_empty.pbtxt", kInvalid, "8:1",
       {"node '' (Tanh)", "a node name must match"}},
      // Structure.
      {"cycle_two_nodes.pbtxt", kInvalid, "8:1",
       {"node 'a' (Add)", "the graph has a cycle: a -> b -> a"}},
      {"cycle_self_loop.pbtxt", kInvalid, "8:1",
       {"node 'a' (Add)", "the graph has a cycle: a -> a"}},
      {"empty_graph.pbtxt", kInvalid, "", {"the graph has no nodes"}},
      // Types.
      {"dtype_mismatch_add.pbtxt", kInvalid, "14:1",
       {"node 'y' (Add)", "input 1 ('b', z) is f64",
        "earlier input of type T is f32"}},
      {"dtype_int_into_tanh.pbtxt", kInvalid, "8:1",
       {"node 'y' (Tanh)", "input 0 ('x', x) is i32", "Tanh takes {f32, f64}"}},
      // Dimensions and sizes.
      {"negative_dim_input.pbtxt", kInvalid, "2:1",
       {"node 'x' (Input)", "attr 'shape'", "dimension 1", "is -2"}},
      {"negative_dim_const.pbtxt", kInvalid, "2:1",
       {"node 'c' (Const)", "attr 'value'", "dimension 0",
        "dimensions must be >= 0"}},
      {"overflow_dims.pbtxt", kInvalid, "2:1",
       {"node 'c' (Const)", "attr 'value'",
        "shape [4611686018427387904, 4] has more elements than int64"}},
      {"overflow_dims_reversed.pbtxt", kInvalid, "2:1",
       {"node 'c' (Const)", "attr 'value'",
        "shape [4, 4611686018427387904] has more elements than int64"}},
      {"overflow_dims_input.pbtxt", kInvalid, "2:1",
       {"node 'x' (Input)", "attr 'shape'", "more elements than int64"}},
      {"byte_size_overflow.pbtxt", kInvalid, "2:1",
       {"node 'c' (Const)", "attr 'value'",
        "byte size of f64 shape [1152921504606846976, 2] overflows int64"}},
      {"input_byte_size_overflow.pbtxt", kInvalid, "2:1",
       {"node 'x' (Input)", "output 0", "byte size of f64 shape"}},
      {"broadcast_overflow.pbtxt", kInvalid, "14:1",
       {"node 'y' (Add)", "more elements than int64"}},
      {"memory_budget.pbtxt", kExhausted, "7:1",
       {"node 'w2' (Parameter)", "attr 'value'",
        "tensor of 128 bytes exceeds the 72 bytes left of the memory budget"},
       {}, /*memory_budget=*/200},
      // Tensor data.
      {"tensor_too_few_values.pbtxt", kInvalid, "2:1",
       {"node 'c' (Const)", "attr 'value'", "needs 4 values",
        "has 3 in float_val"}},
      {"tensor_single_value_splat.pbtxt", kInvalid, "2:1",
       {"node 'c' (Const)", "attr 'value'", "needs 4 values",
        "has 1 in float_val"}},
      {"tensor_no_data.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'value'", "needs 12 values",
        "has 0 in float_val"}},
      {"tensor_raw_data_length.pbtxt", kInvalid, "2:1",
       {"node 'c' (Const)", "attr 'value'", "(8 bytes)",
        "has 7 bytes of raw_data"}},
      {"tensor_wrong_typed_field.pbtxt", kInvalid, "2:1",
       {"node 'c' (Const)", "attr 'value'", "dtype f32 has data in double_val"}},
      {"tensor_typed_and_raw.pbtxt", kInvalid, "2:1",
       {"node 'c' (Const)", "attr 'value'", "both float_val and raw_data"}},
      {"tensor_bad_bool_byte.pbtxt", kInvalid, "2:1",
       {"node 'c' (Const)", "attr 'value'", "byte other than 0 or 1"}},
      // Parameter initializers (proto/graph.proto).
      {"parameter_no_value.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'value': missing", "or `init`"}},
      {"init_unknown.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'init'", "unknown initializer 'gaussian'",
        "kaiming_normal"}},
      {"init_missing_shape.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'shape': required with init 'normal'"}},
      {"init_bad_std.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'std'", "std -1"}},
      {"init_attr_not_applicable.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'std': does not apply to init 'uniform'",
        "it takes a, b, seed"}},
      {"init_with_value.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'value'", "`value` or `init`, not both"}},
      {"init_attr_without_init.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'std': belongs to an initializer",
        "'init' is not set"}},
      {"init_fan_rank1.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'shape'", "at least 2 dimensions"}},
      {"init_int_dtype.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'dtype'", "not i32"}},
      {"init_bad_bounds.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'b': must be above a (1), got 0"}},
      {"init_bad_nonlinearity.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'nonlinearity'", "unknown nonlinearity 'swish'"}},
      {"init_bad_mode.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'mode'", "unknown mode 'fan_avg'"}},
      {"init_truncation_empty.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attrs 'a' and 'b'", "interval [10, 11]"}},
      {"init_symbolic_shape.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'shape'", "dimension 0"}},
      {"init_constant_no_fill.pbtxt", kInvalid, "2:1",
       {"node 'w' (Parameter)", "attr 'fill': required with init 'constant'"}},
      {"init_over_budget.pbtxt", kExhausted, "2:1",
       {"node 'w' (Parameter)", "attr 'shape'", "4000000000000 bytes",
        "memory budget"}},
      // Op-specific shape checks.
      {"softmax_axis_out_of_range.pbtxt", kInvalid, "8:1",
       {"node 'y' (Softmax)", "attr 'axis' = 2 is out of range for rank 2"}},
      {"softmax_axis_negative_out_of_range.pbtxt", kInvalid, "8:1",
       {"node 'y' (Softmax)", "attr 'axis' = -3 is out of range for rank 2"}},
      {"matmul_inner_mismatch.pbtxt", kInvalid, "14:1",
       {"node 'y' (MatMul)", "inner dimensions differ", "contracts 3 with 4"}},
      {"matmul_rank_too_low.pbtxt", kInvalid, "14:1",
       {"node 'y' (MatMul)", "rank >= 2", "[2, 3] and [3]"}},
      {"add_broadcast_mismatch.pbtxt", kInvalid, "14:1",
       {"node 'y' (Add)", "[2, 3] and [4] do not broadcast"}},
      // Text format.
      {"parse_error.pbtxt", kInvalid, "10:7", {"Expected string, got: Tanh"}},
      {"unknown_field.pbtxt", kInvalid, "11:9", {"no field named \"inputs\""}},
      {"repeated_scalar_field.pbtxt", kInvalid, "10:7",
       {"Non-repeated field \"name\" is specified multiple times"}},
      // A normal graph (it nests 4 deep) under a nesting limit of 2: the
      // parser stops inside node 0's first attr, on line 5.
      {"examples/gated_mlp.pbtxt", kInvalid, "5",
       {"Message is too deep", "recursion limit of 2"}, MaxDepth(2)},
      // Refused by size before it is read: a parse would give
      // kInvalidArgument, since this file does not parse.
      {"parse_error.pbtxt", kExhausted, "", {"over the limit of 10"},
       MaxBytes(10)},
  };
  return *cases;
}
// clang-format on

absl::Status LoadAndValidate(const std::string& path, const LoadOptions& load,
                             int64_t memory_budget) {
  absl::StatusOr<LoadedGraph> loaded = LoadGraphFile(path, load);
  if (!loaded.ok()) return loaded.status();
  ValidateOptions options;
  options.memory_budget = memory_budget;
  return ValidateGraph(*std::move(loaded), options).status();
}

class MalformedTest : public testing::TestWithParam<Case> {};

TEST_P(MalformedTest, IsRejectedWithCodeLocationAndCulprit) {
  const Case& c = GetParam();
  const std::string path = PathOf(c);
  absl::Status s = LoadAndValidate(path, c.load, c.memory_budget);
  ASSERT_FALSE(s.ok()) << path << " was accepted";
  EXPECT_EQ(s.code(), c.code) << s;
  const std::string message(s.message());
  const std::string where = *c.where ? absl::StrCat(path, ":", c.where, ":")
                                     : absl::StrCat(path, ":");
  EXPECT_TRUE(absl::StartsWith(message, where))
      << "message should start with \"" << where << "\": " << message;
  for (const std::string& sub : c.substrings) {
    EXPECT_TRUE(absl::StrContains(message, sub))
        << "missing \"" << sub << "\" in: " << message;
  }
  // A second load fails the same way: no state survives the first failure.
  EXPECT_EQ(LoadAndValidate(path, c.load, c.memory_budget), s);
}

std::string CaseName(const testing::TestParamInfo<Case>& info) {
  std::string name = info.param.file;
  name = name.substr(name.rfind('/') + 1);
  name = name.substr(0, name.find('.'));
  if (info.param.load.max_file_bytes != LoadOptions().max_file_bytes) {
    name += "_oversized";
  }
  if (info.param.load.max_recursion_depth !=
      LoadOptions().max_recursion_depth) {
    name += "_too_deep";
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Files, MalformedTest, testing::ValuesIn(Cases()),
                         CaseName);

// Each file in the directory has a row, and each row's file exists, so the
// fuzz corpus and the table cannot drift apart.
TEST(MalformedCorpusTest, EveryFileHasARow) {
  std::set<std::string> files;
  DIR* dir = opendir(kDir);
  ASSERT_NE(dir, nullptr) << kDir;
  while (dirent* e = readdir(dir)) {
    if (absl::EndsWith(e->d_name, ".pbtxt")) files.insert(e->d_name);
  }
  closedir(dir);
  std::set<std::string> rows;
  for (const Case& c : Cases()) {
    if (!absl::StrContains(c.file, '/')) rows.insert(c.file);
  }
  EXPECT_EQ(files, rows);
  EXPECT_GE(files.size(), 50u);
}

// Budget-dependent and option-dependent rows are bad only under their
// options: check that the options, not something else, cause the rejection.
TEST(MalformedCorpusTest, OptionRowsPassWithoutTheirOptions) {
  EXPECT_TRUE(LoadAndValidate(absl::StrCat(kDir, "memory_budget.pbtxt"), {},
                              /*memory_budget=*/256)
                  .ok());
  EXPECT_TRUE(LoadAndValidate("examples/gated_mlp.pbtxt", MaxDepth(4),
                              ValidateOptions().memory_budget)
                  .ok());
}

// Bytes of one length-delimited field (payloads under 128 bytes).
std::string Field(int number, const std::string& payload) {
  std::string out;
  out += static_cast<char>((number << 3) | 2);
  out += static_cast<char>(payload.size());
  return out + payload;
}

TEST(MalformedBinaryTest, GarbageIsRejected) {
  const std::vector<std::string> garbage = {
      std::string("\xff\xff\xff\xff", 4),  // Wire type 7 does not exist.
      std::string("\x0a\xff\x01", 3),      // Node of 255 bytes, 0 present.
      std::string("\x0a\x02\x0a\xc3", 4),  // Name that is not UTF-8.
      "node { name: \"x\" }\n",            // Text in a .pb file.
  };
  for (size_t i = 0; i < garbage.size(); ++i) {
    const std::string path = TestTempPath(absl::StrCat("garbage", i, ".pb"));
    ASSERT_TRUE(WriteFileAtomic(path, garbage[i]).ok());
    absl::StatusOr<LoadedGraph> g = LoadGraphFile(path);
    ASSERT_FALSE(g.ok()) << "garbage " << i;
    EXPECT_EQ(g.status().code(), kInvalid);
    EXPECT_TRUE(absl::StartsWith(g.status().message(), path + ":"))
        << g.status();
    EXPECT_TRUE(absl::StrContains(g.status().message(),
                                  "not a valid binary rill graph"))
        << g.status();
  }
}

// A proto map keeps the last of two entries with one key; the loader must
// see both, in binary files too.
TEST(MalformedBinaryTest, DuplicateAttrIsRejected) {
  std::string axis0 = Field(1, "axis") + Field(2, std::string("\x08\x00", 2));
  std::string axis1 = Field(1, "axis") + Field(2, std::string("\x08\x01", 2));
  std::string x = Field(1, "x") + Field(2, "Input");
  std::string y = Field(1, "y") + Field(2, "Softmax") + Field(3, "x") +
                  Field(4, axis0) + Field(4, axis1);
  const std::string path = TestTempPath("duplicate_attr.pb");
  ASSERT_TRUE(WriteFileAtomic(path, Field(1, x) + Field(1, y)).ok());
  absl::StatusOr<LoadedGraph> g = LoadGraphFile(path);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), kInvalid);
  EXPECT_EQ(g.status().message(),
            path + ": node 1: node 'y': attr 'axis' is given more than once");

  // Distinct keys in the same layout load.
  std::string other = Field(1, "other") + Field(2, std::string("\x08\x01", 2));
  std::string ok =
      Field(1, "y") + Field(2, "Softmax") + Field(4, axis0) + Field(4, other);
  absl::StatusOr<LoadedGraph> fine =
      ParseGraphBinary(Field(1, x) + Field(1, ok), "fine.pb");
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_EQ(fine->graph.node(1).attr_size(), 2);
}

TEST(MalformedBinaryTest, NestingPastTheLimitIsRejected) {
  // node { attr { value { shape {} } } }: four levels under the graph.
  std::string entry = Field(1, "shape") + Field(2, Field(6, ""));
  std::string bytes = Field(1, Field(1, "x") + Field(4, entry));
  ASSERT_TRUE(ParseGraphBinary(bytes, "ok.pb").ok());
  absl::StatusOr<LoadedGraph> g =
      ParseGraphBinary(bytes, "deep.pb", MaxDepth(2));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), kInvalid);
  EXPECT_TRUE(absl::StartsWith(g.status().message(), "deep.pb: "));
}

// A binary graph may hold only graph.proto's fields, as a text graph must;
// the error says where the unknown one sits and its number.
TEST(MalformedBinaryTest, UnknownFieldIsRejected) {
  std::string x = Field(1, "x") + Field(2, "Input");
  const std::string unknown_varint = std::string("\x98\x06\x05", 3);  // 99
  const std::string in_node = TestTempPath("unknown_in_node.pb");
  ASSERT_TRUE(WriteFileAtomic(in_node, Field(1, x + unknown_varint)).ok());
  absl::StatusOr<LoadedGraph> g = LoadGraphFile(in_node);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), kInvalid);
  EXPECT_EQ(g.status().message(),
            in_node +
                ": node 0 ('x'): unknown field number 99 in rill.Node "
                "(binary graphs, like text graphs, may hold only the fields "
                "of proto/graph.proto)");
  // Deeper down: an unknown field in the attr value of node 0.
  std::string attr =
      Field(1, "dtype") + Field(2, std::string("\x98\x06\x01", 3));
  absl::StatusOr<LoadedGraph> deep =
      ParseGraphBinary(Field(1, x + Field(4, attr)), "deep.pb");
  ASSERT_FALSE(deep.ok());
  EXPECT_TRUE(absl::StartsWith(
      deep.status().message(),
      "deep.pb: node 0 ('x').attr[0].value: unknown field number 99 in "
      "rill.AttrValue"))
      << deep.status();
  // At the top, after the nodes.
  absl::StatusOr<LoadedGraph> top =
      ParseGraphBinary(Field(1, x) + std::string("\xe8\x04\x01", 3), "top.pb");
  ASSERT_FALSE(top.ok());
  EXPECT_TRUE(absl::StartsWith(top.status().message(),
                               "top.pb: unknown field number 77 in rill.Graph"))
      << top.status();
}

// Names from a file reach the terminal escaped and capped: a 300 KB name
// gives a message of a few hundred bytes, and ESC arrives as \x1b.
TEST(MalformedTextTest, EchoedNamesAreEscapedAndTruncated) {
  const std::string long_name(300000, 'a');
  absl::StatusOr<LoadedGraph> g =
      ParseGraphText(absl::StrCat("node { name: \"", long_name,
                                  "\" op: \"Tanh\" input: \"nope\" }\n"),
                     "long.pbtxt");
  ASSERT_TRUE(g.ok()) << g.status();
  absl::Status s = ValidateGraph(*std::move(g)).status();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            absl::StrCat("long.pbtxt:1:1: node '", std::string(200, 'a'),
                         "...' (300000 bytes, truncated) (Tanh): input 0: "
                         "'nope' names no node"));

  absl::StatusOr<LoadedGraph> esc = ParseGraphText(
      "node { name: \"x\" op: \"Tan\\033[2Jh\" }\n", "esc.pbtxt");
  ASSERT_TRUE(esc.ok()) << esc.status();
  absl::Status e = ValidateGraph(*std::move(esc)).status();
  EXPECT_EQ(e.message(),
            "esc.pbtxt:1:1: node 'x' (Tan\\x1b[2Jh): unknown op "
            "'Tan\\x1b[2Jh'");
}

}  // namespace
}  // namespace rill
