"""What the command-line tools share: the command dispatch, the checks of their dependencies
and environment, argument parsing with one-line errors, the --device check, the dtype names,
tables with a legend, progress bars and where results are written."""

import argparse
import importlib
import os
import sys
import textwrap
from typing import NamedTuple

import torch

import torch_sigmoid_ext as tse
from torch_sigmoid_ext._rounding import MODES as ROUNDING_MODES

PROG = "python -m torch_sigmoid_ext"
# command -> what it does, for `python -m torch_sigmoid_ext --help`
COMMANDS = {
    "compare": "accuracy, gradients and speed against torch.sigmoid (quick)",
    "benchmark": "the speed grid against torch.sigmoid, to CSV and PNG; --per-call, "
                 "--non-dense, --device cuda",
    "accuracy": "the exhaustive accuracy sweep against torch.sigmoid, to JSON",
}
# Imported when a command starts, not when the package does: the runtime needs none of them.
REQUIRED_MODULES = ("numpy", "tqdm")
# Where results go unless --csv, --plot or --json say otherwise; created on demand.
RESULTS_DIR = "tse-results"

# The one table of dtype names the tools accept and print.
DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}

# The CPU kernel variants the library knows (csrc/cpu: one kernel table each), for checking
# TORCH_SIGMOID_EXT_CPU_VARIANT: the library falls back to the best variant this CPU runs
# without a word, and a measurement would then be labelled with a variant it did not use.
CPU_VARIANT_VARIABLE = "TORCH_SIGMOID_EXT_CPU_VARIANT"
CPU_VARIANTS = ("generic", "avx2", "avx512", "avx512_bf16")


def dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def main(argv=None):
    """python -m torch_sigmoid_ext [command] [options]; the command defaults to compare."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name = argv.pop(0) if argv and not argv[0].startswith("-") else "compare"
    if name not in COMMANDS:
        print(f"{PROG}: unknown command {name!r}; use one of {', '.join(COMMANDS)} "
              f"(--help lists them)", file=sys.stderr)
        return 2
    problem = missing_module()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    module = importlib.import_module(f"torch_sigmoid_ext.tools.{name}")
    return module.main(argv)


def usage():
    lines = [f"usage: {PROG} [command] [options]", "", "commands:"]
    lines += [f"  {name:<10} {meaning}" for name, meaning in COMMANDS.items()]
    lines += ["", f"With no command, runs compare. `{PROG} COMMAND --help` shows a command's "
              f"options. Results are written under {RESULTS_DIR}/ in the current directory."]
    return "\n".join(lines)


def missing_module():
    """The one line to print where a module the tools need is not installed, else None."""
    for name in REQUIRED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            return f"{PROG}: the tools need {name}; pip install 'torch_sigmoid_ext[tools]'"
    return None


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr, exit status 2: the usage that
    argparse prints first would push the line that says what was wrong out of a short log."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (--help lists the options)\n")


def parser(prog, doc):
    """A Parser whose description is the first paragraph of the tool's docstring."""
    first_paragraph = doc.strip().split("\n\n")[0]
    return Parser(prog=prog, description=" ".join(first_paragraph.split()))


def int_in(low, high, what):
    """An argparse type: an integer from low to high, else an error that names the range."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r}: {what} must be an integer from {low} to {high}")
        return value
    return parse


def float_in(low, high, what):
    """An argparse type: a number above low and at most high, else an error naming the range."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not low < value <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r}: {what} must be a number above {low:g} and at most {high:g}")
        return value
    return parse


def physical_memory():
    """Bytes of RAM in this machine."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def device_memory(device):
    """Bytes a tool may allocate on device: free GPU memory, or the machine's RAM."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free
    return physical_memory()


def format_bytes(count):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if count < 1024 or unit == "PiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} B"


def check_environment(parser_):
    """Ends the tool with one line (exit 2) where TORCH_SIGMOID_EXT_CPU_VARIANT names a variant
    that does not exist or that this CPU cannot run."""
    forced = os.environ.get(CPU_VARIANT_VARIABLE, "")
    if not forced:  # the library reads an empty value as unset
        return
    supported = tse.build_info()["cpu_variants_supported"].split(",")
    if forced not in CPU_VARIANTS:
        parser_.exit(2, f"{parser_.prog}: error: {CPU_VARIANT_VARIABLE}={forced} is not a CPU "
                     f"variant; use one of {', '.join(CPU_VARIANTS)} (this CPU runs "
                     f"{', '.join(supported)}), or unset it\n")
    if forced not in supported:
        parser_.exit(2, f"{parser_.prog}: error: {CPU_VARIANT_VARIABLE}={forced}: this CPU "
                     f"cannot run it; use one of {', '.join(supported)}, or unset it\n")


def output_path(path):
    """path, with its folder created; None where path is '' (the user asked for no file)."""
    if not path:
        return None
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    return path


def start(parser_, argv):
    """args and the torch.device for a command, once what every command needs is checked: the
    arguments, the CPU variant in the environment, the device, the tools' dependencies. None
    after one line on stderr: the command then exits 2."""
    args = parser_.parse_args(argv)
    check_environment(parser_)
    device = parse_device(parser_.prog, args.device or default_device())
    if device is None:
        return None
    problem = missing_module()
    if problem:
        print(problem, file=sys.stderr)
        return None
    return args, device


def default_device():
    return "cuda" if torch.cuda.is_available() and tse.build_info()["cuda"] else "cpu"


def parse_device(prog, name):
    """The torch.device for `--device name`, or None after one line on stderr that says why it
    cannot be used and what to do instead (the tool then exits 2, as argparse does)."""
    problem = _device_problem(name)
    if problem:
        print(f"{prog}: --device {name}: {problem}", file=sys.stderr)
        return None
    return torch.device(name)


def _device_problem(name):
    try:
        device = torch.device(name)
    except RuntimeError:
        return "not a device; use cpu or cuda (cuda:N for the N-th GPU)."
    if device.type == "cpu":
        return None
    if device.type != "cuda":
        return "torch_sigmoid_ext has kernels for cpu and cuda only; use one of them."
    if torch.version.cuda is None:
        return (f"torch {torch.__version__} is a CPU-only build, so there is no GPU to run on. "
                "Use --device cpu, or install a CUDA build of torch and rebuild this package "
                "against it.")
    if not torch.cuda.is_available():
        return ("torch finds no GPU (torch.cuda.is_available() is False). Use --device cpu, or "
                "check the NVIDIA driver and CUDA_VISIBLE_DEVICES.")
    if not tse.build_info()["cuda"]:
        return ("this build of torch_sigmoid_ext has no CUDA kernels. Use --device cpu, or "
                "rebuild it with TORCH_SIGMOID_EXT_CUDA=1.")
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        return f"torch sees {count} GPU(s); use one of cuda:0 to cuda:{count - 1}."
    return None


class Column(NamedTuple):
    name: str
    meaning: str  # the legend's line for it, in plain words
    fmt: str = "{}"  # for values that are not text already
    align: str = ">"  # numbers to the right; "<" for words


def table(columns, rows, width=100):
    """An aligned table and, under it, a legend with a line for each column.

    Widths come from the content and columns are two spaces apart, so values never touch and
    a reader (or a test) can split any line on runs of two spaces. A cell that is text already
    ("noisy", "-") is printed as it is.
    """
    cells = [[column.name for column in columns]]
    cells += [[value if isinstance(value, str) else column.fmt.format(value)
               for column, value in zip(columns, row)]
              for row in rows]
    widths = [max(len(line[index]) for line in cells) for index in range(len(columns))]

    def line(values):
        return "  ".join(f"{value:{column.align}{width_}}"
                         for value, column, width_ in zip(values, columns, widths)).rstrip()

    lines = [line(cells[0]), "  ".join("-" * column_width for column_width in widths)]
    lines += [line(values) for values in cells[1:]]
    lines.append("")
    name_width = max(len(column.name) for column in columns)
    for column in columns:
        lines += textwrap.wrap(column.meaning, width,
                               initial_indent=f"  {column.name:<{name_width}}  ",
                               subsequent_indent=" " * (name_width + 4))
    return "\n".join(lines)


def progress(total, desc):
    """A progress bar on stderr. disable=None draws it only when stderr is a terminal: a log
    file would get a carriage return and a redrawn bar at every step."""
    from tqdm import tqdm  # a tools dependency, checked by missing_module() before a command

    return tqdm(total=total, desc=desc, file=sys.stderr, disable=None, leave=False,
                dynamic_ncols=True)
