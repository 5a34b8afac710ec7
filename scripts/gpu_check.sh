#!/usr/bin/env bash
# On a GPU machine: build the CUDA kernels, run every test (the CUDA ones included), then the
# GPU benchmark, python -m torch_sigmoid_ext benchmark --device cuda. Logs, the benchmark's
# CSV and its plot go to $OUT when it is set, else to a new temporary folder.
#
#     scripts/gpu_check.sh            # the whole check
#     scripts/gpu_check.sh --help     # this text; runs nothing
#
# Needs a CUDA build of torch, nvcc, and pytest; no network access (nothing is downloaded).
# The benchmark runs even when a test fails, so one run on a scarce machine reports both; the
# exit status is then the tests'.
case "${1:-}" in
  -h|--help)
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
    exit 0
    ;;
  "") ;;
  *)
    echo "gpu_check: unknown argument $1; it takes none (--help says what it does)" >&2
    exit 2
    ;;
esac
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python}
LOG_DIR=${OUT:-$(mktemp -d)}
mkdir -p "$LOG_DIR"

if [ -z "${CUDA_HOME:-}" ]; then
  NVCC=$(command -v nvcc || true)
  if [ -z "$NVCC" ] && [ -x /usr/local/cuda/bin/nvcc ]; then
    NVCC=/usr/local/cuda/bin/nvcc
  fi
  if [ -z "$NVCC" ]; then
    echo "gpu_check: nvcc is not on PATH; set CUDA_HOME to the CUDA toolkit's root" >&2
    exit 1
  fi
  CUDA_HOME=$(dirname "$(dirname "$(readlink -f "$NVCC")")")
  export CUDA_HOME
fi
export PATH="$CUDA_HOME/bin:$PATH"
export TORCH_SIGMOID_EXT_CUDA=1
# Only this machine's architecture: the default list compiles every kernel for each.
if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
  TORCH_CUDA_ARCH_LIST=$("$PYTHON" -c \
    "import torch; print('%d.%d' % torch.cuda.get_device_capability())")
  export TORCH_CUDA_ARCH_LIST
fi
export MAX_JOBS=${MAX_JOBS:-$(nproc)}

"$PYTHON" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, \
torch.cuda.get_device_name(), 'x', torch.cuda.device_count())"
"$CUDA_HOME/bin/nvcc" --version | tail -n 2
"$PYTHON" -c "import pytest" || { echo "gpu_check: pytest is not installed" >&2; exit 1; }

echo "== build (CUDA_HOME=$CUDA_HOME, arch $TORCH_CUDA_ARCH_LIST)"
if ! "$PYTHON" -m pip install --no-build-isolation --no-deps -e . >"$LOG_DIR/build.log" 2>&1; then
  tail -n 60 "$LOG_DIR/build.log"
  echo "gpu_check: the build failed; full log in $LOG_DIR/build.log" >&2
  exit 1
fi
"$PYTHON" -c "import torch_sigmoid_ext as t; print(t.build_info())"

echo "== tests"
set +e
"$PYTHON" -m pytest -q -x -rs tests/ 2>&1 | tee "$LOG_DIR/pytest.log" | tail -n 40
test_status=${PIPESTATUS[0]}
set -e

echo "== benchmark"
"$PYTHON" -m torch_sigmoid_ext benchmark --device cuda --csv "$LOG_DIR/benchmark_cuda.csv" \
  --plot "$LOG_DIR/benchmark_cuda.png" 2>&1 | tee "$LOG_DIR/benchmark_cuda.log"

echo "== tests exit status: $test_status"
exit "$test_status"
