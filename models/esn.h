#ifndef RILL_MODELS_ESN_H_
#define RILL_MODELS_ESN_H_

// Echo State Networks (SPEC.md, "Echo State Network"), in float64:
//
//   x_t = (1 - a) x_{t-1} + a tanh(W_in u_t + W x_{t-1} + b)
//   y_t = W_out [1; u_t; x_t]
//
// W (units x units), W_in (units x inputs) and b are drawn once from the
// config's seed (or given, LoadGivenReservoir) and never change: they are
// constants here, not parameters an optimizer could touch. Only W_out is
// fitted, in closed form by ridge regression over the rows z_t = [1; u_t; x_t]
// after each sequence's warm-up:  (ZᵀZ + λD) W_outᵀ = ZᵀY, where D is the
// identity, except that D[0][0] = 0 (the bias column is not penalised) unless
// regularize_bias. λ = 0 is ordinary least squares, refused when ZᵀZ is
// singular to working precision (Eigen's LDLT reciprocal condition estimate
// below features x machine epsilon) rather than answered with noise. ZᵀZ and
// ZᵀY are accumulated a chunk of steps at a time, so memory does not grow with
// the series length; the system is solved with Eigen's LDLT.
//
// Drawing the reservoir (deterministic for a seed, on any machine):
//   * one SplitMix64 stream (Steele, Lea and Flood, OOPSLA 2014) seeded with
//     `seed`; a uniform draw in [0, 1) is (Next() >> 11) * 2^-53;
//   * W, row-major: for each entry, a draw r; it is nonzero when
//     r < connectivity, and then a second draw v gives the value 2v - 1,
//     uniform in [-1, 1);
//   * W_in, row-major, the same with input_connectivity and value
//     input_scaling * (2v - 1);
//   * b: units draws, bias_scaling * (2v - 1) (none when bias_scaling is 0);
//   * W is then multiplied by spectral_radius / rho(W), where rho(W) is the
//     largest |eigenvalue| from Eigen's dense EigenSolver (real Schur form,
//     eigenvalues only). That is O(units^3): about 0.1 s at 500 units and
//     1 s at 1000 on one core; above a few thousand units it dominates.
//     A W whose spectral radius is 0 (too sparse) is an error.
//
// The state update runs as a rill graph (models/esn_graph.h) on the
// reference executor: W as a SparseMatMul over its nonzeros, or as a dense
// MatMul when that is faster: see DenseDensityThreshold.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/limits.h"
#include "core/status.h"
#include "eigen3/Eigen/Core"
#include "proto/esn.pb.h"

namespace rill {

// Series and state sequences are row-major: one row per time step.
using EsnMatrix =
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using EsnVector = Eigen::VectorXd;
// Rows of an EsnMatrix (middleRows ...) without a copy.
using EsnRows = Eigen::Ref<const EsnMatrix>;

class EsnGraphRunner;  // models/esn_graph.h

// W is multiplied densely (MatMul) when its density (nonzeros / units^2) is
// at least DenseDensityThreshold(units), and as a SparseMatMul otherwise:
// the choice the ESN made before it became a graph, between Eigen's dense
// product and its CSR loop. The reference MatMul adds in the order of
// Eigen's (SSE2) product and SparseMatMul in CSR order, so the states are
// bit for bit those it computed (tests/models/esn_agreement_test.cc); a
// ridge refit amplifies any other order. Crossovers measured then with
// bench/esn_bench.cc: about 0.1 at 100 units, 0.2-0.3 at 500-1000, 0.3-0.5
// at 2000.
inline double DenseDensityThreshold(int64_t units) {
  return units <= 200 ? 0.1 : units <= 1500 ? 0.25 : 0.45;
}

// The ridge when an EsnConfig leaves it unset (an explicit 0 is least
// squares).
inline constexpr double kDefaultEsnRidge = 1e-8;
// Series, reservoir files and checkpoints above this are refused before
// reading, unless the caller gives its own cap (`rill esn --max_file_mb`).
inline constexpr int64_t kMaxEsnFileBytes = int64_t{8} << 30;

// An EsnConfig text proto (at most 1 MiB), from a file or already read;
// errors name the file or `name`.
absl::StatusOr<EsnConfig> LoadEsnConfig(const std::string& path);
absl::StatusOr<EsnConfig> ParseEsnConfig(absl::string_view text,
                                         const std::string& name);

// `config` with every 0-means-default field filled in, or InvalidArgument
// naming the first bad field ("EsnConfig.leak_rate: must be in (0, 1], got
// 1.5"). Data fields (series, output, train_fraction) are checked only for
// range.
absl::StatusOr<EsnConfig> ResolveEsnConfig(const EsnConfig& config);

// A sparse matrix in compressed-sparse-row form.
struct CsrMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> row_ptr;  // rows + 1 offsets into col/val.
  std::vector<int64_t> col;      // Column of each nonzero, ascending per row.
  std::vector<double> val;

  static CsrMatrix FromDense(const EsnMatrix& dense);
  EsnMatrix ToDense() const;
  int64_t nonzeros() const { return static_cast<int64_t>(val.size()); }
  // OK when the arrays are consistent (offsets monotone, columns in range);
  // errors name `what`.
  absl::Status Validate(const std::string& what) const;
};

// The largest |eigenvalue| of a square matrix (Eigen's EigenSolver).
absl::StatusOr<double> SpectralRadius(const EsnMatrix& w);

// The fixed part of an ESN: W, W_in, b and the leak rate.
class Reservoir {
 public:
  // Draws W, W_in and b from the config (resolved or not) as above.
  static absl::StatusOr<Reservoir> Create(const EsnConfig& config,
                                          int64_t inputs);
  // From given weights, used as they are (no rescaling): golden tests and
  // loading. Shapes must agree; a leak rate must be in (0, 1].
  static absl::StatusOr<Reservoir> FromWeights(
      CsrMatrix w, EsnMatrix w_in, EsnVector b, double leak_rate,
      const std::string& activation = "tanh");

  // A copy of `r` that multiplies by W densely or in CSR whatever its
  // density: for bench/esn_bench.cc.
  static Reservoir ForceProduct(const Reservoir& r, bool dense);

  int64_t units() const { return w_.rows; }
  int64_t inputs() const { return w_in_.cols(); }
  double leak_rate() const { return leak_rate_; }
  // "tanh", "relu" or "identity".
  const char* activation_name() const {
    return activation_ == Activation::kTanh   ? "tanh"
           : activation_ == Activation::kRelu ? "relu"
                                              : "identity";
  }
  const CsrMatrix& w() const { return w_; }
  const EsnMatrix& w_in() const { return w_in_; }
  const EsnVector& b() const { return b_; }
  bool uses_dense_product() const { return dense_; }

  // Teacher-forced states for inputs u [T, inputs()], starting from *x
  // (units() values; zeros for a fresh start): the reservoir's graph
  // (models/esn_graph.h) run by the executor. Returns [T, units()] and
  // leaves *x at the last state. Errors: a wrong width, a non-finite input
  // (naming its row), a wrong-sized state. Keeps the compiled graphs
  // between calls, so not thread-safe (nor are copies, which share them).
  absl::StatusOr<EsnMatrix> Collect(const EsnMatrix& u, EsnVector* x) const;

 private:
  CsrMatrix w_;
  bool dense_ = false;  // Whether DenseDensityThreshold says dense.
  mutable std::shared_ptr<EsnGraphRunner> runner_;  // Made on first Collect.
  EsnMatrix w_in_;
  EsnVector b_;
  double leak_rate_ = 1;
  enum class Activation { kTanh, kRelu, kIdentity };
  Activation activation_ = Activation::kTanh;
};

// How well a readout solves its normal equations A W_outᵀ = ZᵀY, where
// A = ZᵀZ + λD: the accuracy of the fit itself, apart from how well the
// model predicts.
struct ReadoutFitStats {
  // ||A W_outᵀ - ZᵀY|| / ||ZᵀY|| (Frobenius).
  double residual = 0;
  // Eigen's LDLT estimate of 1 / cond_1(A): near 0, W_out itself is
  // ill-determined though its predictions may still be good.
  double rcond = 0;
};

// Accumulates ZᵀZ and ZᵀY for rows z = [1; u; x] and targets y.
class RidgeAccumulator {
 public:
  RidgeAccumulator(int64_t inputs, int64_t units, int64_t outputs);
  int64_t features() const { return 1 + inputs_ + units_; }
  int64_t rows() const { return rows_; }
  // Adds rows: u [B, inputs], x [B, units], y [B, outputs].
  absl::Status Add(const EsnRows& u, const EsnRows& x, const EsnRows& y);
  // W_out [outputs, features]. FailedPrecondition with no rows;
  // InvalidArgument when ridge is 0 and ZᵀZ is singular (the message
  // suggests a ridge); Internal when LDLT fails or gives a non-finite result
  // (raise the ridge). Fills *stats when given.
  absl::StatusOr<EsnMatrix> Solve(double ridge, bool regularize_bias,
                                  ReadoutFitStats* stats = nullptr) const;

 private:
  int64_t inputs_, units_, outputs_, rows_ = 0;
  Eigen::MatrixXd ztz_;  // Lower triangle only, until Solve.
  Eigen::MatrixXd zty_;
  // The rows z of the last Add, kept so that a fit allocates (and the
  // kernel maps) them once rather than once per chunk.
  Eigen::MatrixXd z_;
};

// What fitting `config` (resolved) on a series of `rows` steps of `inputs`
// values holds at its peak, checked against `budget` before the reservoir
// is drawn: W is drawn dense and its spectral radius found by a dense
// eigensolver (about three units x units matrices), the states of every
// step (rows x units) and the ridge system ((units + inputs + 1)^2). The
// error names `units` (`rill esn fit`, and anything else that fits).
absl::Status CheckEsnFitLimits(const EsnConfig& config, int64_t rows,
                               int64_t inputs, const MemoryBudget& budget);

// A reservoir plus its readout.
class Esn {
 public:
  // Resolves `config` (see ResolveEsnConfig) and draws the reservoir.
  static absl::StatusOr<Esn> Create(const EsnConfig& config, int64_t inputs,
                                    int64_t outputs);
  // From a given reservoir (golden tests); config supplies ridge, warmup
  // and regularize_bias.
  static absl::StatusOr<Esn> FromReservoir(const EsnConfig& config,
                                           Reservoir reservoir,
                                           int64_t outputs);

  const EsnConfig& config() const { return config_; }
  const Reservoir& reservoir() const { return reservoir_; }
  int64_t outputs() const { return outputs_; }
  bool fitted() const { return w_out_.size() > 0; }
  const EsnMatrix& w_out() const { return w_out_; }
  // Of the last ridge fit (EndFit); zeros before one.
  const ReadoutFitStats& fit_stats() const { return fit_stats_; }
  // Sets W_out [outputs, 1 + inputs + units] fitted elsewhere (the
  // gradient-descent readout, models/esn_gd.h).
  absl::Status SetReadout(EsnMatrix w_out);

  // Fitting, over any number of sequences: each starts from the zero state,
  // its first `warmup` steps are left out, and warmup must be shorter than
  // it. u [T, inputs], y [T, outputs]: y's row t is the target for step t.
  void BeginFit();
  absl::Status Accumulate(const EsnMatrix& u, const EsnMatrix& y);
  absl::Status EndFit();  // Solves for W_out.
  // BeginFit, Accumulate, EndFit.
  absl::Status Fit(const EsnMatrix& u, const EsnMatrix& y);

  // Teacher-forced one-step outputs [T, outputs] for u [T, inputs], from
  // state *x (zeros for a fresh start), leaving *x at the last state.
  absl::StatusOr<EsnMatrix> Predict(const EsnMatrix& u, EsnVector* x) const;

  // Closed loop, needing outputs == inputs: step i feeds input v_i, where
  // v_0 = u0 and v_{i+1} = y_i, the output of step i. Returns
  // [steps, outputs]. Starting from the state after teacher-forcing
  // s_0..s_{k-1}, with u0 = s_k, row i forecasts s_{k+1+i}.
  absl::StatusOr<EsnMatrix> Generate(const EsnVector& u0, int64_t steps,
                                     EsnVector* x) const;

  // A fitted model as a core/checkpoint.h file (step 0, no RNG state),
  // tensors:
  //   esn/config     i32 [n]   the EsnConfig's binary proto, one byte each,
  //                            without series and output (the fit's files)
  //   esn/leak_rate  f64 []
  //   esn/w_row_ptr  i64 [units + 1]   W in CSR
  //   esn/w_col      i64 [nnz]
  //   esn/w_val      f64 [nnz]
  //   esn/w_in       f64 [units, inputs]
  //   esn/b          f64 [units]
  //   esn/w_out      f64 [outputs, 1 + inputs + units]
  absl::Status Save(const std::string& path) const;
  // Errors name the file and the tensor (missing, wrong dtype or shape).
  static absl::StatusOr<Esn> Load(const std::string& path,
                                  int64_t max_bytes = kMaxEsnFileBytes);

 private:
  absl::Status CheckSequence(const EsnMatrix& u, const EsnMatrix* y) const;

  EsnConfig config_;
  Reservoir reservoir_;
  int64_t outputs_ = 0;
  std::optional<RidgeAccumulator> acc_;  // Between BeginFit and EndFit.
  EsnMatrix w_out_;
  ReadoutFitStats fit_stats_;
};

// Root-mean-square error over all entries divided by the standard
// deviation of `target` (population, over all entries).
double Nrmse(const EsnMatrix& prediction, const EsnMatrix& target);

// A series from .npy (f32 or f64, [T] or [T, D]) or .csv (one row per step,
// comma-separated numbers, every row the same width; blank lines skipped),
// chosen by the extension, as [T, D]. Errors name the file and the row
// (.csv: its line), for unparsable, NaN or infinite values and ragged rows.
absl::StatusOr<EsnMatrix> LoadSeries(const std::string& path,
                                     int64_t max_bytes = kMaxEsnFileBytes);

// The reservoir `config` names (reservoir_w, reservoir_w_in, reservoir_b:
// paths already resolved, .npy f32 or f64), used as given, with the
// config's leak rate and activation. W must be [units, units] (and match
// config.units when that is set), W_in [units, inputs], b [units] (empty
// path: zeros); errors name the file, the expected shape and the one
// found.
absl::StatusOr<Reservoir> LoadGivenReservoir(const EsnConfig& config,
                                             const std::string& w_path,
                                             const std::string& w_in_path,
                                             const std::string& b_path,
                                             int64_t inputs, int64_t max_bytes);

}  // namespace rill

#endif  // RILL_MODELS_ESN_H_
