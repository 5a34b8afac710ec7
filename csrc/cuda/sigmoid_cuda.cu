// The CUDA ops. The common layer (sigmoid_ops.cpp) hands every kernel here tensors with one
// layout, each one dense block from data_ptr(), so element i of each is at the same offset: one
// flat loop, each thread moving 16 bytes per load and store, several loads in flight.
// Real types run the formulas of sigmoid_math.h, which the CPU kernels also run, so a CPU and a
// GPU give the same bits. Every index is int64_t: tensors past 2^31 elements are fine.
#include <cuda_runtime.h>
#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/macros.h>
#include <torch/csrc/stable/tensor.h>
#include <torch/headeronly/core/ScalarType.h>
#include <torch/headeronly/util/Exception.h>
#include <torch/headeronly/util/complex.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

#include "../sigmoid_math.h"
#include "../sigmoid_ops.h"
#include "sigmoid_cuda_ops.h"

namespace torch_sigmoid_ext {
namespace {

using torch::headeronly::ScalarType;
using torch::stable::accelerator::DeviceIndex;

constexpr int kThreads = 256;
// 16-byte vectors per thread per grid-stride step: the loads are issued together, so each
// thread keeps this many in flight while the formula's long dependency chain runs.
constexpr int kUnroll = 4;
// Blocks per SM: 1024 threads, each with kUnroll 16-byte loads in flight, is 64 KiB per SM in
// flight, well past what the memory latency needs. The real-type kernels (up to 64 registers)
// fit that many resident, so the grid is about one resident wave.
constexpr int kBlocksPerSm = 4;
// Devices whose SM count is cached: torch's CUDA builds allow at most 120 devices.
constexpr DeviceIndex kMaxCachedDevices = 128;

// ---- Elementwise operations over storage types -------------------------------------------
// The real types' are in sigmoid_cuda_ops.h, which tests/test_device_formulas.py also compiles
// for the host.

template <typename T>
struct ComplexOp {
  using S = c10::complex<T>;
  __device__ static S forward(S x) { return sigmoid_complex_formula(x); }
  __device__ static S backward(S g, S y) { return sigmoid_backward_complex_formula(g, y); }
};

// Forward and backward share the loop below through this: one input or two.
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

// ---- The loop ------------------------------------------------------------------------------

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
int sm_count(DeviceIndex device) {
  static std::array<std::atomic<int>, kMaxCachedDevices> cache{};
  const bool cacheable = device >= 0 && device < kMaxCachedDevices;
  int n = cacheable ? cache[device].load(std::memory_order_relaxed) : 0;
  if (n == 0) {
    STD_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
    if (cacheable) cache[device].store(n, std::memory_order_relaxed);
  }
  return n;
}

// The current stream's handle. Stream::id() is not one (a pooled stream's id encodes its
// index), and the stable Stream gives the handle only from torch 2.13; the C shim does.
cudaStream_t current_stream(DeviceIndex device) {
  void* stream = nullptr;
  check_shim(aoti_torch_get_current_cuda_stream(device, &stream),
             "aoti_torch_get_current_cuda_stream");
  return static_cast<cudaStream_t>(stream);
}

template <class F>
void launch_flat(const Tensor& out, const std::array<const Tensor*, F::kInputs>& in) {
  using S = typename F::S;
  constexpr int W = Vec16Bytes<S>::kSize;
  FlatArgs<S, F::kInputs> args;
  args.out = static_cast<S*>(out.mutable_data_ptr());
  args.n = out.numel();
  const auto misalignment = reinterpret_cast<uintptr_t>(args.out) % 16;
  bool same_misalignment = misalignment % sizeof(S) == 0;
  for (int k = 0; k < F::kInputs; ++k) {
    args.in[k] = static_cast<const S*>(in[k]->const_data_ptr());
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
  const DeviceIndex device = out.get_device_index();
  const int64_t max_blocks = int64_t{sm_count(device)} * kBlocksPerSm;
  const int64_t blocks = std::min(std::max(vector_blocks, scalar_blocks), max_blocks);
  flat_kernel<F><<<static_cast<unsigned>(blocks), kThreads, 0, current_stream(device)>>>(args);
  STD_CUDA_KERNEL_LAUNCH_CHECK();
}

// ---- Launchers -----------------------------------------------------------------------------

// The common layer has matched devices and dtypes already; this guards the contract.
void check_operand(const Tensor& t, const Tensor& out, const char* op, const char* name) {
  STD_TORCH_CHECK(t.is_cuda() && t.get_device_index() == out.get_device_index(),
                  "torch_sigmoid_ext.", op, ": ", name, " is not on the result's device, cuda:",
                  out.get_device_index(), "; move every tensor to the same CUDA device");
  STD_TORCH_CHECK(t.scalar_type() == out.scalar_type(), "torch_sigmoid_ext.", op, ": ", name,
                  " has dtype ", t.scalar_type(), " but the result has dtype ",
                  out.scalar_type(), "; pass tensors of one dtype");
}

// After the checks, the launcher order: device guard, early return on empty, dtype dispatch,
// launch. Kind is Forward or Backward; op names the op in the error.
template <template <class> class Kind>
void launch_for_dtype(const char* op, const Tensor& out,
                      const std::array<const Tensor*, Kind<Float32Op>::kInputs>& in) {
  const torch::stable::accelerator::DeviceGuard guard(out.get_device_index());
  if (out.numel() == 0) {
    return;
  }
  switch (out.scalar_type()) {
    case ScalarType::Float:
      if (rounding() == Rounding::kCorrect) {
        return launch_flat<Kind<Float32CorrectOp>>(out, in);
      }
      return launch_flat<Kind<Float32Op>>(out, in);
    case ScalarType::Double:
      return launch_flat<Kind<Float64Op>>(out, in);
    case ScalarType::Half:
      return launch_flat<Kind<Float16Op>>(out, in);
    case ScalarType::BFloat16:
      return launch_flat<Kind<BFloat16Op>>(out, in);
    case ScalarType::ComplexFloat:
      return launch_flat<Kind<ComplexOp<float>>>(out, in);
    case ScalarType::ComplexDouble:
      return launch_flat<Kind<ComplexOp<double>>>(out, in);
    default:
      STD_TORCH_CHECK(false, "torch_sigmoid_ext.", op, ": no CUDA kernel for dtype ",
                      out.scalar_type());
  }
}

void sigmoid_kernel(const Tensor& out, const Tensor& input) {
  check_operand(input, out, "sigmoid", "the input");
  launch_for_dtype<Forward>("sigmoid", out, {&input});
}

void sigmoid_backward_kernel(const Tensor& grad_input, const Tensor& grad_output,
                             const Tensor& output) {
  check_operand(grad_output, grad_input, "sigmoid_backward", "grad_output");
  check_operand(output, grad_input, "sigmoid_backward", "output");
  launch_for_dtype<Backward>("sigmoid_backward", grad_input, {&grad_output, &output});
}

}  // namespace

STABLE_TORCH_LIBRARY_IMPL(torch_sigmoid_ext, CUDA, m) {
  DeviceOps<&sigmoid_kernel, &sigmoid_backward_kernel>::impl_all(m);
}

}  // namespace torch_sigmoid_ext
