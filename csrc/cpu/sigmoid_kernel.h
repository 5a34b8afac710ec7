// The CPU kernel table: one set of loops per ISA variant, chosen once at run time by what the
// CPU supports (or by TORCH_SIGMOID_EXT_CPU_VARIANT). Loops take raw pointers and byte
// strides, so this header and the variant files include no torch headers (see sigmoid_math.h
// for why that matters).
#pragma once

#include <cstdint>

namespace torch_sigmoid_ext {
namespace cpu {

// The dtypes with vectorized loops. Complex types have scalar loops in sigmoid_cpu.cpp.
enum RealType { kFloat32 = 0, kFloat64, kFloat16, kBFloat16, kNumRealTypes };

// out[i] = f(in[i]) for i < n; strides in bytes.
using UnaryLoop = void (*)(char* out, const char* in, int64_t out_stride, int64_t in_stride,
                           int64_t n);
// out[i] = f(a[i], b[i]) for i < n; strides in bytes.
using BinaryLoop = void (*)(char* out, const char* a, const char* b, int64_t out_stride,
                            int64_t a_stride, int64_t b_stride, int64_t n);

struct KernelTable {
  const char* name;
  UnaryLoop forward[kNumRealTypes];
  BinaryLoop backward[kNumRealTypes];  // (grad_output, output)
  // The same, writing the output with non-temporal (streaming) stores: for calls too large to
  // stay in cache, where they save the read of each output line before it is written. The same
  // bits. (float32 and float64 only; elsewhere, and in the generic variant, the plain loops.)
  UnaryLoop forward_streaming[kNumRealTypes];
  BinaryLoop backward_streaming[kNumRealTypes];
  // The float32 loops for rounding="correct" (sigmoid_correct, sigmoid_backward_correct),
  // plain and streaming.
  UnaryLoop forward_float32_correct;
  UnaryLoop forward_float32_correct_streaming;
  BinaryLoop backward_float32_correct;
  BinaryLoop backward_float32_correct_streaming;
};

extern const KernelTable kGenericKernels;
#if defined(__x86_64__) || defined(_M_X64)
#define TORCH_SIGMOID_EXT_X86 1
extern const KernelTable kAvx2Kernels;
extern const KernelTable kAvx512Kernels;
extern const KernelTable kAvx512Bf16Kernels;
#endif

// The variant in use. Chosen on first use: the best the CPU supports, unless the environment
// variable TORCH_SIGMOID_EXT_CPU_VARIANT names another (generic, avx2, avx512 or
// avx512_bf16).
const KernelTable& active_kernels();
// Switches the variant for the whole process; returns false if the CPU cannot run it.
bool set_active_kernels(const char* name);
// The variants this CPU can run, best last.
const char* supported_variants();

// Calls that touch at least this many bytes (inputs and output, a buffer counted once) write
// with the streaming loops. By default 1.5 times the larger of 32 MiB and the L3 size Linux
// reports for CPU 0, where streaming stops costing a reader of the output (docs/design.md);
// below that an output stays in cache for whatever reads it next.
int64_t streaming_min_bytes();
// Sets it for the whole process (tests); returns the previous value.
int64_t set_streaming_min_bytes(int64_t bytes);

}  // namespace cpu
}  // namespace torch_sigmoid_ext
