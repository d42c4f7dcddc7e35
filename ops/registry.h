#ifndef RILL_OPS_REGISTRY_H_
#define RILL_OPS_REGISTRY_H_

#include <map>
#include <string>
#include <vector>

#include "ops/op_def.h"

namespace rill {

class OpRegistry {
 public:
  // Registering one name twice is a programming error and aborts at start-up.
  void Add(OpDef def);
  const OpDef* Find(const std::string& name) const;
  std::vector<std::string> Names() const;  // Sorted.

 private:
  std::map<std::string, OpDef> ops_;
};

// Registration is an explicit call (DESIGN.md, decision 2): no static
// initialisers that a linker could drop.
void RegisterAllOps(OpRegistry& registry);

// Each op family registers itself here.
void RegisterSourceOps(OpRegistry& registry);
void RegisterMathOps(OpRegistry& registry);
void RegisterMatMulOps(OpRegistry& registry);
void RegisterElementwiseOps(OpRegistry& registry);
void RegisterArrayOps(OpRegistry& registry);
void RegisterSliceOps(OpRegistry& registry);
void RegisterValueOps(OpRegistry& registry);
void RegisterNnOps(OpRegistry& registry);
void RegisterReduceOps(OpRegistry& registry);
void RegisterIndexOps(OpRegistry& registry);
void RegisterSparseOps(OpRegistry& registry);
void RegisterRandomOps(OpRegistry& registry);
void RegisterLossOps(OpRegistry& registry);
void RegisterRecurrentOps(OpRegistry& registry);

// The registry with every op, built on first use by RegisterAllOps().
const OpRegistry& GlobalOpRegistry();

}  // namespace rill

#endif  // RILL_OPS_REGISTRY_H_
