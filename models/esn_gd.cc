#include "models/esn_gd.h"

#include "absl/strings/str_cat.h"
#include "core/tensor_proto.h"
#include "graph/validate.h"
#include "train/trainer.h"

namespace rill {
namespace {

absl::StatusOr<Tensor> ToF32(const EsnMatrix& m) {
  ASSIGN_OR_RETURN(Tensor t,
                   Tensor::Allocate(DType::kF32, Shape{m.rows(), m.cols()}));
  for (int64_t i = 0; i < m.size(); ++i) {
    t.data<float>()[i] = static_cast<float>(m.data()[i]);
  }
  return t;
}

Node* AddOp(Graph& g, const std::string& name, const std::string& op,
            const std::vector<std::string>& inputs) {
  Node* n = g.add_node();
  n->set_name(name);
  n->set_op(op);
  for (const std::string& in : inputs) n->add_input(in);
  return n;
}

void AddF32Input(Graph& g, const std::string& name, int64_t width) {
  Node* n = AddOp(g, name, "Input", {});
  (*n->mutable_attr())["dtype"].set_type(DT_FLOAT);
  ShapeProto* shape = (*n->mutable_attr())["shape"].mutable_shape();
  shape->add_dim(-1);
  shape->add_dim(width);
}

// y = z . w, loss = mean((y - target)^2); w starts at zero.
absl::StatusOr<ValidGraph> ReadoutGraph(int64_t features, int64_t outputs) {
  Graph g;
  AddF32Input(g, "z", features);
  AddF32Input(g, "target", outputs);
  ASSIGN_OR_RETURN(Tensor w,
                   Tensor::Allocate(DType::kF32, Shape{features, outputs}));
  *(*AddOp(g, "w", "Parameter", {})->mutable_attr())["value"].mutable_tensor() =
      TensorToProto(w);
  AddOp(g, "y", "MatMul", {"z", "w"});
  AddOp(g, "loss", "MeanSquaredError", {"y", "target"});
  return ValidateGraph(LoadedGraph{std::move(g), {}});
}

}  // namespace

absl::Status FitReadoutByGradientDescent(Esn& esn, const EsnMatrix& u,
                                         const EsnMatrix& y) {
  const EsnConfig& c = esn.config();
  int64_t warmup = c.warmup();
  if (u.rows() != y.rows() || u.rows() <= warmup) {
    return absl::InvalidArgumentError(
        absl::StrCat("ESN gradient-descent readout: ", u.rows(), " inputs, ",
                     y.rows(), " targets, warm-up ", warmup));
  }
  EsnVector x = EsnVector::Zero(esn.reservoir().units());
  ASSIGN_OR_RETURN(EsnMatrix states, esn.reservoir().Collect(u, &x));
  int64_t rows = u.rows() - warmup;
  EsnMatrix z(rows, 1 + u.cols() + states.cols());
  z.col(0).setOnes();
  z.middleCols(1, u.cols()) = u.bottomRows(rows);
  z.rightCols(states.cols()) = states.bottomRows(rows);
  ASSIGN_OR_RETURN(ValidGraph graph, ReadoutGraph(z.cols(), y.cols()));
  TrainData data;
  data.train.inputs = {"z", "target"};
  ASSIGN_OR_RETURN(Tensor z32, ToF32(z));
  ASSIGN_OR_RETURN(Tensor y32, ToF32(y.bottomRows(rows)));
  data.train.arrays.push_back(std::move(z32));
  data.train.arrays.push_back(std::move(y32));
  TrainOptions options;
  TrainConfig& train = options.config;
  train.set_loss("loss");
  train.set_batch_size(std::min<int64_t>(c.gd_batch_size(), rows));
  train.set_shuffle(true);
  train.set_seed(c.seed());
  train.set_steps(c.gd_steps());
  train.mutable_optimizer()->set_learning_rate(c.gd_learning_rate());
  train.mutable_optimizer()->mutable_adam();
  options.backend = Backend::kReference;  // Small, exact, no threads.
  options.log = [](const std::string&) {};
  ASSIGN_OR_RETURN(
      std::unique_ptr<Trainer> trainer,
      Trainer::Create(std::move(graph), std::move(data), std::move(options)));
  RETURN_IF_ERROR(trainer->Run().status());
  const Tensor& w = *trainer->executor().mutable_value("w");
  EsnMatrix w_out(y.cols(), z.cols());
  for (int64_t f = 0; f < z.cols(); ++f) {
    for (int64_t o = 0; o < y.cols(); ++o) {
      w_out(o, f) = w.data<float>()[f * y.cols() + o];
    }
  }
  return esn.SetReadout(std::move(w_out));
}

}  // namespace rill
