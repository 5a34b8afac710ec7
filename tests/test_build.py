"""What setup.py chooses to build, and its failures: each stops it with one clear line, never a
traceback from inside setuptools. setup.py runs on a copy of the source tree, with `--version`,
which evaluates everything a build checks first, and prints its one-line summary. The CUDA
cases run against a stand-in toolkit (a folder with an `nvcc` script, the header and the
library that setup.py looks for), reached through a wrapper script on the PATH as on the
project's machines. A mismatched torch at import time is tested in test_package.py."""

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
        ignore=shutil.ignore_patterns(".git", "build", "*.so", "__pycache__", "*.egg-info",
                                      "_build_config.py"),
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


# Stands in for a CUDA build of torch on a machine with no GPU.
CUDA_TORCH = "import torch\ntorch.version.cuda = '13.0'\ntorch.cuda.is_available = lambda: False"


def _toolkit(tmp_path, release="13.0", archs=(75, 80, 86, 89, 90, 100, 120), cudart=True):
    """A stand-in CUDA toolkit and, in another folder, a wrapper script `nvcc` that runs it."""
    root = tmp_path / "cuda"
    (root / "bin").mkdir(parents=True)
    (root / "include").mkdir()
    (root / "include" / "cuda_runtime.h").write_text("")
    (root / "lib64").mkdir()
    if cudart:
        (root / "lib64" / "libcudart.so").write_text("")
    listing = " ".join(f"compute_{a}" for a in archs)
    nvcc = root / "bin" / "nvcc"
    nvcc.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        case "$1" in
          --version) echo "Cuda compilation tools, release {release}, V{release}.1" ;;
          --list-gpu-arch) printf '%s\\n' {listing} ;;
          --dryrun) echo '#$ TOP={root}/bin/..' >&2 ;;
          *) exit 1 ;;
        esac
        """))
    nvcc.chmod(0o755)
    wrapper = tmp_path / "wrapper"
    wrapper.mkdir()
    (wrapper / "nvcc").write_text(f'#!/bin/sh\nexec {nvcc} "$@"\n')
    (wrapper / "nvcc").chmod(0o755)
    env = {"PATH": f"{wrapper}:{os.environ['PATH']}", "CUDA_HOME": "", "CUDA_PATH": "",
           "TORCH_CUDA_ARCH_LIST": ""}
    return root, env


@pytest.mark.parametrize("env, gpu, summary", [
    # A CUDA torch and nvcc but no GPU, as a plain `pip install torch` leaves a new user.
    (dict(TORCH_SIGMOID_EXT_CUDA="auto"), False,
     "CPU kernels only: no GPU is visible; to build the CUDA kernels anyway, set "
     'TORCH_SIGMOID_EXT_CUDA=1 or TORCH_CUDA_ARCH_LIST (for example "9.0")'),
    # The toolkit cannot build 7.0 (as CUDA 13): the project's list without it, PTX for the
    # newest; and the root found through the wrapper.
    (dict(TORCH_SIGMOID_EXT_CUDA="1"), False,
     "CPU and CUDA kernels for 7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX, toolkit at {root}"),
    # An arch list asks for CUDA in auto mode.
    (dict(TORCH_CUDA_ARCH_LIST="9.0"), False, "CPU and CUDA kernels for 9.0, toolkit at {root}"),
    # A GPU but no toolkit: the CPU kernels, and what to do for the CUDA ones.
    (dict(TORCH_SIGMOID_EXT_CUDA="auto", CUDA_HOME="/nonexistent"), True,
     "CPU kernels only: a GPU is visible, but no usable CUDA toolkit: /nonexistent (from "
     "$CUDA_HOME) has no bin/nvcc; set CUDA_HOME to the root of a CUDA 13.x toolkit (the "
     "folder that holds bin/nvcc) to get them"),
])
def test_what_is_built_said_in_one_line(tree, tmp_path, env, gpu, summary):
    root, path_env = _toolkit(tmp_path)
    prelude = CUDA_TORCH.replace("lambda: False", f"lambda: {gpu}")
    out = _setup(tree, env=dict(path_env, **env), prelude=prelude)
    assert out.returncode == 0, out.stderr
    said = [l for l in (out.stdout + out.stderr).splitlines() if "torch_sigmoid_ext: " in l]
    assert said == [f"torch_sigmoid_ext: building {summary.format(root=root)}"], said


def test_arch_the_toolkit_cannot_build(tree, tmp_path):
    _, env = _toolkit(tmp_path)
    out = _setup(tree, env=dict(env, TORCH_CUDA_ARCH_LIST="7.0;9.0+PTX"), prelude=CUDA_TORCH)
    _assert_clear_failure(out, "TORCH_CUDA_ARCH_LIST='7.0;9.0+PTX' names 7.0, which the CUDA "
                          "toolkit at", "cannot compile for", "Leave those out.")


@pytest.mark.parametrize(
    "toolkit, problem",
    [
        (dict(cudart=False), "has no lib64/libcudart.so"),
        (dict(release="12.8"), "is CUDA 12.8, but torch"),
    ],
)
def test_unusable_toolkit(tree, tmp_path, toolkit, problem):
    _, env = _toolkit(tmp_path, **toolkit)
    out = _setup(tree, env=dict(env, TORCH_SIGMOID_EXT_CUDA="1"), prelude=CUDA_TORCH)
    _assert_clear_failure(out, "torch_sigmoid_ext: no usable CUDA toolkit", problem,
                          "TORCH_SIGMOID_EXT_CUDA=0")


def test_cuda_forced_with_no_toolkit(tree, tmp_path):
    empty = tmp_path / "not-a-toolkit"
    empty.mkdir()
    out = _setup(tree, env={"TORCH_SIGMOID_EXT_CUDA": "1", "CUDA_HOME": str(empty)},
                 prelude=CUDA_TORCH)
    _assert_clear_failure(out, "no usable CUDA toolkit", f"{empty} (from $CUDA_HOME) has no bin/nvcc",
                          "TORCH_SIGMOID_EXT_CUDA=0")


def test_failed_build_leaves_no_build_config(tree):
    # Sources that cannot compile, so the build fails fast.
    shutil.rmtree(tree / "csrc")
    (tree / "csrc").mkdir()
    (tree / "csrc" / "broken.cpp").write_text("#error this source does not compile\n")
    out = _setup(tree, env={"TORCH_SIGMOID_EXT_CUDA": "0"}, args=("build_ext", "--inplace"))
    assert out.returncode != 0
    assert "this source does not compile" in out.stdout + out.stderr
    assert not (tree / "torch_sigmoid_ext" / "_build_config.py").exists()


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
        ("g++ (Ubuntu 9.4.0-1ubuntu1~20.04.2) 9.4.0", "g++", "9.4"),  # no -std=c++20
        ("clang version 9.0.1 (Fedora 9.0.1-2.fc31)\nTarget: x86_64", "clang", "9.0"),
    ],
)
def test_compiler_too_old(tree, tmp_path, banner, kind, version):
    cxx = _fake_compiler(tmp_path, banner)
    out = _setup(tree, env={"CXX": cxx, "TORCH_SIGMOID_EXT_CUDA": "0"})
    _assert_clear_failure(out, f"is {kind} {version}, too old", "or newer is needed")


@pytest.mark.parametrize(
    "banner",
    ["g++ (GCC) 10.1.0", "clang version 10.0.0", "Ubuntu clang version 18.1.3 (1ubuntu1)"],
)
def test_compiler_new_enough(tree, tmp_path, banner):
    cxx = _fake_compiler(tmp_path, banner)
    out = _setup(tree, env={"CXX": cxx, "TORCH_SIGMOID_EXT_CUDA": "0"})
    assert out.returncode == 0, out.stderr


def test_compiler_missing(tree, tmp_path):
    out = _setup(tree, env={"CXX": str(tmp_path / "no-such-compiler")})
    _assert_clear_failure(out, "cannot run the C++ compiler", "point CXX at one")
