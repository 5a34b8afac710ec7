"""torch.compile and torch.export with the module: no graph breaks, same results as eager."""

import torch
from torch import nn

import torch_sigmoid_ext as tse


def _model(inplace=False):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), tse.Sigmoid(inplace=inplace), nn.Linear(16, 4),
                         tse.Sigmoid())


def test_compile_fullgraph_forward_backward():
    for inplace in (False, True):
        eager, compiled_model = _model(inplace), _model(inplace)
        compiled = torch.compile(compiled_model, fullgraph=True, backend="aot_eager")
        x = torch.randn(5, 8)
        y_eager, y_compiled = eager(x), compiled(x)
        torch.testing.assert_close(y_compiled, y_eager)
        y_eager.sum().backward()
        y_compiled.sum().backward()
        for a, b in zip(eager.parameters(), compiled_model.parameters()):
            torch.testing.assert_close(a.grad, b.grad)


def test_compile_inductor_no_graph_breaks():
    torch._dynamo.reset()
    model = _model()
    explanation = torch._dynamo.explain(model)(torch.randn(5, 8))
    assert explanation.graph_break_count == 0
    compiled = torch.compile(model, fullgraph=True)
    x = torch.randn(5, 8, requires_grad=True)
    torch.testing.assert_close(compiled(x), model(x))
    (gx,) = torch.autograd.grad(compiled(x).sum(), x)
    (gx_ref,) = torch.autograd.grad(model(x).sum(), x)
    torch.testing.assert_close(gx, gx_ref)


def test_compile_functional_inplace_and_out():
    def fn(x, out):
        y = x * 2
        tse.sigmoid_(y)
        tse.sigmoid(x, out=out)
        return y + out

    x = torch.randn(10)
    expected = fn(x, torch.empty(10))
    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x, torch.empty(10)), expected)


def test_export():
    model = _model()
    x = torch.randn(5, 8)
    exported = torch.export.export(model, (x,))
    assert any("torch_sigmoid_ext.sigmoid" in str(n.target) for n in exported.graph.nodes)
    torch.testing.assert_close(exported.module()(x), model(x))


def test_no_grad_fast_path_is_still_traced():
    # Without a gradient, tse.sigmoid calls the op below the autograd layer; tracers below Python
    # (make_fx, torch.export in either mode) must still record the op.
    x = torch.randn(4, 5)
    for strict in (False, True):
        exported = torch.export.export(tse.Sigmoid(), (x,), strict=strict)
        targets = [str(n.target) for n in exported.graph.nodes if n.op == "call_function"]
        assert targets == ["torch_sigmoid_ext.sigmoid.default"], targets
        torch.testing.assert_close(exported.module()(x), tse.sigmoid(x))
    gm = torch.fx.experimental.proxy_tensor.make_fx(lambda t: tse.sigmoid(t))(x)
    assert [str(n.target) for n in gm.graph.nodes if n.op == "call_function"] == [
        "torch_sigmoid_ext.sigmoid.default"
    ]


def test_compiled_code_reads_the_rounding_mode_at_each_call():
    # The op is opaque to the compiler and reads the mode when it runs: one compiled function
    # gives each mode's bits, eager's, with no recompilation.
    torch._dynamo.reset()
    x = torch.linspace(-20, 20, 100_003)
    compiled = torch.compile(lambda t: tse.sigmoid(t) * 1.0, fullgraph=True)
    results = {}
    for mode in ("default", "correct", "default"):
        with tse.rounding(mode):
            eager = tse.sigmoid(x)
            got = compiled(x)
        assert torch.equal(got.view(torch.int32), eager.view(torch.int32)), mode
        results[mode] = got
    assert not torch.equal(results["default"], results["correct"])  # the modes differ here
