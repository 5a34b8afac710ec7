"""The accuracy tool in quick mode, and the guarantees it reports (README, "Accuracy"; the
rounding modes: torch_sigmoid_ext._rounding)."""

import json

import pytest
import torch

from torch_sigmoid_ext.tools import accuracy

MODES = ("default", "correct")
FORWARD_BOUND = {"float32": 2.0, "float64": 2.0, "float16": 1.0, "bfloat16": 1.0}
BACKWARD_BOUND = {"float32": 1.0, "float64": 3.0, "float16": 1.0, "bfloat16": 1.0}
# (dtype, mode) whose forward results must all be correctly rounded; float64's never are, and
# float32's only in "correct" mode.
CORRECT_FORWARD = {("float32", "correct"), ("float16", "default"), ("float16", "correct"),
                   ("bfloat16", "default"), ("bfloat16", "correct")}
# every backward but float64's is correctly rounded, in both modes
# The float32 backward is correctly rounded in "correct" mode, within 1 ULP by default.
CORRECT_BACKWARD = {("float32", "correct"), ("float16", "default"), ("float16", "correct"),
                    ("bfloat16", "default"), ("bfloat16", "correct")}
SPECIAL = {"nan": "nan", "+inf": "1.0", "-inf": "+0", "+0": "0.5", "-0": "0.5"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("accuracy") / "accuracy.json"
    assert accuracy.main(["--quick", "--device", "cpu", "--json", str(path)]) == 0
    return json.loads(path.read_text())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", list(FORWARD_BOUND))
def test_guarantees(report, dtype, mode):
    d = report["dtypes"][dtype]
    ours = d["forward"]["ours"][mode]
    assert ours["n"] > 60000
    assert ours["max_ulp"] <= FORWARD_BOUND[dtype]
    if (dtype, mode) in CORRECT_FORWARD:
        assert ours["not_correctly_rounded"] == 0, ours["worst"]
        assert ours["max_ulp"] <= 0.5 + 1e-6
    backward = d["backward"]["ours"][mode]
    assert backward["max_ulp"] <= BACKWARD_BOUND[dtype]
    if (dtype, mode) in CORRECT_BACKWARD:
        assert backward["not_correctly_rounded"] == 0
    for name, expected in SPECIAL.items():
        assert d["special_values"]["ours"][mode][name] == expected, name
    assert d["paths"][mode]["bit_identical"], d["paths"][mode]["problems"]


def test_float64_is_the_same_in_both_modes(report):
    forward = report["dtypes"]["float64"]["forward"]["ours"]
    assert forward["default"] == forward["correct"]


def test_report_sees_torch_flush_to_zero(report):
    # The sweep must be able to see a real error: torch.sigmoid flushes float32 results below
    # about 1.2e-38 to zero, which is millions of ULPs of the subnormal spacing.
    assert report["dtypes"]["float32"]["forward"]["torch"]["max_ulp"] > 1000
    assert report["dtypes"]["bfloat16"]["forward"]["torch"]["max_ulp"] > 2


def test_report_counts_results_not_correctly_rounded(report):
    # And it must be able to count: torch.sigmoid's float32 is not correctly rounded on about 4%
    # of inputs, and its float16 backward rounds twice.
    torch_float32 = report["dtypes"]["float32"]["forward"]["torch"]
    assert 0.01 * torch_float32["n"] < torch_float32["not_correctly_rounded"]
    assert report["dtypes"]["float16"]["backward"]["torch"]["not_correctly_rounded"] > 0
    assert report["rounding"] == list(MODES)


def test_stats_count_a_one_ulp_error():
    x = torch.linspace(-5, 5, 101)
    correct = torch.sigmoid(x.double()).float()
    wrong = correct.clone()
    wrong.view(torch.int32)[7] += 1
    stats = accuracy._Stats()
    errors = torch.zeros(101, dtype=torch.float64).numpy()
    stats.add(x.double().numpy(), wrong, correct, errors, torch.float32)
    summary = stats.summary()
    assert summary["not_correctly_rounded"] == 1 and summary["n"] == 101


def test_rounding_option_measures_only_that_mode(tmp_path):
    path = tmp_path / "accuracy.json"
    assert accuracy.main(["--quick", "--device", "cpu", "--dtypes", "bfloat16", "--rounding",
                          "correct", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert report["rounding"] == ["correct"]
    d = report["dtypes"]["bfloat16"]
    for section in ("forward", "backward", "special_values"):
        assert list(d[section]["ours"]) == ["correct"], section
    assert list(d["paths"]) == ["correct"]
    assert d["forward"]["reference"]["settled_in_decimal"] >= 0


def test_special_values_column_names_what_is_off():
    # The check must be able to fail: a wrong result is named, with what came out.
    assert accuracy._special(accuracy.EXPECTED_SPECIAL) == "as expected"
    wrong = dict(accuracy.EXPECTED_SPECIAL, **{"-max": "nan", "+inf": "0.99"})
    assert accuracy._special(wrong) == "+inf -> 0.99; -max -> nan"
    both = {"default": accuracy.EXPECTED_SPECIAL, "correct": wrong}
    assert accuracy._special_in_modes(both) == "correct: +inf -> 0.99; -max -> nan"
