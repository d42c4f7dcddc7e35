// `rill train`: runs a TrainConfig, with progress lines, a metrics CSV,
// checkpoints, resume, and a clean stop on Ctrl-C.

#include <cmath>
#include <csignal>
#include <cstdio>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "config/train_config.h"
#include "tools/commands.h"

ABSL_FLAG(std::string, resume, "",
          "A checkpoint, or a directory whose newest checkpoint to resume "
          "from.");
ABSL_FLAG(bool, overwrite, false,
          "Start a fresh run in an --out directory that holds another run, "
          "deleting its checkpoints and metrics.csv.");
ABSL_FLAG(bool, check_numerics, false,
          "Check every node's output for NaN and Inf and name the first node "
          "that produced one (slower). The loss and gradient norm are always "
          "checked.");

ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(std::string, backend);
ABSL_DECLARE_FLAG(bool, no_fuse);

namespace rill {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void OnInterrupt(int) { g_stop = true; }

}  // namespace

absl::Status RunTrain(const std::vector<std::string>& operands) {
  const std::string& config_path = operands[0];
  TrainOptions options;
  options.out_dir = absl::GetFlag(FLAGS_out);
  if (options.out_dir.empty()) options.out_dir = "train_out";
  ASSIGN_OR_RETURN(options.backend, ParseBackend(absl::GetFlag(FLAGS_backend)));
  options.check_numerics = absl::GetFlag(FLAGS_check_numerics);
  options.overwrite = absl::GetFlag(FLAGS_overwrite);
  options.fuse = !absl::GetFlag(FLAGS_no_fuse);
  options.stop = &g_stop;
  TrainSetupOptions setup;
  ASSIGN_OR_RETURN(setup.threads, ThreadsFlag());
  ASSIGN_OR_RETURN(setup.memory_budget, MemoryBudgetFromFlags());
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      CreateTrainer(config_path, options, setup);
  RETURN_IF_ERROR(trainer.status());
  std::string resume = absl::GetFlag(FLAGS_resume);
  if (!resume.empty()) {
    RETURN_IF_ERROR((*trainer)->Restore(resume));
    std::printf("resumed from %s at step %lld\n", resume.c_str(),
                static_cast<long long>((*trainer)->step()));
  }
  std::printf("training %s for %lld steps; checkpoints and metrics.csv in %s\n",
              config_path.c_str(),
              static_cast<long long>((*trainer)->total_steps()),
              options.out_dir.c_str());
  if (int fused = (*trainer)->fused_recurrent_layers(); fused > 0) {
    std::printf(
        "%d recurrent layer%s fused into RecurrentLayer ops (--no-fuse runs "
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
                      summary->stopped ? "stopped (interrupted)" : "done",
                      static_cast<long long>(summary->steps), summary->seconds);
  if (summary->steps_run > 0) {
    absl::StrAppendFormat(&line, ": final loss %.6g", summary->final_loss);
  }
  if (!std::isnan(summary->val_loss)) {
    absl::StrAppendFormat(&line, ", validation loss %.6g", summary->val_loss);
  }
  if (!summary->checkpoint.empty()) {
    absl::StrAppend(&line, "; checkpoint ", summary->checkpoint);
  }
  std::printf("%s\n", line.c_str());
  return absl::OkStatus();
}

}  // namespace rill
