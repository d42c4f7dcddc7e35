#include "models/esn_gd.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "core/npy.h"
#include "train/trainer.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

absl::Status WriteF32(const std::string& path, const EsnMatrix& m) {
  ASSIGN_OR_RETURN(Tensor t,
                   Tensor::Allocate(DType::kF32, Shape{m.rows(), m.cols()}));
  for (int64_t i = 0; i < m.size(); ++i) {
    t.data<float>()[i] = static_cast<float>(m.data()[i]);
  }
  return WriteNpy(path, t);
}

// y = z . w, loss = mean((y - target)^2); w starts at zero.
std::string ReadoutGraph(int64_t features, int64_t outputs) {
  std::string zeros;
  for (int64_t i = 0; i < features * outputs; ++i) {
    absl::StrAppend(&zeros, i == 0 ? "" : ", ", "0");
  }
  auto input = [](const char* name, int64_t width) {
    return absl::StrCat(
        "node { name: \"", name,
        "\" op: \"Input\" attr { key: \"dtype\" value { type: DT_FLOAT } } "
        "attr { key: \"shape\" value { shape { dim: -1 dim: ",
        width, " } } } }\n");
  };
  return absl::StrCat(
      input("z", features), input("target", outputs),
      "node { name: \"w\" op: \"Parameter\" attr { key: \"value\" value { "
      "tensor { dtype: DT_FLOAT dims: ",
      features, " dims: ", outputs, " float_val: [", zeros, "] } } } }\n",
      "node { name: \"y\" op: \"MatMul\" input: \"z\" input: \"w\" }\n"
      "node { name: \"loss\" op: \"MeanSquaredError\" input: \"y\" input: "
      "\"target\" }\n");
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
  // The trainer reads its data from files: a private directory.
  std::string dir = (fs::temp_directory_path() / "rill-esn-gd-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::UnavailableError("cannot create a temporary directory");
  }
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  RETURN_IF_ERROR(WriteF32(dir + "/z.npy", z));
  RETURN_IF_ERROR(WriteF32(dir + "/y.npy", y.bottomRows(rows)));
  std::ofstream(dir + "/readout.pbtxt") << ReadoutGraph(z.cols(), y.cols());
  TrainConfig train;
  train.set_graph("readout.pbtxt");
  train.set_loss("loss");
  DataBinding* zb = train.add_data();
  zb->set_input("z");
  zb->set_file("z.npy");
  DataBinding* yb = train.add_data();
  yb->set_input("target");
  yb->set_file("y.npy");
  train.set_batch_size(std::min<int64_t>(c.gd_batch_size(), rows));
  train.set_shuffle(true);
  train.set_seed(c.seed());
  train.set_steps(c.gd_steps());
  train.mutable_optimizer()->set_learning_rate(c.gd_learning_rate());
  train.mutable_optimizer()->mutable_adam();
  TrainerOptions options;
  options.backend = Backend::kReference;  // Small, exact, no threads.
  options.log = [](const std::string&) {};
  ASSIGN_OR_RETURN(std::unique_ptr<Trainer> trainer,
                   Trainer::Create(train, dir, options));
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
