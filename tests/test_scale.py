"""More than 2^31 elements: no 32-bit index anywhere between the op and the loops."""

import pytest
import torch

import torch_sigmoid_ext as tse

ops = torch.ops.torch_sigmoid_ext

N = 2**31 + 7  # bfloat16: 4 GiB a tensor
PERIOD = 65537  # prime, so every index past 2^31 sees a value of its own phase
# Three such tensors at once (12 GiB), and headroom for the checks.
NEEDS_GIB = 14


def _available_gib():
    with open("/proc/meminfo") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["MemAvailable"].split()[0]) / 2**20


def _memory_check():
    try:
        available = _available_gib()
    except (OSError, KeyError):
        pytest.skip("cannot read MemAvailable from /proc/meminfo")
    if available < NEEDS_GIB:
        pytest.skip(f"needs {NEEDS_GIB} GiB of free memory, {available:.1f} GiB available")


@pytest.mark.slow
def test_more_than_2_31_elements_forward_and_backward():
    _memory_check()
    gen = torch.Generator().manual_seed(0)
    pattern = (torch.randn(PERIOD, generator=gen) * 6).to(torch.bfloat16)
    expected_y = tse.sigmoid(pattern)  # the same formula on 65537 elements
    g_pattern = torch.randn(PERIOD, generator=gen).to(torch.bfloat16)

    def tiled(p):
        reps = -(-N // PERIOD)
        return p.expand(reps, PERIOD).reshape(-1)[:N]

    x = tiled(pattern)
    assert x.numel() == N and x.is_contiguous()
    y = tse.sigmoid(x)
    x = None  # noqa: F841  (frees 4 GiB: at most three of these tensors at once)
    gx = ops.sigmoid_backward(tiled(g_pattern), y)

    mid = N // 2
    idx = torch.cat([
        torch.tensor([0, 1, mid - 1, mid, mid + 1, 2**31 - 1, 2**31, 2**31 + 1, N - 2, N - 1]),
        torch.randint(N, (100_000,), generator=gen),
    ])
    phase = idx % PERIOD
    assert torch.equal(y[idx], expected_y[phase])
    expected_g = ops.sigmoid_backward(g_pattern, expected_y)
    assert torch.equal(gx[idx], expected_g[phase])
    torch.testing.assert_close(y[idx], torch.sigmoid(pattern)[phase], atol=8e-3, rtol=8e-3)
