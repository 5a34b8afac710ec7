"""Build torch_sigmoid_ext against the torch that is installed.

    pip install --no-build-isolation .

TORCH_SIGMOID_EXT_CUDA chooses the CUDA kernels: "auto" (the default: build them when torch
is a CUDA build and a CUDA toolkit is found), "1" (always; fails clearly without a toolkit) or
"0" (never). TORCH_CUDA_ARCH_LIST chooses the GPU architectures, as for any torch extension.
"""

import glob
import os
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


def use_cuda():
    mode = os.environ.get("TORCH_SIGMOID_EXT_CUDA", "auto").strip().lower()
    if mode not in ("auto", "1", "0", "on", "off", "true", "false"):
        sys.exit(f"torch_sigmoid_ext: TORCH_SIGMOID_EXT_CUDA={mode!r}; use auto, 1 or 0.")
    if mode in ("0", "off", "false"):
        return False
    have_toolkit = cpp_extension.CUDA_HOME is not None
    if mode == "auto":
        return torch.version.cuda is not None and have_toolkit
    if torch.version.cuda is None:
        sys.exit(
            f"torch_sigmoid_ext: TORCH_SIGMOID_EXT_CUDA={mode} but torch {torch.__version__} is a "
            "CPU-only build. Install a CUDA build of torch, or set TORCH_SIGMOID_EXT_CUDA=0."
        )
    if not have_toolkit:
        sys.exit(
            f"torch_sigmoid_ext: TORCH_SIGMOID_EXT_CUDA={mode} but no CUDA toolkit was found. "
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
    with_cuda = use_cuda()
    sources = sorted(glob.glob("csrc/*.cpp") + glob.glob("csrc/cpu/*.cpp"))
    define_macros = []
    extra = {"cxx": list(CXX_FLAGS)}
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
        )
    ]


setup(
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    ext_modules=get_extensions(),
    cmdclass={"build_ext": cpp_extension.BuildExtension.with_options(use_ninja=True)},
)
