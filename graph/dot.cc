#include "graph/dot.h"

#include <map>
#include <memory>

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

std::string NodeLine(const ValidGraph& g, int i) {
  // Escaped apart, so that the "\n" line break between them survives.
  std::string label = absl::StrCat("\"", Escape(g.node(i).name()), "\\n",
                                   Escape(g.node(i).op()), "\"");
  const std::string& op = g.info(i).op->name();
  const char* style = "";
  if (op == "Input") style = ", style=filled, fillcolor=\"#dbeafe\"";
  if (op == "Parameter") style = ", style=filled, fillcolor=\"#fef3c7\"";
  if (op == "Const") style = ", style=filled, fillcolor=\"#e5e7eb\"";
  return absl::StrCat("n", i, " [label=", label, style, "];\n");
}

// Nodes by "/" scope: a node "a/b/c" sits in scope a, sub-scope b.
struct Scope {
  std::vector<int> nodes;
  std::map<std::string, std::unique_ptr<Scope>> children;
};

void WriteScope(const ValidGraph& g, const Scope& scope,
                const std::string& path, int depth, int* clusters,
                std::string& out) {
  const std::string indent(2 * depth, ' ');
  for (int i : scope.nodes) absl::StrAppend(&out, indent, NodeLine(g, i));
  for (const auto& [name, child] : scope.children) {
    const std::string child_path = path.empty() ? name : path + "/" + name;
    absl::StrAppend(&out, indent, "subgraph cluster_", (*clusters)++, " {\n",
                    indent, "  label=", Quote(child_path), ";\n");
    WriteScope(g, *child, child_path, depth + 1, clusters, out);
    absl::StrAppend(&out, indent, "}\n");
  }
}

}  // namespace

absl::StatusOr<std::string> ToDot(const ValidGraph& g,
                                  const DotOptions& options) {
  std::vector<TensorRef> outputs = g.outputs();
  std::vector<bool> drawn(g.num_nodes(), options.fetches.empty());
  if (!options.fetches.empty()) {
    outputs.clear();
    std::vector<int> pending;
    for (const std::string& fetch : options.fetches) {
      ASSIGN_OR_RETURN(TensorRef ref, g.Resolve(fetch));
      outputs.push_back(ref);
      pending.push_back(ref.node);
    }
    while (!pending.empty()) {
      const int n = pending.back();
      pending.pop_back();
      if (drawn[n]) continue;
      drawn[n] = true;
      for (const TensorRef& in : g.info(n).inputs) pending.push_back(in.node);
    }
  }
  std::string out =
      "digraph rill {\n  rankdir=TB;\n  node [shape=box, "
      "fontname=\"monospace\"];\n";
  Scope root;
  for (int i = 0; i < g.num_nodes(); ++i) {
    if (!drawn[i]) continue;
    Scope* scope = &root;
    if (options.group_scopes) {
      const std::string& name = g.node(i).name();
      size_t begin = 0;
      for (size_t slash; (slash = name.find('/', begin)) != std::string::npos;
           begin = slash + 1) {
        auto& child = scope->children[name.substr(begin, slash - begin)];
        if (!child) child = std::make_unique<Scope>();
        scope = child.get();
      }
    }
    scope->nodes.push_back(i);
  }
  int clusters = 0;
  WriteScope(g, root, "", 1, &clusters, out);
  for (int i = 0; i < g.num_nodes(); ++i) {
    if (!drawn[i]) continue;
    for (const TensorRef& in : g.info(i).inputs) {
      const NodeInfo& src = g.info(in.node);
      std::string label = absl::StrCat(DTypeName(src.dtypes[in.output]),
                                       src.shapes[in.output].ToString());
      if (in.output != 0) label = absl::StrCat(":", in.output, " ", label);
      absl::StrAppend(&out, "  n", in.node, " -> n", i,
                      " [label=", Quote(label), "];\n");
    }
  }
  for (const TensorRef& o : outputs) {
    absl::StrAppend(&out, "  out_", o.node, "_", o.output,
                    " [shape=plaintext, label=", Quote(g.RefName(o)), "];\n",
                    "  n", o.node, " -> out_", o.node, "_", o.output, ";\n");
  }
  return out + "}\n";
}

}  // namespace rill
