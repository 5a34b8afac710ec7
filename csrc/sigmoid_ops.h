// The device-independent half of every op: argument checks, result dtype, output allocation,
// out=/in-place rules and layout. Each device file supplies only a flat elementwise kernel, so
// the CPU and CUDA ops cannot disagree on what they accept or what they return. Every tensor
// that gets here is strided: sparse, quantized, nested and MKL-DNN tensors dispatch to the
// refusals in torch_sigmoid_ext/_unsupported.py instead.
#pragma once

#include <torch/csrc/stable/library.h>
#include <torch/csrc/stable/tensor.h>

#include <stdexcept>
#include <string>

namespace torch_sigmoid_ext {

using torch::stable::Tensor;

// How float32 results are rounded, for the whole process (torch_sigmoid_ext.set_rounding):
// kDefault is within 1.66 ULP for the forward and 1 ULP for the backward; kCorrect rounds both
// correctly, for every input. The other dtypes are the same in both: 16-bit results are always
// correctly rounded, float64 keeps its kernel. Kernels read it at each call.
enum class Rounding : int { kDefault = 0, kCorrect = 1 };
Rounding rounding();
void set_rounding(Rounding mode);
// complex64 has no correctly rounded formula: with rounding="correct" its ops refuse (called
// with the argument checks, before anything is written).
void check_complex_rounding(const char* op);

// Throws unless a C shim call succeeded. Our own because torch's macro for this changed names
// (TORCH_ERROR_CODE_CHECK in torch 2.10, STABLE_TORCH_ERROR_CODE_CHECK later), and these
// sources compile against every torch from the target on.
inline void check_shim(AOTITorchError error, const char* call) {
  if (error != AOTI_TORCH_SUCCESS) {
    throw std::runtime_error(std::string("torch_sigmoid_ext: torch's ") + call + " failed");
  }
}

// Writes sigmoid(input) into out. Both have the same sizes, strides, dtype (floating or
// complex) and device, and each covers one dense block of numel() elements starting at
// data_ptr(), so element i of one sits at element i of the other: one flat loop does it all.
// out is input, or does not overlap it.
using ForwardKernel = void (*)(const Tensor& out, const Tensor& input);
// Writes grad_output * output * (1 - output) (conjugated for complex) into grad_input, under
// the same conditions.
using BackwardKernel = void (*)(const Tensor& grad_input, const Tensor& grad_output,
                                const Tensor& output);

Tensor sigmoid_with(ForwardKernel kernel, const Tensor& input);
void sigmoid_inplace_with(ForwardKernel kernel, const Tensor& input);
void sigmoid_out_with(ForwardKernel kernel, const Tensor& input, const Tensor& out);
Tensor sigmoid_backward_with(BackwardKernel kernel, const Tensor& grad_output,
                             const Tensor& output);

// The registered functions of one device, the same for every device but for its two kernels.
// A device file registers them all with
//   DeviceOps<&sigmoid_kernel, &sigmoid_backward_kernel>::impl_all(m);
template <ForwardKernel kernel, BackwardKernel backward_kernel>
struct DeviceOps {
  static Tensor sigmoid(Tensor input) { return sigmoid_with(kernel, input); }
  static void sigmoid_(Tensor input) { sigmoid_inplace_with(kernel, input); }
  static void sigmoid_out(Tensor input, Tensor out) { sigmoid_out_with(kernel, input, out); }
  static Tensor sigmoid_backward(Tensor grad_output, Tensor output) {
    return sigmoid_backward_with(backward_kernel, grad_output, output);
  }
  // The library's type is a parameter: torch has moved and renamed it between versions.
  template <typename Library>
  static void impl_all(Library& m) {
    m.impl("sigmoid", TORCH_BOX(&sigmoid));
    m.impl("sigmoid_", TORCH_BOX(&sigmoid_));
    m.impl("sigmoid.out", TORCH_BOX(&sigmoid_out));
    m.impl("sigmoid_backward", TORCH_BOX(&sigmoid_backward));
  }
};

}  // namespace torch_sigmoid_ext
