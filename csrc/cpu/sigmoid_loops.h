// The elementwise loops, written once over an ISA's vector types. Each variant file
// (sigmoid_kernel_<isa>.cpp) defines its vector types and instantiates these templates.
//
// Contiguous runs take the vector path; the tail and strided runs take the scalar path. Both run
// the same formula from sigmoid_math.h, so they give the same bits.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "../sigmoid_math.h"
#include "sigmoid_kernel.h"

namespace torch_sigmoid_ext {
namespace cpu {
namespace {

// Enables a member template for vector types only: the generic variant's vector types are
// float and double themselves, where the scalar overload serves.
template <class T>
using IfVector = std::enable_if_t<!std::is_arithmetic<T>::value, int>;

// Two vectors as one value: the formulas run on it op by op, one op on both halves before the
// next, so that the two dependency chains interleave in the instruction stream. (Written one
// vector after the other, the out-of-order window sees less of the second.)
template <class V>
struct Pair {
  V a, b;
  Pair() = default;
  Pair(V x, V y) : a(x), b(y) {}
  template <class S, class = std::enable_if_t<std::is_arithmetic<S>::value>>
  Pair(S s) : a(s), b(s) {}
};
template <class V> inline Pair<V> operator+(Pair<V> x, Pair<V> y) { return {x.a + y.a, x.b + y.b}; }
template <class V> inline Pair<V> operator-(Pair<V> x, Pair<V> y) { return {x.a - y.a, x.b - y.b}; }
template <class V> inline Pair<V> operator*(Pair<V> x, Pair<V> y) { return {x.a * y.a, x.b * y.b}; }
template <class V> inline Pair<V> operator/(Pair<V> x, Pair<V> y) { return {x.a / y.a, x.b / y.b}; }
template <class V>
inline Pair<V> vfma(Pair<V> x, Pair<V> y, Pair<V> z) {
  return {vfma(x.a, y.a, z.a), vfma(x.b, y.b, z.b)};
}
template <class V>
inline Pair<V> vexponent_from_shifted(Pair<V> t) {
  return {vexponent_from_shifted(t.a), vexponent_from_shifted(t.b)};
}
template <class V>
inline Pair<V> vadd_exponent(Pair<V> q, Pair<V> e) {
  return {vadd_exponent(q.a, e.a), vadd_exponent(q.b, e.b)};
}

// The loops' unit is two vectors. By default they are loaded, computed and stored one by one;
// an Io can override load2, store2 and backward2_raw to work on both at once (the avx512_bf16
// variant's bfloat16 does), as long as lane i of the pair still ends up as element i.
//
// Where an Io rounds correctly, a few lanes need an exact path after the formula. The loops'
// hot step computes a pair without it (forward2_raw, backward2_raw from each vector's
// backward_raw, or forward_fast and unsettled2) and learns whether any lane needs it; such
// pairs are settled by forward2_settled (from the inputs and that result) and backward2 (again
// from the inputs) once the block is done (see Unsettled).
template <class Io, class S, class V, int W>
struct TwoVectors {
  static Pair<V> load2(const S* p) { return {Io::load(p), Io::load(p + W)}; }
  static void store2(S* p, Pair<V> v) {
    Io::store(p, v.a);
    Io::store(p + W, v.b);
  }
  static Pair<V> backward2(Pair<V> g, Pair<V> y) {
    return {Io::backward(g.a, y.a), Io::backward(g.b, y.b)};
  }
  // The forward's last step on a vector r = forward(x), and on a pair: where an Io settles the
  // lanes that need it (correct rounding), here nothing.
  static V finish(V, V r) { return r; }
  static Pair<V> finish2(Pair<V>, Pair<V> r) { return r; }
  // Whether finish2 would change a lane of r (from forward or forward_fast).
  static bool unsettled2(Pair<V>, Pair<V>) { return false; }
  static Pair<V> forward2_raw(Pair<V> x, bool& unsettled) {
    const Pair<V> r(Io::forward(x.a), Io::forward(x.b));
    unsettled = Io::unsettled2(x, r);
    return r;
  }
  static Pair<V> forward2_settled(Pair<V> x, Pair<V> r) { return Io::finish2(x, r); }
  // The backward without its settling step, and the lanes that need it (none by default).
  static V backward_raw(V g, V y, unsigned& lanes) {
    lanes = 0;
    return Io::backward(g, y);
  }
  static Pair<V> backward2_raw(Pair<V> g, Pair<V> y, bool& unsettled) {
    unsigned la, lb;
    const Pair<V> r(Io::backward_raw(g.a, y.a, la), Io::backward_raw(g.b, y.b, lb));
    unsettled = (la | lb) != 0;
    return r;
  }
};

// The pairs of a block whose lanes need the exact path: their offsets and inputs (and the
// forward's result), saved because an in-place call overwrites them. The hot loop only records
// them, so that it makes no call: a call clobbers every vector register, and the loop would
// then reload its constants and spill its values on every step. A block is at most kCapacity
// pairs.
template <class V>
struct Unsettled {
  static constexpr int kCapacity = 64;
  int count = 0;
  int64_t at[kCapacity];
  Pair<V> in[kCapacity][2];
  void add(int64_t i, Pair<V> a, Pair<V> b) {
    at[count] = i;
    in[count][0] = a;
    in[count][1] = b;
    ++count;
  }
};

// Has<T, Member>::value: whether Member<T> names something, here a member function of T that
// a Vec or an Io may define (C++17's detection idiom: torch 2.10 builds with -std=c++17).
template <class T, template <class> class Member, class = void>
struct Has : std::false_type {};
template <class T, template <class> class Member>
struct Has<T, Member, std::void_t<Member<T>>> : std::true_type {};
template <class T>
using Store2Fast = decltype(&T::store2_fast);
template <class T>
using NarrowOdd = decltype(&T::narrow_odd);
template <class T>
using SigmoidMid = decltype(&T::sigmoid_mid);
template <class T>
using BackwardOdd = decltype(&T::backward_odd);

// The hot loops' store, of forward_fast's results and backward2_raw's: an Io whose store2
// checks for rare values can define store2_fast to leave that check to backward2_raw's flags,
// where they imply it. (Not a TwoVectors default, which would call its Io's store2, not that of
// an Io derived from it, such as StreamingIo.)
template <class Io, class S, class V>
void store2_fast(S* p, Pair<V> v) {
  if constexpr (Has<Io, Store2Fast>::value) {
    Io::store2_fast(p, v);
  } else {
    Io::store2(p, v);
  }
}

// Stores each noted pair settled: forward2_settled(x, r) for the forward, backward2(g, y) for
// the backward.
template <class Io, bool kForward>
[[gnu::noinline, gnu::cold]] void settle_noted(typename Io::Storage* out,
                                               Unsettled<typename Io::V>& u) {
  for (int k = 0; k < u.count; ++k) {
    const Pair<typename Io::V>* in = u.in[k];
    if constexpr (kForward) {
      Io::store2(out + u.at[k], Io::forward2_settled(in[0], in[1]));
    } else {
      Io::store2(out + u.at[k], Io::backward2(in[0], in[1]));
    }
  }
  u.count = 0;
}

// r[i] = exact(a[i], b[i]) for the lanes set in `lanes`: out of line and marked cold, so that
// the loops keep their registers (a call clobbers every vector register) and their branch
// layout for the common case, where no lane needs it.
template <class F>
[[gnu::noinline, gnu::cold]] void settle_cold(const float* a, const float* b, float* r,
                                              unsigned lanes, F exact) {
  for (; lanes != 0; lanes &= lanes - 1) {
    const int i = __builtin_ctz(lanes);
    r[i] = exact(a[i], b[i]);
  }
}

// r with the lanes set in `lanes` replaced by exact(a[i], b[i]): the vector loops' way to
// settle the rare lanes that the fast formula cannot round correctly. The lanes of a, b and r
// correspond, whatever order a load put them in.
template <class Vec, class V, class F>
V settle_lanes(V a, V b, V r, unsigned lanes, F exact) {
  constexpr int W = Vec::kWidthF;
  alignas(64) float av[W];
  alignas(64) float bv[W];
  alignas(64) float rv[W];
  Vec::store_f32(av, a);
  Vec::store_f32(bv, b);
  Vec::store_f32(rv, r);
  settle_cold(av, bv, rv, lanes, exact);
  return Vec::load_f32(rv);
}

// The vector loops' fast path: fast_range says whether every lane of a pair of vectors is in
// forward_fast's range, |x| <= bound, where forward_fast gives forward's result for less (for
// the 16-bit types, a float that rounds to the same 16-bit value once settled); fast_range4
// says it for two pairs (used where Vec::kQuads), on the bits (vall_abs_le). NaN is never in
// range. float32 and float64: |x| <= C::kExactX and sigmoid_formula_mid; float16 and
// bfloat16: the same range and the cheaper sigmoid_half_formula_mid.
template <class V, class Traits>
struct FastPath {
  static bool fast_range(Pair<V> x) {
    const V bound(Traits::kBound);
    return vall_le(vabs(x.a), bound) & vall_le(vabs(x.b), bound);
  }
  static bool fast_range4(Pair<V> v, Pair<V> w) {
    return vall_abs_le(v.a, v.b, w.a, w.b, V(Traits::kBound));
  }
  template <class T>
  static T forward_fast(T x) {
    return Traits::formula(x);
  }
};

template <class C>
struct ExactRange {
  static constexpr auto kBound = C::kExactX;
  template <class T>
  static T formula(T x) {
    return sigmoid_formula_mid<C>(x);
  }
};

struct HalfRange {
  static constexpr float kBound = F32Consts::kExactX;
  template <class T>
  static T formula(T x) {
    return sigmoid_half_formula_mid(x);
  }
};

// How a storage type is loaded into, computed in and stored from registers. `Vec` provides
// the vector types: VF (float lanes), VD (double lanes), their widths and the conversions.
// Self, where given, is an Io derived from this one (Float32CorrectIo), whose functions
// TwoVectors' defaults must then call.
template <class Vec, class Self = void>
struct Float32Io
    : TwoVectors<std::conditional_t<std::is_void_v<Self>, Float32Io<Vec>, Self>, float,
                 typename Vec::VF, Vec::kWidthF>,
      FastPath<typename Vec::VF, ExactRange<F32Consts>> {
  using VecType = Vec;
  using Storage = float;
  using Consts = F32Consts;
  using V = typename Vec::VF;
  static constexpr int kWidth = Vec::kWidthF;
  static V load(const float* p) { return Vec::load_f32(p); }
  static void store(float* p, V v) { Vec::store_f32(p, v); }
  static float widen(float s) { return s; }
  static float narrow(float s) { return s; }
  template <class T>
  static T forward(T x) { return sigmoid_formula<F32Consts>(x); }
  // The backward within 1 ULP (sigmoid_backward_float_formula); lanes outside its range take
  // the correctly rounded scalar path.
  static float backward(float g, float y) { return sigmoid_backward_faithful(g, y); }
  template <class T = V, IfVector<T> = 0>
  static V backward_raw(V g, V y, unsigned& lanes) {
    lanes = vmask_bits(float_backward_outside(g, y));
    return sigmoid_backward_float_formula(g, y);
  }
  template <class T = V, IfVector<T> = 0>
  static V backward(V g, V y) {
    unsigned lanes;
    const V r = backward_raw(g, y, lanes);
    if (__builtin_expect(lanes == 0, 1)) {
      return r;
    }
    return settle_lanes<Vec>(g, y, r, lanes, [](float gi, float yi) {
      return static_cast<float>(sigmoid_backward_correct(gi, yi));
    });
  }
};

// float32 with rounding="correct": sigmoid_correct, in double lanes (sigmoid_formula, the
// float64 kernel's, or for |x| <= 35 the Vec's sigmoid_mid where it has one), each lane near a
// float midpoint settled by sigmoid_settle.
template <class Vec>
struct Float32CorrectIo : Float32Io<Vec, Float32CorrectIo<Vec>> {
  using V = typename Vec::VF;
  using VD = typename Vec::VD;
  static bool fast_range(Pair<V>) { return false; }
  static bool fast_range4(Pair<V>, Pair<V>) { return false; }
  static float forward(float x) { return sigmoid_correct(x); }
  // The backward correctly rounded: sigmoid_backward_odd in double lanes (or the Vec's
  // backward_odd, for finite g and y), then one conversion; lanes with |y| >= 2^53 (the Vec's:
  // none) or a non-finite input take the scalar path.
  static float backward(float g, float y) {
    return static_cast<float>(sigmoid_backward_correct(g, y));
  }
  template <class T = V, IfVector<T> = 0>
  static V backward(V g, V y) {
    unsigned lanes;
    const V r = backward_raw(g, y, lanes);
    if (__builtin_expect(lanes == 0, 1)) {
      return r;
    }
    return settle_lanes<Vec>(g, y, r, lanes, [](float gi, float yi) { return backward(gi, yi); });
  }
  // forward settles its own lanes (their test needs the double lanes).
  static Pair<V> forward2_settled(Pair<V> x, Pair<V>) { return {forward(x.a), forward(x.b)}; }
  template <class T = V, IfVector<T> = 0>
  static V backward_raw(V g, V y, unsigned& lanes) {
    VD g0, g1, y0, y1;
    Vec::widen(g, g0, g1);
    Vec::widen(y, y0, y1);
    if constexpr (Has<Vec, BackwardOdd>::value) {
      lanes = vmask_bits(vabs_above(y, kBitsMaxFloat) | vabs_above(g, kBitsMaxFloat));
      return Vec::narrow(Vec::backward_odd(g0, y0), Vec::backward_odd(g1, y1));
    } else {
      lanes = vmask_bits(vabs_above(y, 0x59ffffffu) | vabs_above(g, kBitsMaxFloat));  // 2^53
      return Vec::narrow(sigmoid_backward_odd(g0, y0), sigmoid_backward_odd(g1, y1));
    }
  }
  // The double result and the lanes near a float midpoint. Where every |x| <= 35, results are
  // normal floats (>= 2^-51), so the test needs no float_grid, and a Vec may bring its own
  // formula for that range (sigmoid_mid, AVX-512's), with the window its error needs.
  template <class T = V, IfVector<T> = 0>
  static V forward_raw(V x, unsigned& lanes) {
    constexpr int kW = Vec::kWidthD;
    VD x0, x1;
    Vec::widen(x, x0, x1);
    VD y0, y1;
    if (vall_le(vabs(x), V(static_cast<float>(F64Consts::kExactX)))) {
      uint64_t window = kFloatWindow;
      if constexpr (Has<Vec, SigmoidMid>::value) {
        y0 = Vec::sigmoid_mid(x0);
        y1 = Vec::sigmoid_mid(x1);
        window = Vec::kMidWindow;
      } else {
        y0 = sigmoid_formula_mid<F64Consts>(x0);
        y1 = sigmoid_formula_mid<F64Consts>(x1);
      }
      lanes = vmask_bits(near_normal_float_midpoint(y0, window)) |
              (vmask_bits(near_normal_float_midpoint(y1, window)) << kW);
    } else {
      y0 = sigmoid_formula<F64Consts>(x0);
      y1 = sigmoid_formula<F64Consts>(x1);
      lanes = vmask_bits(near_float_midpoint(y0)) | (vmask_bits(near_float_midpoint(y1)) << kW);
    }
    return Vec::narrow(y0, y1);
  }
  template <class T = V, IfVector<T> = 0>
  static V forward(V x) {
    unsigned lanes;
    const V r = forward_raw(x, lanes);
    if (__builtin_expect(lanes == 0, 1)) {
      return r;
    }
    return settle_lanes<Vec>(x, x, r, lanes, [](float xi, float) { return sigmoid_settle(xi); });
  }
  template <class T = V, IfVector<T> = 0>
  static Pair<V> forward2_raw(Pair<V> x, bool& unsettled) {
    unsigned la, lb;
    const Pair<V> r(forward_raw(x.a, la), forward_raw(x.b, lb));
    unsettled = (la | lb) != 0;
    return r;
  }
};

template <class Vec>
struct Float64Io : TwoVectors<Float64Io<Vec>, double, typename Vec::VD, Vec::kWidthD>,
                   FastPath<typename Vec::VD, ExactRange<F64Consts>> {
  using VecType = Vec;
  using Storage = double;
  using Consts = F64Consts;
  using V = typename Vec::VD;
  static constexpr int kWidth = Vec::kWidthD;
  static V load(const double* p) { return Vec::load_f64(p); }
  static void store(double* p, V v) { Vec::store_f64(p, v); }
  static double widen(double s) { return s; }
  static double narrow(double s) { return s; }
  template <class T>
  static T forward(T x) { return sigmoid_formula<F64Consts>(x); }
  template <class T>
  static T backward(T g, T y) { return sigmoid_backward_formula<F64Consts>(g, y); }
};

// What the 16-bit types share (Io is the type itself): they compute in float32 (with the
// cheaper formula their precision allows) and round once on the way out, correctly: the lanes
// near a 16-bit midpoint are settled (sigmoid_half_correct, sigmoid_backward_half_correct).
template <class Io, class Vec, class Grid>
struct HalfRounding : TwoVectors<Io, uint16_t, typename Vec::VF, Vec::kWidthF> {
  using V = typename Vec::VF;
  static float forward(float x) { return sigmoid_half_correct<Grid>(x); }
  template <class T>
  static T forward(T x) { return sigmoid_half_formula(x); }
  static V settle(V x, V r) {
    const auto near = near_half_midpoint<Grid>(r, kHalfForwardWindow);
    if constexpr (Has<Vec, NarrowOdd>::value) {
      // sigmoid_half_settle on every lane, in double lanes: less than one lane's scalar path.
      // (sigmoid_formula_mid gives sigmoid_formula's bits in its range.)
      using VD = typename Vec::VD;
      const auto formula = [](VD v) {
        return vall_le(vabs(v), VD(F64Consts::kExactX)) ? sigmoid_formula_mid<F64Consts>(v)
                                                        : sigmoid_formula<F64Consts>(v);
      };
      VD x0, x1;
      Vec::widen(x, x0, x1);
      return vselect(near, Vec::narrow_odd(formula(x0), formula(x1)), r);
    } else {
      return settle_lanes<Vec>(x, x, r, vmask_bits(near),
                               [](float xi, float) { return sigmoid_half_settle(xi); });
    }
  }
  static V finish(V x, V r) {
    if (__builtin_expect(vmask_bits(near_half_midpoint<Grid>(r, kHalfForwardWindow)) == 0, 1)) {
      return r;
    }
    return settle(x, r);
  }
  // One test for both vectors of a pair.
  static bool unsettled2(Pair<V>, Pair<V> r) {
    return vmask_bits(near_half_midpoint<Grid>(r.a, kHalfForwardWindow) |
                      near_half_midpoint<Grid>(r.b, kHalfForwardWindow)) != 0;
  }
  static Pair<V> finish2(Pair<V> x, Pair<V> r) { return {finish(x.a, r.a), finish(x.b, r.b)}; }
  static float backward(float g, float y) { return sigmoid_backward_half_correct<Grid>(g, y); }
  template <class T = V, IfVector<T> = 0>
  static V backward_raw(V g, V y, unsigned& lanes) {
    const V p = g * y;
    const V r = half_backward_formula(p, y);
    lanes = vmask_bits(half_backward_unsafe<Grid>(y, p, r));
    return r;
  }
  template <class T = V, IfVector<T> = 0>
  static V backward(V g, V y) {
    unsigned lanes;
    const V r = backward_raw(g, y, lanes);
    if (__builtin_expect(lanes == 0, 1)) {
      return r;
    }
    return settle_lanes<Vec>(g, y, r, lanes, [](float gi, float yi) {
      return round_to_odd_float(sigmoid_backward_correct(gi, yi));
    });
  }
};

template <class Vec>
struct Float16Io : HalfRounding<Float16Io<Vec>, Vec, Float16Grid>,
                   FastPath<typename Vec::VF, HalfRange> {
  using VecType = Vec;
  using Storage = uint16_t;
  using Consts = F32Consts;
  using V = typename Vec::VF;
  static constexpr int kWidth = Vec::kWidthF;
  static V load(const uint16_t* p) { return Vec::load_f16(p); }
  static void store(uint16_t* p, V v) { Vec::store_f16(p, v); }
  static float widen(uint16_t s) { return f16_to_f32(s); }
  static uint16_t narrow(float s) { return f32_to_f16(s); }
};

template <class Vec>
struct BFloat16Io : HalfRounding<BFloat16Io<Vec>, Vec, BFloat16Grid>,
                    FastPath<typename Vec::VF, HalfRange> {
  using VecType = Vec;
  using Storage = uint16_t;
  using Consts = F32Consts;
  using V = typename Vec::VF;
  static constexpr int kWidth = Vec::kWidthF;
  static V load(const uint16_t* p) { return Vec::load_bf16(p); }
  static void store(uint16_t* p, V v) { Vec::store_bf16(p, v); }
  static float widen(uint16_t s) { return bf16_to_f32(s); }
  static uint16_t narrow(float s) { return f32_to_bf16(s); }
};

template <class Io>
void forward_loop(char* out, const char* in, int64_t out_stride, int64_t in_stride,
                  int64_t n) {
  using S = typename Io::Storage;
  constexpr int W = Io::kWidth;
  if (out_stride == sizeof(S) && in_stride == sizeof(S)) {
    const S* x = reinterpret_cast<const S*>(in);
    S* y = reinterpret_cast<S*>(out);
    int64_t i = 0;
    if constexpr (W > 1) {
      using V = typename Io::V;
      Unsettled<V> unsettled;
      constexpr int64_t kBlock = Unsettled<V>::kCapacity * 2 * W;
      while (i + 2 * W <= n) {
        const int64_t block_end = i + std::min<int64_t>((n - i) / (2 * W) * (2 * W), kBlock);
        // Two vectors per step: the formula is a long dependency chain, two keep the FMA units
        // busy. When every lane is in forward_fast's range, which is nearly always, it gives
        // forward's result for less; one branch per step decides.
        if constexpr (Io::VecType::kQuads) {
          // Four vectors per step where there are registers for it (AVX-512's 32): one range
          // check for all four, and four chains interleaved.
          for (; i + 4 * W <= block_end; i += 4 * W) {
            const Pair<V> v = Io::load2(x + i);
            const Pair<V> w = Io::load2(x + i + 2 * W);
            Pair<V> ra, rb;
            bool ua, ub;
            if (__builtin_expect(Io::fast_range4(v, w), 1)) {
              const Pair<Pair<V>> r = Io::forward_fast(Pair<Pair<V>>(v, w));
              ra = r.a;
              rb = r.b;
              ua = Io::unsettled2(v, ra);
              ub = Io::unsettled2(w, rb);
              store2_fast<Io>(y + i, ra);
              store2_fast<Io>(y + i + 2 * W, rb);
            } else {
              ra = Io::forward2_raw(v, ua);
              rb = Io::forward2_raw(w, ub);
              Io::store2(y + i, ra);
              Io::store2(y + i + 2 * W, rb);
            }
            if (__builtin_expect(ua | ub, 0)) {
              if (ua) unsettled.add(i, v, ra);
              if (ub) unsettled.add(i + 2 * W, w, rb);
            }
          }
        }
        for (; i + 2 * W <= block_end; i += 2 * W) {
          const auto v = Io::load2(x + i);
          Pair<V> r;
          bool u;
          if (__builtin_expect(Io::fast_range(v), 1)) {
            r = Io::forward_fast(v);
            u = Io::unsettled2(v, r);
            store2_fast<Io>(y + i, r);
          } else {
            r = Io::forward2_raw(v, u);
            Io::store2(y + i, r);
          }
          if (__builtin_expect(u, 0)) {
            unsettled.add(i, v, r);
          }
        }
        if (unsettled.count != 0) {
          settle_noted<Io, true>(y, unsettled);
        }
      }
      for (; i + W <= n; i += W) {
        const auto v = Io::load(x + i);
        Io::store(y + i, Io::finish(v, Io::forward(v)));
      }
    }
    for (; i < n; ++i) {
      y[i] = Io::narrow(Io::forward(Io::widen(x[i])));
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const S s = *reinterpret_cast<const S*>(in + i * in_stride);
    *reinterpret_cast<S*>(out + i * out_stride) = Io::narrow(Io::forward(Io::widen(s)));
  }
}

template <class Io>
void backward_loop(char* out, const char* grad, const char* y, int64_t out_stride,
                   int64_t grad_stride, int64_t y_stride, int64_t n) {
  using S = typename Io::Storage;
  constexpr int W = Io::kWidth;
  if (out_stride == sizeof(S) && grad_stride == sizeof(S) && y_stride == sizeof(S)) {
    const S* g = reinterpret_cast<const S*>(grad);
    const S* yy = reinterpret_cast<const S*>(y);
    S* o = reinterpret_cast<S*>(out);
    int64_t i = 0;
    if constexpr (W > 1) {
      using V = typename Io::V;
      Unsettled<V> unsettled;
      constexpr int64_t kBlock = Unsettled<V>::kCapacity * 2 * W;
      while (i + 2 * W <= n) {
        const int64_t block_end = i + std::min<int64_t>((n - i) / (2 * W) * (2 * W), kBlock);
        for (; i < block_end; i += 2 * W) {
          const Pair<V> gv = Io::load2(g + i);
          const Pair<V> yv = Io::load2(yy + i);
          bool u;
          store2_fast<Io>(o + i, Io::backward2_raw(gv, yv, u));
          if (__builtin_expect(u, 0)) {
            unsettled.add(i, gv, yv);
          }
        }
        if (unsettled.count != 0) {
          settle_noted<Io, false>(o, unsettled);
        }
      }
      for (; i + W <= n; i += W) {
        Io::store(o + i, Io::backward(Io::load(g + i), Io::load(yy + i)));
      }
    }
    for (; i < n; ++i) {
      o[i] = Io::narrow(Io::backward(Io::widen(g[i]), Io::widen(yy[i])));
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const S gs = *reinterpret_cast<const S*>(grad + i * grad_stride);
    const S ys = *reinterpret_cast<const S*>(y + i * y_stride);
    *reinterpret_cast<S*>(out + i * out_stride) =
        Io::narrow(Io::backward(Io::widen(gs), Io::widen(ys)));
  }
}

// Streaming: the output goes out with non-temporal stores, which skip the read of each cache
// line that an ordinary store does first. For calls too large to stay in cache (see
// streaming_min_bytes) that read is pure cost. The Io's vector stores become Vec::stream;
// the elements before the output's first 64-byte boundary take the ordinary loop, and
// Vec::stream_fence orders the streaming stores before the loop returns, so that a thread
// joining ours sees them. float32 and float64 only: the 16-bit loops store conversions, and
// streaming those through a buffer lost to ordinary stores (docs/design.md).
template <class Base, class Vec>
struct StreamingIo : Base {
  using S = typename Base::Storage;
  using V = typename Base::V;
  static void store(S* p, V v) { Vec::stream(p, v); }
  static void store2(S* p, Pair<V> v) {
    Vec::stream(p, v.a);
    Vec::stream(p + Base::kWidth, v.b);
  }
};

// How many elements of out come before its first 64-byte boundary; -1 if its elements are not
// aligned to their size (then no streaming).
template <class S>
int64_t elements_before_line(const char* out, int64_t n) {
  const auto address = reinterpret_cast<uintptr_t>(out);
  const auto bytes = static_cast<int64_t>((64 - address % 64) % 64);
  if (bytes % static_cast<int64_t>(sizeof(S)) != 0) {
    return -1;
  }
  return std::min<int64_t>(bytes / static_cast<int64_t>(sizeof(S)), n);
}

template <class Io, class Vec>
void forward_loop_streaming(char* out, const char* in, int64_t out_stride, int64_t in_stride,
                            int64_t n) {
  using S = typename Io::Storage;
  constexpr int64_t size = sizeof(S);
  const int64_t head = elements_before_line<S>(out, n);
  if (out_stride != size || in_stride != size || head < 0) {
    forward_loop<Io>(out, in, out_stride, in_stride, n);
    return;
  }
  forward_loop<Io>(out, in, size, size, head);
  forward_loop<StreamingIo<Io, Vec>>(out + head * size, in + head * size, size, size, n - head);
  Vec::stream_fence();
}

template <class Io, class Vec>
void backward_loop_streaming(char* out, const char* grad, const char* y, int64_t out_stride,
                             int64_t grad_stride, int64_t y_stride, int64_t n) {
  using S = typename Io::Storage;
  constexpr int64_t size = sizeof(S);
  const int64_t head = elements_before_line<S>(out, n);
  if (out_stride != size || grad_stride != size || y_stride != size || head < 0) {
    backward_loop<Io>(out, grad, y, out_stride, grad_stride, y_stride, n);
    return;
  }
  backward_loop<Io>(out, grad, y, size, size, size, head);
  backward_loop<StreamingIo<Io, Vec>>(out + head * size, grad + head * size, y + head * size,
                                      size, size, size, n - head);
  Vec::stream_fence();
}

template <class Vec>
constexpr KernelTable make_kernel_table(const char* name) {
  constexpr UnaryLoop f32 = &forward_loop<Float32Io<Vec>>;
  constexpr UnaryLoop f64 = &forward_loop<Float64Io<Vec>>;
  constexpr UnaryLoop f16 = &forward_loop<Float16Io<Vec>>;
  constexpr UnaryLoop bf16 = &forward_loop<BFloat16Io<Vec>>;
  constexpr BinaryLoop b32 = &backward_loop<Float32Io<Vec>>;
  constexpr BinaryLoop b64 = &backward_loop<Float64Io<Vec>>;
  constexpr BinaryLoop b16 = &backward_loop<Float16Io<Vec>>;
  constexpr BinaryLoop bb16 = &backward_loop<BFloat16Io<Vec>>;
  constexpr UnaryLoop f32c = &forward_loop<Float32CorrectIo<Vec>>;
  constexpr BinaryLoop b32c = &backward_loop<Float32CorrectIo<Vec>>;
  if constexpr (Vec::kCanStream) {
    return KernelTable{name,
                       {f32, f64, f16, bf16},
                       {b32, b64, b16, bb16},
                       {&forward_loop_streaming<Float32Io<Vec>, Vec>,
                        &forward_loop_streaming<Float64Io<Vec>, Vec>, f16, bf16},
                       {&backward_loop_streaming<Float32Io<Vec>, Vec>,
                        &backward_loop_streaming<Float64Io<Vec>, Vec>, b16, bb16},
                       f32c,
                       &forward_loop_streaming<Float32CorrectIo<Vec>, Vec>,
                       b32c,
                       &backward_loop_streaming<Float32CorrectIo<Vec>, Vec>};
  } else {
    return KernelTable{name, {f32, f64, f16, bf16}, {b32, b64, b16, bb16},
                       {f32, f64, f16, bf16}, {b32, b64, b16, bb16}, f32c, f32c,
                       b32c, b32c};
  }
}

}  // namespace
}  // namespace cpu
}  // namespace torch_sigmoid_ext
