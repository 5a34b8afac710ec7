"""What the examples' command lines share: a parser that shows every default, counts of at least
one, and where the plots go."""

import argparse
from pathlib import Path

# Beside the scripts rather than in the current directory, which is often a source tree; git
# ignores it.
OUTPUT = Path(__file__).resolve().parent / "output"


class _Parser(argparse.ArgumentParser):
    # A bad value ends in the one line that says what is valid, not in the usage first.
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (--help lists the options)\n")


def parser(doc):
    """An ArgumentParser described by doc's first paragraph, its help showing every default."""
    return _Parser(description=doc.split("\n\n")[0],
                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def positive_int(text):
    """An argparse type: an integer >= 1, refused in one line otherwise."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def add_plot_options(p, filename):
    """--out-dir DIR (where filename goes) or --no-plot."""
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out-dir", type=Path, default=OUTPUT, metavar="DIR",
                       help=f"folder for {filename}, created if missing")
    where.add_argument("--no-plot", action="store_true", help="print the numbers only")
