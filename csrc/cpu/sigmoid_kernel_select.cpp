// Chooses the CPU kernel variant once, by what the CPU supports.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cstdio>
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

// The L3 cache that CPU 0 shares, in bytes, as Linux describes it (0 if it doesn't). Not
// sysconf(_SC_LEVEL3_CACHE_SIZE), which on some VMs gives the whole package's L3 instead.
int64_t l3_bytes() {
  std::FILE* f = std::fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
  if (f == nullptr) {
    return 0;
  }
  long long value = 0;
  char unit = 0;
  const int got = std::fscanf(f, "%lld%c", &value, &unit);
  std::fclose(f);
  if (got < 1 || value <= 0) {
    return 0;
  }
  const int64_t scale = unit == 'K' ? 1 << 10 : unit == 'M' ? 1 << 20 : unit == 'G' ? 1 << 30 : 1;
  return static_cast<int64_t>(value) * scale;
}

std::atomic<int64_t>& streaming_bytes() {
  static std::atomic<int64_t> bytes{std::max<int64_t>(int64_t{32} << 20, l3_bytes()) / 2 * 3};
  return bytes;
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

int64_t streaming_min_bytes() { return streaming_bytes().load(std::memory_order_relaxed); }

int64_t set_streaming_min_bytes(int64_t bytes) {
  return streaming_bytes().exchange(bytes, std::memory_order_relaxed);
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
