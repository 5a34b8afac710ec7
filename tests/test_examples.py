"""The examples run (in their quick mode where they have one), and what each one claims holds
in the numbers it prints."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def _run(script, *args, quick=True):
    command = [sys.executable, str(EXAMPLES / script), *(["--quick"] if quick else []), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _number(pattern, text):
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in the output:\n{text}"
    return float(match.group(1))


def _check_plot(path, stdout):
    if HAVE_MATPLOTLIB:
        assert path.stat().st_size > 10_000, f"{path} is missing or nearly empty"
    else:
        assert "matplotlib is not installed" in stdout


def test_train_classifier_runs_agree(tmp_path):
    out = _run("train_classifier.py", "--out", str(tmp_path / "boundary.png"))
    assert _number(r"max loss difference: (\S+)", out) < 1e-5
    assert _number(r"max parameter difference: (\S+)", out) < 1e-4
    ours = _number(r"final accuracy: tse.Sigmoid (\S+),", out)
    assert ours == _number(r"nn.Sigmoid (\S+)\n", out)
    assert ours > 0.8, "the quick run did not learn the moons"
    assert len(re.findall(r"^\s+\d+\s+\d\.\d+\s+\d\.\d+$", out, re.M)) >= 5, "no loss curves"
    _check_plot(tmp_path / "boundary.png", out)


def test_vanishing_gradients_sigmoid_much_smaller_at_depth_30(tmp_path):
    out = _run("vanishing_gradients.py", "--out", str(tmp_path / "vanishing.png"))
    rows = {int(d): (float(s), float(r)) for d, s, r in
            re.findall(r"^\s+(\d+)\s+(\S+)\s+(\S+)\s+\S+$", out, re.M)}
    assert sorted(rows) == [2, 10, 30], out
    sigmoid_30, relu_30 = rows[30]
    assert sigmoid_30 < 1e-10 * relu_30, out
    assert relu_30 > 1e-2, "ReLU's first-layer gradient vanished too: the comparison is moot"
    assert rows[2][0] > rows[10][0] > rows[30][0], "sigmoid's gradient does not fall with depth"
    _check_plot(tmp_path / "vanishing.png", out)


def test_derivative_matches_closed_form(tmp_path):
    out = _run("derivative.py", "--out", str(tmp_path / "derivative.png"))
    assert _number(r"derivative difference: (\S+)", out) < 1e-12
    _check_plot(tmp_path / "derivative.png", out)


def test_quickstart_swaps_every_sigmoid_and_trains():
    out = _run("quickstart.py", quick=False)
    assert out.count("torch_sigmoid_ext.Sigmoid()") == 2, out
    assert "): Sigmoid()" not in out, "an nn.Sigmoid was left in the model"
    assert _number(r"accuracy (\S+)%", out) > 90, out
