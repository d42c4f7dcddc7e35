#include "models/esn.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/checkpoint.h"
#include "core/file_io.h"
#include "core/npy.h"
#include "core/random.h"
#include "eigen3/Eigen/Cholesky"
#include "eigen3/Eigen/Eigenvalues"
#include "models/esn_graph.h"

namespace rill {
namespace {

// Configs above this are refused before reading.
constexpr int64_t kMaxEsnConfigBytes = int64_t{1} << 20;
// Steps per chunk when accumulating: bounds the memory of a fit.
constexpr int64_t kChunkSteps = 512;

// Eigen sizes its product blocks from the caches the CPU reports, so the
// summation order of ZᵀZ, ZᵀY and the residual, and with it their last
// bits, would differ between machines (Zen 4 and Zen 5 differ in L1d).
// Fixed sizes make a fit's bits the same on every x86-64 machine. Eigen
// keeps one setting per process; the ESN is its only user in rill.
void FixEigenBlocking() {
  Eigen::setCpuCacheSizes(48 << 10, 1 << 20, 32 << 20);
}

absl::Status FieldError(const std::string& field, const std::string& rule,
                        double got) {
  return absl::InvalidArgumentError(
      absl::StrCat("EsnConfig.", field, ": ", rule, ", got ", got));
}

// A rows x cols matrix whose entries are nonzero with probability `density`,
// then `scale` * uniform[-1, 1): the draw order esn.h documents.
EsnMatrix DrawSparse(SplitMix64& rng, int64_t rows, int64_t cols,
                     double density, double scale) {
  EsnMatrix m = EsnMatrix::Zero(rows, cols);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      if (rng.Uniform() < density) m(i, j) = scale * (2 * rng.Uniform() - 1);
    }
  }
  return m;
}

// OK when every entry of m is finite; otherwise names `what` and the row.
absl::Status CheckFinite(const EsnMatrix& m, const std::string& what) {
  for (int64_t t = 0; t < m.rows(); ++t) {
    if (!m.row(t).allFinite()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " row ", t, ": NaN or infinite value"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EsnConfig> LoadEsnConfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, kMaxEsnConfigBytes));
  return ParseEsnConfig(text, path);
}

absl::StatusOr<EsnConfig> ParseEsnConfig(absl::string_view text,
                                         const std::string& name) {
  EsnConfig config;
  RETURN_IF_ERROR(ParseTextProto(text, name, kMaxEsnConfigBytes, &config));
  return config;
}

absl::StatusOr<EsnConfig> ResolveEsnConfig(const EsnConfig& in) {
  EsnConfig c = in;
  // A given reservoir's W says how many units it has (the caller fills it
  // in from the file).
  if (c.units() < (c.reservoir_w().empty() ? 1 : 0)) {
    return FieldError("units", "must be >= 1", c.units());
  }
  if (c.spectral_radius() == 0) c.set_spectral_radius(0.9);
  if (c.connectivity() == 0) c.set_connectivity(0.1);
  if (c.input_scaling() == 0) c.set_input_scaling(1);
  if (c.input_connectivity() == 0) c.set_input_connectivity(1);
  if (c.leak_rate() == 0) c.set_leak_rate(1);
  if (c.activation().empty()) c.set_activation("tanh");
  if (c.readout().empty()) c.set_readout("ridge");
  if (c.readout() != "ridge" && c.readout() != "gradient_descent") {
    return absl::InvalidArgumentError(absl::StrCat(
        "EsnConfig.readout: must be ridge or gradient_descent, got \"",
        c.readout(), "\""));
  }
  if (c.gd_steps() == 0) c.set_gd_steps(3000);
  if (c.gd_learning_rate() == 0) c.set_gd_learning_rate(0.01);
  if (c.gd_batch_size() == 0) c.set_gd_batch_size(64);
  if (c.gd_steps() < 0)
    return FieldError("gd_steps", "must be >= 1", c.gd_steps());
  if (!(c.gd_learning_rate() > 0)) {
    return FieldError("gd_learning_rate", "must be > 0", c.gd_learning_rate());
  }
  if (c.gd_batch_size() < 0) {
    return FieldError("gd_batch_size", "must be >= 1", c.gd_batch_size());
  }
  if (c.activation() != "tanh" && c.activation() != "relu" &&
      c.activation() != "identity") {
    return absl::InvalidArgumentError(
        absl::StrCat("EsnConfig.activation: must be tanh, relu or identity, "
                     "got \"",
                     c.activation(), "\""));
  }
  if (!c.has_ridge()) c.set_ridge(kDefaultEsnRidge);
  if (c.train_fraction() == 0) c.set_train_fraction(0.8);
  // `!(x > 0)` also catches NaN.
  if (!(c.spectral_radius() > 0) || !std::isfinite(c.spectral_radius()))
    return FieldError("spectral_radius", "must be > 0", c.spectral_radius());
  if (!(c.connectivity() > 0 && c.connectivity() <= 1))
    return FieldError("connectivity", "must be in (0, 1]", c.connectivity());
  if (!(c.input_scaling() > 0) || !std::isfinite(c.input_scaling()))
    return FieldError("input_scaling", "must be > 0", c.input_scaling());
  if (!(c.input_connectivity() > 0 && c.input_connectivity() <= 1))
    return FieldError("input_connectivity", "must be in (0, 1]",
                      c.input_connectivity());
  if (!(c.bias_scaling() >= 0) || !std::isfinite(c.bias_scaling()))
    return FieldError("bias_scaling", "must be >= 0", c.bias_scaling());
  if (!(c.leak_rate() > 0 && c.leak_rate() <= 1))
    return FieldError("leak_rate", "must be in (0, 1]", c.leak_rate());
  if (!(c.ridge() >= 0) || !std::isfinite(c.ridge()))
    return FieldError("ridge", "must be >= 0 (0: least squares)", c.ridge());
  if (c.warmup() < 0) return FieldError("warmup", "must be >= 0", c.warmup());
  if (!(c.train_fraction() > 0 && c.train_fraction() < 1))
    return FieldError("train_fraction", "must be in (0, 1)",
                      c.train_fraction());
  return c;
}

absl::Status CheckEsnFitLimits(const EsnConfig& config, int64_t rows,
                               int64_t inputs, const MemoryBudget& budget) {
  const int64_t units = config.units();
  const int64_t features = SaturatingAdd(SaturatingAdd(units, inputs), 1);
  int64_t doubles = SaturatingMul(3, SaturatingMul(units, units));
  doubles = SaturatingAdd(doubles, SaturatingMul(rows, features));
  doubles = SaturatingAdd(doubles, SaturatingMul(features, features));
  return CheckFitsBudget("units", units, "reservoir and fit state",
                         SaturatingMul(doubles, 8), budget);
}

// ---- CsrMatrix ----

CsrMatrix CsrMatrix::FromDense(const EsnMatrix& dense) {
  CsrMatrix m;
  m.rows = dense.rows();
  m.cols = dense.cols();
  m.row_ptr.reserve(m.rows + 1);
  m.row_ptr.push_back(0);
  for (int64_t i = 0; i < m.rows; ++i) {
    for (int64_t j = 0; j < m.cols; ++j) {
      if (dense(i, j) != 0) {
        m.col.push_back(j);
        m.val.push_back(dense(i, j));
      }
    }
    m.row_ptr.push_back(m.nonzeros());
  }
  return m;
}

EsnMatrix CsrMatrix::ToDense() const {
  EsnMatrix d = EsnMatrix::Zero(rows, cols);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t k = row_ptr[i]; k < row_ptr[i + 1]; ++k) d(i, col[k]) = val[k];
  }
  return d;
}

absl::Status CsrMatrix::Validate(const std::string& what) const {
  if (rows < 0 || cols < 0 ||
      static_cast<int64_t>(row_ptr.size()) != rows + 1 || row_ptr[0] != 0 ||
      row_ptr[rows] != nonzeros() ||
      static_cast<int64_t>(col.size()) != nonzeros()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": CSR arrays disagree in length"));
  }
  for (int64_t i = 0; i < rows; ++i) {
    if (row_ptr[i] > row_ptr[i + 1]) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": row offsets decrease at row ", i));
    }
    for (int64_t k = row_ptr[i]; k < row_ptr[i + 1]; ++k) {
      if (col[k] < 0 || col[k] >= cols ||
          (k > row_ptr[i] && col[k] <= col[k - 1])) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": row ", i, ": column ", col[k],
            " out of range or not ascending (", cols, " columns)"));
      }
    }
  }
  for (double v : val) {
    if (!std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": NaN or infinite value"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<double> SpectralRadius(const EsnMatrix& w) {
  if (w.rows() != w.cols()) {
    return absl::InvalidArgumentError("SpectralRadius: matrix not square");
  }
  Eigen::EigenSolver<Eigen::MatrixXd> solver(Eigen::MatrixXd(w),
                                             /*computeEigenvectors=*/false);
  if (solver.info() != Eigen::Success) {
    return absl::InternalError("SpectralRadius: EigenSolver did not converge");
  }
  return solver.eigenvalues().cwiseAbs().maxCoeff();
}

// ---- Reservoir ----

absl::StatusOr<Reservoir> Reservoir::Create(const EsnConfig& config,
                                            int64_t inputs) {
  ASSIGN_OR_RETURN(EsnConfig c, ResolveEsnConfig(config));
  if (c.units() < 1) return FieldError("units", "must be >= 1", c.units());
  if (inputs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ESN: inputs must be >= 1, got ", inputs));
  }
  SplitMix64 rng(c.seed());
  EsnMatrix w = DrawSparse(rng, c.units(), c.units(), c.connectivity(), 1);
  EsnMatrix w_in = DrawSparse(rng, c.units(), inputs, c.input_connectivity(),
                              c.input_scaling());
  EsnVector b = EsnVector::Zero(c.units());
  if (c.bias_scaling() > 0) {
    for (int64_t i = 0; i < c.units(); ++i) {
      b[i] = c.bias_scaling() * (2 * rng.Uniform() - 1);
    }
  }
  ASSIGN_OR_RETURN(double rho, SpectralRadius(w));
  if (!(rho > 1e-12)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EsnConfig.connectivity: W drawn with ", c.connectivity(),
        " has spectral radius ", rho,
        ", which cannot be rescaled; raise connectivity or units"));
  }
  w *= c.spectral_radius() / rho;
  return FromWeights(CsrMatrix::FromDense(w), std::move(w_in), std::move(b),
                     c.leak_rate(), c.activation());
}

absl::StatusOr<Reservoir> Reservoir::FromWeights(
    CsrMatrix w, EsnMatrix w_in, EsnVector b, double leak_rate,
    const std::string& activation) {
  RETURN_IF_ERROR(w.Validate("W"));
  if (w.rows != w.cols || w.rows < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "W must be square and non-empty, got ", w.rows, "x", w.cols));
  }
  if (w_in.rows() != w.rows || w_in.cols() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("W_in must be [", w.rows, ", inputs >= 1], got [",
                     w_in.rows(), ", ", w_in.cols(), "]"));
  }
  if (b.size() != w.rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("b must have ", w.rows, " values, got ", b.size()));
  }
  if (!w_in.allFinite() || !b.allFinite()) {
    return absl::InvalidArgumentError("W_in or b: NaN or infinite value");
  }
  if (!(leak_rate > 0 && leak_rate <= 1)) {
    return FieldError("leak_rate", "must be in (0, 1]", leak_rate);
  }
  Reservoir r;
  const double density =
      static_cast<double>(w.nonzeros()) / (double(w.rows) * w.cols);
  r.dense_ = density >= DenseDensityThreshold(w.rows);
  r.w_ = std::move(w);
  r.w_in_ = std::move(w_in);
  r.b_ = std::move(b);
  r.leak_rate_ = leak_rate;
  if (activation == "relu") {
    r.activation_ = Activation::kRelu;
  } else if (activation == "identity") {
    r.activation_ = Activation::kIdentity;
  } else if (activation != "tanh") {
    return absl::InvalidArgumentError(absl::StrCat(
        "activation must be tanh, relu or identity, got \"", activation, "\""));
  }
  return r;
}

Reservoir Reservoir::ForceProduct(const Reservoir& r, bool dense) {
  Reservoir copy = r;
  copy.dense_ = dense;
  copy.runner_.reset();  // Its graphs multiply the other way.
  return copy;
}

absl::StatusOr<EsnMatrix> Reservoir::Collect(const EsnMatrix& u,
                                             EsnVector* x) const {
  if (u.cols() != inputs()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ESN input has ", u.cols(),
                     " columns; the reservoir takes ", inputs()));
  }
  if (x->size() != units()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ESN state has ", x->size(), " values; the reservoir has ", units()));
  }
  RETURN_IF_ERROR(CheckFinite(u, "ESN input"));
  if (runner_ == nullptr) {
    runner_ = std::make_shared<EsnGraphRunner>(EsnGraphOptions{}, kChunkSteps);
  }
  EsnMatrix states;
  RETURN_IF_ERROR(runner_->Run(*this, u, x, &states, nullptr));
  return states;
}

// ---- RidgeAccumulator ----

RidgeAccumulator::RidgeAccumulator(int64_t inputs, int64_t units,
                                   int64_t outputs)
    : inputs_(inputs),
      units_(units),
      outputs_(outputs),
      ztz_(Eigen::MatrixXd::Zero(features(), features())),
      zty_(Eigen::MatrixXd::Zero(features(), outputs)) {
  FixEigenBlocking();
}

absl::Status RidgeAccumulator::Add(const EsnRows& u, const EsnRows& x,
                                   const EsnRows& y) {
  const int64_t b = u.rows();
  if (u.cols() != inputs_ || x.cols() != units_ || y.cols() != outputs_ ||
      x.rows() != b || y.rows() != b) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RidgeAccumulator::Add: shapes u [", u.rows(), ", ", u.cols(), "], x [",
        x.rows(), ", ", x.cols(), "], y [", y.rows(), ", ", y.cols(),
        "]; want [B, ", inputs_, "], [B, ", units_, "], [B, ", outputs_, "]"));
  }
  if (z_.rows() < b) z_.resize(b, features());
  auto z = z_.topRows(b);
  z.col(0).setOnes();
  z.middleCols(1, inputs_) = u;
  z.rightCols(units_) = x;
  ztz_.selfadjointView<Eigen::Lower>().rankUpdate(z.transpose());
  zty_.noalias() += z.transpose() * y;
  rows_ += b;
  return absl::OkStatus();
}

absl::StatusOr<EsnMatrix> RidgeAccumulator::Solve(
    double ridge, bool regularize_bias, ReadoutFitStats* stats) const {
  if (rows_ == 0) {
    return absl::FailedPreconditionError("ridge readout: no rows to fit");
  }
  Eigen::MatrixXd a = ztz_.selfadjointView<Eigen::Lower>();
  a.diagonal().array() += ridge;
  if (!regularize_bias) a(0, 0) -= ridge;
  Eigen::LDLT<Eigen::MatrixXd, Eigen::Lower> ldlt(a);
  const bool factored = ldlt.info() == Eigen::Success;
  const double rcond = factored ? ldlt.rcond() : 0;
  // Below this the solution is noise: Z's columns are (numerically)
  // collinear, or there are fewer rows than features. LDLT also fails on
  // the zero or negative pivots of a singular ZᵀZ.
  const double singular = features() * std::numeric_limits<double>::epsilon();
  if (ridge == 0 && !(rcond > singular)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "least squares (ridge 0): the normal equations ZᵀZ W_outᵀ = ZᵀY are "
        "singular to working precision (",
        factored ? absl::StrCat("reciprocal condition estimate ", rcond)
                 : "LDLT met a zero or negative pivot",
        "; ", rows_, " rows for ", features(), " features [1; u; x])",
        rows_ < features() ? ", fewer rows than features" : "",
        "; set a ridge > 0, e.g. ridge: 1e-8"));
  }
  if (!factored) {
    return absl::InternalError("ridge readout: LDLT failed; raise ridge");
  }
  Eigen::MatrixXd w = ldlt.solve(zty_);
  if (ldlt.info() != Eigen::Success || !w.allFinite()) {
    return absl::InternalError(
        "ridge readout: LDLT gave a non-finite solution; raise ridge");
  }
  if (stats != nullptr) {
    const double scale = zty_.norm();
    stats->residual = (a * w - zty_).norm() / (scale > 0 ? scale : 1);
    stats->rcond = rcond;
  }
  return EsnMatrix(w.transpose());
}

// ---- Esn ----

absl::StatusOr<Esn> Esn::Create(const EsnConfig& config, int64_t inputs,
                                int64_t outputs) {
  ASSIGN_OR_RETURN(EsnConfig c, ResolveEsnConfig(config));
  ASSIGN_OR_RETURN(Reservoir r, Reservoir::Create(c, inputs));
  return FromReservoir(c, std::move(r), outputs);
}

absl::StatusOr<Esn> Esn::FromReservoir(const EsnConfig& config,
                                       Reservoir reservoir, int64_t outputs) {
  EsnConfig c = config;
  c.set_units(reservoir.units());
  c.set_leak_rate(reservoir.leak_rate());
  c.set_activation(reservoir.activation_name());
  ASSIGN_OR_RETURN(c, ResolveEsnConfig(c));
  if (outputs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ESN: outputs must be >= 1, got ", outputs));
  }
  Esn e;
  e.config_ = std::move(c);
  e.reservoir_ = std::move(reservoir);
  e.outputs_ = outputs;
  return e;
}

void Esn::BeginFit() {
  acc_.emplace(reservoir_.inputs(), reservoir_.units(), outputs_);
}

absl::Status Esn::CheckSequence(const EsnMatrix& u, const EsnMatrix* y) const {
  if (u.cols() != reservoir_.inputs()) {
    return absl::InvalidArgumentError(absl::StrCat("ESN input has ", u.cols(),
                                                   " columns; the model takes ",
                                                   reservoir_.inputs()));
  }
  RETURN_IF_ERROR(CheckFinite(u, "ESN input"));
  if (y == nullptr) return absl::OkStatus();
  if (y->cols() != outputs_ || y->rows() != u.rows()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ESN target is [", y->rows(), ", ", y->cols(), "]; want [",
                     u.rows(), ", ", outputs_, "]"));
  }
  return CheckFinite(*y, "ESN target");
}

absl::Status Esn::Accumulate(const EsnMatrix& u, const EsnMatrix& y) {
  if (!acc_)
    return absl::FailedPreconditionError("ESN: Accumulate before BeginFit");
  RETURN_IF_ERROR(CheckSequence(u, &y));
  const int64_t warmup = config_.warmup();
  if (warmup >= u.rows()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EsnConfig.warmup (", warmup, ") must be shorter than the sequence (",
        u.rows(), " steps)"));
  }
  EsnVector x = EsnVector::Zero(reservoir_.units());
  for (int64_t start = 0; start < u.rows(); start += kChunkSteps) {
    const int64_t n = std::min(kChunkSteps, u.rows() - start);
    ASSIGN_OR_RETURN(EsnMatrix states,
                     reservoir_.Collect(u.middleRows(start, n), &x));
    const int64_t skip = std::min(n, std::max<int64_t>(0, warmup - start));
    if (skip == n) continue;
    RETURN_IF_ERROR(acc_->Add(u.middleRows(start + skip, n - skip),
                              states.bottomRows(n - skip),
                              y.middleRows(start + skip, n - skip)));
  }
  return absl::OkStatus();
}

absl::Status Esn::EndFit() {
  if (!acc_)
    return absl::FailedPreconditionError("ESN: EndFit before BeginFit");
  ASSIGN_OR_RETURN(
      EsnMatrix w,
      acc_->Solve(config_.ridge(), config_.regularize_bias(), &fit_stats_));
  w_out_ = std::move(w);
  acc_.reset();
  return absl::OkStatus();
}

absl::Status Esn::Fit(const EsnMatrix& u, const EsnMatrix& y) {
  BeginFit();
  RETURN_IF_ERROR(Accumulate(u, y));
  return EndFit();
}

absl::StatusOr<EsnMatrix> Esn::Predict(const EsnMatrix& u, EsnVector* x) const {
  if (!fitted()) return absl::FailedPreconditionError("ESN: not fitted");
  RETURN_IF_ERROR(CheckSequence(u, nullptr));
  EsnGraphOptions with_readout;
  with_readout.readout = true;
  with_readout.w_out = &w_out_;
  EsnGraphRunner runner(with_readout, kChunkSteps);
  EsnMatrix states, y;
  RETURN_IF_ERROR(runner.Run(reservoir_, u, x, &states, &y));
  return y;
}

absl::StatusOr<EsnMatrix> Esn::Generate(const EsnVector& u0, int64_t steps,
                                        EsnVector* x) const {
  if (!fitted()) return absl::FailedPreconditionError("ESN: not fitted");
  if (outputs_ != reservoir_.inputs()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ESN generate needs outputs == inputs, got ", outputs_,
                     " and ", reservoir_.inputs()));
  }
  if (u0.size() != reservoir_.inputs() || !u0.allFinite()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ESN generate: first input must be ", reservoir_.inputs(),
                     " finite values"));
  }
  if (x->size() != reservoir_.units() || steps < 0) {
    return absl::InvalidArgumentError(
        "ESN generate: wrong state size or negative steps");
  }
  // One step at a time: each step's output is the next step's input.
  EsnGraphOptions with_readout;
  with_readout.readout = true;
  with_readout.w_out = &w_out_;
  EsnGraphRunner runner(with_readout, 1);
  EsnMatrix y(steps, outputs_), u = u0.transpose(), states, step_y;
  for (int64_t i = 0; i < steps; ++i) {
    RETURN_IF_ERROR(runner.Run(reservoir_, u, x, &states, &step_y));
    y.row(i) = step_y.row(0);
    u = step_y;
  }
  return y;
}

// ---- Save and load ----

namespace {

absl::StatusOr<Tensor> F64Tensor(Shape shape, const double* data) {
  ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kF64, std::move(shape)));
  std::copy(data, data + t.num_elements(), t.data<double>());
  return t;
}

absl::StatusOr<Tensor> I64Tensor(const std::vector<int64_t>& v) {
  ASSIGN_OR_RETURN(Tensor t,
                   Tensor::Allocate(DType::kI64, Shape{int64_t(v.size())}));
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}

// The checkpoint's tensors by name, with the file named in every error.
class TensorLookup {
 public:
  TensorLookup(const Checkpoint& c, std::string path)
      : c_(c), path_(std::move(path)) {}
  // The tensor `name` with `dtype`, rank `rank` and, where want[i] >= 0,
  // dims[i] == want[i].
  absl::StatusOr<Tensor> Get(const std::string& name, DType dtype,
                             std::vector<int64_t> want) const {
    for (const auto& [n, t] : c_.tensors) {
      if (n != name) continue;
      bool ok = t.dtype() == dtype && t.shape().rank() == int64_t(want.size());
      for (size_t i = 0; ok && i < want.size(); ++i) {
        ok = want[i] < 0 || t.shape().dim(i) == want[i];
      }
      if (!ok) {
        return absl::InvalidArgumentError(absl::StrCat(
            path_, ": tensor '", name, "' is ", DTypeName(t.dtype()),
            t.shape().ToString(), "; want ", DTypeName(dtype), " of rank ",
            want.size(), " with dims ", ShapeWant(want)));
      }
      return t;
    }
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": not an ESN checkpoint: no tensor '", name, "'"));
  }
  bool Has(const std::string& name) const {
    for (const auto& entry : c_.tensors) {
      if (entry.first == name) return true;
    }
    return false;
  }

 private:
  static std::string ShapeWant(const std::vector<int64_t>& want) {
    std::string s = "[";
    for (size_t i = 0; i < want.size(); ++i) {
      absl::StrAppend(&s, i ? ", " : "",
                      want[i] < 0 ? "?" : absl::StrCat(want[i]));
    }
    return s + "]";
  }
  const Checkpoint& c_;
  std::string path_;
};

EsnMatrix ToMatrix(const Tensor& t, int64_t rows, int64_t cols) {
  return Eigen::Map<const EsnMatrix>(t.data<double>(), rows, cols);
}

std::vector<int64_t> ToVector(const Tensor& t) {
  return std::vector<int64_t>(t.data<int64_t>(),
                              t.data<int64_t>() + t.num_elements());
}

}  // namespace

absl::Status Esn::Save(const std::string& path) const {
  if (!fitted()) return absl::FailedPreconditionError("ESN: not fitted");
  const Reservoir& r = reservoir_;
  // Without the data fields: `series` and `output` name the fit's files, not
  // the model, and a path need not be UTF-8, which a proto3 string must be
  // to parse: saved, they made a model that Load refused.
  EsnConfig model = config_;
  model.clear_series();
  model.clear_output();
  model.clear_inputs();
  model.clear_targets();
  model.clear_reservoir_w();
  model.clear_reservoir_w_in();
  model.clear_reservoir_b();
  const std::string proto = model.SerializeAsString();
  Checkpoint c;
  ASSIGN_OR_RETURN(Tensor cfg,
                   Tensor::Allocate(DType::kI32, Shape{int64_t(proto.size())}));
  for (size_t i = 0; i < proto.size(); ++i) {
    cfg.data<int32_t>()[i] = static_cast<unsigned char>(proto[i]);
  }
  const double leak = r.leak_rate();
  ASSIGN_OR_RETURN(Tensor leak_t, F64Tensor(Shape{}, &leak));
  ASSIGN_OR_RETURN(Tensor row_ptr, I64Tensor(r.w().row_ptr));
  ASSIGN_OR_RETURN(Tensor col, I64Tensor(r.w().col));
  ASSIGN_OR_RETURN(Tensor val,
                   F64Tensor(Shape{r.w().nonzeros()}, r.w().val.data()));
  ASSIGN_OR_RETURN(Tensor w_in,
                   F64Tensor(Shape{r.units(), r.inputs()}, r.w_in().data()));
  ASSIGN_OR_RETURN(Tensor b, F64Tensor(Shape{r.units()}, r.b().data()));
  ASSIGN_OR_RETURN(Tensor w_out, F64Tensor(Shape{w_out_.rows(), w_out_.cols()},
                                           w_out_.data()));
  c.tensors = {{"esn/config", cfg},
               {"esn/leak_rate", leak_t},
               {"esn/w_row_ptr", row_ptr},
               {"esn/w_col", col},
               {"esn/w_val", val},
               {"esn/w_in", w_in},
               {"esn/b", b},
               {"esn/w_out", w_out}};
  ASSIGN_OR_RETURN(Tensor on_targets, Tensor::Allocate(DType::kI32, Shape{}));
  *on_targets.data<int32_t>() = fitted_on_targets() ? 1 : 0;
  c.tensors.emplace_back("esn/fitted_on_targets", on_targets);
  return Annotate(WriteCheckpoint(path, c), path);
}

absl::StatusOr<Esn> Esn::Load(const std::string& path, int64_t max_bytes) {
  ASSIGN_OR_RETURN(Checkpoint c, ReadCheckpoint(path, max_bytes));
  TensorLookup get(c, path);
  ASSIGN_OR_RETURN(Tensor cfg, get.Get("esn/config", DType::kI32, {-1}));
  std::string proto;
  for (int64_t i = 0; i < cfg.num_elements(); ++i) {
    const int32_t byte = cfg.data<int32_t>()[i];
    if (byte < 0 || byte > 255) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": tensor 'esn/config': value ", byte, " is not a byte"));
    }
    proto.push_back(static_cast<char>(byte));
  }
  EsnConfig config;
  if (!config.ParseFromString(proto)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": tensor 'esn/config' is not an EsnConfig"));
  }
  const int64_t n = config.units();
  if (n < 1) {  // Before any shape below is built from it.
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": tensor 'esn/config': units must be >= 1, got ", n));
  }
  ASSIGN_OR_RETURN(Tensor leak, get.Get("esn/leak_rate", DType::kF64, {}));
  ASSIGN_OR_RETURN(Tensor row_ptr,
                   get.Get("esn/w_row_ptr", DType::kI64, {n + 1}));
  ASSIGN_OR_RETURN(Tensor col, get.Get("esn/w_col", DType::kI64, {-1}));
  ASSIGN_OR_RETURN(Tensor val,
                   get.Get("esn/w_val", DType::kF64, {col.shape().dim(0)}));
  ASSIGN_OR_RETURN(Tensor w_in, get.Get("esn/w_in", DType::kF64, {n, -1}));
  const int64_t d = w_in.shape().dim(1);
  ASSIGN_OR_RETURN(Tensor b, get.Get("esn/b", DType::kF64, {n}));
  ASSIGN_OR_RETURN(Tensor w_out,
                   get.Get("esn/w_out", DType::kF64, {-1, 1 + d + n}));
  CsrMatrix w;
  w.rows = w.cols = n;
  w.row_ptr = ToVector(row_ptr);
  w.col = ToVector(col);
  w.val.assign(val.data<double>(), val.data<double>() + val.num_elements());
  absl::StatusOr<Reservoir> r = Reservoir::FromWeights(
      std::move(w), ToMatrix(w_in, n, d), ToMatrix(b, n, 1).col(0),
      *leak.data<double>(),
      config.activation().empty() ? "tanh" : config.activation());
  if (!r.ok()) return Annotate(r.status(), path);
  const int64_t outputs = w_out.shape().dim(0);
  absl::StatusOr<Esn> e = FromReservoir(config, *std::move(r), outputs);
  if (!e.ok()) return Annotate(e.status(), path);
  e->w_out_ = ToMatrix(w_out, outputs, 1 + d + n);
  if (get.Has("esn/fitted_on_targets")) {
    ASSIGN_OR_RETURN(Tensor on_targets,
                     get.Get("esn/fitted_on_targets", DType::kI32, {}));
    e->fitted_on_targets_ = *on_targets.data<int32_t>() != 0;
  }
  if (!e->w_out_.allFinite()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": tensor 'esn/w_out': NaN or infinite value"));
  }
  return e;
}

// ---- Metrics and data ----

double Nrmse(const EsnMatrix& prediction, const EsnMatrix& target) {
  const double mse = (prediction - target).squaredNorm() / target.size();
  const double mean = target.mean();
  const double var = (target.array() - mean).square().sum() / target.size();
  return std::sqrt(mse / var);
}

namespace {

absl::StatusOr<EsnMatrix> LoadNpySeries(const std::string& path,
                                        int64_t max_bytes) {
  ASSIGN_OR_RETURN(Tensor t, ReadNpy(path, max_bytes));
  const int64_t rank = t.shape().rank();
  if ((rank != 1 && rank != 2) ||
      (t.dtype() != DType::kF32 && t.dtype() != DType::kF64)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": a series must be f32 or f64 of shape [T] or [T, D], got ",
        DTypeName(t.dtype()), t.shape().ToString()));
  }
  const int64_t rows = t.shape().dim(0);
  const int64_t cols = rank == 2 ? t.shape().dim(1) : 1;
  EsnMatrix m(rows, cols);
  for (int64_t i = 0; i < rows * cols; ++i) m.data()[i] = t.ElementAsDouble(i);
  return m;
}

absl::StatusOr<EsnMatrix> LoadCsvSeries(const std::string& path,
                                        int64_t max_bytes) {
  ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, max_bytes));
  std::vector<double> values;
  int64_t cols = -1, line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    int64_t n = 0;
    for (absl::string_view field : absl::StrSplit(line, ',')) {
      double v;
      if (!absl::SimpleAtod(absl::StripAsciiWhitespace(field), &v) ||
          !std::isfinite(v)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ":", line_no, ": field ", n + 1, " '", field,
                         "' is not a finite number"));
      }
      values.push_back(v);
      ++n;
    }
    if (cols >= 0 && n != cols) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_no, ": ", n, " fields; earlier rows have ", cols));
    }
    cols = n;
  }
  if (cols < 0) return absl::InvalidArgumentError(path + ": no rows");
  return EsnMatrix(
      Eigen::Map<EsnMatrix>(values.data(), values.size() / cols, cols));
}

}  // namespace

absl::StatusOr<EsnMatrix> LoadSeries(const std::string& path,
                                     int64_t max_bytes) {
  const bool npy = absl::EndsWith(path, ".npy");
  if (!npy && !absl::EndsWith(path, ".csv")) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": a series must be a .npy or .csv file"));
  }
  ASSIGN_OR_RETURN(EsnMatrix m, npy ? LoadNpySeries(path, max_bytes)
                                    : LoadCsvSeries(path, max_bytes));
  if (m.rows() == 0 || m.cols() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": empty series"));
  }
  RETURN_IF_ERROR(Annotate(CheckFinite(m, "series"), path));
  return m;
}

namespace {

// `t`, read from `path`, as a matrix when it is float of exactly shape
// `want` (`names` says what each dim is, for the error: "W.npy:
// EsnConfig.reservoir_w must be f32 or f64 of shape [units, units] =
// [5, 5], got f64[5, 4]"). Rank 1 gives one column.
absl::StatusOr<EsnMatrix> MatrixOfShape(const Tensor& t,
                                        const std::string& path,
                                        const std::string& field,
                                        const std::vector<int64_t>& want,
                                        const std::string& names) {
  bool ok = (t.dtype() == DType::kF32 || t.dtype() == DType::kF64) &&
            t.shape().rank() == static_cast<int64_t>(want.size());
  for (size_t i = 0; ok && i < want.size(); ++i) {
    ok = t.shape().dim(i) == want[i];
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": EsnConfig.", field, " must be f32 or f64 of shape ", names,
        " = ", Shape(want).ToString(), ", got ", DTypeName(t.dtype()),
        t.shape().ToString()));
  }
  EsnMatrix m(want[0], want.size() == 2 ? want[1] : 1);
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = t.ElementAsDouble(i);
  RETURN_IF_ERROR(Annotate(CheckFinite(m, field), path));
  return m;
}

}  // namespace

absl::StatusOr<Reservoir> LoadGivenReservoir(const EsnConfig& config,
                                             const std::string& w_path,
                                             const std::string& w_in_path,
                                             const std::string& b_path,
                                             int64_t inputs,
                                             int64_t max_bytes) {
  // W's size sets units, so read its header's shape first.
  ASSIGN_OR_RETURN(Tensor w_t, ReadNpy(w_path, max_bytes));
  const int64_t units =
      w_t.shape().rank() >= 1 ? w_t.shape().dim(0) : config.units();
  if (config.units() > 0 && units != config.units()) {
    return absl::InvalidArgumentError(
        absl::StrCat(w_path, ": EsnConfig.reservoir_w has ", units,
                     " rows but EsnConfig.units is ", config.units(),
                     "; leave units out (0) to take W's"));
  }
  ASSIGN_OR_RETURN(EsnMatrix w,
                   MatrixOfShape(w_t, w_path, "reservoir_w", {units, units},
                                 "[units, units]"));
  ASSIGN_OR_RETURN(Tensor w_in_t, ReadNpy(w_in_path, max_bytes));
  ASSIGN_OR_RETURN(
      EsnMatrix w_in,
      MatrixOfShape(w_in_t, w_in_path, "reservoir_w_in", {units, inputs},
                    "[units, inputs (the input series' width)]"));
  EsnVector b = EsnVector::Zero(units);
  if (!b_path.empty()) {
    ASSIGN_OR_RETURN(Tensor b_t, ReadNpy(b_path, max_bytes));
    ASSIGN_OR_RETURN(EsnMatrix b_m, MatrixOfShape(b_t, b_path, "reservoir_b",
                                                  {units}, "[units]"));
    b = b_m.col(0);
  }
  ASSIGN_OR_RETURN(EsnConfig c, ResolveEsnConfig(config));
  return Reservoir::FromWeights(CsrMatrix::FromDense(w), std::move(w_in),
                                std::move(b), c.leak_rate(), c.activation());
}

absl::Status Esn::SetReadout(EsnMatrix w_out) {
  const int64_t features = 1 + reservoir_.inputs() + reservoir_.units();
  if (w_out.rows() != outputs_ || w_out.cols() != features ||
      !w_out.allFinite()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ESN readout must be finite and [", outputs_, ", ", features,
        "], got [", w_out.rows(), ", ", w_out.cols(), "]"));
  }
  w_out_ = std::move(w_out);
  return absl::OkStatus();
}

}  // namespace rill
