// The CPU ops: TensorIterator walks any layout (it collapses contiguous, channels_last and
// transposed tensors into one flat run) and at::parallel_for splits the work across
// torch.get_num_threads() threads. Each run goes to the active ISA variant's loop.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/TensorIterator.h>
#include <c10/util/complex.h>
#include <torch/library.h>

#include <initializer_list>

#include "../sigmoid_math.h"
#include "../sigmoid_ops.h"
#include "sigmoid_kernel.h"

namespace torch_sigmoid_ext {
namespace {

// Elements per task for at::parallel_for: below this a second thread costs more than it saves.
// Measured on 2 cores (float32 out=, 1 against 2 threads): the forward costs about 0.6 ns per
// element and waking a second thread about 3 us, so 2 threads already win 1.37x at 16384
// elements with chunks of 8192, where ATen's 32768 would keep them on one. The backward is a
// cheap product: 2 threads win nothing at 32768 elements and 1.45x at 65536, so ATen's
// default holds for it.
constexpr int64_t kForwardGrainSize = 8192;
constexpr int64_t kBackwardGrainSize = at::internal::GRAIN_SIZE;

cpu::RealType real_type(c10::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return cpu::kFloat32;
    case at::kDouble:
      return cpu::kFloat64;
    case at::kHalf:
      return cpu::kFloat16;
    case at::kBFloat16:
      return cpu::kBFloat16;
    default:
      return cpu::kNumRealTypes;
  }
}

// Whether a call is large enough for the streaming loops (see streaming_min_bytes): the bytes
// it touches, each buffer counted once (in place, out is self).
bool streams(const at::Tensor& out, std::initializer_list<const at::Tensor*> inputs) {
  int64_t bytes = static_cast<int64_t>(out.nbytes());
  for (const at::Tensor* t : inputs) {
    if (!t->is_same(out)) {
      bytes += static_cast<int64_t>(t->nbytes());
    }
  }
  return bytes >= cpu::streaming_min_bytes();
}

// True when every tensor covers one dense block with the same strides (contiguous, or
// channels_last / transposed alike), so that element i of each sits at the same offset and
// one flat loop does it all. Used only for runs too short to split across threads: they skip
// building a TensorIterator, a third of the call at 1024 elements. Longer runs go through
// TensorIterator::for_each, whose at::parallel_for is compiled into libtorch with its OpenMP;
// an at::parallel_for compiled here, without -fopenmp, would silently run on one thread.
bool same_dense_layout(std::initializer_list<const at::Tensor*> tensors) {
  const at::Tensor& first = **tensors.begin();
  if (!first.is_non_overlapping_and_dense()) {
    return false;
  }
  for (const at::Tensor* t : tensors) {
    if (t->strides() != first.strides() || t->sizes() != first.sizes()) {
      return false;
    }
  }
  return true;
}

void sigmoid_kernel(const at::Tensor& out, const at::Tensor& self) {
  const auto real = real_type(self.scalar_type());
  if (real != cpu::kNumRealTypes && self.numel() <= kForwardGrainSize &&
      same_dense_layout({&out, &self})) {
    const int64_t size = self.element_size();
    cpu::active_kernels().forward[real](static_cast<char*>(out.data_ptr()),
                                        static_cast<const char*>(self.const_data_ptr()), size,
                                        size, self.numel());
    return;
  }
  auto iter = at::TensorIteratorConfig()
                  .set_check_mem_overlap(false)  // checked by the caller; out may be self
                  .add_output(out)
                  .add_const_input(self)
                  .resize_outputs(false)
                  .build();
  if (real != cpu::kNumRealTypes) {
    const cpu::KernelTable& table = cpu::active_kernels();
    const cpu::UnaryLoop loop =
        streams(out, {&self}) ? table.forward_streaming[real] : table.forward[real];
    iter.for_each(
        [loop](char** data, const int64_t* strides, int64_t size0, int64_t size1) {
          for (int64_t j = 0; j < size1; ++j) {
            loop(data[0] + j * strides[2], data[1] + j * strides[3], strides[0], strides[1],
                 size0);
          }
        },
        kForwardGrainSize);
    return;
  }
  AT_DISPATCH_COMPLEX_TYPES(self.scalar_type(), "torch_sigmoid_ext.sigmoid", [&] {
    iter.for_each(
        [](char** data, const int64_t* strides, int64_t size0, int64_t size1) {
          for (int64_t j = 0; j < size1; ++j) {
            char* out = data[0] + j * strides[2];
            const char* in = data[1] + j * strides[3];
            for (int64_t i = 0; i < size0; ++i) {
              *reinterpret_cast<scalar_t*>(out + i * strides[0]) =
                  sigmoid_complex_formula(*reinterpret_cast<const scalar_t*>(in + i * strides[1]));
            }
          }
        },
        kForwardGrainSize);
  });
}

void sigmoid_backward_kernel(const at::Tensor& out, const at::Tensor& grad_output,
                             const at::Tensor& output) {
  const auto real = real_type(output.scalar_type());
  if (real != cpu::kNumRealTypes && output.numel() <= kBackwardGrainSize &&
      same_dense_layout({&out, &grad_output, &output})) {
    const int64_t size = output.element_size();
    cpu::active_kernels().backward[real](
        static_cast<char*>(out.data_ptr()), static_cast<const char*>(grad_output.const_data_ptr()),
        static_cast<const char*>(output.const_data_ptr()), size, size, size, output.numel());
    return;
  }
  auto iter = at::TensorIteratorConfig()
                  .add_output(out)
                  .add_const_input(grad_output)
                  .add_const_input(output)
                  .resize_outputs(false)
                  .build();
  if (real != cpu::kNumRealTypes) {
    const cpu::KernelTable& table = cpu::active_kernels();
    const cpu::BinaryLoop loop =
        streams(out, {&grad_output, &output}) ? table.backward_streaming[real]
                                              : table.backward[real];
    iter.for_each(
        [loop](char** data, const int64_t* strides, int64_t size0, int64_t size1) {
          for (int64_t j = 0; j < size1; ++j) {
            loop(data[0] + j * strides[3], data[1] + j * strides[4], data[2] + j * strides[5],
                 strides[0], strides[1], strides[2], size0);
          }
        },
        kBackwardGrainSize);
    return;
  }
  AT_DISPATCH_COMPLEX_TYPES(output.scalar_type(), "torch_sigmoid_ext.sigmoid_backward", [&] {
    iter.for_each(
        [](char** data, const int64_t* strides, int64_t size0, int64_t size1) {
          for (int64_t j = 0; j < size1; ++j) {
            char* out = data[0] + j * strides[3];
            const char* g = data[1] + j * strides[4];
            const char* y = data[2] + j * strides[5];
            for (int64_t i = 0; i < size0; ++i) {
              *reinterpret_cast<scalar_t*>(out + i * strides[0]) = sigmoid_backward_complex_formula(
                  *reinterpret_cast<const scalar_t*>(g + i * strides[1]),
                  *reinterpret_cast<const scalar_t*>(y + i * strides[2]));
            }
          }
        },
        kBackwardGrainSize);
  });
}

at::Tensor sigmoid_cpu(const at::Tensor& self) { return sigmoid_with(sigmoid_kernel, self); }

void sigmoid__cpu(at::Tensor& self) { sigmoid_inplace_with(sigmoid_kernel, self); }

void sigmoid_out_cpu(const at::Tensor& self, at::Tensor& out) {
  sigmoid_out_with(sigmoid_kernel, self, out);
}

at::Tensor sigmoid_backward_cpu(const at::Tensor& grad_output, const at::Tensor& output) {
  return sigmoid_backward_with(sigmoid_backward_kernel, grad_output, output);
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_sigmoid_ext, CPU, m) {
  m.impl("sigmoid", &sigmoid_cpu);
  m.impl("sigmoid_", &sigmoid__cpu);
  m.impl("sigmoid.out", &sigmoid_out_cpu);
  m.impl("sigmoid_backward", &sigmoid_backward_cpu);
}

}  // namespace torch_sigmoid_ext
