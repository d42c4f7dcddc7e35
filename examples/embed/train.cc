// Training through the C++ API: train the sine MLP for a few hundred
// steps, save a checkpoint, load it into a fresh executor of the forward
// graph, and predict. Usage: train [CHECKPOINT_PATH]
#include <cmath>
#include <cstdio>
#include <string>

#include "config/train_config.h"
#include "core/checkpoint.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "runtime/executor.h"

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "%s\n", s.ToString().c_str());
  return 1;
}

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : "sine.rckpt";
  absl::StatusOr<rill::TrainConfig> config =
      rill::LoadTrainConfig("examples/train/sine_mlp.train.pbtxt");
  if (!config.ok()) return Fail(config.status());
  config->set_steps(300);
  config->set_threads(1);  // The same losses on every machine with this CPU.
  rill::TrainOptions options;
  options.log = [](const std::string&) {};  // Quiet: we print our own.
  absl::StatusOr<std::unique_ptr<rill::Trainer>> trainer =
      rill::CreateTrainer(*config, "examples/train", options);
  if (!trainer.ok()) return Fail(trainer.status());
  for (int step = 1; step <= 300; ++step) {
    absl::StatusOr<rill::StepResult> r = (*trainer)->Step();
    if (!r.ok()) return Fail(r.status());
    if (step % 100 == 0) std::printf("step %d: loss %.3f\n", step, r->loss);
  }
  if (absl::Status s = (*trainer)->Save(path); !s.ok()) return Fail(s);

  // Inference elsewhere: the forward graph, with the checkpoint's values.
  absl::StatusOr<rill::Checkpoint> ckpt = rill::ReadCheckpoint(path);
  if (!ckpt.ok()) return Fail(ckpt.status());
  absl::StatusOr<rill::LoadedGraph> loaded =
      rill::LoadGraphFile("examples/train/sine_mlp.pbtxt");
  if (!loaded.ok()) return Fail(loaded.status());
  absl::StatusOr<rill::ValidGraph> graph =
      rill::ValidateGraph(*std::move(loaded));
  if (!graph.ok()) return Fail(graph.status());
  absl::StatusOr<std::unique_ptr<rill::Executor>> model =
      rill::Executor::Create(*std::move(graph));
  if (!model.ok()) return Fail(model.status());
  // The parameters only, not the optimizer's state.
  for (const auto& [name, value] : rill::CheckpointParameters(*ckpt)) {
    rill::Tensor* param = (*model)->mutable_value(name);
    if (param == nullptr || param->shape() != value->shape()) {
      return Fail(absl::InvalidArgumentError(name + ": not in this graph"));
    }
    std::copy_n(value->data<float>(), value->num_elements(),
                param->data<float>());
  }
  rill::Tensor x = *rill::Tensor::Allocate(rill::DType::kF32, {2, 2});
  const float points[4] = {0.5f, 0.0f, -1.0f, 1.0f};
  std::copy_n(points, 4, x.data<float>());
  // The loss needs a target too; the prediction is the last layer's output.
  absl::StatusOr<std::vector<rill::Tensor>> y =
      (*model)->Run({{"x", x}}, {"layer2/pre"});
  if (!y.ok()) return Fail(y.status());
  for (int i = 0; i < 2; ++i) {
    float x0 = points[2 * i], x1 = points[2 * i + 1];
    std::printf("f(%.1f, %.1f) = %.2f (true %.2f)\n", x0, x1,
                (*y)[0].data<float>()[i], std::sin(2 * x0) * std::cos(x1));
  }
  return 0;
}
