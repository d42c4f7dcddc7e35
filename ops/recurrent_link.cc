#include "ops/recurrent_link.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "oneapi/dnnl/dnnl.hpp"
#include "ops/kernel_links.h"
#include "ops/recurrent_cell.h"

namespace rill {
namespace {

// The tensors a forward node reads, or that its gradient node reads in
// their place (x, h0, the weights and biases, and c0 for the LSTM, input
// `c0` of the node), as "node:k". Tensors, not buffer addresses: the arena
// gives one buffer to tensors whose lives do not overlap.
std::vector<std::string> ForwardInputs(const KernelArgs& a, int c0) {
  std::vector<int> at = {0, 1, 2, 3, 4, 5};
  if (RecurrentCellOf(a) == RecurrentCell::kLstm) at.push_back(c0);
  std::vector<std::string> refs;
  for (int k : at) refs.push_back(CanonicalTensorRef(a.node.input(k)));
  return refs;
}

// The attrs that a forward node and its gradient node must agree on.
std::string LayerConfig(const KernelArgs& a) {
  return a.attrs.GetString("cell") +
         (a.attrs.GetBool("reverse") ? " reverse" : "");
}

}  // namespace

void CopyOut(const float* from, Tensor& to) {
  std::memcpy(to.raw_data(), from, to.byte_size());
}

absl::Status DnnlRun(const std::string& node, const std::function<void()>& f) {
  try {
    f();
  } catch (const dnnl::error& e) {
    return absl::InternalError(
        absl::StrCat("node '", node, "': oneDNN: ", e.what()));
  }
  return absl::OkStatus();
}

RecurrentForwardOffer::RecurrentForwardOffer(const KernelArgs& a)
    : node_(a.node.name()), link_(std::make_shared<RecurrentForwardLink>()) {
  link_->inputs = ForwardInputs(a, 6);
  link_->layer = LayerConfig(a);
  if (a.links) a.links->Offer(node_, link_);
}

absl::Status RecurrentForwardOffer::RunBound(Tensor& y, Tensor& hn,
                                             Tensor& cn) {
  RETURN_IF_ERROR(DnnlRun(node_, link_->train));
  CopyOut(link_->y, y);
  CopyOut(link_->hn, hn);
  CopyOut(link_->cn, cn);
  link_->fresh = true;
  return absl::OkStatus();
}

RecurrentForwardBinding::~RecurrentForwardBinding() {
  if (link_) link_->train = nullptr;
}

void RecurrentForwardBinding::Bind(const KernelArgs& a,
                                   std::function<void()> train, const float* y,
                                   const float* hn, const float* cn) {
  if (!a.links) return;
  std::shared_ptr<RecurrentForwardLink> link =
      a.links->Find<RecurrentForwardLink>(a.attrs.GetString("forward"));
  if (!link || link->train || link->inputs != ForwardInputs(a, 8) ||
      link->layer != LayerConfig(a)) {
    return;
  }
  link->train = std::move(train);
  link->y = y;
  link->hn = hn;
  link->cn = cn;
  link_ = std::move(link);
  a.links->CountBound();
}

bool RecurrentForwardBinding::TakeFresh() {
  if (!link_) return false;
  const bool fresh = link_->fresh;
  link_->fresh = false;
  return fresh;
}

}  // namespace rill
