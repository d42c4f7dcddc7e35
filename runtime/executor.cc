#include "runtime/executor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/threads.h"
#include "graph/input_values.h"
#include "ops/kernel_links.h"
#include "ops/kernel_util.h"
#include "ops/parameter_value.h"
#include "runtime/buffer_plan.h"
#include "runtime/fusion.h"

namespace rill {

absl::StatusOr<Backend> ParseBackend(const std::string& name) {
  if (name == "onednn") return Backend::kOneDnn;
  if (name == "reference") return Backend::kReference;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown backend '", name, "'; choose onednn or reference"));
}

const char* BackendName(Backend b) {
  return b == Backend::kOneDnn ? "onednn" : "reference";
}

absl::Status SetPrecision(const std::string& name, ExecutorOptions* options) {
  if (name == "bf16_all") {
    options->precision = Precision::kBf16;
    options->bf16_min_multiply_adds = 0;
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(options->precision, ParsePrecision(name));
  return absl::OkStatus();
}

struct Executor::Plan {
  std::vector<std::unique_ptr<OpKernel>> kernels;
  std::vector<int> kernel_nodes;    // Node of each kernel, for error messages.
  std::vector<bool> small_kernels;  // Run on one thread (IsSmallKernel).
  std::vector<KernelTime> kernel_times;  // With options.profile.
  // With check_numerics: the float outputs of each kernel.
  std::vector<std::vector<Tensor>> kernel_outputs;
  std::vector<std::pair<int, Tensor>> inputs;  // Input node, its buffer.
  // Per input: its values' uses as indices (IndexUses), checked per feed.
  std::vector<std::vector<IndexUse>> input_index_uses;
  std::vector<Tensor> fetches;
  // Per fetch, the kernel after which it is final (-1: before any); and
  // (kernel, fetch) pairs in that order, for PreparedRun::Run(ready).
  std::vector<int> fetch_final_kernel;
  std::vector<std::pair<int, size_t>> fetches_by_kernel;
  std::shared_ptr<void> arena;
  PlanStats stats;
};

Executor::Executor(ValidGraph graph, const ExecutorOptions& options)
    : graph_(std::move(graph)), options_(options) {
  if (options_.precision != Precision::kBf16) return;
  if (options_.backend != Backend::kOneDnn) {
    precision_note_ =
        "bf16 was asked for, but the reference backend runs f32 only; "
        "running f32";
  } else if (!CpuRunsBf16()) {
    // oneDNN would emulate bf16 here, slower than f32: say so, run f32.
    precision_note_ =
        "bf16 was asked for, but this CPU has no native bf16 (AVX512_BF16 "
        "or AMX); running f32";
  }
  if (!precision_note_.empty()) options_.precision = Precision::kF32;
}

Executor::~Executor() = default;

absl::StatusOr<std::unique_ptr<Executor>> Executor::Create(
    ValidGraph graph, const ExecutorOptions& options) {
  std::unique_ptr<Executor> ex(new Executor(std::move(graph), options));
  const ValidGraph& g = ex->graph_;
  ex->values_.resize(g.num_nodes());
  ex->random_draws_.assign(g.num_nodes(), 0);
  for (int i = 0; i < g.num_nodes(); ++i) {
    const std::string& op = g.node(i).op();
    if (op != "Const" && op != "Parameter") continue;
    std::optional<Distribution> undrawn;
    absl::StatusOr<Tensor> value =
        SourceBuffer(g.node(i), g.memory_budget(), &undrawn);
    if (!value.ok()) return Annotate(value.status(), g.Describe(i));
    ex->values_[i] = *std::move(value);
    if (undrawn.has_value()) ex->undrawn_.emplace(i, *undrawn);
  }
  return ex;
}

void Executor::DrawUndrawn() {
  for (const auto& [node, distribution] : undrawn_) {
    // Cannot fail: SourceBuffer resolved the distribution for this tensor.
    FillFromDistribution(distribution, CurrentThreads(), &values_[node])
        .IgnoreError();
    ++initializers_drawn_;
  }
  undrawn_.clear();
}

Tensor* Executor::mutable_value(const std::string& node_name) {
  DrawUndrawn();
  return parameter_buffer(node_name);
}

Tensor* Executor::parameter_buffer(const std::string& node_name) {
  int node = graph_.FindNode(node_name);
  if (node < 0 || !values_[node].valid()) return nullptr;
  return &values_[node];
}

std::map<std::string, Tensor*> Executor::ParameterTensors() {
  std::map<std::string, Tensor*> params;
  for (int n = 0; n < graph_.num_nodes(); ++n) {
    if (graph_.node_op(n) == "Parameter") {
      params[graph_.node(n).name()] = &values_[n];
    }
  }
  return params;
}

std::map<std::string, Tensor*> Executor::mutable_parameters() {
  DrawUndrawn();
  return ParameterTensors();
}

absl::Status Executor::OverwriteParameters(
    const std::function<absl::Status(const std::map<std::string, Tensor*>&)>&
        write) {
  RETURN_IF_ERROR(write(ParameterTensors()));
  undrawn_.clear();
  return absl::OkStatus();
}

absl::Status Executor::OverwriteSomeParameters(
    const std::function<absl::StatusOr<std::vector<std::string>>(
        const std::map<std::string, Tensor*>&)>& write) {
  ASSIGN_OR_RETURN(std::vector<std::string> written, write(ParameterTensors()));
  for (const std::string& name : written) {
    undrawn_.erase(graph_.FindNode(name));
  }
  return absl::OkStatus();
}

std::map<std::string, int64_t> Executor::random_draws() const {
  std::map<std::string, int64_t> draws;
  for (int n = 0; n < graph_.num_nodes(); ++n) {
    if (graph_.info(n).op->draws_random_numbers()) {
      draws[graph_.node(n).name()] = random_draws_[n];
    }
  }
  return draws;
}

absl::Status Executor::set_random_draws(
    const std::map<std::string, int64_t>& draws) {
  std::vector<std::pair<int, int64_t>> updates;
  for (const auto& [name, count] : draws) {
    int n = graph_.FindNode(name);
    if (n < 0 || !graph_.info(n).op->draws_random_numbers()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", name, "' is not a node that draws random numbers"));
    }
    if (count < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("node '", name, "': draw count ", count, " < 0"));
    }
    updates.push_back({n, count});
  }
  for (auto [n, count] : updates) random_draws_[n] = count;
  return absl::OkStatus();
}

namespace {

// Below this many elements read and written, a kernel runs on one thread:
// opening a parallel region costs more than a second thread saves (a
// passive OpenMP thread takes tens of microseconds to wake), and on a
// machine where another process holds a core it costs a scheduler time
// slice (bench/busy_machine.py). At 2^16 the translation example's
// kernels (d_model 64) still woke the second thread: 150 training steps took
// 1.5x longer on 2 threads than on 1, quiet; at 2^18 they take the same,
// and the Transformer and LSTM benches' steps did not change beyond noise
// (README, "Threads").
constexpr int64_t kParallelMinElements = int64_t{1} << 18;

// A MatMul kernel's (or fused chain's) multiply-adds: each output element
// sums K products.
int64_t MatMulMultiplyAdds(const KernelArgs& args) {
  const Shape& a = args.inputs[0].shape();
  const int64_t k = args.attrs.GetBool("transpose_a") ? a.dim(a.rank() - 2)
                                                      : a.dim(a.rank() - 1);
  return args.outputs[0].num_elements() * k;
}

bool IsSmallKernel(const KernelArgs& args) {
  int64_t elements = 0;
  for (const auto* tensors : {&args.inputs, &args.outputs}) {
    for (const Tensor& t : *tensors) elements += t.num_elements();
  }
  return elements < kParallelMinElements;
}

// Feeds must name Input nodes, with the declared dtype and a shape that
// matches the declared one wherever that is not symbolic.
absl::Status CheckFeed(const ValidGraph& g, int node, const Tensor& feed) {
  const NodeInfo& info = g.info(node);
  const Shape& declared = info.shapes[0];
  std::string where = absl::StrCat("feed '", g.node(node).name(), "'");
  if (feed.dtype() != info.dtypes[0]) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " is ", DTypeName(feed.dtype()),
                     " but the input is declared ", DTypeName(info.dtypes[0])));
  }
  bool match = feed.shape().rank() == declared.rank();
  for (int d = 0; match && d < declared.rank(); ++d) {
    match = declared.dim(d) == kSymbolicDim ||
            declared.dim(d) == feed.shape().dim(d);
  }
  if (!match) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " has shape ", feed.shape().ToString(),
                     " but the input is declared ", declared.ToString()));
  }
  return absl::OkStatus();
}

// A feed's values against its Input's `allowed_values` and against the
// ranges its uses as indices allow, checked on every run (plans are cached
// by shape, not by value), before any kernel runs.
absl::Status CheckFeedValues(const ValidGraph& g, int node, const Tensor& feed,
                             const std::vector<IndexUse>& index_uses) {
  const std::string& name = g.node(node).name();
  const int64_t rows = feed.shape().rank() > 0 ? feed.shape().dim(0) : 1;
  const int64_t per_row =
      std::max<int64_t>(1, feed.num_elements() / std::max<int64_t>(rows, 1));
  auto where = [&](int64_t bad) {
    return absl::StrCat("feed '", name, "': row ", bad / per_row, ", element ",
                        bad % per_row);
  };
  const absl::Span<const int64_t> allowed = AllowedValues(g.node(node));
  if (const int64_t bad =
          FirstDisallowedValue(feed, feed.num_elements(), allowed);
      bad >= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where(bad), " is ", IntegerElement(feed, bad),
        ", but the input allows only ", AllowedValuesText(allowed)));
  }
  for (const IndexUse& use : index_uses) {
    const int64_t bad = FirstOutOfRange(feed, feed.num_elements(), use);
    if (bad < 0) continue;
    return absl::InvalidArgumentError(
        absl::StrCat(where(bad), ": ",
                     OutOfRangeText(g, name, use, IntegerElement(feed, bad))));
  }
  return absl::OkStatus();
}

std::string SignatureKey(const ValidGraph& g,
                         const std::map<std::string, Tensor>& feeds,
                         const std::vector<std::string>& fetches) {
  std::string key = absl::StrJoin(fetches, ",");
  for (const auto& [name, t] : feeds) {
    absl::StrAppend(&key, ";", name, ":", DTypeName(t.dtype()),
                    t.shape().ToString());
  }
  return key;
}

// The fetched tensors, and every node they need.
absl::Status PruneToFetches(const ValidGraph& g,
                            const std::vector<std::string>& fetches,
                            std::vector<TensorRef>* fetch_refs,
                            std::vector<bool>* needed) {
  needed->assign(g.num_nodes(), false);
  std::vector<int> stack;
  for (const std::string& f : fetches) {
    absl::StatusOr<TensorRef> ref = g.Resolve(f);
    if (!ref.ok()) return Annotate(ref.status(), "fetch");
    fetch_refs->push_back(*ref);
    stack.push_back(ref->node);
  }
  while (!stack.empty()) {
    int n = stack.back();
    stack.pop_back();
    if ((*needed)[n]) continue;
    (*needed)[n] = true;
    for (const TensorRef& in : g.info(n).inputs) stack.push_back(in.node);
  }
  return absl::OkStatus();
}

// Concrete shapes, producers first; the schedule is the topological order
// restricted to the needed nodes.
absl::Status BindShapes(const ValidGraph& g,
                        const std::map<std::string, Tensor>& feeds,
                        const std::vector<bool>& needed,
                        std::vector<int>* schedule, BoundShapes* shapes) {
  for (int n : g.topo_order()) {
    if (!needed[n]) continue;
    const NodeInfo& info = g.info(n);
    if (g.node(n).op() == "Input") {
      auto feed = feeds.find(g.node(n).name());
      if (feed == feeds.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("input '", g.node(n).name(),
                         "' is needed by the fetches but not fed"));
      }
      shapes->Own(n) = {feed->second.shape()};
    } else if (std::all_of(
                   info.inputs.begin(), info.inputs.end(),
                   [&](const TensorRef& in) {
                     return g.info(in.node).shapes[in.output].IsFullyDefined();
                   })) {
      // Validation inferred these shapes from these very input shapes.
      shapes->Refer(n, &info.shapes);
    } else {
      std::vector<DType> in_dtypes;
      std::vector<Shape> in_shapes;
      for (const TensorRef& in : info.inputs) {
        in_dtypes.push_back(g.info(in.node).dtypes[in.output]);
        in_shapes.push_back((*shapes)[in.node][in.output]);
      }
      std::vector<DType> out_dtypes;
      absl::Status s =
          InferNode(*info.op, g.node(n), in_dtypes, in_shapes,
                    g.memory_budget(), &out_dtypes, &shapes->Own(n));
      if (!s.ok()) return Annotate(s, g.Describe(n));
    }
    schedule->push_back(n);
  }
  return absl::OkStatus();
}

// Per node and output: the index of its buffer request, or -1; flat, as a
// vector per node would cost an allocation per node.
class RequestIndex {
 public:
  explicit RequestIndex(const ValidGraph& g) : first_(g.num_nodes() + 1, 0) {
    for (int n = 0; n < g.num_nodes(); ++n) {
      first_[n + 1] = first_[n] + static_cast<int>(g.info(n).dtypes.size());
    }
    index_.assign(first_.back(), -1);
  }
  int& at(int node, int output) { return index_[first_[node] + output]; }

 private:
  std::vector<int> first_, index_;
};

// Buffer lifetimes: from the producing step to the last consuming step,
// where a node absorbed into a fused chain runs at the chain's step.
// Inputs and fetched tensors live through the whole run, so that a
// PreparedRun's inputs, written once, survive every run, and its outputs
// can be read after it. Constants and parameters, and absorbed results, get
// none. A view (Views) shares its input's request, which lives as long as
// the longer-lived of the two.
std::vector<BufferRequest> BufferLifetimes(
    const ValidGraph& g, const std::vector<int>& schedule,
    const BoundShapes& shapes, const std::vector<TensorRef>& fetch_refs,
    const std::vector<bool>& absorbed, const std::vector<bool>& views,
    const std::vector<int>& runs_at, RequestIndex* request_of) {
  int steps = static_cast<int>(schedule.size());
  std::vector<int> step_of(g.num_nodes(), -1);
  for (int s = 0; s < steps; ++s) step_of[schedule[s]] = s;
  std::vector<BufferRequest> requests;
  for (int n : schedule) {
    const NodeInfo& info = g.info(n);
    bool is_input = g.node(n).op() == "Input";
    if (info.op->is_source() && !is_input) continue;  // Bound to values_.
    if (absorbed[n]) continue;
    if (views[n]) {
      const TensorRef& in = info.inputs[0];
      request_of->at(n, 0) = request_of->at(in.node, in.output);
      continue;
    }
    for (size_t o = 0; o < info.dtypes.size(); ++o) {
      request_of->at(n, o) = static_cast<int>(requests.size());
      requests.push_back({*shapes[n][o].ByteSize(info.dtypes[o]),
                          is_input ? 0 : step_of[n],
                          is_input ? steps : step_of[n]});
    }
  }
  for (int n : schedule) {
    const NodeInfo& info = g.info(n);
    for (size_t k = 0; k < info.inputs.size(); ++k) {
      // A kernel that reads only an input's shape never touches its buffer.
      if (info.op->InputArg(static_cast<int>(k)).shape_only) continue;
      const TensorRef& in = info.inputs[k];
      int r = request_of->at(in.node, in.output);
      if (r < 0) continue;
      int& last = requests[r].last_use;
      last = std::max(last, step_of[runs_at[n]]);
    }
  }
  for (const TensorRef& f : fetch_refs) {
    int r = request_of->at(f.node, f.output);
    if (r >= 0) requests[r].last_use = steps;
  }
  return requests;
}

// Whether node n's output 0 holds input 0's bytes unchanged: its op says
// so (OpDef::OutputViewsInput) and, bound, the two have one type and byte
// size (always for a reshape; for ReduceSumLike only where it sums over
// axes of size 1, as in gradients built for a symbolic batch).
bool OutputIsInputBytes(const ValidGraph& g, const BoundShapes& shapes, int n) {
  const NodeInfo& info = g.info(n);
  if (!info.op->output_views_input()) return false;
  const TensorRef& in = info.inputs[0];
  const DType from = g.info(in.node).dtypes[in.output];
  return from == info.dtypes[0] && *shapes[in.node][in.output].ByteSize(from) ==
                                       *shapes[n][0].ByteSize(info.dtypes[0]);
}

// The scheduled nodes whose output is their input's bytes
// (OutputIsInputBytes) and may share its buffer: the input has one in
// the arena (not a Const, Parameter or Input, whose values callers change
// in place, nor an absorbed result) of the same byte size. Kernels write
// only their own outputs, whose buffers never overlap a live one, and a
// view extends its base's lifetime (BufferLifetimes), so within a run no
// kernel overwrites a view. After a run callers rewrite fetched buffers in
// place (the trainer's clipping, the data-parallel average), so no two
// fetches may share bytes: a fetched view whose base buffer another fetch
// already holds stays a copy.
std::vector<bool> Views(const ValidGraph& g, const std::vector<int>& schedule,
                        const BoundShapes& shapes,
                        const std::vector<bool>& absorbed,
                        const std::vector<TensorRef>& fetch_refs,
                        bool views_allowed) {
  std::vector<bool> views(g.num_nodes(), false);
  std::set<std::pair<int, int>> fetched, fetched_bases;
  for (const TensorRef& f : fetch_refs) fetched.insert({f.node, f.output});
  // Per node, the (node, output) that owns its output 0's buffer.
  std::vector<std::pair<int, int>> base(g.num_nodes());
  for (int n : schedule) {
    const NodeInfo& info = g.info(n);
    base[n] = {n, 0};
    if (views_allowed && OutputIsInputBytes(g, shapes, n) && !absorbed[n]) {
      const TensorRef& in = info.inputs[0];
      views[n] = !g.info(in.node).op->is_source() && !absorbed[in.node];
      if (views[n]) {
        base[n] =
            views[in.node] ? base[in.node] : std::make_pair(in.node, in.output);
      }
      if (views[n] && fetched.count({n, 0}) > 0 &&
          !fetched_bases.insert(base[n]).second) {
        views[n] = false;
        base[n] = {n, 0};
      }
      if (views[n]) continue;
    }
    for (size_t o = 0; o < info.dtypes.size(); ++o) {
      if (fetched.count({n, static_cast<int>(o)}) > 0) {
        fetched_bases.insert({n, static_cast<int>(o)});
      }
    }
  }
  return views;
}

// Per fetch, the kernel after which its value is final: the one kernel
// that writes its buffer request. A view shares its base's request,
// kernels write only their own outputs (none works in place), and a
// fetched request lives to the end of the run, so no later kernel reuses
// its bytes. A fetch without a request (a Const or Parameter), or whose
// request no kernel writes (an Input), is final before the first (-1).
std::vector<int> FetchFinalKernels(const ValidGraph& g,
                                   const std::vector<int>& kernel_nodes,
                                   const std::vector<TensorRef>& fetch_refs,
                                   RequestIndex& request_of,
                                   size_t num_requests) {
  std::vector<int> writer(num_requests, -1);
  for (size_t k = 0; k < kernel_nodes.size(); ++k) {
    const int n = kernel_nodes[k];
    for (size_t o = 0; o < g.info(n).dtypes.size(); ++o) {
      const int r = request_of.at(n, static_cast<int>(o));
      if (r >= 0) writer[r] = static_cast<int>(k);
    }
  }
  std::vector<int> final_kernel;
  for (const TensorRef& f : fetch_refs) {
    const int r = request_of.at(f.node, f.output);
    final_kernel.push_back(r < 0 ? -1 : writer[r]);
  }
  return final_kernel;
}

// The name under which kernels share what they derive from tensor `ref`
// (KernelLinks::set_input_values): the tensor's own, or for the result of
// an op whose output is its input's bytes (a view, or its copy where views
// are off) its input's.
std::string ValueName(const ValidGraph& g, const BoundShapes& shapes,
                      TensorRef ref) {
  while (ref.output == 0 && OutputIsInputBytes(g, shapes, ref.node)) {
    ref = g.info(ref.node).inputs[0];
  }
  return absl::StrCat(ref.node, ":", ref.output);
}

}  // namespace

absl::StatusOr<std::unique_ptr<OpKernel>> Executor::CreateKernel(
    const OpDef& op, KernelArgs& args, PlanStats* stats) {
  if (options_.backend == Backend::kOneDnn && op.onednn()) {
    args.onednn = &onednn_;
    ASSIGN_OR_RETURN(std::unique_ptr<OpKernel> kernel, op.onednn()(args));
    if (kernel != nullptr) {
      ++stats->onednn_kernels;
      stats->bf16_kernels +=
          op.follows_precision() && args.precision == Precision::kBf16;
      return kernel;
    }
  }
  return op.reference()(args);  // Also where oneDNN declined the case.
}

absl::StatusOr<std::unique_ptr<OpKernel>> Executor::CreateFusedKernel(
    const MatMulChain& chain, KernelArgs& args, PlanStats* stats) {
  args.onednn = &onednn_;
  ++stats->onednn_kernels;
  ++stats->fused_chains;
  stats->bf16_kernels += args.precision == Precision::kBf16;
  return MakeFusedMatMulKernel(args, chain.kind);
}

absl::StatusOr<std::unique_ptr<Executor::Plan>> Executor::Compile(
    const std::map<std::string, Tensor>& feeds,
    const std::vector<std::string>& fetches) {
  const ValidGraph& g = graph_;
  auto plan = std::make_unique<Plan>();
  // Kernels of this plan only may link (ops/kernel_links.h).
  KernelLinks links;
  std::vector<TensorRef> fetch_refs;
  std::vector<bool> needed;
  RETURN_IF_ERROR(PruneToFetches(g, fetches, &fetch_refs, &needed));
  for (const auto& [name, tensor] : feeds) {
    int node = g.FindNode(name);
    if (node < 0 || g.node(node).op() != "Input") {
      return absl::InvalidArgumentError(
          absl::StrCat("feed '", name, "' names no Input node"));
    }
    RETURN_IF_ERROR(CheckFeed(g, node, tensor));
  }
  std::vector<int> schedule;
  BoundShapes shapes(g.num_nodes());
  RETURN_IF_ERROR(BindShapes(g, feeds, needed, &schedule, &shapes));
  // On oneDNN, MatMul -> bias Add [-> activation] chains run as one kernel
  // at the chain's last node, and their intermediate results never exist.
  std::vector<int> runs_at(g.num_nodes());  // The node whose step runs it.
  for (int n = 0; n < g.num_nodes(); ++n) runs_at[n] = n;
  std::vector<bool> absorbed(g.num_nodes(), false);
  std::map<int, MatMulChain> chain_ending_at;
  if (options_.backend == Backend::kOneDnn && options_.fuse) {
    std::set<std::pair<int, int>> fetched;
    for (const TensorRef& f : fetch_refs) fetched.insert({f.node, f.output});
    for (const MatMulChain& c :
         FindMatMulChains(g, schedule, shapes, fetched)) {
      absorbed[c.matmul] = true;
      if (c.activation >= 0) absorbed[c.add] = true;
      runs_at[c.matmul] = runs_at[c.add] = c.last();
      chain_ending_at[c.last()] = c;
    }
  }
  const std::vector<bool> views =
      Views(g, schedule, shapes, absorbed, fetch_refs, options_.views);
  for (int n : schedule) plan->stats.views += views[n];
  RequestIndex request_of(g);
  std::vector<BufferRequest> requests = BufferLifetimes(
      g, schedule, shapes, fetch_refs, absorbed, views, runs_at, &request_of);
  BufferPlan buffers = PlanBuffers(requests);
  for (const Tensor& v : values_)
    plan->stats.value_bytes += v.valid() ? v.byte_size() : 0;
  plan->stats.planned_peak_bytes = buffers.peak_bytes;
  for (const BufferRequest& r : requests) {
    plan->stats.unshared_bytes += AlignedBytes(r.bytes);
  }
  if (buffers.peak_bytes > g.memory_budget() - plan->stats.value_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the plan needs ", buffers.peak_bytes, " bytes of activations plus ",
        plan->stats.value_bytes, " of values, over the memory budget of ",
        g.memory_budget(), " bytes"));
  }
  char* arena = static_cast<char*>(std::aligned_alloc(
      kTensorAlignment, buffers.peak_bytes + kTensorAlignment));
  if (arena == nullptr)
    return absl::ResourceExhaustedError("cannot allocate the arena");
  plan->arena = std::shared_ptr<void>(arena, std::free);
  // Every output of a scheduled node, as a tensor over its storage.
  auto tensor_of = [&](int node, int output) -> absl::StatusOr<Tensor> {
    int r = request_of.at(node, output);
    // A result absorbed into a fused chain has no buffer; only shape-only
    // readers (see FindMatMulChains) still see it, so any address serves.
    if (r < 0 && !absorbed[node]) return values_[node];
    return Tensor::View(g.info(node).dtypes[output], shapes[node][output],
                        arena + (r < 0 ? 0 : buffers.offsets[r]));
  };
  for (int n : schedule) {
    const NodeInfo& info = g.info(n);
    if (g.node(n).op() == "Input") {
      ASSIGN_OR_RETURN(Tensor buffer, tensor_of(n, 0));
      plan->inputs.push_back({n, buffer});
      plan->input_index_uses.push_back(IndexUses(g, n));
    }
    if (info.op->is_source() || absorbed[n] || views[n]) continue;
    auto chain = chain_ending_at.find(n);
    // A fused chain takes the MatMul's attrs and inputs plus the bias.
    int attrs_node = chain == chain_ending_at.end() ? n : chain->second.matmul;
    Attrs attrs(g.node(attrs_node), g.info(attrs_node).op->attrs());
    KernelArgs args{g.node(n), attrs, {}, {}, nullptr};
    args.precision = options_.precision;
    args.links = &links;
    args.training = &options_.training;
    if (info.op->draws_random_numbers()) args.random_draws = &random_draws_[n];
    std::vector<TensorRef> input_refs = g.info(attrs_node).inputs;
    if (chain != chain_ending_at.end()) {
      input_refs.push_back(chain->second.bias);
    }
    std::vector<std::string> input_values;
    for (const TensorRef& in : input_refs) {
      ASSIGN_OR_RETURN(Tensor t, tensor_of(in.node, in.output));
      args.inputs.push_back(std::move(t));
      if (options_.share_conversions) {
        input_values.push_back(ValueName(g, shapes, in));
      }
    }
    links.set_input_values(std::move(input_values));
    for (size_t o = 0; o < info.dtypes.size(); ++o) {
      ASSIGN_OR_RETURN(Tensor t, tensor_of(n, static_cast<int>(o)));
      args.outputs.push_back(std::move(t));
    }
    const bool matmul =
        chain != chain_ending_at.end() || info.op->name() == "MatMul";
    if (matmul && args.precision == Precision::kBf16 &&
        MatMulMultiplyAdds(args) < options_.bf16_min_multiply_adds) {
      args.precision = Precision::kF32;
    }
    const bool small = IsSmallKernel(args);
    // Created as it will run: oneDNN may pick its method by thread count.
    SingleThreadScope one_thread(small);
    absl::StatusOr<std::unique_ptr<OpKernel>> kernel =
        chain == chain_ending_at.end()
            ? CreateKernel(*info.op, args, &plan->stats)
            : CreateFusedKernel(chain->second, args, &plan->stats);
    if (!kernel.ok()) return Annotate(kernel.status(), g.Describe(n));
    plan->kernels.push_back(*std::move(kernel));
    plan->kernel_nodes.push_back(n);
    plan->small_kernels.push_back(small);
    if (options_.profile) {
      KernelTime label{g.node(n).name(), g.node(n).op()};
      if (chain != chain_ending_at.end()) {
        label.op =
            absl::StrCat("MatMul+Add", chain->second.activation >= 0 ? "+" : "",
                         chain->second.activation >= 0
                             ? g.node(chain->second.activation).op()
                             : "");
      }
      plan->kernel_times.push_back(std::move(label));
    }
    plan->stats.single_threaded_kernels += small;
    if (options_.check_numerics) {
      std::vector<Tensor> floats;
      for (const Tensor& t : args.outputs) {
        if (kFloatTypes.Contains(t.dtype())) floats.push_back(t);
      }
      plan->kernel_outputs.push_back(std::move(floats));
    }
  }
  plan->stats.num_kernels = static_cast<int>(plan->kernels.size());
  plan->stats.shared_recurrent_forwards = links.bound();
  plan->stats.bf16_copies_reused = links.reused();
  for (const TensorRef& f : fetch_refs) {
    ASSIGN_OR_RETURN(Tensor t, tensor_of(f.node, f.output));
    // RunNoCopy hands these out: they keep the arena (or value) alive even
    // if the plan is evicted.
    plan->fetches.push_back(t.SharingOwnership(plan->arena));
  }
  plan->fetch_final_kernel = FetchFinalKernels(
      g, plan->kernel_nodes, fetch_refs, request_of, requests.size());
  for (size_t f = 0; f < fetch_refs.size(); ++f) {
    plan->fetches_by_kernel.push_back({plan->fetch_final_kernel[f], f});
  }
  std::sort(plan->fetches_by_kernel.begin(), plan->fetches_by_kernel.end());
  return plan;
}

absl::StatusOr<std::vector<Tensor>> Executor::Run(
    const std::map<std::string, Tensor>& feeds,
    const std::vector<std::string>& fetches) {
  ASSIGN_OR_RETURN(std::vector<Tensor> views, RunNoCopy(feeds, fetches));
  std::vector<Tensor> out;
  for (const Tensor& t : views) {
    ASSIGN_OR_RETURN(Tensor copy, t.Clone());
    out.push_back(std::move(copy));
  }
  return out;
}

absl::StatusOr<std::shared_ptr<Executor::Plan>> Executor::PlanFor(
    const std::map<std::string, Tensor>& feeds,
    const std::vector<std::string>& fetches) {
  if (fetches.empty()) {
    return absl::InvalidArgumentError("nothing to fetch");
  }
  std::string key = SignatureKey(graph_, feeds, fetches);
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    ASSIGN_OR_RETURN(std::unique_ptr<Plan> plan, Compile(feeds, fetches));
    ++num_compiles_;
    if (static_cast<int>(plan_order_.size()) >= options_.max_cached_plans) {
      plans_.erase(plan_order_.front());
      plan_order_.erase(plan_order_.begin());
    }
    plan_order_.push_back(key);
    it = plans_.emplace(key, std::move(plan)).first;
  }
  Plan& plan = *it->second;
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    auto& [node, buffer] = plan.inputs[i];
    const Tensor& feed = feeds.at(graph_.node(node).name());
    RETURN_IF_ERROR(
        CheckFeedValues(graph_, node, feed, plan.input_index_uses[i]));
    if (buffer.byte_size() > 0) {
      std::memcpy(buffer.raw_data(), feed.raw_data(), buffer.byte_size());
    }
  }
  return it->second;
}

namespace {

// The first element of `t` (f32 or f64) that is NaN or infinite, or -1.
int64_t FirstNonFinite(const Tensor& t) {
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    double v =
        t.dtype() == DType::kF32 ? t.data<float>()[i] : t.data<double>()[i];
    if (!std::isfinite(v)) return i;
  }
  return -1;
}

}  // namespace

absl::Status Executor::RunPlan(Plan& plan, const FetchReady* ready) {
  // Plans only hold views of the parameters: their values are first read
  // here, so a checkpoint written over them before the first run spares
  // the drawing.
  DrawUndrawn();
  // Reports the fetches final after kernel `k` (-1: before the first).
  size_t next_ready = 0;
  auto report = [&](int k) -> absl::Status {
    const auto& order = plan.fetches_by_kernel;
    if (ready == nullptr || next_ready == order.size() ||
        order[next_ready].first != k) {
      return absl::OkStatus();
    }
    if (options_.backend == Backend::kOneDnn) onednn_.stream.wait();
    for (; next_ready < order.size() && order[next_ready].first == k;
         ++next_ready) {
      RETURN_IF_ERROR((*ready)(order[next_ready].second));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(report(-1));
  for (size_t k = 0; k < plan.kernels.size(); ++k) {
    absl::Status s;
    const auto start = std::chrono::steady_clock::now();
    {
      SingleThreadScope one_thread(plan.small_kernels[k]);
      s = plan.kernels[k]->Compute();
    }
    if (options_.profile && s.ok()) {
      if (options_.backend == Backend::kOneDnn) onednn_.stream.wait();
      KernelTime& t = plan.kernel_times[k];
      t.ms += std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
      ++t.runs;
    }
    if (!s.ok()) return Annotate(s, graph_.Describe(plan.kernel_nodes[k]));
    if (options_.check_numerics) {
      if (options_.backend == Backend::kOneDnn) onednn_.stream.wait();
      for (size_t o = 0; o < plan.kernel_outputs[k].size(); ++o) {
        const Tensor& t = plan.kernel_outputs[k][o];
        int64_t bad = FirstNonFinite(t);
        if (bad < 0) continue;
        double v = t.ElementAsDouble(bad);
        return absl::OutOfRangeError(absl::StrCat(
            graph_.Describe(plan.kernel_nodes[k]), ": produced ",
            std::isnan(v) ? "NaN"
            : v > 0       ? "+Inf"
                          : "-Inf",
            " at ", ElementPosition(bad, t.shape()), " of its output ", o, ", ",
            DTypeName(t.dtype()), t.shape().ToString(),
            " (the first non-finite value in this run)"));
      }
    }
    RETURN_IF_ERROR(report(static_cast<int>(k)));
  }
  if (options_.backend == Backend::kOneDnn) onednn_.stream.wait();
  last_stats_ = plan.stats;
  if (options_.profile) kernel_times_ = plan.kernel_times;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Tensor>> Executor::RunNoCopy(
    const std::map<std::string, Tensor>& feeds,
    const std::vector<std::string>& fetches) {
  ASSIGN_OR_RETURN(std::shared_ptr<Plan> plan, PlanFor(feeds, fetches));
  RETURN_IF_ERROR(RunPlan(*plan));
  return plan->fetches;
}

struct PreparedRun::Impl {
  Executor* executor;
  std::shared_ptr<Executor::Plan> plan;
};

PreparedRun::PreparedRun(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Tensor* PreparedRun::input(const std::string& name) {
  for (auto& [node, buffer] : impl_->plan->inputs) {
    if (impl_->executor->graph_.node(node).name() == name) return &buffer;
  }
  return nullptr;
}

absl::Status PreparedRun::Run() {
  return impl_->executor->RunPlan(*impl_->plan);
}

absl::Status PreparedRun::Run(const FetchReady& ready) {
  return impl_->executor->RunPlan(*impl_->plan, &ready);
}

const std::vector<Tensor>& PreparedRun::outputs() const {
  return impl_->plan->fetches;
}

const std::vector<int>& PreparedRun::fetch_final_kernels() const {
  return impl_->plan->fetch_final_kernel;
}

int PreparedRun::num_kernels() const { return impl_->plan->stats.num_kernels; }

absl::StatusOr<PreparedRun> Executor::Prepare(
    const std::map<std::string, Tensor>& feeds,
    const std::vector<std::string>& fetches) {
  ASSIGN_OR_RETURN(std::shared_ptr<Plan> plan, PlanFor(feeds, fetches));
  return PreparedRun(
      std::make_unique<PreparedRun::Impl>(PreparedRun::Impl{this, plan}));
}

}  // namespace rill
