// What the CUDA kernels compute per element, for the real dtypes: the scalar functions of
// sigmoid_math.h, as the CPU's generic variant composes them. Host-and-device, so that
// tests/test_device_formulas.py compiles this header for the host and compares its bits with
// the CPU kernels' on machines without a GPU.
#pragma once

#include <cstdint>

#include "../sigmoid_math.h"

namespace torch_sigmoid_ext {
namespace {

// 16-bit types travel as raw bits (uint16_t) and compute in float32, as the CPU loops do. Each
// element runs the scalar functions of sigmoid_math.h that the CPU's generic variant runs.

struct Float32Op {
  using S = float;
  TSE_HOST_DEVICE static S forward(S x) { return sigmoid_formula<F32Consts>(x); }
  TSE_HOST_DEVICE static S backward(S g, S y) { return sigmoid_backward_faithful(g, y); }
};

// rounding="correct": both directions correctly rounded.
struct Float32CorrectOp {
  using S = float;
  TSE_HOST_DEVICE static S forward(S x) { return sigmoid_correct(x); }
  TSE_HOST_DEVICE static S backward(S g, S y) {
    return static_cast<float>(sigmoid_backward_correct(g, y));
  }
};

struct Float64Op {
  using S = double;
  TSE_HOST_DEVICE static S forward(S x) { return sigmoid_formula<F64Consts>(x); }
  TSE_HOST_DEVICE static S backward(S g, S y) { return sigmoid_backward_formula<F64Consts>(g, y); }
};

// 16-bit results are correctly rounded in both modes: the functions return a float that rounds
// to the right 16-bit value.
struct Float16Op {
  using S = uint16_t;
  TSE_HOST_DEVICE static S forward(S x) {
    return f32_to_f16(sigmoid_half_correct<Float16Grid>(f16_to_f32(x)));
  }
  TSE_HOST_DEVICE static S backward(S g, S y) {
    return f32_to_f16(sigmoid_backward_half_correct<Float16Grid>(f16_to_f32(g), f16_to_f32(y)));
  }
};

struct BFloat16Op {
  using S = uint16_t;
  TSE_HOST_DEVICE static S forward(S x) {
    return f32_to_bf16(sigmoid_half_correct<BFloat16Grid>(bf16_to_f32(x)));
  }
  TSE_HOST_DEVICE static S backward(S g, S y) {
    return f32_to_bf16(
        sigmoid_backward_half_correct<BFloat16Grid>(bf16_to_f32(g), bf16_to_f32(y)));
  }
};

}  // namespace
}  // namespace torch_sigmoid_ext
