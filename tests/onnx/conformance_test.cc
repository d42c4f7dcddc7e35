// ONNX's backend node tests (libonnx-testdata: model.onnx plus
// test_data_set_*/input_N.pb and output_N.pb) for every op rill imports,
// compared as ONNX's backend test runner does: rtol 1e-3, atol 1e-7
// (onnx/backend/test/loader/__init__.py) with assert_allclose, NaNs equal.
// Every test of an imported op must pass or be in kSkips with its reason;
// the per-op table goes to stdout (README "Importing ONNX models").

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/tensor.h"
#include "graph/validate.h"
#include "gtest/gtest.h"
#include "onnx/import.h"
#include "onnx/onnx.pb.h"
#include "onnx/onnx_tensor.h"
#include "runtime/executor.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

constexpr char kNodeTests[] = "/usr/share/libonnx-testdata/data/node";
constexpr double kRtol = 1e-3, kAtol = 1e-7;

// Tests of imported ops that rill does not run, and why. Kept honest by
// SkipListIsCurrent: each must exist and use only imported ops.
const std::map<std::string, std::string>& Skips() {
  static const auto* skips = new std::map<std::string, std::string>{
      // rill has no such dtype: 8- and 16-bit and unsigned integers,
      // float16, bfloat16, strings. The import names the value and type.
      {"test_add_uint8", "dtype"},
      {"test_div_uint8", "dtype"},
      {"test_mul_uint8", "dtype"},
      {"test_sub_uint8", "dtype"},
      {"test_max_uint8", "dtype"},
      {"test_min_uint8", "dtype"},
      {"test_max_int8", "dtype"},
      {"test_min_int8", "dtype"},
      {"test_max_int16", "dtype"},
      {"test_min_int16", "dtype"},
      {"test_max_uint16", "dtype"},
      {"test_min_uint16", "dtype"},
      {"test_max_uint32", "dtype"},
      {"test_min_uint32", "dtype"},
      {"test_max_uint64", "dtype"},
      {"test_min_uint64", "dtype"},
      {"test_pow_types_float32_uint32", "dtype"},
      {"test_pow_types_float32_uint64", "dtype"},
      {"test_max_float16", "dtype"},
      {"test_min_float16", "dtype"},
      {"test_cast_DOUBLE_to_FLOAT16", "dtype"},
      {"test_cast_FLOAT16_to_DOUBLE", "dtype"},
      {"test_cast_FLOAT16_to_FLOAT", "dtype"},
      {"test_cast_FLOAT_to_FLOAT16", "dtype"},
      {"test_castlike_DOUBLE_to_FLOAT16_expanded", "dtype"},
      {"test_castlike_FLOAT16_to_DOUBLE_expanded", "dtype"},
      {"test_castlike_FLOAT16_to_FLOAT_expanded", "dtype"},
      {"test_castlike_FLOAT_to_FLOAT16_expanded", "dtype"},
      {"test_cast_BFLOAT16_to_FLOAT", "dtype"},
      {"test_cast_FLOAT_to_BFLOAT16", "dtype"},
      {"test_castlike_BFLOAT16_to_FLOAT_expanded", "dtype"},
      {"test_castlike_FLOAT_to_BFLOAT16_expanded", "dtype"},
      {"test_cast_FLOAT_to_STRING", "dtype"},
      {"test_cast_STRING_to_FLOAT", "dtype"},
      {"test_castlike_FLOAT_to_STRING_expanded", "dtype"},
      {"test_castlike_STRING_to_FLOAT_expanded", "dtype"},
      // Optional and sequence values: rill has tensors only.
      {"test_identity_opt", "optional"},
      {"test_identity_sequence", "sequence"},
      // LSTM peepholes (input P): RecurrentLayer has none, and PyTorch
      // does not export them.
      {"test_lstm_with_peepholes", "peepholes"},
      // Opset 1 models: the importer reads opsets 7 to 17.
      {"test_softplus", "opset 1"},
      {"test_softplus_example", "opset 1"},
      // Dropout in training mode: imports are for inference (the graph's
      // own Dropout op trains).
      {"test_training_dropout", "training mode"},
      {"test_training_dropout_default", "training mode"},
      {"test_training_dropout_default_mask", "training mode"},
      {"test_training_dropout_mask", "training mode"},
      {"test_training_dropout_zero_ratio", "training mode"},
      {"test_training_dropout_zero_ratio_mask", "training mode"},
  };
  return *skips;
}

std::string ReadBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Squash(std::string s) {
  s = absl::AsciiStrToLower(s);
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  return s;
}

// The op a test is about: the longest of its ops whose name starts its
// test name (test_layer_normalization_2d_axis0_expanded: LayerNormalization),
// else its first node's.
std::string TestOp(const std::string& test, const ::onnx::ModelProto& m) {
  const std::string name = Squash(test.substr(5));
  std::string best;
  for (const auto& node : m.graph().node()) {
    const std::string op = Squash(node.op_type());
    if (name.rfind(op, 0) == 0 && op.size() > Squash(best).size()) {
      best = node.op_type();
    }
  }
  if (best.empty() && m.graph().node_size() > 0) {
    best = m.graph().node(0).op_type();
  }
  return best;
}

bool Imported(const ::onnx::ModelProto& m) {
  static const auto* ops = [] {
    auto v = SupportedOnnxOps();
    return new std::set<std::string>(v.begin(), v.end());
  }();
  for (const auto& node : m.graph().node()) {
    if (!(node.domain().empty() || node.domain() == "ai.onnx") ||
        !ops->count(node.op_type())) {
      return false;
    }
  }
  return m.graph().node_size() > 0;
}

absl::StatusOr<Tensor> ReadTensor(const fs::path& p) {
  ::onnx::TensorProto t;
  if (!t.ParseFromString(ReadBytes(p))) {
    return absl::InvalidArgumentError(p.string() + ": does not parse");
  }
  return TensorFromOnnx(t, p.string(), p.parent_path().string(), 1 << 30);
}

absl::Status Compare(const Tensor& got, const Tensor& want,
                     const std::string& what) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
    return absl::InternalError(absl::StrCat(
        what, ": got ", DTypeName(got.dtype()), got.shape().ToString(),
        ", want ", DTypeName(want.dtype()), want.shape().ToString()));
  }
  const bool is_float =
      want.dtype() == DType::kF32 || want.dtype() == DType::kF64;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    const double g = got.ElementAsDouble(i), w = want.ElementAsDouble(i);
    bool ok = g == w || (std::isnan(g) && std::isnan(w));
    if (is_float && !ok) ok = std::abs(g - w) <= kAtol + kRtol * std::abs(w);
    if (!ok) {
      return absl::InternalError(
          absl::StrCat(what, ": element ", i, " is ", g, ", want ", w));
    }
  }
  return absl::OkStatus();
}

// Inputs that rill reads at import (a Reshape's shape, a Slice's starts):
// exports make them constants; ONNX's node tests feed them, so the harness
// binds them to the data set's values (OnnxImportOptions::bound_inputs).
std::set<std::string> ImportTimeInputs(const ::onnx::ModelProto& m) {
  static const auto* slots = new std::map<std::string, int>{
      {"Reshape", 1}, {"Slice", 1},     {"Squeeze", 1}, {"Unsqueeze", 1},
      {"Split", 1},   {"ReduceSum", 1}, {"Expand", 1},  {"ConstantOfShape", 0},
      {"LSTM", 4},    {"GRU", 4},       {"RNN", 4},     {"Trilu", 0}};
  std::set<std::string> names;
  for (const auto& node : m.graph().node()) {
    auto it = slots->find(node.op_type());
    if (it == slots->end()) continue;
    for (int i = it->second; i < node.input_size(); ++i) {
      names.insert(node.input(i));
    }
  }
  return names;
}

// One data set: import (binding the import-time inputs), run, compare.
absl::Status RunDataSet(const fs::path& dir, const fs::path& set,
                        const ::onnx::ModelProto& model, Backend backend) {
  std::set<std::string> inits;
  for (const auto& i : model.graph().initializer()) inits.insert(i.name());
  const std::set<std::string> at_import = ImportTimeInputs(model);
  OnnxImportOptions options;
  std::map<std::string, Tensor> feeds;
  int k = 0;
  for (const auto& in : model.graph().input()) {
    if (inits.count(in.name())) continue;
    ASSIGN_OR_RETURN(Tensor t,
                     ReadTensor(set / absl::StrCat("input_", k++, ".pb")));
    (at_import.count(in.name()) ? options.bound_inputs : feeds)[in.name()] = t;
  }
  ASSIGN_OR_RETURN(Graph graph,
                   ImportOnnxFile((dir / "model.onnx").string(), options));
  std::vector<std::string> fetches(graph.output().begin(),
                                   graph.output().end());
  LoadedGraph loaded;
  loaded.graph = std::move(graph);
  ASSIGN_OR_RETURN(ValidGraph valid, ValidateGraph(std::move(loaded)));
  ExecutorOptions eo;
  eo.backend = backend;
  ASSIGN_OR_RETURN(auto exec, Executor::Create(std::move(valid), eo));
  ASSIGN_OR_RETURN(std::vector<Tensor> got, exec->Run(feeds, fetches));
  for (size_t k = 0; k < fetches.size(); ++k) {
    ASSIGN_OR_RETURN(Tensor want,
                     ReadTensor(set / absl::StrCat("output_", k, ".pb")));
    RETURN_IF_ERROR(
        Compare(got[k], want,
                absl::StrCat(set.filename().string(), " output ", fetches[k])));
  }
  return absl::OkStatus();
}

absl::Status RunCase(const fs::path& dir, const ::onnx::ModelProto& model,
                     Backend backend) {
  int sets = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind("test_data_set_", 0) != 0) {
      continue;
    }
    ++sets;
    RETURN_IF_ERROR(RunDataSet(dir, entry.path(), model, backend));
  }
  if (sets == 0) return absl::NotFoundError("no test_data_set_*");
  return absl::OkStatus();
}

// Tests that fail on oneDNN only (the reference backend runs them).
const std::set<std::string>& OneDnnSkips() {
  static const auto* skips = new std::set<std::string>{
      // oneDNN's eltwise log gives log(1) = -1.4e-6, beyond atol 1e-7
      // (log(10) is 1.3e-6 off, within rtol).
      "test_log_example",
  };
  return *skips;
}

struct Tally {
  int passed = 0, skipped = 0, total = 0;
};

TEST(OnnxConformanceTest, EveryTestOfAnImportedOpPasses) {
  ASSERT_TRUE(fs::is_directory(kNodeTests))
      << kNodeTests << " is missing: ./dev installs libonnx-testdata";
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kNodeTests)) {
    dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  std::map<std::string, Tally> by_op;
  std::vector<std::string> failures;
  std::set<std::string> imported_tests;
  int not_imported = 0;
  for (const auto& dir : dirs) {
    const std::string name = dir.filename().string();
    ::onnx::ModelProto model;
    ASSERT_TRUE(model.ParseFromString(ReadBytes(dir / "model.onnx"))) << name;
    if (!Imported(model)) {
      ++not_imported;
      continue;
    }
    imported_tests.insert(name);
    Tally& t = by_op[TestOp(name, model)];
    ++t.total;
    if (Skips().count(name)) {
      ++t.skipped;
      continue;
    }
    // Passed: on the reference backend and on oneDNN (the default).
    bool ok = true;
    for (Backend b : {Backend::kReference, Backend::kOneDnn}) {
      if (b == Backend::kOneDnn && OneDnnSkips().count(name)) continue;
      absl::Status s = RunCase(dir, model, b);
      if (!s.ok()) {
        ok = false;
        failures.push_back(absl::StrCat(
            name, b == Backend::kOneDnn ? " (onednn): " : " (reference): ",
            s.message()));
      }
    }
    t.passed += ok;
  }
  std::printf("| op | passed | skipped | tests |\n|---|---|---|---|\n");
  Tally all;
  for (const auto& [op, t] : by_op) {
    std::printf("| %s | %d | %d | %d |\n", op.c_str(), t.passed, t.skipped,
                t.total);
    all.passed += t.passed;
    all.skipped += t.skipped;
    all.total += t.total;
  }
  std::printf("| all | %d | %d | %d |\n", all.passed, all.skipped, all.total);
  std::printf("%d of %zu node tests use an op rill does not import\n",
              not_imported, dirs.size());
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed:\n"
                                << absl::StrJoin(failures, "\n");
  for (const auto& name : OneDnnSkips()) {
    EXPECT_TRUE(imported_tests.count(name) && !Skips().count(name))
        << "stale oneDNN skip " << name;
  }
  for (const auto& [name, why] : Skips()) {
    EXPECT_TRUE(imported_tests.count(name))
        << "stale skip " << name << ": not a test of imported ops";
  }
}

}  // namespace
}  // namespace rill
