#include "train/data.h"

#include <cstring>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace rill {

uint64_t Rng::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

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
    }
  }
  return parts;
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
