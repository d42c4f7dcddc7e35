#include "models/cross_entropy.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph_builder.h"
#include "graph/validate.h"

namespace rill {
namespace {

constexpr char kWhat[] = "cross-entropy loss";

absl::Status Bad(const std::string& prefix, const std::string& message) {
  return absl::InvalidArgumentError(
      absl::StrCat(kWhat, " options: ", prefix, ": ", message));
}

absl::Status CheckOptions(const std::string& logits, const std::string& labels,
                          const CrossEntropyOptions& o) {
  if (!IsValidNodeName(o.prefix)) {
    return Bad(
        "", absl::StrCat("prefix '", o.prefix,
                         "' is not a node name ([A-Za-z_][A-Za-z0-9_.-/]*)"));
  }
  if (o.dtype != DType::kF32 && o.dtype != DType::kF64) {
    return Bad(o.prefix, absl::StrCat("dtype must be f32 or f64, got ",
                                      DTypeName(o.dtype)));
  }
  // Written so that NaN fails too.
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 1)) {
    return Bad(o.prefix, absl::StrCat("label_smoothing ", o.label_smoothing,
                                      " is not in [0, 1)"));
  }
  if (logits.empty() || labels.empty()) {
    return Bad(o.prefix, "logits and labels must both be given");
  }
  return absl::OkStatus();
}

// A rank-0 Const of float `dtype`, so that the loss stays a scalar [] (the
// writer's Scalar() is [1] and would broadcast it to [1]).
std::string ScalarConst(GraphBuilder& w, const std::string& name, DType dtype,
                        double value) {
  return w.Const(name,
                 FilledTensor(dtype, Shape(), [&](int64_t) { return value; }));
}

// Node <prefix>/smoothing_term, eps * smooth_mean: eps times minus the mean
// over the counted rows of mean_k log_softmax(logits_r)[k], 0 when no row
// counts. Labels are compared as i64, so either
// label dtype works and an ignore_index beyond i32 matches no i32 label.
std::string SmoothingTerm(GraphBuilder& w, const std::string& logits,
                          const std::string& labels,
                          const CrossEntropyOptions& o) {
  std::string log_probs =
      w.Op("log_probs", "LogSoftmax", {logits}).AttrInt("axis", -1);
  std::string row_mean =
      w.Op("mean_log_probs", "ReduceMean", {log_probs}).AttrInts("axes", {-1});

  Tensor ignore = *Tensor::Allocate(DType::kI64, Shape());
  *ignore.data<int64_t>() = o.ignore_index;
  std::string ignored = w.Op("ignored", "Equal",
                             {w.Cast("labels_i64", labels, DType::kI64),
                              w.Const("ignore_index", ignore)});
  // Ignored rows are replaced, not multiplied, by 0 (torch's masked_fill),
  // so that a non-finite logit there stays out of the loss (not out of the
  // gradient: LogSoftmax's backward still reads that row).
  std::string zero = ScalarConst(w, "zero", o.dtype, 0);
  std::string one = ScalarConst(w, "one", o.dtype, 1);
  std::string kept_mean =
      w.Op("kept_mean_log_probs", "Where", {ignored, zero, row_mean});
  std::string sum = w.Op("kept_sum", "ReduceSum", {kept_mean});
  std::string kept =
      w.Op("kept", "Sub", {one, w.Cast("ignored_f", ignored, o.dtype)});
  std::string count = w.Op("kept_count", "ReduceSum", {kept});
  // The sum is 0 when no row counts; dividing by 1 then keeps it 0.
  std::string divisor = w.Op("divisor", "Maximum", {count, one});
  std::string mean = w.Op("mean_kept_log_probs", "Div", {sum, divisor});
  return w.Op("smoothing_term", "Mul",
              {mean, ScalarConst(w, "minus_eps", o.dtype, -o.label_smoothing)});
}

}  // namespace

absl::StatusOr<std::string> AddCrossEntropyLoss(const std::string& logits,
                                                const std::string& labels,
                                                const CrossEntropyOptions& o,
                                                Graph* graph) {
  RETURN_IF_ERROR(CheckOptions(logits, labels, o));
  GraphBuilder w(kWhat, o.prefix);
  const bool smoothed = o.label_smoothing > 0;
  std::string nll =
      w.Op(smoothed ? "nll" : "loss", "SoftmaxCrossEntropy", {logits, labels})
          .AttrInt("ignore_index", o.ignore_index)
          .AttrString("reduction", "mean");
  std::string loss = nll;
  if (smoothed) {
    std::string nll_term = w.Op(
        "nll_term", "Mul",
        {nll, ScalarConst(w, "one_minus_eps", o.dtype, 1 - o.label_smoothing)});
    loss = w.Op("loss", "Add", {nll_term, SmoothingTerm(w, logits, labels, o)});
  }
  RETURN_IF_ERROR(w.Commit(graph));
  return loss;
}

}  // namespace rill
