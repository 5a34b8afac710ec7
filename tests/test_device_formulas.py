"""The CUDA kernels' per-element formulas (csrc/cuda/sigmoid_cuda_ops.h), compiled for the host
and compared bit for bit with the CPU kernels in both rounding modes: the check that CPU and GPU
give the same bits, on machines without a GPU (tests/test_cuda.py runs the kernels themselves
where there is one)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import torch_sigmoid_ext as tse
from torch_sigmoid_ext.tools import _numerics as num

ROOT = Path(__file__).resolve().parent.parent
CXX = os.environ.get("CXX", "c++")
_ops = torch.ops.torch_sigmoid_ext


@pytest.fixture(scope="module")
def host_binary(tmp_path_factory):
    if shutil.which(CXX) is None:
        pytest.skip(f"no C++ compiler ({CXX})")
    binary = tmp_path_factory.mktemp("device_formulas") / "device_formulas_host"
    # -ffp-contract=off, as setup.py compiles the kernels: only the explicit fma calls fuse.
    subprocess.run([CXX, "-O2", "-std=c++17", "-ffp-contract=off", f"-I{ROOT / 'csrc'}",
                    str(ROOT / "tests" / "device_formulas_host.cpp"), "-o", str(binary)],
                   check=True)
    return binary


def run_host(binary, op, direction, *tensors):
    dtype = tensors[0].dtype
    data = b"".join(t.contiguous().view(num.INT_VIEW[dtype]).numpy().tobytes() for t in tensors)
    done = subprocess.run([str(binary), op, direction], input=data, capture_output=True,
                          check=True)
    return torch.frombuffer(bytearray(done.stdout), dtype=num.INT_VIEW[dtype]).view(dtype)


def host_op(dtype, rounding):
    """device_formulas_host's name for what the kernels run for dtype in that rounding mode:
    only float32 has a second set of formulas."""
    name = str(dtype).removeprefix("torch.")
    return f"{name}_correct" if dtype == torch.float32 and rounding == "correct" else name


def inputs(dtype):
    if dtype != torch.float32:
        return torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(dtype)
    # Every 4099th bit pattern (all exponents, NaN and infinities), a dense sweep where the
    # results vary, and inputs whose results lie close to a float midpoint.
    strided = torch.arange(0, 2**32, 4099, dtype=torch.int64)
    strided = torch.where(strided >= 2**31, strided - 2**32, strided).to(torch.int32)
    hard = torch.tensor([-2.0**-24, 2.0**-24, -103.972077, -87.33655, 17.328680, -0.0, 0.0])
    return torch.cat([strided.view(torch.float32), torch.linspace(-110, 20, 200_003), hard])


@pytest.mark.parametrize("rounding", ["default", "correct"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_forward_same_bits_as_cpu(host_binary, dtype, rounding):
    op = host_op(dtype, rounding)
    x = inputs(dtype)
    with tse.rounding(rounding):
        expected = tse.sigmoid(x)
    got = run_host(host_binary, op, "forward", x)
    assert torch.equal(got.view(num.INT_VIEW[dtype]), expected.view(num.INT_VIEW[dtype]))


@pytest.mark.parametrize("rounding", ["default", "correct"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_backward_same_bits_as_cpu(host_binary, dtype, rounding):
    op = host_op(dtype, rounding)
    gen = torch.Generator().manual_seed(0)
    y = torch.cat([tse.sigmoid(inputs(dtype).float()).to(dtype),
                   (torch.randn(1 << 16, generator=gen) * 3).to(dtype)])
    g = (torch.randn(y.shape, generator=gen) *
         torch.exp2(torch.randint(-60, 60, y.shape, generator=gen).float())).to(dtype)
    with tse.rounding(rounding):
        expected = _ops.sigmoid_backward(g, y)
    got = run_host(host_binary, op, "backward", g, y)
    assert torch.equal(got.view(num.INT_VIEW[dtype]), expected.view(num.INT_VIEW[dtype]))
