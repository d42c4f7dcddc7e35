// libFuzzer target for TrainConfig (proto/train.proto) up to the first
// training step: the text parse LoadTrainConfig makes, CreateTrainer
// (config/train_config.h) in a fixed directory of small graphs, specs and data
// (written once, at the first input), and one Step() when Create succeeds. Any
// input must train one step or fail with a status; never crash, hang or abort.
// Errors of the parse name the config first; a step's loss is finite (a
// non-finite one is a status). Seeds: corpus/train_config/.
//
// The directory holds:
//   mlp.pbtxt          examples/regression.pbtxt: x f32[?, 2], target f32[?, 1]
//   *.spec.pbtxt       from train_data/: a GRU regressor, an LSTM classifier
//                      and a tiny seq2seq (see each for its inputs)
//   x.npy y.npy seq.npy xs.npy labels.npy src.npy tgt_in.npy tgt_out.npy
//   (48 examples each)

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "config/train_config.h"
#include "core/npy.h"
#include "google/protobuf/stubs/logging.h"

namespace {

constexpr int64_t kExamples = 48;
constexpr size_t kMaxMessageBytes = 4096;

// The graph and specs, copied from the source tree: the working directory
// is the workspace root (./dev fuzz) or the test's runfiles.
constexpr char kSourceFiles[][2][40] = {
    {"examples/regression.pbtxt", "mlp.pbtxt"},
    {"tests/fuzz/train_data/rnn.spec.pbtxt", "rnn.spec.pbtxt"},
    {"tests/fuzz/train_data/cls.spec.pbtxt", "cls.spec.pbtxt"},
    {"tests/fuzz/train_data/s2s.spec.pbtxt", "s2s.spec.pbtxt"},
};

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
  for (const auto& [from, to] : kSourceFiles) {
    std::error_code ec;
    std::filesystem::copy_file(from, dir + "/" + to, ec);
    if (ec) {
      std::fprintf(stderr, "cannot copy %s: %s\n", from, ec.message().c_str());
      std::abort();
    }
  }
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
      rill::ParseTrainConfig(text, "train.pbtxt");
  if (!config.ok()) {
    if (!absl::StartsWith(config.status().message(), "train.pbtxt")) {
      __builtin_trap();
    }
    return 0;
  }
  rill::TrainOptions options;
  options.log = [](const std::string&) {};
  rill::TrainSetupOptions setup;
  setup.threads = 1;  // Two cores, shared: kernels on one thread.
  absl::StatusOr<std::unique_ptr<rill::Trainer>> trainer =
      rill::CreateTrainer(*config, dir.path, options, setup);
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
