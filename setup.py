"""Build torch_sigmoid_ext against the torch that is installed.

    pip install --no-build-isolation .

TORCH_SIGMOID_EXT_CUDA chooses the CUDA kernels: "auto" (the default: build them when torch
is a CUDA build and a CUDA toolkit is found), "1" (always; fails clearly without a toolkit) or
"0" (never). TORCH_CUDA_ARCH_LIST chooses the GPU architectures, as for any torch extension.
TORCH_SIGMOID_EXT_SANITIZE=1 builds the C++ code with AddressSanitizer and UBSan (CI stage 3).
"""

import glob
import os
import re
import subprocess
import sys

from setuptools import find_packages, setup

try:
    import torch
    from torch.utils import cpp_extension
except ImportError:
    sys.exit(
        "torch_sigmoid_ext: PyTorch is not installed in this environment. Install it first "
        "(for example `pip install torch`), then build with "
        "`pip install --no-build-isolation .` so the extension compiles against that torch."
    )

ROOT = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "torch_sigmoid_ext"
# Without TORCH_CUDA_ARCH_LIST and with no GPU to ask: Volta to Hopper, and PTX for newer cards.
DEFAULT_CUDA_ARCHS = "7.0;8.0;8.6;8.9;9.0+PTX"

# Flags in one place. -ffp-contract=off / --fmad=false: only the explicit fma calls in
# csrc/sigmoid_math.h fuse, so every kernel (scalar, SIMD, CUDA) rounds identically.
# Never -ffast-math: it breaks NaN handling and can switch flush-to-zero on for the process.
# No -std: torch.utils.cpp_extension adds the standard the installed torch's headers need
# (C++20 for recent torch, whose ATen headers refuse C++17; nvcc rejects a second -std).
CXX_FLAGS = ["-O3", "-ffp-contract=off", "-fvisibility=hidden"]
NVCC_FLAGS = ["-O3", "--fmad=false"]
# TORCH_SIGMOID_EXT_SANITIZE=1: compiled and linked in, for the host code only.
SANITIZE_FLAGS = [
    "-fsanitize=address,undefined",
    "-fno-omit-frame-pointer",
    "-fno-sanitize-recover=all",
]
# The oldest compilers whose C++20 the installed torch's headers compile with.
MIN_COMPILERS = {"g++": (9,), "clang": (10,)}


def check_compiler():
    # torch.utils.cpp_extension compiles with $CXX, else c++. An old one fails deep inside the
    # torch headers with pages of errors; say so up front instead.
    cxx = os.environ.get("CXX", "c++")
    try:
        banner = subprocess.run(
            [cxx, "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"torch_sigmoid_ext: cannot run the C++ compiler {cxx!r} ({e}). Install g++ 9+ "
                 "or clang 10+, or point CXX at one.")
    kind = "clang" if "clang" in banner else "g++"
    found = re.search(r"(\d+)\.(\d+)(?:\.\d+)?", banner.splitlines()[0] if banner else "")
    version = tuple(int(v) for v in found.groups()) if found else None
    if version is not None and version < MIN_COMPILERS[kind]:
        sys.exit(
            f"torch_sigmoid_ext: the C++ compiler {cxx!r} is {kind} "
            f"{'.'.join(map(str, version))}, too old for torch's headers; "
            f"{kind} {MIN_COMPILERS[kind][0]} or newer is needed. Install one, or point CXX at it."
        )


def use_cuda():
    mode = os.environ.get("TORCH_SIGMOID_EXT_CUDA", "auto").strip().lower()
    if mode not in ("auto", "1", "0", "on", "off", "true", "false"):
        sys.exit(f"torch_sigmoid_ext: TORCH_SIGMOID_EXT_CUDA={mode!r}; use auto, 1 or 0.")
    if mode in ("0", "off", "false"):
        return False
    # torch takes $CUDA_HOME on trust; a toolkit is only there if it holds nvcc.
    home = cpp_extension.CUDA_HOME
    have_toolkit = home is not None and os.path.isfile(os.path.join(home, "bin", "nvcc"))
    if mode == "auto":
        return torch.version.cuda is not None and have_toolkit
    if torch.version.cuda is None:
        sys.exit(
            f"torch_sigmoid_ext: TORCH_SIGMOID_EXT_CUDA={mode} but torch {torch.__version__} is a "
            "CPU-only build. Install a CUDA build of torch, or set TORCH_SIGMOID_EXT_CUDA=0."
        )
    if not have_toolkit:
        where = "CUDA_HOME is not set" if home is None else f"CUDA_HOME={home!r} has no bin/nvcc"
        sys.exit(
            f"torch_sigmoid_ext: TORCH_SIGMOID_EXT_CUDA={mode} but no CUDA toolkit was found "
            f"({where}). "
            "Set CUDA_HOME to the toolkit's root (the folder that holds bin/nvcc), or set "
            "TORCH_SIGMOID_EXT_CUDA=0 to build for the CPU only."
        )
    return True


def cuda_arch_list():
    if not os.environ.get("TORCH_CUDA_ARCH_LIST"):
        if not torch.cuda.is_available():
            # torch.utils.cpp_extension reads this variable to choose -gencode flags.
            os.environ["TORCH_CUDA_ARCH_LIST"] = DEFAULT_CUDA_ARCHS
    return os.environ.get("TORCH_CUDA_ARCH_LIST", "")


def write_build_config(with_cuda, archs):
    # Read at import time, before the native library loads, to refuse a mismatched torch.
    with open(os.path.join(ROOT, PACKAGE, "_build_config.py"), "w") as f:
        f.write("# Written by setup.py at build time.\n")
        f.write(f"TORCH_VERSION = {torch.__version__!r}\n")
        f.write(f"CUDA = {with_cuda!r}\n")
        f.write(f"CUDA_ARCHS = {archs!r}\n")


def get_extensions():
    check_compiler()
    with_cuda = use_cuda()
    sources = sorted(glob.glob("csrc/*.cpp") + glob.glob("csrc/cpu/*.cpp"))
    define_macros = []
    sanitize = os.environ.get("TORCH_SIGMOID_EXT_SANITIZE", "0") == "1"
    extra = {"cxx": CXX_FLAGS + (SANITIZE_FLAGS if sanitize else [])}
    archs = ""
    if with_cuda:
        archs = cuda_arch_list()
        sources += sorted(glob.glob("csrc/cuda/*.cu"))
        define_macros += [
            ("TORCH_SIGMOID_EXT_WITH_CUDA", None),
            ("TORCH_SIGMOID_EXT_CUDA_ARCHS", f'"{archs or "native"}"'),
        ]
        extra["nvcc"] = list(NVCC_FLAGS)
        extension = cpp_extension.CUDAExtension
    else:
        extension = cpp_extension.CppExtension
    write_build_config(with_cuda, archs)
    return [
        extension(
            name=f"{PACKAGE}._C",
            sources=sources,
            define_macros=define_macros,
            extra_compile_args=extra,
            extra_link_args=SANITIZE_FLAGS if sanitize else [],
        )
    ]


setup(
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    ext_modules=get_extensions(),
    cmdclass={"build_ext": cpp_extension.BuildExtension.with_options(use_ninja=True)},
)
