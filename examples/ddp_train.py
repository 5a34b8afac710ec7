"""The two-moons classifier (examples/train_classifier.py) trained with DistributedDataParallel.

    torchrun --nproc_per_node=2 examples/ddp_train.py [--steps N] [--save PATH]
    python examples/ddp_train.py ...      # one process, no DDP: the same training, for comparison

gloo on CPUs, NCCL when every rank has a GPU. Each step takes a global batch of --batch points
from a seeded shuffle, the same on every rank, and each rank trains on its own contiguous slice
of it. DDP averages the ranks' gradients, and each rank's loss is the mean over an equal slice,
so the average is the gradient of the mean over the whole global batch: the parameters follow
the single-process run to rounding. --save writes the final parameters (from rank 0); without
it, nothing is written.
"""

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import torch_sigmoid_ext as tse
from _args import parser, positive_int
from train_classifier import accuracy, make_model, make_moons


def batches(n, batch, steps, seed):
    """steps index tensors of size batch, from reshuffles of range(n): the same on every rank."""
    g = torch.Generator().manual_seed(seed)
    order = torch.empty(0, dtype=torch.long)
    for _ in range(steps):
        if len(order) < batch:
            order = torch.cat([order, torch.randperm(n, generator=g)])
        yield order[:batch]
        order = order[batch:]


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--steps", type=positive_int, default=300, metavar="N", help="SGD steps")
    p.add_argument("--batch", type=positive_int, default=128, metavar="N",
                   help="global batch, split evenly over the processes")
    p.add_argument("--seed", type=int, default=0, help="seed for the data, weights and batches")
    p.add_argument("--save", type=Path, metavar="PATH",
                   help="write the final parameters (a state dict) here")
    args = p.parse_args(argv)

    distributed = "RANK" in os.environ  # set by torchrun, with WORLD_SIZE
    world = int(os.environ["WORLD_SIZE"]) if distributed else 1
    # Checked before the process group starts, so that a bad value ends every rank at once.
    if args.batch % world:
        p.error(f"--batch {args.batch} must be a multiple of the number of processes, {world}")
    rank = 0
    device = torch.device("cpu")
    if distributed:
        use_cuda = torch.cuda.is_available() and torch.cuda.device_count() >= int(
            os.environ["LOCAL_WORLD_SIZE"])
        if use_cuda:
            device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if use_cuda else "gloo")
        rank = dist.get_rank()
    local = args.batch // world

    x, label = make_moons(seed=args.seed)
    x, label = x.to(device), label.to(device)
    model = make_model(tse.Sigmoid, args.seed).to(device)
    trained = model
    if distributed:
        trained = DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None)
    opt = torch.optim.SGD(trained.parameters(), lr=0.5, momentum=0.9)

    for step, idx in enumerate(batches(len(x), args.batch, args.steps, args.seed)):
        idx = idx[rank * local:(rank + 1) * local].to(device)
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(trained(x[idx]).squeeze(1),
                                                              label[idx])
        loss.backward()
        opt.step()
        if rank == 0 and step % 50 == 0:
            print(f"step {step:>4}  loss on rank 0's slice {loss.item():.6f}")

    if rank == 0:
        print(f"{world} process(es), {device.type}: accuracy {accuracy(model, x, label):.4f}")
        if args.save:
            args.save.parent.mkdir(parents=True, exist_ok=True)
            torch.save({k: v.cpu() for k, v in model.state_dict().items()}, args.save)
            print(f"wrote {args.save}")
    if distributed:
        # Every rank waits for rank 0's evaluation and save: a rank that tears gloo down while
        # its peer still holds the connection can abort ("terminate called without an active
        # exception"), which failed CI once.
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
