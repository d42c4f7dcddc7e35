// `rill grad`: writes the forward-plus-backward graph as text proto.

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_join.h"
#include "graph/autodiff.h"
#include "tools/commands.h"

ABSL_FLAG(std::vector<std::string>, loss, {},
          "The loss tensor (node or node:k); comma-separated for several, "
          "whose gradients add up.");
ABSL_FLAG(std::vector<std::string>, wrt, {},
          "Tensors to differentiate with respect to, comma-separated.");
ABSL_FLAG(bool, wrt_params, false,
          "Differentiate with respect to every Parameter node.");
ABSL_FLAG(bool, seed_inputs, false,
          "Give each loss an Input node <loss>/grad/seed for its incoming "
          "gradient (vector-Jacobian products of non-scalar outputs).");
ABSL_FLAG(bool, allow_unreached, false,
          "A --wrt tensor that does not reach the loss gets a zero gradient "
          "and a warning, instead of an error.");
ABSL_FLAG(std::string, output, "",
          "Where to write the result (-o): the graph as text proto for grad "
          "and build, the directory for export-weights, the text for "
          "decode, the vocabulary for tokenize --build_vocab.");

namespace rill {

absl::Status RunGrad(const std::vector<std::string>& operands) {
  ASSIGN_OR_RETURN(std::string out, TextGraphOutput("the gradient graph"));
  ASSIGN_OR_RETURN(ValidGraph forward, LoadAndValidate(operands[0], true));
  GradientRequest request;
  request.losses = absl::GetFlag(FLAGS_loss);
  request.wrt = absl::GetFlag(FLAGS_wrt);
  request.wrt_params = absl::GetFlag(FLAGS_wrt_params);
  request.seed_inputs = absl::GetFlag(FLAGS_seed_inputs);
  request.allow_unreached = absl::GetFlag(FLAGS_allow_unreached);
  if (request.losses.empty()) {
    return absl::InvalidArgumentError("name the loss with --loss NAME");
  }
  if (request.wrt.empty() && !request.wrt_params) {
    return absl::InvalidArgumentError(
        "name what to differentiate with respect to: --wrt a,b or "
        "--wrt_params");
  }
  int forward_nodes = forward.num_nodes();
  ASSIGN_OR_RETURN(GradientGraph grad,
                   BuildGradientGraph(std::move(forward), request));
  const ValidGraph& valid = grad.graph;
  RETURN_IF_ERROR(WriteTextGraph(valid.proto(), out));
  for (const std::string& w : grad.warnings) {
    std::fprintf(stderr, "%s\n", w.c_str());
  }
  std::printf("%s: %d nodes (%d forward, %d backward)\n", out.c_str(),
              valid.num_nodes(), forward_nodes,
              valid.num_nodes() - forward_nodes);
  for (const std::string& s : grad.seeds) {
    int n = valid.FindNode(s);
    std::printf(
        "  seed:     %s %s\n", s.c_str(),
        TypedShape(valid.info(n).dtypes[0], valid.info(n).shapes[0]).c_str());
  }
  for (size_t i = 0; i < grad.wrt.size(); ++i) {
    int n = valid.FindNode(grad.gradients[i]);
    std::printf(
        "  gradient: %s = d(%s)/d(%s) %s\n", grad.gradients[i].c_str(),
        absl::StrJoin(request.losses, " + ").c_str(), grad.wrt[i].c_str(),
        TypedShape(valid.info(n).dtypes[0], valid.info(n).shapes[0]).c_str());
  }
  return absl::OkStatus();
}

}  // namespace rill
