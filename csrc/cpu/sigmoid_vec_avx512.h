// The AVX-512 vector types (16 float or 8 double lanes) and loads and stores, shared by the
// AVX-512 variants (sigmoid_kernel_avx512.cpp, sigmoid_kernel_avx512_bf16.cpp). Each includes
// this after setting its target by pragma; everything here has internal linkage, so each
// variant compiles its own copy for its own target.
#pragma once

#include <immintrin.h>

#include "sigmoid_loops.h"

namespace torch_sigmoid_ext {
namespace cpu {
namespace {

struct F16 {
  __m512 v;
  F16() = default;
  F16(__m512 x) : v(x) {}
  F16(float s) : v(_mm512_set1_ps(s)) {}
};
inline F16 operator+(F16 a, F16 b) { return _mm512_add_ps(a.v, b.v); }
inline F16 operator-(F16 a, F16 b) { return _mm512_sub_ps(a.v, b.v); }
inline F16 operator*(F16 a, F16 b) { return _mm512_mul_ps(a.v, b.v); }
inline F16 operator/(F16 a, F16 b) { return _mm512_div_ps(a.v, b.v); }
inline F16 vfma(F16 a, F16 b, F16 c) { return _mm512_fmadd_ps(a.v, b.v, c.v); }
inline F16 vmin(F16 a, F16 b) { return _mm512_min_ps(a.v, b.v); }
inline F16 vmax(F16 a, F16 b) { return _mm512_max_ps(a.v, b.v); }
inline __mmask16 visnan(F16 a) { return _mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q); }
inline __mmask16 vlt(F16 a, F16 b) { return _mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ); }
// Whether every lane of a is <= b (a NaN lane is not).
inline bool vall_le(F16 a, F16 b) {
  return _mm512_cmp_ps_mask(a.v, b.v, _CMP_LE_OQ) == 0xffff;
}
inline F16 vabs(F16 a) { return _mm512_abs_ps(a.v); }
// Whether |x| <= bound (bound >= 0) in every lane of all four, NaN lanes not: on the bits, as
// an unsigned max of |x|'s bits against bound's, so that only one compare is needed. (The
// integer ops issue on any of the four vector pipes; a float compare takes an FMA pipe's slot.)
inline bool vall_abs_le(F16 a, F16 b, F16 c, F16 d, F16 bound) {
  const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
  const auto bits = [magnitude](F16 v) {
    return _mm512_and_si512(_mm512_castps_si512(v.v), magnitude);
  };
  const __m512i top =
      _mm512_max_epu32(_mm512_max_epu32(bits(a), bits(b)), _mm512_max_epu32(bits(c), bits(d)));
  return _mm512_cmpgt_epu32_mask(top, _mm512_castps_si512(bound.v)) == 0;
}
inline F16 vselect(__mmask16 m, F16 a, F16 b) { return _mm512_mask_blend_ps(m, b.v, a.v); }
inline F16 vpow2_from_shifted(F16 t) {
  using C = F32Consts;
  const __m512i k = _mm512_set1_epi32(
      static_cast<int32_t>(C::kBias + C::kExpBias - float_bits(C::kShifter)));
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_castps_si512(t.v), k), C::kMantissaBits));
}
inline F16 vexponent_from_shifted(F16 t) {
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_castps_si512(t.v), F32Consts::kMantissaBits));
}
inline F16 vadd_exponent(F16 q, F16 e) {
  return _mm512_castsi512_ps(
      _mm512_add_epi32(_mm512_castps_si512(q.v), _mm512_castps_si512(e.v)));
}
// vscalefps rounds q * 2^floor(n) once, exactly as the portable vscale does.
template <typename C>
inline F16 vscale(F16 q, F16, F16 n) {
  return _mm512_scalef_ps(q.v, n.v);
}

struct D8 {
  __m512d v;
  D8() = default;
  D8(__m512d x) : v(x) {}
  D8(double s) : v(_mm512_set1_pd(s)) {}
};
inline D8 operator+(D8 a, D8 b) { return _mm512_add_pd(a.v, b.v); }
inline D8 operator-(D8 a, D8 b) { return _mm512_sub_pd(a.v, b.v); }
inline D8 operator*(D8 a, D8 b) { return _mm512_mul_pd(a.v, b.v); }
inline D8 operator/(D8 a, D8 b) { return _mm512_div_pd(a.v, b.v); }
inline D8 vfma(D8 a, D8 b, D8 c) { return _mm512_fmadd_pd(a.v, b.v, c.v); }
inline D8 vmin(D8 a, D8 b) { return _mm512_min_pd(a.v, b.v); }
inline D8 vmax(D8 a, D8 b) { return _mm512_max_pd(a.v, b.v); }
inline __mmask8 visnan(D8 a) { return _mm512_cmp_pd_mask(a.v, a.v, _CMP_UNORD_Q); }
inline __mmask8 vlt(D8 a, D8 b) { return _mm512_cmp_pd_mask(a.v, b.v, _CMP_LT_OQ); }
inline bool vall_le(D8 a, D8 b) { return _mm512_cmp_pd_mask(a.v, b.v, _CMP_LE_OQ) == 0xff; }
inline D8 vabs(D8 a) { return _mm512_abs_pd(a.v); }
inline bool vall_abs_le(D8 a, D8 b, D8 c, D8 d, D8 bound) {
  const __m512i magnitude = _mm512_set1_epi64(0x7fffffffffffffffLL);
  const auto bits = [magnitude](D8 v) {
    return _mm512_and_si512(_mm512_castpd_si512(v.v), magnitude);
  };
  const __m512i top =
      _mm512_max_epu64(_mm512_max_epu64(bits(a), bits(b)), _mm512_max_epu64(bits(c), bits(d)));
  return _mm512_cmpgt_epu64_mask(top, _mm512_castpd_si512(bound.v)) == 0;
}
inline D8 vselect(__mmask8 m, D8 a, D8 b) { return _mm512_mask_blend_pd(m, b.v, a.v); }
inline D8 vpow2_from_shifted(D8 t) {
  using C = F64Consts;
  const __m512i k = _mm512_set1_epi64(
      static_cast<int64_t>(C::kBias + C::kExpBias - double_bits(C::kShifter)));
  return _mm512_castsi512_pd(
      _mm512_slli_epi64(_mm512_add_epi64(_mm512_castpd_si512(t.v), k), C::kMantissaBits));
}
inline D8 vexponent_from_shifted(D8 t) {
  return _mm512_castsi512_pd(
      _mm512_slli_epi64(_mm512_castpd_si512(t.v), F64Consts::kMantissaBits));
}
inline D8 vadd_exponent(D8 q, D8 e) {
  return _mm512_castsi512_pd(
      _mm512_add_epi64(_mm512_castpd_si512(q.v), _mm512_castpd_si512(e.v)));
}
template <typename C>
inline D8 vscale(D8 q, D8, D8 n) {
  return _mm512_scalef_pd(q.v, n.v);
}

struct Avx512Vec {
  using VF = F16;
  using VD = D8;
  static constexpr int kWidthF = 16;
  static constexpr int kWidthD = 8;
  static constexpr bool kQuads = true;  // 32 registers: four vectors in flight
  static constexpr bool kCanStream = true;
  // Streaming (non-temporal) stores of a vector to an address aligned to its size, and the
  // fence that orders them before what follows.
  static void stream(float* p, F16 v) { _mm512_stream_ps(p, v.v); }
  static void stream(double* p, D8 v) { _mm512_stream_pd(p, v.v); }
  static void stream_fence() { _mm_sfence(); }
  static F16 load_f32(const float* p) { return _mm512_loadu_ps(p); }
  static void store_f32(float* p, F16 v) { _mm512_storeu_ps(p, v.v); }
  static D8 load_f64(const double* p) { return _mm512_loadu_pd(p); }
  static void store_f64(double* p, D8 v) { _mm512_storeu_pd(p, v.v); }
  static F16 load_f16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static void store_f16(uint16_t* p, F16 v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                        _mm512_cvtps_ph(v.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static F16 load_bf16(const uint16_t* p) {
    const __m512i w =
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
  // Round to nearest even as f32_to_bf16 does. Only kernel results are stored, and their one
  // NaN, the canonical 0x7fc00000, rounds to 0x7fc0 as f32_to_bf16 makes it: no NaN case here.
  // (The avx512_bf16 variant does this with one instruction where it can.)
  static void store_bf16(uint16_t* p, F16 v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(bf16_bits(v)));
  }
  // Each lane's bfloat16 bits, in its low 16 bits, rounded to nearest even as f32_to_bf16
  // does; a NaN must be the canonical one (see above).
  static __m512i bf16_bits(F16 v) {
    const __m512i u = _mm512_castps_si512(v.v);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    return _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), odd), 16);
  }
};

}  // namespace
}  // namespace cpu
}  // namespace torch_sigmoid_ext
