#include "graph/dot.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace rill {
namespace {

std::string Escape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"\\", "\\\\"}, {"\"", "\\\""}});
}

std::string Quote(const std::string& s) {
  return absl::StrCat("\"", Escape(s), "\"");
}

}  // namespace

std::string ToDot(const ValidGraph& g) {
  std::string out =
      "digraph rill {\n  rankdir=TB;\n  node [shape=box, "
      "fontname=\"monospace\"];\n";
  for (int i = 0; i < g.num_nodes(); ++i) {
    const NodeInfo& info = g.info(i);
    // Escaped apart, so that the "\n" line break between them survives.
    std::string label = absl::StrCat("\"", Escape(g.node(i).name()), "\\n",
                                     Escape(g.node(i).op()), "\"");
    const char* style = "";
    if (info.op->name() == "Input")
      style = ", style=filled, fillcolor=\"#dbeafe\"";
    if (info.op->name() == "Parameter")
      style = ", style=filled, fillcolor=\"#fef3c7\"";
    if (info.op->name() == "Const")
      style = ", style=filled, fillcolor=\"#e5e7eb\"";
    absl::StrAppend(&out, "  n", i, " [label=", label, style, "];\n");
  }
  for (int i = 0; i < g.num_nodes(); ++i) {
    for (const TensorRef& in : g.info(i).inputs) {
      const NodeInfo& src = g.info(in.node);
      std::string label = absl::StrCat(DTypeName(src.dtypes[in.output]),
                                       src.shapes[in.output].ToString());
      if (in.output != 0) label = absl::StrCat(":", in.output, " ", label);
      absl::StrAppend(&out, "  n", in.node, " -> n", i,
                      " [label=", Quote(label), "];\n");
    }
  }
  for (const TensorRef& o : g.outputs()) {
    absl::StrAppend(&out, "  out_", o.node, "_", o.output,
                    " [shape=plaintext, label=", Quote(g.RefName(o)), "];\n",
                    "  n", o.node, " -> out_", o.node, "_", o.output, ";\n");
  }
  return out + "}\n";
}

}  // namespace rill
