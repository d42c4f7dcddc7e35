// libFuzzer target for TrainConfig (proto/train.proto) up to the first
// training step: the text parse Trainer::LoadConfig makes, Trainer::Create
// in a fixed directory of small graphs, specs and data (written once, at
// the first input), and one Step() when Create succeeds. Any input must
// train one step or fail with a status; never crash, hang or abort. Errors
// of the parse name the config first; a step's loss is finite (a non-finite
// one is a status). Seeds: corpus/train_config/.
//
// The directory holds:
//   mlp.pbtxt          x f32[?, 2], target f32[?, 1] -> loss (a tanh MLP)
//   rnn.spec.pbtxt     a GRU regressor: x f32[?, 4, 1], target f32[?, 1]
//   cls.spec.pbtxt     an LSTM classifier: x f32[?, 2, 2], labels i64[?]
//   s2s.spec.pbtxt     a tiny seq2seq: src, tgt_in, tgt_out i64[?, 3]
//   x.npy y.npy seq.npy xs.npy labels.npy src.npy tgt_in.npy tgt_out.npy
//   (48 examples each)

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "core/npy.h"
#include "google/protobuf/stubs/logging.h"
#include "train/trainer.h"

namespace {

constexpr int64_t kExamples = 48;
constexpr size_t kMaxMessageBytes = 4096;

constexpr char kMlp[] = R"pb(
  node {
    name: "x"
    op: "Input"
    attr {
      key: "dtype"
      value { type: DT_FLOAT }
    }
    attr {
      key: "shape"
      value { shape { dim: -1 dim: 2 } }
    }
  }
  node {
    name: "target"
    op: "Input"
    attr {
      key: "dtype"
      value { type: DT_FLOAT }
    }
    attr {
      key: "shape"
      value { shape { dim: -1 dim: 1 } }
    }
  }
  node {
    name: "w1"
    op: "Parameter"
    attr {
      key: "value"
      value {
        tensor {
          dtype: DT_FLOAT
          dims: 2
          dims: 3
          float_val: [ 0.5, -0.3, 0.8, 0.2, 0.6, -0.4 ]
        }
      }
    }
  }
  node {
    name: "b1"
    op: "Parameter"
    attr {
      key: "value"
      value {
        tensor {
          dtype: DT_FLOAT
          dims: 3
          float_val: [ 0, 0.1, -0.1 ]
        }
      }
    }
  }
  node {
    name: "w2"
    op: "Parameter"
    attr {
      key: "value"
      value {
        tensor {
          dtype: DT_FLOAT
          dims: 3
          dims: 1
          float_val: [ 0.7, -0.5, 0.3 ]
        }
      }
    }
  }
  node { name: "h_pre" op: "MatMul" input: "x" input: "w1" }
  node { name: "h_sum" op: "Add" input: "h_pre" input: "b1" }
  node { name: "h" op: "Tanh" input: "h_sum" }
  node { name: "y" op: "MatMul" input: "h" input: "w2" }
  node { name: "loss" op: "MeanSquaredError" input: "y" input: "target" }
  output: "loss"
)pb";

constexpr char kRnnSpec[] = R"pb(
  input { name: "x" features: 1 steps: 4 }
  recurrent { cell: "gru" hidden_size: 3 seed: 1 }
  head { outputs: 1 }
  loss { mse { target: "target" } }
)pb";

constexpr char kClsSpec[] = R"pb(
  input { name: "x" features: 2 steps: 2 }
  recurrent { cell: "lstm" hidden_size: 3 seed: 2 }
  head { outputs: 3 }
  loss { cross_entropy { labels: "labels" } }
)pb";

constexpr char kSeq2SeqSpec[] = R"pb(
  seq2seq {
    vocab_size: 8
    d_model: 4
    heads: 1
    ff: 8
    src_length: 3
    tgt_length: 3
    dropout: 0.1
    seed: 3
  }
)pb";

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// A deterministic array of `dims` (examples first): f32 values in [-1, 1],
// or i64 ids in [0, `ids`).
void WriteArray(const std::string& path, rill::DType dtype,
                std::vector<int64_t> dims, int64_t ids = 0) {
  absl::StatusOr<rill::Tensor> t =
      rill::Tensor::Allocate(dtype, rill::Shape(std::move(dims)));
  if (!t.ok()) std::abort();
  for (int64_t i = 0; i < t->num_elements(); ++i) {
    if (dtype == rill::DType::kF32) {
      t->data<float>()[i] = static_cast<float>(std::sin(0.37 * i));
    } else {
      t->data<int64_t>()[i] = (i * 5 + i / 3) % ids;
    }
  }
  if (!rill::WriteNpy(path, *t).ok()) std::abort();
}

std::string MakeDir() {
  std::string dir =
      (std::filesystem::temp_directory_path() / "rill-fuzz-train-XXXXXX")
          .string();
  if (mkdtemp(dir.data()) == nullptr) std::abort();
  Write(dir + "/mlp.pbtxt", kMlp);
  Write(dir + "/rnn.spec.pbtxt", kRnnSpec);
  Write(dir + "/cls.spec.pbtxt", kClsSpec);
  Write(dir + "/s2s.spec.pbtxt", kSeq2SeqSpec);
  using rill::DType;
  WriteArray(dir + "/x.npy", DType::kF32, {kExamples, 2});
  WriteArray(dir + "/y.npy", DType::kF32, {kExamples, 1});
  WriteArray(dir + "/seq.npy", DType::kF32, {kExamples, 4, 1});
  WriteArray(dir + "/xs.npy", DType::kF32, {kExamples, 2, 2});
  WriteArray(dir + "/labels.npy", DType::kI64, {kExamples}, 3);
  for (const char* name : {"src", "tgt_in", "tgt_out"}) {
    WriteArray(dir + "/" + name + ".npy", DType::kI64, {kExamples, 3}, 8);
  }
  return dir;
}

// Made at the first input; removed when the process ends normally.
struct DataDir {
  DataDir() {
    // The text parser logs each syntax error; the status is what we check.
    google::protobuf::SetLogHandler(nullptr);
  }
  std::string path = MakeDir();
  ~DataDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const DataDir dir;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<rill::TrainConfig> config =
      rill::Trainer::ParseConfig(text, "train.pbtxt");
  if (!config.ok()) {
    if (!absl::StartsWith(config.status().message(), "train.pbtxt")) {
      __builtin_trap();
    }
    return 0;
  }
  rill::TrainerOptions options;
  options.log = [](const std::string&) {};
  options.threads = 1;  // Two cores, shared: kernels on one thread.
  absl::StatusOr<std::unique_ptr<rill::Trainer>> trainer =
      rill::Trainer::Create(*config, dir.path, options);
  if (!trainer.ok()) {
    if (trainer.status().message().empty() ||
        trainer.status().message().size() > kMaxMessageBytes) {
      __builtin_trap();
    }
    return 0;
  }
  absl::StatusOr<rill::StepResult> step = (*trainer)->Step();
  if (step.ok() &&
      (!std::isfinite(step->loss) || !std::isfinite(step->grad_norm) ||
       (*trainer)->step() != 1)) {
    __builtin_trap();
  }
  return 0;
}
