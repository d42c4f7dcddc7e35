// Op speed against its anchors, measured side by side in one run:
// - MatMul 1024^3 through the rill executor against a direct oneDNN matmul
//   primitive (GFLOP/s; the ratio is what counts);
// - element-wise Add and Tanh kernels on 16M floats (GB/s moved: reads plus
//   writes) against memcpy of the same buffer.
//
//   bazel run -c opt //bench:ops_bench     (or ./dev bench ops)

#include <cstring>
#include <random>

#include "benchmark/benchmark.h"
#include "core/onednn_context.h"
#include "core/tensor_proto.h"
#include "graph/validate.h"
#include "ops/registry.h"
#include "runtime/executor.h"

namespace rill {
namespace {

constexpr int64_t kDim = 1024;
constexpr int64_t kElements = int64_t{16} << 20;

Tensor RandomTensor(const Shape& shape, uint32_t seed) {
  Tensor t = *Tensor::Allocate(DType::kF32, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

Node ConstNode(const std::string& name, const Tensor& value) {
  Node n;
  n.set_name(name);
  n.set_op("Const");
  *(*n.mutable_attr())["value"].mutable_tensor() = TensorToProto(value);
  return n;
}

double MatMulFlops(benchmark::State& state) {
  return 2.0 * kDim * kDim * kDim * state.iterations();
}

void BM_MatMulRill(benchmark::State& state) {
  Graph g;
  *g.add_node() = ConstNode("a", RandomTensor({kDim, kDim}, 1));
  *g.add_node() = ConstNode("b", RandomTensor({kDim, kDim}, 2));
  Node* y = g.add_node();
  y->set_name("y");
  y->set_op("MatMul");
  y->add_input("a");
  y->add_input("b");
  auto ex = *Executor::Create(*ValidateGraph({g, {}}), {Backend::kOneDnn});
  // RunNoCopy: the result stays in rill's buffer, as the direct call's does.
  if (!ex->RunNoCopy({}, {"y"}).ok()) state.SkipWithError("run failed");
  for (auto _ : state) benchmark::DoNotOptimize(ex->RunNoCopy({}, {"y"}));
  state.counters["GFLOP/s"] =
      benchmark::Counter(MatMulFlops(state) / 1e9, benchmark::Counter::kIsRate);
}

void BM_MatMulDirectOneDnn(benchmark::State& state) {
  OneDnnContext ctx;
  Tensor a = RandomTensor({kDim, kDim}, 1), b = RandomTensor({kDim, kDim}, 2);
  Tensor y = *Tensor::Allocate(DType::kF32, {kDim, kDim});
  dnnl::memory::desc md({kDim, kDim}, dnnl::memory::data_type::f32,
                        dnnl::memory::format_tag::ab);
  dnnl::matmul::primitive_desc pd({md, md, md}, ctx.engine);
  dnnl::matmul mm(pd);
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, dnnl::memory(md, ctx.engine, a.raw_data())},
      {DNNL_ARG_WEIGHTS, dnnl::memory(md, ctx.engine, b.raw_data())},
      {DNNL_ARG_DST, dnnl::memory(md, ctx.engine, y.raw_data())}};
  for (auto _ : state) {
    mm.execute(ctx.stream, args);
    ctx.stream.wait();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(MatMulFlops(state) / 1e9, benchmark::Counter::kIsRate);
}

// Runs one op's oneDNN kernel (as the executor would create it) on 16M
// floats.
void RunKernel(benchmark::State& state, const std::string& op_name,
               int num_inputs) {
  const OpDef& op = *GlobalOpRegistry().Find(op_name);
  Node node;
  node.set_name("op");
  node.set_op(op_name);
  Attrs attrs(node, op.attrs());
  OneDnnContext ctx;
  KernelArgs args{node, attrs, {}, {}, &ctx};
  for (int i = 0; i < num_inputs; ++i) {
    args.inputs.push_back(RandomTensor({kElements}, 10 + i));
  }
  args.outputs.push_back(*Tensor::Allocate(DType::kF32, {kElements}));
  auto kernel = op.onednn()(args);
  if (!kernel.ok() || *kernel == nullptr) {
    state.SkipWithError("no oneDNN kernel");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize((*kernel)->Compute());
    ctx.stream.wait();
  }
  state.SetBytesProcessed(state.iterations() * (num_inputs + 1) * kElements *
                          static_cast<int64_t>(sizeof(float)));
}

void BM_AddKernel(benchmark::State& state) { RunKernel(state, "Add", 2); }
void BM_TanhKernel(benchmark::State& state) { RunKernel(state, "Tanh", 1); }

void BM_Memcpy(benchmark::State& state) {
  Tensor src = RandomTensor({kElements}, 3);
  Tensor dst = *Tensor::Allocate(DType::kF32, {kElements});
  for (auto _ : state) {
    std::memcpy(dst.raw_data(), src.raw_data(), src.byte_size());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * src.byte_size());
}

BENCHMARK(BM_MatMulRill)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MatMulDirectOneDnn)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Memcpy)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AddKernel)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TanhKernel)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace rill
