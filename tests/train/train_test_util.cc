#include "tests/train/train_test_util.h"

#include <numeric>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

void WidenNode(Node& node) {
  auto& attrs = *node.mutable_attr();
  if (node.op() == "Input" && attrs["dtype"].type() == DT_FLOAT) {
    attrs["dtype"].set_type(DT_DOUBLE);
  }
  if (node.op() != "Parameter") return;
  TensorProto& t = *attrs["value"].mutable_tensor();
  if (t.dtype() != DT_FLOAT) return;
  t.set_dtype(DT_DOUBLE);
  for (float v : t.float_val()) t.add_double_val(v);
  t.clear_float_val();
}

absl::Status WidenData(Dataset& data) {
  for (DataArray& array : data.arrays) {
    if (array.dtype() != DType::kF32) continue;
    ASSIGN_OR_RETURN(Tensor narrow,
                     Tensor::Allocate(DType::kF32, array.shape()));
    std::vector<int64_t> rows(array.shape().dim(0));
    std::iota(rows.begin(), rows.end(), 0);
    RETURN_IF_ERROR(array.Gather(rows.data(), rows.size(), narrow));
    ASSIGN_OR_RETURN(Tensor wide, Tensor::Allocate(DType::kF64, array.shape()));
    for (int64_t k = 0; k < narrow.num_elements(); ++k) {
      wide.data<double>()[k] = narrow.data<float>()[k];
    }
    array = DataArray(std::move(wide));
  }
  data.sources.clear();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TrainSetup> WidenToF64(TrainSetup setup) {
  const int64_t budget = setup.graph.memory_budget();
  LoadedGraph loaded = std::move(setup.graph).Release().first;
  for (Node& node : *loaded.graph.mutable_node()) WidenNode(node);
  ValidateOptions options;
  options.memory_budget = budget;
  ASSIGN_OR_RETURN(setup.graph, ValidateGraph(std::move(loaded), options));
  RETURN_IF_ERROR(WidenData(setup.data.train));
  RETURN_IF_ERROR(WidenData(setup.data.validation));
  return setup;
}

Checkpoint TrainAndSave(Trainer& t, int steps, const std::string& name) {
  for (int i = 0; i < steps; ++i) {
    auto r = t.Step();
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) break;
  }
  const std::string path = TestTempPath(name);
  EXPECT_TRUE(t.Save(path).ok());
  auto c = ReadCheckpoint(path);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : Checkpoint{};
}

}  // namespace rill
