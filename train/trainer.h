#ifndef RILL_TRAIN_TRAINER_H_
#define RILL_TRAIN_TRAINER_H_

// The training loop, as a library: a graph is differentiated with respect
// to its parameters, fed batches of in-memory data, and updated by an
// optimizer, with progress lines, a metrics CSV, validation, and
// checkpoints that resume bitwise exactly. It reads no config and no data
// files: config/train_config.h turns a TrainConfig file into its inputs.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/checkpoint.h"
#include "core/status.h"
#include "graph/validate.h"
#include "proto/train.pb.h"
#include "runtime/executor.h"
#include "train/communicator.h"
#include "train/data.h"
#include "train/distributed.h"
#include "train/event_writer.h"
#include "train/metric_counts.h"
#include "train/metrics_log.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace rill {

// What a run trains on. `validation` may be empty: no validation.
struct TrainData {
  Dataset train;
  Dataset validation;
};

struct TrainOptions {
  // How to train: the TrainConfig fields loss, batch_size, shuffle, seed,
  // optimizer, schedule, clip_global_norm, accumulation_steps, steps or
  // epochs, eval_every, checkpoint_every, keep_checkpoints, log_every,
  // precision, metric, keep_best, early_stopping_patience, init_from (its
  // path taken as it is), freeze and, data-parallel, bucket_cap_mb
  // (proto/train.proto says what each means; errors name them). The fields that
  // name files (graph, model_spec, data), the validation split and `threads`
  // are the config layer's, and ignored here.
  TrainConfig config;
  // Where checkpoints (ckpt-<step>.rckpt) and metrics.csv go; empty: no
  // files at all. A run that was not restored refuses a directory that
  // holds another run's checkpoints or metrics.csv, unless `overwrite`
  // lets it delete them first.
  std::string out_dir;
  bool overwrite = false;
  Backend backend = Backend::kOneDnn;
  // Check every node's output for NaN and Inf, and name the first culprit.
  // Without it the loss and the gradient norm are still checked.
  bool check_numerics = false;
  // Run recurrent layers that models/rnn.h tagged on the fused
  // RecurrentLayer ops (graph/fuse_recurrent.h); false keeps them unrolled.
  bool fuse = true;
  // Progress lines and warnings; the default prints the lines to stdout and
  // the warnings to stderr.
  std::function<void(const std::string&)> log;
  // Between progress lines, a bar on stdout redrawn in place (at most ten
  // times a second): for a terminal, not for a log file.
  bool progress_bar = false;
  // TensorBoard event files go to <dir>/train (loss, lr, grad_norm every
  // step) and <dir>/validation (the validation loss, tagged "loss" so that
  // TensorBoard draws it beside the training loss, as Keras does, and each
  // metric tagged by its name); empty: none.
  std::string tensorboard_dir;
  // Polled between steps; when set, the run checkpoints and stops (SIGINT).
  const std::atomic<bool>* stop = nullptr;
  // Data-parallel training over its ranks (train/distributed.h says how);
  // null or one rank: one process. Every rank trains the same parameters;
  // only rank 0 writes out_dir and tensorboard_dir.
  Communicator* communicator = nullptr;
};

// What one update did.
struct StepResult {
  double loss = 0;       // Mean over the update's batches.
  double lr = 0;         // The learning rate it used.
  double grad_norm = 0;  // Global L2 norm, before clipping.
};

// What one evaluation measured over the whole validation set.
struct Evaluation {
  double loss = 0;  // NaN without validation data.
  // Per TrainConfig.metric, in order: its column name (val_<name>) and value
  // (NaN when no position counted).
  std::vector<std::pair<std::string, double>> metrics;
};

struct TrainSummary {
  int64_t steps = 0;      // Updates made, in total (resumed runs included).
  int64_t steps_run = 0;  // By this Run() call.
  double final_loss = 0;  // Of the last update; NaN when steps_run is 0.
  // The mean loss over the steps of the last progress line (as it showed).
  double mean_loss = 0;
  int64_t mean_steps = 0;
  double val_loss = 0;     // NaN without validation data.
  int64_t val_step = -1;   // The step val_loss was measured at.
  std::string checkpoint;  // The last one written, if any.
  // The metrics of the last evaluation (Evaluation::metrics).
  std::vector<std::pair<std::string, double>> val_metrics;
  bool stopped = false;  // By `stop`, before the end.
  // By early_stopping_patience, before the end; `stop_reason` says why.
  bool early_stopped = false;
  std::string stop_reason;
  // The best value of the watched metric (keep_best.metric, else val_loss)
  // so far, resumed runs included, and its step (-1: none yet); and the
  // checkpoint keep_best wrote for it, if any.
  double best_value = 0;
  int64_t best_step = -1;
  std::string best_checkpoint;
  double seconds = 0;
};

class Trainer {
 public:
  // Checks the options (errors name the field) and the data against the
  // graph's Inputs, builds the gradient graph and compiles it. Kernels run
  // on the threads core/threads.h set.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(ValidGraph graph,
                                                         TrainData data,
                                                         TrainOptions options);

  // One optimizer update (accumulation_steps batches). After the first, it
  // makes no heap allocation in the executor or the optimizer.
  absl::StatusOr<StepResult> Step();
  // The example-weighted mean loss over the validation data, with every
  // Dropout off (as PyTorch's model.eval()); NaN if there is none.
  absl::StatusOr<double> Evaluate();
  // The same loss and every metric, from counts summed over all batches.
  // Data-parallel, every rank must call them: each evaluates its share of
  // the batches and the sums are reduced across the ranks.
  absl::StatusOr<Evaluation> EvaluateAll();
  // Steps to the configured end, logging, validating and checkpointing.
  absl::StatusOr<TrainSummary> Run();

  // Parameters, optimizer state, step, data order, and how far every
  // random op's stream has been drawn (Executor::random_draws).
  absl::Status Save(const std::string& path);
  // From a file, or the newest ckpt-<step>.rckpt in a directory; there, a
  // damaged newest checkpoint (truncated, a CRC mismatch) is passed over
  // for the one before it, with a warning naming both. A checkpoint of
  // another graph (a parameter missing, extra, or of another shape) is an
  // error naming the parameter. A checkpoint saved with other steps,
  // epochs, learning rate or schedule resumes on this config's, with a
  // warning saying what changed (old -> new).
  absl::Status Restore(const std::string& path);

  int64_t step() const { return step_; }
  // What keep_best and early stopping watch: "val_loss", a metric's
  // val_<name>, or "" when neither is configured.
  const std::string& watched_metric() const { return watched_; }
  int64_t total_steps() const { return total_steps_; }
  const std::string& tensorboard_dir() const {
    return options_.tensorboard_dir;
  }
  // Recurrent layers that run on the fused RecurrentLayer ops (0 with
  // options.fuse off, or when no builder tagged a layer).
  int fused_recurrent_layers() const { return fused_recurrent_layers_; }
  // The trained graph's executor, for inference with the trained values.
  Executor& executor() { return *executor_; }
  // Data-parallel training's state (buckets, allreduce time); null in one
  // process.
  const DataParallel* data_parallel() const { return parallel_.get(); }

 private:
  Trainer() = default;
  // The batch size and accumulation steps against the training examples.
  absl::Status CheckDataSize() const;
  // Checks TrainConfig.metric against the graph and the validation data
  // (errors name the field) and adds each metric's ArgMax node.
  absl::StatusOr<ValidGraph> AddMetrics(ValidGraph forward);
  // Checks keep_best and early_stopping_patience against the metrics.
  absl::Status PlanBest();
  // After an evaluation: whether the watched metric improved; saves the
  // best checkpoint when it did and keep_best asks for it.
  absl::StatusOr<bool> TrackBest(const Evaluation& e, TrainSummary& summary);
  absl::Status Differentiate(ValidGraph forward);
  // Loads TrainConfig.init_from and prints the summary of it and freeze.
  absl::Status LoadInitialParameters();
  absl::Status Compile();
  // Adds gradient p of accumulation step `micro_step` to its sum (nothing
  // without accumulation).
  void AccumulateGradient(size_t p, int64_t micro_step);
  // Creates the output directory, refuses (or, with `overwrite`, clears) a
  // previous run's files there, and opens metrics.csv at the current step.
  absl::StatusOr<MetricsLog> PrepareOutDir();
  absl::Status CheckpointNow(MetricsLog& metrics, TrainSummary& summary);
  void Log(const std::string& line) const;
  void Warn(const std::string& line) const;
  void DrawBar(const std::string& bar) const;
  // The newest intact checkpoint of a file or directory, and its path.
  absl::StatusOr<std::pair<std::string, Checkpoint>> ReadNewestIntact(
      const std::string& path) const;
  // Warns of what differs between the saved run's plan (run/ tensors,
  // which `saved` loses) and this one's.
  void ReportPlanChanges(const std::string& file,
                         std::map<std::string, const Tensor*>& saved) const;
  // Opens the TensorBoard writers, if asked for.
  absl::Status OpenEvents();
  absl::Status AddEvents(const StepResult& result, const Evaluation* e);
  // This process's share of a batch: batch_size, or batch_size / ranks.
  int64_t LocalBatch() const {
    return parallel_ != nullptr ? parallel_->local_batch()
                                : config_.batch_size();
  }
  // Whole batches of the training data (the last partial one is skipped).
  int64_t BatchesPerEpoch() const {
    return train_.size() / config_.batch_size();
  }
  // Each executor whose random streams a checkpoint keeps, with the prefix
  // of their tensors' names.
  std::vector<std::pair<std::string, Executor*>> RandomStreams();

  TrainConfig config_;    // TrainOptions::config.
  TrainOptions options_;  // The rest.
  Dataset train_, validation_;
  std::unique_ptr<Executor> executor_;
  // The parameters the optimizer updates (params_), and those
  // TrainConfig.freeze keeps as they are (saved and restored all the same).
  std::vector<std::string> param_names_, frozen_names_;
  std::vector<Tensor*> params_, frozen_;
  // init_from and freeze as <out>/init_from.txt records them ("": neither).
  std::string init_summary_;
  std::vector<std::string> fetches_;  // The loss, then each gradient.
  std::unique_ptr<PreparedRun> run_;
  std::vector<Tensor*> run_inputs_;  // run_'s buffer for each data array.
  std::vector<Tensor> accumulated_;  // Gradient sums, with accumulation.
  // What the optimizer takes: the sums, or run_'s gradient outputs.
  std::vector<const Tensor*> grads_;
  // Data-parallel: run_'s report of each fetch as it becomes final.
  FetchReady gradient_ready_;
  std::unique_ptr<ParameterOptimizer> optimizer_;
  std::unique_ptr<LearningRateSchedule> schedule_;
  std::unique_ptr<BatchOrder> order_;
  std::unique_ptr<DataParallel> parallel_;  // Null in one process.
  // Of every trained parameter, gradient and optimizer state: f32 or f64.
  DType dtype_ = DType::kF32;
  int64_t step_ = 0, total_steps_ = 0, accumulation_ = 1;
  bool restored_ = false;
  std::unique_ptr<EventWriter> train_events_, validation_events_;
  mutable bool bar_drawn_ = false;
  // Checkpoints this trainer wrote, oldest first: the only ones it prunes.
  std::vector<std::string> written_checkpoints_;
  int fused_recurrent_layers_ = 0;
  // One per TrainConfig.metric: the predictions it fetches, the inputs it
  // reads, and its running counts.
  struct MetricPlan {
    std::string column, predictions, labels, weights;
    MetricCounts counts;
  };
  std::vector<MetricPlan> metrics_;
  // The metric keep_best and early stopping watch ("val_loss" or a
  // metric's column; empty: none), whether higher is better, and the best
  // so far (saved in checkpoints, so that a resumed run continues it).
  std::string watched_;
  bool higher_is_better_ = false;
  double best_value_ = 0;
  int64_t best_step_ = -1, evals_since_best_ = 0;
};

}  // namespace rill

#endif  // RILL_TRAIN_TRAINER_H_
