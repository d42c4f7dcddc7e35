#include "tests/graph/grad_check.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "graph/autodiff.h"
#include "graph/validate.h"

namespace rill {
namespace {

// Gradients are checked as training computes them: Dropout drops.
ExecutorOptions TrainingMode(Backend backend) {
  ExecutorOptions options;
  options.backend = backend;
  options.training = true;
  return options;
}

absl::StatusOr<std::unique_ptr<Executor>> Compile(LoadedGraph graph,
                                                  Backend backend) {
  ASSIGN_OR_RETURN(ValidGraph valid, ValidateGraph(std::move(graph)));
  return Executor::Create(std::move(valid), TrainingMode(backend));
}

absl::StatusOr<double> Loss(const Graph& forward, const std::string& loss,
                            const std::map<std::string, Tensor>& feeds) {
  ASSIGN_OR_RETURN(auto ex, Compile({forward, {}}, Backend::kReference));
  ASSIGN_OR_RETURN(std::vector<Tensor> out, ex->Run(feeds, {loss}));
  return out[0].ElementAsDouble(0);
}

}  // namespace

Tensor ConvertFloat(const Tensor& t, DType dtype) {
  Tensor out = *Tensor::Allocate(dtype, t.shape());
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    double v = t.ElementAsDouble(i);
    if (dtype == DType::kF64) {
      out.data<double>()[i] = v;
    } else {
      out.data<float>()[i] = static_cast<float>(v);
    }
  }
  return out;
}

absl::StatusOr<std::vector<Tensor>> AnalyticGradients(
    const Graph& forward, const std::string& loss,
    const std::vector<std::string>& wrt,
    const std::map<std::string, Tensor>& feeds, Backend backend) {
  ASSIGN_OR_RETURN(ValidGraph valid, ValidateGraph({forward, {}}));
  GradientRequest request;
  request.losses = {loss};
  request.wrt = wrt;
  ASSIGN_OR_RETURN(GradientGraph grad, BuildGradientGraph(valid, request));
  ASSIGN_OR_RETURN(
      auto ex, Executor::Create(std::move(grad.graph), TrainingMode(backend)));
  return ex->Run(feeds, grad.gradients);
}

absl::StatusOr<std::vector<Tensor>> NumericGradients(
    const Graph& forward, const std::string& loss,
    const std::vector<std::string>& wrt,
    const std::map<std::string, Tensor>& feeds, double h) {
  std::vector<Tensor> grads;
  for (const std::string& name : wrt) {
    auto it = feeds.find(name);
    if (it == feeds.end() || it->second.dtype() != DType::kF64) {
      return absl::InvalidArgumentError(
          absl::StrCat("wrt '", name, "' needs an f64 feed"));
    }
    Tensor grad = *Tensor::Allocate(DType::kF64, it->second.shape());
    for (int64_t i = 0; i < grad.num_elements(); ++i) {
      double f[4];
      const double steps[4] = {-2 * h, -h, h, 2 * h};
      for (int s = 0; s < 4; ++s) {
        std::map<std::string, Tensor> moved = feeds;
        Tensor x = *it->second.Clone();
        x.data<double>()[i] += steps[s];
        moved[name] = x;
        ASSIGN_OR_RETURN(f[s], Loss(forward, loss, moved));
      }
      grad.data<double>()[i] = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h);
    }
    grads.push_back(grad);
  }
  return grads;
}

absl::StatusOr<GradCheck> CompareGradients(const std::vector<Tensor>& analytic,
                                           const std::vector<Tensor>& numeric,
                                           const std::vector<std::string>& wrt,
                                           double floor) {
  GradCheck check;
  for (size_t k = 0; k < wrt.size(); ++k) {
    if (analytic[k].shape() != numeric[k].shape()) {
      return absl::InternalError(absl::StrCat(
          "gradient of ", wrt[k], " has shape ", analytic[k].shape().ToString(),
          ", expected ", numeric[k].shape().ToString()));
    }
    for (int64_t i = 0; i < numeric[k].num_elements(); ++i) {
      double a = analytic[k].ElementAsDouble(i);
      double n = numeric[k].ElementAsDouble(i);
      double err =
          std::abs(a - n) / std::max({std::abs(a), std::abs(n), floor});
      if (!(err <= check.max_error)) {  // NaN counts as the worst.
        check.max_error = std::isnan(err) ? INFINITY : err;
        check.worst =
            absl::StrCat(wrt[k], "[", i, "]: analytic ", a, ", numeric ", n);
      }
    }
  }
  return check;
}

absl::StatusOr<GradCheck> CheckGradients(
    const Graph& forward, const std::string& loss,
    const std::vector<std::string>& wrt,
    const std::map<std::string, Tensor>& feeds) {
  ASSIGN_OR_RETURN(
      std::vector<Tensor> analytic,
      AnalyticGradients(forward, loss, wrt, feeds, Backend::kReference));
  ASSIGN_OR_RETURN(std::vector<Tensor> numeric,
                   NumericGradients(forward, loss, wrt, feeds));
  return CompareGradients(analytic, numeric, wrt);
}

}  // namespace rill
