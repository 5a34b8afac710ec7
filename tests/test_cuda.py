"""The CUDA kernels: correctness for every dtype and layout, the same bits as the CPU kernels,
and the CUDA machinery around them (streams, graphs, torch.compile, several devices)."""

import copy

import pytest
import torch
from torch import nn

import torch_sigmoid_ext as tse

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

_ops = torch.ops.torch_sigmoid_ext

# Tolerances against torch.sigmoid and against a float64 reference rounded to the dtype. The
# 16-bit results are float32 results rounded once, within 1 ULP of the float64 reference; torch's
# own 16-bit kernels may round differently, so both comparisons allow 2 ULP.
DTYPES = [
    pytest.param(torch.float32, dict(rtol=4e-7, atol=1e-38), id="float32"),
    pytest.param(torch.float64, dict(rtol=1e-15, atol=1e-300), id="float64"),
    pytest.param(torch.float16, dict(rtol=2**-9, atol=2**-24), id="float16"),
    pytest.param(torch.bfloat16, dict(rtol=2**-6, atol=1e-38), id="bfloat16"),
    pytest.param(torch.complex64, dict(rtol=1e-5, atol=1e-6), id="complex64"),
    pytest.param(torch.complex128, dict(rtol=1e-12, atol=1e-14), id="complex128"),
]

REAL_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
ALL_DTYPES = REAL_DTYPES + [torch.complex64, torch.complex128]
SAME_BITS_INT = {
    torch.float32: torch.int32,
    torch.float64: torch.int64,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
}


def make_input(shape, dtype, device="cuda", seed=0):
    gen = torch.Generator().manual_seed(seed)
    if dtype.is_complex:
        real = torch.randn(shape, generator=gen, dtype=torch.float64) * 3
        imag = torch.randn(shape, generator=gen, dtype=torch.float64) * 3
        return torch.complex(real, imag).to(dtype=dtype, device=device)
    x = torch.randn(shape, generator=gen, dtype=torch.float64) * 8
    flat = x.view(-1)
    specials = torch.tensor([0.0, -0.0, 1.0, -1.0, 20.0, -20.0, 100.0, -100.0, 1e-30],
                            dtype=torch.float64)
    k = min(flat.numel(), specials.numel())
    flat[:k] = specials[:k]
    return x.to(dtype=dtype, device=device)


def make_grad_and_output(shape, dtype, seed=1):
    g = make_input(shape, dtype, seed=seed)
    y = tse.sigmoid(make_input(shape, dtype, seed=seed + 1))
    return g, y


def reference_forward(x):
    """sigmoid in float64 (complex128) on the CPU, rounded to x's dtype."""
    wide = torch.complex128 if x.dtype.is_complex else torch.float64
    xd = x.detach().cpu().to(wide)
    return (1 / (1 + torch.exp(-xd))).to(x.dtype)


def reference_backward(g, y):
    wide = torch.complex128 if y.dtype.is_complex else torch.float64
    gd, yd = g.cpu().to(wide), y.cpu().to(wide)
    return (gd * torch.conj((1 - yd) * yd)).to(y.dtype)


def assert_same_bits(actual, expected):
    """Equal bit for bit, except that any NaN matches any NaN in the same place."""
    actual, expected = actual.cpu(), expected.cpu()
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    nan_a, nan_e = torch.isnan(actual), torch.isnan(expected)
    assert torch.equal(nan_a, nan_e), "NaN in different places"
    as_int = SAME_BITS_INT[actual.dtype]
    a = actual.contiguous().view(as_int)[~nan_a]
    e = expected.contiguous().view(as_int)[~nan_e]
    mismatch = (a != e).nonzero()
    assert mismatch.numel() == 0, (
        f"{mismatch.numel()} elements differ, first at flat index {mismatch[0].item()}"
    )


# ---- Correctness ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_forward_matches_torch_and_reference(dtype, tol):
    x = make_input((4097,), dtype)
    y = tse.sigmoid(x)
    assert y.device == x.device and y.dtype == dtype
    torch.testing.assert_close(y, torch.sigmoid(x), **tol)
    torch.testing.assert_close(y.cpu(), reference_forward(x), **tol)


@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_backward_matches_torch_and_reference(dtype, tol):
    g, y = make_grad_and_output((4097,), dtype)
    grad = _ops.sigmoid_backward(g, y)
    assert grad.device == y.device and grad.dtype == dtype
    torch.testing.assert_close(grad, torch.ops.aten.sigmoid_backward(g, y), **tol)
    torch.testing.assert_close(grad.cpu(), reference_backward(g, y), **tol)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_autograd_matches_torch(dtype):
    x = make_input((257, 3), dtype).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    g = make_input((257, 3), dtype, seed=5)
    tse.sigmoid(x).backward(g)
    torch.sigmoid(x_ref).backward(g)
    # torch's y differs from ours by an ULP or two, and y * (1 - y) amplifies that where it is
    # tiny: the dtype's default tolerances, whose atol covers it.
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_special_values():
    x = torch.tensor([float("inf"), float("-inf"), float("nan"), 0.0, -0.0], device="cuda")
    y = tse.sigmoid(x).cpu()
    assert y[0] == 1 and y[1] == 0 and torch.isnan(y[2]) and y[3] == 0.5 and y[4] == 0.5


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_gradcheck(dtype):
    x = make_input((5, 3), dtype).requires_grad_()
    assert torch.autograd.gradcheck(tse.sigmoid, (x,))
    assert torch.autograd.gradgradcheck(tse.sigmoid, (x,))


# ---- The same bits as the CPU kernels ------------------------------------------------------


def every_bit_pattern_16():
    return torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16)


def float32_bit_patterns():
    """Random bit patterns (every exponent: subnormals, inf, NaN) and a dense sweep."""
    gen = torch.Generator().manual_seed(0)
    bits = torch.randint(-(2**31), 2**31, (1 << 20,), generator=gen, dtype=torch.int64)
    random = bits.to(torch.int32).view(torch.float32)
    sweep = torch.linspace(-120, 120, (1 << 20) + 3)
    return torch.cat([random, sweep])


def float64_bit_patterns():
    gen = torch.Generator().manual_seed(0)
    bits = torch.randint(-(2**63), 2**63 - 1, (1 << 20,), generator=gen, dtype=torch.int64)
    sweep = torch.linspace(-800, 800, (1 << 20) + 3, dtype=torch.float64)
    return torch.cat([bits.view(torch.float64), sweep])


def cpu_inputs(dtype):
    if dtype == torch.float32:
        return float32_bit_patterns()
    if dtype == torch.float64:
        return float64_bit_patterns()
    return every_bit_pattern_16().view(dtype)


@pytest.mark.parametrize("rounding", ["default", "correct"])
@pytest.mark.parametrize("dtype", REAL_DTYPES, ids=str)
def test_forward_same_bits_as_cpu(dtype, rounding):
    x = cpu_inputs(dtype)
    with tse.rounding(rounding):
        assert_same_bits(tse.sigmoid(x.cuda()), tse.sigmoid(x))
        # Unaligned and strided inputs (the strided one copied dense first) run the same formula.
        assert_same_bits(tse.sigmoid(x.cuda()[1:]), tse.sigmoid(x[1:]))
        assert_same_bits(tse.sigmoid(x.cuda()[::3]), tse.sigmoid(x[::3]))


@pytest.mark.parametrize("rounding", ["default", "correct"])
@pytest.mark.parametrize("dtype", REAL_DTYPES, ids=str)
def test_backward_same_bits_as_cpu(dtype, rounding):
    x = cpu_inputs(dtype)
    g = x.flip(0)
    y = tse.sigmoid(x)
    with tse.rounding(rounding):
        expected = _ops.sigmoid_backward(g, y)
        assert_same_bits(_ops.sigmoid_backward(g.cuda(), y.cuda()), expected)
        assert_same_bits(_ops.sigmoid_backward(g.cuda()[1:], y.cuda()[1:]), expected[1:])


# ---- Lengths, alignment and layouts --------------------------------------------------------


@pytest.mark.parametrize("n", [1, 7, 4097, 2**20 + 3])
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("offset", [0, 1, 3], ids=lambda o: f"offset{o}")
def test_lengths_and_alignment(n, dtype, offset):
    base = make_input((n + offset,), dtype)
    x = base[offset:]
    assert_matches_cpu(tse.sigmoid(x), x)
    g, y = make_grad_and_output((n + offset,), dtype)
    assert_backward_matches_cpu(_ops.sigmoid_backward(g[offset:], y[offset:]), g[offset:],
                                y[offset:])
    # out= and in place with the same misalignment for input and output.
    out = torch.empty_like(base)[offset:]
    tse.sigmoid(x, out=out)
    assert_matches_cpu(out, x)
    z = x.clone()
    tse.sigmoid_(z)
    assert_matches_cpu(z, x)


def assert_matches_cpu(y, x):
    expected = tse.sigmoid(x.cpu())
    if y.dtype.is_complex:
        torch.testing.assert_close(y.cpu(), expected, rtol=1e-5, atol=1e-6)
    else:
        assert_same_bits(y, expected)


def assert_backward_matches_cpu(grad, g, y):
    expected = _ops.sigmoid_backward(g.cpu(), y.cpu())
    if grad.dtype.is_complex:
        torch.testing.assert_close(grad.cpu(), expected, rtol=1e-5, atol=1e-6)
    else:
        assert_same_bits(grad, expected)


LAYOUTS = {
    "contiguous": lambda t: t,
    "transposed": lambda t: t.transpose(0, 3),
    "sliced_step": lambda t: t[:, ::2, 1:, ::3],
    "channels_last": lambda t: t.contiguous(memory_format=torch.channels_last),
    "expanded_dim": lambda t: t[:, :1].expand(-1, 5, -1, -1),
    "zero_dim": lambda t: t[0, 0, 0, 0],
    "empty": lambda t: t[:, :0],
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", REAL_DTYPES + [torch.complex64], ids=str)
def test_layouts(layout, dtype):
    make = LAYOUTS[layout]
    x = make(make_input((3, 6, 7, 9), dtype))
    y = tse.sigmoid(x)
    assert y.shape == x.shape
    if layout == "channels_last":
        assert y.is_contiguous(memory_format=torch.channels_last)
    assert_matches_cpu(y, x)

    g, yy = make_grad_and_output((3, 6, 7, 9), dtype)
    assert_backward_matches_cpu(_ops.sigmoid_backward(make(g), make(yy)), make(g), make(yy))
    # grad_output and output with different strides: one is copied to the other's layout.
    yy_other = yy.transpose(1, 2).contiguous().transpose(1, 2)
    assert_backward_matches_cpu(_ops.sigmoid_backward(make(g), make(yy_other)), make(g),
                                make(yy_other))


@pytest.mark.parametrize("dtype", REAL_DTYPES, ids=str)
def test_inplace_and_out_on_strided_views(dtype):
    base = make_input((64, 33), dtype)
    expected = tse.sigmoid(base.cpu())

    z = base.clone()
    tse.sigmoid_(z[:, ::2])  # strided, writes through the view only
    assert_same_bits(z[:, ::2], expected[:, ::2])
    assert_same_bits(z[:, 1::2], base[:, 1::2])

    out = torch.zeros((33, 64), dtype=dtype, device="cuda").t()  # transposed out
    tse.sigmoid(base, out=out)
    assert_same_bits(out, expected)


# ---- Streams, graphs, compile, devices -----------------------------------------------------


def test_runs_on_the_current_stream():
    # The input is written on a side stream behind a long sleep. A kernel launched on the
    # default stream instead of the current one would read it before the write.
    x = torch.zeros(1 << 20, device="cuda")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        torch.cuda._sleep(200_000_000)
        x.fill_(2.0)
        y = tse.sigmoid(x)
        grad = _ops.sigmoid_backward(x, y)
    side.synchronize()
    assert torch.equal(y, tse.sigmoid(torch.full((1 << 20,), 2.0)).cuda())
    assert torch.equal(grad, _ops.sigmoid_backward(x, y))


def test_cuda_graph_capture_and_replay():
    x = torch.randn(4097, device="cuda")
    g = torch.randn(4097, device="cuda")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up outside the capture, as torch recommends
        tse.sigmoid(x)
        _ops.sigmoid_backward(g, x)
    torch.cuda.current_stream().wait_stream(side)

    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = tse.sigmoid(x)
        grad = _ops.sigmoid_backward(g, y)
        z = y.clone()
        tse.sigmoid_(z)
    for seed in range(3):
        torch.manual_seed(seed)
        x.copy_(torch.randn(4097, device="cuda") * 10)
        g.copy_(torch.randn(4097, device="cuda"))
        graph.replay()
        torch.cuda.synchronize()
        expected_y = tse.sigmoid(x.cpu())
        assert_same_bits(y, expected_y)
        assert_same_bits(grad, _ops.sigmoid_backward(g.cpu(), expected_y))
        assert_same_bits(z, tse.sigmoid(expected_y))


def test_torch_compile_reduce_overhead():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), tse.Sigmoid(), nn.Linear(32, 8), tse.Sigmoid())
    model = model.cuda()
    compiled_model = copy.deepcopy(model)
    compiled = torch.compile(compiled_model, mode="reduce-overhead")
    for step in range(4):
        x = torch.randn(64, 16, device="cuda")
        expected = model(x)
        actual = compiled(x)
        torch.testing.assert_close(actual, expected)
        model.zero_grad()
        compiled_model.zero_grad()
        expected.square().sum().backward()
        actual.square().sum().backward()
        for p, q in zip(model.parameters(), compiled_model.parameters()):
            # Inductor may split Linear's addmm differently: a few ULP apart, not more.
            torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-5)
    torch._dynamo.reset()


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_second_device():
    # Current device 0, tensors on device 1: the kernel must follow the tensor.
    with torch.cuda.device(0):
        x = make_input((4097,), torch.float32, device="cuda:1").requires_grad_()
        y = tse.sigmoid(x)
        y.backward(torch.ones_like(y))
        torch.cuda.synchronize(1)
    assert y.device == torch.device("cuda:1") and x.grad.device == torch.device("cuda:1")
    assert_same_bits(y.detach(), tse.sigmoid(x.detach().cpu()))
    expected_grad = _ops.sigmoid_backward(torch.ones(4097), y.detach().cpu())
    assert_same_bits(x.grad, expected_grad)
    # A side stream of device 1.
    with torch.cuda.device(0), torch.cuda.stream(torch.cuda.Stream(device=1)):
        z = tse.sigmoid(x.detach()[1:])
    torch.cuda.synchronize(1)
    assert_same_bits(z, tse.sigmoid(x.detach().cpu()[1:]))


@pytest.mark.slow
def test_more_than_2_to_the_31_elements():
    # 16 GiB of float16 (x and y): the kernel indexes past 2^31 elements, also on the dense copy
    # that a strided input gets.
    n = 2**32 + 34
    free, _ = torch.cuda.mem_get_info()
    if free < 24 * 2**30:
        pytest.skip("needs 24 GiB of free GPU memory")
    x = torch.empty(n, dtype=torch.float16, device="cuda").uniform_(-12, 12)
    probes = [slice(0, 4097), slice(2**31 - 5, 2**31 + 10), slice(-4097, None)]
    y = tse.sigmoid(x)
    for s in probes:
        assert_same_bits(y[s], tse.sigmoid(x[s].cpu()))
    del y
    strided = x[::2]  # 2^31 + 17 elements, not dense: copied dense, then the same kernel
    y = tse.sigmoid(strided)
    for s in probes:
        assert_same_bits(y[s], tse.sigmoid(strided[s].cpu()))
