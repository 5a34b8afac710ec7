// The AVX-512 variant (AVX512F only): 16 float or 8 double lanes.
//
// As in sigmoid_kernel_avx2.cpp, the target is set by a pragma so that only this file's code
// uses these instructions, and only standard and intrinsic headers may be included.
#include "sigmoid_kernel.h"

#ifdef TORCH_SIGMOID_EXT_X86

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma,f16c"))), \
                             apply_to = function)
#else
#pragma GCC target("avx512f,avx2,fma,f16c")
#endif

#include "sigmoid_vec_avx512.h"

namespace torch_sigmoid_ext {
namespace cpu {

const KernelTable kAvx512Kernels = make_kernel_table<Avx512Vec>("avx512");

}  // namespace cpu
}  // namespace torch_sigmoid_ext

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif  // TORCH_SIGMOID_EXT_X86
