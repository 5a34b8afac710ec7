#include "sigmoid_ops.h"

#include <ATen/ATen.h>
#include <ATen/EmptyTensor.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/native/Resize.h>
#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace torch_sigmoid_ext {
namespace {

bool has_lazy_bits(const at::Tensor& t) { return t.is_conj() || t.is_neg(); }

// Kernels read raw memory, so a lazy conjugate or negation (x.conj(), torch._neg_view) is
// materialized first. (Checked here: the two resolve calls are dispatcher round trips even
// when they have nothing to do.)
at::Tensor materialized(const at::Tensor& t) {
  return has_lazy_bits(t) ? t.resolve_conj().resolve_neg() : t;
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

// A fresh output of 64 MiB or more is faulted in by the kernel's own writes, one 4 KiB page
// at a time, which costs more than the sigmoid itself (64 MiB: 28 ms of faults against 4 ms of
// work). Asking for transparent huge pages on the whole 2 MiB blocks inside it cuts that about
// six-fold: float32 forward at 2^24 elements, 7 ms against torch's 23-33 ms. Below 64 MiB it
// did not pay reliably: at 4 MiB glibc's malloc hands back blocks already faulted in, and
// advising them measured slower (a 4 MiB backward, repeated: 142 against 91 us); at 32 MiB it
// was 2.9x faster in a fresh process but 0.8x in the benchmark's, after many large
// allocations. Advice only: nothing changes about the tensor or who frees it, and where the
// kernel has no THP, or TORCH_SIGMOID_EXT_HUGE_PAGES=0, nothing happens. (torch does the same
// for every allocation when THP_MEM_ALLOC_ENABLE=1 is set.)
void advise_huge_pages(const at::Tensor& t) {
#ifdef __linux__
  const size_t bytes = t.storage().nbytes();
  if (bytes < kHugeAdviceMin || !huge_page_advice_enabled()) {
    return;
  }
  const auto begin = reinterpret_cast<uintptr_t>(t.storage().data());
  const uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t last = (begin + bytes) & ~(kHugePage - 1);
  if (first >= last) {
    return;
  }
  // Only memory nobody has touched yet (another allocator may hand back a block it had
  // before, already in 4 KiB pages): mincore says whether its first page is resident.
  unsigned char resident = 0;
  if (mincore(reinterpret_cast<void*>(first), 4096, &resident) == 0 && (resident & 1) == 0) {
    (void)madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  }
#else
  (void)t;
#endif
}

// A result shaped like t: t's strides where t is dense (channels_last, transposed, ... stay
// so), as empty_like(t, Preserve) gives, but on the CPU without the dispatcher's two round
// trips (empty_like, then empty_strided), a quarter of a call's cost at 1024 elements.
at::Tensor empty_result_like(const at::Tensor& t) {
  if (!t.is_non_overlapping_and_dense()) {
    return at::empty_like(t, at::MemoryFormat::Preserve);
  }
  if (t.device().is_cpu()) {
    at::Tensor out = at::detail::empty_strided_cpu(t.sizes(), t.strides(), t.options());
    advise_huge_pages(out);
    return out;
  }
  return at::empty_strided(t.sizes(), t.strides(), t.options());
}

// As torch.sigmoid: integer and bool inputs give the default float dtype.
c10::ScalarType result_dtype(const at::Tensor& self) {
  const auto dtype = self.scalar_type();
  if (c10::isFloatingType(dtype) || c10::isComplexType(dtype)) {
    return dtype;
  }
  return c10::typeMetaToScalarType(c10::get_default_dtype());
}

void check_supported_dtype(c10::ScalarType dtype, const char* op, const char* name) {
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble || dtype == at::kHalf ||
                  dtype == at::kBFloat16 || dtype == at::kComplexFloat ||
                  dtype == at::kComplexDouble,
              "torch_sigmoid_ext.", op, ": ", name, " has dtype ", dtype,
              ", which is not supported; use float32, float64, float16, bfloat16, complex64 or "
              "complex128");
}

}  // namespace

at::Tensor sigmoid_with(ForwardKernel kernel, const at::Tensor& self) {
  const auto dtype = result_dtype(self);
  check_supported_dtype(dtype, "sigmoid", "the input");
  const at::Tensor input = materialized(self.scalar_type() == dtype ? self : self.to(dtype));
  at::Tensor out = empty_result_like(input);
  if (out.numel() != 0) {
    kernel(out, input);
  }
  return out;
}

at::Tensor& sigmoid_inplace_with(ForwardKernel kernel, at::Tensor& self) {
  const auto dtype = self.scalar_type();
  TORCH_CHECK(c10::isFloatingType(dtype) || c10::isComplexType(dtype),
              "torch_sigmoid_ext.sigmoid_: in-place sigmoid needs a floating-point or complex "
              "tensor, but got ",
              dtype, "; use torch_sigmoid_ext.sigmoid(x), which returns a new tensor");
  check_supported_dtype(dtype, "sigmoid_", "the input");
  TORCH_CHECK(at::has_internal_overlap(self) != at::MemOverlap::Yes,
              "torch_sigmoid_ext.sigmoid_: the tensor has elements that share memory (an "
              "expanded view?), so writing the result in place is ill-defined; call .clone() "
              "first or use torch_sigmoid_ext.sigmoid(x)");
  if (self.numel() == 0) {
    return self;
  }
  if (has_lazy_bits(self)) {
    self.copy_(sigmoid_with(kernel, self));  // copy_ writes through the lazy bit
  } else {
    kernel(self, self);
  }
  return self;
}

at::Tensor& sigmoid_out_with(ForwardKernel kernel, const at::Tensor& self, at::Tensor& out) {
  // Every check comes before the first write, so a failed call leaves out as it was.
  TORCH_CHECK(out.device() == self.device(), "torch_sigmoid_ext.sigmoid: out is on ",
              out.device(), " but the input is on ", self.device(),
              "; pass an out tensor on the input's device");
  const auto dtype = result_dtype(self);
  check_supported_dtype(dtype, "sigmoid", "the input");
  TORCH_CHECK(c10::canCast(dtype, out.scalar_type()),
              "torch_sigmoid_ext.sigmoid: the result has dtype ", dtype,
              ", which can't be cast to out's dtype ", out.scalar_type(),
              "; pass a floating-point out tensor");
  TORCH_CHECK(at::has_internal_overlap(out) != at::MemOverlap::Yes,
              "torch_sigmoid_ext.sigmoid: out has elements that share memory (an expanded "
              "view?); pass a tensor that owns each of its elements");
  const auto overlap = at::get_overlap_status(out, self);
  TORCH_CHECK(overlap != at::MemOverlapStatus::Partial,
              "torch_sigmoid_ext.sigmoid: out partially overlaps the input; pass a separate out "
              "tensor, or the input itself to work in place");
  const bool in_place = overlap == at::MemOverlapStatus::Full;
  TORCH_CHECK(!in_place || out.scalar_type() == self.scalar_type(),
              "torch_sigmoid_ext.sigmoid: out is the input viewed as another dtype; pass a "
              "separate out tensor");

  at::native::resize_output(out, self.sizes());
  if (out.numel() == 0) {
    return out;
  }
  if (out.scalar_type() == dtype && !has_lazy_bits(out)) {
    kernel(out, materialized(self.scalar_type() == dtype ? self : self.to(dtype)));
  } else {
    out.copy_(sigmoid_with(kernel, self));
  }
  return out;
}

at::Tensor sigmoid_backward_with(BackwardKernel kernel, const at::Tensor& grad_output,
                                 const at::Tensor& output) {
  TORCH_CHECK(grad_output.device() == output.device(),
              "torch_sigmoid_ext.sigmoid_backward: grad_output is on ", grad_output.device(),
              " but output is on ", output.device(), "; move both to the same device");
  TORCH_CHECK(grad_output.sizes() == output.sizes(),
              "torch_sigmoid_ext.sigmoid_backward: grad_output has shape ", grad_output.sizes(),
              " but output has shape ", output.sizes(), "; they must be the same shape");
  TORCH_CHECK(grad_output.scalar_type() == output.scalar_type(),
              "torch_sigmoid_ext.sigmoid_backward: grad_output has dtype ",
              grad_output.scalar_type(), " but output has dtype ", output.scalar_type(),
              "; they must have the same dtype");
  check_supported_dtype(output.scalar_type(), "sigmoid_backward", "output");
  at::Tensor grad_input = empty_result_like(output);
  if (grad_input.numel() != 0) {
    kernel(grad_input, materialized(grad_output), materialized(output));
  }
  return grad_input;
}

}  // namespace torch_sigmoid_ext
