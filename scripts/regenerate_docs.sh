#!/usr/bin/env bash
# Measures again every figure that docs/ and the README quote, and writes the results there:
# the accuracy sweep, the CPU benchmark grid, its per-call and non-dense modes, and the
# examples' plots. Each CSV row and the JSON carry the machine, CPU flags, torch and commit they
# were measured on; the tables in the README and docs/*.md are copied from these files.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
usage: scripts/regenerate_docs.sh [--quick] [--out DIR]

Runs, in the source tree, with the package built (pip install --no-build-isolation -e ".[tools]"):
  python -m torch_sigmoid_ext accuracy     -> DIR/accuracy_cpu.json
  python -m torch_sigmoid_ext benchmark    -> DIR/benchmark_cpu.csv, .png (1 and 2 threads)
                                              DIR/benchmark_cpu_2t.csv (the README's table)
  ... benchmark --rounding correct         -> DIR/benchmark_cpu_2t_correct.csv (float32)
  ... benchmark --per-call                 -> DIR/per_call_cpu.csv
  ... benchmark --non-dense                -> DIR/non_dense_cpu.csv
  examples/*.py                            -> DIR/decision_boundary.png, derivative.png,
                                              vanishing_gradients.png
About an hour on 2 cores; run it on a quiet machine, since the speed figures are only as good
as the machine is idle.

options:
  --quick    each tool's short form, to check that the commands work (a minute or two)
  --out DIR  where to write (default: docs)
EOF
}

out=docs
quick=()
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --quick) quick=(--quick) ;;
    --out)
      [ $# -ge 2 ] || { echo "regenerate_docs.sh: --out needs a folder" >&2; exit 2; }
      out=$2
      shift
      ;;
    *) echo "regenerate_docs.sh: unknown option $1; see --help" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
python=${PYTHON:-python}

if [ ${#quick[@]} -gt 0 ]; then
  grid=(--quick)
  grid_2t=(--quick --threads 2)
  grid_correct=(--quick --dtypes float32 --threads 2)
  per_call=(--rounds 2 --min-time 0.002 --no-compile)
  non_dense=(--sizes 12 --samples 3 --min-time 0.002)
else
  grid=(--dtypes float32 bfloat16 float16 float64 --sizes 10 14 17 20 22 24 --threads 1 2
    --samples 11 --min-time 0.02)
  grid_2t=(--sizes 14 16 17 18 20 22 24 --threads 2 --samples 7)
  grid_correct=(--dtypes float32 --sizes 16 20 24 --modes forward backward --threads 2
    --samples 7)
  per_call=()
  non_dense=()
fi

set -x
"$python" -m torch_sigmoid_ext accuracy --device cpu "${quick[@]}" --json "$out/accuracy_cpu.json"
"$python" -m torch_sigmoid_ext benchmark "${grid[@]}" \
  --csv "$out/benchmark_cpu.csv" --plot "$out/benchmark_cpu.png"
"$python" -m torch_sigmoid_ext benchmark "${grid_2t[@]}" --csv "$out/benchmark_cpu_2t.csv" --plot ''
"$python" -m torch_sigmoid_ext benchmark "${grid_correct[@]}" --rounding correct \
  --csv "$out/benchmark_cpu_2t_correct.csv" --plot ''
"$python" -m torch_sigmoid_ext benchmark --per-call "${per_call[@]}" --csv "$out/per_call_cpu.csv"
"$python" -m torch_sigmoid_ext benchmark --non-dense "${non_dense[@]}" --csv "$out/non_dense_cpu.csv"
"$python" examples/train_classifier.py "${quick[@]}" --out-dir "$out"
"$python" examples/derivative.py "${quick[@]}" --out-dir "$out"
"$python" examples/vanishing_gradients.py "${quick[@]}" --out-dir "$out"
