"""Build failures: each stops setup.py with one clear line, never a traceback from inside
setuptools. setup.py runs on a copy of the source tree (it writes _build_config.py there), with
`--version`, which evaluates everything a build checks first. A mismatched torch at import
time is tested in test_package.py."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def tree(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(
        ROOT, src,
        ignore=shutil.ignore_patterns(".git", "build", "*.so", "__pycache__", "*.egg-info"),
    )
    return src


def _setup(tree, python=sys.executable, env=None, prelude=None, args=("--version",)):
    env = dict(os.environ, **(env or {}))
    cmd = [python, "setup.py", *args]
    if prelude:  # run setup.py after some Python that stands in for the machine
        code = prelude + "\nimport runpy, sys; sys.argv = ['setup.py', *sys.argv[1:]]\n" \
            "runpy.run_path('setup.py', run_name='__main__')"
        cmd = [python, "-c", code, *args]
    return subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=300)


def _assert_clear_failure(out, *phrases):
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    assert "Traceback" not in text, text
    for phrase in phrases:
        assert phrase in text, text


def test_setup_runs_with_this_torch_and_compiler(tree):
    out = _setup(tree, env={"TORCH_SIGMOID_EXT_CUDA": "0"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0.1.0"


def test_no_torch(tree, tmp_path):
    # A fresh venv: pip and setuptools, no torch.
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    assert subprocess.run([python, "-c", "import torch"], capture_output=True).returncode != 0
    _assert_clear_failure(
        _setup(tree, python=python),
        "torch_sigmoid_ext: PyTorch is not installed in this environment",
        "pip install --no-build-isolation .",
    )


def test_cuda_forced_with_cpu_only_torch(tree):
    out = _setup(tree, env={"TORCH_SIGMOID_EXT_CUDA": "1"}, prelude="import torch\n"
                 "torch.version.cuda = None")
    _assert_clear_failure(out, "TORCH_SIGMOID_EXT_CUDA=1 but torch", "is a CPU-only build")


def test_cuda_forced_with_no_toolkit(tree, tmp_path):
    # A CUDA build of torch, as setup.py sees it, and CUDA_HOME at an empty folder.
    empty = tmp_path / "not-a-toolkit"
    empty.mkdir()
    out = _setup(
        tree,
        env={"TORCH_SIGMOID_EXT_CUDA": "1", "CUDA_HOME": str(empty)},
        # What a CUDA build of torch does with $CUDA_HOME: takes it as it is.
        prelude="import os, torch\nfrom torch.utils import cpp_extension\n"
        "torch.version.cuda = '12.8'\ncpp_extension.CUDA_HOME = os.environ['CUDA_HOME']",
    )
    _assert_clear_failure(out, "TORCH_SIGMOID_EXT_CUDA=1 but no CUDA toolkit was found",
                          f"CUDA_HOME='{empty}' has no bin/nvcc", "TORCH_SIGMOID_EXT_CUDA=0")


def test_bad_cuda_switch(tree):
    _assert_clear_failure(_setup(tree, env={"TORCH_SIGMOID_EXT_CUDA": "maybe"}),
                          "TORCH_SIGMOID_EXT_CUDA='maybe'; use auto, 1 or 0")


def _fake_compiler(tmp_path, banner):
    path = tmp_path / "fake-cxx"
    path.write_text(f"#!/bin/sh\ncat <<'EOF'\n{textwrap.dedent(banner).strip()}\nEOF\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(
    "banner, kind, version",
    [
        ("g++ (GCC) 7.5.0\nCopyright (C) 2017 Free Software Foundation, Inc.", "g++", "7.5"),
        ("g++ (Ubuntu 8.4.0-3ubuntu2) 8.4.0", "g++", "8.4"),
        ("clang version 9.0.1 (Fedora 9.0.1-2.fc31)\nTarget: x86_64", "clang", "9.0"),
    ],
)
def test_compiler_too_old(tree, tmp_path, banner, kind, version):
    cxx = _fake_compiler(tmp_path, banner)
    out = _setup(tree, env={"CXX": cxx, "TORCH_SIGMOID_EXT_CUDA": "0"})
    _assert_clear_failure(out, f"is {kind} {version}, too old", "or newer is needed")


@pytest.mark.parametrize(
    "banner",
    ["g++ (GCC) 9.1.0", "clang version 10.0.0", "Ubuntu clang version 18.1.3 (1ubuntu1)"],
)
def test_compiler_new_enough(tree, tmp_path, banner):
    cxx = _fake_compiler(tmp_path, banner)
    out = _setup(tree, env={"CXX": cxx, "TORCH_SIGMOID_EXT_CUDA": "0"})
    assert out.returncode == 0, out.stderr


def test_compiler_missing(tree, tmp_path):
    out = _setup(tree, env={"CXX": str(tmp_path / "no-such-compiler")})
    _assert_clear_failure(out, "cannot run the C++ compiler", "point CXX at one")
