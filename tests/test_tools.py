"""The command-line tools (python -m torch_sigmoid_ext compare, benchmark, accuracy): their
output, their help, one-line errors for every invalid value, their dependencies. Speed is never
asserted: the timed runs are smoke tests, and where a figure is checked it is a faked one."""

import csv
import io
import os
import re
import subprocess
import sys

import pytest
import torch

import torch_sigmoid_ext as tse
from torch_sigmoid_ext import __main__ as cli
from torch_sigmoid_ext.tools import _cli, accuracy, benchmark, compare, timing

COMMANDS = {"compare": compare, "benchmark": benchmark, "accuracy": accuracy}
# A grid small enough to be a smoke test.
TINY_GRID = ("--sizes", "10", "--dtypes", "float32", "--samples", "2", "--min-time", "0.001",
             "--threads", "1")


def _tool(*args, cwd=None, env=None, prelude=None):
    """The tool in a new process, stderr a pipe (not a terminal), as when a user redirects it
    to a file. prelude: Python run first, in the same process (to hide a module)."""
    if prelude is None:
        command = [sys.executable, "-m", "torch_sigmoid_ext", *args]
    else:
        code = (f"{prelude}\nimport runpy, sys\nsys.argv = ['torch_sigmoid_ext', *{args!r}]\n"
                "runpy.run_module('torch_sigmoid_ext', run_name='__main__')")
        command = [sys.executable, "-c", code]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd,
                          env=env)


def _main(capsys, *args):
    """The tool in this process: (exit status, stdout, stderr)."""
    try:
        status = cli.main(list(args))
    except SystemExit as exit_:
        status = exit_.code
    out = capsys.readouterr()
    return status, out.out, out.err


def _tables(text):
    """Every table in a tool's output, as (header cells, rows of cells, legend names), checking
    that the columns are apart: the header, its rule of dashes and every row split into the
    same number of cells at runs of two or more spaces."""
    lines = text.splitlines()
    tables = []
    for index in range(1, len(lines)):
        if not re.fullmatch(r"-+(  -+)*", lines[index]):
            continue
        header = re.split(r" {2,}", lines[index - 1].strip())
        assert len(header) == len(lines[index].split()), lines[index - 1]
        end = lines.index("", index)
        rows = [re.split(r" {2,}", line.strip()) for line in lines[index + 1:end]]
        assert rows and all(len(row) == len(header) for row in rows), lines[index - 1:end]
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


def _one_line_error(status, out, err):
    assert status == 2, (status, out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --- Output -----------------------------------------------------------------------------------

def test_compare_command_quick():
    out = _tool("compare", "--quick", "--device", "cpu")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "agreement: OK" in out.stdout
    assert "rounding: default" in out.stdout.splitlines()[0]
    accuracy_table, _, speed = _check_tables(out, 3)
    assert {row[1] for row in accuracy_table[1]} == {"ours", "torch"}
    assert {row[-1] for row in accuracy_table[1]} == {"ok", "-"}
    for row in speed[1]:
        assert re.fullmatch(r"\d+\.\d\dx|noisy", row[speed[0].index("speedup")]), row


def test_table_keeps_columns_apart():
    # Widths that would run together if a column were only as wide as its header.
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
    ours = [12.0 if index in slowed else 1.0 for index in range(len(ratios))]
    return [ratio * mine for ratio, mine in zip(ratios, ours)], ours


NOISY_CASES = [
    (STEADY, (), None, "2.00x"),
    (STEADY, (), 0.1, "2.00x"),
    # the middle half of the ratios spans 0.6x to 2x: no figure to quote
    ([0.5, 2.0, 0.6, 1.8, 1.0, 0.4, 2.2], (), None, "noisy"),
    # both sides slowed alike in most samples: the ratios agree, on nothing but the scheduler
    ([1.0] * 7, (1, 2, 3, 4, 5), None, "noisy"),
    # or in every sample, which only the time spent waiting for a CPU gives away
    (STEADY, (), 0.3, "noisy"),
]


@pytest.mark.parametrize("ratios, slowed, cpu_wait, shown", NOISY_CASES)
def test_compare_marks_a_noisy_speedup(monkeypatch, ratios, slowed, cpu_wait, shown):
    theirs, ours = _samples(ratios, slowed)
    speedup = timing.speedup(theirs, ours, cpu_wait)
    assert speedup.noisy == (shown == "noisy")
    assert (speedup.spread > timing.NOISY_SPREAD) == (ratios is not STEADY and not slowed)
    monkeypatch.setattr(timing, "measure", lambda fns, *args, **kwargs: ((ours, theirs),
                                                                         cpu_wait))
    rows = compare._timing_rows(torch.device("cpu"), [1 << 10], len(ratios), 0.0)
    assert [row[-1] for row in rows] == [shown] * len(rows)


@pytest.mark.parametrize("ratios, slowed, cpu_wait, shown", NOISY_CASES)
def test_benchmark_prints_noisy_in_speedup_and_mean(monkeypatch, capsys, ratios, slowed,
                                                    cpu_wait, shown):
    theirs, ours = _samples(ratios, slowed)
    monkeypatch.setattr(timing, "measure", lambda fns, *args, **kwargs: ((ours, theirs, ours),
                                                                         cpu_wait))
    parser = benchmark.build_parser()
    args = parser.parse_args(["--sizes", "10", "--dtypes", "float32", "--modes", "forward",
                              "--threads", "1", "--samples", str(len(ratios))])
    device = torch.device("cpu")
    benchmark.resolve(parser, args, device)
    rows = benchmark.run_grid(args, device)
    benchmark.print_grid(rows, device)
    [(header, [cells], _)] = _tables(capsys.readouterr().out)
    assert cells[header.index("speedup")] == shown
    mean = cells[header.index("mean")]
    assert mean == "noisy" if shown == "noisy" else re.fullmatch(r"\d+\.\d\dx", mean), cells
    # and the plot leaves the noisy point out
    assert (benchmark._quoted(rows, "speedup", "speedup_noisy")[0] != rows[0]["speedup"]) == (
        shown == "noisy")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="schedstat is Linux's")
def test_measure_reports_the_time_spent_waiting_for_a_cpu():
    times, cpu_wait = timing.measure([lambda: None], torch.device("cpu"), 2, 0.001)
    assert len(times[0]) == 2 and 0.0 <= cpu_wait


def test_measure_interleaves_and_alternates():
    calls = []
    fns = [lambda: calls.append("a"), lambda: calls.append("b")]
    timing.measure(fns, torch.device("cpu"), 2, 0.0, alternate=True)
    # one call each to size the loops, one more timed alone, then a call per sample each
    assert calls == ["a", "a", "b", "b", "a", "b", "b", "a"]


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


def test_benchmark_quick_mode_writes_under_tse_results(tmp_path):
    # A smoke test: the tool runs and writes its CSV and plot where --help says; no speed.
    out = _tool("benchmark", "--quick", "--dtypes", "float32", "--samples", "2",
                "--min-time", "0.001", "--modes", "forward", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    results = tmp_path / _cli.RESULTS_DIR
    rows = (results / "benchmark.csv").read_text().splitlines()
    header = rows[0].split(",")
    for column in ("machine", "cpu_flags", "torch", "package", "commit", "variant", "rounding",
                   "dtype", "size",
                   "mode", "ours_us", "torch_us", "speedup", "speedup_spread", "roof_us",
                   "roof_gbs", "bound", "ours_mean_us", "torch_mean_us", "mean_speedup",
                   "speedup_noisy"):
        assert column in header
    assert len(rows) == 1 + len(benchmark.QUICK["sizes"])
    assert (results / "benchmark.png").stat().st_size > 0
    [(table_header, table_rows, _)] = _check_tables(out, 1)
    assert len(table_rows) == len(benchmark.QUICK["sizes"])
    assert "spread" in table_header


def test_benchmark_writes_no_plot_for_an_empty_path(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    status, out, _ = _main(capsys, "benchmark", *TINY_GRID, "--modes", "forward", "--plot", "",
                           "--csv", "grid.csv")
    assert status == 0, out
    assert os.listdir(tmp_path) == ["grid.csv"]


def test_benchmark_rounding_is_set_for_the_run_and_recorded(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    seen = []
    monkeypatch.setattr(benchmark, "run_grid",
                        lambda args, device: seen.append(tse.get_rounding()) or
                        [dict(benchmark.machine_columns(device), dtype="float32")])
    monkeypatch.setattr(benchmark, "print_grid", lambda rows, device: None)
    before = tse.get_rounding()
    status, out, err = _main(capsys, "benchmark", *TINY_GRID, "--rounding", "correct",
                             "--plot", "", "--csv", "grid.csv")
    assert status == 0, out + err
    assert seen == ["correct"] and tse.get_rounding() == before
    assert "rounding: correct" in out.splitlines()[0]
    with open(tmp_path / "grid.csv", newline="") as csv_file:
        [row] = list(csv.DictReader(csv_file))
    assert row["rounding"] == "correct"


def test_benchmark_per_call_prints_every_row(tmp_path):
    # A smoke test: one short round per row, the compile rows left out to stay quick.
    out = _tool("benchmark", "--per-call", "--rounds", "1", "--min-time", "0.0002",
                "--no-compile", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "CPU flags: avx" in out.stdout or "CPU flags: neither" in out.stdout, out.stdout
    [(header, table_rows, _)] = _check_tables(out, 1)
    expected = [row for row in benchmark.PER_CALL_ROWS if not row.compiled]
    assert [row[header.index("call")] for row in table_rows] == [r.call for r in expected]
    for cells, row in zip(table_rows, expected):
        assert re.fullmatch(r"\d+\.\d{3}|noisy", cells[header.index("ours/torch")]), cells
        assert re.fullmatch(r"\d+%", cells[header.index("spread")]), cells
        met = ("yes", "no", "noisy") if row.bound else ("-",)
        assert cells[header.index("met")] in met, cells
    csv_rows = (tmp_path / _cli.RESULTS_DIR / "per_call.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + len(expected)
    assert "cpu_flags" in csv_rows[0] and "ratio_spread" in csv_rows[0]


def test_benchmark_non_dense(tmp_path):
    out = _tool("benchmark", "--non-dense", "--sizes", "10", "12", "--samples", "2",
                "--min-time", "0.001", "--threads", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    [(header, table_rows, _)] = _check_tables(out, 1)
    assert [row[header.index("layout")] for row in table_rows] == list(benchmark.LAYOUTS) * 2
    for cells in table_rows:
        assert re.fullmatch(r"\d+\.\d\dx|noisy", cells[header.index("speedup")]), cells
        assert re.fullmatch(r"\d+%", cells[header.index("spread")]), cells
    csv_rows = (tmp_path / _cli.RESULTS_DIR / "non_dense.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + 4 and "commit" in csv_rows[0]


def test_non_dense_inputs_are_what_they_say(monkeypatch):
    seen = []
    monkeypatch.setattr(tse, "sigmoid", lambda x: seen.append(x) or torch.sigmoid(x))
    slice_ours, _, dense_ours, _ = benchmark.non_dense_callables(
        torch.float32, 1 << 12, torch.device("cpu"))
    slice_ours()
    dense_ours()
    sliced, dense = seen
    assert not sliced.is_contiguous() and not sliced.t().is_contiguous()
    assert dense.is_contiguous() and torch.equal(sliced, dense)
    assert sliced.numel() == 1 << 12


@pytest.mark.skipif(not torch.cuda.is_available() or not tse.build_info()["cuda"],
                    reason="needs a GPU and the CUDA kernels")
def test_benchmark_grid_on_cuda(tmp_path):
    out = _tool("benchmark", "--device", "cuda", "--sizes", "16", "--dtypes", "float32",
                "--samples", "3", "--min-time", "0.001", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    [(header, table_rows, _)] = _check_tables(out, 1)
    assert len(table_rows) == len(benchmark.MODES)
    assert {row[header.index("thr")] for row in table_rows} == {"-"}
    csv_text = (tmp_path / _cli.RESULTS_DIR / "benchmark_cuda.csv").read_text()
    assert "cuda" in csv_text.splitlines()[1]


def test_accuracy_command_quick(tmp_path):
    out = _tool("accuracy", "--quick", "--dtypes", "float16", "bfloat16", "--device", "cpu",
                cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    errors, checks = _check_tables(out, 2)
    assert [row[:3] for row in errors[1]] == [
        [dtype, impl, mode] for dtype in ("float16", "bfloat16")
        for impl, mode in (("ours", "default"), ("ours", "correct"), ("torch", "-"))]
    header = errors[0]
    for row in errors[1]:
        for column in ("not rounded", "bwd not rounded"):
            assert re.fullmatch(r"\d[\d,]*", row[header.index(column)]), row
    for dtype, same_bits, special_ours, _ in checks[1]:
        assert same_bits.startswith("yes") and special_ours == "as expected", dtype
    assert (tmp_path / _cli.RESULTS_DIR / "accuracy.json").exists()


@pytest.mark.parametrize("mode", benchmark.MODES)
def test_benchmark_roof_moves_what_the_op_moves(mode):
    # The roofline is only a bound if it reads and writes what the op does: the same buffers in
    # the same rotation, and as many bytes out.
    dtype, size = torch.bfloat16, 1 << 20
    count = benchmark.buffer_count(mode, dtype, size)
    assert count > 1
    ours, _, roof = benchmark.callables(mode, dtype, size, torch.device("cpu"))

    def written(fn):
        outs = [fn() for _ in range(2 * count)]
        outs = [out[0] if isinstance(out, tuple) else out for out in outs]
        return [(out.untyped_storage().nbytes(), out.data_ptr()) for out in outs]

    mine, plain = written(ours), written(roof)
    assert [n for n, _ in mine] == [n for n, _ in plain] == [size * dtype.itemsize] * 2 * count
    if mode == "forward_out":  # the same output buffers, in the same order, count of them
        assert [p for _, p in mine] == [p for _, p in plain]
        assert len({p for _, p in mine}) == count


def test_timed_calls_run_with_the_thread_count_the_row_reports():
    original = torch.get_num_threads()
    seen = []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            seen.clear()
            timing.time_calls(lambda: seen.append(torch.get_num_threads()),
                              torch.device("cpu"), 3)
            assert seen == [count] * 3
    finally:
        torch.set_num_threads(original)


# --- Help ----------------------------------------------------------------------------------

HELP_SCRIPT = """
import sys
from torch_sigmoid_ext import __main__ as cli
for args in (["--help"], ["compare", "--help"], ["benchmark", "--help"], ["accuracy", "--help"]):
    print("=== " + " ".join(args), flush=True)
    try:
        status = cli.main(args)
    except SystemExit as exit_:
        status = exit_.code
    print("=== status", status, flush=True)
imported = [name for name in ("torch.utils.cpp_extension", "torch.utils.benchmark")
            if name in sys.modules]
print("=== imported", *imported, flush=True)
"""


@pytest.fixture(scope="module")
def help_output():
    """Every command's --help, from one fresh process (a warning that an import logs shows once
    per process)."""
    out = subprocess.run([sys.executable, "-c", HELP_SCRIPT], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    sections = {}
    for section in out.stdout.split("=== ")[1:]:
        name, _, text = section.partition("\n")
        if name.startswith("imported"):
            sections["imported"] = name.split()[1:]
        elif not name.startswith("status"):
            sections[name] = text
        else:
            assert name == "status 0", sections
    return sections, out.stderr


def test_help_lists_commands(help_output):
    sections, stderr = help_output
    for command in COMMANDS:
        assert command in sections["--help"]
    assert "CUDA_HOME" not in stderr and "cpp_extension" not in stderr, stderr


@pytest.mark.parametrize("command", list(COMMANDS))
def test_command_help_shows_defaults_and_no_warning(help_output, command):
    sections, stderr = help_output
    text = " ".join(sections[f"{command} --help"].split())  # argparse wraps to the width
    assert "(default:" in text
    assert "CUDA_HOME" not in stderr and "cpp_extension" not in stderr, stderr
    first_paragraph = " ".join(COMMANDS[command].__doc__.strip().split("\n\n")[0].split())
    assert first_paragraph in text


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_option_has_help_with_its_default(command):
    parser = COMMANDS[command].build_parser()
    description = " ".join(COMMANDS[command].__doc__.strip().split("\n\n")[0].split())
    assert parser.description == description
    assert description.endswith(".")
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help and "default" in action.help, action.option_strings


def test_per_call_help_shows_the_rounds_default():
    text = " ".join(benchmark.build_parser().format_help().split())
    assert f"rounds per row (default: {benchmark.PER_CALL_ROUNDS})" in text


def test_tools_do_not_import_cpp_extension_or_torch_benchmark(help_output):
    # Either would log a warning about CUDA_HOME on a machine with nvcc and no GPU.
    sections, _ = help_output
    assert sections["imported"] == []


# --- Invalid values: one line on stderr, exit status 2 ----------------------------------------

BAD_VALUES = [
    ("benchmark", "--sizes", "-1"),
    ("benchmark", "--sizes", "40"),
    ("benchmark", "--sizes", "x"),
    ("benchmark", "--non-dense", "--sizes", "40"),
    ("benchmark", "--samples", "0"),
    ("benchmark", "--samples", "-3"),
    ("benchmark", "--min-time", "0"),
    ("benchmark", "--min-time", "-1"),
    ("benchmark", "--threads", "0"),
    ("benchmark", "--threads", "100000"),
    ("benchmark", "--per-call", "--rounds", "0"),
    ("benchmark", "--per-call", "--sizes", "10"),
    ("benchmark", "--per-call", "--quick"),
    ("benchmark", "--rounds", "3"),
    ("benchmark", "--per-call", "--non-dense"),
    ("benchmark", "--dtypes", "int8"),
    ("compare", "--samples", "0"),
    ("compare", "--samples", "-1"),
    ("accuracy", "--chunk-bits", "0"),
    ("accuracy", "--chunk-bits", "40"),
    ("accuracy", "--float64-samples", "0"),
    ("accuracy", "--float64-samples", "-5"),
    ("accuracy", "--rounding", "exact"),
    ("benchmark", "--rounding", "both"),
    ("nosuchcommand",),
    ("benchmark", "--no-such-option"),
]


@pytest.mark.parametrize("args", BAD_VALUES, ids=" ".join)
def test_invalid_value_is_one_line(capsys, args):
    line = _one_line_error(*_main(capsys, *args))
    assert line.startswith(_cli.PROG), line


def test_a_size_too_big_names_the_valid_range(capsys):
    line = _one_line_error(*_main(capsys, "benchmark", "--sizes", "40"))
    largest = int(re.search(r"use sizes from 0 to (\d+)", line).group(1))
    assert 20 <= largest < 40
    # the largest it names is accepted
    parser = benchmark.build_parser()
    args = parser.parse_args(["--sizes", str(largest)])
    benchmark.resolve(parser, args, torch.device("cpu"))


def test_quick_lets_explicit_values_win():
    parser = benchmark.build_parser()
    args = parser.parse_args(["--quick", "--sizes", "12", "--threads", "1"])
    benchmark.resolve(parser, args, torch.device("cpu"))
    assert args.sizes == [12] and args.threads == [1]
    assert args.dtypes == benchmark.QUICK["dtypes"] and args.samples == benchmark.QUICK["samples"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_unknown_cpu_variant_in_the_environment(monkeypatch, capsys, command):
    monkeypatch.setenv(_cli.CPU_VARIANT_VARIABLE, "sse9")
    line = _one_line_error(*_main(capsys, command, "--device", "cpu"))
    assert "sse9" in line and "generic" in line, line


def test_unknown_cpu_variant_is_one_line_from_the_command_line():
    # The library warns at import where the variant cannot be used; run as the tools, it leaves
    # the word to them, so the user reads one line.
    result = _tool("--device", "cpu", env=dict(os.environ, TORCH_SIGMOID_EXT_CPU_VARIANT="sse9"))
    line = _one_line_error(result.returncode, result.stdout, result.stderr)
    assert "TORCH_SIGMOID_EXT_CPU_VARIANT=sse9" in line, line


def test_cpu_variant_this_cpu_cannot_run(monkeypatch, capsys):
    supported = tse.build_info()["cpu_variants_supported"].split(",")
    missing = [name for name in _cli.CPU_VARIANTS if name not in supported]
    if not missing:
        pytest.skip("this CPU runs every variant")
    monkeypatch.setenv(_cli.CPU_VARIANT_VARIABLE, missing[0])
    line = _one_line_error(*_main(capsys, "benchmark", "--per-call"))
    assert "cannot run" in line and supported[0] in line, line


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
@pytest.mark.parametrize("command", list(COMMANDS))
def test_device_cuda_without_a_gpu_says_so_in_one_line(capsys, command):
    line = _one_line_error(*_main(capsys, command, "--device", "cuda"))
    assert "--device cuda" in line and "--device cpu" in line, line


def test_device_that_torch_does_not_know(capsys):
    assert _cli.parse_device("tool", "gpu") is None
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("tool: --device gpu: ") and "use cpu or cuda" in line


# --- Dependencies --------------------------------------------------------------------------

MISSING_SCRIPT = """
import sys
import torch  # first: torch takes numpy where it is installed, and warns where it is not
from torch_sigmoid_ext import __main__ as cli
for name in ("tqdm", "numpy"):
    saved = sys.modules.get(name)
    sys.modules[name] = None
    print(name, cli.main(["compare", "--quick"]), flush=True)
    print("---", file=sys.stderr, flush=True)
    sys.modules[name] = saved
"""


def test_a_missing_dependency_is_one_line():
    out = subprocess.run([sys.executable, "-c", MISSING_SCRIPT], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["tqdm 2", "numpy 2"]
    assert out.stderr.split("---\n")[:2] == [
        f"python -m torch_sigmoid_ext: the tools need {name}; "
        "pip install 'torch_sigmoid_ext[tools]'\n" for name in ("tqdm", "numpy")]


def test_missing_matplotlib_still_writes_the_csv(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    status, out, err = _main(capsys, "benchmark", *TINY_GRID, "--modes", "forward")
    assert status == 0, out + err
    assert [line for line in err.splitlines() if "matplotlib" in line] == [
        "python -m torch_sigmoid_ext benchmark: matplotlib is not installed, so no plot; "
        "pip install 'torch_sigmoid_ext[tools]'"]
    assert os.listdir(tmp_path / _cli.RESULTS_DIR) == ["benchmark.csv"]


def test_the_runtime_needs_none_of_the_tools():
    code = ("import sys\n"
            "for name in ('tqdm', 'matplotlib'):\n"
            "    sys.modules[name] = None\n"
            "import torch, torch_sigmoid_ext as tse\n"
            "assert torch.equal(tse.sigmoid(torch.zeros(3)), torch.full((3,), 0.5))\n"
            "tools = [m for m in sys.modules if m.startswith('torch_sigmoid_ext.tools')]\n"
            "assert not tools, tools")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr


def test_gpu_check_help_runs_nothing():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(["bash", os.path.join(root, "scripts", "gpu_check.sh"), "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert "python -m torch_sigmoid_ext benchmark --device cuda" in out.stdout
    assert "== build" not in out.stdout
