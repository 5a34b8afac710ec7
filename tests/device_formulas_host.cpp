// csrc/cuda/sigmoid_cuda_ops.h compiled for the host: what the CUDA kernels compute per element,
// run on the CPU, so that tests/test_device_formulas.py can compare its bits with the CPU
// kernels' without a GPU.
//   device_formulas_host OP DIRECTION < input > output
// OP: float32, float32_correct, float16 or bfloat16; DIRECTION: forward (input: n values) or
// backward (input: n grad_output values, then n output values). Values are raw little-endian
// bits (16-bit types as uint16).
#include <cstdio>
#include <cstring>
#include <vector>

#include "cuda/sigmoid_cuda_ops.h"

namespace tse = torch_sigmoid_ext;

template <class Op>
int run(bool backward) {
  using S = typename Op::S;
  std::vector<S> in;
  S value;
  while (std::fread(&value, sizeof(S), 1, stdin) == 1) in.push_back(value);
  const size_t n = backward ? in.size() / 2 : in.size();
  std::vector<S> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = backward ? Op::backward(in[i], in[n + i]) : Op::forward(in[i]);
  }
  return std::fwrite(out.data(), sizeof(S), n, stdout) == n ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const bool backward = std::strcmp(argv[2], "backward") == 0;
  if (std::strcmp(argv[1], "float32") == 0) return run<tse::Float32Op>(backward);
  if (std::strcmp(argv[1], "float32_correct") == 0) return run<tse::Float32CorrectOp>(backward);
  if (std::strcmp(argv[1], "float16") == 0) return run<tse::Float16Op>(backward);
  if (std::strcmp(argv[1], "bfloat16") == 0) return run<tse::BFloat16Op>(backward);
  return 2;
}
