#include "train/data.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "core/limits.h"
#include "core/npy.h"
#include "graph/input_values.h"

namespace rill {

DataArray::DataArray(Tensor tensor)
    : dtype_(tensor.dtype()),
      shape_(tensor.shape()),
      tensor_(std::move(tensor)) {}

absl::StatusOr<DataArray> DataArray::OpenShards(
    const std::vector<std::string>& paths) {
  if (paths.empty()) return absl::InvalidArgumentError("no shard files");
  DataArray a;
  auto shards = std::make_shared<std::vector<Shard>>();
  std::vector<int64_t> dims;
  int64_t rows = 0;
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(NpyLayout layout, ReadNpyLayout(path));
    const Shape& shape = layout.shape;
    if (shape.rank() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path,
                       ": a scalar; a shard's first axis indexes "
                       "examples"));
    }
    std::vector<int64_t> row_dims(shape.dims().begin() + 1, shape.dims().end());
    if (shards->empty()) {
      a.dtype_ = layout.dtype;
      dims = row_dims;
      ASSIGN_OR_RETURN(a.row_bytes_, Shape(row_dims).ByteSize(a.dtype_));
    } else if (layout.dtype != a.dtype_ || row_dims != dims) {
      std::vector<int64_t> first = dims;
      first.insert(first.begin(), shards->front().rows);
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": holds ", DTypeName(layout.dtype), shape.ToString(),
          " but the first shard, ", shards->front().path, ", holds ",
          DTypeName(a.dtype_), Shape(first).ToString(),
          "; shards may differ only in their first axis"));
    }
    shards->push_back({path, rows, shape.dim(0), layout.data_offset});
    ASSIGN_OR_RETURN(rows,
                     CheckedAdd(rows, shape.dim(0), "rows of the shards"));
  }
  dims.insert(dims.begin(), rows);
  a.shape_ = Shape(dims);
  a.shards_ = std::move(shards);
  return a;
}

int64_t DataArray::num_shards() const {
  return shards_ == nullptr ? 0 : static_cast<int64_t>(shards_->size());
}

absl::Status DataArray::Gather(const int64_t* rows, int64_t n,
                               Tensor& to) const {
  if (!streamed()) {
    GatherRows(tensor_, rows, n, to);
    return absl::OkStatus();
  }
  return GatherFromShards(rows, n, to);
}

absl::Status DataArray::GatherFromShards(const int64_t* rows, int64_t n,
                                         Tensor& to) const {
  const std::vector<Shard>& shards = *shards_;
  by_shard_.resize(n);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t row = first_row_ + rows[k];
    auto after = std::upper_bound(
        shards.begin(), shards.end(), row,
        [](int64_t r, const Shard& s) { return r < s.first_row; });
    by_shard_[k] = {(after - shards.begin()) - 1, k};
  }
  std::sort(by_shard_.begin(), by_shard_.end());
  char* out = static_cast<char*>(to.raw_data());
  for (int64_t g = 0; g < n;) {
    const Shard& shard = shards[by_shard_[g].first];
    const int fd = ::open(shard.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::DataLossError(
          absl::StrCat(shard.path, ": cannot open: ", std::strerror(errno)));
    }
    absl::Status status;
    for (; g < n && &shards[by_shard_[g].first] == &shard && status.ok(); ++g) {
      const int64_t k = by_shard_[g].second;
      const int64_t row = first_row_ + rows[k] - shard.first_row;
      char* dst = out + k * row_bytes_;
      const ssize_t got =
          ::pread(fd, dst, row_bytes_, shard.data_offset + row * row_bytes_);
      if (got != row_bytes_) {
        status = absl::DataLossError(
            absl::StrCat(shard.path, ": row ", row, ": cannot read ",
                         row_bytes_, " bytes (got ", got,
                         "); did the file change since it was opened?"));
      } else if (dtype_ == DType::kBool) {
        for (int64_t b = 0; b < row_bytes_ && status.ok(); ++b) {
          if (static_cast<unsigned char>(dst[b]) > 1) {
            status = absl::InvalidArgumentError(absl::StrCat(
                shard.path, ": row ", row, ": bool element ", b, " is byte ",
                static_cast<int>(static_cast<unsigned char>(dst[b])),
                "; only 0 and 1 are valid"));
          }
        }
      }
    }
    ::close(fd);
    RETURN_IF_ERROR(status);
  }
  return absl::OkStatus();
}

absl::StatusOr<DataArray> DataArray::Slice(int64_t begin, int64_t end) const {
  std::vector<int64_t> dims = shape_.dims();
  dims[0] = end - begin;
  if (streamed()) {
    DataArray view;
    view.dtype_ = dtype_;
    view.shape_ = Shape(dims);
    view.shards_ = shards_;
    view.first_row_ = first_row_ + begin;
    view.row_bytes_ = row_bytes_;
    return view;
  }
  ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype_, Shape(dims)));
  if (t.byte_size() > 0) {
    const int64_t row_bytes = t.byte_size() / (end - begin);
    std::memcpy(
        t.raw_data(),
        static_cast<const char*>(tensor_.raw_data()) + begin * row_bytes,
        t.byte_size());
  }
  return DataArray(std::move(t));
}

std::pair<std::string, int64_t> DataArray::Locate(int64_t row) const {
  if (!streamed()) return {"", row};
  row += first_row_;
  auto after = std::upper_bound(
      shards_->begin(), shards_->end(), row,
      [](int64_t r, const Shard& s) { return r < s.first_row; });
  const Shard& shard = *(after - 1);
  return {shard.path, row - shard.first_row};
}

absl::StatusOr<std::pair<Dataset, Dataset>> Dataset::SplitAt(int64_t n) const {
  std::pair<Dataset, Dataset> parts;
  for (size_t i = 0; i < arrays.size(); ++i) {
    const DataArray& a = arrays[i];
    for (auto [part, begin, end] :
         {std::tuple{&parts.first, int64_t{0}, n},
          std::tuple{&parts.second, n, a.shape().dim(0)}}) {
      ASSIGN_OR_RETURN(DataArray slice, a.Slice(begin, end));
      part->inputs.push_back(inputs[i]);
      part->arrays.push_back(std::move(slice));
      if (i < sources.size()) part->sources.push_back(sources[i]);
    }
  }
  return parts;
}

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
    const DataArray& array = data.arrays[i];
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

namespace {

// Where array i's rows come from: its shard `file`, or its source.
std::string SourceName(const Dataset& data, size_t i, const std::string& file) {
  if (!file.empty()) return file;
  return i < data.sources.size() ? data.sources[i] : "the array";
}

}  // namespace

absl::Status CheckIndexRanges(const ValidGraph& graph, const Dataset& data,
                              const std::string& field) {
  constexpr int64_t kBlockBytes = int64_t{1} << 20;
  for (size_t i = 0; i < data.arrays.size(); ++i) {
    const DataArray& array = data.arrays[i];
    const int input = graph.FindNode(data.inputs[i]);
    if (input < 0 ||
        (array.dtype() != DType::kI64 && array.dtype() != DType::kI32)) {
      continue;
    }
    const std::vector<IndexUse> uses = IndexUses(graph, input);
    const absl::Span<const int64_t> allowed = AllowedValues(graph.node(input));
    if ((uses.empty() && allowed.empty()) || array.shape().dim(0) == 0) {
      continue;
    }
    const int64_t rows = array.shape().dim(0);
    ASSIGN_OR_RETURN(const int64_t elements, array.shape().NumElements());
    const int64_t per_row = elements / rows;
    const int64_t row_bytes = per_row * DTypeSize(array.dtype());
    const int64_t block = std::max<int64_t>(
        1, std::min(rows, kBlockBytes / std::max<int64_t>(row_bytes, 1)));
    std::vector<int64_t> dims = array.shape().dims();
    dims[0] = block;
    ASSIGN_OR_RETURN(Tensor values,
                     Tensor::Allocate(array.dtype(), Shape(dims)));
    std::vector<int64_t> index(block);
    for (int64_t first = 0; first < rows; first += block) {
      const int64_t n = std::min(block, rows - first);
      for (int64_t r = 0; r < n; ++r) index[r] = first + r;
      RETURN_IF_ERROR(array.Gather(index.data(), n, values));
      if (const int64_t bad =
              FirstDisallowedValue(values, n * per_row, allowed);
          bad >= 0) {
        const auto [file, row] = array.Locate(first + bad / per_row);
        return absl::InvalidArgumentError(absl::StrCat(
            field, "[", i, "]: ", SourceName(data, i, file), ": row ", row,
            ": value ", IntegerElement(values, bad), " is not allowed; input '",
            data.inputs[i], "' allows only ", AllowedValuesText(allowed)));
      }
      for (const IndexUse& use : uses) {
        const int64_t bad = FirstOutOfRange(values, n * per_row, use);
        if (bad < 0) continue;
        const auto [file, row] = array.Locate(first + bad / per_row);
        return absl::InvalidArgumentError(
            absl::StrCat(field, "[", i, "]: ", SourceName(data, i, file),
                         ": row ", row, ": ",
                         OutOfRangeText(graph, data.inputs[i], use,
                                        IntegerElement(values, bad))));
      }
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
