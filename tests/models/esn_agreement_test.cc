// The ESN as a graph against the ESN before it became one (issue 22 item 4:
// "the same predictions as today's ESN to 1e-12 in f64"). The reference is
// that ESN's state update and readout, written here with Eigen as
// models/esn.cc had them: W x by Eigen's dense matrix-vector product when
// W's density reached the old threshold, else in CSR, then W_in u (Eigen),
// then b. With a ridge of 1e-8 the refit amplifies any difference in the
// states' last bits (a different summation order moved predictions by up
// to 7.7e-5), so the states must agree bit for bit.

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "eigen3/Eigen/Cholesky"
#include "gtest/gtest.h"
#include "models/esn.h"
#include "models/mackey_glass.h"

namespace rill {
namespace {

constexpr int64_t kChunk = 512;  // Esn::Accumulate's chunk of steps.

// The density from which the old ESN multiplied by W densely.
bool OldUsedDense(const CsrMatrix& w) {
  const double density = double(w.nonzeros()) / (double(w.rows) * w.cols);
  return density >= (w.rows <= 200 ? 0.1 : w.rows <= 1500 ? 0.25 : 0.45);
}

// The old Reservoir::Collect (tanh), from *x.
EsnMatrix OldStates(const Reservoir& r, const EsnMatrix& u, EsnVector* x) {
  const EsnMatrix dense = r.w().ToDense();
  const bool use_dense = OldUsedDense(r.w());
  EsnMatrix states(u.rows(), r.units());
  EsnVector pre(r.units());
  for (int64_t t = 0; t < u.rows(); ++t) {
    if (use_dense) {
      pre.noalias() = dense * *x;
    } else {
      for (int64_t i = 0; i < r.units(); ++i) {
        double sum = 0;
        for (int64_t k = r.w().row_ptr[i]; k < r.w().row_ptr[i + 1]; ++k) {
          sum += r.w().val[k] * (*x)[r.w().col[k]];
        }
        pre[i] = sum;
      }
    }
    pre.noalias() += r.w_in() * u.row(t).transpose();
    pre += r.b();
    const double a = r.leak_rate();
    for (int64_t i = 0; i < r.units(); ++i) {
      (*x)[i] = (1 - a) * (*x)[i] + a * std::tanh(pre[i]);
    }
    states.row(t) = x->transpose();
  }
  return states;
}

// The old Esn::Fit over one sequence: chunks of kChunk steps from the zero
// state, the first `warmup` rows left out, each chunk's rows z = [1, u, x]
// added to ZᵀZ and ZᵀY, then (ZᵀZ + ridge D) W_outᵀ = ZᵀY by LDLT.
EsnMatrix OldFit(const Reservoir& r, const EsnMatrix& u, const EsnMatrix& y,
                 int64_t warmup, double ridge) {
  const int64_t features = 1 + r.inputs() + r.units();
  Eigen::MatrixXd ztz = Eigen::MatrixXd::Zero(features, features);
  Eigen::MatrixXd zty = Eigen::MatrixXd::Zero(features, y.cols());
  EsnVector x = EsnVector::Zero(r.units());
  for (int64_t start = 0; start < u.rows(); start += kChunk) {
    const int64_t n = std::min(kChunk, u.rows() - start);
    const EsnMatrix states = OldStates(r, u.middleRows(start, n), &x);
    const int64_t skip = std::min(n, std::max<int64_t>(0, warmup - start));
    if (skip == n) continue;
    Eigen::MatrixXd z(n - skip, features);
    z.col(0).setOnes();
    z.middleCols(1, r.inputs()) = u.middleRows(start + skip, n - skip);
    z.rightCols(r.units()) = states.bottomRows(n - skip);
    ztz.selfadjointView<Eigen::Lower>().rankUpdate(z.transpose());
    zty.noalias() +=
        z.transpose() * EsnMatrix(y.middleRows(start + skip, n - skip));
  }
  ztz.diagonal().array() += ridge;
  ztz(0, 0) -= ridge;
  Eigen::LDLT<Eigen::MatrixXd, Eigen::Lower> ldlt(ztz);
  return ldlt.solve(zty).transpose();
}

// The old Esn::Predict, from *x.
EsnMatrix OldPredict(const Reservoir& r, const EsnMatrix& w_out,
                     const EsnMatrix& u, EsnVector* x) {
  const EsnMatrix states = OldStates(r, u, x);
  EsnMatrix y(u.rows(), w_out.rows());
  for (int64_t t = 0; t < u.rows(); ++t) {
    EsnVector out = w_out.col(0);
    out.noalias() += w_out.middleCols(1, r.inputs()) * u.row(t).transpose();
    out.noalias() += w_out.rightCols(r.units()) * states.row(t).transpose();
    y.row(t) = out.transpose();
  }
  return y;
}

// The old Esn::Generate: each step's output is the next step's input.
EsnMatrix OldGenerate(const Reservoir& r, const EsnMatrix& w_out,
                      const EsnVector& u0, int64_t steps, EsnVector* x) {
  EsnMatrix y(steps, w_out.rows()), u = u0.transpose();
  for (int64_t i = 0; i < steps; ++i) {
    y.row(i) = OldPredict(r, w_out, u, x).row(0);
    u = y.row(i);
  }
  return y;
}

struct Case {
  int64_t units, inputs;
  double connectivity;
};

class EsnAgreementTest : public ::testing::TestWithParam<Case> {};

TEST_P(EsnAgreementTest, StatesBitForBitAndRefitPredictionsTo1e12) {
  const Case c = GetParam();
  // Inputs: Mackey-Glass and shifted copies of it; the target is the next
  // step of every input.
  absl::StatusOr<EsnMatrix> s = MackeyGlass(1300 + c.inputs);
  ASSERT_TRUE(s.ok()) << s.status();
  EsnMatrix series(1300, c.inputs);
  for (int64_t k = 0; k < c.inputs; ++k) {
    series.col(k) = s->block(k, 0, 1300, 1);
  }
  const int64_t train = 1000;  // Two chunks of accumulation.
  const EsnMatrix u = series.topRows(train);
  const EsnMatrix y = series.middleRows(1, train);
  const EsnMatrix test_u = series.middleRows(train, 299);
  EsnConfig config;
  config.set_units(c.units);
  config.set_connectivity(c.connectivity);
  config.set_spectral_radius(1.25);
  config.set_leak_rate(0.3);
  config.set_bias_scaling(0.2);
  config.set_ridge(1e-8);
  config.set_warmup(100);
  config.set_seed(7);
  absl::StatusOr<Esn> esn = Esn::Create(config, c.inputs, c.inputs);
  ASSERT_TRUE(esn.ok()) << esn.status();
  const Reservoir& r = esn->reservoir();
  EXPECT_EQ(r.uses_dense_product(), OldUsedDense(r.w()));

  EsnVector x_new = EsnVector::Zero(c.units), x_old = x_new;
  absl::StatusOr<EsnMatrix> states = r.Collect(u, &x_new);
  ASSERT_TRUE(states.ok()) << states.status();
  const EsnMatrix old_states = OldStates(r, u, &x_old);
  EXPECT_EQ((*states - old_states).cwiseAbs().maxCoeff(), 0.0);

  ASSERT_TRUE(esn->Fit(u, y).ok());
  const EsnMatrix old_w_out = OldFit(r, u, y, 100, 1e-8);
  x_new.setZero();
  x_old.setZero();
  absl::StatusOr<EsnMatrix> pred = esn->Predict(u, &x_new);
  ASSERT_TRUE(pred.ok()) << pred.status();
  absl::StatusOr<EsnMatrix> pred_test = esn->Predict(test_u, &x_new);
  ASSERT_TRUE(pred_test.ok()) << pred_test.status();
  const EsnMatrix old_pred = OldPredict(r, old_w_out, u, &x_old);
  const EsnMatrix old_pred_test = OldPredict(r, old_w_out, test_u, &x_old);
  EXPECT_LE((*pred - old_pred).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_LE((*pred_test - old_pred_test).cwiseAbs().maxCoeff(), 1e-12);
  // Closed loop from there, each output fed back: the graph's readout adds
  // as the old one did (u . W_u + w_b, then + x . W_x), except that for a
  // single output Eigen took a dot product, whose order differs.
  absl::StatusOr<EsnMatrix> gen =
      esn->Generate(series.row(1299).transpose(), 50, &x_new);
  ASSERT_TRUE(gen.ok()) << gen.status();
  const EsnMatrix old_gen =
      OldGenerate(r, old_w_out, series.row(1299).transpose(), 50, &x_old);
  std::printf("closed loop, 50 steps: largest difference %.3g\n",
              (*gen - old_gen).cwiseAbs().maxCoeff());
  EXPECT_LE((*gen - old_gen).cwiseAbs().maxCoeff(), 1e-12);
  // A fit worth comparing: the predictions follow the series.
  EXPECT_LT(Nrmse(*pred_test, series.middleRows(train + 1, 299)), 0.05);
}

// Both products of the old ESN (dense at 100 units from 0.1, at 500 from
// 0.25), and inputs wider than Eigen's two-lane packets.
INSTANTIATE_TEST_SUITE_P(OldProducts, EsnAgreementTest,
                         ::testing::Values(Case{100, 1, 0.1}, Case{100, 5, 0.1},
                                           Case{150, 3, 0.05},
                                           Case{500, 1, 0.3},
                                           Case{500, 4, 0.1}));

}  // namespace
}  // namespace rill
