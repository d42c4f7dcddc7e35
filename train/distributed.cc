#include "train/distributed.h"

#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
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

void GradientAverager::Plan(const std::vector<Tensor*>& grads) {
  // Reverse order: backward produces the last parameters' gradients first,
  // so these buckets are the first that could be sent while it runs. A
  // bucket holds one dtype (one MPI datatype per allreduce).
  int64_t largest = 0, bytes = 0;
  for (size_t p = grads.size(); p-- > 0;) {
    const int64_t size = grads[p]->byte_size();
    if (buckets_.empty() || bytes + size > bucket_bytes_ ||
        grads[buckets_.back().front()]->dtype() != grads[p]->dtype()) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().push_back(p);
    bytes += size;
    largest = std::max(largest, bytes);
  }
  buffer_.resize((largest + sizeof(double) - 1) / sizeof(double));
}

template <typename T>
absl::Status GradientAverager::AverageBucket(
    const std::vector<Tensor*>& grads, const std::vector<size_t>& bucket) {
  T* const buffer = reinterpret_cast<T*>(buffer_.data());
  T* at = buffer;
  for (size_t p : bucket) {
    const int64_t n = grads[p]->num_elements();
    std::memcpy(at, grads[p]->data<T>(), n * sizeof(T));
    at += n;
  }
  RETURN_IF_ERROR(communicator_.AllreduceSum(buffer, at - buffer));
  // Divided by N, as DDP does: the mean of the ranks' mean gradients.
  const T* from = buffer;
  for (size_t p : bucket) {
    T* g = grads[p]->data<T>();
    for (int64_t k = 0, e = grads[p]->num_elements(); k < e; ++k) {
      g[k] = from[k] / communicator_.size();
    }
    from += grads[p]->num_elements();
  }
  return absl::OkStatus();
}

absl::Status GradientAverager::Average(const std::vector<Tensor*>& grads) {
  if (buckets_.empty()) Plan(grads);
  for (const std::vector<size_t>& bucket : buckets_) {
    const DType dtype = grads[bucket.front()]->dtype();
    if (dtype == DType::kF64) {
      RETURN_IF_ERROR(AverageBucket<double>(grads, bucket));
    } else if (dtype == DType::kF32) {
      RETURN_IF_ERROR(AverageBucket<float>(grads, bucket));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("gradient averaging: a gradient of type ",
                       DTypeName(dtype), " (f32 or f64 only)"));
    }
  }
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
  return std::unique_ptr<DataParallel>(
      new DataParallel(*communicator, config.batch_size()));
}

absl::Status DataParallel::AverageStep(const std::vector<const Tensor*>& grads,
                                       double* loss, bool stop) {
  // The gradients are the plan's (or the accumulator's) own buffers,
  // rewritten every step: averaging them in place is safe.
  grads_.resize(grads.size());
  for (size_t p = 0; p < grads.size(); ++p) {
    grads_[p] = const_cast<Tensor*>(grads[p]);
  }
  const auto start = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(averager_.Average(grads_));
  double scalars[2] = {*loss, stop ? 1.0 : 0.0};
  RETURN_IF_ERROR(communicator_.AllreduceSum(scalars, 2));
  allreduce_seconds_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
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
