#include "train/data.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace rill {

absl::StatusOr<std::pair<Dataset, Dataset>> Dataset::SplitAt(int64_t n) const {
  std::pair<Dataset, Dataset> parts;
  for (size_t i = 0; i < arrays.size(); ++i) {
    const Tensor& a = arrays[i];
    int64_t row_bytes =
        a.shape().dim(0) == 0 ? 0 : a.byte_size() / a.shape().dim(0);
    for (auto [part, begin, end] :
         {std::tuple{&parts.first, int64_t{0}, n},
          std::tuple{&parts.second, n, a.shape().dim(0)}}) {
      std::vector<int64_t> dims = a.shape().dims();
      dims[0] = end - begin;
      ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(a.dtype(), Shape(dims)));
      if (t.byte_size() > 0) {
        std::memcpy(t.raw_data(),
                    static_cast<const char*>(a.raw_data()) + begin * row_bytes,
                    t.byte_size());
      }
      part->inputs.push_back(inputs[i]);
      part->arrays.push_back(std::move(t));
      if (i < sources.size()) part->sources.push_back(sources[i]);
    }
  }
  return parts;
}

namespace {

absl::Status FieldError(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

}  // namespace

absl::Status CheckDataset(const ValidGraph& graph, const Dataset& data,
                          const std::string& field) {
  if (data.inputs.size() != data.arrays.size()) {
    return FieldError(field, absl::StrCat(data.inputs.size(), " inputs but ",
                                          data.arrays.size(), " arrays"));
  }
  auto source = [&](size_t i) {
    return i < data.sources.size()
               ? data.sources[i]
               : absl::StrCat("the array for '", data.inputs[i], "'");
  };
  for (size_t i = 0; i < data.arrays.size(); ++i) {
    const std::string& input = data.inputs[i];
    const Tensor& array = data.arrays[i];
    std::string where = absl::StrCat(field, "[", i, "]");
    int node = graph.FindNode(input);
    if (node < 0 || graph.node_op(node) != "Input") {
      return FieldError(
          where + ".input",
          absl::StrCat("'", input, "' is not an Input node of the graph"));
    }
    if (std::find(data.inputs.begin(), data.inputs.begin() + i, input) !=
        data.inputs.begin() + i) {
      return FieldError(where + ".input",
                        absl::StrCat("'", input, "' is bound twice"));
    }
    const Shape& declared = graph.info(node).shapes[0];
    DType dtype = graph.info(node).dtypes[0];
    bool fits = array.dtype() == dtype &&
                array.shape().rank() == declared.rank() && declared.rank() >= 1;
    for (int d = 1; fits && d < declared.rank(); ++d) {
      fits = declared.dim(d) == kSymbolicDim ||
             declared.dim(d) == array.shape().dim(d);
    }
    if (!fits) {
      return FieldError(
          where, absl::StrCat(source(i), " holds ", DTypeName(array.dtype()),
                              array.shape().ToString(), " but input '", input,
                              "' is ", DTypeName(dtype), declared.ToString(),
                              " (the first axis indexes examples)"));
    }
    if (array.shape().dim(0) != data.arrays[0].shape().dim(0)) {
      return FieldError(
          where,
          absl::StrCat(source(i), " has ", array.shape().dim(0),
                       " examples but ", source(0), " has ", data.size()));
    }
  }
  return absl::OkStatus();
}

BatchOrder::BatchOrder(int64_t num_examples, int64_t batch_size, bool shuffle,
                       uint64_t seed)
    : num_examples_(num_examples),
      batch_size_(batch_size),
      shuffle_(shuffle),
      rng_(seed),
      order_(num_examples) {
  StartEpoch();
}

void BatchOrder::StartEpoch() {
  ++epoch_;
  batch_ = 0;
  epoch_start_state_ = rng_.state();
  std::iota(order_.begin(), order_.end(), 0);
  if (!shuffle_) return;
  // Fisher-Yates; the modulo's bias is below 2^-40 for any real data size.
  for (int64_t i = num_examples_ - 1; i > 0; --i) {
    int64_t j =
        static_cast<int64_t>(rng_.Next() % static_cast<uint64_t>(i + 1));
    std::swap(order_[i], order_[j]);
  }
}

const int64_t* BatchOrder::Next() {
  if (batch_ == batches_per_epoch()) StartEpoch();
  return order_.data() + batch_size_ * batch_++;
}

std::string BatchOrder::Save() const {
  std::string bytes;
  for (int64_t v : {static_cast<int64_t>(epoch_start_state_), epoch_, batch_}) {
    bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  return bytes;
}

absl::Status BatchOrder::Restore(const std::string& bytes) {
  int64_t v[3];
  if (bytes.size() != sizeof v) {
    return absl::DataLossError(absl::StrCat(
        "the data-order state is ", bytes.size(), " bytes, not ", sizeof v));
  }
  std::memcpy(v, bytes.data(), sizeof v);
  if (v[1] < 0 || v[2] < 0 || v[2] > batches_per_epoch()) {
    return absl::DataLossError("the data-order state is out of range");
  }
  rng_.set_state(static_cast<uint64_t>(v[0]));
  epoch_ = v[1] - 1;
  StartEpoch();  // Replays the epoch's shuffle from its starting state.
  batch_ = v[2];
  return absl::OkStatus();
}

}  // namespace rill
