"""The package around the ops: build facts, refusing a mismatched torch, the command line."""

import os
import shutil
import subprocess
import sys

import pytest
import torch

import torch_sigmoid_ext as tse

PACKAGE_DIR = os.path.dirname(tse.__file__)


def _run(code, **kwargs):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, **kwargs
    )


def test_build_info():
    info = tse.build_info()
    assert info["torch_version"].split("+")[0] == torch.__version__.split("+")[0]
    assert info["cuda"] == bool(info["cuda_archs"])
    assert info["cpu_variant"] in info["cpu_variants_supported"].split(",")
    assert info["version"] == tse.__version__


def test_mismatched_torch_raises_import_error():
    code = (
        "import torch; torch.__version__ = '2.99.0'\n"
        "try:\n    import torch_sigmoid_ext\nexcept ImportError as e:\n    print('IE', e)\n"
    )
    out = _run(code)
    assert "IE torch_sigmoid_ext was built against torch" in out.stdout, out.stderr
    assert "2.99.0" in out.stdout and "Rebuild" in out.stdout


def test_unbuilt_source_tree_raises_import_error(tmp_path):
    copy = tmp_path / "torch_sigmoid_ext"
    shutil.copytree(
        PACKAGE_DIR,
        copy,
        ignore=shutil.ignore_patterns("_C*.so", "_build_config.py", "__pycache__"),
    )
    # Drop an editable install's finder, which would otherwise find the built tree first.
    code = (
        "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in "
        "repr(f).lower()]; import torch_sigmoid_ext"
    )
    out = _run(code, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    assert out.returncode != 0
    assert "ImportError: torch_sigmoid_ext: the native extension is not built" in out.stderr
    assert "pip install --no-build-isolation" in out.stderr


def test_compare_command_quick():
    out = subprocess.run(
        [sys.executable, "-m", "torch_sigmoid_ext", "compare", "--quick", "--device", "cpu"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "agreement: OK" in out.stdout
    assert "float32" in out.stdout and "torch" in out.stdout


def test_help_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "torch_sigmoid_ext", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    for command in ("compare", "benchmark", "accuracy"):
        assert command in out.stdout


def test_quickstart_example_trains():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        [sys.executable, os.path.join(root, "examples", "quickstart.py")],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    accuracy = float(out.stdout.split("accuracy ")[1].split("%")[0])
    assert accuracy > 90


def test_benchmark_quick_mode(tmp_path):
    # A smoke test: the tool runs and writes its CSV; it asserts no speed.
    csv_path, png_path = tmp_path / "bench.csv", tmp_path / "bench.png"
    out = subprocess.run(
        [sys.executable, "-m", "torch_sigmoid_ext.benchmark", "--quick", "--samples", "2",
         "--min-time", "0.002", "--csv", str(csv_path), "--plot", str(png_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    rows = csv_path.read_text().splitlines()
    header = rows[0].split(",")
    for column in ("machine", "torch", "package", "commit", "dtype", "size", "mode",
                   "ours_us", "torch_us", "speedup", "roof_us", "roof_gbs", "bound",
                   "ours_mean_us", "torch_mean_us", "mean_speedup"):
        assert column in header
    assert len(rows) == 1 + 2 * 3 * 4  # dtypes x sizes x modes
    assert "speedup" in out.stdout


@pytest.mark.parametrize("mode", ["forward", "forward_out", "backward", "fwd_bwd"])
def test_benchmark_roof_moves_what_the_op_moves(mode):
    # The roofline is only a bound if it reads and writes what the op does: the same buffers in
    # the same rotation, and as many bytes out.
    from torch_sigmoid_ext import benchmark

    dtype, size = torch.bfloat16, 1 << 20
    nbuf = benchmark._buffers(mode, dtype, size)
    assert nbuf > 1
    ours, theirs, roof = benchmark._callables(mode, dtype, size, torch.device("cpu"))

    def written(fn):
        outs = [fn() for _ in range(2 * nbuf)]
        outs = [o[0] if isinstance(o, tuple) else o for o in outs]
        return [(o.untyped_storage().nbytes(), o.data_ptr()) for o in outs]

    mine, plain = written(ours), written(roof)
    assert [n for n, _ in mine] == [n for n, _ in plain] == [size * dtype.itemsize] * 2 * nbuf
    if mode == "forward_out":  # the same output buffers, in the same order, nbuf of them
        assert [p for _, p in mine] == [p for _, p in plain]
        assert len({p for _, p in mine}) == nbuf


def test_benchmark_times_with_the_thread_count_it_reports():
    # torch.utils.benchmark.Timer runs on one thread unless told otherwise: every "2 threads"
    # row was once a one-thread measurement.
    from torch_sigmoid_ext import benchmark

    original = torch.get_num_threads()
    seen = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            record = lambda: seen.append(torch.get_num_threads())  # noqa: E731
            timer, _ = benchmark._time(record, torch.device("cpu"), 0.0)
            seen.clear()
            timer.timeit(3)
            assert seen and set(seen) == {n}, (n, seen)
    finally:
        torch.set_num_threads(original)
