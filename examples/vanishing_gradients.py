"""Why deep sigmoid networks are hard to train: the gradient that reaches the first layers of a
plain deep MLP shrinks geometrically with depth under sigmoid, and does not under ReLU.

    python examples/vanishing_gradients.py [--quick] [--depths D ...] [--out-dir DIR]

For each depth, a plain MLP (no residuals, no normalization) of that many Linear+activation
layers, each activation with its usual initialization (Xavier for sigmoid, Kaiming for ReLU),
gets one backward pass of a mean-squared loss; the norm of each Linear weight's gradient is
averaged over a few seeds. Backpropagation multiplies the gradient by sigmoid's derivative at
every layer, and that is at most 1/4, so under sigmoid the first layer's gradient falls by
about 4x per layer; ReLU's derivative is 1 wherever the unit is active. Saves a plot,
vanishing_gradients.png, in --out-dir (needs matplotlib).
"""

import sys

import torch
from torch import nn

import torch_sigmoid_ext as tse
from _args import add_plot_options, parser, positive_int

ACTIVATIONS = {
    "sigmoid": (tse.Sigmoid, lambda w: nn.init.xavier_normal_(w)),
    "relu": (nn.ReLU, lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")),
}


def make_mlp(depth, activation, width=64, seed=0):
    act, init = ACTIVATIONS[activation]
    torch.manual_seed(seed)
    layers = []
    for _ in range(depth):
        linear = nn.Linear(width, width)
        init(linear.weight)
        nn.init.zeros_(linear.bias)
        layers += [linear, act()]
    return nn.Sequential(*layers, nn.Linear(width, 1))


def gradient_norms(depth, activation, seeds, width=64, batch=128):
    """The mean over seeds of each hidden Linear weight's gradient norm, first layer first."""
    total = torch.zeros(depth, dtype=torch.float64)
    for seed in seeds:
        model = make_mlp(depth, activation, width, seed)
        g = torch.Generator().manual_seed(1000 + seed)
        x = torch.randn(batch, width, generator=g)
        target = torch.randn(batch, 1, generator=g)
        nn.functional.mse_loss(model(x), target).backward()
        linears = [m for m in model if isinstance(m, nn.Linear)][:depth]
        total += torch.tensor([m.weight.grad.norm().item() for m in linears], dtype=torch.float64)
    return (total / len(seeds)).tolist()


def plot(per_layer, first_layer, depths, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: skipping the plot {path} (pip install matplotlib)")
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    deepest = depths[-1]
    for name, style in (("sigmoid", "o-"), ("relu", "s-")):
        norms = per_layer[name][deepest]
        left.semilogy(range(1, len(norms) + 1), norms, style, ms=3, label=name)
        right.semilogy(depths, first_layer[name], style, ms=3, label=name)
    left.set(xlabel="layer (1 = nearest the input)", ylabel="gradient norm",
             title=f"depth {deepest}: gradient reaching each layer")
    right.set(xlabel="depth (hidden layers)", ylabel="gradient norm at layer 1",
              title="first layer's gradient against depth")
    for ax in (left, right):
        ax.title.set_fontsize(10)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--depths", type=positive_int, nargs="+", metavar="D",
                   default=[2, 5, 10, 15, 20, 25, 30],
                   help="hidden-layer counts to compare; the last is also shown layer by layer")
    p.add_argument("--seeds", type=positive_int, default=5, metavar="N",
                   help="models averaged per depth")
    p.add_argument("--quick", action="store_true", help="depths 2, 10, 30 and 2 seeds, for tests")
    add_plot_options(p, "vanishing_gradients.png")
    args = p.parse_args(argv)
    if args.quick:
        args.depths, args.seeds = [2, 10, 30], 2
    seeds = range(args.seeds)

    per_layer = {name: {} for name in ACTIVATIONS}
    for name in ACTIVATIONS:
        for depth in args.depths:
            per_layer[name][depth] = gradient_norms(depth, name, seeds)
    first_layer = {name: [per_layer[name][d][0] for d in args.depths] for name in ACTIVATIONS}

    print("gradient norm at the first layer (mean over seeds)")
    print(f"{'depth':>6}{'sigmoid':>12}{'relu':>12}{'sigmoid/relu':>14}")
    for i, depth in enumerate(args.depths):
        s, r = first_layer["sigmoid"][i], first_layer["relu"][i]
        print(f"{depth:>6}{s:>12.3e}{r:>12.3e}{s / r:>14.3e}")
    deepest = args.depths[-1]
    print(f"\ngradient norm per layer at depth {deepest}, first to last:")
    for name in ACTIVATIONS:
        print(f"{name:>8}: " + " ".join(f"{v:.1e}" for v in per_layer[name][deepest]))

    if not args.no_plot:
        plot(per_layer, first_layer, args.depths, args.out_dir / "vanishing_gradients.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
