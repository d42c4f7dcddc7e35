#include "ops/registry.h"

#include <cstdio>
#include <cstdlib>

namespace rill {

void OpRegistry::Add(OpDef def) {
  std::string name = def.name();
  if (!ops_.emplace(name, std::move(def)).second) {
    std::fprintf(stderr, "rill: op %s registered twice\n", name.c_str());
    std::abort();
  }
}

const OpDef* OpRegistry::Find(const std::string& name) const {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, def] : ops_) names.push_back(name);
  return names;
}

void RegisterAllOps(OpRegistry& registry) {
  RegisterSourceOps(registry);
  RegisterMathOps(registry);
  RegisterMatMulOps(registry);
  RegisterElementwiseOps(registry);
  RegisterArrayOps(registry);
  RegisterSliceOps(registry);
  RegisterValueOps(registry);
  RegisterNnOps(registry);
  RegisterReduceOps(registry);
  RegisterIndexOps(registry);
  RegisterSparseOps(registry);
  RegisterRandomOps(registry);
  RegisterLossOps(registry);
  RegisterRecurrentOps(registry);
}

const OpRegistry& GlobalOpRegistry() {
  static const OpRegistry* registry = [] {
    auto* r = new OpRegistry;
    RegisterAllOps(*r);
    return r;
  }();
  return *registry;
}

}  // namespace rill
