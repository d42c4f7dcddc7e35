// libFuzzer target for model specs (proto/model.proto), as `rill build`
// takes them: the text parse LoadModelSpec makes (size cap, nesting limit),
// then BuildModel against a small memory budget. Any input must build or
// fail with a status naming the source or a spec field; never crash, hang
// or allocate past the budget. What builds must print as text, load back
// and validate, as `rill build` writes and then checks its output.
// Seeds: the specs under examples/ and corpus/model_spec/.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/text_format.h"
#include "graph/loader.h"
#include "graph/validate.h"
#include "models/model_spec.h"

namespace {

constexpr int64_t kMemoryBudget = int64_t{64} << 20;
// Errors quote what they echo (core/quote.h), so they stay short.
constexpr size_t kMaxMessageBytes = 4096;

bool Quiet() {
  // The text parser logs each syntax error; the status is what we check.
  google::protobuf::SetLogHandler(nullptr);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = Quiet();
  (void)quiet;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<rill::ModelSpec> spec =
      rill::ParseModelSpec(text, "spec.pbtxt");
  if (!spec.ok()) {
    if (!absl::StartsWith(spec.status().message(), "spec.pbtxt")) {
      __builtin_trap();
    }
    return 0;
  }
  rill::MemoryBudget budget;
  budget.bytes = kMemoryBudget;
  absl::StatusOr<rill::Graph> graph = rill::BuildModel(*spec, budget);
  if (!graph.ok()) {
    if (graph.status().message().empty() ||
        graph.status().message().size() > kMaxMessageBytes) {
      __builtin_trap();
    }
    return 0;
  }
  // What `rill build` writes, read back as `rill check` would.
  std::string out;
  if (!google::protobuf::TextFormat::PrintToString(*graph, &out)) {
    __builtin_trap();
  }
  absl::StatusOr<rill::LoadedGraph> loaded =
      rill::ParseGraphText(out, "built.pbtxt", rill::LoadOptions());
  if (!loaded.ok()) __builtin_trap();
  absl::StatusOr<rill::ValidGraph> valid =
      rill::ValidateGraph(*std::move(loaded));
  if (!valid.ok() || valid->proto().output().empty()) __builtin_trap();
  for (const std::string& output : valid->proto().output()) {
    if (valid->FindNode(output) < 0) __builtin_trap();
  }
  // Every model but a bare recurrent stack (no head) or a bare PyTorch
  // layer (models/torch_layer_spec.h) has a loss.
  const bool bare = (spec->has_recurrent() && !spec->has_head()) ||
                    spec->has_multihead_attention() ||
                    spec->has_transformer_encoder_layer() ||
                    spec->has_transformer_decoder_layer();
  if (!bare && valid->FindNode("loss") < 0) __builtin_trap();
  return 0;
}
