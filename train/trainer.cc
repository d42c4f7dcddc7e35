#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/checkpoint.h"
#include "core/dtype.h"
#include "core/limits.h"
#include "core/stopwatch.h"
#include "graph/autodiff.h"
#include "graph/fuse_recurrent.h"
#include "ops/shape_fns.h"
#include "train/freeze.h"
#include "train/init_from.h"
#include "train/progress.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

constexpr char kBestDir[] = "best";

// The training fields of a TrainConfig; the config layer checks the rest.
absl::Status CheckOptions(const TrainConfig& c) {
  if (c.loss().empty()) return FieldError("loss", "required");
  if (c.batch_size() < 1) {
    return FieldError("batch_size",
                      absl::StrCat(c.batch_size(), ": must be >= 1"));
  }
  if ((c.steps() > 0) == (c.epochs() > 0) || c.steps() < 0 || c.epochs() < 0) {
    return FieldError("steps", "give exactly one of steps and epochs, > 0");
  }
  ExecutorOptions precision;
  if (!c.precision().empty() && !SetPrecision(c.precision(), &precision).ok()) {
    return FieldError("precision",
                      absl::StrCat("\"", c.precision(),
                                   "\": choose f32 or bf16 (or bf16_all: "
                                   "every MatMul on bf16, whatever its size)"));
  }
  if (!(c.clip_global_norm() >= 0)) {
    return FieldError("clip_global_norm", "must be >= 0");
  }
  if (!(c.bucket_cap_mb() >= 0 && c.bucket_cap_mb() <= (1 << 20))) {
    return FieldError("bucket_cap_mb",
                      absl::StrCat(c.bucket_cap_mb(),
                                   ": must be in [0, 1048576] (MiB; 0: 25)"));
  }
  for (auto [name, value] :
       {std::pair{"accumulation_steps", c.accumulation_steps()},
        {"eval_every", c.eval_every()},
        {"checkpoint_every", c.checkpoint_every()},
        {"keep_checkpoints", c.keep_checkpoints()},
        {"log_every", c.log_every()},
        {"early_stopping_patience", c.early_stopping_patience()}}) {
    if (value < 0)
      return FieldError(name, absl::StrCat(value, ": must be >= 0"));
  }
  return absl::OkStatus();
}

std::string CheckpointName(int64_t step) {
  return absl::StrFormat("ckpt-%08d.rckpt", step);
}

// A writer killed mid-checkpoint leaves "ckpt-<step>.rckpt.tmp.XXXXXX"
// (WriteFileAtomic's temporary name) and never a partial checkpoint; a new
// run in the directory removes those leftovers.
void RemoveUnfinishedCheckpoints(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("ckpt-", 0) == 0 &&
        name.find(".rckpt.tmp.") != std::string::npos) {
      fs::remove(e.path(), ec);
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(ValidGraph graph,
                                                         TrainData data,
                                                         TrainOptions options) {
  RETURN_IF_ERROR(CheckOptions(options.config));
  RETURN_IF_ERROR(CheckDataset(graph, data.train, "data"));
  RETURN_IF_ERROR(CheckDataset(graph, data.validation, "validation_data"));
  std::unique_ptr<Trainer> t(new Trainer());
  t->config_ = std::move(options.config);
  t->options_ = std::move(options);
  t->accumulation_ = std::max<int64_t>(1, t->config_.accumulation_steps());
  t->train_ = std::move(data.train);
  t->validation_ = std::move(data.validation);
  RETURN_IF_ERROR(t->CheckDataSize());
  ASSIGN_OR_RETURN(t->parallel_,
                   DataParallel::Create(t->options_.communicator, t->config_,
                                        graph.proto(), t->train_.size()));
  if (t->parallel_ != nullptr && t->parallel_->rank() != 0) {
    t->options_.out_dir.clear();  // Rank 0 alone writes files.
    t->options_.tensorboard_dir.clear();
  }
  RETURN_IF_ERROR(t->Differentiate(std::move(graph)));
  RETURN_IF_ERROR(t->PlanBest());
  RETURN_IF_ERROR(t->Compile());
  RETURN_IF_ERROR(t->LoadInitialParameters());
  return t;
}

namespace {

// `forward` with its tagged recurrent layers running on the fused ops
// (graph/fuse_recurrent.h); `fused` gets how many the pass rewired.
// The dtype training computes in: that of every trained parameter, f32 or
// f64 (the optimizer state, accumulation, clipping and gradient averaging
// follow it). f64 runs on the reference backend alone, in f64 throughout.
absl::StatusOr<DType> TrainingDType(const ValidGraph& g,
                                    const std::vector<std::string>& trained,
                                    Backend backend,
                                    const std::string& precision) {
  DType dtype = DType::kF32;
  std::string first;
  for (const std::string& name : trained) {
    const DType d = g.info(g.FindNode(name)).dtypes[0];
    if (d != DType::kF32 && d != DType::kF64) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameter '", name, "' is ", DTypeName(d),
          ": trained parameters are f32 or f64 (freeze it to keep it)"));
    }
    if (first.empty()) {
      dtype = d;
      first = name;
    } else if (d != dtype) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter '", name, "' is ", DTypeName(d), " but '",
                       first, "' is ", DTypeName(dtype),
                       ": the trained parameters share one dtype, f32 or f64"));
    }
  }
  if (dtype == DType::kF64 && backend != Backend::kReference) {
    return absl::InvalidArgumentError(absl::StrCat(
        "parameter '", first, "' is f64: the ", BackendName(backend),
        " backend trains f32 only; train f64 on --backend reference"));
  }
  if (dtype == DType::kF64 && precision == "bf16") {
    return FieldError("precision", absl::StrCat("bf16: parameter '", first,
                                                "' is f64; bf16 computes "
                                                "over f32 parameters"));
  }
  return dtype;
}

// sum = (first ? 0 : sum) + add / steps, element-wise.
template <typename T>
void Accumulate(const Tensor& add, bool first, int64_t steps, Tensor& sum) {
  T* s = sum.data<T>();
  const T* a = add.data<T>();
  for (int64_t k = 0; k < add.num_elements(); ++k) {
    s[k] = (first ? T(0) : s[k]) + a[k] / steps;
  }
}

// Into one running sum, element by element (the order the f32 runs of
// the README were made with).
template <typename T>
void AddSquares(const Tensor& g, double& squares) {
  for (int64_t k = 0; k < g.num_elements(); ++k) {
    double v = g.data<T>()[k];
    squares += v * v;
  }
}

template <typename T>
void Scale(T scale, Tensor& g) {
  T* v = g.data<T>();
  for (int64_t k = 0; k < g.num_elements(); ++k) v[k] *= scale;
}

absl::StatusOr<ValidGraph> FuseRecurrent(ValidGraph forward, int* fused) {
  int64_t budget = forward.memory_budget();
  auto [loaded, info] = std::move(forward).Release();
  ASSIGN_OR_RETURN(*fused, FuseRecurrentLayers(&loaded.graph));
  if (*fused == 0) {
    return AssembleValidGraph(std::move(loaded), std::move(info), budget);
  }
  ValidateOptions options;
  options.memory_budget = budget;
  return ValidateGraph(std::move(loaded), options);
}

}  // namespace

absl::Status Trainer::CheckDataSize() const {
  if (train_.size() < config_.batch_size()) {
    return FieldError("batch_size",
                      absl::StrCat(config_.batch_size(), ": larger than the ",
                                   train_.size(), " training examples"));
  }
  // One update sees each example at most once; this also bounds the work
  // of a Step() by the data, whatever the config asks.
  if (accumulation_ > BatchesPerEpoch()) {
    return FieldError(
        "accumulation_steps",
        absl::StrCat(accumulation_, ": more than the ", BatchesPerEpoch(),
                     " batches in an epoch (", train_.size(),
                     " training examples, batch_size ", config_.batch_size(),
                     "); raise batch_size instead"));
  }
  return absl::OkStatus();
}

namespace {

bool IsMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

// A metric's labels or weights: a graph Input bound in the validation
// data, of `want` dims and one of `dtypes`.
absl::Status CheckMetricInput(const ValidGraph& g, const Dataset& validation,
                              const std::string& field, const std::string& name,
                              const Shape& want, const DTypeSet& dtypes,
                              const char* what) {
  const int node = g.FindNode(name);
  if (node < 0 || g.node(node).op() != "Input") {
    return FieldError(
        field, absl::StrCat("'", name, "' is not an Input of ", "the graph"));
  }
  if (std::find(validation.inputs.begin(), validation.inputs.end(), name) ==
      validation.inputs.end()) {
    return FieldError(field, absl::StrCat("'", name, "' is not bound in the ",
                                          "validation data"));
  }
  const DType dtype = g.info(node).dtypes[0];
  const Shape& shape = g.info(node).shapes[0];
  if (!dtypes.Contains(dtype)) {
    return FieldError(field, absl::StrCat("'", name, "' is ", DTypeName(dtype),
                                          " but must be ", what));
  }
  if (!ShapesCompatible(shape, want)) {
    return FieldError(field,
                      absl::StrCat("'", name, "' has shape ", shape.ToString(),
                                   " but must have the logits' shape without "
                                   "its last axis, ",
                                   want.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ValidGraph> Trainer::AddMetrics(ValidGraph forward) {
  if (config_.metric().empty()) return forward;
  std::vector<Node> argmax;
  for (int i = 0; i < config_.metric_size(); ++i) {
    const Metric& m = config_.metric(i);
    const std::string field = absl::StrCat("metric[", i, "]");
    if (!IsMetricName(m.name())) {
      return FieldError(field + ".name",
                        absl::StrCat("'", m.name(), "': give lowercase ",
                                     "letters, digits and _"));
    }
    const std::string column = "val_" + m.name();
    for (const MetricPlan& other : metrics_) {
      if (other.column == column) {
        return FieldError(field + ".name",
                          absl::StrCat("'", m.name(), "' is used twice"));
      }
    }
    absl::StatusOr<MetricKind> kind = ParseMetricKind(m.kind());
    if (!kind.ok()) return Annotate(kind.status(), field + ".kind");
    if (validation_.size() == 0) {
      return FieldError(field,
                        "needs validation data (validation_split or "
                        "validation_data)");
    }
    absl::StatusOr<TensorRef> ref = forward.Resolve(m.logits());
    if (m.logits().empty() || !ref.ok()) {
      return FieldError(field + ".logits", absl::StrCat("'", m.logits(),
                                                        "' is not a tensor of "
                                                        "the graph"));
    }
    const DType dtype = forward.info(ref->node).dtypes[ref->output];
    const Shape& shape = forward.info(ref->node).shapes[ref->output];
    if (!kFloatTypes.Contains(dtype) || shape.rank() < 1 ||
        shape.dim(shape.rank() - 1) < 1) {
      return FieldError(field + ".logits",
                        absl::StrCat("'", m.logits(), "' is ", DTypeName(dtype),
                                     shape.ToString(),
                                     " but must be floats [..., C] with "
                                     "C, the number of classes, known"));
    }
    std::vector<int64_t> dims = shape.dims();
    const int64_t classes = dims.back();
    dims.pop_back();
    RETURN_IF_ERROR(CheckMetricInput(
        forward, validation_, field + ".labels", m.labels(), Shape(dims),
        DTypeSet{DType::kI32, DType::kI64}, "i32 or i64 class ids"));
    if (!m.weights().empty()) {
      RETURN_IF_ERROR(CheckMetricInput(forward, validation_, field + ".weights",
                                       m.weights(), Shape(dims), kFloatTypes,
                                       "f32 or f64"));
    }
    Node n;
    n.set_name(absl::StrCat("metric/", m.name(), "/argmax"));
    n.set_op("ArgMax");
    n.add_input(m.logits());
    argmax.push_back(n);
    std::optional<int64_t> ignore;
    if (m.has_ignore_label()) ignore = m.ignore_label();
    metrics_.push_back({column, n.name(), m.labels(), m.weights(),
                        MetricCounts(*kind, classes, ignore)});
  }
  const int64_t budget = forward.memory_budget();
  LoadedGraph loaded = std::move(forward).Release().first;
  for (Node& n : argmax) *loaded.graph.add_node() = std::move(n);
  ValidateOptions options;
  options.memory_budget = budget;
  absl::StatusOr<ValidGraph> g = ValidateGraph(std::move(loaded), options);
  if (!g.ok()) return Annotate(g.status(), "metric");
  return g;
}

absl::Status Trainer::PlanBest() {
  const std::string& keep = config_.keep_best().metric();
  if (keep.empty() && config_.early_stopping_patience() == 0) {
    return absl::OkStatus();
  }
  const std::string field =
      keep.empty() ? "early_stopping_patience" : "keep_best.metric";
  if (validation_.size() == 0) {
    return FieldError(field,
                      "needs validation data (validation_split or "
                      "validation_data)");
  }
  watched_ = keep.empty() ? "val_loss" : keep;
  std::vector<std::string> choices = {"val_loss"};
  for (const MetricPlan& m : metrics_) choices.push_back(m.column);
  if (std::find(choices.begin(), choices.end(), watched_) == choices.end()) {
    return FieldError(
        field, absl::StrCat("'", watched_, "' is not measured; ",
                            "choose one of ", absl::StrJoin(choices, ", ")));
  }
  higher_is_better_ = watched_ != "val_loss";
  return absl::OkStatus();
}

absl::Status Trainer::Differentiate(ValidGraph forward) {
  ASSIGN_OR_RETURN(forward, AddMetrics(std::move(forward)));
  if (options_.fuse) {
    ASSIGN_OR_RETURN(
        forward, FuseRecurrent(std::move(forward), &fused_recurrent_layers_));
  }
  ExecutorOptions options;
  options.backend = options_.backend;
  options.check_numerics = options_.check_numerics;
  if (!config_.precision().empty()) {
    RETURN_IF_ERROR(SetPrecision(config_.precision(), &options));
  }
  // Steps run in training mode; Evaluate() switches to inference mode.
  options.training = true;
  std::vector<std::string> names;
  for (int i = 0; i < forward.num_nodes(); ++i) {
    if (forward.node_op(i) == "Parameter")
      names.push_back(forward.node(i).name());
  }
  ASSIGN_OR_RETURN(FreezePlan freeze, PlanFreeze(config_, names));
  for (const std::string& warning : freeze.warnings) Warn(warning);
  frozen_names_ = freeze.frozen;
  ASSIGN_OR_RETURN(dtype_, TrainingDType(forward, freeze.trained,
                                         options.backend, config_.precision()));
  GradientRequest request;
  request.losses = {config_.loss()};
  // Frozen parameters get no gradient, nor the nodes only they need.
  request.wrt = freeze.trained;
  absl::StatusOr<GradientGraph> grad =
      BuildGradientGraph(std::move(forward), request);
  if (!grad.ok()) return Annotate(grad.status(), "loss");
  param_names_ = grad->wrt;
  fetches_ = {config_.loss()};
  fetches_.insert(fetches_.end(), grad->gradients.begin(),
                  grad->gradients.end());
  ASSIGN_OR_RETURN(executor_,
                   Executor::Create(std::move(grad->graph), options));
  if (!executor_->precision_note().empty()) {
    Log(absl::StrCat("note: ", executor_->precision_note()));
  }
  return absl::OkStatus();
}

absl::Status Trainer::Compile() {
  std::vector<Shape> shapes;
  for (const std::string& name : param_names_) {
    // Not drawn here: a checkpoint (--resume, init_from) may replace them.
    Tensor* value = executor_->parameter_buffer(name);
    params_.push_back(value);
    shapes.push_back(value->shape());
  }
  for (const std::string& name : frozen_names_) {
    frozen_.push_back(executor_->parameter_buffer(name));
  }
  ASSIGN_OR_RETURN(optimizer_,
                   ParameterOptimizer::Create(
                       OptimizerForTrained(config_.optimizer(),
                                           {param_names_, frozen_names_}),
                       param_names_, shapes, dtype_));
  if (config_.steps() > 0) {
    total_steps_ = config_.steps();
  } else {
    absl::StatusOr<int64_t> all_batches = CheckedMul(
        config_.epochs(), BatchesPerEpoch(), "epochs x batches per epoch");
    if (!all_batches.ok()) return Annotate(all_batches.status(), "epochs");
    total_steps_ = std::max<int64_t>(1, *all_batches / accumulation_);
  }
  ASSIGN_OR_RETURN(LearningRateSchedule schedule,
                   LearningRateSchedule::Create(
                       config_.schedule(), config_.optimizer().learning_rate(),
                       total_steps_));
  schedule_ = std::make_unique<LearningRateSchedule>(schedule);
  order_ = std::make_unique<BatchOrder>(train_.size(), config_.batch_size(),
                                        config_.shuffle(), config_.seed());
  // The plan is compiled for batch-shaped inputs; Step() overwrites them.
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < train_.arrays.size(); ++i) {
    std::vector<int64_t> dims = train_.arrays[i].shape().dims();
    dims[0] = LocalBatch();
    ASSIGN_OR_RETURN(feeds[train_.inputs[i]],
                     Tensor::Allocate(train_.arrays[i].dtype(), Shape(dims)));
  }
  absl::StatusOr<PreparedRun> run = executor_->Prepare(feeds, fetches_);
  if (!run.ok()) return Annotate(run.status(), "data");
  run_ = std::make_unique<PreparedRun>(*std::move(run));
  for (const std::string& input : train_.inputs) {
    run_inputs_.push_back(run_->input(input));
  }
  for (size_t p = 0; p < params_.size(); ++p) {
    if (accumulation_ == 1) {
      grads_.push_back(&run_->outputs()[p + 1]);
      continue;
    }
    ASSIGN_OR_RETURN(
        Tensor sum, Tensor::Allocate(params_[p]->dtype(), params_[p]->shape()));
    accumulated_.push_back(std::move(sum));
  }
  for (Tensor& sum : accumulated_) grads_.push_back(&sum);
  if (parallel_ == nullptr) return absl::OkStatus();
  const std::vector<int>& final_kernels = run_->fetch_final_kernels();
  RETURN_IF_ERROR(parallel_->PlanBuckets(
      grads_, std::vector<int>(final_kernels.begin() + 1, final_kernels.end()),
      run_->num_kernels()));
  // In a step's last backward pass, each gradient goes to its bucket as
  // soon as it is final (after the accumulated sum takes it).
  gradient_ready_ = [this](size_t fetch) -> absl::Status {
    if (fetch == 0) return absl::OkStatus();  // The loss.
    AccumulateGradient(fetch - 1, accumulation_ - 1);
    return parallel_->GradientReady(fetch - 1);
  };
  return absl::OkStatus();
}

void Trainer::AccumulateGradient(size_t p, int64_t micro_step) {
  if (accumulation_ == 1) return;  // grads_ are the run's own outputs.
  const Tensor& g = run_->outputs()[p + 1];
  if (dtype_ == DType::kF64) {
    Accumulate<double>(g, micro_step == 0, accumulation_, accumulated_[p]);
  } else {
    Accumulate<float>(g, micro_step == 0, accumulation_, accumulated_[p]);
  }
}

absl::StatusOr<StepResult> Trainer::Step() {
  StepResult result;
  for (int64_t a = 0; a < accumulation_; ++a) {
    const int64_t* rows = order_->Next();
    if (parallel_ != nullptr) rows = parallel_->Shard(rows);
    for (size_t i = 0; i < run_inputs_.size(); ++i) {
      if (run_inputs_[i] == nullptr) continue;  // Not needed by the loss.
      RETURN_IF_ERROR(
          train_.arrays[i].Gather(rows, LocalBatch(), *run_inputs_[i]));
    }
    // Data-parallel, the last backward pass sends gradients as it goes.
    const bool overlap = parallel_ != nullptr && a + 1 == accumulation_;
    RETURN_IF_ERROR(overlap ? run_->Run(gradient_ready_) : run_->Run());
    result.loss += run_->outputs()[0].ElementAsDouble(0) / accumulation_;
    if (overlap) continue;
    for (size_t p = 0; p < params_.size(); ++p) AccumulateGradient(p, a);
  }
  if (parallel_ != nullptr) {
    RETURN_IF_ERROR(parallel_->FinishStep(
        &result.loss, options_.stop != nullptr && options_.stop->load()));
  }
  double squares = 0;
  for (const Tensor* g : grads_) {
    if (dtype_ == DType::kF64) {
      AddSquares<double>(*g, squares);
    } else {
      AddSquares<float>(*g, squares);
    }
  }
  result.grad_norm = std::sqrt(squares);
  if (!std::isfinite(result.loss) || !std::isfinite(result.grad_norm)) {
    return absl::OutOfRangeError(absl::StrCat(
        "step ", step_ + 1, ": the ",
        std::isfinite(result.loss) ? "gradient norm" : "loss", " is ",
        std::isfinite(result.loss) ? result.grad_norm : result.loss,
        "; rerun with --check_numerics to find the node that produced it"));
  }
  double clip = config_.clip_global_norm();
  if (clip > 0 && result.grad_norm > clip) {
    // The gradients are the plan's (or the accumulator's) own buffers,
    // rewritten every step, so scaling them in place is safe.
    const double scale = clip / result.grad_norm;
    for (const Tensor* g : grads_) {
      if (dtype_ == DType::kF64) {
        Scale<double>(scale, *const_cast<Tensor*>(g));
      } else {
        Scale<float>(static_cast<float>(scale), *const_cast<Tensor*>(g));
      }
    }
  }
  result.lr = schedule_->At(step_);
  RETURN_IF_ERROR(optimizer_->Step(params_, grads_, result.lr));
  ++step_;
  return result;
}

absl::StatusOr<double> Trainer::Evaluate() {
  ASSIGN_OR_RETURN(Evaluation e, EvaluateAll());
  return e.loss;
}

absl::StatusOr<Evaluation> Trainer::EvaluateAll() {
  Evaluation e;
  e.loss = std::nan("");
  int64_t n = validation_.size();
  if (n == 0) return e;
  std::vector<std::string> fetches = {config_.loss()};
  for (MetricPlan& m : metrics_) {
    fetches.push_back(m.predictions);
    m.counts.Reset();
  }
  // Dropout off, as PyTorch's model.eval(), on the trained values in place.
  executor_->set_training(false);
  struct TrainingAgain {
    Executor* executor;
    ~TrainingAgain() { executor->set_training(true); }
  } training_again{executor_.get()};
  Executor* executor = executor_.get();
  double total = 0;
  // Data-parallel, rank r evaluates batches r, r+N, ... of the ones a
  // single process runs (the same rows, so each batch's figures are the
  // same), and the sums are reduced below.
  const int64_t rank = parallel_ != nullptr ? parallel_->rank() : 0;
  const int64_t ranks = parallel_ != nullptr ? parallel_->size() : 1;
  for (int64_t begin = rank * config_.batch_size(); begin < n;
       begin += ranks * config_.batch_size()) {
    int64_t count = std::min(config_.batch_size(), n - begin);
    std::map<std::string, Tensor> feeds;
    std::vector<int64_t> rows(count);
    for (int64_t i = 0; i < count; ++i) rows[i] = begin + i;
    for (size_t i = 0; i < validation_.arrays.size(); ++i) {
      const DataArray& a = validation_.arrays[i];
      std::vector<int64_t> dims = a.shape().dims();
      dims[0] = count;
      ASSIGN_OR_RETURN(Tensor batch, Tensor::Allocate(a.dtype(), Shape(dims)));
      RETURN_IF_ERROR(a.Gather(rows.data(), count, batch));
      feeds[validation_.inputs[i]] = std::move(batch);
    }
    ASSIGN_OR_RETURN(std::vector<Tensor> out,
                     executor->RunNoCopy(feeds, fetches));
    total += out[0].ElementAsDouble(0) * count;
    for (size_t k = 0; k < metrics_.size(); ++k) {
      MetricPlan& m = metrics_[k];
      const Tensor* weights = m.weights.empty() ? nullptr : &feeds[m.weights];
      absl::Status added =
          m.counts.Add(out[k + 1], feeds[m.labels], weights, begin);
      if (!added.ok()) {
        return Annotate(added, absl::StrCat("metric[", k, "] (", m.column,
                                            "), validation data"));
      }
    }
  }
  if (parallel_ != nullptr) {
    std::vector<double> sums = {total};
    for (const MetricPlan& m : metrics_) {
      std::vector<double> counts = m.counts.Counts();
      sums.insert(sums.end(), counts.begin(), counts.end());
    }
    RETURN_IF_ERROR(parallel_->SumAcrossRanks(sums));
    total = sums[0];
    const double* at = sums.data() + 1;
    for (MetricPlan& m : metrics_) {
      const size_t size = m.counts.Counts().size();
      m.counts.SetCounts(at);
      at += size;
    }
  }
  e.loss = total / n;
  for (const MetricPlan& m : metrics_) {
    e.metrics.push_back({m.column, m.counts.Value()});
  }
  return e;
}

void Trainer::Log(const std::string& line) const {
  DrawBar("");
  if (options_.log) {
    options_.log(line);
  } else {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
}

void Trainer::Warn(const std::string& line) const {
  if (parallel_ != nullptr && parallel_->rank() != 0) return;  // Said once.
  if (options_.log) {
    options_.log("warning: " + line);
    return;
  }
  DrawBar("");
  std::fprintf(stderr, "warning: %s\n", line.c_str());
}

void Trainer::DrawBar(const std::string& bar) const {
  if (bar.empty() && !bar_drawn_) return;
  // Carriage return, then erase to the end of the line (ANSI EL).
  std::printf("\r\033[K%s", bar.c_str());
  std::fflush(stdout);
  bar_drawn_ = !bar.empty();
}

absl::Status Trainer::OpenEvents() {
  if (options_.tensorboard_dir.empty() || train_events_ != nullptr) {
    return absl::OkStatus();
  }
  const fs::path dir(options_.tensorboard_dir);
  ASSIGN_OR_RETURN(train_events_,
                   EventWriter::Create((dir / "train").string()));
  if (!validation_.arrays.empty()) {
    ASSIGN_OR_RETURN(validation_events_,
                     EventWriter::Create((dir / "validation").string()));
  }
  if (step_ > 0) {  // Resumed: what a killed run wrote past step_ is stale.
    for (EventWriter* w : {train_events_.get(), validation_events_.get()}) {
      if (w != nullptr) RETURN_IF_ERROR(w->AddSessionStart(step_ + 1));
    }
  }
  return absl::OkStatus();
}

absl::Status Trainer::AddEvents(const StepResult& result, const Evaluation* e) {
  if (train_events_ == nullptr) return absl::OkStatus();
  RETURN_IF_ERROR(
      train_events_->AddScalars(step_, {{"loss", result.loss},
                                        {"lr", result.lr},
                                        {"grad_norm", result.grad_norm}}));
  if (validation_events_ == nullptr || e == nullptr) return absl::OkStatus();
  // Tagged by the metric's name, without "val_": the writer's directory
  // says it is validation, as for the loss.
  std::vector<std::pair<std::string, double>> scalars = {{"loss", e->loss}};
  for (const auto& [column, value] : e->metrics) {
    scalars.push_back({column.substr(4), value});
  }
  return validation_events_->AddScalars(step_, scalars);
}

absl::StatusOr<MetricsLog> Trainer::PrepareOutDir() {
  const std::string& dir = options_.out_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", dir, ": ", ec.message()));
  }
  RemoveUnfinishedCheckpoints(dir);
  std::string metrics = (fs::path(dir) / "metrics.csv").string();
  std::vector<std::string> previous = CheckpointsIn(dir);
  if (!restored_ && (fs::exists(metrics) || !previous.empty())) {
    if (!options_.overwrite) {
      return absl::FailedPreconditionError(absl::StrCat(
          dir, " already holds a training run (",
          fs::exists(metrics) ? "metrics.csv, " : "", previous.size(),
          " checkpoint", previous.size() == 1 ? "" : "s",
          previous.empty()
              ? ""
              : ", the newest " + fs::path(previous.back()).filename().string(),
          "): continue it with --resume ", dir,
          ", or start over with --overwrite, which deletes them"));
    }
    previous.push_back(metrics);
    for (const std::string& file : previous) fs::remove(file, ec);
  }
  if (!restored_) fs::remove_all(fs::path(dir) / kBestDir, ec);  // Stale.
  std::vector<std::string> columns;
  for (const MetricPlan& m : metrics_) columns.push_back(m.column);
  return MetricsLog::Open(metrics, step_, columns);
}

absl::Status Trainer::CheckpointNow(MetricsLog& metrics,
                                    TrainSummary& summary) {
  // A checkpoint counts as written only once the rows up to its step are
  // on disk, so that a resume from it finds them all.
  RETURN_IF_ERROR(metrics.Sync());
  for (EventWriter* w : {train_events_.get(), validation_events_.get()}) {
    if (w != nullptr) RETURN_IF_ERROR(w->Sync());
  }
  std::string path =
      (fs::path(options_.out_dir) / CheckpointName(step_)).string();
  RETURN_IF_ERROR(Save(path));
  summary.checkpoint = path;
  if (std::find(written_checkpoints_.begin(), written_checkpoints_.end(),
                path) == written_checkpoints_.end()) {
    written_checkpoints_.push_back(path);
  }
  // Only this run's own checkpoints are pruned: files of another run, even
  // with higher step numbers, are not this run's to delete.
  size_t keep = config_.keep_checkpoints() > 0 ? config_.keep_checkpoints() : 3;
  while (written_checkpoints_.size() > keep) {
    std::error_code ec;
    fs::remove(written_checkpoints_.front(), ec);
    written_checkpoints_.erase(written_checkpoints_.begin());
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Trainer::TrackBest(const Evaluation& e,
                                        TrainSummary& summary) {
  double value = e.loss;
  for (const auto& [column, v] : e.metrics) {
    if (column == watched_) value = v;
  }
  const bool improved =
      !std::isnan(value) &&
      (best_step_ < 0 ||
       (higher_is_better_ ? value > best_value_ : value < best_value_));
  if (!improved) {
    ++evals_since_best_;
    return false;
  }
  best_value_ = value;
  best_step_ = step_;
  evals_since_best_ = 0;
  if (config_.keep_best().metric().empty() || options_.out_dir.empty()) {
    return true;
  }
  // Written whole under a temporary name and renamed (WriteCheckpoint),
  // and only then the older best removed: the directory always holds a
  // complete best checkpoint.
  const fs::path dir = fs::path(options_.out_dir) / kBestDir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  }
  const std::string path = (dir / CheckpointName(step_)).string();
  RETURN_IF_ERROR(Save(path));
  for (const std::string& old : CheckpointsIn(dir.string())) {
    if (old != path) fs::remove(old, ec);
  }
  summary.best_checkpoint = path;
  return true;
}

absl::StatusOr<TrainSummary> Trainer::Run() {
  TrainSummary summary;
  summary.val_loss = std::nan("");
  summary.final_loss = std::nan("");
  std::optional<MetricsLog> metrics;
  if (!options_.out_dir.empty()) {
    ASSIGN_OR_RETURN(metrics, PrepareOutDir());
    if (!restored_) {
      RETURN_IF_ERROR(WriteInitSummary(options_.out_dir, init_summary_));
    }
  }
  RETURN_IF_ERROR(OpenEvents());
  int64_t log_every = config_.log_every() > 0 ? config_.log_every() : 10;
  auto start = std::chrono::steady_clock::now();
  int64_t first_step = step_;
  Progress progress(
      {first_step, total_steps_, BatchesPerEpoch(), accumulation_});
  double bar_drawn_at = -1;
  StepResult last;
  while (step_ < total_steps_) {
    // Ranks stop together, at the step after any of them was asked to.
    if (parallel_ != nullptr
            ? parallel_->stop_requested()
            : options_.stop != nullptr && options_.stop->load()) {
      summary.stopped = true;
      break;
    }
    ASSIGN_OR_RETURN(last, Step());
    summary.final_loss = last.loss;
    progress.AddStep(step_, last.loss, last.lr, last.grad_norm,
                     SecondsSince(start));
    double val = std::nan("");
    bool at_end = step_ == total_steps_;
    if (parallel_ != nullptr && (step_ % log_every == 0 || at_end)) {
      RETURN_IF_ERROR(parallel_->CheckParameters(params_, step_));
    }
    std::optional<Evaluation> eval;
    if (!validation_.arrays.empty() &&
        ((config_.eval_every() > 0 && step_ % config_.eval_every() == 0) ||
         at_end)) {
      ASSIGN_OR_RETURN(eval, EvaluateAll());
      val = eval->loss;
      summary.val_loss = val;
      summary.val_step = step_;
      summary.val_metrics = eval->metrics;
      progress.AddValidation(step_, val, eval->metrics);
    }
    if (metrics.has_value()) {
      std::vector<double> values;  // None: empty metric fields.
      for (const auto& m :
           eval.has_value() ? eval->metrics : decltype(eval->metrics){}) {
        values.push_back(m.second);
      }
      metrics->Append(step_, last.loss, last.lr, last.grad_norm, val, values);
    }
    RETURN_IF_ERROR(AddEvents(last, eval.has_value() ? &*eval : nullptr));
    // Every validation figure gets its line, whatever log_every says.
    if (step_ % log_every == 0 || at_end || step_ == first_step + 1 ||
        !std::isnan(val)) {
      summary.mean_loss = progress.MeanLoss();
      summary.mean_steps = progress.MeanSteps();
      Log(progress.Line());
    } else if (options_.progress_bar &&
               SecondsSince(start) - bar_drawn_at >= 0.1) {
      bar_drawn_at = SecondsSince(start);
      DrawBar(progress.Bar(30));
    }
    bool patience_out = false;
    if (eval.has_value() && !watched_.empty()) {
      ASSIGN_OR_RETURN(bool improved, TrackBest(*eval, summary));
      const int64_t patience = config_.early_stopping_patience();
      patience_out =
          !improved && patience > 0 && evals_since_best_ >= patience && !at_end;
    }
    if (metrics.has_value() && config_.checkpoint_every() > 0 &&
        step_ % config_.checkpoint_every() == 0 && !at_end && !patience_out) {
      RETURN_IF_ERROR(CheckpointNow(*metrics, summary));
    }
    if (patience_out) {
      summary.early_stopped = true;
      summary.stop_reason = absl::StrFormat(
          "early stopping at step %d: %s has not improved for %d "
          "evaluations (early_stopping_patience %d); the best, %.6g, was at "
          "step %d",
          step_, watched_, evals_since_best_, config_.early_stopping_patience(),
          best_value_, best_step_);
      Log(summary.stop_reason);
      break;
    }
  }
  DrawBar("");
  if (summary.stopped && progress.MeanSteps() > 0) {
    summary.mean_loss = progress.MeanLoss();
    summary.mean_steps = progress.MeanSteps();
  }
  summary.steps_run = step_ - first_step;
  if (parallel_ != nullptr && summary.steps_run > 0) {
    Log(absl::StrFormat(
        "data-parallel: %.3g s of %.3g s in gradient allreduce, %.3g s of it "
        "after the backward passes; %d buckets, %d started before a backward "
        "pass ended",
        parallel_->allreduce_seconds(), SecondsSince(start),
        parallel_->finish_seconds(), parallel_->averager().buckets().size(),
        parallel_->buckets_started_early()));
  }
  // A resumed run that had nothing left to do keeps its checkpoint as is.
  if (metrics.has_value() && (summary.steps_run > 0 || !restored_)) {
    RETURN_IF_ERROR(CheckpointNow(*metrics, summary));
  }
  for (EventWriter* w : {train_events_.get(), validation_events_.get()}) {
    if (w != nullptr) RETURN_IF_ERROR(w->Sync());
  }
  summary.steps = step_;
  summary.seconds = SecondsSince(start);
  summary.best_value = best_step_ >= 0 ? best_value_ : std::nan("");
  summary.best_step = best_step_;
  return summary;
}

}  // namespace rill
