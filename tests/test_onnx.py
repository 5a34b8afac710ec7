"""ONNX export: our sigmoid becomes the standard ONNX Sigmoid, and the file runs in onnxruntime
in a process that never imports torch_sigmoid_ext."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

import torch_sigmoid_ext as tse

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install onnx)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
pytest.importorskip("onnxscript", reason="onnxscript is not installed (pip install onnxscript)")
tse_onnx = pytest.importorskip("torch_sigmoid_ext.onnx")

# Runs the model in a fresh interpreter, where only onnxruntime and numpy are imported.
_RUN_IN_ORT = textwrap.dedent("""
    import sys
    import numpy as np
    import onnxruntime as ort
    model, x, out = sys.argv[1:]
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    np.save(out, session.run(None, {name: np.load(x)})[0])
    assert "torch_sigmoid_ext" not in sys.modules and "torch" not in sys.modules
""")


def _model(inplace):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), tse.Sigmoid(inplace=inplace), nn.Linear(16, 3),
                         tse.Sigmoid()).eval()


def _run_in_onnxruntime(tmp_path, path, x):
    np.save(tmp_path / "x.npy", x.numpy())
    subprocess.run([sys.executable, "-c", _RUN_IN_ORT, str(path), str(tmp_path / "x.npy"),
                    str(tmp_path / "y.npy")], check=True, timeout=120)
    return torch.from_numpy(np.load(tmp_path / "y.npy"))


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "torchscript"])
@pytest.mark.parametrize("inplace", [False, True], ids=["sigmoid", "inplace"])
def test_export_maps_to_onnx_sigmoid(tmp_path, dynamo, inplace):
    model = _model(inplace)
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    path = tmp_path / "model.onnx"
    tse_onnx.export(model, (x,), str(path), dynamo=dynamo)
    assert model[1].inplace is inplace, "export left the module's inplace flag changed"

    graph = onnx.load(str(path)).graph
    ops = [(node.domain or "ai.onnx", node.op_type) for node in graph.node]
    assert ops.count(("ai.onnx", "Sigmoid")) == 2, ops
    assert all(domain == "ai.onnx" for domain, _ in ops), f"a non-standard node: {ops}"

    with torch.no_grad():
        expected = model(x.clone())
    torch.testing.assert_close(_run_in_onnxruntime(tmp_path, path, x), expected,
                               atol=1e-6, rtol=1e-5)


def test_translation_table_with_torch_onnx_export(tmp_path):
    model = _model(inplace=False)
    x = torch.randn(2, 4)
    path = tmp_path / "model.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=True,
                      custom_translation_table=tse_onnx.TRANSLATION_TABLE)
    assert [n.op_type for n in onnx.load(str(path)).graph.node].count("Sigmoid") == 2
