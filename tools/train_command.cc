// `rill train`: runs a TrainConfig, with progress lines, a metrics CSV,
// checkpoints, resume, and a clean stop on Ctrl-C.

#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "config/train_config.h"
#include "tools/commands.h"
#include "train/communicator.h"

namespace rill {
namespace {

// The flags of `rill train`.
struct {
  std::string output, resume, tensorboard, init_from;
  bool overwrite = false, check_numerics = false;
} flags;

std::atomic<bool> g_stop{false};

extern "C" void OnInterrupt(int) { g_stop = true; }

}  // namespace

std::vector<Flag> TrainFlags() {
  return {
      WithAlias(OutputFlag(&flags.output,
                           "The directory for checkpoints and "
                           "metrics.csv (default train_out)."),
                "out"),
      StringFlag("resume", &flags.resume,
                 "A checkpoint, or a directory whose newest checkpoint "
                 "to resume from."),
      StringFlag("init_from", &flags.init_from,
                 "Start from the parameters of a checkpoint (or the newest in "
                 "a directory) or of a directory of <name>.npy files, "
                 "matched by name (overrides the config's init_from.path)."),
      StringFlag("tensorboard", &flags.tensorboard,
                 "Write TensorBoard event files to DIR/train and "
                 "DIR/validation (overrides the config's "
                 "tensorboard_dir)."),
      SwitchFlag("overwrite", &flags.overwrite,
                 "Start a fresh run in an -o directory that holds "
                 "another run, deleting its checkpoints and "
                 "metrics.csv."),
      SwitchFlag("check_numerics", &flags.check_numerics,
                 "Check every node's output for NaN and Inf and name the "
                 "first node that produced one (slower). The loss and "
                 "gradient norm are always checked."),
      BackendFlag(),
      WithMoreHelp(PrecisionFlag(), "It overrides the config's `precision`."),
      NoFuseFlag(),
      WithMoreHelp(ThreadsFlag(), "It overrides the config's `threads`."),
      MemoryBudgetFlag()};
}

absl::Status CheckTrainFlags(const Operands&) {
  if (!flags.init_from.empty() && !flags.resume.empty()) {
    return absl::InvalidArgumentError(
        "give --init_from or --resume, not both: a resumed run takes every "
        "parameter from its checkpoint");
  }
  return absl::OkStatus();
}

absl::Status RunTrain(const std::vector<std::string>& operands) {
  const std::string& config_path = operands[0];
  TrainOptions options;
  options.out_dir = flags.output;
  if (options.out_dir.empty()) options.out_dir = "train_out";
  options.backend = CommonFlags().backend;
  options.check_numerics = flags.check_numerics;
  options.overwrite = flags.overwrite;
  options.fuse = !CommonFlags().no_fuse;
  options.stop = &g_stop;
  options.communicator = ProcessCommunicator();  // Set by rill_mpi.
  options.tensorboard_dir = flags.tensorboard;
  // A bar redrawn in place suits a terminal; a log file gets plain lines.
  options.progress_bar = isatty(STDOUT_FILENO) == 1;
  TrainSetupOptions setup;
  setup.threads = CommonFlags().threads;
  setup.precision = CommonFlags().precision;
  setup.memory_budget = CommonFlags().memory_budget;
  setup.init_from = flags.init_from;
  setup.resume = !flags.resume.empty();
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      CreateTrainer(config_path, options, setup);
  RETURN_IF_ERROR(trainer.status());
  std::string resume = flags.resume;
  if (!resume.empty()) {
    RETURN_IF_ERROR((*trainer)->Restore(resume));
    std::printf("resumed from %s at step %lld\n", resume.c_str(),
                static_cast<long long>((*trainer)->step()));
  }
  std::printf("training %s for %lld steps; checkpoints and metrics.csv in %s\n",
              config_path.c_str(),
              static_cast<long long>((*trainer)->total_steps()),
              options.out_dir.c_str());
  if (const std::string& tb = (*trainer)->tensorboard_dir(); !tb.empty()) {
    std::printf("TensorBoard event files in %s (tensorboard --logdir %s)\n",
                tb.c_str(), tb.c_str());
  }
  if (int fused = (*trainer)->fused_recurrent_layers(); fused > 0) {
    std::printf(
        "%d recurrent layer%s fused into RecurrentLayer ops (--no_fuse runs "
        "the unrolled graph)\n",
        fused, fused == 1 ? "" : "s");
  }
  std::fflush(stdout);
  g_stop = false;
  auto previous = std::signal(SIGINT, OnInterrupt);
  absl::StatusOr<TrainSummary> summary = (*trainer)->Run();
  std::signal(SIGINT, previous);
  RETURN_IF_ERROR(summary.status());
  if (summary->steps_run == 0 && !summary->stopped) {
    std::printf("nothing to train: already at step %lld of %lld\n",
                static_cast<long long>(summary->steps),
                static_cast<long long>((*trainer)->total_steps()));
    return absl::OkStatus();
  }
  std::string line =
      absl::StrFormat("%s after %lld steps in %.1f s",
                      summary->stopped         ? "stopped (interrupted)"
                      : summary->early_stopped ? "stopped early"
                                               : "done",
                      static_cast<long long>(summary->steps), summary->seconds);
  if (summary->steps_run > 0) {
    absl::StrAppendFormat(
        &line,
        ": final loss %.6g (mean of the last %d steps; the last step's %.6g)",
        summary->mean_loss, summary->mean_steps, summary->final_loss);
  }
  if (!std::isnan(summary->val_loss)) {
    const int64_t age = summary->steps - summary->val_step;
    absl::StrAppendFormat(
        &line, ", validation loss %.6g (at step %d, %s)", summary->val_loss,
        summary->val_step,
        age == 0 ? "the last step" : absl::StrCat(age, " steps old"));
    for (const auto& [name, value] : summary->val_metrics) {
      absl::StrAppendFormat(&line, ", %s %.6g", name, value);
    }
  }
  if (summary->best_step >= 0) {
    absl::StrAppendFormat(&line, "; best %s %.6g at step %d",
                          (*trainer)->watched_metric(), summary->best_value,
                          summary->best_step);
  }
  if (!summary->checkpoint.empty()) {
    absl::StrAppend(&line, "; checkpoint ", summary->checkpoint);
  }
  std::printf("%s\n", line.c_str());
  return absl::OkStatus();
}

}  // namespace rill
