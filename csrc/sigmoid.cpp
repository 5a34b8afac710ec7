// The op schemas, and the few plain C functions the Python package reads through ctypes (how
// the library was built, the CPU-variant switch). Kernels register per device in cpu/ and
// cuda/; fake kernels, autograd and the refusals of unsupported layouts live in Python
// (torch_sigmoid_ext/_fake.py, autograd.py, _unsupported.py). The library is no Python module:
// torch.ops.load_library loads it, so it depends on neither Python's C API nor pybind11.
#include <torch/csrc/stable/library.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cpu/sigmoid_kernel.h"
#include "sigmoid_ops.h"

STABLE_TORCH_LIBRARY(torch_sigmoid_ext, m) {
  // Names and argument order mirror ATen's sigmoid, sigmoid_, sigmoid.out and sigmoid_backward.
  // The mutating ones return nothing, unlike ATen's: torch.library's rule for custom ops that
  // mutate an argument, which lets torch.compile functionalize them. The Python functions
  // return the mutated tensor, as torch's do. The argument is `input`, not ATen's `self`, which
  // torch.library warns is ambiguous for custom ops. (No tags: the stable def takes them only
  // from torch 2.12 on.)
  m.def("sigmoid(Tensor input) -> Tensor");
  m.def("sigmoid_(Tensor(a!) input) -> ()");
  m.def("sigmoid.out(Tensor input, *, Tensor(a!) out) -> ()");
  m.def("sigmoid_backward(Tensor grad_output, Tensor output) -> Tensor");
}

#ifndef TORCH_SIGMOID_EXT_CUDA_ARCHS
#define TORCH_SIGMOID_EXT_CUDA_ARCHS ""
#endif

#define TORCH_SIGMOID_EXT_EXPORT extern "C" __attribute__((visibility("default")))

namespace cpu = torch_sigmoid_ext::cpu;

namespace torch_sigmoid_ext {
namespace {
// Relaxed: a switch is a process-wide setting, not a way to order memory between threads.
std::atomic<int> g_rounding{static_cast<int>(Rounding::kDefault)};
}  // namespace

Rounding rounding() { return static_cast<Rounding>(g_rounding.load(std::memory_order_relaxed)); }
void set_rounding(Rounding mode) {
  g_rounding.store(static_cast<int>(mode), std::memory_order_relaxed);
}
void check_complex_rounding(const char* op) {
  if (rounding() == Rounding::kCorrect) {
    throw std::runtime_error(std::string("torch_sigmoid_ext.") + op +
                             ": rounding='correct' covers float32, float16 and bfloat16, not "
                             "complex64; compute in complex128, or leave that mode with "
                             "torch_sigmoid_ext.set_rounding('default')");
  }
}
}  // namespace torch_sigmoid_ext

TORCH_SIGMOID_EXT_EXPORT int torch_sigmoid_ext_with_cuda() {
#ifdef TORCH_SIGMOID_EXT_WITH_CUDA
  return 1;
#else
  return 0;
#endif
}

// TORCH_CUDA_ARCH_LIST as the build used it ("9.0", "7.5;8.0;...;12.0+PTX"); empty without CUDA.
TORCH_SIGMOID_EXT_EXPORT const char* torch_sigmoid_ext_cuda_archs() {
  return TORCH_SIGMOID_EXT_CUDA_ARCHS;
}

TORCH_SIGMOID_EXT_EXPORT const char* torch_sigmoid_ext_compiler() { return __VERSION__; }

TORCH_SIGMOID_EXT_EXPORT const char* torch_sigmoid_ext_cpu_variant() {
  return cpu::active_kernels().name;
}

TORCH_SIGMOID_EXT_EXPORT const char* torch_sigmoid_ext_cpu_variants_supported() {
  return cpu::supported_variants();
}

// Switches the CPU kernel variant for this process (tests, tools); 0 if this CPU cannot run it.
TORCH_SIGMOID_EXT_EXPORT int torch_sigmoid_ext_set_cpu_variant(const char* name) {
  return cpu::set_active_kernels(name) ? 1 : 0;
}

TORCH_SIGMOID_EXT_EXPORT int64_t torch_sigmoid_ext_cpu_streaming_min_bytes() {
  return cpu::streaming_min_bytes();
}

// Calls touching at least this many bytes write with streaming stores (tests); returns the
// previous value.
TORCH_SIGMOID_EXT_EXPORT int64_t torch_sigmoid_ext_set_cpu_streaming_min_bytes(int64_t bytes) {
  return cpu::set_streaming_min_bytes(bytes);
}

// The rounding mode (0 default, 1 correct) for this process, read by every later call; returns
// the previous one. -1 only reads it.
TORCH_SIGMOID_EXT_EXPORT int torch_sigmoid_ext_set_rounding(int mode) {
  const int previous = static_cast<int>(torch_sigmoid_ext::rounding());
  if (mode == 0 || mode == 1) {
    torch_sigmoid_ext::set_rounding(static_cast<torch_sigmoid_ext::Rounding>(mode));
  }
  return previous;
}
