#include "ops/kernel_util.h"

#include "absl/strings/str_join.h"
#include "oneapi/dnnl/dnnl_debug.h"

namespace rill {

AxisSplit SplitAt(const Shape& shape, int axis) {
  AxisSplit s;
  for (int d = 0; d < shape.rank(); ++d) {
    (d < axis ? s.outer : d == axis ? s.axis : s.inner) *= shape.dim(d);
  }
  return s;
}

std::string ElementPosition(int64_t flat, const Shape& shape) {
  std::vector<int64_t> coord(shape.rank());
  for (int d = shape.rank() - 1; d >= 0; --d) {
    coord[d] = flat % shape.dim(d);
    flat /= shape.dim(d);
  }
  return absl::StrCat("[", absl::StrJoin(coord, ", "), "]");
}

std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out) {
  const int rank = out.rank();
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (int d = in.rank() - 1; d >= 0; --d) {
    if (in.dim(d) != 1) strides[rank - in.rank() + d] = stride;
    stride *= in.dim(d);
  }
  return strides;
}

dnnl::memory::desc PlainDesc(const std::vector<int64_t>& dims,
                             dnnl::memory::data_type type) {
  dnnl::memory::dims d(dims.begin(), dims.end());
  if (d.empty()) d.push_back(1);
  dnnl::memory::dims strides(d.size(), 1);
  for (int i = static_cast<int>(d.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * std::max<int64_t>(d[i + 1], 1);
  }
  return dnnl::memory::desc(d, type, strides);
}

std::vector<int64_t> PaddedDims(const Shape& shape, int rank) {
  std::vector<int64_t> dims(rank - shape.rank(), 1);
  dims.insert(dims.end(), shape.dims().begin(), shape.dims().end());
  return dims;
}

dnnl::memory::desc PlainDesc(const Shape& shape) {
  return PlainDesc(shape.dims());
}

dnnl::memory MemoryFor(const KernelArgs& a, const Tensor& t,
                       const dnnl::memory::desc& desc) {
  // The descriptor's meaning for the plain and strided layouts used here:
  // data type, dims, strides, offset; any other layout gets no key.
  const dnnl_memory_desc_t& d = desc.data;
  if (d.format_kind != dnnl_blocked || d.format_desc.blocking.inner_nblks) {
    return dnnl::memory(desc, a.onednn->engine, t.raw_data());
  }
  MemoryKey key;
  key.data = t.raw_data();
  key.data_type = d.data_type;
  key.ndims = d.ndims;
  key.offset0 = d.offset0;
  for (int i = 0; i < d.ndims; ++i) {
    key.dims[i] = d.dims[i];
    key.strides[i] = d.format_desc.blocking.strides[i];
  }
  auto& cache = a.onednn->memories;
  auto it = cache.find(key);
  if (it == cache.end()) {
    it = cache.emplace(key, dnnl::memory(desc, a.onednn->engine, t.raw_data()))
             .first;
  }
  return it->second;
}

PrimitiveKernel::PrimitiveKernel(const KernelArgs& a, dnnl::primitive p,
                                 DnnlArgs args)
    : node_name_(&a.node.name()), stream_(&a.onednn->stream) {
  steps_.push_back(MakeStep(std::move(p), std::move(args)));
}

PrimitiveKernel::Step PrimitiveKernel::MakeStep(dnnl::primitive p,
                                                DnnlArgs args) {
  Step step{std::move(p), std::move(args), {}};
  step.exec_args.reserve(step.args.size());
  for (const auto& [arg, memory] : step.args) {
    step.exec_args.push_back({arg, memory.get()});
  }
  return step;
}

void PrimitiveKernel::RunFirst(dnnl::primitive p, DnnlArgs args) {
  steps_.insert(steps_.end() - 1, MakeStep(std::move(p), std::move(args)));
}

absl::Status PrimitiveKernel::Compute() {
  for (const Step& step : steps_) {
    dnnl_status_t status = dnnl_primitive_execute(
        step.primitive.get(), stream_->get(),
        static_cast<int>(step.exec_args.size()), step.exec_args.data());
    if (status != dnnl_success) {
      return absl::InternalError(absl::StrCat(
          "node '", *node_name_, "': oneDNN: could not execute a primitive (",
          dnnl_status2str(status), ")"));
    }
  }
  return absl::OkStatus();
}

dnnl::primitive CachedPrimitive(const KernelArgs& a,
                                const std::function<dnnl::primitive()>& make,
                                const std::string& variant) {
  std::string key = absl::StrCat(a.node.op(), "|", variant, "|");
  for (const auto* list : {&a.inputs, &a.outputs}) {
    for (const Tensor& t : *list) {
      // Raw: dtype, rank, dims.
      const std::vector<int64_t>& dims = t.shape().dims();
      key.push_back(static_cast<char>(t.dtype()));
      key.push_back(static_cast<char>(dims.size()));
      key.append(reinterpret_cast<const char*>(dims.data()),
                 dims.size() * sizeof(int64_t));
    }
    key.push_back('|');
  }
  absl::StrAppend(&key, a.attrs.Fingerprint());
  auto& cache = a.onednn->primitives;
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, make()).first;
  return it->second;
}

absl::StatusOr<std::unique_ptr<OpKernel>> CatchDnnl(
    const KernelArgs& a,
    const std::function<std::unique_ptr<OpKernel>()>& make) {
  try {
    return make();
  } catch (const dnnl::error& e) {
    return absl::InternalError(
        absl::StrCat("node '", a.node.name(),
                     "': cannot create oneDNN primitive: ", e.what()));
  }
}

bool OneDnnCanTake(const Tensor& t, DType dtype) {
  return t.dtype() == dtype && t.num_elements() > 0 &&
         t.shape().rank() <= DNNL_MAX_NDIMS;
}

bool OneDnnCanRun(const KernelArgs& a) {
  for (const auto* list : {&a.inputs, &a.outputs}) {
    for (const Tensor& t : *list) {
      if (!OneDnnCanTake(t, DType::kF32)) return false;
    }
  }
  return true;
}

bool CpuRunsBf16() {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  return (isa & bf16) == bf16;  // Each ISA's bits include those it extends.
}

KernelFactory EltwiseOneDnn(dnnl::algorithm alg, float alpha, float beta) {
  return [=](const KernelArgs& a) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
    if (!OneDnnCanRun(a)) return nullptr;
    return CatchDnnl(a, [&]() -> std::unique_ptr<OpKernel> {
      const dnnl::engine& eng = a.onednn->engine;
      dnnl::memory::desc md = PlainDesc(a.inputs[0].shape());
      dnnl::primitive p = CachedPrimitive(a, [&] {
        return dnnl::eltwise_forward(
            {{dnnl::prop_kind::forward_inference, alg, md, alpha, beta}, eng});
      });
      return std::make_unique<PrimitiveKernel>(
          a, p,
          DnnlArgs{{DNNL_ARG_SRC, MemoryFor(a, a.inputs[0], md)},
                   {DNNL_ARG_DST, MemoryFor(a, a.outputs[0], md)}});
    });
  };
}

}  // namespace rill
