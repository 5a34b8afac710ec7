"""The module inside whole models: training under torch.compile equals eager training, and an
exported program saved to a file loads and runs in a fresh process."""

import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import torch_sigmoid_ext as tse


def _model(inplace=False):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 32), tse.Sigmoid(inplace=inplace), nn.Linear(32, 32),
                         tse.Sigmoid(), nn.Linear(32, 1))


def _train(model, batches, steps=4):
    """A few Adam steps; returns the losses and the final parameters."""
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for step in range(steps):
        x, y = batches[step % len(batches)]
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return torch.stack(losses), [p.detach().clone() for p in model.parameters()]


def _batches(sizes):
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(n, 6, generator=g), torch.randn(n, 1, generator=g)) for n in sizes]


@pytest.mark.parametrize(
    "backend, dynamic, inplace",
    [("aot_eager", False, False), ("aot_eager", True, False), ("aot_eager", False, True),
     ("inductor", True, False)],
    ids=["aot_eager", "aot_eager-dynamic", "aot_eager-inplace", "inductor-dynamic"],
)
def test_compiled_training_equals_eager(backend, dynamic, inplace):
    torch._dynamo.reset()
    # With dynamic=True, batches of changing size run through one graph with a symbolic batch.
    batches = _batches([16, 24, 9] if dynamic else [16])
    eager_losses, eager_params = _train(_model(inplace), batches)
    compiled = torch.compile(_model(inplace), backend=backend, dynamic=dynamic, fullgraph=True)
    losses, params = _train(compiled, batches)
    # Inductor fuses the surrounding ops, so its rounding differs from eager's slightly.
    tol = dict(atol=1e-5, rtol=1e-4) if backend == "inductor" else dict(atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(losses, eager_losses, **tol)
    for p, q in zip(params, eager_params):
        torch.testing.assert_close(p, q, **tol)
    assert not torch.equal(params[0], _model(inplace)[0].weight.detach()), "nothing trained"


# Loads the saved program with only torch and torch_sigmoid_ext imported (the program refers to
# the op by name, so the package must be imported to load it), and saves its output.
_LOAD_AND_RUN = textwrap.dedent("""
    import sys
    import torch
    import torch_sigmoid_ext  # noqa: F401  (defines the op the program calls)
    program, x, out = sys.argv[1:]
    loaded = torch.export.load(program)
    torch.save(loaded.module()(torch.load(x)), out)
""")


def test_exported_program_saves_and_loads_in_a_fresh_process(tmp_path):
    model = _model().eval()
    x = torch.randn(7, 6)
    batch = torch.export.Dim("batch")
    exported = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
    assert any(n.target == torch.ops.torch_sigmoid_ext.sigmoid.default
               for n in exported.graph.nodes)
    torch.export.save(exported, tmp_path / "model.pt2")

    x_other = torch.randn(3, 6)  # another batch size, through the dynamic dim
    torch.save(x_other, tmp_path / "x.pt")
    subprocess.run([sys.executable, "-c", _LOAD_AND_RUN, str(tmp_path / "model.pt2"),
                    str(tmp_path / "x.pt"), str(tmp_path / "y.pt")], check=True, timeout=120)
    with torch.no_grad():
        expected = model(x_other)
    torch.testing.assert_close(torch.load(tmp_path / "y.pt"), expected, atol=0, rtol=0)
