// The device-independent half of every op: argument checks, result dtype, output allocation and
// out=/in-place rules. Each device file supplies only the elementwise kernel, so the CPU and
// CUDA ops cannot disagree on what they accept or what they return. Every tensor that gets here
// is dense (strided): sparse, quantized, nested and MKL-DNN tensors dispatch to the refusals in
// sigmoid_unsupported.cpp instead.
#pragma once

#include <ATen/core/Tensor.h>

namespace torch_sigmoid_ext {

// Writes sigmoid(self) into out. out and self have the same shape, dtype (floating or complex)
// and device, and out is either self or does not overlap it.
using ForwardKernel = void (*)(const at::Tensor& out, const at::Tensor& self);
// Writes grad_output * output * (1 - output) (conjugated for complex) into out, under the same
// conditions.
using BackwardKernel = void (*)(const at::Tensor& out, const at::Tensor& grad_output,
                                const at::Tensor& output);

at::Tensor sigmoid_with(ForwardKernel kernel, const at::Tensor& self);
at::Tensor& sigmoid_inplace_with(ForwardKernel kernel, at::Tensor& self);
at::Tensor& sigmoid_out_with(ForwardKernel kernel, const at::Tensor& self, at::Tensor& out);
at::Tensor sigmoid_backward_with(BackwardKernel kernel, const at::Tensor& grad_output,
                                 const at::Tensor& output);

}  // namespace torch_sigmoid_ext
