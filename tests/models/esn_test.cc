#include "models/esn.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

#include "core/checkpoint.h"
#include "core/file_io.h"
#include "core/npy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/mackey_glass.h"
#include "tests/test_util.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

EsnMatrix Golden(const std::string& name) {
  absl::StatusOr<Tensor> t =
      ReadNpy("tests/models/testdata/esn_golden_" + name + ".npy", 1 << 20);
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return EsnMatrix();
  const int64_t rows = t->shape().rank() == 0 ? 1 : t->shape().dim(0);
  const int64_t cols = t->shape().rank() == 2 ? t->shape().dim(1) : 1;
  return Eigen::Map<const EsnMatrix>(t->data<double>(), rows, cols);
}

// The one-step task on a series: inputs s[0..T-2], targets s[1..T-1].
struct Task {
  EsnMatrix train_u, train_y, test_u, test_y;
};
Task OneStep(const EsnMatrix& s, int64_t train_steps) {
  const int64_t n = s.rows() - 1;
  return {s.topRows(train_steps), s.middleRows(1, train_steps),
          s.middleRows(train_steps, n - train_steps),
          s.bottomRows(n - train_steps)};
}

EsnConfig Mg17Config(int64_t units) {
  EsnConfig c;
  c.set_units(units);
  c.set_spectral_radius(1.25);
  c.set_leak_rate(0.3);
  c.set_ridge(1e-5);
  c.set_warmup(100);
  c.set_seed(42);
  return c;
}

TEST(EsnTest, OneStepMackeyGlass17) {
  absl::StatusOr<EsnMatrix> s = MackeyGlass(2000);
  ASSERT_TRUE(s.ok()) << s.status();
  const Task task = OneStep(*s, 1600);  // The first 80% of 2000 steps.
  absl::StatusOr<Esn> esn = Esn::Create(Mg17Config(100), 1, 1);
  ASSERT_TRUE(esn.ok()) << esn.status();
  ASSERT_TRUE(esn->Fit(task.train_u, task.train_y).ok());
  // Test from the state teacher-forced through the training inputs.
  EsnVector x = EsnVector::Zero(100);
  ASSERT_TRUE(esn->Predict(task.train_u, &x).ok());
  absl::StatusOr<EsnMatrix> pred = esn->Predict(task.test_u, &x);
  ASSERT_TRUE(pred.ok()) << pred.status();
  const double nrmse = Nrmse(*pred, task.test_y);
  std::printf("MG17 one-step, 100 units: test NRMSE %.3e\n", nrmse);
  EXPECT_LT(nrmse, 0.01);
}

TEST(EsnTest, ClosedLoopMackeyGlass17) {
  absl::StatusOr<EsnMatrix> s = MackeyGlass(2000);
  ASSERT_TRUE(s.ok()) << s.status();
  const int64_t train = 1600, horizon = 100;
  EsnConfig c = Mg17Config(500);
  c.set_ridge(1e-8);
  const Task task = OneStep(*s, train);
  absl::StatusOr<Esn> esn = Esn::Create(c, 1, 1);
  ASSERT_TRUE(esn.ok()) << esn.status();
  ASSERT_TRUE(esn->Fit(task.train_u, task.train_y).ok());
  // Teacher-force s[0..train-1], then generate from u0 = s[train]: row i
  // forecasts s[train + 1 + i].
  EsnVector x = EsnVector::Zero(500);
  ASSERT_TRUE(esn->Predict(task.train_u, &x).ok());
  absl::StatusOr<EsnMatrix> gen =
      esn->Generate(s->row(train).transpose(), horizon, &x);
  ASSERT_TRUE(gen.ok()) << gen.status();
  const double nrmse = Nrmse(*gen, s->middleRows(train + 1, horizon));
  std::printf("MG17 closed loop, 500 units, 100 steps: NRMSE %.3e\n", nrmse);
  EXPECT_LT(nrmse, 0.1);
}

TEST(EsnTest, GoldenStatesAndReadout) {
  const EsnMatrix params = Golden("params");
  const double leak = params(0, 0), ridge = params(1, 0);
  const int64_t warmup = static_cast<int64_t>(params(2, 0));
  const EsnMatrix w = Golden("w"), u = Golden("u"), y = Golden("y");
  absl::StatusOr<Reservoir> r = Reservoir::FromWeights(
      CsrMatrix::FromDense(w), Golden("w_in"), Golden("b").col(0), leak);
  ASSERT_TRUE(r.ok()) << r.status();
  // Both products, whichever the threshold picks.
  EsnVector x = EsnVector::Zero(w.rows());
  absl::StatusOr<EsnMatrix> states =
      Reservoir::ForceProduct(*r, false).Collect(u, &x);
  ASSERT_TRUE(states.ok()) << states.status();
  EXPECT_LE((*states - Golden("states")).cwiseAbs().maxCoeff(), 1e-10);
  // The dense product gives the same states.
  EsnVector xd = EsnVector::Zero(w.rows());
  absl::StatusOr<EsnMatrix> dense =
      Reservoir::ForceProduct(*r, true).Collect(u, &xd);
  ASSERT_TRUE(dense.ok());
  EXPECT_LE((*dense - Golden("states")).cwiseAbs().maxCoeff(), 1e-10);

  for (bool reg_bias : {false, true}) {
    EsnConfig c;
    c.set_ridge(ridge);
    c.set_warmup(warmup);
    c.set_regularize_bias(reg_bias);
    absl::StatusOr<Esn> esn = Esn::FromReservoir(c, *r, y.cols());
    ASSERT_TRUE(esn.ok()) << esn.status();
    ASSERT_TRUE(esn->Fit(u, y).ok());
    const EsnMatrix want = Golden(reg_bias ? "w_out_regbias" : "w_out");
    EXPECT_LE((esn->w_out() - want).cwiseAbs().maxCoeff(), 1e-10)
        << "regularize_bias " << reg_bias;
  }
}

TEST(EsnTest, AccumulatingTwoSequencesEqualsOneFitOverBoth) {
  // Memory-bounded accumulation: chunks and sequences add up exactly.
  absl::StatusOr<EsnMatrix> s = MackeyGlass(1401);
  ASSERT_TRUE(s.ok());
  EsnConfig c = Mg17Config(50);
  c.set_warmup(20);
  // Well conditioned, so summation order (chunks of 512 against blocks of
  // 680) moves W_out only by rounding.
  c.set_ridge(1e-2);
  absl::StatusOr<Esn> a = Esn::Create(c, 1, 1);
  ASSERT_TRUE(a.ok());
  Esn b = *a;
  const EsnMatrix u = s->topRows(1400), y = s->bottomRows(1400);
  a->BeginFit();
  ASSERT_TRUE(a->Accumulate(u.topRows(700), y.topRows(700)).ok());
  ASSERT_TRUE(a->Accumulate(u.bottomRows(700), y.bottomRows(700)).ok());
  ASSERT_TRUE(a->EndFit().ok());
  // The reference: the same rows collected in one go, fitted directly.
  RidgeAccumulator acc(1, 50, 1);
  for (int64_t part = 0; part < 2; ++part) {
    EsnVector x = EsnVector::Zero(50);
    absl::StatusOr<EsnMatrix> st =
        b.reservoir().Collect(u.middleRows(700 * part, 700), &x);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(acc.Add(u.middleRows(700 * part + 20, 680), st->bottomRows(680),
                        y.middleRows(700 * part + 20, 680))
                    .ok());
  }
  absl::StatusOr<EsnMatrix> want = acc.Solve(c.ridge(), false);
  ASSERT_TRUE(want.ok());
  EXPECT_LE((a->w_out() - *want).cwiseAbs().maxCoeff(),
            1e-8 * want->cwiseAbs().maxCoeff());
}

// A fit's bits must not depend on the caches the CPU reports: Eigen would
// size its product blocks from them (README's residual line differed
// between Zen 4 and Zen 5 machines before the ESN fixed the sizes).
TEST(EsnTest, FitIsTheSameWhateverCachesTheMachineReports) {
  absl::StatusOr<EsnMatrix> s = MackeyGlass(1201);
  ASSERT_TRUE(s.ok());
  const EsnMatrix u = s->topRows(1200), y = s->bottomRows(1200);
  auto fit = [&](std::ptrdiff_t l1, std::ptrdiff_t l2, std::ptrdiff_t l3) {
    Eigen::setCpuCacheSizes(l1, l2, l3);  // As another machine reports.
    absl::StatusOr<Esn> esn = Esn::Create(Mg17Config(100), 1, 1);
    EXPECT_TRUE(esn.ok());
    EXPECT_TRUE(esn->Fit(u, y).ok());
    return esn->w_out();
  };
  const EsnMatrix small_caches = fit(4 << 10, 64 << 10, 256 << 10);
  const EsnMatrix large_caches = fit(64 << 10, 4 << 20, 256 << 20);
  ASSERT_EQ(small_caches.size(), large_caches.size());
  EXPECT_EQ(std::memcmp(small_caches.data(), large_caches.data(),
                        small_caches.size() * sizeof(double)),
            0);
}

TEST(EsnTest, SameSeedSameReservoir) {
  EsnConfig c = Mg17Config(80);
  c.set_bias_scaling(0.2);
  absl::StatusOr<Reservoir> a = Reservoir::Create(c, 2);
  absl::StatusOr<Reservoir> b = Reservoir::Create(c, 2);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->w().val, b->w().val);
  EXPECT_EQ(a->w().col, b->w().col);
  EXPECT_EQ(a->w_in(), b->w_in());
  EXPECT_EQ(a->b(), b->b());
  absl::StatusOr<double> rho = SpectralRadius(a->w().ToDense());
  ASSERT_TRUE(rho.ok());
  EXPECT_NEAR(*rho, 1.25, 1e-9);
  c.set_seed(43);
  absl::StatusOr<Reservoir> other = Reservoir::Create(c, 2);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(a->w().val, other->w().val);
}

TEST(EsnTest, SaveLoadRoundTripPredictsIdentically) {
  absl::StatusOr<EsnMatrix> s = MackeyGlass(600);
  ASSERT_TRUE(s.ok());
  EsnConfig c = Mg17Config(60);
  c.set_bias_scaling(0.1);
  absl::StatusOr<Esn> esn = Esn::Create(c, 1, 1);
  ASSERT_TRUE(esn.ok());
  const Task task = OneStep(*s, 400);
  ASSERT_TRUE(esn->Fit(task.train_u, task.train_y).ok());
  const std::string path = TestTempPath("esn.rckpt");
  ASSERT_TRUE(esn->Save(path).ok());
  absl::StatusOr<Esn> back = Esn::Load(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->config().SerializeAsString(),
            esn->config().SerializeAsString());
  EsnVector x1 = EsnVector::Zero(60), x2 = EsnVector::Zero(60);
  absl::StatusOr<EsnMatrix> p1 = esn->Predict(task.test_u, &x1);
  absl::StatusOr<EsnMatrix> p2 = back->Predict(task.test_u, &x2);
  ASSERT_TRUE(p1.ok() && p2.ok());
  EXPECT_EQ(*p1, *p2);  // Bit for bit.
  absl::StatusOr<EsnMatrix> g1 = esn->Generate(s->row(0).transpose(), 50, &x1);
  absl::StatusOr<EsnMatrix> g2 = back->Generate(s->row(0).transpose(), 50, &x2);
  ASSERT_TRUE(g1.ok() && g2.ok());
  EXPECT_EQ(*g1, *g2);
}

// Found by the esn_config fuzz target: a config naming its series or
// output with bytes that are not UTF-8 (a valid Linux path) saved a model
// whose config no longer parsed, so Load refused it.
TEST(EsnTest, SavedModelLoadsWhateverTheConfigNamesItsFiles) {
  absl::StatusOr<EsnMatrix> s = MackeyGlass(200);
  ASSERT_TRUE(s.ok());
  EsnConfig c = Mg17Config(20);
  c.set_warmup(10);
  c.set_series("s\xe7ries.npy");
  c.set_output(
      "m\xe7"
      "del.rckpt");  // Split: \xe7d would be one escape.
  absl::StatusOr<Esn> esn = Esn::Create(c, 1, 1);
  ASSERT_TRUE(esn.ok()) << esn.status();
  const Task task = OneStep(*s, 150);
  ASSERT_TRUE(esn->Fit(task.train_u, task.train_y).ok());
  const std::string path = TestTempPath("latin1.rckpt");
  ASSERT_TRUE(esn->Save(path).ok());
  absl::StatusOr<Esn> back = Esn::Load(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->config().series(), "");
  EXPECT_EQ(back->config().units(), 20);
}

TEST(EsnTest, LoadNamesTheFileAndTheBadTensor) {
  absl::StatusOr<EsnMatrix> s = MackeyGlass(300);
  ASSERT_TRUE(s.ok());
  absl::StatusOr<Esn> esn = Esn::Create(Mg17Config(20), 1, 1);
  ASSERT_TRUE(esn.ok());
  ASSERT_TRUE(esn->Fit(s->topRows(299), s->bottomRows(299)).ok());
  const std::string path = TestTempPath("bad.rckpt");
  ASSERT_TRUE(esn->Save(path).ok());
  absl::StatusOr<Checkpoint> ck = ReadCheckpoint(path);
  ASSERT_TRUE(ck.ok());
  // W_in with the wrong number of rows.
  Checkpoint wrong = *ck;
  for (auto& [name, t] : wrong.tensors) {
    if (name == "esn/w_in") t = *Tensor::Allocate(DType::kF64, Shape{3, 1});
  }
  ASSERT_TRUE(WriteCheckpoint(path, wrong).ok());
  absl::StatusOr<Esn> back = Esn::Load(path);
  ASSERT_FALSE(back.ok());
  EXPECT_THAT(std::string(back.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(back.status().message()), HasSubstr("esn/w_in"));
  // A missing tensor.
  Checkpoint missing = *ck;
  missing.tensors.erase(std::find_if(
      missing.tensors.begin(), missing.tensors.end(),
      [](const auto& entry) { return entry.first == "esn/w_out"; }));
  ASSERT_TRUE(WriteCheckpoint(path, missing).ok());
  back = Esn::Load(path);
  ASSERT_FALSE(back.ok());
  EXPECT_THAT(std::string(back.status().message()), HasSubstr("esn/w_out"));
  // A column index out of range.
  Checkpoint col = *ck;
  for (auto& [name, t] : col.tensors) {
    if (name == "esn/w_col" && t.num_elements() > 0) t.data<int64_t>()[0] = 99;
  }
  ASSERT_TRUE(WriteCheckpoint(path, col).ok());
  back = Esn::Load(path);
  ASSERT_FALSE(back.ok());
  EXPECT_THAT(std::string(back.status().message()), HasSubstr("W: row"));
}

TEST(EsnTest, BadConfigFieldsAreNamed) {
  struct Case {
    const char* field;
    void (*set)(EsnConfig&);
  };
  const Case cases[] = {
      {"units", [](EsnConfig& c) { c.set_units(0); }},
      {"spectral_radius", [](EsnConfig& c) { c.set_spectral_radius(-1); }},
      {"connectivity", [](EsnConfig& c) { c.set_connectivity(1.5); }},
      {"input_scaling", [](EsnConfig& c) { c.set_input_scaling(-2); }},
      {"input_connectivity",
       [](EsnConfig& c) { c.set_input_connectivity(-0.1); }},
      {"bias_scaling", [](EsnConfig& c) { c.set_bias_scaling(-1); }},
      {"leak_rate", [](EsnConfig& c) { c.set_leak_rate(1.5); }},
      {"ridge", [](EsnConfig& c) { c.set_ridge(-1); }},
      {"warmup", [](EsnConfig& c) { c.set_warmup(-3); }},
      {"train_fraction", [](EsnConfig& c) { c.set_train_fraction(1); }},
      {"leak_rate",
       [](EsnConfig& c) {
         c.set_leak_rate(std::numeric_limits<double>::quiet_NaN());
       }},
  };
  for (const Case& k : cases) {
    EsnConfig c = Mg17Config(10);
    k.set(c);
    absl::StatusOr<Esn> esn = Esn::Create(c, 1, 1);
    ASSERT_FALSE(esn.ok()) << k.field;
    EXPECT_THAT(std::string(esn.status().message()),
                HasSubstr(std::string("EsnConfig.") + k.field));
  }
  EsnConfig defaults;
  defaults.set_units(5);
  absl::StatusOr<EsnConfig> r = ResolveEsnConfig(defaults);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->spectral_radius(), 0.9);
  EXPECT_EQ(r->leak_rate(), 1);
  EXPECT_FALSE(r->regularize_bias());
}

// An unset ridge is 1e-8; an explicit 0 is least squares, which on a
// full-rank system solves ZᵀZ W_outᵀ = ZᵀY and on a singular one is refused.
TEST(EsnTest, RidgeZeroIsLeastSquares) {
  EsnConfig c;
  c.set_units(5);
  EXPECT_EQ(ResolveEsnConfig(c)->ridge(), 1e-8);
  c.set_ridge(0);
  EXPECT_EQ(ResolveEsnConfig(c)->ridge(), 0);

  // One input, no reservoir rows that matter: y = 2 + 3u exactly.
  RidgeAccumulator acc(1, 1, 1);
  EsnMatrix u(4, 1), x(4, 1), y(4, 1);
  u << 0, 1, 2, 3;
  x << 1, 0, 0, 1;
  y << 2 + 5, 5, 8, 11 + 5;  // 2 + 3u + 5x.
  ASSERT_TRUE(acc.Add(u, x, y).ok());
  ReadoutFitStats stats;
  absl::StatusOr<EsnMatrix> w = acc.Solve(0, false, &stats);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_NEAR((*w)(0, 0), 2, 1e-12);
  EXPECT_NEAR((*w)(0, 1), 3, 1e-12);
  EXPECT_NEAR((*w)(0, 2), 5, 1e-12);
  EXPECT_LT(stats.residual, 1e-14);
  EXPECT_GT(stats.rcond, 0);

  // The state column equals the input: singular.
  RidgeAccumulator collinear(1, 1, 1);
  ASSERT_TRUE(collinear.Add(u, u, y).ok());
  absl::StatusOr<EsnMatrix> refused = collinear.Solve(0, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("singular to working precision"));
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("set a ridge > 0"));
  EXPECT_TRUE(collinear.Solve(1e-8, false).ok());
}

TEST(EsnTest, ShapeNanAndWarmupErrors) {
  absl::StatusOr<Esn> esn = Esn::Create(Mg17Config(10), 2, 1);
  ASSERT_TRUE(esn.ok());
  const EsnMatrix u = EsnMatrix::Ones(200, 2), y = EsnMatrix::Ones(200, 1);
  // Wrong input width.
  absl::Status st = esn->Fit(EsnMatrix::Ones(200, 3), y);
  EXPECT_THAT(std::string(st.message()), HasSubstr("3 columns"));
  // Wrong target shape.
  st = esn->Fit(u, EsnMatrix::Ones(199, 1));
  EXPECT_THAT(std::string(st.message()), HasSubstr("ESN target is [199, 1]"));
  // A NaN names its row.
  EsnMatrix nan = u;
  nan(57, 1) = std::numeric_limits<double>::quiet_NaN();
  st = esn->Fit(nan, y);
  EXPECT_THAT(std::string(st.message()), HasSubstr("ESN input row 57"));
  // Warm-up (100) not shorter than the series.
  st = esn->Fit(u.topRows(100), y.topRows(100));
  EXPECT_THAT(std::string(st.message()), HasSubstr("EsnConfig.warmup (100)"));
  // Not fitted yet.
  EsnVector x = EsnVector::Zero(10);
  EXPECT_FALSE(esn->Predict(u, &x).ok());
  // Generate needs outputs == inputs.
  ASSERT_TRUE(esn->Fit(u, y).ok());
  EXPECT_THAT(
      std::string(esn->Generate(EsnVector::Ones(2), 5, &x).status().message()),
      HasSubstr("outputs == inputs"));
  // A wrong-sized state.
  EsnVector small = EsnVector::Zero(3);
  EXPECT_FALSE(esn->Predict(u, &small).ok());
}

void WriteText(const std::string& path, const std::string& text) {
  ASSERT_TRUE(WriteFileAtomic(path, text).ok());
}

TEST(EsnTest, LoadSeriesCsvAndNpy) {
  const std::string csv = TestTempPath("s.csv");
  WriteText(csv, "1,2\n3, 4\n\n5,6\n");
  absl::StatusOr<EsnMatrix> m = LoadSeries(csv);
  ASSERT_TRUE(m.ok()) << m.status();
  EsnMatrix want(3, 2);
  want << 1, 2, 3, 4, 5, 6;
  EXPECT_EQ(*m, want);

  WriteText(csv, "1,2\n3,nan\n");
  m = LoadSeries(csv);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr(csv + ":2"));
  WriteText(csv, "1,2\n3\n");
  m = LoadSeries(csv);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()),
              HasSubstr(csv + ":2: 1 fields"));
  WriteText(csv, "1,x\n");
  EXPECT_THAT(std::string(LoadSeries(csv).status().message()),
              HasSubstr("'x' is not a finite number"));

  const std::string npy = TestTempPath("s.npy");
  absl::StatusOr<Tensor> t = Tensor::Allocate(DType::kF32, Shape{4});
  ASSERT_TRUE(t.ok());
  for (int i = 0; i < 4; ++i) t->data<float>()[i] = i + 0.5f;
  ASSERT_TRUE(WriteNpy(npy, *t).ok());
  m = LoadSeries(npy);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rows(), 4);
  EXPECT_EQ(m->cols(), 1);
  EXPECT_EQ((*m)(3, 0), 3.5);
  t->data<float>()[2] = std::numeric_limits<float>::quiet_NaN();
  ASSERT_TRUE(WriteNpy(npy, *t).ok());
  m = LoadSeries(npy);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr(npy));
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("row 2"));
  absl::StatusOr<Tensor> cube = Tensor::Allocate(DType::kF64, Shape{2, 2, 2});
  ASSERT_TRUE(WriteNpy(npy, *cube).ok());
  EXPECT_THAT(std::string(LoadSeries(npy).status().message()),
              HasSubstr("[T] or [T, D]"));
  EXPECT_FALSE(LoadSeries(TestTempPath("s.txt")).ok());
}

// The activation setting: identity makes the reservoir linear (states of
// 2u are twice those of u, with no bias), relu keeps states non-negative
// from a zero start, and save/load keeps it.
TEST(EsnTest, ActivationIsASetting) {
  EsnMatrix u = EsnMatrix::Random(50, 1);
  for (const char* activation : {"identity", "relu", "tanh"}) {
    SCOPED_TRACE(activation);
    EsnConfig c = Mg17Config(20);
    c.set_spectral_radius(0.9);
    c.set_connectivity(0.5);
    c.set_warmup(5);
    c.set_activation(activation);
    absl::StatusOr<Esn> esn = Esn::Create(c, 1, 1);
    ASSERT_TRUE(esn.ok()) << esn.status();
    EXPECT_EQ(esn->config().activation(), activation);
    // With no bias: identity is linear; relu is positively homogeneous but
    // not odd; tanh is odd but not homogeneous.
    auto states = [&](const EsnMatrix& in) {
      EsnVector x = EsnVector::Zero(20);
      absl::StatusOr<EsnMatrix> s = esn->reservoir().Collect(in, &x);
      EXPECT_TRUE(s.ok()) << s.status();
      return s.ok() ? *s : EsnMatrix();
    };
    EsnMatrix one = states(u), two = states(2 * u), neg = states(-u);
    bool homogeneous = (two - 2 * one).cwiseAbs().maxCoeff() < 1e-12;
    bool odd = (neg + one).cwiseAbs().maxCoeff() < 1e-12;
    std::string a = activation;
    EXPECT_EQ(homogeneous, a != "tanh");
    EXPECT_EQ(odd, a != "relu");
    if (a == "relu") {
      EXPECT_GE(one.minCoeff(), 0.0);
    }
    absl::Status fit = esn->Fit(u.topRows(49), u.bottomRows(49));
    ASSERT_TRUE(fit.ok()) << fit;
    std::string path = TestTempPath(std::string(activation) + ".rckpt");
    ASSERT_TRUE(esn->Save(path).ok());
    absl::StatusOr<Esn> loaded = Esn::Load(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->reservoir().activation_name(), std::string(activation));
  }
  EsnConfig bad = Mg17Config(20);
  bad.set_activation("sigmoid");
  EXPECT_THAT(
      Esn::Create(bad, 1, 1).status().message(),
      HasSubstr("EsnConfig.activation: must be tanh, relu or identity"));
}

TEST(MackeyGlassTest, StartsAtX0AndStaysInItsRange) {
  absl::StatusOr<EsnMatrix> s = MackeyGlass(3000);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)(0, 0), 1.2);
  // The tau = 17 attractor lies within about [0.2, 1.4].
  EXPECT_GT(s->minCoeff(), 0.1);
  EXPECT_LT(s->maxCoeff(), 1.5);
  // The independent NumPy integration (make_esn_goldens.py).
  const EsnMatrix want = Golden("mackey_glass");
  EXPECT_LE((s->topRows(want.rows()) - want).cwiseAbs().maxCoeff(), 1e-10);
  MackeyGlassOptions bad;
  bad.sample_every = 0.15;
  EXPECT_FALSE(MackeyGlass(10, bad).ok());
}

}  // namespace
}  // namespace rill
