"""Bad input: every refusal names the op and the problem, and leaves every argument, out=
included, exactly as it was. Layouts the ops do not support (sparse, quantized, nested,
MKL-DNN) are refused by name; meta tensors get the real op's metadata from the fake kernels,
and are refused beside a tensor on another device. An argument that is not a tensor gets torch's
TypeError. A source tree without the native library, imported from inside it, names the
installed copy it hides.

The basic cases (mismatched backward shapes, integer out=, partial overlap, expanded in-place)
are in test_ops.py; this file adds the rest."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import LAYOUTS

import torch_sigmoid_ext as tse
from torch_sigmoid_ext._extension import installed_copy, not_built_message

ops = torch.ops.torch_sigmoid_ext
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _snapshot(t):
    """Everything a failed call could have changed, for any layout."""
    if t.is_meta:  # no values
        return ("meta", tuple(t.shape), t.stride(), t.dtype, t._version)
    if t.is_nested:
        return ("nested", [c.clone() for c in t.unbind()])
    if t.is_quantized:
        return ("quantized", t.int_repr().clone(), t.q_scale(), t.q_zero_point())
    dense = t.to_dense() if t.layout != torch.strided else t
    return (t.layout, dense.clone(), tuple(t.shape), t.dtype, t.device, t._version)


def _same(a, b):
    assert a[0] == b[0]
    if a[0] == "nested":
        assert len(a[1]) == len(b[1]) and all(torch.equal(x, y) for x, y in zip(a[1], b[1]))
        return
    for x, y in zip(a[1:], b[1:]):
        assert torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y


def assert_refused(fn, match, *tensors, error=RuntimeError):
    before = [_snapshot(t) for t in tensors]
    with pytest.raises(error, match=match):
        fn()
    for t, b in zip(tensors, before):
        _same(_snapshot(t), b)


# sigmoid_backward


@pytest.mark.parametrize(
    "g_shape, y_shape",
    [((3, 4), (4, 3)), ((1, 4), (3, 4)), ((3, 4), (3, 1)), ((12,), (3, 4)), ((), (1,))],
)
def test_backward_refuses_other_shapes_even_broadcastable(device, g_shape, y_shape):
    # ATen's sigmoid_backward broadcasts; ours, as its derivative's only caller, needs equal
    # shapes, so a broadcastable pair is a mistake to report, not to paper over.
    g = torch.randn(g_shape, device=device)
    y = torch.rand(y_shape, device=device)
    assert_refused(lambda: ops.sigmoid_backward(g, y), r"^torch_sigmoid_ext\.sigmoid_backward: "
                   r"grad_output has shape .* but output has shape", g, y)


@pytest.mark.parametrize(
    "g_dtype, y_dtype",
    [
        (torch.float32, torch.float64),
        (torch.float64, torch.float32),
        (torch.bfloat16, torch.float32),
        (torch.float16, torch.bfloat16),
        (torch.complex64, torch.float32),
    ],
)
def test_backward_refuses_mixed_dtypes(device, g_dtype, y_dtype):
    g = torch.randn(5, device=device).to(g_dtype)
    y = torch.rand(5, device=device).to(y_dtype)
    assert_refused(lambda: ops.sigmoid_backward(g, y),
                   r"sigmoid_backward: grad_output has dtype .* but output has dtype", g, y)


@pytest.mark.parametrize("dtype", [torch.int32, torch.bool])
def test_backward_refuses_unsupported_dtype(device, dtype):
    g = torch.ones(5, device=device, dtype=dtype)
    y = torch.ones(5, device=device, dtype=dtype)
    assert_refused(lambda: ops.sigmoid_backward(g, y),
                   r"sigmoid_backward: output has dtype .* not supported", g, y)


@needs_cuda
@pytest.mark.parametrize("cuda_arg", ["grad_output", "output"])
def test_backward_refuses_mixed_devices_unchanged(cuda_arg):
    g, y = torch.randn(3, 4), torch.rand(3, 4)
    if cuda_arg == "grad_output":
        g = g.cuda()
    else:
        y = y.cuda()
    assert_refused(lambda: ops.sigmoid_backward(g, y),
                   r"sigmoid_backward: grad_output is on .* but output is on", g, y)


# out=


@pytest.mark.parametrize(
    "x_dtype, out_dtype",
    [
        (torch.float32, torch.int32),
        (torch.float32, torch.bool),
        (torch.int64, torch.int64),  # the result is float even for integer input
        (torch.complex64, torch.float32),
        (torch.complex128, torch.float64),
    ],
)
def test_out_refuses_a_dtype_the_result_cannot_be_cast_to(device, x_dtype, out_dtype):
    x = torch.ones(6, device=device, dtype=x_dtype)
    out = torch.zeros(6, device=device, dtype=out_dtype)
    assert_refused(lambda: tse.sigmoid(x, out=out),
                   r"^torch_sigmoid_ext\.sigmoid: the result has dtype .* can't be cast to out's",
                   x, out)
    assert_refused(lambda: ops.sigmoid.out(x, out=out), r"sigmoid: .*can't be cast", x, out)


def test_out_refuses_wrong_size_dtype_before_resizing(device):
    # The size would be fixed by resizing; the dtype check must come first, so out keeps its
    # shape as well as its values.
    x = torch.randn(2, 3, device=device)
    out = torch.arange(5, device=device)
    assert_refused(lambda: tse.sigmoid(x, out=out), r"sigmoid: .*can't be cast", x, out)
    assert out.shape == (5,)


@needs_cuda
@pytest.mark.parametrize("out_device", ["cpu", "cuda"])
def test_out_refuses_another_device(out_device):
    x = torch.randn(4, device="cuda" if out_device == "cpu" else "cpu")
    out = torch.zeros(4, device=out_device)
    assert_refused(lambda: tse.sigmoid(x, out=out), r"sigmoid: out is on .* but the input is on",
                   x, out)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda b: (b[:6], b[4:]), id="shifted"),
        pytest.param(lambda b: (b[4:], b[:6]), id="shifted_back"),
        pytest.param(lambda b: (b[1:], b[:-1]), id="by_one"),
    ],
)
def test_out_refuses_partial_overlap_both_ways(device, make):
    base = torch.randn(10, device=device)
    x, out = make(base)
    assert_refused(lambda: tse.sigmoid(x, out=out), r"sigmoid: out partially overlaps the input",
                   base)


def test_out_refuses_the_input_transposed(device):
    # Same memory, other strides: element i of out is not element i of the input.
    x = torch.randn(4, 4, device=device)
    assert_refused(lambda: tse.sigmoid(x, out=x.t()), r"sigmoid: out partially overlaps", x)


def test_out_refuses_the_input_viewed_as_another_dtype(device):
    x = torch.randn(4, dtype=torch.float64, device=device)
    out = x.view(torch.complex64)  # the same 32 bytes
    assert_refused(lambda: tse.sigmoid(x, out=out),
                   r"sigmoid: out is the input viewed as another dtype", x)


@pytest.mark.parametrize(
    "make_out",
    [
        pytest.param(lambda d: torch.zeros(1, 4, device=d).expand(3, 4), id="expanded"),
        pytest.param(lambda d: torch.zeros(3, 1, device=d).expand(3, 4), id="expanded_cols"),
    ],
)
def test_out_refuses_self_overlapping_out(device, make_out):
    # Overlap is found as torch finds it, by a zero stride; other self-overlapping as_strided
    # views are torch's "too hard to tell" case, which torch.sigmoid accepts too.
    x = torch.randn(3, 4, device=device)
    out = make_out(device)
    assert_refused(lambda: tse.sigmoid(x, out=out), r"sigmoid: out has elements that share memory",
                   x, out)


# In place


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda d: torch.randn(1, 4, device=d).expand(3, 4), id="expand_rows"),
        pytest.param(lambda d: torch.randn(3, 1, device=d).expand(3, 4), id="expand_cols"),
        pytest.param(lambda d: torch.randn(1, device=d).expand(5), id="scalar_expanded"),
        pytest.param(lambda d: torch.randn(2, 1, 3, device=d).expand(2, 4, 3), id="expand_middle"),
    ],
)
def test_inplace_refuses_self_overlapping_tensors(device, make):
    x = make(device)
    assert_refused(lambda: tse.sigmoid_(x), r"^torch_sigmoid_ext\.sigmoid_: the tensor has "
                   "elements that share memory", x)
    assert_refused(lambda: ops.sigmoid_(x), r"sigmoid_: .*share memory", x)


@pytest.mark.parametrize(
    "dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool]
)
def test_inplace_refuses_integer_and_bool(device, dtype):
    x = torch.arange(-3, 3, device=device).to(dtype)
    assert_refused(lambda: tse.sigmoid_(x), r"^torch_sigmoid_ext\.sigmoid_: in-place sigmoid "
                   "needs a floating-point or complex tensor", x)
    assert_refused(lambda: tse.Sigmoid(inplace=True)(x), r"sigmoid_: .*floating-point", x)


def test_inplace_refuses_a_leaf_that_requires_grad_unchanged(device):
    x = torch.randn(4, device=device, requires_grad=True)
    assert_refused(lambda: tse.sigmoid_(x), r"leaf Variable .*torch_sigmoid_ext\.sigmoid_", x)


# Layouts without kernels: refused by name, by every op and in every argument position.

UNSUPPORTED = {
    "sparse_coo": (
        lambda: torch.randn(4, 4).to_sparse(),
        r"a sparse tensor \(layout torch\.sparse_coo\), which is not supported; .*\.to_dense\(\)",
    ),
    "sparse_csr": (lambda: torch.randn(4, 4).to_sparse_csr(), "a sparse tensor .*sparse_csr"),
    "sparse_csc": (lambda: torch.randn(4, 4).to_sparse_csc(), "a sparse tensor .*sparse_csc"),
    "sparse_bsr": (lambda: torch.randn(4, 4).to_sparse_bsr((2, 2)), "a sparse tensor .*sparse_bsr"),
    "sparse_bsc": (lambda: torch.randn(4, 4).to_sparse_bsc((2, 2)), "a sparse tensor .*sparse_bsc"),
    "quantized": (
        lambda: torch.quantize_per_tensor(torch.randn(4, 4), 0.1, 3, torch.quint8),
        "a quantized tensor.*dequantize",
    ),
    "nested": (
        lambda: torch.nested.nested_tensor([torch.randn(2, 4), torch.randn(3, 4)]),
        "a nested tensor",
    ),
    "mkldnn": (lambda: torch.randn(4, 4).to_mkldnn(), "an MKL-DNN tensor.*to_dense"),
}


@pytest.mark.parametrize("kind", list(UNSUPPORTED))
def test_unsupported_layout_refused_by_every_op(kind):
    make, problem = UNSUPPORTED[kind]
    bad, dense = make(), torch.rand(4, 4)
    calls = [
        (lambda: tse.sigmoid(bad), "sigmoid: input "),
        (lambda: ops.sigmoid(bad), "sigmoid: input "),
        (lambda: tse.sigmoid_(bad), "sigmoid_: input "),
        (lambda: tse.sigmoid(bad, out=dense), "sigmoid: input "),
        (lambda: tse.sigmoid(dense, out=bad), "sigmoid: out "),
        (lambda: ops.sigmoid_backward(bad, dense), "sigmoid_backward: grad_output "),
        (lambda: ops.sigmoid_backward(dense, bad), "sigmoid_backward: output "),
    ]
    for call, where in calls:
        assert_refused(call, rf"^torch_sigmoid_ext\.{where}is {problem}", bad, dense)


@pytest.mark.parametrize("kind", ["sparse_coo", "sparse_csr"])
def test_unsupported_layout_refused_under_autograd(kind):
    x = UNSUPPORTED[kind][0]().requires_grad_()
    assert_refused(lambda: tse.sigmoid(x), r"^torch_sigmoid_ext\.sigmoid: input is a sparse", x)
    assert_refused(lambda: tse.Sigmoid()(x), r"sigmoid: input is a sparse", x)


def test_refusal_kernels_are_registered_for_every_layout_key():
    # Device keys without a device here (SparseCUDA, ...) too: a CUDA build needs them.
    for op in ("sigmoid", "sigmoid_", "sigmoid.out", "sigmoid_backward"):
        for key in ("SparseCPU", "SparseCUDA", "SparseMeta", "SparseCsrCPU", "SparseCsrCUDA",
                    "QuantizedCPU", "QuantizedCUDA", "NestedTensorCPU", "NestedTensorCUDA"):
            assert torch._C._dispatch_has_kernel_for_dispatch_key(f"torch_sigmoid_ext::{op}", key)


def test_sparse_meta_refused_by_name():
    x = torch.randn(4, 4).to_sparse().to("meta")
    with pytest.raises(RuntimeError, match=r"^torch_sigmoid_ext\.sigmoid: input is a sparse"):
        tse.sigmoid(x)


# Meta tensors: the fake kernels give the real op's metadata


def _meta_like(t):
    return torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device="meta")


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.complex64, torch.int64])
def test_meta_forward_and_backward_metadata(layout, dtype):
    real = LAYOUTS[layout](dtype, "cpu")
    meta = _meta_like(real)
    for fn in (tse.sigmoid, ops.sigmoid):
        y, expected = fn(meta), fn(real)
        assert (y.device.type, y.shape, y.stride(), y.dtype) == (
            "meta", expected.shape, expected.stride(), expected.dtype)
    if not dtype.is_floating_point and not dtype.is_complex:
        return
    y_real = tse.sigmoid(real)
    g = _meta_like(y_real)
    gi = ops.sigmoid_backward(g, _meta_like(y_real))
    expected = ops.sigmoid_backward(y_real, y_real)
    assert (gi.device.type, gi.shape, gi.stride(), gi.dtype) == (
        "meta", expected.shape, expected.stride(), expected.dtype)


def test_meta_inplace_and_out():
    x = torch.empty(3, 4, device="meta")
    assert tse.sigmoid_(x) is x and x.shape == (3, 4)
    out = torch.empty(0, device="meta", dtype=torch.float64)
    assert tse.sigmoid(x, out=out) is out
    assert out.shape == (3, 4) and out.dtype == torch.float64 and out.device.type == "meta"


def test_meta_refusals_match_the_real_op():
    x = torch.empty(3, 4, device="meta")
    with pytest.raises(RuntimeError, match=r"sigmoid_backward: grad_output has shape"):
        ops.sigmoid_backward(x, x[:1])
    with pytest.raises(RuntimeError, match=r"sigmoid_backward: grad_output has dtype"):
        ops.sigmoid_backward(x, x.double())
    with pytest.raises(RuntimeError, match=r"sigmoid_: in-place sigmoid needs a floating"):
        tse.sigmoid_(torch.empty(3, dtype=torch.int32, device="meta"))
    with pytest.raises(RuntimeError, match=r"sigmoid: the result has dtype .* can't be cast"):
        tse.sigmoid(x, out=torch.empty(3, 4, dtype=torch.int64, device="meta"))


@pytest.mark.parametrize("meta", ["input", "out"])
def test_out_refuses_meta_beside_a_real_tensor(meta):
    # The Meta key wins the dispatch, so the fake kernel is the one to refuse. out has another
    # shape: a resize before the check would show.
    x = torch.randn(2, 3, device="meta" if meta == "input" else "cpu")
    out = torch.zeros(0, device="meta" if meta == "out" else "cpu")
    where = "meta but the input is on cpu" if meta == "out" else "cpu but the input is on meta"
    match = rf"^torch_sigmoid_ext\.sigmoid: out is on {where}; pass an out tensor on the input"
    assert_refused(lambda: tse.sigmoid(x, out=out), match, x, out)
    assert_refused(lambda: ops.sigmoid.out(x, out=out), match, x, out)


@pytest.mark.parametrize("meta", ["grad_output", "output"])
def test_backward_refuses_meta_beside_a_real_tensor(meta):
    g = torch.randn(3, device="meta" if meta == "grad_output" else "cpu")
    y = torch.rand(3, device="meta" if meta == "output" else "cpu")
    match = (rf"^torch_sigmoid_ext\.sigmoid_backward: grad_output is on {g.device} but output "
             rf"is on {y.device}; move both to the same device")
    assert_refused(lambda: ops.sigmoid_backward(g, y), match, g, y)


def test_fake_tensors_pass_the_device_check():
    # FakeTensors are on the meta device underneath but report the device they stand for.
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        x = torch.randn(2, 3)
        out = torch.empty(0)
        assert tse.sigmoid(x, out=out) is out and out.shape == (2, 3)
        assert ops.sigmoid_backward(x, out).device == torch.device("cpu")


# Not a tensor: torch's TypeError, with our op's name


@pytest.mark.parametrize("arg", [0.5, None, [0.5, 1.0]], ids=["float", "None", "list"])
@pytest.mark.parametrize("grad_mode", [True, False], ids=["grad", "no_grad"])
def test_non_tensor_is_a_type_error_like_torch(arg, grad_mode):
    x = torch.randn(3, requires_grad=grad_mode)
    calls = [
        (lambda: tse.sigmoid(arg), lambda: torch.sigmoid(arg)),
        (lambda: tse.Sigmoid()(arg), lambda: torch.nn.Sigmoid()(arg)),
        (lambda: tse.sigmoid_(arg), lambda: torch.sigmoid_(arg)),
        (lambda: tse.Sigmoid(inplace=True)(arg), lambda: torch.sigmoid_(arg)),
        (lambda: tse.sigmoid(arg, out=torch.empty(3)), lambda: torch.sigmoid(arg, out=x)),
    ]
    if arg is not None:  # out=None is no out
        calls.append((lambda: tse.sigmoid(x, out=arg), lambda: torch.sigmoid(x, out=arg)))
    with torch.set_grad_enabled(grad_mode):
        for ours, theirs in calls:
            with pytest.raises(TypeError) as expected:
                theirs()
            with pytest.raises(TypeError) as got:
                ours()
            assert str(got.value) == f"torch_sigmoid_ext.{expected.value}"


# Imported from a source tree that is not built


def test_not_built_message_without_an_installed_copy():
    message = not_built_message(Path("/src/tree/torch_sigmoid_ext"), None)
    assert message.startswith("torch_sigmoid_ext: the native extension is not built. Build it "
                              "with `pip install --no-build-isolation .`")


def test_not_built_message_names_the_installed_copy_it_shadows():
    message = not_built_message(Path("/src/tree/torch_sigmoid_ext"),
                                Path("/venv/site-packages/torch_sigmoid_ext"))
    assert message == (
        "torch_sigmoid_ext: the native extension is not built in the source tree at /src/tree, "
        "and you are importing from that tree, which shadows the installed torch_sigmoid_ext at "
        "/venv/site-packages/torch_sigmoid_ext. Run from another folder, or install with "
        "`pip install --no-build-isolation -e .` to work in the source tree.")


def _fake_install(site, record=True, editable_at=None):
    """A torch_sigmoid_ext installed into site as pip would: the package and its dist-info."""
    package = site / "torch_sigmoid_ext"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    info = site / "torch_sigmoid_ext-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: torch_sigmoid_ext\nVersion: 0.1.0\n")
    if record:
        (info / "RECORD").write_text("torch_sigmoid_ext/__init__.py,,\n")
    if editable_at is not None:
        (info / "direct_url.json").write_text(
            f'{{"dir_info": {{"editable": true}}, "url": "{editable_at.as_uri()}"}}')
    return package


def test_installed_copy_found_from_the_metadata(tmp_path):
    source = tmp_path / "src" / "torch_sigmoid_ext"
    source.mkdir(parents=True)
    site = tmp_path / "site"
    package = _fake_install(site)
    assert installed_copy(source, path=[str(site)]) == package.resolve()
    # The source tree itself, found by its own metadata, shadows nothing.
    assert installed_copy(package, path=[str(site)]) is None
    assert installed_copy(source, path=[str(tmp_path / "empty")]) is None


def test_installed_copy_of_an_editable_install_is_its_tree(tmp_path):
    other = tmp_path / "other"
    (other / "torch_sigmoid_ext").mkdir(parents=True)
    site = tmp_path / "site"
    _fake_install(site, record=False, editable_at=other)
    source = tmp_path / "src" / "torch_sigmoid_ext"
    source.mkdir(parents=True)
    assert installed_copy(source, path=[str(site)]) == (other / "torch_sigmoid_ext").resolve()
    assert installed_copy(other / "torch_sigmoid_ext", path=[str(site)]) is None


def test_import_from_an_unbuilt_source_tree_names_the_installed_copy(tmp_path):
    # The Python package without its native library, imported from its folder, with a copy
    # installed elsewhere on the path.
    src = tmp_path / "src"
    shutil.copytree(Path(tse.__file__).parent, src / "torch_sigmoid_ext",
                    ignore=shutil.ignore_patterns("_C*", "__pycache__"))
    site = tmp_path / "site"
    installed = _fake_install(site)
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(1, {str(site)!r}); "
         "import torch_sigmoid_ext"],
        cwd=src, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert (f"ImportError: torch_sigmoid_ext: the native extension is not built in the source "
            f"tree at {src.resolve()}, and you are importing from that tree, which shadows the "
            f"installed torch_sigmoid_ext at {installed.resolve()}.") in result.stderr
