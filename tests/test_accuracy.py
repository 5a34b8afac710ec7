"""The accuracy tool in quick mode, and the guarantees it reports (README, "Accuracy")."""

import json

import pytest

from torch_sigmoid_ext.tools import accuracy

FORWARD_BOUND = {"float32": 2.0, "float64": 2.0, "float16": 1.0, "bfloat16": 1.0}
BACKWARD_BOUND = {"float32": 3.0, "float64": 3.0, "float16": 1.0, "bfloat16": 1.0}
SPECIAL = {"nan": "nan", "+inf": "1.0", "-inf": "+0", "+0": "0.5", "-0": "0.5"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("accuracy") / "accuracy.json"
    assert accuracy.main(["--quick", "--device", "cpu", "--json", str(path)]) == 0
    return json.loads(path.read_text())


@pytest.mark.parametrize("dtype", list(FORWARD_BOUND))
def test_guarantees(report, dtype):
    d = report["dtypes"][dtype]
    ours = d["forward"]["ours"]
    assert ours["n"] > 60000
    assert ours["max_ulp"] <= FORWARD_BOUND[dtype]
    if dtype in ("float16", "bfloat16"):
        assert ours["correctly_rounded"] >= 0.999
    assert d["backward"]["ours"]["max_ulp"] <= BACKWARD_BOUND[dtype]
    for name, expected in SPECIAL.items():
        assert d["special_values"]["ours"][name] == expected, name
    assert d["paths"]["bit_identical"], d["paths"]["problems"]


def test_report_sees_torch_flush_to_zero(report):
    # The sweep must be able to see a real error: torch.sigmoid flushes float32 results below
    # about 1.2e-38 to zero, which is millions of ULPs of the subnormal spacing.
    assert report["dtypes"]["float32"]["forward"]["torch"]["max_ulp"] > 1000
    assert report["dtypes"]["bfloat16"]["forward"]["torch"]["max_ulp"] > 2


def test_special_values_column_names_what_is_off():
    # The check must be able to fail: a wrong result is named, with what came out.
    assert accuracy._special(accuracy.EXPECTED_SPECIAL) == "as expected"
    wrong = dict(accuracy.EXPECTED_SPECIAL, **{"-max": "nan", "+inf": "0.99"})
    assert accuracy._special(wrong) == "+inf -> 0.99; -max -> nan"
