// Autograd for the functional ops, sigmoid and sigmoid_backward, in C++: a call through the
// dispatcher (torch.ops.torch_sigmoid_ext.*, and torch_sigmoid_ext.sigmoid when a gradient is
// needed) then costs what a call to ATen's op does. Registered from Python with
// torch.library.register_autograd, each call paid 5 to 8 us more for the Python autograd layer:
// twice the whole backward op at 2^14 elements, and 40% more for a training step's forward and
// backward at 2^10. The in-place and out= ops keep their Python autograd kernels
// (torch_sigmoid_ext/autograd.py), which only check and forward.
//
//   y = sigmoid(x)                 dy/dx: grad -> sigmoid_backward(grad, y); only y is saved
//   sigmoid_backward(g, y) = g * y * (1 - y)          (conjugated for complex, as ATen)
//   d/dg = sigmoid_backward(grad, conj(y))
//   d/dy = conj(grad) * g * (1 - 2 conj(y))
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

namespace torch_sigmoid_ext {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

at::Tensor call_sigmoid_backward(const at::Tensor& grad_output, const at::Tensor& output) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_sigmoid_ext::sigmoid_backward", "")
                             .typed<at::Tensor(const at::Tensor&, const at::Tensor&)>();
  return op.call(grad_output, output);
}

at::Tensor call_sigmoid(const at::Tensor& input) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_sigmoid_ext::sigmoid", "")
                             .typed<at::Tensor(const at::Tensor&)>();
  return op.call(input);
}

class SigmoidFunction : public torch::autograd::Function<SigmoidFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input) {
    at::Tensor output;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      output = call_sigmoid(input);
    }
    ctx->save_for_backward({output});  // the output, never the input
    return output;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    if (!grads[0].defined()) return {at::Tensor()};
    return {call_sigmoid_backward(grads[0], saved[0])};  // differentiable: double backward
  }
};

at::Tensor sigmoid_autograd(const at::Tensor& input) {
  if (!at::GradMode::is_enabled() || !input.requires_grad()) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_sigmoid(input);
  }
  return SigmoidFunction::apply(input);
}

class SigmoidBackwardFunction : public torch::autograd::Function<SigmoidBackwardFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad_output,
                            const at::Tensor& output) {
    ctx->save_for_backward({grad_output, output});
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_sigmoid_backward(grad_output, output);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& grad_output = saved[0];
    const at::Tensor& output = saved[1];
    const at::Tensor& grad = grads[0];
    at::Tensor grad_grad_output, grad_output_grad;
    if (!grad.defined()) return {grad_grad_output, grad_output_grad};
    // Through the dispatcher, so that these are differentiable in turn.
    if (ctx->needs_input_grad(0)) {
      grad_grad_output = call_sigmoid_backward(grad, output.conj());
    }
    if (ctx->needs_input_grad(1)) {
      grad_output_grad = grad.conj().mul(grad_output).mul(output.conj().mul(-2).add_(1));
    }
    return {grad_grad_output, grad_output_grad};
  }
};

at::Tensor sigmoid_backward_autograd(const at::Tensor& grad_output, const at::Tensor& output) {
  if (!at::GradMode::is_enabled() || !(grad_output.requires_grad() || output.requires_grad())) {
    // Nothing to record: straight to the kernel.
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_sigmoid_backward(grad_output, output);
  }
  return SigmoidBackwardFunction::apply(grad_output, output);
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_sigmoid_ext, Autograd, m) {
  m.impl("sigmoid", &sigmoid_autograd);
  m.impl("sigmoid_backward", &sigmoid_backward_autograd);
}

}  // namespace torch_sigmoid_ext
