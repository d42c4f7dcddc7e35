// BERT-base at full size (issue 16 item 3): L12 H768 A12 ff3072 V30522,
// S128, f32. Times building its graph and writing it (initializers, not
// values), loading it (parse, validate, draw the parameters), reading the
// parameters from a checkpoint instead (no drawing), and the first forward pass
// at batch 1; and reports the process's peak resident memory (VmHWM) against
// the parameter bytes plus the plan's activation arena.
//
//   scale_bench DIR init   writes DIR/bert_base.pbtxt and DIR/params.rckpt
//   scale_bench DIR ckpt   loads the graph, then the checkpoint's values
//
// Each mode runs in its own process, so that each peak is its own.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "core/checkpoint.h"
#include "core/file_io.h"
#include "core/threads.h"
#include "google/protobuf/text_format.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "models/bert.h"
#include "runtime/executor.h"

namespace rill {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

// From /proc/self/status, in bytes: "VmHWM" (peak) or "VmRSS".
int64_t StatusBytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      return std::stoll(line.substr(key.size() + 1)) * 1024;
    }
  }
  return -1;
}

double Mb(int64_t bytes) { return bytes / 1e6; }

BertOptions BertBase() {
  BertOptions o;
  o.vocab_size = 30522;
  o.hidden_size = 768;
  o.num_hidden_layers = 12;
  o.num_attention_heads = 12;
  o.intermediate_size = 3072;
  o.max_position_embeddings = 512;
  o.type_vocab_size = 2;
  o.hidden_dropout_prob = 0;
  o.attention_probs_dropout_prob = 0;
  o.seq_length = 128;
  o.max_predictions_per_seq = 20;
  o.seed = 1;
  return o;
}

std::map<std::string, Tensor> Feeds(const BertOptions& o) {
  std::map<std::string, Tensor> feeds;
  auto ints = [&](const std::string& name, Shape shape, int64_t mod) {
    Tensor t = *Tensor::Allocate(DType::kI64, shape);
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      t.data<int64_t>()[i] = (i * 7919 + 13) % mod;
    }
    feeds[name] = t;
  };
  const int64_t s = o.seq_length, p = o.max_predictions_per_seq;
  ints("input_ids", Shape{1, s}, o.vocab_size);
  ints("token_type_ids", Shape{1, s}, 2);
  Tensor mask = *Tensor::Allocate(DType::kI64, Shape{1, s});
  for (int64_t i = 0; i < s; ++i) mask.data<int64_t>()[i] = 1;
  feeds["attention_mask"] = mask;
  ints("masked_lm_positions", Shape{1, p}, s);
  ints("masked_lm_ids", Shape{1, p}, o.vocab_size);
  Tensor weights = *Tensor::Allocate(DType::kF32, Shape{1, p});
  for (int64_t i = 0; i < p; ++i) weights.data<float>()[i] = 1;
  feeds["masked_lm_weights"] = weights;
  ints("next_sentence_labels", Shape{1}, 2);
  return feeds;
}

absl::Status Main(const std::string& dir, const std::string& mode) {
  const BertOptions o = BertBase();
  const std::string graph_path = dir + "/bert_base.pbtxt";
  const std::string ckpt_path = dir + "/params.rckpt";
  std::printf(
      "BERT-base L12 H768 A12 ff3072 V30522, S128 B1, f32; mode %s, "
      "%d threads\n",
      mode.c_str(), CurrentThreads());
  if (mode == "init") {
    auto t0 = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(Graph graph, BuildBertGraph(o));
    std::string text;
    google::protobuf::TextFormat::PrintToString(graph, &text);
    RETURN_IF_ERROR(WriteFileAtomic(graph_path, text));
    std::printf("%-34s %9.3f s   %d nodes, %.1f kB text\n",
                "build + write graph", Seconds(t0), graph.node_size(),
                text.size() / 1e3);
  }
  auto t0 = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(LoadedGraph loaded, LoadGraphFile(graph_path));
  ASSIGN_OR_RETURN(ValidGraph valid, ValidateGraph(std::move(loaded)));
  const double parse = Seconds(t0);
  ASSIGN_OR_RETURN(std::unique_ptr<Executor> ex,
                   Executor::Create(std::move(valid)));
  const double allocate = Seconds(t0);
  std::printf("%-34s %9.3f s\n", "load: parse + validate", parse);
  std::printf("%-34s %9.3f s\n", "load: + allocate parameters", allocate);
  // init draws the initializers (on first use: here); ckpt overwrites the
  // parameters from the checkpoint without drawing them.
  int64_t param_bytes = 0;
  auto fill = [&](const std::map<std::string, Tensor*>& params) {
    for (const auto& [name, t] : params) param_bytes += t->byte_size();
    if (mode != "ckpt") return absl::OkStatus();
    return ReadParameterValues(ckpt_path, params, /*use_all=*/true,
                               int64_t{16} << 30);
  };
  if (mode == "ckpt") {
    RETURN_IF_ERROR(ex->OverwriteParameters(fill));
  } else {
    RETURN_IF_ERROR(fill(ex->mutable_parameters()));
  }
  std::printf("%-34s %9.3f s   %s\n",
              mode == "ckpt" ? "load: + read checkpoint (no draw)"
                             : "load: + draw parameters",
              Seconds(t0), mode == "ckpt" ? ckpt_path.c_str() : "");
  std::printf("%-34s %9.1f MB (VmHWM %.1f MB)\n", "resident after load",
              Mb(StatusBytes("VmRSS")), Mb(StatusBytes("VmHWM")));
  t0 = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::vector<Tensor> out,
                   ex->Run(Feeds(o), {"loss", "mlm_logits"}));
  std::printf("%-34s %9.3f s   loss %.6f\n", "first forward (compile + run)",
              Seconds(t0), out[0].ElementAsDouble(0));
  t0 = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(out, ex->Run(Feeds(o), {"loss", "mlm_logits"}));
  std::printf("%-34s %9.3f s\n", "second forward", Seconds(t0));
  std::printf("%-34s %9lld\n", "initializers drawn",
              static_cast<long long>(ex->initializers_drawn()));
  const PlanStats& stats = ex->last_plan_stats();
  const int64_t peak = StatusBytes("VmHWM");
  const int64_t budget = param_bytes + stats.planned_peak_bytes;
  std::printf("%-34s %9.1f MB\n", "parameter bytes", Mb(param_bytes));
  std::printf("%-34s %9.1f MB\n", "activation arena (planned)",
              Mb(stats.planned_peak_bytes));
  std::printf("%-34s %9.1f MB = %.2fx (params + activations); target < 1.5x\n",
              "peak resident (VmHWM)", Mb(peak),
              static_cast<double>(peak) / budget);
  if (mode == "init") {
    Checkpoint c;
    for (const auto& [name, t] : ex->mutable_parameters()) {
      c.tensors.emplace_back(ParamTensorName(name), *t);
    }
    t0 = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(WriteCheckpoint(ckpt_path, c));
    std::printf("%-34s %9.3f s   (after the figures above)\n",
                "write parameter checkpoint", Seconds(t0));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace rill

int main(int argc, char** argv) {
  rill::PreferPassiveOpenMpThreads(argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: scale_bench DIR init|ckpt\n");
    return 2;
  }
  absl::Status s = rill::Main(argv[1], argv[2]);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
