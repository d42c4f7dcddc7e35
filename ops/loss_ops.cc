// Loss ops: SoftmaxCrossEntropy with integer labels (and its backward op
// SoftmaxCrossEntropyGrad), and MeanSquaredError. oneDNN has no primitive
// for them; both backends run the loops here. Sums accumulate in f64 for
// either dtype.

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "ops/gradient.h"
#include "ops/kernel_util.h"
#include "ops/registry.h"
#include "ops/shape_fns.h"

namespace rill {
namespace {

// ---- SoftmaxCrossEntropy ----

// Checks logits [..., C], labels [...], the optional weights [...] (node
// input `weights`, when present) and `reduction`; returns the rows' shape
// [...]. `op` and `args` name the op and its inputs for the count error.
absl::StatusOr<Shape> CrossEntropyRowsShape(const InferenceContext& c,
                                            int weights, const char* op,
                                            const char* args) {
  if (c.num_inputs() > weights + 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, " takes ", weights, " inputs (", args, ") or ", weights + 1, " (",
        args, ", weights), got ", c.num_inputs()));
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
  if (c.num_inputs() > weights &&
      !ShapesCompatible(c.input_shape(weights), rows)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'weights' has shape ", c.input_shape(weights).ToString(),
        " but 'logits' ", logits.ToString(), " needs ", rows.ToString()));
  }
  const std::string& reduction = c.attrs().GetString("reduction");
  if (reduction != "mean" && reduction != "sum") {
    return absl::InvalidArgumentError(absl::StrCat(
        "attr 'reduction' = \"", reduction, "\"; choose \"mean\" or \"sum\""));
  }
  return rows;
}

absl::Status SoftmaxCrossEntropyShape(InferenceContext& c) {
  RETURN_IF_ERROR(
      CrossEntropyRowsShape(c, 2, "SoftmaxCrossEntropy", "logits, labels")
          .status());
  c.SetOutput(0, c.input_dtype(0), Shape());
  return absl::OkStatus();
}

absl::Status SoftmaxCrossEntropyGradShape(InferenceContext& c) {
  ASSIGN_OR_RETURN(Shape rows,
                   CrossEntropyRowsShape(c, 3, "SoftmaxCrossEntropyGrad",
                                         "logits, labels, dloss"));
  if (c.input_shape(2).rank() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'dloss' has shape ", c.input_shape(2).ToString(),
                     " but the loss is a scalar"));
  }
  c.SetOutput(0, c.input_dtype(0), c.input_shape(0));
  c.SetOutput(1, c.input_dtype(0), std::move(rows));
  return absl::OkStatus();
}

// What both kernels read: logits [R, C], labels [R] and the optional
// weights [R] (input `weights_input`, when present). Read() checks the
// labels and computes each row's log-sum-exp; sums accumulate in f64.
template <typename T>
class CrossEntropyRows {
 public:
  CrossEntropyRows(const KernelArgs& a, int weights_input)
      : logits_(a.inputs[0]),
        labels_(a.inputs[1]),
        weights_(static_cast<int>(a.inputs.size()) > weights_input
                     ? a.inputs[weights_input]
                     : Tensor()),
        classes_(logits_.shape().dim(logits_.shape().rank() - 1)),
        ignore_index_(a.attrs.GetInt("ignore_index")),
        mean_(a.attrs.GetString("reduction") == "mean"),
        label_(labels_.num_elements()),
        log_sum_exp_(labels_.num_elements()) {}

  absl::Status Read() {
    return labels_.dtype() == DType::kI32 ? ReadAs<int32_t>()
                                          : ReadAs<int64_t>();
  }

  int64_t rows() const { return labels_.num_elements(); }
  int64_t classes() const { return classes_; }
  bool mean() const { return mean_; }
  bool counts(int64_t r) const { return label_[r] != ignore_index_; }
  // The row's weight, 0 for an ignored row.
  double weight(int64_t r) const {
    if (!counts(r)) return 0;
    return weights_.valid() ? weights_.data<T>()[r] : 1.0;
  }
  const T* logits(int64_t r) const { return logits_.data<T>() + r * classes_; }
  int64_t label(int64_t r) const { return label_[r]; }
  // -log_softmax(logits_r)[label_r], for a counted row.
  double loss(int64_t r) const {
    return log_sum_exp_[r] - logits(r)[label_[r]];
  }
  // softmax(logits_r)[k].
  double softmax(int64_t r, int64_t k) const {
    return std::exp(logits(r)[k] - log_sum_exp_[r]);
  }
  // The sum of the counted rows' weights.
  double weight_sum() const { return weight_sum_; }

 private:
  template <typename I>
  absl::Status ReadAs() {
    const I* label = labels_.data<I>();
    weight_sum_ = 0;
    for (int64_t r = 0; r < rows(); ++r) {
      label_[r] = label[r];
      if (!counts(r)) continue;
      if (label[r] < 0 || label[r] >= classes_) {
        return absl::InvalidArgumentError(absl::StrCat(
            "labels", ElementPosition(r, labels_.shape()), " = ", label[r],
            " is out of range for ", classes_, " classes (valid: 0 to ",
            classes_ - 1, ", or ignore_index ", ignore_index_, ")"));
      }
      log_sum_exp_[r] = LogSumExp(logits(r));
      weight_sum_ += weight(r);
    }
    return absl::OkStatus();
  }

  // log(sum exp(x)) = max + log(sum exp(x - max)): the shift keeps exp()
  // from overflowing.
  double LogSumExp(const T* x) const {
    double max = *std::max_element(x, x + classes_);
    double sum = 0;
    for (int64_t k = 0; k < classes_; ++k) sum += std::exp(x[k] - max);
    return max + std::log(sum);
  }

  Tensor logits_, labels_, weights_;
  int64_t classes_;
  int64_t ignore_index_;
  bool mean_;
  std::vector<int64_t> label_;
  std::vector<double> log_sum_exp_;
  double weight_sum_ = 0;
};

// sum over counted rows of w_r * loss_r, divided by their summed weight
// for "mean" (0 when that is 0).
template <typename T>
double CrossEntropyLoss(const CrossEntropyRows<T>& rows) {
  double total = 0;
  for (int64_t r = 0; r < rows.rows(); ++r) {
    if (rows.counts(r)) total += rows.weight(r) * rows.loss(r);
  }
  if (!rows.mean()) return total;
  return rows.weight_sum() == 0 ? 0 : total / rows.weight_sum();
}

template <typename T>
struct SoftmaxCrossEntropyKernel : OpKernel {
  explicit SoftmaxCrossEntropyKernel(const KernelArgs& a)
      : rows(a, 2), loss(a.outputs[0]) {}

  absl::Status Compute() override {
    RETURN_IF_ERROR(rows.Read());
    *loss.data<T>() = static_cast<T>(CrossEntropyLoss(rows));
    return absl::OkStatus();
  }

  CrossEntropyRows<T> rows;
  Tensor loss;
};

// With dl = dloss and W the counted rows' summed weight, for a counted row
// r: dlogits_r = (softmax(logits_r) - onehot(label_r)) * w_r * dl, over W
// for "mean"; dweights_r = loss_r * dl for "sum", and (loss_r - L) * dl / W
// for "mean" (the quotient rule; L is the loss). Ignored rows, and every
// row for "mean" when W = 0, get 0.
template <typename T>
struct SoftmaxCrossEntropyGradKernel : OpKernel {
  explicit SoftmaxCrossEntropyGradKernel(const KernelArgs& a)
      : rows(a, 3),
        dloss(a.inputs[2]),
        dlogits(a.outputs[0]),
        dweights(a.outputs[1]) {}

  absl::Status Compute() override {
    RETURN_IF_ERROR(rows.Read());
    double dl = *dloss.data<T>();
    double loss = CrossEntropyLoss(rows);
    double scale = dl;  // d loss / d (w_r * loss_r)
    if (rows.mean())
      scale = rows.weight_sum() == 0 ? 0 : dl / rows.weight_sum();
    const int64_t classes = rows.classes();
    for (int64_t r = 0; r < rows.rows(); ++r) {
      T* out = dlogits.data<T>() + r * classes;
      if (!rows.counts(r) || scale == 0) {
        std::fill_n(out, classes, T(0));
        dweights.data<T>()[r] = 0;
        continue;
      }
      double coef = rows.weight(r) * scale;
      for (int64_t k = 0; k < classes; ++k) {
        double target = k == rows.label(r) ? 1 : 0;
        out[k] = static_cast<T>((rows.softmax(r, k) - target) * coef);
      }
      double own = rows.mean() ? rows.loss(r) - loss : rows.loss(r);
      dweights.data<T>()[r] = static_cast<T>(own * scale);
    }
    return absl::OkStatus();
  }

  CrossEntropyRows<T> rows;
  Tensor dloss, dlogits, dweights;
};

// Both gradients come from SoftmaxCrossEntropyGrad; labels are integers.
absl::Status SoftmaxCrossEntropyGradient(GradContext& g) {
  std::vector<std::string> inputs = {g.input(0), g.input(1), g.output_grad(0)};
  if (g.num_inputs() > 2) inputs.push_back(g.input(2));
  std::string grads = g.Emit("SoftmaxCrossEntropyGrad", inputs,
                             {{"ignore_index", g.attrs().Get("ignore_index")},
                              {"reduction", g.attrs().Get("reduction")}});
  if (g.Wants(0)) g.SetInputGrad(0, grads);
  if (g.Wants(2)) g.SetInputGrad(2, absl::StrCat(grads, ":1"));
  return absl::OkStatus();
}

// The second-order gradient of SoftmaxCrossEntropyGrad, from primitives.
// Per row r, with m_r = 0 for an ignored row and 1 otherwise, v_r = m_r *
// w_r, p_r = softmax(logits_r), d_r = p_r - onehot(label_r), l_r =
// -log_softmax(logits_r)[label_r], and G, H the gradients reaching dlogits
// and dweights: u_r = sum(G_r * d_r) and sg_r = SoftmaxGrad(p_r, G_r).
// "sum", with s = dloss:
//   d/dlogits_r = s * (v_r * sg_r + m_r * H_r * d_r)
//   d/ddloss    = F = sum_r (v_r * u_r + m_r * H_r * l_r)
//   d/dw_r      = s * m_r * u_r
// "mean", with W = sum v, s = dloss / W, L = sum(v * l) / W, K = sum(m * H):
//   d/dlogits_r = s * (v_r * sg_r + (m_r * H_r - K * v_r / W) * d_r)
//   d/ddloss    = F / W, where now F = sum_r (v_r u_r + m_r H_r l_r) - K L
//   d/dw_r      = s * m_r * (u_r - (K * (l_r - L) + F) / W)
// When W = 0 the op gives zeros; W is taken as 1 there, and every term
// above vanishes through m (or is 0 anyway).
class CrossEntropyGradGradient {
 public:
  explicit CrossEntropyGradGradient(GradContext& g) : g_(g) {}

  absl::Status Build() {
    const std::string& logits = g_.input(0);
    const Shape& shape = g_.shape_of(logits);
    int64_t classes = shape.dim(shape.rank() - 1);
    if (classes == kSymbolicDim) {
      g_.Fail(
          "the gradient of SoftmaxCrossEntropyGrad needs the number of "
          "classes (the last dim of logits) known when the graph is built: "
          "OneHot takes it as an attribute");
      return absl::OkStatus();
    }
    std::string m = CountedRows();
    std::string v = g_.num_inputs() > 3 ? Mul(m, g_.input(3)) : m;
    std::string p = g_.Emit("Softmax", {logits});
    std::string onehot =
        g_.Emit("OneHot", {g_.input(1)},
                {{"depth", IntAttr(classes)},
                 {"dtype", TypeAttr(DTypeToProto(g_.dtype_of(logits)))}});
    std::string d = g_.Emit("Sub", {p, onehot});
    std::string l =
        g_.Emit("Neg", {SumRow(Mul(onehot, g_.Emit("LogSoftmax", {logits})))});
    std::string grad = g_.OutputGradOrZeros(0);
    std::string mh = Mul(m, g_.OutputGradOrZeros(1));
    std::string u = SumRow(Mul(grad, d));
    std::string f = SumAll(Add(Mul(v, u), Mul(mh, l)));
    std::string s = g_.input(2), coef_d = mh, dloss_grad = f, w_grad = u;
    if (g_.attrs().GetString("reduction") == "mean") {
      std::string w = NonZero(SumAll(v));
      std::string k = SumAll(mh);
      std::string mean_l = Div(SumAll(Mul(v, l)), w);
      s = Div(s, w);
      coef_d = g_.Emit("Sub", {mh, Div(Mul(k, v), w)});
      f = g_.Emit("Sub", {f, Mul(k, mean_l)});
      dloss_grad = Div(f, w);
      std::string k_term = Mul(k, g_.Emit("Sub", {l, mean_l}));
      w_grad = g_.Emit("Sub", {u, Div(Add(k_term, f), w)});
    }
    if (g_.Wants(0)) {
      std::string sg = g_.Emit("SoftmaxGrad", {p, grad});
      std::string sum = Add(Mul(PerRow(v), sg), Mul(PerRow(coef_d), d));
      g_.SetInputGrad(0, Mul(s, sum));
    }
    if (g_.Wants(2)) g_.SetInputGrad(2, dloss_grad);
    if (g_.Wants(3)) g_.SetInputGrad(3, Mul(Mul(s, m), w_grad));
    return absl::OkStatus();
  }

 private:
  // m: 1 for a row whose label is not ignore_index, else 0.
  std::string CountedRows() {
    const std::string& labels = g_.input(1);
    AttrValue value;
    TensorProto* t = value.mutable_tensor();
    t->set_dtype(DTypeToProto(g_.dtype_of(labels)));
    int64_t ignore = g_.attrs().GetInt("ignore_index");
    if (g_.dtype_of(labels) == DType::kI32) {
      // An ignore_index outside int32 matches no label.
      if (ignore != static_cast<int32_t>(ignore)) {
        return g_.Emit("OnesLike", {g_.Emit("Cast", {labels}, FloatType())});
      }
      t->add_int_val(static_cast<int32_t>(ignore));
    } else {
      t->add_int64_val(ignore);
    }
    std::string ignored =
        g_.Emit("Equal", {labels, g_.Emit("Const", {}, {{"value", value}})});
    return g_.Emit("Sub", {g_.Scalar(1, g_.input(0)),
                           g_.Emit("Cast", {ignored}, FloatType())});
  }
  std::map<std::string, AttrValue> FloatType() {
    return {{"dtype", TypeAttr(DTypeToProto(g_.dtype_of(g_.input(0))))}};
  }
  // `total`, or 1 where it is 0.
  std::string NonZero(const std::string& total) {
    std::string zero = g_.Emit("Equal", {total, g_.Scalar(0, total)});
    return Add(total, g_.Emit("Cast", {zero}, FloatType()));
  }
  std::string PerRow(const std::string& t) {
    return g_.Emit("ExpandDims", {t}, {{"axis", IntAttr(-1)}});
  }
  std::string SumRow(const std::string& t) {
    return g_.Emit("ReduceSum", {t}, {{"axes", IntListAttr({-1})}});
  }
  std::string SumAll(const std::string& t) { return g_.Emit("ReduceSum", {t}); }
  std::string Mul(const std::string& a, const std::string& b) {
    return g_.Emit("Mul", {a, b});
  }
  std::string Add(const std::string& a, const std::string& b) {
    return g_.Emit("Add", {a, b});
  }
  std::string Div(const std::string& a, const std::string& b) {
    return g_.Emit("Div", {a, b});
  }

  GradContext& g_;
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

// N, the number of elements of `t`, as a scalar: a constant when known,
// else counted at run time.
std::string ElementCount(GradContext& g, const std::string& t) {
  const Shape& shape = g.shape_of(t);
  if (shape.IsFullyDefined()) {
    return g.Scalar(static_cast<double>(*shape.NumElements()), t);
  }
  return g.Emit("ReduceSum", {g.Emit("OnesLike", {t})});
}

// loss = sum((p - t)^2) / N: dp = 2 (p - t) * dloss / N and dt = -dp.
absl::Status MeanSquaredErrorGradient(GradContext& g) {
  const std::string& p = g.input(0);
  std::string twice = g.Emit("Mul", {g.output_grad(0), g.Scalar(2, p)});
  std::string scale = g.Emit("Div", {twice, ElementCount(g, p)});
  std::string dp = g.Emit("Mul", {g.Emit("Sub", {p, g.input(1)}), scale});
  if (g.Wants(0)) g.SetInputGrad(0, dp);
  if (g.Wants(1)) g.SetInputGrad(1, g.Emit("Neg", {dp}));
  return absl::OkStatus();
}

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
            .Gradient(SoftmaxCrossEntropyGradient)
            .Reference(MakeFloatKernel<SoftmaxCrossEntropyKernel>)
            .NoOneDnnPrimitive());
  r.Add(OpDef("SoftmaxCrossEntropyGrad")
            .Doc("The gradients of SoftmaxCrossEntropy (same attrs) from its "
                 "inputs and the gradient `dloss` (a scalar) reaching its "
                 "loss. With l_r = -log_softmax(logits_r)[label_r] and W the "
                 "summed weight of the rows not ignored (weights 1 when "
                 "absent), for such a row r: dlogits_r = (softmax(logits_r) "
                 "- onehot(label_r)) * w_r * dloss, divided by W for "
                 "\"mean\"; dweights_r = l_r * dloss for \"sum\", and (l_r - "
                 "loss) * dloss / W for \"mean\". Ignored rows get 0, and so "
                 "does every row for \"mean\" when W = 0. dweights has "
                 "labels' shape (the gradient for unit weights when none are "
                 "given).")
            .TypeVar("T", kFloatTypes)
            .TypeVar("I", kIndexTypes)
            .Input("logits", "T")
            .Input("labels", "I")
            .Input("dloss", "T")
            .VariadicInput("weights", "T", 0)
            .Output("dlogits")
            .Output("dweights")
            .Attr("ignore_index", AttrType::kInt, IntAttr(-100))
            .Attr("reduction", AttrType::kString, StringAttr("mean"))
            .Shape(SoftmaxCrossEntropyGradShape)
            .Gradient([](GradContext& g) {
              return CrossEntropyGradGradient(g).Build();
            })
            .Reference(MakeFloatKernel<SoftmaxCrossEntropyGradKernel>)
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
            .Gradient(MeanSquaredErrorGradient)
            .Reference(MakeFloatKernel<MeanSquaredErrorKernel>)
            .NoOneDnnPrimitive());
}

}  // namespace rill
