// `rill build`: writes the graph of a model spec (proto/model.proto) as
// text proto.

#include <cstdio>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "core/file_io.h"
#include "google/protobuf/text_format.h"
#include "graph/loader.h"
#include "models/model_spec.h"
#include "tools/commands.h"

// Defined in grad_command.cc, shared by the commands that write one file.
ABSL_DECLARE_FLAG(std::string, output);

namespace rill {

absl::Status RunBuild(const std::vector<std::string>& operands) {
  std::string out = absl::GetFlag(FLAGS_output);
  if (out.empty()) {
    return absl::InvalidArgumentError("name the output file with -o OUT.pbtxt");
  }
  if (!IsTextGraphPath(out)) {
    return absl::InvalidArgumentError(
        absl::StrCat("-o ", out,
                     ": the graph is written as text proto, so the name must "
                     "end in .pbtxt, .txt or .textproto"));
  }
  ASSIGN_OR_RETURN(Graph graph, BuildModelFile(operands[0]));
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(graph, &text)) {
    return absl::InternalError("cannot print the graph");
  }
  RETURN_IF_ERROR(WriteFileAtomic(out, text));
  // The summary comes from the written file, as `rill check` would read it.
  ASSIGN_OR_RETURN(ValidGraph valid, LoadAndValidate(out));
  int64_t params = 0, values = 0;
  for (int n = 0; n < valid.num_nodes(); ++n) {
    if (valid.node_op(n) != "Parameter") continue;
    ++params;
    values += *valid.info(n).shapes[0].NumElements();
  }
  std::printf("%s: %d nodes, %lld parameters (%lld values)\n", out.c_str(),
              valid.num_nodes(), static_cast<long long>(params),
              static_cast<long long>(values));
  for (int n : valid.input_nodes()) {
    std::printf(
        "  input:  %s %s\n", valid.node(n).name().c_str(),
        TypedShape(valid.info(n).dtypes[0], valid.info(n).shapes[0]).c_str());
  }
  std::printf("  output: loss %s\n",
              TypedShape(valid.info(valid.FindNode("loss")).dtypes[0],
                         valid.info(valid.FindNode("loss")).shapes[0])
                  .c_str());
  return absl::OkStatus();
}

}  // namespace rill
