"""Distributed: DTensor sharding rules (no collective for a sharded or replicated input, a
reduction first for a Partial one) and DDP training equal to a single process. Both run two CPU
processes over gloo."""

import importlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

import torch_sigmoid_ext as tse
import torch_sigmoid_ext.distributed as tse_distributed

ROOT = Path(__file__).resolve().parents[1]
WORLD = 2

needs_gloo = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="this torch has no torch.distributed with the gloo backend",
)
needs_dtensor_rules = pytest.mark.skipif(
    not tse_distributed.AVAILABLE,
    reason="this torch lacks torch.distributed.tensor.experimental.register_sharding",
)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _collectives(fn):
    """fn()'s result and the number of collectives it ran."""
    from torch.distributed.tensor.debug import CommDebugMode

    with CommDebugMode() as comm:
        result = fn()
    return result, comm.get_total_counts()


def _dtensor_worker(rank, port):
    from torch.distributed.tensor import DTensor, Partial, Replicate, Shard, distribute_tensor

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD)
    try:
        mesh = dist.device_mesh.init_device_mesh("cpu", (WORLD,))
        full = torch.randn(6, 4, 2, generator=torch.Generator().manual_seed(0),
                           dtype=torch.float64) * 4
        grad = torch.randn(6, 4, 2, generator=torch.Generator().manual_seed(1),
                           dtype=torch.float64)
        expected = torch.sigmoid(full)
        for placement in (Shard(0), Shard(1), Shard(2), Replicate()):
            x = distribute_tensor(full, mesh, [placement]).requires_grad_()
            y, count = _collectives(lambda: tse.sigmoid(x))
            assert count == 0, f"sigmoid on {placement} ran {count} collectives"
            assert y.placements == (placement,), f"sigmoid on {placement} gave {y.placements}"
            torch.testing.assert_close(y.full_tensor(), expected, atol=1e-15, rtol=1e-15)

            g = distribute_tensor(grad, mesh, [placement])
            _, count = _collectives(lambda: y.backward(g))
            assert count == 0, f"backward on {placement} ran {count} collectives"
            assert x.grad.placements == (placement,)
            torch.testing.assert_close(x.grad.full_tensor(), grad * expected * (1 - expected))

            y_op, count = _collectives(
                lambda: torch.ops.torch_sigmoid_ext.sigmoid_backward(g, y.detach()))
            assert count == 0 and y_op.placements == (placement,)
            torch.testing.assert_close(y_op.full_tensor(), x.grad.full_tensor())

            h = distribute_tensor(full.clone(), mesh, [placement])  # Replicate shares memory
            if torch.__version__ < "2.11":  # torch.__version__ compares as a parsed version
                # torch 2.10's DTensor cannot propagate sharding through an in-place op that
                # returns nothing (its return_type_tensor indexes the empty returns): it raises.
                try:
                    tse.sigmoid_(h)
                except RuntimeError as e:
                    assert "Sharding propagation failed" in str(e), e
                else:
                    raise AssertionError("sigmoid_ on a DTensor under torch 2.10 did not raise")
                continue
            _, count = _collectives(lambda: tse.sigmoid_(h))
            assert count == 0 and h.placements == (placement,), f"sigmoid_ on {placement}"
            torch.testing.assert_close(h.full_tensor(), expected, atol=1e-15, rtol=1e-15)

        # Each rank holds a summand of full: sigmoid needs their sum first, so a collective.
        partial = DTensor.from_local(full / WORLD, mesh, [Partial()])
        y, count = _collectives(lambda: tse.sigmoid(partial))
        assert count > 0, "sigmoid of a Partial DTensor ran without reducing it first"
        assert not y.placements[0].is_partial()
        torch.testing.assert_close(y.full_tensor(), expected)
        # Both ranks done before either tears gloo down. Not on the failure path, where the
        # other rank may never arrive.
        dist.barrier()
    except BaseException:
        dist.destroy_process_group()
        raise
    dist.destroy_process_group()
    # Every check passed: leave without interpreter finalization. The device mesh still holds
    # the process group, and its gloo threads torn down during finalization aborted this
    # process twice in CI (SIGABRT, "terminate called without an active exception") after
    # the test had passed; a barrier before destroy_process_group did not prevent it.
    os._exit(0)


@needs_gloo
@needs_dtensor_rules
def test_dtensor_sharding_rules():
    torch.multiprocessing.spawn(_dtensor_worker, args=(_free_port(),), nprocs=WORLD)


def _initial_parameters(monkeypatch):
    # The example imports its sibling _args, as it does when run as a script from its folder.
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    example = importlib.import_module("train_classifier")
    return example.make_model(tse.Sigmoid, seed=0).state_dict()


def _train(tmp_path, name, *launcher):
    """Runs examples/ddp_train.py under launcher; returns its final parameters."""
    path = tmp_path / f"{name}.pt"
    for attempt in range(2):
        result = subprocess.run(
            [sys.executable, *launcher, str(ROOT / "examples" / "ddp_train.py"), "--steps",
             "40", "--save", str(path)],
            capture_output=True, text=True, timeout=180, cwd=tmp_path,
            # One CPU thread per rank: the ranks share this machine's cores.
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        # gloo can abort a rank while the process group is torn down after the last barrier
        # (std::terminate, "terminate called without an active exception"). That is gloo's
        # shutdown, not the training: one more try.
        if result.returncode == 0 or "terminate called without" not in result.stderr:
            break
    assert result.returncode == 0, f"{name} run failed:\n{result.stdout}\n{result.stderr}"
    return torch.load(path)


@needs_gloo
@pytest.mark.slow  # two training runs, one of them two processes under torchrun
def test_ddp_matches_single_process(tmp_path, monkeypatch):
    single = _train(tmp_path, "single")
    ddp = _train(tmp_path, "ddp", "-m", "torch.distributed.run", "--standalone",
                 f"--nproc_per_node={WORLD}")
    assert single.keys() == ddp.keys()
    for name in single:
        torch.testing.assert_close(ddp[name], single[name], atol=1e-5, rtol=1e-5,
                                   msg=lambda m, name=name: f"{name}: {m}")
    # Training moved the parameters, so agreeing is not agreeing on the initial values.
    initial = _initial_parameters(monkeypatch)
    assert max((single[k] - initial[k]).abs().max().item() for k in single) > 0.1


def test_package_imports_without_the_sharding_api():
    # As on a torch without register_sharding: its import raises ImportError.
    code = ("import sys; sys.modules['torch.distributed.tensor.experimental'] = None; "
            "import torch, torch_sigmoid_ext as tse, torch_sigmoid_ext.distributed as d; "
            "assert not d.AVAILABLE; "
            "assert tse.sigmoid(torch.zeros(1)).item() == 0.5")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# DTensor imported after the package, as a training script's imports usually go. In a fresh
# process, so that the order is real; on one gloo rank, which is all an op's sharding rule needs.
DTENSOR_AFTER_THE_PACKAGE = """
import os, sys
import torch, torch.distributed as dist
import torch_sigmoid_ext as tse
assert "torch.distributed.tensor" not in sys.modules
{import_dtensor}
from torch.distributed.tensor import DTensor, Shard, distribute_tensor
dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
mesh = dist.device_mesh.init_device_mesh("cpu", (1,))
full = torch.randn(4, 3)
y = tse.sigmoid(distribute_tensor(full, mesh, [Shard(0)]))
assert isinstance(y, DTensor) and y.placements == (Shard(0),), y
torch.testing.assert_close(y.full_tensor(), torch.sigmoid(full))
dist.destroy_process_group()
# The hook is gone, and DTensor's module keeps its own loader.
from torch_sigmoid_ext import _dtensor_hook
assert _dtensor_hook._DTENSOR_HOOK not in sys.meta_path
assert not isinstance(sys.modules["torch.distributed.tensor"].__loader__, _dtensor_hook._LoaderThenRegister)
sys.stdout.flush()
os._exit(0)  # the device mesh's gloo threads can abort finalization: see _dtensor_worker
"""


@needs_gloo
@needs_dtensor_rules
@pytest.mark.parametrize("import_dtensor", [
    "import torch.distributed.tensor",
    "from torch.distributed.tensor.parallel import ColwiseParallel",  # DTensor as a dependency
])
def test_rules_register_when_dtensor_is_imported_after_the_package(import_dtensor):
    code = DTENSOR_AFTER_THE_PACKAGE.format(import_dtensor=import_dtensor)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr


def test_failed_registration_warns_and_dtensor_still_imports():
    code = """
import sys, warnings, torch_sigmoid_ext
sys.modules["torch_sigmoid_ext.distributed"] = None  # its import now fails
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import torch.distributed.tensor
assert torch.distributed.tensor.DTensor
print(*[w.message for w in caught], sep="\\n")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert ("torch_sigmoid_ext: the DTensor sharding rules could not be registered "
            "(ModuleNotFoundError: import of torch_sigmoid_ext.distributed halted") in result.stdout


def test_rules_register_on_import_when_dtensor_is_loaded():
    code = ("import sys, torch.distributed.tensor, torch_sigmoid_ext; "
            "assert 'torch_sigmoid_ext.distributed' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    code = "import sys, torch_sigmoid_ext; assert 'torch.distributed.tensor' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
