// The CUDA ops. Two paths:
// - flat: out and every input cover one dense block of memory with the same layout
//   (contiguous, or channels_last / transposed with identical strides), so element i of each is
//   at the same offset. Each thread moves 16 bytes per load and store, several loads in flight.
// - strided: anything else. TensorIterator coalesces the dimensions and each thread computes
//   its element's offsets from the sizes and strides.
// Real types run the formulas of sigmoid_math.h, which the CPU kernels also run, so a CPU and a
// GPU give the same bits. Every index is int64_t: tensors past 2^31 elements are fine.
#include <ATen/ATen.h>
#include <ATen/TensorIterator.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAMacros.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/complex.h>
#include <cuda_runtime.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>

#include "../sigmoid_math.h"
#include "../sigmoid_ops.h"

namespace torch_sigmoid_ext {
namespace {

constexpr int kThreads = 256;
// 16-byte vectors per thread per grid-stride step: the loads are issued together, so each
// thread keeps this many in flight while the formula's long dependency chain runs.
constexpr int kUnroll = 4;
// Blocks per SM: 1024 threads, each with kUnroll 16-byte loads in flight, is 64 KiB per SM in
// flight, well past what the memory latency needs. The real-type kernels (up to 64 registers)
// fit that many resident, so the grid is about one resident wave.
constexpr int kBlocksPerSm = 4;
// TensorIterator coalesces dimensions; a layout it cannot fold below this is not a real one.
constexpr int kMaxDims = 25;

// ---- Elementwise operations over storage types -------------------------------------------
// 16-bit types travel as raw bits (uint16_t) and compute in float32, rounding once, exactly as
// the CPU loops do.

struct Float32Op {
  using S = float;
  __device__ static S forward(S x) { return sigmoid_formula<F32Consts>(x); }
  __device__ static S backward(S g, S y) { return sigmoid_backward_formula<F32Consts>(g, y); }
};

struct Float64Op {
  using S = double;
  __device__ static S forward(S x) { return sigmoid_formula<F64Consts>(x); }
  __device__ static S backward(S g, S y) { return sigmoid_backward_formula<F64Consts>(g, y); }
};

struct Float16Op {
  using S = uint16_t;
  __device__ static S forward(S x) { return f32_to_f16(sigmoid_half_formula(f16_to_f32(x))); }
  __device__ static S backward(S g, S y) {
    return f32_to_f16(sigmoid_backward_formula<F32Consts>(f16_to_f32(g), f16_to_f32(y)));
  }
};

struct BFloat16Op {
  using S = uint16_t;
  __device__ static S forward(S x) {
    return f32_to_bf16(sigmoid_half_formula(bf16_to_f32(x)));
  }
  __device__ static S backward(S g, S y) {
    return f32_to_bf16(sigmoid_backward_formula<F32Consts>(bf16_to_f32(g), bf16_to_f32(y)));
  }
};

template <typename T>
struct ComplexOp {
  using S = c10::complex<T>;
  __device__ static S forward(S x) { return sigmoid_complex_formula(x); }
  __device__ static S backward(S g, S y) { return sigmoid_backward_complex_formula(g, y); }
};

// Forward and backward share the loops below through this: one input or two.
template <class Op>
struct Forward {
  using S = typename Op::S;
  static constexpr int kInputs = 1;
  __device__ static S apply(const S (&x)[1]) { return Op::forward(x[0]); }
};

template <class Op>
struct Backward {
  using S = typename Op::S;
  static constexpr int kInputs = 2;
  __device__ static S apply(const S (&x)[2]) { return Op::backward(x[0], x[1]); }
};

// ---- Flat path -----------------------------------------------------------------------------

// 16 bytes of S, loaded and stored by one 128-bit instruction. Its element count depends on S
// (4 float32, 8 float16, 1 complex128), so the name gives its size in bytes.
template <typename S>
struct alignas(16) Vec16Bytes {
  static constexpr int kSize = 16 / sizeof(S);
  S v[kSize];
};

template <typename S, int kInputs>
struct FlatArgs {
  S* out;
  const S* in[kInputs];
  int64_t n;       // elements
  int64_t head;    // scalar elements before the first 16-byte boundary
  int64_t n_vec;   // 16-byte vectors after the head; the rest is the scalar tail
};

template <class F>
__global__ void __launch_bounds__(kThreads)
    flat_kernel(FlatArgs<typename F::S, F::kInputs> args) {
  using S = typename F::S;
  using V = Vec16Bytes<S>;
  constexpr int kIn = F::kInputs;
  constexpr int W = V::kSize;
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;

  // The unaligned head and the tail (fewer than W elements each, unless the pointers cannot be
  // aligned together and every element is here).
  const int64_t tail_start = args.head + args.n_vec * W;
  const int64_t n_scalar = args.head + (args.n - tail_start);
  for (int64_t j = tid; j < n_scalar; j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = j < args.head ? j : tail_start + (j - args.head);
    S x[kIn];
#pragma unroll
    for (int k = 0; k < kIn; ++k) x[k] = args.in[k][i];
    args.out[i] = F::apply(x);
  }

  V* out = reinterpret_cast<V*>(args.out + args.head);
  const V* in[kIn];
#pragma unroll
  for (int k = 0; k < kIn; ++k) in[k] = reinterpret_cast<const V*>(args.in[k] + args.head);

  // Within one step, vector u of every thread in a block is adjacent to its neighbours', so
  // each load instruction of a warp reads 512 contiguous bytes.
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x * kUnroll;
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.x * kUnroll + threadIdx.x;
       base < args.n_vec; base += step) {
    V x[kUnroll][kIn];
    // All loads first, then all stores: this also keeps in-place (out == in) correct.
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + static_cast<int64_t>(u) * blockDim.x;
      if (i < args.n_vec) {
#pragma unroll
        for (int k = 0; k < kIn; ++k) x[u][k] = in[k][i];
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + static_cast<int64_t>(u) * blockDim.x;
      if (i < args.n_vec) {
        V y;
#pragma unroll
        for (int j = 0; j < W; ++j) {
          S e[kIn];
#pragma unroll
          for (int k = 0; k < kIn; ++k) e[k] = x[u][k].v[j];
          y.v[j] = F::apply(e);
        }
        out[i] = y;
      }
    }
  }
}

// The SM count, asked once per device: the attribute query is a driver call that would
// otherwise cost more than a small launch.
int sm_count(c10::DeviceIndex device) {
  static std::array<std::atomic<int>, C10_COMPILE_TIME_MAX_GPUS> cache{};
  int n = cache[device].load(std::memory_order_relaxed);
  if (n == 0) {
    C10_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
    cache[device].store(n, std::memory_order_relaxed);
  }
  return n;
}

template <class F>
void launch_flat(const at::Tensor& out, const std::array<const at::Tensor*, F::kInputs>& in) {
  using S = typename F::S;
  constexpr int W = Vec16Bytes<S>::kSize;
  FlatArgs<S, F::kInputs> args;
  args.out = reinterpret_cast<S*>(out.data_ptr());
  args.n = out.numel();
  const auto misalignment = reinterpret_cast<uintptr_t>(args.out) % 16;
  bool same_misalignment = misalignment % sizeof(S) == 0;
  for (int k = 0; k < F::kInputs; ++k) {
    args.in[k] = reinterpret_cast<const S*>(in[k]->const_data_ptr());
    same_misalignment &= reinterpret_cast<uintptr_t>(args.in[k]) % 16 == misalignment;
  }
  // Vectors need every pointer on a 16-byte boundary at the same element; otherwise (an input
  // sliced as x[1:] into a fresh out, say) every element takes the scalar path.
  if (same_misalignment) {
    args.head = std::min<int64_t>(args.n, ((16 - misalignment) % 16) / sizeof(S));
    args.n_vec = (args.n - args.head) / W;
  } else {
    args.head = args.n;
    args.n_vec = 0;
  }
  const int64_t n_scalar = args.n - args.n_vec * W;
  const int64_t vector_blocks = (args.n_vec + int64_t{kThreads} * kUnroll - 1) /
                                (int64_t{kThreads} * kUnroll);
  const int64_t scalar_blocks = (n_scalar + kThreads - 1) / kThreads;
  const int64_t max_blocks = int64_t{sm_count(out.get_device())} * kBlocksPerSm;
  const int64_t blocks = std::min(std::max(vector_blocks, scalar_blocks), max_blocks);
  flat_kernel<F><<<static_cast<unsigned>(blocks), kThreads, 0,
                   c10::cuda::getCurrentCUDAStream()>>>(args);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// ---- Strided path --------------------------------------------------------------------------

template <int kOperands>
struct StridedArgs {
  char* data[kOperands];  // operand 0 is the output
  int64_t sizes[kMaxDims];
  int64_t strides[kMaxDims][kOperands];  // in bytes
  int ndim;
  int64_t n;
};

template <class F>
__global__ void __launch_bounds__(kThreads)
    strided_kernel(StridedArgs<F::kInputs + 1> args) {
  using S = typename F::S;
  constexpr int kOps = F::kInputs + 1;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < args.n;
       i += step) {
    int64_t offset[kOps] = {};
    int64_t rest = i;
    // TensorIterator puts the fastest-moving dimension first.
    for (int d = 0; d < args.ndim; ++d) {
      const int64_t idx = rest % args.sizes[d];
      rest /= args.sizes[d];
#pragma unroll
      for (int k = 0; k < kOps; ++k) offset[k] += idx * args.strides[d][k];
    }
    S x[F::kInputs];
#pragma unroll
    for (int k = 0; k < F::kInputs; ++k) {
      x[k] = *reinterpret_cast<const S*>(args.data[k + 1] + offset[k + 1]);
    }
    *reinterpret_cast<S*>(args.data[0] + offset[0]) = F::apply(x);
  }
}

template <class F>
void launch_strided(const at::Tensor& out, const std::array<const at::Tensor*, F::kInputs>& in) {
  at::TensorIteratorConfig config;
  // The caller checked overlap; out may be the input itself (sigmoid_).
  config.set_check_mem_overlap(false).add_output(out).resize_outputs(false);
  for (const at::Tensor* t : in) config.add_const_input(*t);
  at::TensorIterator iter = config.build();
  constexpr int kOps = F::kInputs + 1;
  TORCH_CHECK(iter.ndim() <= kMaxDims, "torch_sigmoid_ext: the GPU kernel handles at most ",
              kMaxDims, " dimensions that cannot be merged, but got ", iter.ndim(),
              "; call .contiguous() on the input first");
  StridedArgs<kOps> args;
  args.ndim = static_cast<int>(iter.ndim());
  args.n = iter.numel();
  for (int k = 0; k < kOps; ++k) {
    args.data[k] = static_cast<char*>(iter.data_ptr(k));
    const auto strides = iter.strides(k);
    for (int d = 0; d < args.ndim; ++d) args.strides[d][k] = strides[d];
  }
  const auto shape = iter.shape();
  for (int d = 0; d < args.ndim; ++d) args.sizes[d] = shape[d];
  const int64_t blocks = std::min<int64_t>((args.n + kThreads - 1) / kThreads,
                                           int64_t{sm_count(out.get_device())} * kBlocksPerSm);
  strided_kernel<F><<<static_cast<unsigned>(blocks), kThreads, 0,
                      c10::cuda::getCurrentCUDAStream()>>>(args);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// ---- Launchers -----------------------------------------------------------------------------

// True when out and every input lie in memory the same way, so one flat index addresses
// element i of all of them.
bool same_dense_layout(const at::Tensor& out, std::initializer_list<const at::Tensor*> in) {
  bool all_contiguous = out.is_contiguous();
  bool all_dense_alike = out.is_non_overlapping_and_dense();
  for (const at::Tensor* t : in) {
    all_contiguous &= t->is_contiguous();
    all_dense_alike &= t->is_non_overlapping_and_dense() && t->strides() == out.strides();
  }
  return all_contiguous || all_dense_alike;
}

template <class F>
void launch(const at::Tensor& out, const std::array<const at::Tensor*, F::kInputs>& in,
            bool flat) {
  if (flat) {
    launch_flat<F>(out, in);
  } else {
    launch_strided<F>(out, in);
  }
}

void check_cuda(const at::Tensor& t, const at::Tensor& out, const char* op, const char* name) {
  TORCH_CHECK(t.is_cuda() && t.device() == out.device(), "torch_sigmoid_ext.", op, ": ", name,
              " is on ", t.device(), " but the result is on ", out.device(),
              "; move every tensor to the same CUDA device");
  TORCH_CHECK(t.scalar_type() == out.scalar_type(), "torch_sigmoid_ext.", op, ": ", name,
              " has dtype ", t.scalar_type(), " but the result has dtype ", out.scalar_type(),
              "; pass tensors of one dtype");
}

void sigmoid_kernel(const at::Tensor& out, const at::Tensor& self) {
  check_cuda(self, out, "sigmoid", "the input");
  const c10::cuda::CUDAGuard guard(out.device());
  if (out.numel() == 0) {
    return;
  }
  const bool flat = same_dense_layout(out, {&self});
  const std::array<const at::Tensor*, 1> in = {&self};
  switch (out.scalar_type()) {
    case at::kFloat:
      return launch<Forward<Float32Op>>(out, in, flat);
    case at::kDouble:
      return launch<Forward<Float64Op>>(out, in, flat);
    case at::kHalf:
      return launch<Forward<Float16Op>>(out, in, flat);
    case at::kBFloat16:
      return launch<Forward<BFloat16Op>>(out, in, flat);
    case at::kComplexFloat:
      return launch<Forward<ComplexOp<float>>>(out, in, flat);
    case at::kComplexDouble:
      return launch<Forward<ComplexOp<double>>>(out, in, flat);
    default:
      TORCH_CHECK(false, "torch_sigmoid_ext.sigmoid: no CUDA kernel for dtype ",
                  out.scalar_type());
  }
}

void sigmoid_backward_kernel(const at::Tensor& out, const at::Tensor& grad_output,
                             const at::Tensor& output) {
  check_cuda(grad_output, out, "sigmoid_backward", "grad_output");
  check_cuda(output, out, "sigmoid_backward", "output");
  const c10::cuda::CUDAGuard guard(out.device());
  if (out.numel() == 0) {
    return;
  }
  const bool flat = same_dense_layout(out, {&grad_output, &output});
  const std::array<const at::Tensor*, 2> in = {&grad_output, &output};
  switch (out.scalar_type()) {
    case at::kFloat:
      return launch<Backward<Float32Op>>(out, in, flat);
    case at::kDouble:
      return launch<Backward<Float64Op>>(out, in, flat);
    case at::kHalf:
      return launch<Backward<Float16Op>>(out, in, flat);
    case at::kBFloat16:
      return launch<Backward<BFloat16Op>>(out, in, flat);
    case at::kComplexFloat:
      return launch<Backward<ComplexOp<float>>>(out, in, flat);
    case at::kComplexDouble:
      return launch<Backward<ComplexOp<double>>>(out, in, flat);
    default:
      TORCH_CHECK(false, "torch_sigmoid_ext.sigmoid_backward: no CUDA kernel for dtype ",
                  out.scalar_type());
  }
}

at::Tensor sigmoid_cuda(const at::Tensor& self) { return sigmoid_with(sigmoid_kernel, self); }

void sigmoid__cuda(at::Tensor& self) { sigmoid_inplace_with(sigmoid_kernel, self); }

void sigmoid_out_cuda(const at::Tensor& self, at::Tensor& out) {
  sigmoid_out_with(sigmoid_kernel, self, out);
}

at::Tensor sigmoid_backward_cuda(const at::Tensor& grad_output, const at::Tensor& output) {
  return sigmoid_backward_with(sigmoid_backward_kernel, grad_output, output);
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_sigmoid_ext, CUDA, m) {
  m.impl("sigmoid", &sigmoid_cuda);
  m.impl("sigmoid_", &sigmoid__cuda);
  m.impl("sigmoid.out", &sigmoid_out_cuda);
  m.impl("sigmoid_backward", &sigmoid_backward_cuda);
}

}  // namespace torch_sigmoid_ext
