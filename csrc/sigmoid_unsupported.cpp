// Kernels for the layouts the ops do not support: sparse (COO, CSR, CSC, BSR, BSC), quantized,
// nested and MKL-DNN tensors. Without them such a tensor reaches the dispatcher with no kernel
// and the user gets the dispatcher's generic "Could not run ... with arguments from the
// 'SparseCPU' backend". With them every op refuses by name, says which argument is the problem
// and what to do instead, before anything is written.
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <torch/library.h>

#include <string>

namespace torch_sigmoid_ext {
namespace {

// The sparse layouts by their Python names; nullptr for any other layout.
const char* sparse_layout_name(c10::Layout layout) {
  switch (layout) {
    case c10::kSparse:
      return "torch.sparse_coo";
    case c10::kSparseCsr:
      return "torch.sparse_csr";
    case c10::kSparseCsc:
      return "torch.sparse_csc";
    case c10::kSparseBsr:
      return "torch.sparse_bsr";
    case c10::kSparseBsc:
      return "torch.sparse_bsc";
    default:
      return nullptr;
  }
}

// What is wrong with t and what to do instead; empty if t is a dense strided tensor.
std::string layout_problem(const at::Tensor& t) {
  if (const char* sparse = sparse_layout_name(t.layout())) {
    return std::string("is a sparse tensor (layout ") + sparse +
           "), which is not supported; convert it with .to_dense() first";
  }
  if (t.is_quantized()) {
    return "is a quantized tensor, which is not supported; call .dequantize() first";
  }
  if (t.is_nested()) {
    return "is a nested tensor, which is not supported; apply the op to each component "
           "(.unbind()) or to .values()";
  }
  if (t.is_mkldnn()) {
    return "is an MKL-DNN tensor, which is not supported; convert it with .to_dense() first";
  }
  return "";
}

// One boxed kernel for every op: the schema names the op and its arguments.
void refuse_layout(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  const auto& schema = op.schema();
  // "torch_sigmoid_ext::sigmoid" -> "torch_sigmoid_ext.sigmoid", as in every other message.
  std::string name = schema.name();
  name.replace(name.find("::"), 2, ".");
  const auto& args = schema.arguments();
  const auto inputs = torch::jit::last(*stack, args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    if (inputs[i].isTensor()) {
      const std::string problem = layout_problem(inputs[i].toTensor());
      TORCH_CHECK(problem.empty(), name, ": ", args[i].name(), " ", problem);
    }
  }
  TORCH_CHECK(false, name, ": the arguments' layouts are not supported; pass dense (strided) "
              "tensors");
}

void register_refusals(torch::Library& m) {
  for (const char* op : {"sigmoid", "sigmoid_", "sigmoid.out", "sigmoid_backward"}) {
    m.impl(op, torch::CppFunction::makeFromBoxedFunction<&refuse_layout>());
  }
}

}  // namespace

// A key is registered whether or not this build has kernels for its device, so that a CUDA
// sparse tensor is refused by name in a CPU-only build too.
#define TORCH_SIGMOID_EXT_REFUSE(key) \
  TORCH_LIBRARY_IMPL(torch_sigmoid_ext, key, m) { register_refusals(m); }

TORCH_SIGMOID_EXT_REFUSE(SparseCPU)
TORCH_SIGMOID_EXT_REFUSE(SparseCUDA)
TORCH_SIGMOID_EXT_REFUSE(SparseMeta)
TORCH_SIGMOID_EXT_REFUSE(SparseCsrCPU)
TORCH_SIGMOID_EXT_REFUSE(SparseCsrCUDA)
TORCH_SIGMOID_EXT_REFUSE(SparseCsrMeta)
TORCH_SIGMOID_EXT_REFUSE(QuantizedCPU)
TORCH_SIGMOID_EXT_REFUSE(QuantizedCUDA)
TORCH_SIGMOID_EXT_REFUSE(QuantizedMeta)
TORCH_SIGMOID_EXT_REFUSE(NestedTensorCPU)
TORCH_SIGMOID_EXT_REFUSE(NestedTensorCUDA)
TORCH_SIGMOID_EXT_REFUSE(NestedTensorMeta)
TORCH_SIGMOID_EXT_REFUSE(MkldnnCPU)

}  // namespace torch_sigmoid_ext
