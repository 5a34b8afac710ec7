import pytest
import torch

import torch_sigmoid_ext  # noqa: F401  (loads the ops)

DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
    ),
]

# dtype -> (atol, rtol) against torch.sigmoid, and max ULP against the reference.
# float32/float64 may differ from torch by its own error (up to 2.5 ULP) plus ours (2 ULP).
TOLERANCES = {
    torch.float32: dict(atol=1e-7, rtol=5e-7),
    torch.float64: dict(atol=1e-15, rtol=1e-15),
    torch.float16: dict(atol=1e-3, rtol=1e-3),
    torch.bfloat16: dict(atol=8e-3, rtol=8e-3),
    torch.complex64: dict(atol=1e-6, rtol=1e-5),
    torch.complex128: dict(atol=1e-14, rtol=1e-13),
}
REAL_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
ALL_DTYPES = REAL_DTYPES + [torch.complex64, torch.complex128]


def _base(dtype, device, shape):
    g = torch.Generator().manual_seed(0)
    t = torch.randn(shape, generator=g, dtype=torch.float64) * 6
    if dtype.is_complex:
        t = torch.complex(t, torch.randn(shape, generator=g, dtype=torch.float64))
    return t.to(dtype).to(device)


# name -> f(dtype, device) giving an input of that layout
LAYOUTS = {
    "contiguous": lambda dt, dev: _base(dt, dev, (37, 129)),
    "transposed": lambda dt, dev: _base(dt, dev, (129, 37)).t(),
    "sliced": lambda dt, dev: _base(dt, dev, (40, 300))[3:, 1::3],
    "offset": lambda dt, dev: _base(dt, dev, (4099,))[1:],
    "channels_last": lambda dt, dev: _base(dt, dev, (2, 5, 7, 9)).to(
        memory_format=torch.channels_last
    ),
    "expanded": lambda dt, dev: _base(dt, dev, (1, 33)).expand(17, 33),
    "zero_dim": lambda dt, dev: _base(dt, dev, ()),
    "empty": lambda dt, dev: _base(dt, dev, (0, 5)),
}


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param
