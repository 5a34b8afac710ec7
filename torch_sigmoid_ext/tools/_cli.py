"""What the command-line tools share: the --device check, tables with a legend, progress bars."""

import sys
import textwrap
from typing import NamedTuple

import torch
from tqdm import tqdm

import torch_sigmoid_ext as tse


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
    cells = [[c.name for c in columns]]
    cells += [[v if isinstance(v, str) else c.fmt.format(v) for c, v in zip(columns, row)]
              for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]

    def line(values):
        return "  ".join(f"{v:{c.align}{w}}" for v, c, w in zip(values, columns, widths)).rstrip()

    lines = [line(cells[0]), "  ".join("-" * w for w in widths)]
    lines += [line(values) for values in cells[1:]]
    lines.append("")
    name_width = max(len(c.name) for c in columns)
    for c in columns:
        lines += textwrap.wrap(c.meaning, width, initial_indent=f"  {c.name:<{name_width}}  ",
                               subsequent_indent=" " * (name_width + 4))
    return "\n".join(lines)


def progress(total, desc):
    """A progress bar on stderr. disable=None draws it only when stderr is a terminal: a log
    file would get a carriage return and a redrawn bar at every step."""
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=None, leave=False,
                dynamic_ncols=True)
