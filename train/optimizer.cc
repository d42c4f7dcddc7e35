#include "train/optimizer.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "train/freeze.h"

namespace rill {
namespace {

// A NaN fails every comparison, so each check is written to reject it.
absl::Status CheckPositive(const std::string& field, double value) {
  if (std::isfinite(value) && value > 0) return absl::OkStatus();
  return FieldError(field, value, "must be a finite number > 0");
}

absl::Status CheckUnitInterval(const std::string& field, double value) {
  if (value >= 0 && value < 1) return absl::OkStatus();
  return FieldError(field, value, "must be in [0, 1)");
}

// proto3 cannot tell an unset field from 0, so 0 stands for the default.
double OrDefault(double value, double fallback) {
  return value == 0 ? fallback : value;
}

absl::Status ReadAdam(const Adam& adam, const std::string& prefix,
                      double* beta1, double* beta2, double* epsilon) {
  *beta1 = OrDefault(adam.beta1(), 0.9);
  *beta2 = OrDefault(adam.beta2(), 0.999);
  *epsilon = OrDefault(adam.epsilon(), 1e-8);
  RETURN_IF_ERROR(CheckUnitInterval(prefix + ".beta1", *beta1));
  RETURN_IF_ERROR(CheckUnitInterval(prefix + ".beta2", *beta2));
  return CheckPositive(prefix + ".epsilon", *epsilon);
}

absl::Status ReadSgd(const Sgd& sgd, double* momentum, bool* nesterov) {
  *momentum = sgd.momentum();
  *nesterov = sgd.nesterov();
  RETURN_IF_ERROR(CheckUnitInterval("optimizer.sgd.momentum", *momentum));
  if (*nesterov && *momentum == 0) {
    return absl::InvalidArgumentError(
        "optimizer.sgd.nesterov = true: needs optimizer.sgd.momentum > 0");
  }
  return absl::OkStatus();
}

absl::Status CheckParameters(const std::vector<std::string>& names,
                             const std::vector<Shape>& shapes) {
  if (names.size() != shapes.size()) {
    return absl::InvalidArgumentError(absl::StrCat("optimizer: ", names.size(),
                                                   " parameter names but ",
                                                   shapes.size(), " shapes"));
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer: parameter ", i, " has an empty name"));
    }
    if (!seen.insert(names[i]).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer: parameter '", names[i], "' given twice"));
    }
    RETURN_IF_ERROR(Annotate(shapes[i].NumElements().status(),
                             "optimizer: parameter '" + names[i] + "' shape " +
                                 shapes[i].ToString()));
  }
  return absl::OkStatus();
}

// Whether each name escapes weight decay; every pattern must match a name.
absl::StatusOr<std::vector<bool>> MatchNoDecay(
    const AdamW& adamw, const std::vector<std::string>& names) {
  ASSIGN_OR_RETURN(
      PatternMatch match,
      MatchPatterns(adamw.no_decay(), "optimizer.adamw.no_decay", names));
  if (!match.unmatched.empty()) {
    return absl::InvalidArgumentError(match.unmatched.front());
  }
  return match.matched;
}

absl::StatusOr<Tensor> AllocateState(const std::string& name,
                                     const Shape& shape, DType dtype) {
  absl::StatusOr<Tensor> t = Tensor::Allocate(dtype, shape);
  if (t.ok()) return t;
  return Annotate(t.status(), "optimizer state of '" + name + "'");
}

bool Fits(const Tensor* t, DType dtype, const Shape& shape) {
  return t != nullptr && t->valid() && t->dtype() == dtype &&
         t->shape() == shape;
}

// Built only on failure: a step allocates nothing when all is well.
absl::Status StepTensorError(const std::string& name, const char* role,
                             const Tensor* t, DType dtype, const Shape& shape) {
  const std::string got = t == nullptr || !t->valid()
                              ? std::string("no tensor")
                              : DTypeName(t->dtype()) + t->shape().ToString();
  return absl::InvalidArgumentError(
      absl::StrCat("optimizer step: parameter '", name, "'", role, ": want ",
                   DTypeName(dtype), shape.ToString(), ", got ", got));
}

// a * b + c rounded once. PyTorch's AVX2 kernels fuse `add(x, alpha=a)` and
// addcmul this way, and rill follows so that runs agree bit for bit; a fused
// multiply-add is also the more accurate. glibc's fma and fmaf are exact
// everywhere, using the FMA instruction where the CPU has one.
template <typename T>
inline T MulAdd(T a, T b, T c) {
  return std::fma(a, b, c);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ParameterOptimizer>> ParameterOptimizer::Create(
    const Optimizer& config, std::vector<std::string> names,
    std::vector<Shape> shapes, DType dtype) {
  RETURN_IF_ERROR(
      CheckPositive("optimizer.learning_rate", config.learning_rate()));
  if (dtype != DType::kF32 && dtype != DType::kF64) {
    return absl::InvalidArgumentError(
        absl::StrCat("optimizer: parameters of type ", DTypeName(dtype),
                     " (it updates f32 or f64 parameters)"));
  }
  RETURN_IF_ERROR(CheckParameters(names, shapes));
  Hyper hyper;
  std::vector<bool> exempt(names.size(), true);
  switch (config.kind_case()) {
    case Optimizer::kSgd:
      hyper.kind = Kind::kSgd;
      RETURN_IF_ERROR(ReadSgd(config.sgd(), &hyper.momentum, &hyper.nesterov));
      break;
    case Optimizer::kAdam:
      hyper.kind = Kind::kAdam;
      RETURN_IF_ERROR(ReadAdam(config.adam(), "optimizer.adam", &hyper.beta1,
                               &hyper.beta2, &hyper.epsilon));
      break;
    case Optimizer::kAdamw: {
      hyper.kind = Kind::kAdamW;
      RETURN_IF_ERROR(ReadAdam(config.adamw().adam(), "optimizer.adamw.adam",
                               &hyper.beta1, &hyper.beta2, &hyper.epsilon));
      hyper.weight_decay = OrDefault(config.adamw().weight_decay(), 0.01);
      if (!(std::isfinite(hyper.weight_decay) && hyper.weight_decay >= 0)) {
        return FieldError("optimizer.adamw.weight_decay", hyper.weight_decay,
                          "must be a finite number >= 0");
      }
      ASSIGN_OR_RETURN(exempt, MatchNoDecay(config.adamw(), names));
      break;
    }
    default:
      return absl::InvalidArgumentError(
          "optimizer: set one of sgd, adam or adamw");
  }
  const bool has_first = hyper.kind != Kind::kSgd || hyper.momentum != 0;
  const bool has_second = hyper.kind != Kind::kSgd;
  std::vector<Slot> slots(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    Slot& slot = slots[i];
    slot.shape = std::move(shapes[i]);
    slot.decay = !exempt[i];
    if (has_first) {
      ASSIGN_OR_RETURN(slot.first, AllocateState(names[i], slot.shape, dtype));
    }
    if (has_second) {
      ASSIGN_OR_RETURN(slot.second, AllocateState(names[i], slot.shape, dtype));
    }
  }
  return std::unique_ptr<ParameterOptimizer>(
      new ParameterOptimizer(hyper, dtype, std::move(names), std::move(slots)));
}

absl::Status ParameterOptimizer::CheckStep(
    const std::vector<Tensor*>& params, const std::vector<const Tensor*>& grads,
    double lr) const {
  if (!(std::isfinite(lr) && lr >= 0)) {
    return FieldError("optimizer step: learning rate", lr,
                      "must be a finite number >= 0");
  }
  if (params.size() != slots_.size() || grads.size() != slots_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "optimizer step: ", params.size(), " parameters and ", grads.size(),
        " gradients for an optimizer of ", slots_.size(), " parameters"));
  }
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Shape& shape = slots_[i].shape;
    if (!Fits(params[i], dtype_, shape)) {
      return StepTensorError(names_[i], "", params[i], dtype_, shape);
    }
    if (!Fits(grads[i], dtype_, shape)) {
      return StepTensorError(names_[i], " gradient", grads[i], dtype_, shape);
    }
  }
  return absl::OkStatus();
}

absl::Status ParameterOptimizer::Step(const std::vector<Tensor*>& params,
                                      const std::vector<const Tensor*>& grads,
                                      double lr) {
  RETURN_IF_ERROR(CheckStep(params, grads, lr));
  ++steps_taken_;
  if (dtype_ == DType::kF64) {
    StepAll<double>(params, grads, lr);
  } else {
    StepAll<float>(params, grads, lr);
  }
  return absl::OkStatus();
}

template <typename T>
void ParameterOptimizer::StepAll(const std::vector<Tensor*>& params,
                                 const std::vector<const Tensor*>& grads,
                                 double lr) {
  for (size_t i = 0; i < slots_.size(); ++i) {
    T* p = params[i]->data<T>();
    const T* g = grads[i]->data<T>();
    const int64_t n = params[i]->num_elements();
    if (hyper_.kind == Kind::kSgd) {
      SgdStep(slots_[i], p, g, n, lr);
    } else {
      AdamStep(slots_[i], p, g, n, lr);
    }
  }
}

// torch.optim.SGD: buf.mul_(momentum).add_(g); d = nesterov ? g.add(buf,
// alpha=momentum) : buf; p.add_(d, alpha=-lr). With a zero buffer the first
// step gives buf = g, as PyTorch's clone does.
template <typename T>
void ParameterOptimizer::SgdStep(Slot& slot, T* p, const T* g, int64_t n,
                                 double lr) {
  const T alpha = static_cast<T>(-lr);
  if (hyper_.momentum == 0) {
    for (int64_t j = 0; j < n; ++j) p[j] = MulAdd(g[j], alpha, p[j]);
    return;
  }
  const T momentum = static_cast<T>(hyper_.momentum);
  T* buf = slot.first.data<T>();
  for (int64_t j = 0; j < n; ++j) {
    buf[j] = buf[j] * momentum + g[j];  // add_(g) has alpha 1: nothing to fuse.
    const T d = hyper_.nesterov ? MulAdd(buf[j], momentum, g[j]) : buf[j];
    p[j] = MulAdd(d, alpha, p[j]);
  }
}

// torch.optim.Adam and AdamW (1.13, single-tensor path): m.mul_(beta1).add_(g,
// alpha=1-beta1); v.mul_(beta2).addcmul_(g, g, value=1-beta2); denom =
// v.sqrt() / sqrt(bc2) + eps; p.addcdiv_(m, denom, value=-lr/bc1). The
// scalars are computed in double and rounded to T where PyTorch passes
// them to a kernel of the parameters' type.
template <typename T>
void ParameterOptimizer::AdamStep(Slot& slot, T* p, const T* g, int64_t n,
                                  double lr) {
  const double step = static_cast<double>(steps_taken_);
  const double bias_correction1 = 1 - std::pow(hyper_.beta1, step);
  const double bias_correction2 = 1 - std::pow(hyper_.beta2, step);
  const T neg_step_size = static_cast<T>(-(lr / bias_correction1));
  const T bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
  const T beta1 = static_cast<T>(hyper_.beta1);
  const T beta2 = static_cast<T>(hyper_.beta2);
  const T one_minus_beta1 = static_cast<T>(1 - hyper_.beta1);
  const T one_minus_beta2 = static_cast<T>(1 - hyper_.beta2);
  const T epsilon = static_cast<T>(hyper_.epsilon);
  if (hyper_.kind == Kind::kAdamW && slot.decay) {
    // p -= lr * weight_decay * p, as PyTorch's p.mul_(1 - lr * wd).
    const T keep = static_cast<T>(1 - lr * hyper_.weight_decay);
    for (int64_t j = 0; j < n; ++j) p[j] = p[j] * keep;
  }
  T* m = slot.first.data<T>();
  T* v = slot.second.data<T>();
  for (int64_t j = 0; j < n; ++j) {
    m[j] = MulAdd(g[j], one_minus_beta1, m[j] * beta1);
    v[j] = MulAdd(one_minus_beta2 * g[j], g[j], v[j] * beta2);
    const T denom = std::sqrt(v[j]) / bias_correction2_sqrt + epsilon;
    p[j] = p[j] + neg_step_size * m[j] / denom;  // addcdiv: nothing fuses.
  }
}

std::vector<std::pair<std::string, Tensor*>>
ParameterOptimizer::StateTensors() {
  std::vector<std::pair<std::string, Tensor*>> state;
  const bool adam = hyper_.kind != Kind::kSgd;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i].first.valid()) continue;
    state.emplace_back(names_[i] + (adam ? "/m" : "/momentum"),
                       &slots_[i].first);
    if (adam) state.emplace_back(names_[i] + "/v", &slots_[i].second);
  }
  return state;
}

absl::Status ParameterOptimizer::set_steps_taken(int64_t steps) {
  if (steps < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("optimizer steps taken = ", steps, ": must be >= 0"));
  }
  steps_taken_ = steps;
  return absl::OkStatus();
}

}  // namespace rill
