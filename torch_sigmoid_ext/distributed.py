"""DTensor sharding rules for the ops, so that a DTensor passes through them without a collective.

sigmoid is elementwise: each shard's output depends only on that shard's input, so Shard(d) in
gives Shard(d) out for every dim d, and Replicate gives Replicate. A Partial (pending-sum) input
has no such rule, because sigmoid(a + b) != sigmoid(a) + sigmoid(b): DTensor then redistributes
it (reduces the partial sums) before the op runs. sigmoid_backward is elementwise in both
inputs, which must share the placement of the output. sigmoid_ keeps its input's placement
(it has no output of its own). sigmoid.out has no rule: register_sharding does not handle out=
variants yet, so DTensor says so when it is called.

Imported by the package once ``torch.distributed.tensor`` is, whichever is imported first
(see _dtensor_hook.py). Where ``torch.distributed.tensor.experimental.register_sharding`` does
not exist, ``AVAILABLE`` is False and DTensor inputs fall back to DTensor's own error for an op
without a sharding rule.
"""

import torch

try:
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor.experimental import register_sharding
except ImportError:  # a torch built without distributed, or one older than the API
    AVAILABLE = False
else:
    AVAILABLE = True

if AVAILABLE:
    _ops = torch.ops.torch_sigmoid_ext

    def _elementwise(ndim, n_inputs, n_outputs=1):
        """The placements an elementwise op keeps: for every input and the output alike."""
        placements = [Replicate()] + [Shard(d) for d in range(ndim)]
        return [([p] * n_outputs, [p] * n_inputs) for p in placements]

    @register_sharding(_ops.sigmoid.default)
    def _sigmoid_sharding(input):
        return _elementwise(input.ndim, 1)

    @register_sharding(_ops.sigmoid_.default)
    def _sigmoid__sharding(input):
        return _elementwise(input.ndim, 1, n_outputs=0)

    @register_sharding(_ops.sigmoid_backward.default)
    def _sigmoid_backward_sharding(grad_output, output):
        return _elementwise(output.ndim, 2)
