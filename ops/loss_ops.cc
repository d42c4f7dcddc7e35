// Loss ops: SoftmaxCrossEntropy with integer labels, and MeanSquaredError.
// oneDNN has no primitive for them; both backends run the loops here. Sums
// accumulate in f64 for either dtype.

#include <algorithm>
#include <cmath>

#include "absl/strings/str_join.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

// ---- SoftmaxCrossEntropy ----

absl::Status SoftmaxCrossEntropyShape(InferenceContext& c) {
  if (c.num_inputs() > 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SoftmaxCrossEntropy takes 2 inputs (logits, labels) or 3 (logits, "
        "labels, weights), got ",
        c.num_inputs()));
  }
  const Shape& logits = c.input_shape(0);
  const Shape& labels = c.input_shape(1);
  if (logits.rank() == 0) {
    return absl::InvalidArgumentError(
        "'logits' must have rank >= 1 ([..., C]), got a scalar");
  }
  Shape rows(
      std::vector<int64_t>(logits.dims().begin(), logits.dims().end() - 1));
  if (!ShapesCompatible(labels, rows)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'labels' has shape ", labels.ToString(), " but 'logits' ",
                     logits.ToString(), " needs ", rows.ToString()));
  }
  if (c.num_inputs() == 3 && !ShapesCompatible(c.input_shape(2), rows)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'weights' has shape ", c.input_shape(2).ToString(), " but 'logits' ",
        logits.ToString(), " needs ", rows.ToString()));
  }
  const std::string& reduction = c.attrs().GetString("reduction");
  if (reduction != "mean" && reduction != "sum") {
    return absl::InvalidArgumentError(absl::StrCat(
        "attr 'reduction' = \"", reduction, "\"; choose \"mean\" or \"sum\""));
  }
  c.SetOutput(0, c.input_dtype(0), Shape());
  return absl::OkStatus();
}

template <typename T>
struct SoftmaxCrossEntropyKernel : OpKernel {
  explicit SoftmaxCrossEntropyKernel(const KernelArgs& a)
      : logits(a.inputs[0]),
        labels(a.inputs[1]),
        weights(a.inputs.size() > 2 ? a.inputs[2] : Tensor()),
        loss(a.outputs[0]),
        classes(logits.shape().dim(logits.shape().rank() - 1)),
        ignore_index(a.attrs.GetInt("ignore_index")),
        mean(a.attrs.GetString("reduction") == "mean") {}

  absl::Status Compute() override {
    return labels.dtype() == DType::kI32 ? Run<int32_t>() : Run<int64_t>();
  }

  template <typename I>
  absl::Status Run() {
    const I* label = labels.data<I>();
    const T* w = weights.valid() ? weights.data<T>() : nullptr;
    double total = 0, weight_sum = 0;
    for (int64_t r = 0; r < labels.num_elements(); ++r) {
      if (label[r] == ignore_index) continue;
      if (label[r] < 0 || label[r] >= classes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "labels", ElementPosition(r, labels.shape()), " = ", label[r],
            " is out of range for ", classes, " classes (valid: 0 to ",
            classes - 1, ", or ignore_index ", ignore_index, ")"));
      }
      double weight = w != nullptr ? w[r] : 1.0;
      total += weight * RowLoss(logits.data<T>() + r * classes, label[r]);
      weight_sum += weight;
    }
    if (mean) total = weight_sum == 0 ? 0 : total / weight_sum;
    *loss.data<T>() = static_cast<T>(total);
    return absl::OkStatus();
  }

  // -log_softmax(x)[label] = log(sum exp(x - max)) + max - x[label]: the
  // shift keeps exp() from overflowing.
  T RowLoss(const T* x, int64_t label) const {
    T max = *std::max_element(x, x + classes);
    T sum = 0;
    for (int64_t k = 0; k < classes; ++k) sum += std::exp(x[k] - max);
    return std::log(sum) + max - x[label];
  }

  Tensor logits, labels, weights, loss;
  int64_t classes;
  int64_t ignore_index;
  bool mean;
};

// ---- MeanSquaredError ----

absl::Status MeanSquaredErrorShape(InferenceContext& c) {
  if (!ShapesCompatible(c.input_shape(0), c.input_shape(1))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'prediction' ", c.input_shape(0).ToString(), " and 'target' ",
        c.input_shape(1).ToString(),
        " must have the same shape (MeanSquaredError does not broadcast)"));
  }
  c.SetOutput(0, c.input_dtype(0), Shape());
  return absl::OkStatus();
}

template <typename T>
struct MeanSquaredErrorKernel : OpKernel {
  explicit MeanSquaredErrorKernel(const KernelArgs& a)
      : prediction(a.inputs[0]), target(a.inputs[1]), loss(a.outputs[0]) {}

  absl::Status Compute() override {
    const T* p = prediction.data<T>();
    const T* t = target.data<T>();
    int64_t n = prediction.num_elements();
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      double d = static_cast<double>(p[i]) - t[i];
      sum += d * d;
    }
    *loss.data<T>() = static_cast<T>(n == 0 ? 0 : sum / n);
    return absl::OkStatus();
  }

  Tensor prediction, target, loss;
};

}  // namespace

void RegisterLossOps(OpRegistry& r) {
  r.Add(OpDef("SoftmaxCrossEntropy")
            .Doc("Cross entropy of softmax(logits) against integer labels, "
                 "computed stably as -log_softmax. logits [..., C], labels "
                 "[...] (usually [N, C] and [N]), and an optional third input "
                 "`weights` [...] (1 when absent). Rows whose label equals "
                 "`ignore_index` are skipped. loss_r = -w_r * "
                 "log_softmax(logits_r)[label_r]; `reduction` \"sum\" gives "
                 "the sum over the other rows, and \"mean\" (default) that "
                 "sum divided by their summed weight (PyTorch's weighted "
                 "mean), or 0 when that is 0, e.g. when every row is ignored "
                 "(PyTorch gives NaN). A scalar. A label outside [0, C) that "
                 "is not ignore_index is an error naming it and its row.")
            .TypeVar("T", kFloatTypes)
            .TypeVar("I", kIndexTypes)
            .Input("logits", "T")
            .Input("labels", "I")
            .VariadicInput("weights", "T", 0)
            .Output("loss")
            .Attr("ignore_index", AttrType::kInt, IntAttr(-100))
            .Attr("reduction", AttrType::kString, StringAttr("mean"))
            .Shape(SoftmaxCrossEntropyShape)
            .Reference(MakeFloatKernel<SoftmaxCrossEntropyKernel>)
            .NoOneDnnPrimitive());
  r.Add(OpDef("MeanSquaredError")
            .Doc("mean((prediction - target)^2) over all elements, a scalar; "
                 "the shapes must be equal (no broadcasting), and 0 elements "
                 "give 0.")
            .TypeVar("T", kFloatTypes)
            .Input("prediction", "T")
            .Input("target", "T")
            .Output("loss")
            .Shape(MeanSquaredErrorShape)
            .Reference(MakeFloatKernel<MeanSquaredErrorKernel>)
            .NoOneDnnPrimitive());
}

}  // namespace rill
