#include "train/distributed.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/stopwatch.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace rill {
namespace {

// Map fields (node attrs) serialize in no fixed order unless asked to.
std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream out(&stream);
  out.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&out);
  out.Trim();
  return bytes;
}

}  // namespace

RankShard::RankShard(int64_t global_batch, int rank, int size)
    : rank_(rank), size_(size), rows_(global_batch / size) {}

const int64_t* RankShard::Take(const int64_t* global_rows) {
  for (size_t j = 0; j < rows_.size(); ++j) {
    rows_[j] = global_rows[rank_ + static_cast<int64_t>(j) * size_];
  }
  return rows_.data();
}

GradientAverager::GradientAverager(Communicator& communicator,
                                   int64_t bucket_bytes)
    : communicator_(communicator), bucket_bytes_(bucket_bytes) {}

absl::Status GradientAverager::Plan(const std::vector<Tensor*>& grads,
                                    const std::vector<size_t>& ready_order) {
  grads_ = grads;
  std::vector<size_t> order = ready_order;
  if (order.empty()) {
    // Backward produces the last parameters' gradients first.
    for (size_t p = grads.size(); p-- > 0;) order.push_back(p);
  }
  if (order.size() != grads.size()) {
    return absl::InternalError(absl::StrCat("gradient averaging: an order of ",
                                            order.size(), " for ", grads.size(),
                                            " gradients"));
  }
  buckets_.clear();
  missing_.clear();
  bucket_of_.assign(grads.size(), 0);
  offset_of_.assign(grads.size(), 0);
  std::vector<int64_t> elements;
  int64_t bytes = 0;
  for (size_t p : order) {
    const DType dtype = grads[p]->dtype();
    if (dtype != DType::kF32 && dtype != DType::kF64) {
      return absl::InvalidArgumentError(
          absl::StrCat("gradient averaging: a gradient of type ",
                       DTypeName(dtype), " (f32 or f64 only)"));
    }
    const int64_t size = grads[p]->byte_size();
    if (buckets_.empty() || bytes + size > bucket_bytes_ ||
        grads[buckets_.back().front()]->dtype() != dtype) {
      buckets_.emplace_back();
      elements.push_back(0);
      bytes = 0;
    }
    bucket_of_[p] = buckets_.size() - 1;
    offset_of_[p] = elements.back();
    buckets_.back().push_back(p);
    elements.back() += grads[p]->num_elements();
    bytes += size;
  }
  buffers_.clear();
  for (size_t b = 0; b < buckets_.size(); ++b) {
    ASSIGN_OR_RETURN(Tensor buffer,
                     Tensor::Allocate(grads[buckets_[b].front()]->dtype(),
                                      Shape{elements[b]}));
    buffers_.push_back(std::move(buffer));
    missing_.push_back(buckets_[b].size());
  }
  packed_.assign(grads.size(), false);
  next_ = 0;
  return absl::OkStatus();
}

absl::Status GradientAverager::Ready(size_t p) {
  if (!packed_[p]) {
    const Tensor& g = *grads_[p];
    Tensor& buffer = buffers_[bucket_of_[p]];
    std::memcpy(static_cast<char*>(buffer.raw_data()) +
                    offset_of_[p] * DTypeSize(buffer.dtype()),
                g.raw_data(), g.byte_size());
    packed_[p] = true;
    --missing_[bucket_of_[p]];
  }
  if (next_ == buckets_.size() || missing_[next_] > 0) {
    return next_ > 0 ? communicator_.Progress() : absl::OkStatus();
  }
  for (; next_ < buckets_.size() && missing_[next_] == 0; ++next_) {
    Tensor& buffer = buffers_[next_];
    RETURN_IF_ERROR(buffer.dtype() == DType::kF64
                        ? communicator_.StartAllreduceSum(buffer.data<double>(),
                                                          buffer.num_elements())
                        : communicator_.StartAllreduceSum(
                              buffer.data<float>(), buffer.num_elements()));
    ++started_total_;
  }
  return absl::OkStatus();
}

// Divided by N, as DDP does: the mean of the ranks' mean gradients.
template <typename T>
void GradientAverager::Unpack(const std::vector<size_t>& bucket,
                              const Tensor& buffer) {
  const T* from = buffer.data<T>();
  for (size_t p : bucket) {
    T* g = grads_[p]->data<T>();
    for (int64_t k = 0, e = grads_[p]->num_elements(); k < e; ++k) {
      g[k] = from[k] / communicator_.size();
    }
    from += grads_[p]->num_elements();
  }
}

absl::Status GradientAverager::Finish() {
  for (size_t p = 0; p < grads_.size(); ++p) {
    if (!packed_[p]) RETURN_IF_ERROR(Ready(p));
  }
  RETURN_IF_ERROR(communicator_.WaitAll());
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (buffers_[b].dtype() == DType::kF64) {
      Unpack<double>(buckets_[b], buffers_[b]);
    } else {
      Unpack<float>(buckets_[b], buffers_[b]);
    }
    missing_[b] = buckets_[b].size();
  }
  packed_.assign(grads_.size(), false);
  next_ = 0;
  return absl::OkStatus();
}

uint64_t StableHash(const void* data, size_t bytes, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t ParameterHash(const std::vector<Tensor*>& params) {
  uint64_t h = 0;
  for (const Tensor* p : params)
    h = StableHash(p->raw_data(), p->byte_size(), h);
  return h;
}

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::Create(
    Communicator* communicator, const TrainConfig& config, const Graph& graph,
    int64_t train_examples) {
  if (communicator == nullptr || communicator->size() == 1) return nullptr;
  const int n = communicator->size();
  // Checked before any collective, and alike on every rank: a config whose
  // batch does not divide fails everywhere with this message.
  if (config.batch_size() % n != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch_size: ", config.batch_size(), " is not a multiple of the ", n,
        " ranks: batch_size is the global batch, split evenly (batch_size / ",
        "ranks examples per rank); choose a multiple of ", n,
        " or another number of ranks"));
  }
  std::string bytes = DeterministicBytes(config) + DeterministicBytes(graph);
  bytes += absl::StrCat("|examples=", train_examples);
  RETURN_IF_ERROR(CheckSameOnAllRanks(
      *communicator, StableHash(bytes.data(), bytes.size()),
      "config, graph or number of training examples",
      "every rank must be started with the same config, graph and data"));
  const double cap_mb =
      config.bucket_cap_mb() > 0 ? config.bucket_cap_mb() : kDefaultBucketCapMb;
  return std::unique_ptr<DataParallel>(
      new DataParallel(*communicator, config.batch_size(),
                       static_cast<int64_t>(cap_mb * (1 << 20))));
}

absl::Status DataParallel::PlanBuckets(const std::vector<const Tensor*>& grads,
                                       const std::vector<int>& final_kernel,
                                       int num_kernels) {
  // The gradients are the plan's (or the accumulator's) own buffers,
  // rewritten every step: averaging them in place is safe.
  std::vector<Tensor*> writable;
  std::vector<size_t> order;
  for (size_t p = 0; p < grads.size(); ++p) {
    writable.push_back(const_cast<Tensor*>(grads[p]));
    order.push_back(p);
    final_before_end_.push_back(final_kernel[p] + 1 < num_kernels);
  }
  // Ties (one kernel finishing several gradients) in reverse parameter
  // order, DDP's.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return final_kernel[a] != final_kernel[b]
               ? final_kernel[a] < final_kernel[b]
               : a > b;
  });
  return averager_.Plan(writable, order);
}

absl::Status DataParallel::GradientReady(size_t p) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t started = averager_.buckets_started();
  RETURN_IF_ERROR(averager_.Ready(p));
  if (final_before_end_[p]) {
    started_early_ += averager_.buckets_started() - started;
  }
  allreduce_seconds_ += SecondsSince(start);
  return absl::OkStatus();
}

absl::Status DataParallel::FinishStep(double* loss, bool stop) {
  const auto start = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(averager_.Finish());
  double scalars[2] = {*loss, stop ? 1.0 : 0.0};
  RETURN_IF_ERROR(communicator_.AllreduceSum(scalars, 2));
  const double seconds = SecondsSince(start);
  allreduce_seconds_ += seconds;
  finish_seconds_ += seconds;
  *loss = scalars[0] / communicator_.size();
  stop_requested_ = scalars[1] > 0;
  return absl::OkStatus();
}

absl::Status DataParallel::CheckParameters(const std::vector<Tensor*>& params,
                                           int64_t step) {
  return CheckSameOnAllRanks(
      communicator_, ParameterHash(params),
      absl::StrCat("parameters after step ", step),
      "the ranks diverged (a nondeterministic kernel, or ranks running "
      "different builds)");
}

}  // namespace rill
