// Chooses the CPU kernel variant once, by what the CPU supports.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sigmoid_kernel.h"

namespace torch_sigmoid_ext {
namespace cpu {
namespace {

bool cpu_can_run(const KernelTable& table) {
#ifdef TORCH_SIGMOID_EXT_X86
  if (&table == &kAvx512Bf16Kernels) {
    return cpu_can_run(kAvx512Kernels) && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bf16");
  }
  if (&table == &kAvx512Kernels) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  }
  if (&table == &kAvx2Kernels) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
  }
#endif
  return &table == &kGenericKernels;
}

// Every variant, best first.
const KernelTable* const kAllTables[] = {
#ifdef TORCH_SIGMOID_EXT_X86
    &kAvx512Bf16Kernels,
    &kAvx512Kernels,
    &kAvx2Kernels,
#endif
    &kGenericKernels,
};

const KernelTable* find_table(const char* name) {
  for (const KernelTable* table : kAllTables) {
    if (std::strcmp(table->name, name) == 0 && cpu_can_run(*table)) {
      return table;
    }
  }
  return nullptr;
}

const KernelTable* initial_table() {
  if (const char* forced = std::getenv("TORCH_SIGMOID_EXT_CPU_VARIANT")) {
    if (*forced != '\0') {
      if (const KernelTable* table = find_table(forced)) {
        return table;
      }
    }
  }
  for (const KernelTable* table : kAllTables) {
    if (cpu_can_run(*table)) {
      return table;
    }
  }
  return &kGenericKernels;
}

std::atomic<const KernelTable*>& active() {
  static std::atomic<const KernelTable*> table{initial_table()};
  return table;
}

}  // namespace

const KernelTable& active_kernels() { return *active().load(std::memory_order_relaxed); }

bool set_active_kernels(const char* name) {
  const KernelTable* table = find_table(name);
  if (table == nullptr) {
    return false;
  }
  active().store(table, std::memory_order_relaxed);
  return true;
}

const char* supported_variants() {
  static const std::string names = [] {
    std::string out;
    for (int i = static_cast<int>(sizeof(kAllTables) / sizeof(kAllTables[0])) - 1; i >= 0; --i) {
      if (cpu_can_run(*kAllTables[i])) {
        out += out.empty() ? "" : ",";
        out += kAllTables[i]->name;
      }
    }
    return out;
  }();
  return names.c_str();
}

}  // namespace cpu
}  // namespace torch_sigmoid_ext
