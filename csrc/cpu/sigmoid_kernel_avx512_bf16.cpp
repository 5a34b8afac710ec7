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
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")
#endif

#include "sigmoid_vec_avx512.h"

namespace torch_sigmoid_ext {
namespace cpu {
namespace {

struct Avx512Bf16Vec : Avx512Vec {
  static void store_bf16(uint16_t* p, F32x16 v) {
    if (__builtin_expect(_mm512_fpclass_ps_mask(v.v, 0x20) == 0, 1)) {  // 0x20: subnormal
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                          reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v.v)));
      return;
    }
    Avx512Vec::store_bf16(p, v);
  }
};

// bfloat16 in pairs of vectors, 32 values, with one 512-bit load per input and one store:
// - load2 widens by interleaving zero words below the values (vpunpck{l,h}wd), one
//   instruction per 16 values against two. That leaves the values out of order across the
//   pair (.a holds elements 0-3, 8-11, 16-19 and 24-27, .b the rest), which an elementwise
//   formula doesn't mind;
// - store2 puts them back in order: vcvtne2ps2bf16 rounds both halves into one vector, and a
//   64-bit permutation restores the order. A subnormal lane (which vcvtne2ps2bf16 flushes) or a
//   NaN lane takes the portable rounding instead, on the same lanes, with the NaN made
//   canonical; packing 32-bit lanes to 16 (vpackusdw) undoes the interleaving by itself.
struct BFloat16PairIo : BFloat16Io<Avx512Bf16Vec> {
  static __m512i pair_order() { return _mm512_set_epi64(7, 3, 6, 2, 5, 1, 4, 0); }
  static Pair<F32x16> load2(const uint16_t* p) {
    const __m512i w = _mm512_loadu_si512(p);
    const __m512i zero = _mm512_setzero_si512();
    return {F32x16(_mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, w))),
            F32x16(_mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, w)))};
  }
  static void store2(uint16_t* p, Pair<F32x16> v) {
    constexpr int kSubnormalOrNan = 0x20 | 0x01 | 0x80;  // denormal, quiet NaN, signalling NaN
    if (__builtin_expect((_mm512_fpclass_ps_mask(v.a.v, kSubnormalOrNan) |
                          _mm512_fpclass_ps_mask(v.b.v, kSubnormalOrNan)) == 0,
                         1)) {
      store2_fast(p, v);
      return;
    }
    _mm512_storeu_si512(p, _mm512_packus_epi32(canonical_bits(v.a), canonical_bits(v.b)));
  }
  // The hot loops' store needs no check: forward_fast's results are normal, and
  // backward2_raw flags the lanes whose result is subnormal, infinite or NaN, for the settling
  // path to store with store2.
  static void store2_fast(uint16_t* p, Pair<F32x16> v) {
    const __m512i both = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(v.b.v, v.a.v));
    _mm512_storeu_si512(p, _mm512_permutexvar_epi64(pair_order(), both));
  }
  // HalfRounding's, with the lanes to settle found by vfpclassps on the result: subnormal
  // (which vcvtne2ps2bf16 would flush), infinite or NaN; and y > 1 or NaN. That covers p:
  // infinite or NaN makes r so, and where y <= 1, a product p that may be inexact (below
  // 2^-134, where its 16 significant bits reach under float's last subnormal bit) makes r
  // subnormal, since |r| <= 2 |p| for -1 <= y <= 1 and |y| >= 1 leaves p exact.
  static Pair<F32x16> backward2_raw(Pair<F32x16> g, Pair<F32x16> y, bool& unsettled) {
    const Pair<F32x16> p{g.a * y.a, g.b * y.b};
    const Pair<F32x16> r{half_backward_formula(p.a, y.a), half_backward_formula(p.b, y.b)};
    const auto unsafe = [](F32x16 yv, F32x16 rv) {
      constexpr int kNotNormal = 0x20 | 0x01 | 0x80 | 0x08 | 0x10;  // subnormal, NaN, inf
      return _mm512_fpclass_ps_mask(rv.v, kNotNormal) |
             _mm512_cmpgt_epi32_mask(_mm512_castps_si512(yv.v), _mm512_set1_epi32(kBitsOne));
    };
    unsettled = (unsafe(y.a, r.a) | unsafe(y.b, r.b)) != 0;
    return r;
  }
  // A function, not a captureless lambda: GCC compiles such a lambda's function-pointer thunk
  // without the pragma's target, and warns (-Wpsabi) that its 512-bit return changes the ABI.
  static __m512i canonical_bits(F32x16 h) {
    return Avx512Vec::bf16_bits(canonical_nan<F32Consts>(h));
  }
};

// Addresses only, so constant-initialized: nothing compiled for this target runs at load.
const UnaryLoop kBFloat16PairForward = &forward_loop<BFloat16PairIo>;
const BinaryLoop kBFloat16PairBackward = &backward_loop<BFloat16PairIo>;

}  // namespace
}  // namespace cpu
}  // namespace torch_sigmoid_ext

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace torch_sigmoid_ext {
namespace cpu {
namespace {

// Built when the library loads, on every CPU, so it is compiled outside the AVX-512 target
// above: there the copy of the table used AVX-512 moves and faulted on AVX2-only CPUs.
KernelTable with_bf16_loops(const KernelTable& base) {
  KernelTable table = base;
  table.name = "avx512_bf16";
  table.forward[kBFloat16] = kBFloat16PairForward;
  table.backward[kBFloat16] = kBFloat16PairBackward;
  table.forward_streaming[kBFloat16] = table.forward[kBFloat16];
  table.backward_streaming[kBFloat16] = table.backward[kBFloat16];
  return table;
}

}  // namespace

// kAvx512Kernels is constant-initialized (make_kernel_table is constexpr), so it is ready
// before this dynamic initialization runs.
const KernelTable kAvx512Bf16Kernels = with_bf16_loops(kAvx512Kernels);

}  // namespace cpu
}  // namespace torch_sigmoid_ext

#endif  // TORCH_SIGMOID_EXT_X86
