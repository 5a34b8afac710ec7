// The sigmoid formulas, written once and shared by every kernel: the CPU's scalar and vector
// loops (every ISA variant) and the CUDA kernels. No two code paths can drift apart.
//
// sigmoid(x) = 1 / (1 + e^-x), and d/dx sigmoid(x) = y * (1 - y) with y = sigmoid(x): the
// backward needs only the saved output.
//
// The formulas are templates over a value type V: float or double for scalar code, or a SIMD
// vector type that supplies the same operations (+, -, *, /, vfma, vmin, vmax, visnan, vlt,
// vselect, vpow2_from_shifted, vexponent_from_shifted and vadd_exponent; vscale has a portable
// default). A vector loop therefore runs exactly the scalar operations, lane by lane, and gives
// the same bits. To keep that true:
// - every multiply-add that should fuse is an explicit vfma; build with -ffp-contract=off
//   (nvcc: --fmad=false) so the compiler fuses nothing else;
// - this header includes only standard headers and gives everything internal linkage, so a
//   translation unit compiled for AVX2 or AVX-512 cannot hand its copy of a function to
//   generic code;
// - 16-bit values travel as raw bits (uint16_t). The conversions are written here, round to
//   nearest even, and match what F16C, AVX-512 and CUDA's conversion instructions do.
#pragma once

#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define TSE_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define TSE_HOST_DEVICE inline
#endif

namespace torch_sigmoid_ext {
namespace {  // internal linkage: see the header comment

TSE_HOST_DEVICE uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
TSE_HOST_DEVICE float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}
TSE_HOST_DEVICE uint64_t double_bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof(u));
  return u;
}
TSE_HOST_DEVICE double bits_double(uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof(d));
  return d;
}

// The constants of each precision. e^-x = 2^-n * e^-r with n = round(x log2(e)) and
// |r| <= ln2/2; n is found by adding a shifter (1.5 * 2^mantissa_bits), so that round-to-nearest
// leaves n in the low mantissa bits. x is clamped to [kMinX, kMaxX], where the result is
// already 0 or 1, so that n stays small and infinities need no special case.
struct F32Consts {
  using Bits = uint32_t;
  static TSE_HOST_DEVICE float quiet_nan() { return bits_float(0x7fc00000u); }
  static constexpr float kMinX = -110.0f;  // sigmoid(x) < 2^-150 rounds to 0 below this
  static constexpr float kMaxX = 30.0f;    // sigmoid(x) rounds to 1 above 17.4
  // For |x| <= kExactX, |n| <= 23: 1 + 2^n is exact (see sigmoid_formula), and 2^n and the
  // result are normal numbers. The range of sigmoid_formula_mid.
  static constexpr float kExactX = 16.0f;
  static constexpr float kLog2e = 1.44269504088896341f;
  static constexpr float kLn2 = 0.693147182464599609375f;  // ln 2 rounded to float
  static constexpr float kLn2Hi = 0.693145751953125f;  // n * kLn2Hi is exact (Cody-Waite)
  static constexpr float kLn2Lo = 1.42860682030941723212e-6f;
  static constexpr float kShifter = 12582912.0f;  // 1.5 * 2^23
  static constexpr int kMantissaBits = 23;
  static constexpr int kExpBias = 127;
  // vscale's default applies 2^n as 2^(n + kBias), always a normal number, then 2^-kBias, so
  // that a subnormal result is rounded once.
  static constexpr int kBias = 64;
  static constexpr float kUnbias = 0x1p-64f;
};

struct F64Consts {
  using Bits = uint64_t;
  static TSE_HOST_DEVICE double quiet_nan() { return bits_double(0x7ff8000000000000ull); }
  static constexpr double kMinX = -760.0;  // sigmoid(x) < 2^-1075 below about -745.2
  static constexpr double kMaxX = 40.0;    // sigmoid(x) rounds to 1 above 37.5
  static constexpr double kExactX = 35.0;  // |n| <= 51: 1 + 2^n is exact, as for float
  static constexpr double kLog2e = 1.4426950408889634074;
  static constexpr double kLn2Hi = 0.693147180369123816490;  // 32 significant bits
  static constexpr double kLn2Lo = 1.90821492927058770002e-10;
  static constexpr double kShifter = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr int kMantissaBits = 52;
  static constexpr int kExpBias = 1023;
  static constexpr int kBias = 128;
  static constexpr double kUnbias = 0x1p-128;
};

// Scalar versions of the operations the formulas use. Vector types provide the same names.
TSE_HOST_DEVICE float vfma(float a, float b, float c) { return fmaf(a, b, c); }
TSE_HOST_DEVICE double vfma(double a, double b, double c) { return fma(a, b, c); }
// min and max as x86's minps and maxps define them: b when either is NaN. (The formulas never
// depend on that, but every path then computes the same thing.)
TSE_HOST_DEVICE float vmin(float a, float b) { return a < b ? a : b; }
TSE_HOST_DEVICE double vmin(double a, double b) { return a < b ? a : b; }
TSE_HOST_DEVICE float vmax(float a, float b) { return a > b ? a : b; }
TSE_HOST_DEVICE double vmax(double a, double b) { return a > b ? a : b; }
TSE_HOST_DEVICE bool visnan(float a) { return a != a; }
TSE_HOST_DEVICE bool visnan(double a) { return a != a; }
TSE_HOST_DEVICE bool vlt(float a, float b) { return a < b; }
TSE_HOST_DEVICE bool vlt(double a, double b) { return a < b; }
TSE_HOST_DEVICE float vselect(bool m, float a, float b) { return m ? a : b; }
TSE_HOST_DEVICE double vselect(bool m, double a, double b) { return m ? a : b; }
// t = z * log2(e) + shifter holds n in its low bits; returns 2^(n + kBias).
TSE_HOST_DEVICE float vpow2_from_shifted(float t) {
  using C = F32Consts;
  return bits_float((float_bits(t) - float_bits(C::kShifter) + C::kBias + C::kExpBias)
                    << C::kMantissaBits);
}
TSE_HOST_DEVICE double vpow2_from_shifted(double t) {
  using C = F64Consts;
  return bits_double((double_bits(t) - double_bits(C::kShifter) + C::kBias + C::kExpBias)
                     << C::kMantissaBits);
}

// n << kMantissaBits, from t = shifter + n: the low bits of t are n, and the shifter's vanish
// in the shift (its low 9 bits, or 12 for double, are zero). Adding it to the bits of a normal q
// gives q * 2^n, exactly, where that is a normal number too.
TSE_HOST_DEVICE float vexponent_from_shifted(float t) {
  return bits_float(float_bits(t) << F32Consts::kMantissaBits);
}
TSE_HOST_DEVICE double vexponent_from_shifted(double t) {
  return bits_double(double_bits(t) << F64Consts::kMantissaBits);
}
TSE_HOST_DEVICE float vadd_exponent(float q, float e) {
  return bits_float(float_bits(q) + float_bits(e));
}
TSE_HOST_DEVICE double vadd_exponent(double q, double e) {
  return bits_double(double_bits(q) + double_bits(e));
}

// q * 2^n rounded once, for q in [2^-60, 2] and n (from the shifted t, and as a value) in
// [round(kMinX log2(e)), round(kMaxX log2(e))]; with q = 1, 2^n itself (subnormal or 0 at the
// bottom of that range). AVX-512 overrides this with vscalefps, which gives the same bits in
// one instruction.
template <typename C, typename V>
TSE_HOST_DEVICE V vscale(V q, V t, V n) {
  (void)n;
  return (q * vpow2_from_shifted(t)) * V(C::kUnbias);
}

// Which NaN an operation passes on depends on the order of its operands in the instruction,
// which the compiler picks differently for scalar and vector code (and a GPU makes its own).
// So every NaN result becomes C::quiet_nan(), and every path gives the same bits.
template <typename C, typename V>
TSE_HOST_DEVICE V canonical_nan(V r) {
  return vselect(visnan(r), V(C::quiet_nan()), r);
}

// e^-r = 1 + r q(r) for |r| <= ln2/2 (and a little more, for the rounding of n): these return
// q(r), so that the caller can add the 1 together with what else it needs. Fitted for the least
// maximum relative error of 1 + r q(r): 3.8e-9 for float (degree 6) and 1.1e-17 for double
// (degree 11), with the coefficients as stored.
template <typename V>
TSE_HOST_DEVICE V exp_neg_q(V r, F32Consts) {
  V q = vfma(V(0.0013814596f), r, V(-0.0083687175f));
  q = vfma(q, r, V(0.04166839f));
  q = vfma(q, r, V(-0.16666521f));
  q = vfma(q, r, V(0.49999994f));
  return vfma(q, r, V(-1.0f));
}

template <typename V>
TSE_HOST_DEVICE V exp_neg_q(V r, F64Consts) {
  V q = vfma(V(-2.5000069375934975e-08), r, V(2.763024956858103e-07));
  q = vfma(q, r, V(-2.755758635561248e-06));
  q = vfma(q, r, V(2.4801493095355968e-05));
  q = vfma(q, r, V(-0.00019841269506589194));
  q = vfma(q, r, V(0.0013888888943633774));
  q = vfma(q, r, V(-0.008333333333494463));
  q = vfma(q, r, V(0.04166666666653014));
  q = vfma(q, r, V(-0.16666666666666413));
  q = vfma(q, r, V(0.5000000000000011));
  return vfma(q, r, V(-1.0));
}

// sigmoid(x), within 2 ULP of the exact value for every input, subnormal results included
// (docs/design.md has the measured maximum). With e^-x = 2^-n p and p = e^-r = 1 + r q:
//   sigmoid(x) = 1 / (1 + 2^-n p) = 2^n / d,   d = p + 2^n = (1 + 2^n) + r q
// - For |x| <= kExactX, 1 + 2^n is exact, and d is rounded once, by one fused multiply-add.
// - Below -kExactX, 2^n is too small to add to 1 exactly: d = 1 + (r q + 2^n), where the inner
//   sum is small and so is its rounding.
// Then 1 / d is one correctly rounded division, and the final 2^n is exact unless the result is
// subnormal, where it rounds once. Nothing overflows, and below x = -87.3, where the float result
// is subnormal, it keeps its precision instead of flushing to zero.
// - Above kExactX the result is within 2^-23 of 1, closer than d can say: there it is
//   1 - 2^-n p, rounded once, which is sigmoid(x) but for (2^-n p)^2 < 2^-46.
// C is F32Consts or F64Consts; V is its scalar type or a vector of it.
template <typename C, typename V>
TSE_HOST_DEVICE V sigmoid_formula(V x) {
  const V one(1);
  const V xc = vmax(vmin(x, V(C::kMaxX)), V(C::kMinX));  // NaN is dealt with at the end
  const V t = vfma(xc, V(C::kLog2e), V(C::kShifter));
  const V n = t - V(C::kShifter);  // round(x log2(e))
  V r = vfma(n, V(-C::kLn2Hi), xc);
  r = vfma(n, V(-C::kLn2Lo), r);
  const V q = exp_neg_q(r, C());
  const V pw = vscale<C>(one, t, n);  // 2^n
  const V d = vselect(vlt(x, V(-C::kExactX)), one + vfma(r, q, pw), vfma(r, q, one + pw));
  V res = vscale<C>(one / d, t, n);
  res = vselect(vlt(V(C::kExactX), x), one - vfma(r, q, one) / pw, res);  // p / 2^n is exact
  return vselect(visnan(x), V(C::quiet_nan()), res);
}

// sigmoid_formula for |x| <= C::kExactX, where it gives the same bits with less work: no clamp,
// no selects, and 2^n is a normal number, so scaling by it is an integer add to the exponent.
// The vector loops take this path when every lane of a vector is in range, which is the common
// case by far, and sigmoid_formula otherwise (docs/design.md counts the operations).
template <typename C, typename V>
TSE_HOST_DEVICE V sigmoid_formula_mid(V x) {
  const V one(1);
  const V t = vfma(x, V(C::kLog2e), V(C::kShifter));
  const V n = t - V(C::kShifter);
  V r = vfma(n, V(-C::kLn2Hi), x);
  r = vfma(n, V(-C::kLn2Lo), r);
  const V q = exp_neg_q(r, C());
  const V e = vexponent_from_shifted(t);
  const V d = vfma(r, q, one + vadd_exponent(one, e));
  return vadd_exponent(one / d, e);
}

// sigmoid(x) in float32 for a float16 or bfloat16 result, which keeps 11 or 8 bits of it. The
// same steps without what only float32's last bits need: a degree-5 polynomial (1.1e-7) and one
// rounding of d everywhere (1 + 2^n may round). Within 2.6 float ULP on every 16-bit input, which
// sigmoid_half_correct then rounds correctly.
template <typename V>
TSE_HOST_DEVICE V exp_neg_q_half(V r) {
  V q = vfma(V(-0.008312522433698177f), r, V(0.041890159249305725f));
  q = vfma(q, r, V(-0.16667114198207855f));
  q = vfma(q, r, V(0.499992311000824f));
  return vfma(q, r, V(-1.0f));
}

template <typename V>
TSE_HOST_DEVICE V sigmoid_half_formula(V x) {
  using C = F32Consts;
  const V one(1.0f);
  const V xc = vmax(vmin(x, V(C::kMaxX)), V(C::kMinX));  // NaN is dealt with at the end
  const V t = vfma(xc, V(C::kLog2e), V(C::kShifter));
  const V n = t - V(C::kShifter);
  const V r = vfma(n, V(-C::kLn2Lo), vfma(n, V(-C::kLn2Hi), xc));
  const V q = exp_neg_q_half(r);
  const V quot = one / vfma(r, q, one + vscale<C>(one, t, n));
  return vselect(visnan(x), V(C::quiet_nan()), vscale<C>(quot, t, n));
}

// sigmoid_half_formula for |x| <= F32Consts::kExactX, the CPU loops' fast path, with fewer
// operations: x - n ln 2 in one fused multiply-add with ln 2 rounded to float (off by
// |n| 1.9e-9, |n| <= 23), and integer adds to the exponent in place of AVX-512's two
// vscalefps. Within 2.6 float ULP on every 16-bit input in that range, as sigmoid_half_formula
// is on all: not always its bits, but the same 16-bit result once rounded correctly.
template <typename V>
TSE_HOST_DEVICE V sigmoid_half_formula_mid(V x) {
  using C = F32Consts;
  const V one(1.0f);
  const V t = vfma(x, V(C::kLog2e), V(C::kShifter));
  const V n = t - V(C::kShifter);
  const V r = vfma(n, V(-C::kLn2), x);
  const V q = exp_neg_q_half(r);
  const V e = vexponent_from_shifted(t);
  const V quot = one / vfma(r, q, one + vadd_exponent(one, e));
  return vadd_exponent(quot, e);
}

// d/dx sigmoid(x) = y * (1 - y): only the saved output is needed. (1 - y) is exact for
// y >= 1/2, and the product order is ATen's. C is F32Consts or F64Consts, as above.
template <typename C, typename V>
TSE_HOST_DEVICE V sigmoid_backward_formula(V g, V y) {
  return canonical_nan<C>(g * (V(1) - y) * y);
}

// Complex sigmoid and its backward, for c10::complex<float> and c10::complex<double>: ATen's
// formulas, scalar only (complex tensors are rare). The includer includes
// torch/headeronly/util/complex.h, whose type has the arithmetic but no exp: that comes from
// std::complex on the host and thrust on the device, as c10's own complex_math does.
template <typename C>
TSE_HOST_DEVICE C complex_exp(C x) {
  using T = decltype(x.real());
#if defined(__CUDA_ARCH__)
  return static_cast<C>(thrust::exp(static_cast<thrust::complex<T>>(x)));
#else
  return static_cast<C>(std::exp(static_cast<std::complex<T>>(x)));
#endif
}

template <typename C>
TSE_HOST_DEVICE C sigmoid_complex_formula(C x) {
  const C one(1);
  return one / (one + complex_exp(-x));
}

// d/dz sigmoid(z) = y * (1 - y); autograd's convention conjugates it for complex.
template <typename C>
TSE_HOST_DEVICE C sigmoid_backward_complex_formula(C g, C y) {
  const C one(1);
  const C d = (one - y) * y;
  return g * C(d.real(), -d.imag());
}

// 16-bit conversions, round to nearest even. NaN becomes a quiet NaN with the same sign and the
// top payload bits, as the hardware conversions do.
TSE_HOST_DEVICE float bf16_to_f32(uint16_t h) {
  return bits_float(static_cast<uint32_t>(h) << 16);
}

TSE_HOST_DEVICE uint16_t f32_to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<uint16_t>((u >> 16) | 0x0040u);
  }
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

TSE_HOST_DEVICE float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  if (exp == 0x1fu) {  // inf or NaN
    return bits_float(sign | 0x7f800000u | (man << 13));
  }
  if (exp == 0) {  // zero or subnormal: man * 2^-24, exact in float
    const float mag = static_cast<float>(man) * 5.9604644775390625e-8f;
    return sign ? -mag : mag;
  }
  return bits_float(sign | ((exp + 112u) << 23) | (man << 13));
}

TSE_HOST_DEVICE uint16_t f32_to_f16(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) {  // NaN: quiet it, keep the top payload bits
    return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  }
  if (a >= 0x477ff000u) {  // rounds to or past 65520: infinity
    return static_cast<uint16_t>(sign | 0x7c00u);
  }
  if (a < 0x38800000u) {  // below 2^-14: the result is subnormal (or zero)
    // Adding 0.5 lines the value up so that the FPU's own round-to-nearest-even rounds at
    // 2^-24; the low bits are then the half's subnormal payload.
    const float shifted = bits_float(a) + 0.5f;
    return static_cast<uint16_t>(sign | (float_bits(shifted) - 0x3f000000u));
  }
  const uint32_t odd = (a >> 13) & 1u;
  return static_cast<uint16_t>(sign | ((a + 0xc8000fffu + odd) >> 13));
}

// ---- Correct rounding ---------------------------------------------------------------------
// A result is correctly rounded when it is the value of its dtype nearest the exact one, ties
// to even. Rounding to nearest changes only at midpoints, halfway between two neighbours, so an
// approximation whose error is bounded rounds correctly unless it lies within that bound of a
// midpoint. The formulas below compute an approximation, test its distance to the nearest
// midpoint on its bits (a few integer operations), and settle only the rare close lanes with a
// slower exact path. Every function here is scalar; the CPU's vector loops run the same
// operations lane by lane and call these for the lanes they flag, and the CUDA kernels call them
// per element, so every path gives the same bits.

TSE_HOST_DEVICE float vabs(float a) { return fabsf(a); }
TSE_HOST_DEVICE double vabs(double a) { return fabs(a); }
// |a| with b's sign: where a result is zero, its sign is set as g (1 - y) y signs it in IEEE
// arithmetic, as torch's sigmoid_backward does.
TSE_HOST_DEVICE float vcopysign(float a, float b) { return copysignf(a, b); }
// Lane masks: which lanes of a vector need the exact path. A scalar's mask is a bool; vector
// types have their own, with | and vmask_bits (lane i is bit i).
TSE_HOST_DEVICE unsigned vmask_bits(bool m) { return m ? 1u : 0u; }

// Whether the bits of r under low_mask are within [pattern - window, pattern + window - 1],
// for a window that is a power of two (unsigned wraparound makes that one compare, and the
// power of two lets AVX-512 do it in one AND-test).
TSE_HOST_DEVICE bool vnear_pattern(float r, uint32_t low_mask, uint32_t pattern,
                                   uint32_t window) {
  return (float_bits(r) & low_mask) - pattern + window < 2 * window;
}
TSE_HOST_DEVICE bool vnear_pattern(double r, uint64_t low_mask, uint64_t pattern,
                                   uint64_t window) {
  return (double_bits(r) & low_mask) - pattern + window < 2 * window;
}
// Whether |a|'s bits are above `bits` (NaN is above every finite bound), and whether
// 0 < |a| < the float whose bits these are: one unsigned compare each.
TSE_HOST_DEVICE bool vabs_above(float a, uint32_t bits) {
  return (float_bits(a) & 0x7fffffffu) > bits;
}
TSE_HOST_DEVICE bool vabs_below_nonzero(float a, uint32_t bits) {
  return (float_bits(a) & 0x7fffffffu) - 1u < bits - 1u;
}
constexpr uint32_t kBitsOne = 0x3f800000u;          // 1.0f
constexpr uint32_t kBitsMaxFloat = 0x7f7fffffu;     // the largest finite float

// The 16-bit grids seen from float. A bfloat16 is a float's upper 16 bits, so its midpoints
// are the floats whose low 16 bits are 0x8000, subnormals included. A float16 has 13 bits fewer
// than a float down to 2^-14, and below that a grid 2^-24 apart, which adding 2^-14 lines up
// with float's grid in [2^-14, 2^-13). on_grid maps r >= 0 (or NaN) to a float whose low bits
// say where r lies between two neighbours.
struct BFloat16Grid {
  static constexpr bool kProductMayUnderflow = true;  // of two bfloat16 values, in float
  static constexpr uint32_t kLowMask = 0xffffu;
  static constexpr uint32_t kMidpoint = 0x8000u;
  template <class V>
  static TSE_HOST_DEVICE V on_grid(V r) {
    return r;
  }
};
struct Float16Grid {
  static constexpr bool kProductMayUnderflow = false;
  static constexpr uint32_t kLowMask = 0x1fffu;
  static constexpr uint32_t kMidpoint = 0x1000u;
  template <class V>
  static TSE_HOST_DEVICE V on_grid(V r) {
    return vselect(vlt(r, V(0x1p-14f)), r + V(0x1p-14f), r);
  }
};
// sigmoid_half_formula is within 2.6 float ULP of sigmoid on every 16-bit input, and adding
// 2^-14 costs half a unit more: a lane is safe 4 units from a midpoint. tests/test_rounding.py
// checks every 16-bit input.
constexpr uint32_t kHalfForwardWindow = 4;
template <class Grid, class V>
TSE_HOST_DEVICE auto near_half_midpoint(V r, uint32_t window) {
  return vnear_pattern(Grid::on_grid(r), Grid::kLowMask, Grid::kMidpoint, window);
}

// The same for float results of a double y >= 0: float keeps 29 bits fewer than double, and
// below 2^-126 its subnormal grid is that of [2^-126, 2^-125). sigmoid_formula<F64Consts> is
// within 1.5 double ULP of sigmoid (docs/accuracy.md): the window of 8 leaves a margin, and the
// accuracy tool's sweep of every float checks it.
constexpr uint64_t kFloatWindow = 8;
template <class V>
TSE_HOST_DEVICE V float_grid(V y) {
  return vselect(vlt(y, V(0x1p-126)), y + V(0x1p-126), y);
}
// For y >= 2^-126, where float_grid changes nothing, with the window of the formula used.
template <class V>
TSE_HOST_DEVICE auto near_normal_float_midpoint(V y, uint64_t window) {
  return vnear_pattern(y, uint64_t{0x1fffffff}, uint64_t{0x10000000}, window);
}
template <class V>
TSE_HOST_DEVICE auto near_float_midpoint(V y) {
  return near_normal_float_midpoint(float_grid(y), kFloatWindow);
}

// h + l rounded to odd at h's precision, for h = h + l rounded and |l| small beside ulp(h):
// truncated toward zero, with the last bit set when anything was cut. A value rounded to odd
// with two or more bits to spare rounds to nearest as the exact value would, so one later
// conversion (to float, or to a 16-bit type through round_to_odd_float) is correctly rounded.
TSE_HOST_DEVICE double vround_to_odd(double h, double l) {
  if (l == 0) {
    return h;
  }
  uint64_t bits = double_bits(h);
  bits -= (bits ^ double_bits(l)) >> 63;  // l's sign is not h's: h is past the exact value
  return bits_double(bits | 1u);
}

TSE_HOST_DEVICE float vround_to_odd(float h, float l) {
  if (l == 0) {
    return h;
  }
  uint32_t bits = float_bits(h);
  bits -= (bits ^ float_bits(l)) >> 31;
  return bits_float(bits | 1u);
}

// d rounded to odd at float precision (NaN and infinities as they convert).
TSE_HOST_DEVICE float round_to_odd_float(double d) {
  const float f = static_cast<float>(d);
  const double rest = d - static_cast<double>(f);  // exact
  if (rest == 0 || f != f || vabs(f) > 3.4028234663852886e38f) {
    return f;
  }
  uint32_t bits = float_bits(f);
  bits -= static_cast<uint32_t>((double_bits(rest) >> 63) ^ (bits >> 31));
  return bits_float(bits | 1u);
}

// Double-double values hi + lo (|lo| <= ulp(hi) / 2), for the exact paths.
struct DoubleDouble {
  double hi, lo;
};
TSE_HOST_DEVICE DoubleDouble two_sum(double a, double b) {
  const double s = a + b;
  const double bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}
TSE_HOST_DEVICE DoubleDouble fast_two_sum(double a, double b) {  // |a| >= |b|
  const double s = a + b;
  return {s, b - (s - a)};
}
TSE_HOST_DEVICE DoubleDouble two_prod(double a, double b) {
  const double p = a * b;
  return {p, fma(a, b, -p)};
}
TSE_HOST_DEVICE DoubleDouble dd_add(DoubleDouble a, DoubleDouble b) {
  DoubleDouble s = two_sum(a.hi, b.hi);
  const DoubleDouble t = two_sum(a.lo, b.lo);
  s = fast_two_sum(s.hi, s.lo + t.hi);
  return fast_two_sum(s.hi, s.lo + t.lo);
}
TSE_HOST_DEVICE DoubleDouble dd_mul(DoubleDouble a, DoubleDouble b) {
  const DoubleDouble p = two_prod(a.hi, b.hi);
  return fast_two_sum(p.hi, p.lo + (a.hi * b.lo + a.lo * b.hi));
}
TSE_HOST_DEVICE DoubleDouble dd_div(DoubleDouble a, double n) {
  const double q = a.hi / n;
  const double rest = fma(-q, n, a.hi);  // exact
  return fast_two_sum(q, (rest + a.lo) / n);
}

// e^-x as a double-double, within 2^-100 relative, for |x| <= 150: e^-x = 2^k e^r with
// r = -x - k ln2 (ln2 in two parts, k ln2's product exact) and e^r by its Taylor series, which
// for |r| <= ln2/2 reaches 2^-103 at 24 terms.
TSE_HOST_DEVICE DoubleDouble exp_neg_dd(double x) {
  constexpr double kLn2Hi = 0x1.62e42fefa39efp-1;
  constexpr double kLn2Lo = 0x1.abc9e3b39803fp-56;
  const double k = rint(-x * 1.4426950408889634);
  const DoubleDouble kl = two_prod(k, kLn2Hi);
  DoubleDouble r = two_sum(-x, -kl.hi);
  r = fast_two_sum(r.hi, r.lo - kl.lo - k * kLn2Lo);
  DoubleDouble p{1.0, 0.0};
  for (int n = 24; n >= 1; --n) {
    p = dd_add({1.0, 0.0}, dd_div(dd_mul(r, p), n));
  }
  const int e = static_cast<int>(k);
  return {ldexp(p.hi, e), ldexp(p.lo, e)};
}

// The float nearest sigmoid(x) for an x whose double approximation y lies close to a float
// midpoint m (near_float_midpoint): sigmoid(x) > m exactly when 1 - m (1 + e^-x) > 0, which
// double-double arithmetic decides (sigmoid(x) is transcendental for x != 0, never a midpoint;
// the closest float input, x = -2^-24, is 2^-76.6 away). Then a double just past m on that side
// converts to the right float.
TSE_HOST_DEVICE float sigmoid_settle(float x) {
  const double y = sigmoid_formula<F64Consts>(static_cast<double>(x));
  const double shift = y < 0x1p-126 ? 0x1p-126 : 0.0;
  const uint64_t above = (double_bits(y + shift) & ~uint64_t{0x1fffffff}) | 0x10000000u;
  const double m = bits_double(above) - shift;  // exact
  const DoubleDouble md = dd_mul({m, 0.0}, dd_add({1.0, 0.0}, exp_neg_dd(x)));
  const double side = dd_add({1.0, 0.0}, {-md.hi, -md.lo}).hi;
  const uint64_t mb = double_bits(m);
  return static_cast<float>(bits_double(side > 0 ? mb + 1 : side < 0 ? mb - 1 : mb));
}

// sigmoid(x) correctly rounded to float, for every float x: in double (sigmoid_formula), which
// rounds to the right float unless near a midpoint; those few settled exactly.
TSE_HOST_DEVICE float sigmoid_correct(float x) {
  const double y = sigmoid_formula<F64Consts>(static_cast<double>(x));
  return near_float_midpoint(y) ? sigmoid_settle(x) : static_cast<float>(y);
}

// For a 16-bit result: a float that rounds (to nearest even) to the correctly rounded 16-bit
// sigmoid(x): r = sigmoid_half_formula(x) where that is not near a 16-bit midpoint, else the
// double formula's value rounded to odd (a double-accurate value rounded once gives every
// 16-bit result correctly: tests/test_rounding.py checks all of them).
TSE_HOST_DEVICE float sigmoid_half_settle(float x) {
  return round_to_odd_float(sigmoid_formula<F64Consts>(static_cast<double>(x)));
}
template <class Grid>
TSE_HOST_DEVICE float sigmoid_half_correct(float x) {
  const float r = sigmoid_half_formula(x);
  return near_half_midpoint<Grid>(r, kHalfForwardWindow) ? sigmoid_half_settle(x) : r;
}

// g y (1 - y) for float g and y, |y| < 2^53, g finite, rounded to odd at double precision. In
// double g y is exact, and so is 1 - y, but for |y| < 2^-29, where its rounding error b_lo is
// exact instead (|1| >= |y|; elsewhere b_lo is 0); p (b + b_lo) comes out as h + l, and its
// zero has the sign of g (1 - y) y. V is double or a vector of doubles.
template <class V>
TSE_HOST_DEVICE V sigmoid_backward_odd(V g, V y) {
  const V one(1.0);
  const V p = g * y;
  const V b = one - y;
  const V b_lo = (one - b) - y;
  const V h = p * b;
  const V l = vfma(p, b_lo, vfma(p, b, V(0.0) - h));
  return vround_to_odd(h, l);
}

// The float32 backward by default: g y (1 - y) within 1 ULP, in float, for |y| <= 1 and finite
// g. b = 1 - y rounded and its exact error b_lo (|1| >= |y|), t = y b rounded and its exact
// remainder: y (1 - y) = t + lo with lo to float precision, and g (t + lo) rounds once, the
// error of g lo aside (2^-24 of a term 2^-24 of the result). With |y| <= 1, 1 - y >= +0, so the
// result has g y's sign, a zero result too.
template <class V>
TSE_HOST_DEVICE V sigmoid_backward_float_formula(V g, V y) {
  const V one(1.0f);
  const V b = one - y;
  const V b_lo = (one - b) - y;
  const V t = y * b;
  const V lo = vfma(y, b_lo, vfma(y, b, V(0.0f) - t));
  return vcopysign(vfma(g, t, g * lo), g * y);
}

// Whether a float32 backward lane is outside sigmoid_backward_float_formula's range.
template <class V>
TSE_HOST_DEVICE auto float_backward_outside(V g, V y) {
  return vabs_above(y, kBitsOne) | vabs_above(g, kBitsMaxFloat);
}

// sigmoid_backward(g, y) rounded to odd at double precision, for every float g and y: convert
// to float for the float result, or round_to_odd_float for a 16-bit one. |y| >= 2^53:
// g y (1 - y) = p - p y with p = g y, p y exact as a double-double (c), and p - c summed
// exactly. Non-finite inputs: the float formula, as torch computes it.
TSE_HOST_DEVICE double sigmoid_backward_correct(float gf, float yf) {
  const double g = gf;
  const double y = yf;
  constexpr double kMax = 3.4028234663852886e38;
  if (vabs(y) < 0x1p53 && vabs(g) <= kMax) {
    return sigmoid_backward_odd(g, y);
  }
  if (vabs(y) <= kMax && vabs(g) <= kMax) {
    const double p = g * y;
    if (p == 0) {
      return p * (1.0 - y);  // the sign of g (1 - y) y
    }
    const DoubleDouble c = two_prod(p, y);
    const DoubleDouble t = two_sum(p, -c.lo);
    const DoubleDouble u = two_sum(-c.hi, t.hi);
    return vround_to_odd(u.hi, u.lo + t.lo);
  }
  return static_cast<double>(sigmoid_backward_formula<F32Consts>(gf, yf));
}

// The 16-bit backward in float. p = g y is exact (at most 22 significant bits) where it is
// normal, and r = p - p y, one fused multiply-add, is the exact value R rounded once to float.
// Rounding r to 16 bits then rounds twice, which goes wrong only where r is exactly a 16-bit
// midpoint but R is not. There, for |y| <= 1, p - r is exact, so e = p - r - p y has R - r's
// sign, and r rounded to odd with it rounds as R does; elsewhere that step cannot change the
// 16-bit result (an odd float is no midpoint). The result: a float that rounds to nearest even
// to the correctly rounded 16-bit value, with p's sign (1 - y >= +0), a zero result's too.
// (The AVX-512 and AVX2 overloads round differently.)
template <class V>
TSE_HOST_DEVICE V half_backward_formula(V p, V y) {
  const V minus_p = V(0.0f) - p;
  const V r = vfma(minus_p, y, p);
  return vcopysign(vround_to_odd(r, vfma(minus_p, y, p - r)), p);
}
// The lanes half_backward_formula does not cover: |y| > 1 or NaN, a non-finite result and
// (bfloat16, whose range is float's) an r or y small enough that p or e (about p y) may have
// underflowed: both at least 2^-60 leaves p y above 2^-121.
template <class Grid, class V>
TSE_HOST_DEVICE auto half_backward_unsafe(V y, V /*p*/, V r) {
  const auto outside = vabs_above(y, kBitsOne) | vabs_above(r, kBitsMaxFloat);
  if constexpr (Grid::kProductMayUnderflow) {
    return outside | vabs_below_nonzero(vmin(vabs(r), vabs(y)), 0x21800000u);  // 2^-60
  } else {
    return outside;
  }
}

// The float32 backward by default, for every float g and y: within 1 ULP.
TSE_HOST_DEVICE float sigmoid_backward_faithful(float g, float y) {
  return float_backward_outside(g, y) ? static_cast<float>(sigmoid_backward_correct(g, y))
                                      : sigmoid_backward_float_formula(g, y);
}

// The 16-bit backward: a float that rounds (to nearest even) to the correctly rounded result.
template <class Grid>
TSE_HOST_DEVICE float sigmoid_backward_half_correct(float g, float y) {
  const float p = g * y;
  const float r = half_backward_formula(p, y);
  return vmask_bits(half_backward_unsafe<Grid>(y, p, r))
             ? round_to_odd_float(sigmoid_backward_correct(g, y))
             : r;
}

}  // namespace
}  // namespace torch_sigmoid_ext
