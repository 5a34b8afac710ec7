// The CPU ops. The common layer (sigmoid_ops.cpp) hands every kernel here one dense block per
// tensor, all with the same layout, so each is one flat loop that torch::stable::parallel_for
// splits across torch.get_num_threads() threads. Each piece goes to the active ISA variant's
// loop.
#include <torch/csrc/stable/ops.h>
#include <torch/headeronly/core/ScalarType.h>
#include <torch/headeronly/util/complex.h>

#include <cstdint>

#include "../sigmoid_math.h"
#include "../sigmoid_ops.h"
#include "sigmoid_kernel.h"

namespace torch_sigmoid_ext {
namespace {

using torch::headeronly::ScalarType;

// Elements per task for parallel_for: below this a second thread costs more than it saves.
// The forward is dear per element, so its grain is a quarter of ATen's 32768; the backward, a
// cheap product, keeps ATen's (docs/design.md).
constexpr int64_t kForwardGrainSize = 8192;
constexpr int64_t kBackwardGrainSize = 32768;

cpu::RealType real_type(ScalarType dtype) {
  switch (dtype) {
    case ScalarType::Float:
      return cpu::kFloat32;
    case ScalarType::Double:
      return cpu::kFloat64;
    case ScalarType::Half:
      return cpu::kFloat16;
    case ScalarType::BFloat16:
      return cpu::kBFloat16;
    default:
      return cpu::kNumRealTypes;
  }
}

// Whether a call is large enough for the streaming loops (see streaming_min_bytes): the bytes
// it touches, each buffer counted once (in place, out is the input).
bool streams(int64_t n, int64_t element_size, const void* out, const void* a,
             const void* b = nullptr) {
  const int64_t bytes = n * element_size;
  const int64_t touched = bytes + (a != out ? bytes : 0) + (b != nullptr && b != out ? bytes : 0);
  return touched >= cpu::streaming_min_bytes();
}

// f(begin, end) over [0, n), on one thread when n is at most one grain (no task to hand out).
template <typename F>
void for_each_range(int64_t n, int64_t grain, const F& f) {
  if (n <= grain) {
    f(0, n);
  } else {
    torch::stable::parallel_for(0, n, grain, f);
  }
}

template <typename T>
void sigmoid_complex_kernel(T* out, const T* in, int64_t n) {
  for_each_range(n, kForwardGrainSize, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = sigmoid_complex_formula(in[i]);
  });
}

template <typename T>
void sigmoid_backward_complex_kernel(T* out, const T* g, const T* y, int64_t n) {
  for_each_range(n, kBackwardGrainSize, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = sigmoid_backward_complex_formula(g[i], y[i]);
  });
}

void sigmoid_kernel(const Tensor& out, const Tensor& input) {
  const int64_t n = out.numel();
  const ScalarType dtype = out.scalar_type();
  char* o = static_cast<char*>(out.data_ptr());
  const char* in = static_cast<const char*>(input.data_ptr());
  const cpu::RealType real = real_type(dtype);
  if (real != cpu::kNumRealTypes) {
    const int64_t size = static_cast<int64_t>(out.element_size());
    const cpu::KernelTable& table = cpu::active_kernels();
    const bool streaming = streams(n, size, o, in);
    cpu::UnaryLoop loop = streaming ? table.forward_streaming[real] : table.forward[real];
    if (real == cpu::kFloat32 && rounding() == Rounding::kCorrect) {
      loop = streaming ? table.forward_float32_correct_streaming : table.forward_float32_correct;
    }
    for_each_range(n, kForwardGrainSize, [=](int64_t begin, int64_t end) {
      loop(o + begin * size, in + begin * size, size, size, end - begin);
    });
  } else if (dtype == ScalarType::ComplexFloat) {
    sigmoid_complex_kernel(reinterpret_cast<c10::complex<float>*>(o),
                           reinterpret_cast<const c10::complex<float>*>(in), n);
  } else if (dtype == ScalarType::ComplexDouble) {
    sigmoid_complex_kernel(reinterpret_cast<c10::complex<double>*>(o),
                           reinterpret_cast<const c10::complex<double>*>(in), n);
  }
}

void sigmoid_backward_kernel(const Tensor& out, const Tensor& grad_output, const Tensor& output) {
  const int64_t n = out.numel();
  const ScalarType dtype = out.scalar_type();
  char* o = static_cast<char*>(out.data_ptr());
  const char* g = static_cast<const char*>(grad_output.data_ptr());
  const char* y = static_cast<const char*>(output.data_ptr());
  const cpu::RealType real = real_type(dtype);
  if (real != cpu::kNumRealTypes) {
    const int64_t size = static_cast<int64_t>(out.element_size());
    const cpu::KernelTable& table = cpu::active_kernels();
    const bool streaming = streams(n, size, o, g, y);
    cpu::BinaryLoop loop = streaming ? table.backward_streaming[real] : table.backward[real];
    if (real == cpu::kFloat32 && rounding() == Rounding::kCorrect) {
      loop = streaming ? table.backward_float32_correct_streaming : table.backward_float32_correct;
    }
    for_each_range(n, kBackwardGrainSize, [=](int64_t begin, int64_t end) {
      loop(o + begin * size, g + begin * size, y + begin * size, size, size, size, end - begin);
    });
  } else if (dtype == ScalarType::ComplexFloat) {
    using T = c10::complex<float>;
    sigmoid_backward_complex_kernel(reinterpret_cast<T*>(o), reinterpret_cast<const T*>(g),
                                    reinterpret_cast<const T*>(y), n);
  } else if (dtype == ScalarType::ComplexDouble) {
    using T = c10::complex<double>;
    sigmoid_backward_complex_kernel(reinterpret_cast<T*>(o), reinterpret_cast<const T*>(g),
                                    reinterpret_cast<const T*>(y), n);
  }
}

}  // namespace

STABLE_TORCH_LIBRARY_IMPL(torch_sigmoid_ext, CPU, m) {
  DeviceOps<&sigmoid_kernel, &sigmoid_backward_kernel>::impl_all(m);
}

}  // namespace torch_sigmoid_ext
