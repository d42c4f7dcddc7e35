// `rill grad`: writes the forward-plus-backward graph as text proto.

#include <cstdio>

#include "absl/strings/str_join.h"
#include "graph/autodiff.h"
#include "tools/commands.h"

namespace rill {
namespace {

// The flags of `rill grad`.
struct {
  GradientRequest request;
  std::string output;
} flags;

}  // namespace

std::vector<Flag> GradFlags() {
  GradientRequest& r = flags.request;
  return {ListFlag("loss", &r.losses,
                   "The loss tensor (node or node:k); comma-separated for "
                   "several, whose gradients add up."),
          ListFlag("wrt", &r.wrt,
                   "Tensors to differentiate with respect to, "
                   "comma-separated."),
          SwitchFlag("wrt_params", &r.wrt_params,
                     "Differentiate with respect to every Parameter node."),
          SwitchFlag("seed_inputs", &r.seed_inputs,
                     "Give each loss an Input node <loss>/grad/seed for its "
                     "incoming gradient (vector-Jacobian products of "
                     "non-scalar outputs)."),
          SwitchFlag("allow_unreached", &r.allow_unreached,
                     "A --wrt tensor that does not reach the loss gets a zero "
                     "gradient and a warning, instead of an error."),
          TextGraphOutputFlag(&flags.output, "the gradient graph"),
          NoFuseFlag(),
          MemoryBudgetFlag(),
          MaxFileFlag()};
}

absl::Status CheckGradFlags(const Operands&) {
  if (flags.request.losses.empty()) {
    return absl::InvalidArgumentError("name the loss with --loss NAME");
  }
  if (flags.request.wrt.empty() && !flags.request.wrt_params) {
    return absl::InvalidArgumentError(
        "name what to differentiate with respect to: --wrt a,b or "
        "--wrt_params");
  }
  return CheckTextGraphOutput(flags.output);
}

absl::Status RunGrad(const std::vector<std::string>& operands) {
  const std::string& out = flags.output;
  const GradientRequest& request = flags.request;
  ASSIGN_OR_RETURN(ValidGraph forward, LoadAndValidate(operands[0], true));
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
