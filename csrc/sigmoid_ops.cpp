#include "sigmoid_ops.h"

#include <torch/csrc/stable/ops.h>
#include <torch/csrc/stable/stableivalue_conversions.h>
#include <torch/headeronly/core/ScalarType.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <vector>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace torch_sigmoid_ext {
namespace {

using torch::headeronly::ScalarType;
using torch::stable::detail::from;
using torch::stable::detail::to;

// Our own check rather than STD_TORCH_CHECK, whose message starts with the C++ function, file
// and line: a user reads the op, the problem and the remedy, nothing else.
template <typename... Args>
[[noreturn]] void fail(const Args&... message) {
  std::ostringstream text;
  (text << ... << message);
  throw std::runtime_error(text.str());
}

// For messages of plain strings and names; a message that must be built (device_name,
// shape_text) goes in `if (!ok) fail(...)`, so that a call that passes builds nothing.
template <typename... Args>
void check(bool ok, const Args&... message) {
  if (!ok) fail(message...);
}

// Names as Python prints them, for the messages.
const char* dtype_name(ScalarType dtype) {
  switch (dtype) {
    case ScalarType::Float: return "torch.float32";
    case ScalarType::Double: return "torch.float64";
    case ScalarType::Half: return "torch.float16";
    case ScalarType::BFloat16: return "torch.bfloat16";
    case ScalarType::ComplexHalf: return "torch.complex32";
    case ScalarType::ComplexFloat: return "torch.complex64";
    case ScalarType::ComplexDouble: return "torch.complex128";
    case ScalarType::Bool: return "torch.bool";
    case ScalarType::Byte: return "torch.uint8";
    case ScalarType::Char: return "torch.int8";
    case ScalarType::Short: return "torch.int16";
    case ScalarType::Int: return "torch.int32";
    case ScalarType::Long: return "torch.int64";
    default: return "a dtype this op does not know";
  }
}

std::string device_name(const torch::stable::Device& device) {
  std::string name;
  switch (device.type()) {
    case torch::headeronly::DeviceType::CPU: name = "cpu"; break;
    case torch::headeronly::DeviceType::CUDA: name = "cuda"; break;
    case torch::headeronly::DeviceType::Meta: name = "meta"; break;
    default: name = "device type " + std::to_string(static_cast<int>(device.type())); break;
  }
  return device.has_index() ? name + ":" + std::to_string(device.index()) : name;
}

std::string shape_text(const Tensor& t) {
  std::string text = "[";
  for (int64_t d = 0; d < t.dim(); ++d) {
    text += (d ? ", " : "") + std::to_string(t.size(d));
  }
  return text + "]";
}

bool is_complex(ScalarType t) {
  return t == ScalarType::ComplexHalf || t == ScalarType::ComplexFloat ||
         t == ScalarType::ComplexDouble;
}

bool is_floating(ScalarType t) {
  return t == ScalarType::Float || t == ScalarType::Double || t == ScalarType::Half ||
         t == ScalarType::BFloat16 || t == ScalarType::Float8_e5m2 ||
         t == ScalarType::Float8_e4m3fn || t == ScalarType::Float8_e5m2fnuz ||
         t == ScalarType::Float8_e4m3fnuz;
}

bool is_supported(ScalarType t) {
  return t == ScalarType::Float || t == ScalarType::Double || t == ScalarType::Half ||
         t == ScalarType::BFloat16 || t == ScalarType::ComplexFloat ||
         t == ScalarType::ComplexDouble;
}

// One boxed call into an ATen op that the stable headers do not wrap; the stack holds the
// arguments in, the first return out.
template <size_t N>
void call_aten(const char* name, const char* overload, std::array<StableIValue, N>& stack) {
  check_shim(torch_call_dispatcher(name, overload, stack.data(), TORCH_ABI_VERSION),
             "torch_call_dispatcher");
}

// ATen's is_non_overlapping_and_dense, from the sizes and strides the stable tensor gives:
// the elements fill one block of memory with no gaps and no element twice, in some order.
bool is_dense(const Tensor& t) {
  const auto sizes = t.sizes();
  const auto strides = t.strides();
  const int64_t n = t.dim();
  if (n == 1) return sizes[0] < 2 || strides[0] == 1;
  std::array<int64_t, 64> order{};
  std::vector<int64_t> big;  // for tensors with more dimensions than anyone uses
  int64_t* perm = order.data();
  if (n > 64) {
    big.resize(n);
    perm = big.data();
  }
  std::iota(perm, perm + n, int64_t{0});
  // Dimensions of size 0 or 1 last, the rest by increasing stride.
  std::sort(perm, perm + n, [&](int64_t a, int64_t b) {
    if (sizes[a] < 2 || sizes[b] < 2) return sizes[a] >= 2 && sizes[b] < 2;
    return strides[a] < strides[b];
  });
  int64_t expected = 1;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t d = perm[i];
    if (sizes[d] < 2) return true;
    if (strides[d] != expected) return false;
    expected *= sizes[d];
  }
  return true;
}

// Same sizes assumed: the same strides wherever a dimension has more than one element.
bool same_strides(const Tensor& a, const Tensor& b) {
  const auto sizes = a.sizes();
  const auto sa = a.strides();
  const auto sb = b.strides();
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (sizes[d] > 1 && sa[d] != sb[d]) return false;
  }
  return true;
}

bool same_sizes(const Tensor& a, const Tensor& b) {
  if (a.dim() != b.dim()) return false;
  const auto sa = a.sizes();
  const auto sb = b.sizes();
  return std::equal(sa.begin(), sa.end(), sb.begin());
}

// Two elements at one address: a dimension of stride 0 (an expanded view). Layouts that are
// neither this nor dense are left alone, as ATen's has_internal_overlap does ("too hard").
bool has_internal_overlap(const Tensor& t) {
  const auto sizes = t.sizes();
  const auto strides = t.strides();
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (sizes[d] > 1 && strides[d] == 0) return true;
  }
  return false;
}

enum class Overlap { kNone, kFull, kPartial, kTooHard };

// ATen's get_overlap_status for dense tensors: the byte ranges they cover.
Overlap overlap_status(const Tensor& a, const Tensor& b) {
  if (a.numel() == 0 || b.numel() == 0) return Overlap::kNone;
  if (!is_dense(a) || !is_dense(b)) return Overlap::kTooHard;
  const auto a_begin = reinterpret_cast<uintptr_t>(a.data_ptr());
  const auto b_begin = reinterpret_cast<uintptr_t>(b.data_ptr());
  const uintptr_t a_end = a_begin + a.numel() * a.element_size();
  const uintptr_t b_end = b_begin + b.numel() * b.element_size();
  if (a_begin == b_begin && a_end == b_end) {
    return same_sizes(a, b) && same_strides(a, b) ? Overlap::kFull : Overlap::kPartial;
  }
  return a_begin < b_end && b_begin < a_end ? Overlap::kPartial : Overlap::kNone;
}

#ifdef __linux__
constexpr size_t kHugePage = size_t{1} << 21;  // 2 MiB, x86-64's and aarch64's usual size
constexpr size_t kHugeAdviceMin = size_t{64} << 20;

bool huge_page_advice_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("TORCH_SIGMOID_EXT_HUGE_PAGES");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return enabled;
}
#endif

// A fresh output of 64 MiB or more would be faulted in by the kernel's own writes one 4 KiB
// page at a time, which costs more than the sigmoid itself; transparent huge pages cut that
// (docs/speed.md has the figures). Advice only, and only on memory nobody has touched yet.
// TORCH_SIGMOID_EXT_HUGE_PAGES=0 turns it off.
void advise_huge_pages(const Tensor& t) {
#ifdef __linux__
  const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
  if (bytes < kHugeAdviceMin || !huge_page_advice_enabled()) return;
  const auto begin = reinterpret_cast<uintptr_t>(t.data_ptr());
  const uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t last = (begin + bytes) & ~(kHugePage - 1);
  if (first >= last) return;
  // Another allocator may hand back a block it had before, already in 4 KiB pages: mincore
  // says whether its first page is resident.
  unsigned char resident = 0;
  if (mincore(reinterpret_cast<void*>(first), 4096, &resident) == 0 && (resident & 1) == 0) {
    (void)madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  }
#else
  (void)t;
#endif
}

// A new tensor of t's sizes, dtype and device with the given strides: one allocation, no
// dispatcher round trip.
Tensor empty_strided_like(const Tensor& t, const int64_t* strides) {
  const auto device = t.device();
  AtenTensorHandle handle = nullptr;
  check_shim(aoti_torch_empty_strided(t.dim(), t.sizes().data(), strides,
                                      static_cast<int32_t>(t.scalar_type()),
                                      static_cast<int32_t>(device.type()),
                                      device.has_index() ? device.index() : 0, &handle),
             "aoti_torch_empty_strided");
  Tensor out(handle);
  if (device.is_cpu()) advise_huge_pages(out);
  return out;
}

// A new tensor with t's sizes and strides (t dense).
Tensor empty_with_layout_of(const Tensor& t) { return empty_strided_like(t, t.strides().data()); }

// A dense copy of t whose dimensions run in the same order in memory as t's, as ATen's
// empty_like does for a tensor that is not dense: a transposed slice gives a transposed
// result. Copying into that order reads and writes along the same rows; contiguous() would
// walk t's columns, a strided copy that costs more than the sigmoid itself.
Tensor dense_copy(const Tensor& t) {
  const int64_t n = t.dim();
  const auto sizes = t.sizes();
  const auto t_strides = t.strides();
  // Innermost first, starting from the contiguous order (last dimension inmost) and moving a
  // dimension inward past each one of larger stride; a stride of 0 decides nothing (an insertion
  // sort, which keeps the undecided pairs as they were). Equal strides: the smaller size inside.
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = n - 1 - i;
  const auto outer = [&](int64_t a, int64_t b) {  // 1: a belongs outside b; -1: inside; 0: either
    if (t_strides[a] == 0 || t_strides[b] == 0) return 0;
    if (t_strides[a] != t_strides[b]) return t_strides[a] < t_strides[b] ? -1 : 1;
    return sizes[a] > sizes[b] ? 1 : 0;
  };
  for (int64_t i = 1; i < n; ++i) {
    for (int64_t j = i; j > 0; --j) {
      const int comparison = outer(order[j - 1], order[j]);
      if (comparison > 0) {
        std::swap(order[j - 1], order[j]);
      } else if (comparison < 0) {
        break;
      }
    }
  }
  std::vector<int64_t> strides(n);
  int64_t expected = 1;
  for (const int64_t d : order) {
    strides[d] = expected;
    if (sizes[d] > 1) expected *= sizes[d];
  }
  Tensor copy = empty_strided_like(t, strides.data());
  torch::stable::copy_(copy, t);
  return copy;
}

// t with the layout of like (dense, same sizes): t itself if it already has it, else a copy.
Tensor with_layout_of(const Tensor& t, const Tensor& like) {
  if (same_strides(t, like)) return t;
  Tensor copy = empty_with_layout_of(like);
  torch::stable::copy_(copy, t);
  return copy;
}

// torch's default float dtype (torch.get_default_dtype()), which integer and bool inputs
// give, as torch.sigmoid's do. Read from an empty tensor made with no dtype.
ScalarType default_float_dtype() {
  return torch::stable::empty({0}).scalar_type();
}

ScalarType result_dtype(ScalarType dtype) {
  return is_floating(dtype) || is_complex(dtype) ? dtype : default_float_dtype();
}

// ATen's canCast for a floating or complex result: no complex into a real out, no floating
// into an integer or bool out.
bool can_cast_result(ScalarType result, ScalarType out) {
  if (is_complex(result)) return is_complex(out);
  return is_floating(out) || is_complex(out);
}

// dtype: the result's. Before anything is allocated or resized, so a refused call changes nothing.
void check_supported_dtype(ScalarType dtype, const char* op, const char* name) {
  check(is_supported(dtype), "torch_sigmoid_ext.", op, ": ", name, " has dtype ",
        dtype_name(dtype),
        ", which is not supported; use float32, float64, float16, bfloat16, complex64 or "
        "complex128");
  if (dtype == ScalarType::ComplexFloat) {
    check_complex_rounding(op);
  }
}

// The input as the kernel reads it: in the result's dtype, dense. (No lazy conjugate or negative
// bit reaches the kernels: torch resolves them for the functional ops, and
// torch_sigmoid_ext/_math_bits.py for the mutating ones.)
Tensor prepared_input(const Tensor& input, ScalarType dtype) {
  Tensor t = input.scalar_type() != dtype ? torch::stable::to(input, dtype) : input;
  return is_dense(t) ? t : dense_copy(t);
}

}  // namespace

Tensor sigmoid_with(ForwardKernel kernel, const Tensor& input) {
  const ScalarType dtype = result_dtype(input.scalar_type());
  check_supported_dtype(dtype, "sigmoid", "the input");
  const Tensor in = prepared_input(input, dtype);
  Tensor out = empty_with_layout_of(in);
  if (out.numel() != 0) kernel(out, in);
  return out;
}

void sigmoid_inplace_with(ForwardKernel kernel, const Tensor& input) {
  const ScalarType dtype = input.scalar_type();
  check(is_floating(dtype) || is_complex(dtype),
        "torch_sigmoid_ext.sigmoid_: in-place sigmoid needs a floating-point or complex tensor, "
        "but got ",
        dtype_name(dtype), "; use torch_sigmoid_ext.sigmoid(x), which returns a new tensor");
  check_supported_dtype(dtype, "sigmoid_", "the input");
  check(!has_internal_overlap(input),
        "torch_sigmoid_ext.sigmoid_: the tensor has elements that share memory (an expanded "
        "view?), so writing the result in place is ill-defined; call .clone() first or use "
        "torch_sigmoid_ext.sigmoid(x)");
  if (input.numel() == 0) return;
  if (is_dense(input)) {
    kernel(input, input);
  } else {
    Tensor target = input;
    torch::stable::copy_(target, sigmoid_with(kernel, input));
  }
}

void sigmoid_out_with(ForwardKernel kernel, const Tensor& input, const Tensor& out) {
  // Every check comes before the first write, so a failed call leaves out as it was.
  if (out.device() != input.device()) {
    fail("torch_sigmoid_ext.sigmoid: out is on ", device_name(out.device()),
         " but the input is on ", device_name(input.device()),
         "; pass an out tensor on the input's device");
  }
  const ScalarType dtype = result_dtype(input.scalar_type());
  check_supported_dtype(dtype, "sigmoid", "the input");
  check(can_cast_result(dtype, out.scalar_type()), "torch_sigmoid_ext.sigmoid: the result has dtype ",
        dtype_name(dtype), ", which can't be cast to out's dtype ", dtype_name(out.scalar_type()),
        "; pass a floating-point out tensor");
  check(!has_internal_overlap(out),
        "torch_sigmoid_ext.sigmoid: out has elements that share memory (an expanded view?); pass "
        "a tensor that owns each of its elements");
  const Overlap overlap = overlap_status(out, input);
  check(overlap != Overlap::kPartial,
        "torch_sigmoid_ext.sigmoid: out partially overlaps the input; pass a separate out "
        "tensor, or the input itself to work in place");
  const bool in_place = overlap == Overlap::kFull;
  check(!in_place || out.scalar_type() == input.scalar_type(),
        "torch_sigmoid_ext.sigmoid: out is the input viewed as another dtype; pass a separate "
        "out tensor");

  if (!same_sizes(out, input)) {
    // torch's rule for out=: resized to the result's shape (Python warns first when out had
    // elements, as torch does: the stable API has no warnings).
    std::array<StableIValue, 3> stack{from(out), from(input.sizes()),
                                      from(std::optional<torch::headeronly::MemoryFormat>())};
    call_aten("aten::resize_", "", stack);
    (void)to<Tensor>(stack[0]);
  }
  if (out.numel() == 0) return;
  if (in_place && is_dense(out)) {
    kernel(out, out);
    return;
  }
  if (out.scalar_type() == dtype && is_dense(out)) {
    kernel(out, with_layout_of(prepared_input(input, dtype), out));
    return;
  }
  Tensor target = out;
  torch::stable::copy_(target, sigmoid_with(kernel, input));
}

Tensor sigmoid_backward_with(BackwardKernel kernel, const Tensor& grad_output,
                             const Tensor& output) {
  if (grad_output.device() != output.device()) {
    fail("torch_sigmoid_ext.sigmoid_backward: grad_output is on ",
         device_name(grad_output.device()), " but output is on ", device_name(output.device()),
         "; move both to the same device");
  }
  if (!same_sizes(grad_output, output)) {
    fail("torch_sigmoid_ext.sigmoid_backward: grad_output has shape ", shape_text(grad_output),
         " but output has shape ", shape_text(output), "; they must be the same shape");
  }
  check(grad_output.scalar_type() == output.scalar_type(),
        "torch_sigmoid_ext.sigmoid_backward: grad_output has dtype ",
        dtype_name(grad_output.scalar_type()), " but output has dtype ",
        dtype_name(output.scalar_type()), "; they must have the same dtype");
  check_supported_dtype(output.scalar_type(), "sigmoid_backward", "output");
  const Tensor y = prepared_input(output, output.scalar_type());
  Tensor grad_input = empty_with_layout_of(y);
  if (grad_input.numel() != 0) {
    kernel(grad_input,
           with_layout_of(prepared_input(grad_output, y.scalar_type()), y), y);
  }
  return grad_input;
}

}  // namespace torch_sigmoid_ext
