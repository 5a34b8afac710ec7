// The AVX-512 variant for CPUs that also have AVX512_BF16 (Zen 4 and later, Cooper Lake,
// Sapphire Rapids and later): the avx512 kernels, with bfloat16 results rounded by
// vcvtneps2bf16, one instruction for what is otherwise five. It gives the same bits:
// vcvtneps2bf16 rounds to nearest even as f32_to_bf16 does and quiets NaN the same way; only
// subnormal inputs differ (it flushes them to zero), so a vector with a subnormal lane is
// rounded the portable way. Only the bfloat16 loops are compiled here; the rest of the table is
// kAvx512Kernels'.
#include "sigmoid_kernel.h"

#ifdef TORCH_SIGMOID_EXT_X86

#if defined(__clang__)
#pragma clang attribute push(                                                           \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c"))), \
    apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")
#endif

#include "sigmoid_vec_avx512.h"

namespace torch_sigmoid_ext {
namespace cpu {
namespace {

struct Avx512Bf16Vec : Avx512Vec {
  static void store_bf16(uint16_t* p, F16 v) {
    if (__builtin_expect(_mm512_fpclass_ps_mask(v.v, 0x20) == 0, 1)) {  // 0x20: subnormal
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                          reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v.v)));
      return;
    }
    Avx512Vec::store_bf16(p, v);
  }
};

KernelTable with_bf16_loops(const KernelTable& base) {
  KernelTable table = base;
  table.name = "avx512_bf16";
  table.forward[kBFloat16] = &forward_loop<BFloat16Io<Avx512Bf16Vec>>;
  table.backward[kBFloat16] = &backward_loop<BFloat16Io<Avx512Bf16Vec>>;
  return table;
}

}  // namespace

// kAvx512Kernels is constant-initialized (make_kernel_table is constexpr), so it is ready
// before this dynamic initialization runs.
const KernelTable kAvx512Bf16Kernels = with_bf16_loops(kAvx512Kernels);

}  // namespace cpu
}  // namespace torch_sigmoid_ext

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif  // TORCH_SIGMOID_EXT_X86
