#ifndef RILL_OPS_KERNEL_LINKS_H_
#define RILL_OPS_KERNEL_LINKS_H_

// State that one node's kernel offers to another node's kernel of the same
// plan, e.g. the fused recurrent layer's forward kernel running the
// forward_training pass that its gradient kernel would otherwise recompute
// (ops/recurrent_onednn.cc). The op that offers defines the state's type;
// neither core/ nor the executor knows it. The executor makes one
// KernelLinks per plan compile and hands it to every kernel it creates
// (KernelArgs::links), so kernels of two plans never meet; what the
// kernels share they keep through the shared_ptr, so the KernelLinks need
// not outlive the compile.

#include <memory>
#include <string>
#include <typeindex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rill {

class KernelLinks {
 public:
  // Offers `state` under the offering node's name.
  template <typename T>
  void Offer(const std::string& node, std::shared_ptr<T> state) {
    offered_.insert_or_assign(node, Offered{std::type_index(typeid(T)), state});
  }

  // What `node` offered, if it is a T; else null.
  template <typename T>
  std::shared_ptr<T> Find(const std::string& node) const {
    auto it = offered_.find(node);
    if (it == offered_.end() || it->second.type != typeid(T)) return nullptr;
    return std::static_pointer_cast<T>(it->second.state);
  }

  // A kernel that takes up an offer says so: PlanStats counts the pairs.
  void CountBound() { ++bound_; }
  int bound() const { return bound_; }

  // What each input of the kernel being created holds, named by the
  // executor before it creates the kernel: inputs of two kernels of the
  // plan with one name hold the same bytes in the same order whenever
  // either runs (a view and its base share the base's name). So a kernel
  // may read what an earlier kernel derived from that input on the same
  // run (a bf16 copy) rather than derive it again. Empty names: nothing to
  // share.
  void set_input_values(std::vector<std::string> names) {
    input_values_ = std::move(names);
  }
  const std::string& input_value(size_t k) const {
    static const std::string* const kNone = new std::string;
    return k < input_values_.size() ? input_values_[k] : *kNone;
  }
  // A kernel that reads what an earlier one derived says so: PlanStats
  // counts them.
  void CountReused() { ++reused_; }
  int reused() const { return reused_; }

 private:
  struct Offered {
    std::type_index type;
    std::shared_ptr<void> state;
  };
  std::unordered_map<std::string, Offered> offered_;
  int bound_ = 0;
  int reused_ = 0;
  std::vector<std::string> input_values_;
};

}  // namespace rill

#endif  // RILL_OPS_KERNEL_LINKS_H_
