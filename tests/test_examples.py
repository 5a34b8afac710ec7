"""The examples answer --help and refuse bad values as argparse does, run (in their quick mode
where they have one) writing only where the user said, and what each one claims holds in the
numbers it prints."""

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPTS = ["quickstart.py", "train_classifier.py", "derivative.py", "vanishing_gradients.py",
           "ddp_train.py"]
# script -> the plot it writes into --out-dir (examples/output by default)
PLOTS = {"train_classifier.py": "decision_boundary.png", "derivative.py": "derivative.png",
         "vanishing_gradients.py": "vanishing_gradients.png"}
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
# ddp_train.py imports train_classifier.py; its bytecode would be one more file in the tree.
ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}


def _run(script, *args, cwd, examples=EXAMPLES, returncode=0):
    result = subprocess.run([sys.executable, str(examples / script), *args], cwd=cwd, env=ENV,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == returncode, (
        f"{script} {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def _files(folder):
    return {str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file()}


def _number(pattern, text):
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in the output:\n{text}"
    return float(match.group(1))


def _check_plot(path, stdout, shown=None):
    """path: where the plot should be; shown: the path the example prints (default: path)."""
    if HAVE_MATPLOTLIB:
        assert path.stat().st_size > 10_000, f"{path} is missing or nearly empty"
        assert f"wrote {shown or path}\n" in stdout, "the example did not say where it wrote"
    else:
        assert "matplotlib is not installed" in stdout
        assert not path.exists()


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_shows_the_description_and_every_default(script, tmp_path):
    out = _run(script, "--help", cwd=tmp_path).stdout
    # The docstring's first paragraph, as argparse rewraps it: compared without whitespace, as
    # textwrap may break a line after a hyphen.
    description = ast.get_docstring(ast.parse((EXAMPLES / script).read_text())).split("\n\n")[0]
    assert "".join(description.split()) in "".join(out.split()), out
    assert description.rstrip().endswith((".", ")")), "the description is cut mid-sentence"
    options = set(re.findall(r"--[\w-]+", out.split("\n\n")[0]))  # the usage line
    assert options, out
    assert " ".join(out.split()).count("(default: ") == len(options), (
        f"an option of {script} does not show its default:\n{out}")
    assert _files(tmp_path) == set(), "--help wrote a file"


@pytest.mark.parametrize("script, args, message", [
    ("quickstart.py", ["--steps", "0"], "expected an integer >= 1, got '0'"),
    ("train_classifier.py", ["--steps", "-5"], "expected an integer >= 1, got '-5'"),
    ("train_classifier.py", ["--log-every", "0"], "expected an integer >= 1, got '0'"),
    ("derivative.py", ["--points", "many"], "expected an integer >= 1, got 'many'"),
    ("vanishing_gradients.py", ["--seeds", "0"], "expected an integer >= 1, got '0'"),
    ("vanishing_gradients.py", ["--depths"], "expected at least one argument"),
    ("vanishing_gradients.py", ["--depths", "2", "0"], "expected an integer >= 1, got '0'"),
    ("vanishing_gradients.py", ["--no-plot", "--out-dir", "x"], "not allowed with argument"),
    ("ddp_train.py", ["--batch", "0"], "expected an integer >= 1, got '0'"),
])
def test_bad_value_is_one_error_line(script, args, message, tmp_path):
    err = _run(script, *args, cwd=tmp_path, returncode=2).stderr
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    errors = [line for line in lines if "error:" in line]
    assert errors == [lines[-1]], f"not one error line, last:\n{err}"
    assert lines[-1].startswith(f"{script}: error: ") and message in lines[-1], err
    assert _files(tmp_path) == set()


@pytest.mark.slow
def test_train_classifier_runs_agree(tmp_path):
    out = _run("train_classifier.py", "--quick", "--out-dir", "plots", cwd=tmp_path).stdout
    assert _number(r"max loss difference: (\S+)", out) < 1e-5
    assert _number(r"max parameter difference: (\S+)", out) < 1e-4
    ours = _number(r"final accuracy: tse.Sigmoid (\S+),", out)
    assert ours == _number(r"nn.Sigmoid (\S+)\n", out)
    assert ours > 0.8, "the quick run did not learn the moons"
    assert len(re.findall(r"^\s+\d+\s+\d\.\d+\s+\d\.\d+$", out, re.M)) >= 5, "no loss curves"
    # A relative --out-dir is relative to the current directory, as the user meant it.
    _check_plot(tmp_path / "plots" / "decision_boundary.png", out,
                shown=Path("plots") / "decision_boundary.png")
    assert _files(tmp_path) <= {"plots/decision_boundary.png"}


def test_vanishing_gradients_sigmoid_much_smaller_at_depth_30(tmp_path):
    out = _run("vanishing_gradients.py", "--quick", "--out-dir", str(tmp_path / "new" / "dir"),
               cwd=tmp_path).stdout
    rows = {int(d): (float(s), float(r)) for d, s, r in
            re.findall(r"^\s+(\d+)\s+(\S+)\s+(\S+)\s+\S+$", out, re.M)}
    assert sorted(rows) == [2, 10, 30], out
    sigmoid_30, relu_30 = rows[30]
    assert sigmoid_30 < 1e-10 * relu_30, out
    assert relu_30 > 1e-2, "ReLU's first-layer gradient vanished too: the comparison is moot"
    assert rows[2][0] > rows[10][0] > rows[30][0], "sigmoid's gradient does not fall with depth"
    _check_plot(tmp_path / "new" / "dir" / "vanishing_gradients.png", out)
    assert _files(tmp_path) <= {"new/dir/vanishing_gradients.png"}


def test_derivative_matches_closed_form(tmp_path):
    out = _run("derivative.py", "--quick", "--out-dir", str(tmp_path), cwd=tmp_path).stdout
    assert _number(r"derivative difference: (\S+)", out) < 1e-12
    _check_plot(tmp_path / "derivative.png", out)
    assert _files(tmp_path) <= {"derivative.png"}


def test_no_plot_writes_nothing(tmp_path):
    out = _run("derivative.py", "--quick", "--no-plot", cwd=tmp_path).stdout
    assert "within 1e-12: yes" in out and "wrote" not in out, out
    assert _files(tmp_path) == set()


@pytest.mark.slow
def test_quickstart_swaps_every_sigmoid_and_trains(tmp_path):
    out = _run("quickstart.py", cwd=tmp_path).stdout
    assert out.count("torch_sigmoid_ext.Sigmoid()") == 2, out
    assert "): Sigmoid()" not in out, "an nn.Sigmoid was left in the model"
    assert _number(r"accuracy (\S+)%", out) > 90, out
    assert _files(tmp_path) == set()


@pytest.mark.slow
def test_ddp_train_writes_only_where_told(tmp_path):
    # One process, no torchrun: tests/test_distributed.py compares it with two.
    out = _run("ddp_train.py", "--steps", "5", cwd=tmp_path).stdout
    assert "1 process(es), cpu: accuracy" in out and "wrote" not in out, out
    assert _files(tmp_path) == set()
    out = _run("ddp_train.py", "--steps", "5", "--save", "run/params.pt", cwd=tmp_path).stdout
    assert "wrote run/params.pt" in out, out
    assert _files(tmp_path) == {"run/params.pt"}


def _git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          timeout=120).stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_default_output_stays_in_examples_output(tmp_path):
    """Run from a clone's root, as a new user would, every example writes under
    examples/output/ and nowhere else: the one folder .gitignore needs. The clone holds the
    committed examples, not uncommitted edits."""
    try:
        toplevel = _git("rev-parse", "--show-toplevel", cwd=ROOT).strip()
    except subprocess.CalledProcessError:
        pytest.skip("the tests do not run from a git checkout")
    if Path(toplevel).resolve() != ROOT:
        pytest.skip("the tests do not run from the root of a git checkout")
    clone = tmp_path.resolve() / "clone"  # as the examples print it, from __file__
    _git("clone", "-q", str(ROOT), str(clone), cwd=tmp_path)
    status = ["status", "--porcelain", "--untracked-files=all", "--ignored"]
    assert _git(*status, cwd=clone) == ""

    examples = clone / "examples"
    for script, args in [("quickstart.py", ["--steps", "20"]),
                         ("train_classifier.py", ["--quick"]),
                         ("derivative.py", ["--quick"]),
                         ("vanishing_gradients.py", ["--quick"]),
                         ("ddp_train.py", ["--steps", "5"])]:
        out = _run(script, *args, cwd=clone, examples=examples).stdout
        if script in PLOTS:
            _check_plot(examples / "output" / PLOTS[script], out)

    # Untracked or ignored alike: whether .gitignore covers examples/output/ yet or not.
    created = {line[3:] for line in _git(*status, cwd=clone).splitlines()}
    expected = {f"examples/output/{name}" for name in PLOTS.values()} if HAVE_MATPLOTLIB else set()
    assert created == expected
