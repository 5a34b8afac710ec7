"""The package around the ops: build facts, what importing it loads and checks, refusing a torch
older than the target."""

import os
import re
import shutil
import subprocess
import sys

import pytest
import torch
from torch.torch_version import TorchVersion

import torch_sigmoid_ext as tse
from torch_sigmoid_ext._extension import native

PACKAGE_DIR = os.path.dirname(tse.__file__)


def _run(code, **kwargs):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, **kwargs
    )


def test_build_info():
    info = tse.build_info()
    # Built with any torch from the target on; loaded in any torch from the target on.
    assert info["torch_target"] == "2.10"
    assert TorchVersion(info["torch_version"]) >= info["torch_target"]
    assert TorchVersion(torch.__version__) >= info["torch_target"]
    assert info["cuda"] == bool(info["cuda_archs"])
    assert info["cpu_variant"] in info["cpu_variants_supported"].split(",")
    assert info["version"] == tse.__version__
    assert info["build"].startswith(("CPU kernels only: ", "CPU and CUDA kernels for ")), info


@pytest.mark.skipif(shutil.which("objdump") is None or os.uname().machine != "x86_64",
                    reason="needs objdump, on x86-64")
def _imported(statement):
    """The modules `python -X importtime -c statement` loads, by name."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", statement],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    # -X importtime writes "import time: self [us] | cumulative | name" per module to stderr.
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \| ( *)(\S+)$", result.stderr, re.M)
    assert len(names) > 100, result.stderr[:2000]
    return {name for _, name in names}


def test_import_loads_nothing_beyond_torch_but_the_package():
    # What the package adds to `import torch` is its own modules: no tool (benchmark, plotting,
    # progress bars), no torch.utils.cpp_extension, no packaging, no numpy of its own.
    extra = _imported("import torch_sigmoid_ext") - _imported("import torch")
    assert extra, "-X importtime listed no module of the package"
    foreign = sorted(name for name in extra if name.split(".")[0] != "torch_sigmoid_ext")
    assert not foreign, f"import torch_sigmoid_ext loads {foreign}"
    assert not any(name.startswith("torch_sigmoid_ext.tools") for name in extra), extra


def test_ops_work_without_the_tools_dependencies():
    # What `pip install --no-deps` beside a torch leaves: no numpy, tqdm, matplotlib or packaging.
    result = _run(
        "import sys\n"
        "for name in ('numpy', 'tqdm', 'matplotlib', 'packaging'):\n"
        "    sys.modules[name] = None  # import raises ImportError\n"
        "import torch, torch_sigmoid_ext as tse\n"
        "x = torch.randn(5, requires_grad=True)\n"
        "tse.sigmoid(x).sum().backward()\n"
        "y = torch.sigmoid(x)\n"
        "assert torch.allclose(x.grad, y * (1 - y))\n"
    )
    assert result.returncode == 0, result.stderr


def test_unknown_cpu_variant_in_the_environment_warns_and_names_the_valid_ones():
    env = dict(os.environ, TORCH_SIGMOID_EXT_CPU_VARIANT="avx9")
    result = _run("import torch_sigmoid_ext as tse; print(tse.build_info()['cpu_variant'])",
                  env=env)
    assert result.returncode == 0, result.stderr
    supported = native.build_info()["cpu_variants_supported"]
    assert result.stdout.strip() == native.build_info()["cpu_variant"]
    message = re.search(r"RuntimeWarning: (.*)", result.stderr)
    assert message, result.stderr
    assert "TORCH_SIGMOID_EXT_CPU_VARIANT='avx9'" in message.group(1)
    assert f"it runs {supported.replace(',', ', ')}" in message.group(1)
    for valid in supported.split(","):
        env["TORCH_SIGMOID_EXT_CPU_VARIANT"] = valid
        result = _run("import torch_sigmoid_ext", env=env)
        assert result.returncode == 0 and "Warning" not in result.stderr, result.stderr


def test_code_run_at_load_uses_no_vector_extension():
    # The static initializers, and the library's functions they call, run on every CPU before
    # any variant is chosen, so they must be baseline x86-64: no VEX/EVEX instruction (AVX,
    # AVX2, AVX-512: their mnemonics start with v). The avx512_bf16 table was once built by a
    # function compiled for AVX-512, which died of SIGILL on CPUs without it, and a CPU with it
    # never shows that.
    dump = subprocess.run(["objdump", "-d", "--no-show-raw-insn", native.path],
                          capture_output=True, text=True, check=True).stdout
    bodies = dict(re.findall(r"^[0-9a-f]+ <([^>]+)>:\n(.*?)(?=\n\n|\Z)", dump, re.S | re.M))
    todo = [name for name in bodies if name.startswith("_GLOBAL__sub_I_")]
    assert todo, "no static initializer found; has the compiler changed their names?"
    seen = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        vector = [l for l in bodies[name].splitlines() if re.match(r"\s*[0-9a-f]+:\s+v", l)]
        assert not vector, (name, vector[:3])
        todo += [c for c in re.findall(r"\bcall\s+[0-9a-f]+ <([^>+]+)>", bodies[name])
                 if c in bodies]


@pytest.mark.skipif(shutil.which("nm") is None or shutil.which("c++filt") is None,
                    reason="needs binutils' nm and c++filt")
def test_library_needs_no_torch_cpp_symbol():
    # The stable ABI's promise: only C functions of libtorch (aoti_torch_*, torch_*), none of
    # its C++ API, whose symbols change between releases.
    undefined = subprocess.run(["nm", "-D", "--undefined-only", native.path],
                               capture_output=True, text=True, check=True).stdout
    names = subprocess.run(["c++filt"], input=undefined, capture_output=True, text=True,
                           check=True).stdout
    cpp = [ln for ln in names.splitlines() if re.search(r"\b(at|c10|torch)::", ln)]
    assert not cpp, "\n".join(cpp)
    assert "aoti_torch_empty_strided" in names  # the check sees the library's imports


def test_torch_older_than_the_target_raises_import_error():
    code = (
        "import torch; torch.__version__ = '2.9.1'\n"
        "try:\n    import torch_sigmoid_ext\nexcept ImportError as e:\n    print('IE', e)\n"
    )
    out = _run(code)
    assert "IE torch_sigmoid_ext needs torch 2.10 or newer, but torch 2.9.1" in out.stdout, out.stderr


@pytest.mark.parametrize("version", ["2.10.0", "2.99.0"])
def test_torch_from_the_target_on_is_accepted(version):
    # One build loads in any torch from the target on, not only the one it was built with.
    code = f"import torch; torch.__version__ = {version!r}\nimport torch_sigmoid_ext\nprint('ok')"
    out = _run(code)
    assert out.stdout.strip() == "ok", out.stderr


def test_unbuilt_source_tree_raises_import_error(tmp_path):
    copy = tmp_path / "torch_sigmoid_ext"
    shutil.copytree(
        PACKAGE_DIR,
        copy,
        ignore=shutil.ignore_patterns("_C*.so", "_build_config.py", "__pycache__"),
    )
    # Drop an editable install's finder, which would otherwise find the built tree first.
    code = (
        "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in "
        "repr(f).lower()]; import torch_sigmoid_ext"
    )
    out = _run(code, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    assert out.returncode != 0
    assert "ImportError: torch_sigmoid_ext: the native extension is not built" in out.stderr
    assert "pip install --no-build-isolation" in out.stderr
