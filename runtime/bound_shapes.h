#ifndef RILL_RUNTIME_BOUND_SHAPES_H_
#define RILL_RUNTIME_BOUND_SHAPES_H_

#include <deque>
#include <vector>

#include "core/shape.h"

namespace rill {

// Each scheduled node's output shapes in one plan: the validated shapes
// where they were static (referred to, not copied: a plan of a 200k-node
// graph would otherwise copy them all), else shapes inferred for the feeds.
class BoundShapes {
 public:
  explicit BoundShapes(int num_nodes) : of_(num_nodes, nullptr) {}
  void Refer(int node, const std::vector<Shape>* shapes) { of_[node] = shapes; }
  // Storage for `node`'s own shapes, to fill.
  std::vector<Shape>& Own(int node) {
    owned_.emplace_back();
    of_[node] = &owned_.back();
    return owned_.back();
  }
  const std::vector<Shape>& operator[](int node) const { return *of_[node]; }

 private:
  std::vector<const std::vector<Shape>*> of_;
  std::deque<std::vector<Shape>> owned_;  // Stable addresses.
};

}  // namespace rill

#endif  // RILL_RUNTIME_BOUND_SHAPES_H_
