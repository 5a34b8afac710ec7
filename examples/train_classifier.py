"""Train a small classifier on two moons with torch_sigmoid_ext.Sigmoid, and again with
nn.Sigmoid from the same seed: the two runs agree to floating-point tolerance.

    python examples/train_classifier.py [--quick] [--steps N] [--out-dir DIR | --no-plot]

Prints both loss curves, the final accuracies, the largest difference between the runs' losses
and parameters, and saves a plot of the decision boundary, decision_boundary.png, in --out-dir
(needs matplotlib). Exits 1 if the runs disagree. --quick trains for 100 steps.

The optimizer is SGD with momentum, which keeps the two runs' rounding-level differences at
that level. Adam divides by the root of its second moment, so once the loss is near zero it
magnifies them, and the parameters of the two runs drift apart far beyond rounding, as two runs
of one activation under different rounding would.
"""

import math
import sys

import torch
from torch import nn

import torch_sigmoid_ext as tse
from _args import add_plot_options, parser, positive_int

# Both activations compute sigmoid to within a few ULP, so the runs differ by rounding only;
# through a few hundred SGD steps in float32 that stays well below this.
TOLERANCE = 1e-4


def make_moons(n=512, noise=0.15, seed=0):
    """Two interleaving half circles in 2-D, label 0 and 1, shuffled: sklearn's make_moons."""
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g) * math.pi
    label = (torch.arange(n) >= n // 2).float()
    upper = torch.stack([torch.cos(t), torch.sin(t)], 1)
    lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], 1)
    x = torch.where(label[:, None].bool(), lower, upper)
    x = x + noise * torch.randn(n, 2, generator=g)
    order = torch.randperm(n, generator=g)
    return x[order], label[order]


def make_model(activation, seed=0, width=16):
    """An MLP whose hidden layers use activation; the output is a logit. The activations hold
    no parameters, so the same seed gives the same weights whichever is used."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(2, width), activation(),
        nn.Linear(width, width), activation(),
        nn.Linear(width, 1),
    )


def accuracy(model, x, label):
    with torch.no_grad():
        return ((model(x).squeeze(1) > 0).float() == label).float().mean().item()


def train(activation, x, label, steps, seed=0):
    """Full-batch SGD with momentum; returns the model and the loss at every step."""
    model = make_model(activation, seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(model(x).squeeze(1), label)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


def plot_decision_boundary(models, x, label, path):
    """models: {name: model}, two of them. The first's probability is filled in; each one's
    p = 0.5 contour is drawn, the first wide and the second dashed on top, so that both show
    where they coincide."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: skipping the plot {path} (pip install matplotlib)")
        return
    xs = torch.linspace(-1.6, 2.6, 200)
    ys = torch.linspace(-1.2, 1.7, 150)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    styles = ({"colors": "gold", "linewidths": 4, "linestyles": "-"},
              {"colors": "k", "linewidths": 1.2, "linestyles": "--"})
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, ((name, model), style) in enumerate(zip(models.items(), styles)):
        with torch.no_grad():
            p = torch.sigmoid(model(grid)).reshape(gx.shape)
        if i == 0:
            filled = ax.contourf(gx, gy, p, levels=20, cmap="RdBu_r", alpha=0.6)
            fig.colorbar(filled, ax=ax, label=f"p(class 1), {name} model")
        ax.contour(gx, gy, p, levels=[0.5], **style)
        ax.plot([], [], color=style["colors"], lw=style["linewidths"], ls=style["linestyles"],
                label=f"{name}: p = 0.5")
    ax.scatter(x[:, 0], x[:, 1], c=label, cmap="RdBu_r", s=6, edgecolors="none")
    ax.set(xlabel="x₁", ylabel="x₂", title="Two moons: both decision boundaries")
    ax.title.set_fontsize(10)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--steps", type=positive_int, default=500, metavar="N",
                   help="full-batch SGD steps per run")
    p.add_argument("--log-every", type=positive_int, default=50, metavar="N",
                   help="print the losses every N steps")
    p.add_argument("--seed", type=int, default=0, help="seed for the data and the weights")
    p.add_argument("--quick", action="store_true", help="100 steps, for tests")
    add_plot_options(p, "decision_boundary.png")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.log_every = 100, 20

    x, label = make_moons(seed=args.seed)
    ours, ours_losses = train(tse.Sigmoid, x, label, args.steps, args.seed)
    ref, ref_losses = train(nn.Sigmoid, x, label, args.steps, args.seed)

    print(f"{'step':>6}{'loss (tse.Sigmoid)':>20}{'loss (nn.Sigmoid)':>20}")
    for step in range(0, args.steps, args.log_every):
        print(f"{step:>6}{ours_losses[step]:>20.6f}{ref_losses[step]:>20.6f}")
    print(f"{args.steps - 1:>6}{ours_losses[-1]:>20.6f}{ref_losses[-1]:>20.6f}")

    loss_diff = max(abs(a - b) for a, b in zip(ours_losses, ref_losses))
    param_diff = max((a - b).abs().max().item()
                     for a, b in zip(ours.parameters(), ref.parameters()))
    print(f"final accuracy: tse.Sigmoid {accuracy(ours, x, label):.4f}, "
          f"nn.Sigmoid {accuracy(ref, x, label):.4f}")
    print(f"max loss difference: {loss_diff:.3e}")
    print(f"max parameter difference: {param_diff:.3e}")
    agree = loss_diff < TOLERANCE and param_diff < TOLERANCE
    print(f"runs agree within {TOLERANCE:g}: {'yes' if agree else 'NO'}")

    if not args.no_plot:
        plot_decision_boundary({"tse.Sigmoid": ours, "nn.Sigmoid": ref}, x, label,
                               args.out_dir / "decision_boundary.png")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
