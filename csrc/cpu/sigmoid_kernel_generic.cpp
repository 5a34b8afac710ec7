// The portable variant: the scalar formula, one element at a time. It runs on any CPU
// (aarch64 included, where the compiler may still vectorize it) and is the reference the
// vectorized variants are tested against.
#include "sigmoid_loops.h"

namespace torch_sigmoid_ext {
namespace cpu {
namespace {
struct ScalarVec {
  using VF = float;
  using VD = double;
  static constexpr int kWidthF = 1;
  static constexpr int kWidthD = 1;
  static constexpr bool kQuads = false;
  static constexpr bool kCanStream = false;
};
}  // namespace

const KernelTable kGenericKernels = make_kernel_table<ScalarVec>("generic");

}  // namespace cpu
}  // namespace torch_sigmoid_ext
