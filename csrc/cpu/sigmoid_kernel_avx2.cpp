// The AVX2 + FMA + F16C variant: 8 float or 4 double lanes (F32x8, F64x4).
//
// The target is set by a pragma rather than by -m flags, so that only this file's code uses
// these instructions and the library still loads on any x86-64 CPU. Only standard and intrinsic
// headers may be included here: an inline torch function compiled for AVX2 could be picked by
// the linker for generic code.
#include "sigmoid_kernel.h"

#ifdef TORCH_SIGMOID_EXT_X86

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif

#include <immintrin.h>

#include "sigmoid_loops.h"

namespace torch_sigmoid_ext {
namespace cpu {
namespace {

struct MaskF32x8 {
  __m256 m;
};
struct F32x8 {
  __m256 v;
  F32x8() = default;
  F32x8(__m256 x) : v(x) {}
  F32x8(float s) : v(_mm256_set1_ps(s)) {}
};
inline F32x8 operator+(F32x8 a, F32x8 b) { return _mm256_add_ps(a.v, b.v); }
inline F32x8 operator-(F32x8 a, F32x8 b) { return _mm256_sub_ps(a.v, b.v); }
inline F32x8 operator*(F32x8 a, F32x8 b) { return _mm256_mul_ps(a.v, b.v); }
inline F32x8 operator/(F32x8 a, F32x8 b) { return _mm256_div_ps(a.v, b.v); }
inline F32x8 vfma(F32x8 a, F32x8 b, F32x8 c) { return _mm256_fmadd_ps(a.v, b.v, c.v); }
inline F32x8 vmin(F32x8 a, F32x8 b) { return _mm256_min_ps(a.v, b.v); }
inline F32x8 vmax(F32x8 a, F32x8 b) { return _mm256_max_ps(a.v, b.v); }
inline MaskF32x8 visnan(F32x8 a) { return {_mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q)}; }
inline MaskF32x8 vlt(F32x8 a, F32x8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
// Whether every lane of a is <= b (a NaN lane is not).
inline bool vall_le(F32x8 a, F32x8 b) {
  return _mm256_movemask_ps(_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)) == 0xff;
}
inline F32x8 vabs(F32x8 a) {
  return _mm256_castsi256_ps(
      _mm256_and_si256(_mm256_castps_si256(a.v), _mm256_set1_epi32(0x7fffffff)));
}
inline F32x8 vexponent_from_shifted(F32x8 t) {
  return _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_castps_si256(t.v), F32Consts::kMantissaBits));
}
inline F32x8 vadd_exponent(F32x8 q, F32x8 e) {
  return _mm256_castsi256_ps(
      _mm256_add_epi32(_mm256_castps_si256(q.v), _mm256_castps_si256(e.v)));
}
inline F32x8 vselect(MaskF32x8 m, F32x8 a, F32x8 b) { return _mm256_blendv_ps(b.v, a.v, m.m); }
inline F32x8 vpow2_from_shifted(F32x8 t) {
  using C = F32Consts;
  const __m256i k = _mm256_set1_epi32(
      static_cast<int32_t>(C::kBias + C::kExpBias - float_bits(C::kShifter)));
  return _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_castps_si256(t.v), k), C::kMantissaBits));
}

struct MaskF64x4 {
  __m256d m;
};
struct F64x4 {
  __m256d v;
  F64x4() = default;
  F64x4(__m256d x) : v(x) {}
  F64x4(double s) : v(_mm256_set1_pd(s)) {}
};
inline F64x4 operator+(F64x4 a, F64x4 b) { return _mm256_add_pd(a.v, b.v); }
inline F64x4 operator-(F64x4 a, F64x4 b) { return _mm256_sub_pd(a.v, b.v); }
inline F64x4 operator*(F64x4 a, F64x4 b) { return _mm256_mul_pd(a.v, b.v); }
inline F64x4 operator/(F64x4 a, F64x4 b) { return _mm256_div_pd(a.v, b.v); }
inline F64x4 vfma(F64x4 a, F64x4 b, F64x4 c) { return _mm256_fmadd_pd(a.v, b.v, c.v); }
inline F64x4 vmin(F64x4 a, F64x4 b) { return _mm256_min_pd(a.v, b.v); }
inline F64x4 vmax(F64x4 a, F64x4 b) { return _mm256_max_pd(a.v, b.v); }
inline MaskF64x4 visnan(F64x4 a) { return {_mm256_cmp_pd(a.v, a.v, _CMP_UNORD_Q)}; }
inline MaskF64x4 vlt(F64x4 a, F64x4 b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LT_OQ)}; }
inline bool vall_le(F64x4 a, F64x4 b) {
  return _mm256_movemask_pd(_mm256_cmp_pd(a.v, b.v, _CMP_LE_OQ)) == 0xf;
}
inline F64x4 vabs(F64x4 a) {
  return _mm256_castsi256_pd(_mm256_and_si256(_mm256_castpd_si256(a.v),
                                              _mm256_set1_epi64x(0x7fffffffffffffffLL)));
}
inline F64x4 vexponent_from_shifted(F64x4 t) {
  return _mm256_castsi256_pd(
      _mm256_slli_epi64(_mm256_castpd_si256(t.v), F64Consts::kMantissaBits));
}
inline F64x4 vadd_exponent(F64x4 q, F64x4 e) {
  return _mm256_castsi256_pd(
      _mm256_add_epi64(_mm256_castpd_si256(q.v), _mm256_castpd_si256(e.v)));
}
inline F64x4 vselect(MaskF64x4 m, F64x4 a, F64x4 b) { return _mm256_blendv_pd(b.v, a.v, m.m); }
inline F64x4 vpow2_from_shifted(F64x4 t) {
  using C = F64Consts;
  const __m256i k = _mm256_set1_epi64x(
      static_cast<int64_t>(C::kBias + C::kExpBias - double_bits(C::kShifter)));
  return _mm256_castsi256_pd(
      _mm256_slli_epi64(_mm256_add_epi64(_mm256_castpd_si256(t.v), k), C::kMantissaBits));
}

// What correct rounding needs (sigmoid_math.h has the scalar versions): lane masks of float
// and of double lanes, as vectors until vmask_bits.
struct LaneMask32 {
  __m256i m;
};
struct LaneMask64 {
  __m256i m;
};
inline LaneMask32 operator|(LaneMask32 a, LaneMask32 b) { return {_mm256_or_si256(a.m, b.m)}; }
inline unsigned vmask_bits(LaneMask32 a) {
  return static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(a.m)));
}
inline unsigned vmask_bits(LaneMask64 a) {
  return static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(a.m)));
}
// Unsigned a <= b, lane by lane: min(a, b) == a.
inline __m256i le_epu32(__m256i a, __m256i b) {
  return _mm256_cmpeq_epi32(_mm256_min_epu32(a, b), a);
}
inline LaneMask32 vnear_pattern(F32x8 r, uint32_t low_mask, uint32_t pattern, uint32_t window) {
  const __m256i low = _mm256_and_si256(_mm256_castps_si256(r.v),
                                       _mm256_set1_epi32(static_cast<int32_t>(low_mask)));
  const __m256i d =
      _mm256_add_epi32(low, _mm256_set1_epi32(static_cast<int32_t>(window - pattern)));
  return {le_epu32(d, _mm256_set1_epi32(static_cast<int32_t>(2 * window - 1)))};
}
inline LaneMask64 vnear_pattern(F64x4 r, uint64_t low_mask, uint64_t pattern, uint64_t window) {
  // Here low - pattern + window is small in magnitude, so a signed compare serves.
  const __m256i low = _mm256_and_si256(_mm256_castpd_si256(r.v),
                                       _mm256_set1_epi64x(static_cast<int64_t>(low_mask)));
  const __m256i d =
      _mm256_add_epi64(low, _mm256_set1_epi64x(static_cast<int64_t>(window - pattern)));
  const __m256i out = _mm256_or_si256(
      _mm256_cmpgt_epi64(d, _mm256_set1_epi64x(static_cast<int64_t>(2 * window - 1))),
      _mm256_cmpgt_epi64(_mm256_setzero_si256(), d));
  return {_mm256_xor_si256(out, _mm256_set1_epi64x(-1))};
}
inline __m256i abs_bits(F32x8 a) {
  return _mm256_and_si256(_mm256_castps_si256(a.v), _mm256_set1_epi32(0x7fffffff));
}
// |a|'s bits are below 2^31, so signed compares serve.
inline LaneMask32 vabs_above(F32x8 a, uint32_t bits) {
  return {_mm256_cmpgt_epi32(abs_bits(a), _mm256_set1_epi32(static_cast<int32_t>(bits)))};
}
inline LaneMask32 vabs_below_nonzero(F32x8 a, uint32_t bits) {
  const __m256i d = _mm256_sub_epi32(abs_bits(a), _mm256_set1_epi32(1));  // 0 becomes -1
  return {_mm256_and_si256(
      _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(bits - 1)), d),
      _mm256_cmpgt_epi32(d, _mm256_set1_epi32(-1)))};
}
inline F32x8 vcopysign(F32x8 a, F32x8 b) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  return _mm256_or_ps(_mm256_andnot_ps(sign, a.v), _mm256_and_ps(sign, b.v));
}
inline F64x4 vround_to_odd(F64x4 h, F64x4 l) {
  const __m256i inexact =
      _mm256_castpd_si256(_mm256_cmp_pd(l.v, _mm256_setzero_pd(), _CMP_NEQ_OQ));
  __m256i hb = _mm256_castpd_si256(h.v);
  const __m256i past = _mm256_srli_epi64(_mm256_xor_si256(hb, _mm256_castpd_si256(l.v)), 63);
  hb = _mm256_sub_epi64(hb, _mm256_and_si256(past, inexact));
  hb = _mm256_or_si256(hb, _mm256_and_si256(inexact, _mm256_set1_epi64x(1)));
  return _mm256_castsi256_pd(hb);
}

// The 16-bit backward without directed rounding: r = p - p y rounded once (the exact value R
// rounded to float), with p's sign (an or sets it: for |y| <= 1, r has it or is +0). r rounds
// to 16 bits as R does unless r is exactly a 16-bit midpoint and R is not r; half_backward_unsafe
// flags those lanes, which the settling path rounds exactly. The residual p - r - p y, exact
// for |y| <= 1 where p y does not underflow (as in half_backward_formula), says whether R is r.
// This takes fewer operations than rounding r to odd in every lane.
inline F32x8 half_backward_formula(F32x8 p, F32x8 y) {
  const __m256 r = _mm256_fnmadd_ps(p.v, y.v, p.v);
  return _mm256_or_ps(r, _mm256_and_ps(p.v, _mm256_set1_ps(-0.0f)));
}
template <class Grid>
inline LaneMask32 half_backward_unsafe(F32x8 y, F32x8 p, F32x8 r) {
  const __m256 e = _mm256_fnmadd_ps(p.v, y.v, _mm256_sub_ps(p.v, r.v));
  const __m256i inexact =
      _mm256_castps_si256(_mm256_cmp_ps(e, _mm256_setzero_ps(), _CMP_NEQ_UQ));
  // On float16's grid below 2^-14 the shift may round, which only adds lanes.
  const __m256i low = _mm256_and_si256(_mm256_castps_si256(Grid::on_grid(vabs(r)).v),
                                       _mm256_set1_epi32(static_cast<int32_t>(Grid::kLowMask)));
  const __m256i midpoint =
      _mm256_cmpeq_epi32(low, _mm256_set1_epi32(static_cast<int32_t>(Grid::kMidpoint)));
  const LaneMask32 outside = LaneMask32{_mm256_and_si256(midpoint, inexact)} |
                             vabs_above(y, kBitsOne) | vabs_above(r, kBitsMaxFloat);
  if constexpr (Grid::kProductMayUnderflow) {
    return outside | vabs_below_nonzero(vmin(vabs(r), vabs(y)), 0x21800000u);  // 2^-60
  } else {
    return outside;
  }
}

struct Avx2Vec {
  using VF = F32x8;
  using VD = F64x4;
  static constexpr int kWidthF = 8;
  static constexpr int kWidthD = 4;
  static constexpr bool kQuads = false;
  static constexpr bool kCanStream = true;
  // Streaming (non-temporal) stores of a vector to an address aligned to its size, and the
  // fence that orders them before what follows.
  static void stream(float* p, F32x8 v) { _mm256_stream_ps(p, v.v); }
  static void stream(double* p, F64x4 v) { _mm256_stream_pd(p, v.v); }
  static void stream_fence() { _mm_sfence(); }
  static F32x8 load_f32(const float* p) { return _mm256_loadu_ps(p); }
  static void store_f32(float* p, F32x8 v) { _mm256_storeu_ps(p, v.v); }
  static F64x4 load_f64(const double* p) { return _mm256_loadu_pd(p); }
  // float lanes 0-3 and 4-7 as doubles, and back (rounded to nearest even).
  static void widen(F32x8 x, F64x4& lo, F64x4& hi) {
    lo = _mm256_cvtps_pd(_mm256_castps256_ps128(x.v));
    hi = _mm256_cvtps_pd(_mm256_extractf128_ps(x.v, 1));
  }
  static F32x8 narrow(F64x4 lo, F64x4 hi) {
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo.v)),
                                _mm256_cvtpd_ps(hi.v), 1);
  }
  static void store_f64(double* p, F64x4 v) { _mm256_storeu_pd(p, v.v); }
  static F32x8 load_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static void store_f16(uint16_t* p, F32x8 v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                     _mm256_cvtps_ph(v.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static F32x8 load_bf16(const uint16_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  // Round to nearest even as f32_to_bf16 does. Only kernel results are stored, and their one
  // NaN, the canonical 0x7fc00000, rounds to 0x7fc0 as f32_to_bf16 makes it: no NaN case here.
  static void store_bf16(uint16_t* p, F32x8 v) {
    const __m256i u = _mm256_castps_si256(v.v);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), odd), 16);
    // Pack 8 x 32 to 8 x 16: packus works per 128-bit lane, the permute puts the halves in order.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
  }
};

}  // namespace

const KernelTable kAvx2Kernels = make_kernel_table<Avx2Vec>("avx2");

}  // namespace cpu
}  // namespace torch_sigmoid_ext

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif  // TORCH_SIGMOID_EXT_X86
