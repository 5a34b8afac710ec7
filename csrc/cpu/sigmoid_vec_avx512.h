// The AVX-512 vector types and loads and stores, shared by the AVX-512 variants
// (sigmoid_kernel_avx512.cpp, sigmoid_kernel_avx512_bf16.cpp). Vector types are named by lane
// type and count, as in every variant: F32x16 holds 16 float lanes, F64x8 8 double lanes. Each
// variant includes this after setting its target by pragma; everything here has internal
// linkage, so each compiles its own copy for its own target.
#pragma once

#include <immintrin.h>

#include "sigmoid_loops.h"

namespace torch_sigmoid_ext {
namespace cpu {
namespace {

struct F32x16 {
  __m512 v;
  F32x16() = default;
  F32x16(__m512 x) : v(x) {}
  F32x16(float s) : v(_mm512_set1_ps(s)) {}
};
inline F32x16 operator+(F32x16 a, F32x16 b) { return _mm512_add_ps(a.v, b.v); }
inline F32x16 operator-(F32x16 a, F32x16 b) { return _mm512_sub_ps(a.v, b.v); }
inline F32x16 operator*(F32x16 a, F32x16 b) { return _mm512_mul_ps(a.v, b.v); }
inline F32x16 operator/(F32x16 a, F32x16 b) { return _mm512_div_ps(a.v, b.v); }
inline F32x16 vfma(F32x16 a, F32x16 b, F32x16 c) { return _mm512_fmadd_ps(a.v, b.v, c.v); }
inline F32x16 vmin(F32x16 a, F32x16 b) { return _mm512_min_ps(a.v, b.v); }
inline F32x16 vmax(F32x16 a, F32x16 b) { return _mm512_max_ps(a.v, b.v); }
inline __mmask16 visnan(F32x16 a) { return _mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q); }
inline __mmask16 vlt(F32x16 a, F32x16 b) { return _mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ); }
// Whether every lane of a is <= b (a NaN lane is not).
inline bool vall_le(F32x16 a, F32x16 b) {
  return _mm512_cmp_ps_mask(a.v, b.v, _CMP_LE_OQ) == 0xffff;
}
inline F32x16 vabs(F32x16 a) { return _mm512_abs_ps(a.v); }
// Whether |x| <= bound (bound >= 0) in every lane of all four, NaN lanes not: on the bits, as
// an unsigned max of |x|'s bits against bound's, so that only one compare is needed. (The
// integer ops issue on any of the four vector pipes; a float compare takes an FMA pipe's slot.)
inline bool vall_abs_le(F32x16 a, F32x16 b, F32x16 c, F32x16 d, F32x16 bound) {
  const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
  const auto bits = [magnitude](F32x16 v) {
    return _mm512_and_si512(_mm512_castps_si512(v.v), magnitude);
  };
  const __m512i top =
      _mm512_max_epu32(_mm512_max_epu32(bits(a), bits(b)), _mm512_max_epu32(bits(c), bits(d)));
  return _mm512_cmpgt_epu32_mask(top, _mm512_castps_si512(bound.v)) == 0;
}
inline F32x16 vselect(__mmask16 m, F32x16 a, F32x16 b) { return _mm512_mask_blend_ps(m, b.v, a.v); }
inline F32x16 vpow2_from_shifted(F32x16 t) {
  using C = F32Consts;
  const __m512i k = _mm512_set1_epi32(
      static_cast<int32_t>(C::kBias + C::kExpBias - float_bits(C::kShifter)));
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_castps_si512(t.v), k), C::kMantissaBits));
}
inline F32x16 vexponent_from_shifted(F32x16 t) {
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_castps_si512(t.v), F32Consts::kMantissaBits));
}
inline F32x16 vadd_exponent(F32x16 q, F32x16 e) {
  return _mm512_castsi512_ps(
      _mm512_add_epi32(_mm512_castps_si512(q.v), _mm512_castps_si512(e.v)));
}
// vscalefps rounds q * 2^floor(n) once, exactly as the portable vscale does.
template <typename C>
inline F32x16 vscale(F32x16 q, F32x16, F32x16 n) {
  return _mm512_scalef_ps(q.v, n.v);
}

struct F64x8 {
  __m512d v;
  F64x8() = default;
  F64x8(__m512d x) : v(x) {}
  F64x8(double s) : v(_mm512_set1_pd(s)) {}
};
inline F64x8 operator+(F64x8 a, F64x8 b) { return _mm512_add_pd(a.v, b.v); }
inline F64x8 operator-(F64x8 a, F64x8 b) { return _mm512_sub_pd(a.v, b.v); }
inline F64x8 operator*(F64x8 a, F64x8 b) { return _mm512_mul_pd(a.v, b.v); }
inline F64x8 operator/(F64x8 a, F64x8 b) { return _mm512_div_pd(a.v, b.v); }
inline F64x8 vfma(F64x8 a, F64x8 b, F64x8 c) { return _mm512_fmadd_pd(a.v, b.v, c.v); }
inline F64x8 vmin(F64x8 a, F64x8 b) { return _mm512_min_pd(a.v, b.v); }
inline F64x8 vmax(F64x8 a, F64x8 b) { return _mm512_max_pd(a.v, b.v); }
inline __mmask8 visnan(F64x8 a) { return _mm512_cmp_pd_mask(a.v, a.v, _CMP_UNORD_Q); }
inline __mmask8 vlt(F64x8 a, F64x8 b) { return _mm512_cmp_pd_mask(a.v, b.v, _CMP_LT_OQ); }
inline bool vall_le(F64x8 a, F64x8 b) { return _mm512_cmp_pd_mask(a.v, b.v, _CMP_LE_OQ) == 0xff; }
inline F64x8 vabs(F64x8 a) { return _mm512_abs_pd(a.v); }
inline bool vall_abs_le(F64x8 a, F64x8 b, F64x8 c, F64x8 d, F64x8 bound) {
  const __m512i magnitude = _mm512_set1_epi64(0x7fffffffffffffffLL);
  const auto bits = [magnitude](F64x8 v) {
    return _mm512_and_si512(_mm512_castpd_si512(v.v), magnitude);
  };
  const __m512i top =
      _mm512_max_epu64(_mm512_max_epu64(bits(a), bits(b)), _mm512_max_epu64(bits(c), bits(d)));
  return _mm512_cmpgt_epu64_mask(top, _mm512_castpd_si512(bound.v)) == 0;
}
inline F64x8 vselect(__mmask8 m, F64x8 a, F64x8 b) { return _mm512_mask_blend_pd(m, b.v, a.v); }
inline F64x8 vpow2_from_shifted(F64x8 t) {
  using C = F64Consts;
  const __m512i k = _mm512_set1_epi64(
      static_cast<int64_t>(C::kBias + C::kExpBias - double_bits(C::kShifter)));
  return _mm512_castsi512_pd(
      _mm512_slli_epi64(_mm512_add_epi64(_mm512_castpd_si512(t.v), k), C::kMantissaBits));
}
inline F64x8 vexponent_from_shifted(F64x8 t) {
  return _mm512_castsi512_pd(
      _mm512_slli_epi64(_mm512_castpd_si512(t.v), F64Consts::kMantissaBits));
}
inline F64x8 vadd_exponent(F64x8 q, F64x8 e) {
  return _mm512_castsi512_pd(
      _mm512_add_epi64(_mm512_castpd_si512(q.v), _mm512_castpd_si512(e.v)));
}
template <typename C>
inline F64x8 vscale(F64x8 q, F64x8, F64x8 n) {
  return _mm512_scalef_pd(q.v, n.v);
}

// What correct rounding needs (sigmoid_math.h has the scalar versions): lane masks that stay
// in mask registers until vmask_bits.
struct LaneMask {
  __mmask16 m;
};
inline LaneMask operator|(LaneMask a, LaneMask b) { return {_kor_mask16(a.m, b.m)}; }
inline unsigned vmask_bits(LaneMask a) { return a.m; }
// ((bits + window - pattern) & low_mask) < 2 window, for a power-of-two window: no bit of it
// above 2 window - 1, which one AND-test decides.
constexpr uint64_t test_mask(uint64_t low_mask, uint64_t window) {
  return low_mask & ~(2 * window - 1);
}
inline LaneMask vnear_pattern(F32x16 r, uint32_t low_mask, uint32_t pattern, uint32_t window) {
  const __m512i d = _mm512_add_epi32(_mm512_castps_si512(r.v),
                                     _mm512_set1_epi32(static_cast<int32_t>(window - pattern)));
  return {_mm512_testn_epi32_mask(
      d, _mm512_set1_epi32(static_cast<int32_t>(test_mask(low_mask, window))))};
}
inline LaneMask vnear_pattern(F64x8 r, uint64_t low_mask, uint64_t pattern, uint64_t window) {
  const __m512i d = _mm512_add_epi64(_mm512_castpd_si512(r.v),
                                     _mm512_set1_epi64(static_cast<int64_t>(window - pattern)));
  return {_mm512_testn_epi64_mask(
      d, _mm512_set1_epi64(static_cast<int64_t>(test_mask(low_mask, window))))};
}
inline __m512i abs_bits(F32x16 a) {
  return _mm512_and_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(0x7fffffff));
}
inline LaneMask vabs_above(F32x16 a, uint32_t bits) {
  return {_mm512_cmpgt_epu32_mask(abs_bits(a), _mm512_set1_epi32(static_cast<int32_t>(bits)))};
}
inline LaneMask vabs_below_nonzero(F32x16 a, uint32_t bits) {
  const __m512i d = _mm512_sub_epi32(abs_bits(a), _mm512_set1_epi32(1));
  return {_mm512_cmplt_epu32_mask(d, _mm512_set1_epi32(static_cast<int32_t>(bits - 1)))};
}
inline F64x8 vround_to_odd(F64x8 h, F64x8 l) {
  const __mmask8 inexact = _mm512_cmp_pd_mask(l.v, _mm512_setzero_pd(), _CMP_NEQ_OQ);
  const __m512i hb = _mm512_castpd_si512(h.v);
  const __m512i past = _mm512_srli_epi64(_mm512_xor_si512(hb, _mm512_castpd_si512(l.v)), 63);
  const __m512i cut = _mm512_mask_sub_epi64(hb, inexact, hb, past);
  return _mm512_castsi512_pd(_mm512_mask_or_epi64(cut, inexact, cut, _mm512_set1_epi64(1)));
}

inline F32x16 vselect(LaneMask m, F32x16 a, F32x16 b) { return vselect(m.m, a, b); }

// |a| with b's sign, in one ternary-logic instruction: b's bit where the mask has one.
inline F32x16 vcopysign(F32x16 a, F32x16 b) {
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
      _mm512_castps_si512(a.v), _mm512_castps_si512(b.v), _mm512_set1_epi32(INT32_MIN), 0xd8));
}
// The 16-bit backward's R' = |p| - |p| y rounded to odd, from two directed roundings of one
// fused multiply-add: down (toward zero, as R' >= 0 for y <= 1) or, where that is even and
// they differ, up; that is, the odd one of R's two neighbouring floats. Then p's sign: R's,
// and a zero result's as torch's g (1 - y) y signs it. Rounded to odd, R' rounds to 16 bits as
// R does. half_backward_unsafe takes the lanes with y > 1, and those where p may be inexact
// (bfloat16, subnormal) or is not finite.
inline F32x16 half_backward_formula(F32x16 p, F32x16 y) {
  constexpr int kNoExc = _MM_FROUND_NO_EXC;
  const __m512 a = _mm512_abs_ps(p.v);
  const __m512 rd = _mm512_fnmadd_round_ps(a, y.v, a, _MM_FROUND_TO_NEG_INF | kNoExc);
  const __m512 ru = _mm512_fnmadd_round_ps(a, y.v, a, _MM_FROUND_TO_POS_INF | kNoExc);
  // rd's bits with ru's last bit: the odd one of the two where they differ (neighbours).
  const __m512i odd = _mm512_ternarylogic_epi32(
      _mm512_castps_si512(rd), _mm512_castps_si512(ru), _mm512_set1_epi32(1), 0xf8);
  return vcopysign(_mm512_castsi512_ps(odd), p);
}
template <class Grid>
inline LaneMask half_backward_unsafe(F32x16 y, F32x16 p, F32x16) {
  // y > 1 or NaN: its bits above 1's as signed integers (negative y is fine).
  const LaneMask outside =
      LaneMask{_mm512_cmpgt_epi32_mask(_mm512_castps_si512(y.v), _mm512_set1_epi32(kBitsOne))} |
      vabs_above(p, kBitsMaxFloat);
  if constexpr (Grid::kProductMayUnderflow) {
    return outside | vabs_below_nonzero(p, 0x00800000u);  // 2^-126
  } else {
    return outside;
  }
}

struct Avx512Vec {
  using VF = F32x16;
  using VD = F64x8;
  static constexpr int kWidthF = 16;
  static constexpr int kWidthD = 8;
  static constexpr bool kQuads = true;  // 32 registers: four vectors in flight
  static constexpr bool kCanStream = true;
  // Streaming (non-temporal) stores of a vector to an address aligned to its size, and the
  // fence that orders them before what follows.
  static void stream(float* p, F32x16 v) { _mm512_stream_ps(p, v.v); }
  static void stream(double* p, F64x8 v) { _mm512_stream_pd(p, v.v); }
  static void stream_fence() { _mm_sfence(); }
  static F32x16 load_f32(const float* p) { return _mm512_loadu_ps(p); }
  static void store_f32(float* p, F32x16 v) { _mm512_storeu_ps(p, v.v); }
  static F64x8 load_f64(const double* p) { return _mm512_loadu_pd(p); }
  // float lanes 0-7 and 8-15 as doubles, and back (rounded to nearest even).
  static void widen(F32x16 x, F64x8& lo, F64x8& hi) {
    lo = _mm512_cvtps_pd(_mm512_castps512_ps256(x.v));
    hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x.v), 1)));
  }
  static F32x16 narrow(F64x8 lo, F64x8 hi) {
    const __m512d both = _mm512_insertf64x4(
        _mm512_castpd256_pd512(_mm256_castps_pd(_mm512_cvtpd_ps(lo.v))),
        _mm256_castps_pd(_mm512_cvtpd_ps(hi.v)), 1);
    return _mm512_castpd_ps(both);
  }
  // round_to_odd_float of each lane (lanes 0-7 from lo), for finite values below float's
  // largest: truncated, with the last bit set where that was inexact.
  static F32x16 narrow_odd(F64x8 lo, F64x8 hi) {
    constexpr int kTruncate = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;
    const __m256 f_lo = _mm512_cvt_roundpd_ps(lo.v, kTruncate);
    const __m256 f_hi = _mm512_cvt_roundpd_ps(hi.v, kTruncate);
    const __mmask16 inexact = _mm512_kunpackb(
        _mm512_cmp_pd_mask(_mm512_cvtps_pd(f_hi), hi.v, _CMP_NEQ_OQ),
        _mm512_cmp_pd_mask(_mm512_cvtps_pd(f_lo), lo.v, _CMP_NEQ_OQ));
    const __m512i bits = _mm512_castpd_si512(_mm512_insertf64x4(
        _mm512_castpd256_pd512(_mm256_castps_pd(f_lo)), _mm256_castps_pd(f_hi), 1));
    return _mm512_castsi512_ps(_mm512_mask_or_epi32(bits, inexact, bits, _mm512_set1_epi32(1)));
  }
  static void store_f64(double* p, F64x8 v) { _mm512_storeu_pd(p, v.v); }
  // sigmoid(x) in double for |x| <= F64Consts::kExactX, for the exact float32 mode, which
  // needs about 40 bits, not sigmoid_formula_mid's 52: e^-x = 2^(-k/16) e^-r with
  // k = round(16 x / ln 2) and |r| <= ln2/32, where e^-r takes a degree-5 polynomial in place of
  // degree 11. With k = 16 m + j (0 <= j < 16), 2^(-k/16) = 2^-m 2^(-j/16): one vpermi2pd reads
  // 2^(-j/16) from a table in two registers (indexed by t's low 4 bits), and subtracting t's
  // bits shifted left by 48 subtracts m from its exponent; each entry carries j << 48 in its
  // bits to cancel what that shift puts below the exponent. Within 2^-46.4 of sigmoid(x),
  // relative (the polynomial's fit 2^-46.63; ln2/16 rounded to double, 2^-49.6 at |k| <= 808;
  // four roundings of 2^-53): at most 97 double ULP, inside kMidWindow. The accuracy tool's
  // sweep of every float checks it.
  static constexpr uint64_t kMidWindow = 128;
  static F64x8 sigmoid_mid(F64x8 x) {
    static constexpr double kTable[16] = {
        0x1.0000000000000p+0,  0x1.fa4afa2a490dap-1, 0x1.f5818dcfba487p-1, 0x1.f199bdd85529cp-1,
        0x1.ee89f995ad3adp-1, 0x1.ec49182a3f090p-1, 0x1.eace5422aa0dbp-1, 0x1.ea11473eb0187p-1,
        0x1.ea09e667f3bcdp-1, 0x1.eab07dd485429p-1, 0x1.ebfdad5362a27p-1, 0x1.edea64c123422p-1,
        0x1.f06fe0a31b715p-1, 0x1.f387a6e756238p-1, 0x1.f72b83c7d517bp-1, 0x1.fb5586cf9890fp-1};
    const F64x8 one(1.0);
    const F64x8 t = vfma(x, F64x8(0x1.71547652b82fep+4), F64x8(F64Consts::kShifter));
    const F64x8 k = t - F64x8(F64Consts::kShifter);
    const F64x8 r = vfma(k, F64x8(-0x1.62e42fefa39efp-5), x);  // x - k ln2/16
    // e^-r, fitted (mpmath's chebyfit, of (e^-r - 1) / r) for |r| <= ln2/32 (1 + 2^-10)
    F64x8 p = vfma(F64x8(-0x1.11120b7404ab0p-7), r, F64x8(0x1.55570b82b534dp-5));
    p = vfma(p, r, F64x8(-0x1.55555554dccc9p-3));
    p = vfma(p, r, F64x8(0x1.fffffffe5a211p-2));
    p = vfma(p, r, F64x8(-1.0));
    p = vfma(p, r, one);
    const __m512i bits = _mm512_castpd_si512(t.v);
    const __m512d entry =
        _mm512_permutex2var_pd(_mm512_loadu_pd(kTable), bits, _mm512_loadu_pd(kTable + 8));
    const F64x8 scale = _mm512_castsi512_pd(
        _mm512_sub_epi64(_mm512_castpd_si512(entry), _mm512_slli_epi64(bits, 48)));  // 2^(-k/16)
    return one / vfma(scale, p, one);  // 1 / (1 + 2^(-k/16) e^-r)
  }
  // sigmoid_backward_odd for finite g and y, by directed rounding: p = g y is exact in
  // double, and one fused multiply-add gives p - p y = g y (1 - y) rounded once. Rounded down
  // and up it gives the same value or two neighbours, one of them odd: that one is the value
  // rounded to odd. An exact zero comes out +0 (from the rounding up); its sign is that of
  // p (1 - y), which every other result already has, so the sign bit of p xor b, b = 1 - y
  // (a zero only where y = 1), is or-ed in.
  static F64x8 backward_odd(F64x8 g, F64x8 y) {
    constexpr int kDown = _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC;
    constexpr int kUp = _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC;
    const __m512d p = _mm512_mul_pd(g.v, y.v);
    const __m512d down = _mm512_fnmadd_round_pd(p, y.v, p, kDown);
    const __m512d up = _mm512_fnmadd_round_pd(p, y.v, p, kUp);
    const __m512i odd = _mm512_castpd_si512(_mm512_mask_blend_pd(
        _mm512_test_epi64_mask(_mm512_castpd_si512(down), _mm512_set1_epi64(1)), up, down));
    const __m512d b = _mm512_sub_pd(_mm512_set1_pd(1.0), y.v);
    const __m512i sign = _mm512_xor_si512(_mm512_castpd_si512(p), _mm512_castpd_si512(b));
    // odd | (sign & the sign bit)
    return _mm512_castsi512_pd(
        _mm512_ternarylogic_epi64(odd, sign, _mm512_set1_epi64(INT64_MIN), 0xf8));
  }
  static F32x16 load_f16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static void store_f16(uint16_t* p, F32x16 v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                        _mm512_cvtps_ph(v.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static F32x16 load_bf16(const uint16_t* p) {
    const __m512i w =
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
  // Round to nearest even as f32_to_bf16 does. Only kernel results are stored, and their one
  // NaN, the canonical 0x7fc00000, rounds to 0x7fc0 as f32_to_bf16 makes it: no NaN case here.
  // (The avx512_bf16 variant does this with one instruction where it can.)
  static void store_bf16(uint16_t* p, F32x16 v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(bf16_bits(v)));
  }
  // Each lane's bfloat16 bits, in its low 16 bits, rounded to nearest even as f32_to_bf16
  // does; a NaN must be the canonical one (see above).
  static __m512i bf16_bits(F32x16 v) {
    const __m512i u = _mm512_castps_si512(v.v);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    return _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), odd), 16);
  }
};

}  // namespace
}  // namespace cpu
}  // namespace torch_sigmoid_ext
