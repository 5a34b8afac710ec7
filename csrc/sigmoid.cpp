// The op schemas and the Python module. Kernels register per device in cpu/ and cuda/; fake
// kernels live in Python (torch_sigmoid_ext/_fake.py); the autograd of sigmoid and
// sigmoid_backward in sigmoid_autograd.cpp, that of sigmoid_ and sigmoid.out in
// torch_sigmoid_ext/autograd.py.
#include <torch/extension.h>
#include <torch/library.h>
#include <torch/version.h>

#include <optional>
#include <torch/csrc/autograd/VariableTypeUtils.h>

#include "cpu/sigmoid_kernel.h"

#ifndef TORCH_SIGMOID_EXT_CUDA_ARCHS
#define TORCH_SIGMOID_EXT_CUDA_ARCHS ""
#endif

TORCH_LIBRARY(torch_sigmoid_ext, m) {
  // Names and argument order mirror ATen's sigmoid, sigmoid_, sigmoid.out and sigmoid_backward.
  // The mutating ones return nothing, unlike ATen's: torch.library's rule for custom ops that
  // mutate an argument, which lets torch.compile functionalize them. The Python functions
  // return the mutated tensor, as torch's do. The argument is `input`, not ATen's `self`, which
  // torch.library warns is ambiguous for custom ops.
  // pt2_compliant_tag: each op passes torch.library.opcheck (tests/test_ops.py).
  const std::vector<at::Tag> tags = {at::Tag::pointwise, at::Tag::pt2_compliant_tag};
  m.def("sigmoid(Tensor input) -> Tensor", tags);
  m.def("sigmoid_(Tensor(a!) input) -> ()", tags);
  m.def("sigmoid.out(Tensor input, *, Tensor(a!) out) -> ()", tags);
  m.def("sigmoid_backward(Tensor grad_output, Tensor output) -> Tensor", tags);
}

namespace {

pybind11::dict build_info() {
  namespace py = pybind11;
  py::dict info;
  info["torch_version"] = TORCH_VERSION;
#ifdef TORCH_SIGMOID_EXT_WITH_CUDA
  info["cuda"] = true;
#else
  info["cuda"] = false;
#endif
  std::vector<std::string> archs;
  std::string list = TORCH_SIGMOID_EXT_CUDA_ARCHS;
  for (size_t start = 0; start < list.size();) {
    size_t end = list.find(';', start);
    if (end == std::string::npos) end = list.size();
    if (end > start) archs.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  info["cuda_archs"] = archs;
  info["cpu_variant"] = torch_sigmoid_ext::cpu::active_kernels().name;
  info["cpu_variants_supported"] = std::string(torch_sigmoid_ext::cpu::supported_variants());
  info["cpu_streaming_min_bytes"] = torch_sigmoid_ext::cpu::streaming_min_bytes();
#if defined(__VERSION__)
  info["compiler"] = __VERSION__;
#endif
  return info;
}

// The ops for callers that need no gradient: the dispatcher below the autograd layer, which
// skips the Python autograd kernels and most of the per-call cost. The Python side uses them
// only when grad mode is off or no input requires grad, and never while torch.compile traces.
template <typename Signature>
c10::TypedOperatorHandle<Signature> find_op(const char* name, const char* overload) {
  return c10::Dispatcher::singleton()
      .findSchemaOrThrow((std::string("torch_sigmoid_ext::") + name).c_str(), overload)
      .typed<Signature>();
}

// Other Python threads may run while a large call computes; for a small one, releasing and
// retaking the GIL would cost more than the call.
class ReleaseGilIfLarge {
 public:
  explicit ReleaseGilIfLarge(const at::Tensor& t) {
    // sym_numel: under tracing with dynamic shapes the size is symbolic; keep the GIL then.
    const auto numel = t.sym_numel().maybe_as_int();
    if (numel && *numel >= (int64_t{1} << 16)) {
      release_.emplace();
    }
  }

 private:
  std::optional<pybind11::gil_scoped_release> release_;
};

at::Tensor sigmoid_no_autograd(const at::Tensor& input) {
  static const auto op = find_op<at::Tensor(const at::Tensor&)>("sigmoid", "");
  ReleaseGilIfLarge gil(input);
  at::AutoDispatchBelowADInplaceOrView guard;
  return op.call(input);
}

// sigmoid through the whole dispatcher, its C++ autograd included: what
// torch.ops.torch_sigmoid_ext.sigmoid(input) does, without the Python layer of torch.ops (about
// 1 us a call). For torch_sigmoid_ext.sigmoid when a gradient is needed, outside torch.compile,
// after __torch_function__ has had its turn.
at::Tensor sigmoid_with_autograd(const at::Tensor& input) {
  static const auto op = find_op<at::Tensor(const at::Tensor&)>("sigmoid", "");
  ReleaseGilIfLarge gil(input);
  return op.call(input);
}

// As ATen's in-place and out= kernels do, so that autograd notices a saved tensor was
// overwritten.
void bump_version(const at::Tensor& t) {
  if (!t.is_inference()) {
    torch::autograd::increment_version(t);
  }
}

void sigmoid__no_autograd(at::Tensor& input) {
  static const auto op = find_op<void(at::Tensor&)>("sigmoid_", "");
  {
    ReleaseGilIfLarge gil(input);
    at::AutoDispatchBelowADInplaceOrView guard;
    op.call(input);
  }
  bump_version(input);
}

void sigmoid_out_no_autograd(const at::Tensor& input, at::Tensor& out) {
  static const auto op = find_op<void(const at::Tensor&, at::Tensor&)>("sigmoid", "out");
  {
    ReleaseGilIfLarge gil(input);
    at::AutoDispatchBelowADInplaceOrView guard;
    op.call(input, out);
  }
  bump_version(out);
}

at::Tensor sigmoid_backward_no_autograd(const at::Tensor& grad_output, const at::Tensor& output) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, const at::Tensor&)>("sigmoid_backward", "");
  ReleaseGilIfLarge gil(output);
  at::AutoDispatchBelowADInplaceOrView guard;
  return op.call(grad_output, output);
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "torch_sigmoid_ext native library: registers the torch_sigmoid_ext ops";
  m.def("build_info", &build_info, "How this build was made and which CPU kernels it runs.");
  // Without the autograd layer, for inputs that need no gradient (see above).
  m.def("_sigmoid_no_autograd", &sigmoid_no_autograd);
  m.def("_sigmoid__no_autograd", &sigmoid__no_autograd);
  m.def("_sigmoid_out_no_autograd", &sigmoid_out_no_autograd);
  m.def("_sigmoid_backward_no_autograd", &sigmoid_backward_no_autograd);
  m.def("_sigmoid_with_autograd", &sigmoid_with_autograd);
  m.def(
      "_set_cpu_variant",
      [](const std::string& name) { return torch_sigmoid_ext::cpu::set_active_kernels(name.c_str()); },
      "Switch the CPU kernel variant for this process (tests and benchmarks); returns False if "
      "this CPU cannot run it.");
  m.def("_set_cpu_streaming_min_bytes", &torch_sigmoid_ext::cpu::set_streaming_min_bytes,
        "Calls that touch at least this many bytes (inputs and output) write with streaming "
        "stores (tests); returns the previous value.");
}
