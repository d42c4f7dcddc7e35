#ifndef RILL_TRAIN_OPTIMIZER_H_
#define RILL_TRAIN_OPTIMIZER_H_

// The optimizers of proto/train.proto's `Optimizer`, computing exactly what
// PyTorch's torch.optim.SGD (dampening 0), Adam and AdamW compute: the same
// f32 element operations in the same order, with the per-step scalars
// (bias corrections, step size) in double and rounded to f32 where PyTorch
// rounds them. tests/train/make_optim_goldens.py holds the reference runs.
//
// The C++ class is ParameterOptimizer because the proto message already
// takes the name rill::Optimizer.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/shape.h"
#include "core/status.h"
#include "core/tensor.h"
#include "proto/train.pb.h"

namespace rill {

class ParameterOptimizer {
 public:
  // Validates `config` (errors name the field: "optimizer.adam.beta1 = 1.5:
  // must be in [0, 1)") and allocates all state up front. `names` and
  // `shapes` describe the parameters, in the order Step() receives them;
  // names must be unique and non-empty, shapes fully defined. Each AdamW
  // `no_decay` pattern must match at least one name (a typo would otherwise
  // silently decay what it meant to exempt). `dtype`, f32 or f64, is that
  // of every parameter, gradient and state tensor: f64 runs the same
  // element operations in double (the f64 goldens are PyTorch's in f64).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ParameterOptimizer>>
  Create(const Optimizer& config, std::vector<std::string> names,
         std::vector<Shape> shapes, DType dtype = DType::kF32);

  // One update of every parameter in place, with learning rate `lr` (the
  // schedule's value for this update; finite and >= 0). Parameters and
  // gradients are tensors of the dtype and shapes given to Create. Makes no
  // heap allocation unless it fails; on an error nothing has been updated.
  [[nodiscard]] absl::Status Step(const std::vector<Tensor*>& params,
                                  const std::vector<const Tensor*>& grads,
                                  double lr);

  // The state a checkpoint must hold, besides steps_taken(), for a restored
  // optimizer to continue bitwise identically: "<param>/momentum" (SGD with
  // momentum), or "<param>/m" and "<param>/v" (Adam, AdamW), in parameter
  // order. The pointers are to the optimizer's own tensors: read them to
  // save, overwrite their contents to restore. Plain SGD has none.
  std::vector<std::pair<std::string, Tensor*>> StateTensors();

  // Updates made so far (Adam's bias correction uses it).
  int64_t steps_taken() const { return steps_taken_; }
  // For restoring a checkpoint; `steps` >= 0.
  [[nodiscard]] absl::Status set_steps_taken(int64_t steps);

  const std::vector<std::string>& names() const { return names_; }

 private:
  enum class Kind { kSgd, kAdam, kAdamW };
  struct Hyper {
    Kind kind = Kind::kSgd;
    double momentum = 0;
    bool nesterov = false;
    double beta1 = 0, beta2 = 0, epsilon = 0;
    double weight_decay = 0;
  };
  struct Slot {
    Shape shape;
    bool decay = false;  // AdamW: not exempted by a no_decay pattern.
    Tensor first;        // SGD momentum buffer, or Adam's m.
    Tensor second;       // Adam's v.
  };

  ParameterOptimizer(Hyper hyper, DType dtype, std::vector<std::string> names,
                     std::vector<Slot> slots)
      : hyper_(hyper),
        dtype_(dtype),
        names_(std::move(names)),
        slots_(std::move(slots)) {}

  absl::Status CheckStep(const std::vector<Tensor*>& params,
                         const std::vector<const Tensor*>& grads,
                         double lr) const;
  // T is float or double.
  template <typename T>
  void StepAll(const std::vector<Tensor*>& params,
               const std::vector<const Tensor*>& grads, double lr);
  template <typename T>
  void SgdStep(Slot& slot, T* p, const T* g, int64_t n, double lr);
  template <typename T>
  void AdamStep(Slot& slot, T* p, const T* g, int64_t n, double lr);

  Hyper hyper_;
  DType dtype_;
  std::vector<std::string> names_;
  std::vector<Slot> slots_;
  int64_t steps_taken_ = 0;
};

}  // namespace rill

#endif  // RILL_TRAIN_OPTIMIZER_H_
