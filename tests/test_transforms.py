"""Forward-mode AD, torch.func transforms, vmap and TorchScript, each against torch.sigmoid."""

import subprocess
import sys
import warnings

import pytest
import torch
from torch.autograd import forward_ad as fwAD

import torch_sigmoid_ext as tse

ops = torch.ops.torch_sigmoid_ext

# dtype -> tolerance against torch.sigmoid (our float32 is more accurate than torch's).
DTYPES = {
    torch.float32: dict(rtol=1e-5, atol=1e-6),
    torch.float64: dict(rtol=1e-12, atol=1e-14),
    torch.complex128: dict(rtol=1e-12, atol=1e-14),
}
# The ways to call it: the public function, the op through torch.ops, the autograd.Function.
CALLS = {
    "function": tse.sigmoid,
    "op": ops.sigmoid.default,
    "SigmoidFunction": tse.SigmoidFunction.apply,
}


def inputs(dtype, shape=(3, 4), seed=0):
    gen = torch.Generator().manual_seed(seed)
    real = torch.float64 if dtype == torch.complex128 else dtype
    x = torch.randn(shape, generator=gen, dtype=real) * 3
    if dtype.is_complex:
        x = torch.complex(x, torch.randn(shape, generator=gen, dtype=real))
    return x


def assert_close(actual, expected, dtype):
    torch.testing.assert_close(actual, expected, **DTYPES[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call", CALLS)
def test_forward_ad_dual_level(call, dtype):
    x, t = inputs(dtype), inputs(dtype, seed=1)
    with fwAD.dual_level():
        ours = fwAD.unpack_dual(CALLS[call](fwAD.make_dual(x, t)))
        theirs = fwAD.unpack_dual(torch.sigmoid(fwAD.make_dual(x, t)))
    assert ours.tangent is not None
    assert_close(ours.primal, theirs.primal, dtype)
    assert_close(ours.tangent, theirs.tangent, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_ad_in_place_updates_the_tangent(dtype):
    x, t = inputs(dtype), inputs(dtype, seed=1)
    with fwAD.dual_level():
        ours = fwAD.make_dual(x.clone(), t.clone())
        theirs = fwAD.make_dual(x.clone(), t.clone())
        assert tse.sigmoid_(ours) is ours
        theirs.sigmoid_()
        assert_close(fwAD.unpack_dual(ours).tangent, fwAD.unpack_dual(theirs).tangent, dtype)
        assert_close(fwAD.unpack_dual(ours).primal, fwAD.unpack_dual(theirs).primal, dtype)


def test_forward_ad_refuses_out_as_torch_does():
    x, t = inputs(torch.float64), inputs(torch.float64, seed=1)
    out = torch.zeros(3, 4, dtype=torch.float64)
    with fwAD.dual_level():
        with pytest.raises(NotImplementedError, match="out="):
            torch.sigmoid(fwAD.make_dual(x, t), out=out.clone())
        with pytest.raises(NotImplementedError, match="torch_sigmoid_ext.sigmoid.*out="):
            tse.sigmoid(fwAD.make_dual(x, t), out=out)
    assert (out == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_op_tangent(dtype):
    # sigmoid_backward's own tangent, which forward-over-reverse needs.
    g, y = inputs(dtype), torch.sigmoid(inputs(dtype, seed=1))
    tg, ty = inputs(dtype, seed=2), inputs(dtype, seed=3)
    with fwAD.dual_level():
        ours = ops.sigmoid_backward(fwAD.make_dual(g, tg), fwAD.make_dual(y, ty))
        theirs = torch.ops.aten.sigmoid_backward(fwAD.make_dual(g, tg), fwAD.make_dual(y, ty))
        assert_close(fwAD.unpack_dual(ours).tangent, fwAD.unpack_dual(theirs).tangent, dtype)


@pytest.mark.parametrize("call", CALLS)
def test_forward_over_reverse(call):
    x, t = inputs(torch.float64), inputs(torch.float64, seed=1)
    results = []
    for f in (CALLS[call], torch.sigmoid):
        with fwAD.dual_level():
            leaf = x.clone().requires_grad_()
            (grad,) = torch.autograd.grad(f(fwAD.make_dual(leaf, t)).sum(), leaf, create_graph=True)
            results.append(fwAD.unpack_dual(grad).tangent)
    assert_close(results[0], results[1], torch.float64)


def scalar(f):
    return lambda x: f(x).sum()


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(
    "transform",
    ["grad", "jacrev", "jacfwd", "hessian", "jacrev_jacrev", "jacfwd_jacfwd", "jacrev_jacfwd",
     "jvp_jvp", "vmap_grad", "vjp", "jvp"],
)
def test_torch_func(transform, call):
    f = CALLS[call]
    x = inputs(torch.float64, shape=(5,))
    t = inputs(torch.float64, shape=(5,), seed=1)
    func = torch.func

    def run(g):
        if transform == "grad":
            return func.grad(scalar(g))(x)
        if transform == "jacrev":
            return func.jacrev(g)(x)
        if transform == "jacfwd":
            return func.jacfwd(g)(x)
        if transform == "hessian":
            return func.hessian(scalar(g))(x)
        if transform == "jacrev_jacrev":
            return func.jacrev(func.jacrev(scalar(g)))(x)
        if transform == "jacfwd_jacfwd":
            return func.jacfwd(func.jacfwd(scalar(g)))(x)
        if transform == "jacrev_jacfwd":
            return func.jacrev(func.jacfwd(scalar(g)))(x)
        if transform == "jvp_jvp":
            return func.jvp(lambda x: func.jvp(g, (x,), (t,))[1], (x,), (t,))[1]
        if transform == "vmap_grad":  # per-sample gradients
            return func.vmap(func.grad(scalar(g)))(x.reshape(5, 1).expand(5, 3).clone())
        if transform == "vjp":
            out, vjp_fn = func.vjp(g, x)
            return out, vjp_fn(t)[0]
        out, tangent = func.jvp(g, (x,), (t,))
        return out, tangent

    torch.testing.assert_close(run(f), run(torch.sigmoid), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("transform", ["jvp", "vjp", "grad_abs", "vmap"])
def test_torch_func_complex(transform, call):
    # The transforms torch.sigmoid supports for complex inputs (jacfwd and jacrev refuse them).
    f = CALLS[call]
    x = inputs(torch.complex128, shape=(5,))
    t = inputs(torch.complex128, shape=(5,), seed=1)

    def run(g):
        if transform == "jvp":
            return torch.func.jvp(g, (x,), (t,))
        if transform == "vjp":
            return torch.func.vjp(g, x)[1](t)
        if transform == "grad_abs":
            return torch.func.grad(lambda x: g(x).abs().sum())(x)
        return torch.func.vmap(g)(x.reshape(5, 1))

    assert_close(run(f), run(torch.sigmoid), torch.complex128)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call", ["function", "op"])
def test_vmap_uses_a_batching_rule(call, dtype):
    x = inputs(dtype, shape=(4, 3, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when it falls back to a per-example loop
        for in_dims in (0, 1, 2):
            ours = torch.vmap(CALLS[call], in_dims=in_dims)(x)
            assert_close(ours, torch.vmap(torch.sigmoid, in_dims=in_dims)(x), dtype)
        y = torch.sigmoid(x)
        g = inputs(dtype, shape=(3, 5), seed=1)  # one grad_output for the whole batch
        ours = torch.vmap(ops.sigmoid_backward, in_dims=(None, 0))(g, y)
        theirs = torch.vmap(torch.ops.aten.sigmoid_backward, in_dims=(None, 0))(g, y)
        assert_close(ours, theirs, dtype)


def test_vmap_in_place():
    x = inputs(torch.float64, shape=(4, 3))
    ours = torch.vmap(lambda v: tse.sigmoid_(v.clone()))(x)
    torch.testing.assert_close(ours, torch.sigmoid(x))


def test_functional_call_grad():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), tse.Sigmoid(), torch.nn.Linear(3, 1))
    reference = torch.nn.Sequential(model[0], torch.nn.Sigmoid(), model[2])
    params = {k: v.detach().double() for k, v in model.named_parameters()}
    x = torch.randn(6, 4, dtype=torch.float64)

    def loss(m):
        return lambda p, x: torch.func.functional_call(m, p, (x,)).sum()

    ours = torch.func.grad(loss(model.double()))(params, x)
    theirs = torch.func.grad(loss(reference.double()))(params, x)
    torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("transform", ["grad", "vmap", "jvp"])
def test_torch_func_inside_compile(transform):
    x = inputs(torch.float32, shape=(4, 3))

    def make(f):
        if transform == "grad":
            return lambda x: torch.func.grad(scalar(f))(x)
        if transform == "vmap":
            return lambda x: torch.func.vmap(f)(x)
        return lambda x: torch.func.jvp(f, (x,), (torch.ones_like(x),))[1]

    torch._dynamo.reset()
    ours = torch.compile(make(tse.sigmoid), backend="aot_eager", fullgraph=True)(x)
    torch.testing.assert_close(ours, make(torch.sigmoid)(x))


class Gate(torch.nn.Module):
    """Calls the functions and holds the Module, as a model saved with TorchScript would."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)
        self.act = tse.Sigmoid()
        self.act_inplace = tse.Sigmoid(inplace=True)

    def forward(self, x):
        h = self.act(self.linear(x))
        h = self.act_inplace(h * 2)
        copy = h.clone()
        tse.sigmoid_(copy)  # in TorchScript the op, which returns nothing
        return tse.sigmoid(h) + copy


@pytest.mark.parametrize("how", ["script", "trace"])
def test_torchscript_saved_and_loaded_in_a_fresh_process(how, tmp_path):
    torch.manual_seed(0)
    model = Gate()
    x = torch.randn(5, 4)
    if how == "script":
        saved = torch.jit.script(model)
    else:
        saved = torch.jit.trace(model, (x,))  # its check_trace compares two traces
    assert "torch_sigmoid_ext::sigmoid" in str(saved.inlined_graph)
    expected = model(x)
    torch.testing.assert_close(saved(x), expected)
    path = tmp_path / "model.pt"
    saved.save(str(path))
    torch.save(x, tmp_path / "x.pt")
    torch.save(expected, tmp_path / "expected.pt")
    code = (
        "import torch, torch_sigmoid_ext, sys\n"
        f"m = torch.jit.load({str(path)!r})\n"
        f"x = torch.load({str(tmp_path / 'x.pt')!r})\n"
        f"expected = torch.load({str(tmp_path / 'expected.pt')!r})\n"
        "x.requires_grad_()\n"
        "y = m(x)\n"
        "y.sum().backward()\n"
        "torch.testing.assert_close(y.detach(), expected)\n"
        "assert x.grad is not None and x.grad.abs().sum() > 0\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr


def test_inference_tensors_are_refused_outside_inference_mode_and_left_alone():
    with torch.inference_mode():
        x = torch.zeros(3)
        out = torch.zeros(3)
    for call in (lambda: tse.sigmoid_(x), lambda: ops.sigmoid_(x),
                 lambda: tse.sigmoid(torch.ones(3), out=out),
                 lambda: ops.sigmoid.out(torch.ones(3), out=out)):
        with pytest.raises(RuntimeError, match="inference tensor"):
            call()
    assert (x == 0).all() and (out == 0).all()
    with torch.inference_mode():  # allowed there, as torch's
        tse.sigmoid_(x)
        tse.sigmoid(torch.zeros(3), out=out)
    assert (x == 0.5).all() and (out == 0.5).all()


@pytest.mark.parametrize("call", ["function", "op"])
def test_version_counters_as_torch(call):
    x, out = torch.randn(4), torch.empty(4)
    versions = x._version, out._version
    if call == "function":
        tse.sigmoid_(x)
        tse.sigmoid(torch.randn(4), out=out)
    else:
        ops.sigmoid_(x)
        ops.sigmoid.out(torch.randn(4), out=out)
    assert x._version > versions[0] and out._version > versions[1]


def test_refused_out_neither_warns_nor_resizes():
    out = torch.zeros(5, dtype=torch.int32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeError, match="can't be cast"):
            tse.sigmoid(torch.randn(2, 3), out=out)
    assert out.shape == (5,) and (out == 0).all()
    out = torch.zeros(5)
    with pytest.warns(UserWarning, match="resized"):
        tse.sigmoid(torch.randn(2, 3), out=out)
    assert out.shape == (2, 3)
