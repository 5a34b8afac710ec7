"""Build torch_sigmoid_ext. The C++ uses only torch's stable ABI, targeting TORCH_TARGET, so the
library loads in that torch and every later one, whichever torch (at least TORCH_TARGET) it was
compiled with.

    pip install --no-build-isolation .

TORCH_SIGMOID_EXT_CUDA chooses the CUDA kernels: "auto" (the default: build them when a GPU is
visible or TORCH_CUDA_ARCH_LIST is set, and a toolkit is found), "1" (always; any missing piece
stops the build with one line) or "0" (never). TORCH_CUDA_ARCH_LIST chooses the GPU
architectures, as for any torch extension; without it, those of DEFAULT_CUDA_ARCHS the toolkit
can compile. TORCH_SIGMOID_EXT_SANITIZE=1 builds the C++ code with AddressSanitizer and UBSan.
Every problem this file can foresee stops it with one line that says what to do.
"""

import glob
import logging
import os
import re
import shutil
import subprocess
import sys

from setuptools import find_packages, setup

PACKAGE = "torch_sigmoid_ext"


def fail(message):
    sys.exit(f"{PACKAGE}: {message}")


def note(message):
    # pip shows a build's output only with -v or on failure; build_info() keeps this line too.
    print(f"{PACKAGE}: {message}", file=sys.stderr)


try:
    import torch
except ImportError:
    fail(
        "PyTorch is not installed in this environment. Install it first (for example "
        "`pip install torch`), then build with `pip install --no-build-isolation .` so the "
        "extension compiles against that torch."
    )

# torch.utils.cpp_extension guesses CUDA_HOME when imported and logs a warning about it when no
# GPU is visible; this file finds the toolkit itself (find_cuda_home) and says what it found.
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
from torch.utils import cpp_extension  # noqa: E402
from torch.torch_version import TorchVersion  # noqa: E402

ROOT = os.path.dirname(os.path.abspath(__file__))
# The oldest torch the library loads in: every C++ file compiles with TORCH_TARGET_VERSION set
# to it, which hides the stable API added later and makes every ATen and c10 header an error.
TORCH_TARGET = (2, 10)
# The architectures built without TORCH_CUDA_ARCH_LIST, cut to what the toolkit compiles
# (CUDA 13 dropped everything before 7.5), with PTX for the newest so that later GPUs run it.
DEFAULT_CUDA_ARCHS = ("7.0", "7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "12.0")

# Flags in one place. -ffp-contract=off / --fmad=false: only the explicit fma calls in
# csrc/sigmoid_math.h fuse, so every kernel (scalar, SIMD, CUDA) rounds identically.
# Never -ffast-math: it breaks NaN handling and can switch flush-to-zero on for the process.
# No -std: torch.utils.cpp_extension adds -std=c++20 to both compilers (nvcc rejects a second
# -std), so the compiler must take that flag: see MIN_COMPILERS.
TARGET_FLAG = f"-DTORCH_TARGET_VERSION=0x{TORCH_TARGET[0]:02x}{TORCH_TARGET[1]:02x}000000000000"
CXX_FLAGS = ["-O3", "-ffp-contract=off", "-fvisibility=hidden", TARGET_FLAG]
# GCC warns -Wmaybe-uninitialized inside its own AVX-512 intrinsics (_mm512_undefined_*) at
# every inlined load: false positives that would bury a real error (docs/design.md).
GCC_FLAGS = ["-Wno-maybe-uninitialized"]
NVCC_FLAGS = ["-O3", "--fmad=false", TARGET_FLAG]
# TORCH_SIGMOID_EXT_SANITIZE=1: compiled and linked in, for the host code only.
SANITIZE_FLAGS = [
    "-fsanitize=address,undefined",
    "-fno-omit-frame-pointer",
    "-fno-sanitize-recover=all",
]
# The oldest compilers that take -std=c++20, the standard torch.utils.cpp_extension compiles
# with (g++ 9 knew it only as -std=c++2a and stops at the flag).
MIN_COMPILERS = {"g++": (10,), "clang": (10,)}
CUDA_SWITCH = "TORCH_SIGMOID_EXT_CUDA"


def run(cmd):
    """stdout+stderr of cmd, or None if it cannot run or fails."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout + done.stderr if done.returncode == 0 else None


def check_compiler():
    # torch.utils.cpp_extension compiles with $CXX, else c++. An old one fails deep inside the
    # torch headers with pages of errors; say so up front instead.
    cxx = os.environ.get("CXX", "c++")
    try:
        banner = subprocess.run(
            [cxx, "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        fail(f"cannot run the C++ compiler {cxx!r} ({e}). Install "
             f"g++ {MIN_COMPILERS['g++'][0]}+ or clang {MIN_COMPILERS['clang'][0]}+, or point CXX "
             "at one.")
    kind = "clang" if "clang" in banner else "g++"
    found = re.search(r"(\d+)\.(\d+)(?:\.\d+)?", banner.splitlines()[0] if banner else "")
    version = tuple(int(v) for v in found.groups()) if found else None
    if version is not None and version < MIN_COMPILERS[kind]:
        fail(
            f"the C++ compiler {cxx!r} is {kind} {'.'.join(map(str, version))}, too old for "
            f"torch's headers; {kind} {MIN_COMPILERS[kind][0]} or newer is needed. Install one, "
            "or point CXX at it."
        )
    return kind


def cuda_mode():
    mode = os.environ.get(CUDA_SWITCH, "auto").strip().lower()
    aliases = {"on": "1", "true": "1", "off": "0", "false": "0"}
    mode = aliases.get(mode, mode)
    if mode not in ("auto", "1", "0"):
        fail(f"{CUDA_SWITCH}={mode!r}; use auto, 1 or 0.")
    return mode


def find_cuda_home():
    """(root, where it came from) of the CUDA toolkit, or (None, why not).

    $CUDA_HOME or $CUDA_PATH if set, else the root that `nvcc` on the PATH reports. nvcc may be
    a wrapper script in a folder that holds no toolkit (torch then guesses that folder's
    parent); its dry run names the real root (`#$ TOP=...`)."""
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            return os.environ[var], f"${var}"
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return None, "no nvcc on the PATH and CUDA_HOME is not set"
    dry = run([nvcc, "--dryrun", "-x", "cu", "-c", os.devnull, "-o", os.devnull]) or ""
    top = re.search(r"^#\$ TOP=(.+)$", dry, re.MULTILINE)
    root = top.group(1).strip() if top else os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))
    return os.path.realpath(root), f"nvcc on the PATH ({nvcc})"


def check_toolkit(home, source):
    """None if home is a usable toolkit for this torch, else what is wrong with it."""
    nvcc = os.path.join(home, "bin", "nvcc")
    if not os.access(nvcc, os.X_OK):
        return f"{home} (from {source}) has no bin/nvcc"
    if not os.path.isfile(os.path.join(home, "include", "cuda_runtime.h")):
        return f"{home} (from {source}) has no include/cuda_runtime.h"
    libs = [os.path.join(home, d, "libcudart.so") for d in ("lib64", "lib")]
    if not any(os.path.exists(lib) for lib in libs):
        return f"{home} (from {source}) has no lib64/libcudart.so"
    release = re.search(r"release (\d+)\.(\d+)", run([nvcc, "--version"]) or "")
    torch_major = torch.version.cuda.split(".")[0]
    if release and release.group(1) != torch_major:
        return (f"{home} (from {source}) is CUDA {release.group(1)}.{release.group(2)}, but "
                f"torch {torch.__version__} was built with CUDA {torch.version.cuda}; the major "
                "versions must match")
    return None


def toolkit_archs(home):
    """The compute capabilities this toolkit compiles for, as "9.0", or None if unknown."""
    listed = run([os.path.join(home, "bin", "nvcc"), "--list-gpu-arch"])
    if listed is None:
        return None
    return {f"{m[:-1]}.{m[-1]}" for m in re.findall(r"compute_(\d+)", listed)}


def cuda_arch_list(home):
    """The value for TORCH_CUDA_ARCH_LIST, which torch.utils.cpp_extension turns into -gencode
    flags; empty when torch should ask the visible GPU."""
    supported = toolkit_archs(home)
    asked = os.environ.get("TORCH_CUDA_ARCH_LIST", "").strip()
    if asked:
        # Numbered entries only ("9.0", "9.0a", "8.6+PTX"); torch also takes names ("Ampere").
        numbers = re.findall(r"(?:^|[;\s])(\d+\.\d+)[a-z]?(?:\+PTX)?(?=$|[;\s])", asked)
        bad = [a for a in numbers if supported is not None and a not in supported]
        if bad:
            fail(f"TORCH_CUDA_ARCH_LIST={asked!r} names {', '.join(bad)}, which the CUDA "
                 f"toolkit at {home} cannot compile for (it can: "
                 f"{', '.join(sorted(supported, key=float))}). Leave those out.")
        return asked
    if torch.cuda.is_available():
        return ""
    archs = [a for a in DEFAULT_CUDA_ARCHS if supported is None or a in supported]
    if not archs:
        fail(f"the CUDA toolkit at {home} compiles for none of {', '.join(DEFAULT_CUDA_ARCHS)}; "
             "set TORCH_CUDA_ARCH_LIST to the architectures you need.")
    archs[-1] += "+PTX"
    return ";".join(archs)


def cuda_choice():
    """(toolkit root, arch list) to build the CUDA kernels, or (None, why not) for the CPU only."""
    mode = cuda_mode()
    if mode == "0":
        return None, f"{CUDA_SWITCH}=0"
    forced = mode == "1"
    if torch.version.cuda is None:
        if forced:
            fail(f"{CUDA_SWITCH}=1 but torch {torch.__version__} is a CPU-only build. Install a "
                 f"CUDA build of torch, or set {CUDA_SWITCH}=0.")
        return None, f"torch {torch.__version__} is a CPU-only build"
    wanted = forced or bool(os.environ.get("TORCH_CUDA_ARCH_LIST")) or torch.cuda.is_available()
    if not wanted:
        return None, (f"no GPU is visible; to build the CUDA kernels anyway, set {CUDA_SWITCH}=1 "
                      "or TORCH_CUDA_ARCH_LIST (for example \"9.0\")")
    home, source = find_cuda_home()
    problem = source if home is None else check_toolkit(home, source)
    if problem is not None:
        where = (f"set CUDA_HOME to the root of a CUDA {torch.version.cuda.split('.')[0]}.x "
                 "toolkit (the folder that holds bin/nvcc)")
        if forced or os.environ.get("TORCH_CUDA_ARCH_LIST"):
            fail(f"no usable CUDA toolkit: {problem}. To build the CUDA kernels, {where}; or set "
                 f"{CUDA_SWITCH}=0 to build for the CPU only.")
        return None, f"a GPU is visible, but no usable CUDA toolkit: {problem}; {where} to get them"
    return home, cuda_arch_list(home)


class BuildExtension(cpp_extension.BuildExtension):
    """torch's build_ext, writing _build_config.py only once the library has built, so that a
    failed build never leaves a config describing a library it did not make."""

    summary = ""  # what is being built, set by main()

    def finalize_options(self):
        super().finalize_options()
        if self.editable_mode:
            # pip hands each editable build a new temporary folder, so every `pip install -e`
            # compiled everything again; in a folder of our own, ninja redoes only what changed.
            self.build_temp = os.path.join(ROOT, "build", "editable")

    def run(self):
        super().run()
        package_dir = os.path.join(ROOT if self.inplace else self.build_lib, PACKAGE)
        path = os.path.join(package_dir, "_build_config.py")
        with open(path + ".tmp", "w") as f:
            # Read at import time, before the native library loads, to refuse a torch older than
            # the target.
            f.write("# Written by setup.py once the native library has built.\n")
            f.write(f"TORCH_VERSION = {torch.__version__!r}\n")
            f.write(f"TORCH_TARGET = {'.'.join(map(str, TORCH_TARGET))!r}\n")
            f.write(f"BUILD_SUMMARY = {self.summary!r}\n")
        os.replace(path + ".tmp", path)


def extension(compiler, cuda_home, archs):
    sources = sorted(glob.glob("csrc/*.cpp") + glob.glob("csrc/cpu/*.cpp"))
    define_macros = []
    sanitize = os.environ.get("TORCH_SIGMOID_EXT_SANITIZE", "0") == "1"
    cxx = CXX_FLAGS + (GCC_FLAGS if compiler == "g++" else [])
    extra = {"cxx": cxx + (SANITIZE_FLAGS if sanitize else [])}
    kind = cpp_extension.CppExtension
    if cuda_home is not None:
        # torch.utils.cpp_extension reads both when it compiles and links.
        cpp_extension.CUDA_HOME = os.environ["CUDA_HOME"] = cuda_home
        if archs:
            os.environ["TORCH_CUDA_ARCH_LIST"] = archs
        sources += sorted(glob.glob("csrc/cuda/*.cu"))
        define_macros += [
            ("USE_CUDA", None),  # the stable headers declare their CUDA calls only with it
            ("TORCH_SIGMOID_EXT_WITH_CUDA", None),
            ("TORCH_SIGMOID_EXT_CUDA_ARCHS", f'"{archs or "native"}"'),
        ]
        extra["nvcc"] = list(NVCC_FLAGS)
        kind = cpp_extension.CUDAExtension
    return kind(
        name=f"{PACKAGE}._C",
        sources=sources,
        define_macros=define_macros,
        extra_compile_args=extra,
        extra_link_args=SANITIZE_FLAGS if sanitize else [],
        # No Python C API in the library (torch.ops.load_library loads it): one build serves
        # every CPython from 3.10 on.
        py_limited_api=True,
    )


def check_torch():
    # The stable API of the target must be in the headers it compiles against. The floor is the
    # target's first dev build, so its pre-releases and source builds (2.10.0a0+git...) pass.
    target = ".".join(map(str, TORCH_TARGET))
    if TorchVersion(torch.__version__) < TorchVersion(f"{target}.0.dev0"):
        fail(f"torch {torch.__version__} is installed, but building needs torch {target} or "
             f"newer (the oldest torch this package supports). Install one, for example "
             f"`pip install 'torch>={target}'`.")


def main():
    check_torch()
    compiler = check_compiler()
    cuda_home, archs = cuda_choice()
    if cuda_home is None:
        BuildExtension.summary = f"CPU kernels only: {archs}"
    else:
        target = archs or "the visible GPU"
        BuildExtension.summary = f"CPU and CUDA kernels for {target}, toolkit at {cuda_home}"
    note(f"building {BuildExtension.summary}")
    setup(
        packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
        ext_modules=[extension(compiler, cuda_home, archs)],
        cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
        options={"bdist_wheel": {"py_limited_api": "cp310"}},
    )


main()
