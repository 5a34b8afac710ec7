"""The package around the ops: build facts, refusing a torch older than the target, the command
line."""

import io
import os
import re
import shutil
import subprocess
import sys

import pytest
import torch
from packaging.version import Version

import torch_sigmoid_ext as tse
from torch_sigmoid_ext import __main__ as cli
from torch_sigmoid_ext._extension import native
from torch_sigmoid_ext.tools import _cli, benchmark, compare

PACKAGE_DIR = os.path.dirname(tse.__file__)


def _run(code, **kwargs):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, **kwargs
    )


def _tool(*args):
    # stderr is a pipe, not a terminal, as when a user redirects it to a file.
    return subprocess.run([sys.executable, "-m", "torch_sigmoid_ext", *args],
                          capture_output=True, text=True, timeout=300)


def _tables(text):
    """Every table in a tool's output, as (header cells, rows of cells, legend names), checking
    that the columns are apart: the header, its rule of dashes and every row split into the
    same number of cells at runs of two or more spaces."""
    lines = text.splitlines()
    tables = []
    for i in range(1, len(lines)):
        if not re.fullmatch(r"-+(  -+)*", lines[i]):
            continue
        header = re.split(r" {2,}", lines[i - 1].strip())
        assert len(header) == len(lines[i].split()), lines[i - 1]
        end = lines.index("", i)
        rows = [re.split(r" {2,}", line.strip()) for line in lines[i + 1:end]]
        assert rows and all(len(row) == len(header) for row in rows), lines[i - 1:end]
        legend = []
        for line in lines[end + 1:]:
            if not line.startswith("  "):
                break
            name = re.match(r"  (\S.*?)( {2,}|$)", line)
            if name:
                legend.append(name.group(1))
        tables.append((header, rows, legend))
    return tables


def _check_tables(out, count):
    tables = _tables(out.stdout)
    assert len(tables) == count, out.stdout
    for header, _, legend in tables:
        assert legend == header, "every column needs a line in the legend"
    assert "\r" not in out.stderr, "a progress bar redrew itself into a file"
    return tables


def test_build_info():
    info = tse.build_info()
    # Built with any torch from the target on; loaded in any torch from the target on.
    assert info["torch_target"] == "2.10"
    assert Version(info["torch_version"]) >= Version(info["torch_target"])
    assert Version(torch.__version__) >= Version(info["torch_target"])
    assert info["cuda"] == bool(info["cuda_archs"])
    assert info["cpu_variant"] in info["cpu_variants_supported"].split(",")
    assert info["version"] == tse.__version__
    assert info["build"].startswith(("CPU kernels only: ", "CPU and CUDA kernels for ")), info


@pytest.mark.skipif(shutil.which("objdump") is None or os.uname().machine != "x86_64",
                    reason="needs objdump, on x86-64")
def test_code_run_at_load_uses_no_vector_extension():
    # The static initializers, and the library's functions they call, run on every CPU before
    # any variant is chosen, so they must be baseline x86-64: no VEX/EVEX instruction (AVX,
    # AVX2, AVX-512: their mnemonics start with v). The avx512_bf16 table was once built by a
    # function compiled for AVX-512, which died of SIGILL on CPUs without it, and a CPU with it
    # never shows that.
    dump = subprocess.run(["objdump", "-d", "--no-show-raw-insn", native.path],
                          capture_output=True, text=True, check=True).stdout
    bodies = dict(re.findall(r"^[0-9a-f]+ <([^>]+)>:\n(.*?)(?=\n\n|\Z)", dump, re.S | re.M))
    todo = [name for name in bodies if name.startswith("_GLOBAL__sub_I_")]
    assert todo, "no static initializer found; has the compiler changed their names?"
    seen = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        vector = [l for l in bodies[name].splitlines() if re.match(r"\s*[0-9a-f]+:\s+v", l)]
        assert not vector, (name, vector[:3])
        todo += [c for c in re.findall(r"\bcall\s+[0-9a-f]+ <([^>+]+)>", bodies[name])
                 if c in bodies]


@pytest.mark.skipif(shutil.which("nm") is None or shutil.which("c++filt") is None,
                    reason="needs binutils' nm and c++filt")
def test_library_needs_no_torch_cpp_symbol():
    # The stable ABI's promise: only C functions of libtorch (aoti_torch_*, torch_*), none of
    # its C++ API, whose symbols change between releases.
    undefined = subprocess.run(["nm", "-D", "--undefined-only", native.path],
                               capture_output=True, text=True, check=True).stdout
    names = subprocess.run(["c++filt"], input=undefined, capture_output=True, text=True,
                           check=True).stdout
    cpp = [ln for ln in names.splitlines() if re.search(r"\b(at|c10|torch)::", ln)]
    assert not cpp, "\n".join(cpp)
    assert "aoti_torch_empty_strided" in names  # the check sees the library's imports


def test_torch_older_than_the_target_raises_import_error():
    code = (
        "import torch; torch.__version__ = '2.9.1'\n"
        "try:\n    import torch_sigmoid_ext\nexcept ImportError as e:\n    print('IE', e)\n"
    )
    out = _run(code)
    assert "IE torch_sigmoid_ext needs torch 2.10 or newer, but torch 2.9.1" in out.stdout, out.stderr


@pytest.mark.parametrize("version", ["2.10.0", "2.99.0"])
def test_torch_from_the_target_on_is_accepted(version):
    # One build loads in any torch from the target on, not only the one it was built with.
    code = f"import torch; torch.__version__ = {version!r}\nimport torch_sigmoid_ext\nprint('ok')"
    out = _run(code)
    assert out.stdout.strip() == "ok", out.stderr


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
    out = _tool("compare", "--quick", "--device", "cpu")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "agreement: OK" in out.stdout
    accuracy, _, speed = _check_tables(out, 3)
    assert {row[1] for row in accuracy[1]} == {"ours", "torch"}
    assert {row[-1] for row in accuracy[1]} == {"ok", "-"}
    for row in speed[1]:
        assert re.fullmatch(r"\d+\.\d\dx|noisy", row[speed[0].index("speedup")]), row


def test_table_keeps_columns_apart():
    # The widths that once ran together: 8.904e-082095392.23 and complex128ours.
    columns = [_cli.Column("dtype", "d", align="<"), _cli.Column("impl", "i", align="<"),
               _cli.Column("err", "e", "{:.3e}"), _cli.Column("ULP", "u", "{:.2f}")]
    text = _cli.table(columns, [("complex128", "ours", 8.904e-08, 2095392.23),
                                ("float16", "torch", 1e-300, 0.5)])
    header, rows, legend = _tables(text + "\n")[0]
    assert header == legend == ["dtype", "impl", "err", "ULP"]
    assert rows == [["complex128", "ours", "8.904e-08", "2095392.23"],
                    ["float16", "torch", "1.000e-300", "0.50"]]
    assert text.splitlines()[2].endswith("8.904e-08  2095392.23")  # numbers to the right


STEADY = [2.0, 2.02, 1.98, 2.0, 2.04, 1.96, 2.0]


def _samples(ratios, slowed=()):
    # ours takes 1 s per sample; torch takes ratio s; samples in `slowed` take 12x on both sides.
    ours = [12.0 if i in slowed else 1.0 for i in range(len(ratios))]
    return [r * o for r, o in zip(ratios, ours)], ours


@pytest.mark.parametrize("ratios, slowed, cpu_wait, shown", [
    (STEADY, (), None, "2.00x"),
    (STEADY, (), 0.1, "2.00x"),
    # the middle half of the ratios spans 0.6x to 2x: no figure to quote
    ([0.5, 2.0, 0.6, 1.8, 1.0, 0.4, 2.2], (), None, "noisy"),
    # both sides slowed alike in most samples: the ratios agree, on nothing but the scheduler
    ([1.0] * 7, (1, 2, 3, 4, 5), None, "noisy"),
    # or in every sample, which only the time spent waiting for a CPU gives away
    (STEADY, (), 0.3, "noisy"),
])
def test_compare_marks_a_noisy_speedup(monkeypatch, ratios, slowed, cpu_wait, shown):
    theirs, ours = _samples(ratios, slowed)
    ratio, spread, noisy = benchmark.speedup(theirs, ours, cpu_wait)
    assert noisy == (shown == "noisy")
    assert (spread > benchmark.NOISY_SPREAD) == (ratios is not STEADY and not slowed)
    monkeypatch.setattr(benchmark, "measure", lambda fns, *args: ((ours, theirs), cpu_wait))
    rows = compare._timing_rows(torch.device("cpu"), [1 << 10], len(ratios), 0.0)
    assert [row[-1] for row in rows] == [shown] * len(rows)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="schedstat is Linux's")
def test_measure_reports_the_time_spent_waiting_for_a_cpu():
    times, cpu_wait = benchmark.measure([lambda: None], torch.device("cpu"), 2, 0.001)
    assert len(times[0]) == 2 and 0.0 <= cpu_wait


@pytest.mark.parametrize("tty", [False, True])
def test_progress_bar_draws_only_on_a_terminal(monkeypatch, tty):
    class Stream(io.StringIO):
        def isatty(self):
            return tty

    stream = Stream()
    monkeypatch.setattr(sys, "stderr", stream)
    with _cli.progress(3, "test") as bar:
        for _ in range(3):
            bar.update()
    assert ("\r" in stream.getvalue()) == tty


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
@pytest.mark.parametrize("command", ["compare", "benchmark", "accuracy"])
def test_device_cuda_without_a_gpu_says_so_in_one_line(capsys, command):
    assert cli.main([command, "--device", "cuda"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    [line] = out.err.splitlines()
    assert "--device cuda" in line and "--device cpu" in line, line


def test_device_that_torch_does_not_know(capsys):
    assert _cli.parse_device("tool", "gpu") is None
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("tool: --device gpu: ") and "use cpu or cuda" in line


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
    out = _tool("benchmark", "--quick", "--samples", "2", "--min-time", "0.002",
                "--csv", str(csv_path), "--plot", str(png_path))
    assert out.returncode == 0, out.stdout + out.stderr
    rows = csv_path.read_text().splitlines()
    header = rows[0].split(",")
    for column in ("machine", "torch", "package", "commit", "dtype", "size", "mode",
                   "ours_us", "torch_us", "speedup", "roof_us", "roof_gbs", "bound",
                   "ours_mean_us", "torch_mean_us", "mean_speedup", "speedup_noisy"):
        assert column in header
    assert len(rows) == 1 + 2 * 3 * 4  # dtypes x sizes x modes
    [(_, table_rows, _)] = _check_tables(out, 1)
    assert len(table_rows) == 2 * 3 * 4



def test_benchmark_per_call_prints_every_row(tmp_path):
    # A smoke test: one short round per row, the compile rows left out to stay quick; it
    # asserts no speed.
    csv_path = tmp_path / "per_call.csv"
    out = _tool("benchmark", "--per-call", "--rounds", "1", "--min-time", "0.0002",
                "--no-compile", "--csv", str(csv_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "CPU flags: avx" in out.stdout or "CPU flags: neither" in out.stdout, out.stdout
    [(header, table_rows, _)] = _check_tables(out, 1)
    expected = [row for row in benchmark.PER_CALL_ROWS if not row.compiled]
    assert [row[header.index("call")] for row in table_rows] == [r.call for r in expected]
    for cells, row in zip(table_rows, expected):
        assert re.fullmatch(r"\d+\.\d{3}", cells[header.index("ours/torch")]), cells
        assert cells[header.index("met")] in (("yes", "no") if row.bound else ("-",)), cells
    assert len(csv_path.read_text().splitlines()) == 1 + len(expected)


def test_benchmark_per_call_help_shows_the_defaults():
    out = _tool("benchmark", "--help")
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())  # argparse wraps to the terminal's width
    assert "--per-call" in text and "--no-compile" in text
    assert "rounds per row (default: 15)" in text, text

def test_accuracy_command_quick(tmp_path):
    out = _tool("accuracy", "--quick", "--dtypes", "float16", "bfloat16", "--device", "cpu",
                "--json", str(tmp_path / "accuracy.json"))
    assert out.returncode == 0, out.stdout + out.stderr
    errors, checks = _check_tables(out, 2)
    assert [row[:2] for row in errors[1]] == [
        ["float16", "ours"], ["float16", "torch"], ["bfloat16", "ours"], ["bfloat16", "torch"]]
    for dtype, same_bits, special_ours, _ in checks[1]:
        assert same_bits.startswith("yes") and special_ours == "as expected", dtype


@pytest.mark.parametrize("mode", ["forward", "forward_out", "backward", "fwd_bwd"])
def test_benchmark_roof_moves_what_the_op_moves(mode):
    # The roofline is only a bound if it reads and writes what the op does: the same buffers in
    # the same rotation, and as many bytes out.
    from torch_sigmoid_ext.tools import benchmark

    dtype, size = torch.bfloat16, 1 << 20
    nbuf = benchmark._buffers(mode, dtype, size)
    assert nbuf > 1
    ours, theirs, roof = benchmark.callables(mode, dtype, size, torch.device("cpu"))

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
    from torch_sigmoid_ext.tools import benchmark

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
