#ifndef RILL_RUNTIME_EXECUTOR_H_
#define RILL_RUNTIME_EXECUTOR_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/initializer.h"
#include "core/onednn_context.h"
#include "core/tensor.h"
#include "graph/validate.h"

namespace rill {

struct MatMulChain;  // runtime/fusion.h

enum class Backend { kOneDnn, kReference };
absl::StatusOr<Backend> ParseBackend(const std::string& name);
const char* BackendName(Backend b);

// Under bf16 precision, a MatMul (or fused MatMul chain) of fewer
// multiply-adds than this, batch included, stays f32: below it, rounding
// its operands into bf16 copies costs more than the faster product saves.
// bench/bf16_matmul_sweep measured the crossover (README, "Mixed
// precision"): the translation example's matmuls (at most 4.2M) lose, the
// BERT-base layer's (100M and up) gain.
inline constexpr int64_t kBf16MinMultiplyAdds = int64_t{1} << 24;

struct ExecutorOptions {
  Backend backend = Backend::kOneDnn;
  // How many input-shape signatures stay compiled; the oldest is dropped.
  int max_cached_plans = 16;
  // On oneDNN, run MatMul -> bias Add [-> Tanh|Sigmoid|Relu|Gelu] chains as
  // one matmul with post-ops.
  bool fuse = true;
  // After every kernel, check its float outputs for NaN and Inf, and fail
  // naming the first node that produced one, with its op and shape.
  bool check_numerics = false;
  // bf16 runs the f32 matrix products of ops that follow it (MatMul, fused
  // chains included) on bf16 operands with f32 accumulation, on oneDNN. On a
  // CPU without native bf16, the executor runs f32 (Executor::precision()
  // says so) rather than oneDNN's slow emulation.
  Precision precision = Precision::kF32;
  // Under bf16, MatMuls of fewer multiply-adds stay f32 (not counted in
  // PlanStats::bf16_kernels); 0 runs every one on bf16.
  int64_t bf16_min_multiply_adds = kBf16MinMultiplyAdds;
  // Time every kernel, waiting for it to finish (kernel_times()): for
  // finding where a step's time goes, not for production runs.
  bool profile = false;
  // Training mode runs Dropout as the graph says; inference mode (the
  // default, as PyTorch's model.eval()) runs every Dropout as the identity,
  // drawing nothing, whatever its `training` attr. A Dropout whose attr is
  // false is the identity in both modes. Executor::set_training switches it.
  bool training = false;
  // Identity, Reshape and the like share their input's buffer
  // (PlanStats::views); false copies them as kernels, to check that views
  // change no result.
  bool views = true;
  // Kernels of a plan that read one tensor share what they derive from it
  // on each run (KernelLinks::set_input_values): under bf16, its bf16 copy
  // is made once per run, by the first product that reads it, and the
  // others read that copy (a weight in the forward product and in
  // dX = dY W^T; an activation in its product and in the weight's
  // gradient). false gives every kernel its own copy, to check that
  // sharing changes no result.
  bool share_conversions = true;
};

// Sets `options`' precision from its name: "f32"; "bf16" (MatMuls under
// bf16_min_multiply_adds stay f32); or "bf16_all", bf16 for every MatMul
// whatever its size. Anything else is an error naming the choices.
absl::Status SetPrecision(const std::string& name, ExecutorOptions* options);

// With ExecutorOptions::profile, one kernel's time summed over the runs of
// its plan.
struct KernelTime {
  std::string node;  // The node it computes (a fused chain's last node).
  std::string op;    // Its op, "MatMul+Add+Gelu" for a fused chain.
  double ms = 0;
  int64_t runs = 0;
};

// What the plan for one input-shape signature costs.
struct PlanStats {
  int num_kernels = 0;
  int onednn_kernels = 0;  // The rest run the reference loops.
  int fused_chains = 0;    // MatMul chains run as one kernel each.
  // Identity, Reshape and the like (OpDef::OutputViewsInput) whose result
  // shares its input's buffer: no kernel, no copy.
  int views = 0;
  // Kernels too small to gain from more threads, run on one.
  int single_threaded_kernels = 0;
  // RecurrentLayerGrad kernels that take their forward_training run from
  // their RecurrentLayer's kernel instead of recomputing it.
  int shared_recurrent_forwards = 0;
  int bf16_kernels = 0;  // Kernels whose matrix products run on bf16.
  // Operands of those kernels read from the bf16 copy an earlier kernel
  // made on the same run (ExecutorOptions::share_conversions).
  int bf16_copies_reused = 0;
  int64_t planned_peak_bytes = 0;  // Activation arena, with buffer reuse.
  int64_t unshared_bytes = 0;      // What the same buffers take without reuse.
  int64_t value_bytes = 0;         // Constants and parameters.
};

class Executor;

// Told a fetch's index (into outputs()) as soon as its value is final; an
// error stops the run and is returned from it.
using FetchReady = std::function<absl::Status(size_t fetch)>;

// One compiled plan held for a loop that runs it many times (training):
// write the inputs into input() in place, Run(), read outputs() in place.
// Run() makes no heap allocation of its own (oneDNN, inside the library,
// allocates an argument map for each primitive it executes). It keeps the
// plan alive even if the executor drops it from its cache; it must not
// outlive the executor.
class PreparedRun {
 public:
  // The buffer of Input node `name`, or nullptr when the fetches do not
  // need that input.
  Tensor* input(const std::string& name);
  absl::Status Run();
  // Run, calling `ready` once for every fetch right after the kernel that
  // writes its final value (fetch_final_kernels()), so that the caller can
  // use it while later kernels run (data-parallel training sends a
  // gradient while the backward pass goes on). `ready` may read the fetch
  // but not write it before the run returns: later kernels may read it.
  absl::Status Run(const FetchReady& ready);
  // The fetched tensors, in the order they were asked for; Run() rewrites
  // them.
  const std::vector<Tensor>& outputs() const;
  // Per fetch: the index of the kernel after which its value is final, in
  // run order, or -1 when no kernel writes it (a Parameter, Const or Input
  // fetched as it is; Run(ready) reports those before the first kernel).
  const std::vector<int>& fetch_final_kernels() const;
  int num_kernels() const;

 private:
  friend class Executor;
  struct Impl;
  explicit PreparedRun(std::unique_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// Runs a validated graph. The first run with a new set of input shapes (and
// fetches) compiles a plan: a schedule of the nodes the fetches need, one
// kernel per node (oneDNN primitives created once), and one arena whose
// buffers are shared between tensors whose lifetimes do not overlap. Later
// runs with the same signature reuse it and allocate only the fetched copies.
// Not thread-safe: one Run at a time.
class Executor {
 public:
  static absl::StatusOr<std::unique_ptr<Executor>> Create(
      ValidGraph graph, const ExecutorOptions& options = {});
  ~Executor();

  // `feeds` maps Input node names to tensors; `fetches` are "node" or
  // "node:k". Returns a copy of each fetched tensor, in order.
  absl::StatusOr<std::vector<Tensor>> Run(
      const std::map<std::string, Tensor>& feeds,
      const std::vector<std::string>& fetches);
  // Run without copying the results: returns views of the plan's own
  // buffers, which the next run with the same signature overwrites. The
  // views keep those buffers alive. For loops that read each result before
  // the next step.
  absl::StatusOr<std::vector<Tensor>> RunNoCopy(
      const std::map<std::string, Tensor>& feeds,
      const std::vector<std::string>& fetches);
  // Compiles (or reuses) the plan for these feeds' shapes and `fetches`,
  // with the feeds' values already in its input buffers.
  absl::StatusOr<PreparedRun> Prepare(
      const std::map<std::string, Tensor>& feeds,
      const std::vector<std::string>& fetches);

  const ValidGraph& graph() const { return graph_; }
  Backend backend() const { return options_.backend; }
  // The precision the executor runs: the option's, or f32 where this CPU or
  // backend cannot run bf16.
  Precision precision() const { return options_.precision; }
  // Why precision() is f32 where bf16 was asked for, as a sentence to show
  // the user; "" when it runs what was asked.
  const std::string& precision_note() const { return precision_note_; }
  // ExecutorOptions::training. Switching it takes effect from the next run
  // (of any plan: compiled kernels read it as they run), so one executor
  // serves training steps and evaluation alike.
  bool training() const { return options_.training; }
  void set_training(bool training) { options_.training = training; }
  // Of the plan that the last successful Run used.
  const PlanStats& last_plan_stats() const { return last_stats_; }
  // With options.profile: the kernels of the plan that the last successful
  // Run used, in run order, with their summed times; empty otherwise.
  const std::vector<KernelTime>& kernel_times() const { return kernel_times_; }
  // How many plans have been compiled so far (cache misses).
  int num_compiles() const { return num_compiles_; }
  // The current value of a Const or Parameter node, or nullptr. Compiled
  // plans hold views of it: change its contents in place, never reassign.
  // Create() only allocates the Parameters given by an initializer; they
  // are drawn when first needed: by a run, or here.
  Tensor* mutable_value(const std::string& node_name);
  // mutable_value of every Parameter node, by name.
  std::map<std::string, Tensor*> mutable_parameters();
  // mutable_value without drawing: a pointer to keep (the trainer's
  // optimizer does), whose values are only readable after a run, or
  // mutable_value, or an Overwrite call below, has filled them.
  Tensor* parameter_buffer(const std::string& node_name);
  // Hands every Parameter's tensor, by node name, to `write`, which must
  // overwrite each one whole when it returns OK (ReadParameterValues does,
  // or changes nothing): initializers not drawn yet then never are, so
  // that loading a checkpoint costs no drawing. After an error, they are
  // drawn when first needed, as before.
  absl::Status OverwriteParameters(
      const std::function<absl::Status(const std::map<std::string, Tensor*>&)>&
          write);
  // The same for a `write` that overwrites some of them whole (init_from)
  // and returns their names; the others are drawn when first needed.
  absl::Status OverwriteSomeParameters(
      const std::function<absl::StatusOr<std::vector<std::string>>(
          const std::map<std::string, Tensor*>&)>& write);
  // How many Parameters' initializers have been drawn so far: 0 after a
  // checkpoint replaced them all (for tests).
  int64_t initializers_drawn() const { return initializers_drawn_; }
  // How many draws each node whose op draws random numbers (Dropout,
  // RandomUniform, ...) has made, over every plan, by node name: the random
  // state that a checkpoint keeps, so that a resumed run draws exactly what
  // an uninterrupted one would.
  std::map<std::string, int64_t> random_draws() const;
  // Sets those counts; an error, changing nothing, names a node that does
  // not draw random numbers or a negative count. Nodes left out keep theirs.
  absl::Status set_random_draws(const std::map<std::string, int64_t>& draws);

 private:
  friend class PreparedRun;
  struct Plan;
  Executor(ValidGraph graph, const ExecutorOptions& options);
  // The cached or newly compiled plan for this signature.
  absl::StatusOr<std::shared_ptr<Plan>> PlanFor(
      const std::map<std::string, Tensor>& feeds,
      const std::vector<std::string>& fetches);
  // With `ready`, reports each fetch as soon as its value is final.
  absl::Status RunPlan(Plan& plan, const FetchReady* ready = nullptr);
  absl::StatusOr<std::unique_ptr<OpKernel>> CreateKernel(const OpDef& op,
                                                         KernelArgs& args,
                                                         PlanStats* stats);
  absl::StatusOr<std::unique_ptr<OpKernel>> CreateFusedKernel(
      const MatMulChain& chain, KernelArgs& args, PlanStats* stats);
  absl::StatusOr<std::unique_ptr<Plan>> Compile(
      const std::map<std::string, Tensor>& feeds,
      const std::vector<std::string>& fetches);

  ValidGraph graph_;
  ExecutorOptions options_;
  std::string precision_note_;
  OneDnnContext onednn_;
  std::vector<Tensor> values_;  // Per node: decoded Const/Parameter values.
  // Parameters whose initializer is not drawn yet, and its distribution.
  std::map<int, Distribution> undrawn_;
  int64_t initializers_drawn_ = 0;
  void DrawUndrawn();
  std::map<std::string, Tensor*> ParameterTensors();
  // Per node: draws made, for ops that draw random numbers (kernels hold
  // pointers into it, so it is sized once, at creation).
  std::vector<int64_t> random_draws_;
  std::map<std::string, std::shared_ptr<Plan>> plans_;
  std::vector<std::string> plan_order_;  // Oldest first, for eviction.
  PlanStats last_stats_;
  std::vector<KernelTime> kernel_times_;
  int num_compiles_ = 0;
};

}  // namespace rill

#endif  // RILL_RUNTIME_EXECUTOR_H_
