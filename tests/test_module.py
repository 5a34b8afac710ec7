"""The nn.Module: drop-in behaviour, repr, state dicts, replace_sigmoid, training."""

import pytest
import torch
from torch import nn

import torch_sigmoid_ext as tse


def test_module_matches_nn_sigmoid(device):
    x = torch.randn(4, 7, device=device)
    torch.testing.assert_close(tse.Sigmoid()(x), nn.Sigmoid()(x))
    assert list(tse.Sigmoid().parameters()) == [] and list(tse.Sigmoid().buffers()) == []


def test_repr_tells_it_apart_from_nn_sigmoid():
    assert repr(tse.Sigmoid()) == "torch_sigmoid_ext.Sigmoid()"
    assert repr(tse.Sigmoid(inplace=True)) == "torch_sigmoid_ext.Sigmoid(inplace=True)"
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), tse.Sigmoid(inplace=True))
    assert repr(model).splitlines() == [
        "Sequential(",
        "  (0): Linear(in_features=2, out_features=3, bias=True)",
        "  (1): Sigmoid()",
        "  (2): torch_sigmoid_ext.Sigmoid(inplace=True)",
        ")",
    ]


def test_inplace_module_overwrites_input(device):
    x = torch.randn(5, device=device)
    expected = tse.sigmoid(x)
    out = tse.Sigmoid(inplace=True)(x)
    assert out is x and torch.equal(x, expected)


def _model(act):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), act(), nn.Sequential(nn.Linear(8, 1), act()))


def test_state_dict_loads_either_way():
    ours = tse.replace_sigmoid(_model(nn.Sigmoid))
    theirs = _model(nn.Sigmoid)
    theirs.load_state_dict(ours.state_dict())
    ours.load_state_dict(theirs.state_dict())
    assert ours.state_dict().keys() == theirs.state_dict().keys()


def test_replace_sigmoid():
    model = _model(nn.Sigmoid)
    before = model(torch.randn(3, 4))
    returned = tse.replace_sigmoid(model)
    assert returned is model
    assert isinstance(model[1], tse.Sigmoid) and isinstance(model[2][1], tse.Sigmoid)
    assert not any(type(m) is nn.Sigmoid for m in model.modules())
    torch.manual_seed(1)
    x = torch.randn(3, 4)
    torch.testing.assert_close(model(x), _model(nn.Sigmoid)(x))
    assert before.shape == (3, 1)
    assert isinstance(tse.replace_sigmoid(nn.Sigmoid()), tse.Sigmoid)


@pytest.mark.parametrize("model", [None, torch.nn.functional.sigmoid, [nn.Sigmoid()]])
def test_replace_sigmoid_refuses_what_is_not_a_module(model):
    with pytest.raises(TypeError, match=r"replace_sigmoid: model must be a torch.nn.Module, not"):
        tse.replace_sigmoid(model)


def test_training_matches_nn_sigmoid():
    x = torch.randn(64, 4)
    target = (x.sum(1, keepdim=True) > 0).float()
    results = []
    for act in (nn.Sigmoid, tse.Sigmoid):
        model = _model(act)
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        for _ in range(20):
            opt.zero_grad()
            loss = nn.functional.binary_cross_entropy(model(x), target)
            loss.backward()
            opt.step()
        results.append((loss.item(), [p.detach().clone() for p in model.parameters()]))
    assert abs(results[0][0] - results[1][0]) < 1e-5
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_fx_symbolic_trace():
    # FX traces with Proxy objects, which are no tensors: the functions dispatch them through
    # __torch_function__, as torch's own do, and the graph calls our function.
    x = torch.randn(3, 4)
    for inplace in (False, True):
        model = nn.Sequential(nn.Linear(4, 4), tse.Sigmoid(inplace=inplace))
        traced = torch.fx.symbolic_trace(model)
        targets = [n.target for n in traced.graph.nodes if n.op == "call_function"]
        assert targets == [tse.sigmoid_ if inplace else tse.sigmoid]
        assert torch.equal(traced(x), model(x))


def test_torch_function_mode_sees_the_calls():
    class Recorder(torch.overrides.TorchFunctionMode):
        def __init__(self):
            super().__init__()
            self.calls = []

        def __torch_function__(self, func, types, args=(), kwargs=None):
            self.calls.append(func)
            return func(*args, **(kwargs or {}))

    x, out, h0 = torch.randn(5), torch.empty(5), torch.randn(5)
    h = h0.clone()
    with Recorder() as recorder:
        y = tse.sigmoid(x)
        tse.sigmoid(x, out=out)
        tse.sigmoid_(h)
    assert [f for f in recorder.calls if f in (tse.sigmoid, tse.sigmoid_)] == [
        tse.sigmoid, tse.sigmoid, tse.sigmoid_]
    assert torch.equal(y, out) and torch.equal(y, tse.sigmoid(x))
    assert torch.equal(h, tse.sigmoid(h0))
