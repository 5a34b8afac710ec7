"""The sigmoid and its derivative, sigma' = sigma (1 - sigma), and a check that autograd through
torch_sigmoid_ext gives that derivative.

    python examples/derivative.py [--quick] [--points N] [--out-dir DIR | --no-plot]

In float64, at many points of [-30, 30], the gradient autograd computes through our op (which
uses only the saved output y: y (1 - y)) is compared with the closed form written from x alone,
e^-|x| / (1 + e^-|x|)^2, which shares no code with either. Prints the largest difference and
exits 1 if it exceeds 1e-12; saves a plot, derivative.png, in --out-dir (needs matplotlib).
"""

import sys

import torch

import torch_sigmoid_ext as tse
from _args import add_plot_options, parser, positive_int

TOLERANCE = 1e-12


def closed_form_derivative(x):
    """sigma'(x) from x alone; written with e^-|x| (at most 1) so nothing overflows, and even
    in x as sigma' is."""
    e = torch.exp(-x.abs())
    return e / (1 + e) ** 2


def autograd_derivative(x):
    x = x.detach().requires_grad_()
    (grad,) = torch.autograd.grad(tse.sigmoid(x).sum(), x)
    return grad


def plot(path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: skipping the plot {path} (pip install matplotlib)")
        return
    x = torch.linspace(-8, 8, 401, dtype=torch.float64)
    dots = torch.linspace(-8, 8, 33, dtype=torch.float64)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(x, tse.sigmoid(x), label="σ(x)")
    ax.plot(x, closed_form_derivative(x), label="σ'(x) = σ(x)(1 − σ(x))")
    ax.plot(dots, autograd_derivative(dots), "k.", ms=5, label="autograd through tse.sigmoid")
    ax.axhline(0.25, color="gray", lw=0.6, ls=":")
    ax.annotate("max σ' = 1/4 at x = 0", (0.3, 0.26), fontsize=8, color="gray")
    ax.set(xlabel="x", title="The sigmoid and its derivative")
    ax.title.set_fontsize(10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--points", type=positive_int, default=1_000_001, metavar="N",
                   help="points of [-30, 30] compared")
    p.add_argument("--quick", action="store_true", help="10,001 points, for tests")
    add_plot_options(p, "derivative.png")
    args = p.parse_args(argv)
    if args.quick:
        args.points = 10_001

    x = torch.linspace(-30, 30, args.points, dtype=torch.float64)
    diff = (autograd_derivative(x) - closed_form_derivative(x)).abs()
    worst = diff.argmax()
    print(f"points: {args.points} in [-30, 30], float64")
    print(f"max |autograd - closed form| derivative difference: {diff.max().item():.3e} "
          f"(at x = {x[worst].item():.4f})")
    ok = diff.max().item() < TOLERANCE
    print(f"within {TOLERANCE:g}: {'yes' if ok else 'NO'}")
    if not args.no_plot:
        plot(args.out_dir / "derivative.png")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
