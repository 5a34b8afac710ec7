"""torch's calling conventions for the ops, in Python (the stable ABI has no C++ autograd):
autograd, forward-mode AD, vmap, version counters and the out=/in-place rules.

The derivative is written once, as the op sigmoid_backward, and the tangent once, from it:

    y = sigmoid(x)            backward: grad -> sigmoid_backward(grad, y)
                              tangent:  t -> conj(sigmoid_backward(conj(t), y)) = t * y * (1 - y)
    sigmoid_backward(g, y) = g * conj(y * (1 - y))

Only the output y is saved for backward, never the input x.

Where each thing is:
- the route, `plain`: where nothing needs to see a call (no gradient to record, no forward-AD
  level, no torch.func transform) the op runs below autograd; otherwise through its
  autograd.Function.
- one autograd.Function per op: SigmoidFunction (backward, jvp, vmap), SigmoidBackwardFunction
  (double backward and its tangent), SigmoidInplaceFunction (sigmoid_ under autograd; under
  forward AD or a transform, sigmoid_ is copy_ of sigmoid, which carries their rules).
- the kernels that every caller of the dispatcher gets (torch.ops, TorchScript, torch.compile,
  torch.export): Autograd (the route), FuncTorchDynamicLayerFrontMode (torch.func takes the
  Functions level by level), ADInplaceOrView (the mutating ops' inference-tensor rule, version
  bump and resize warning, as ATen's), FuncTorchBatched (register_vmap: sigmoid is elementwise,
  so a batch is one larger input).
The public functions (functional.py) take the same route without the Autograd kernel's Python
cost.
"""

import warnings

import torch
from torch.autograd import forward_ad

_ops = torch.ops.torch_sigmoid_ext
# The ops' dispatcher handles: a redispatch through them skips OpOverload's Python frame.
_SIGMOID = _ops.sigmoid.default._handle
_SIGMOID_ = _ops.sigmoid_.default._handle
_SIGMOID_OUT = _ops.sigmoid.out._handle
_SIGMOID_BACKWARD = _ops.sigmoid_backward.default._handle
_AFTER_AUTOGRAD = torch._C._after_autograd_keyset
_AFTER_AD_INPLACE_OR_VIEW = torch._C._after_ADInplaceOrView_keyset
below_autograd = torch._C._AutoDispatchBelowAutograd
below_ad_inplace_or_view = torch._C._AutoDispatchBelowADInplaceOrView
transforms_active = torch._C._are_functorch_transforms_active  # any torch.func transform


def plain(*tensors):
    """True where the ops can run below autograd: no gradient to record, no forward-AD level and
    no torch.func transform. The one route decision (the public functions first send what Dynamo
    or the TorchScript tracer records to the op itself).

    (On the path of every call: a plain loop, which costs less than `any` over a generator.)
    """
    if torch.is_grad_enabled():
        for t in tensors:
            if t.requires_grad:
                return False
    return forward_ad._current_level < 0 and not transforms_active()


def _apply(function, *args):
    """function applied at the current level: autograd records it and forward AD calls its jvp.
    Past Function.apply, which binds default arguments with inspect.signature on every call.
    No torch.func transform is active here: the ops' torch.func kernel takes every call under
    one (SigmoidFunction.apply, level by level)."""
    return _SINGLE_LEVEL_APPLY[function](*map(_unwrap_if_dead, args))


_unwrap_if_dead = torch._C._functorch.unwrap_if_dead


def sigmoid_vjp(grad, output):
    """The gradient at sigmoid's input from the saved output: sigmoid_backward(grad, output),
    below autograd in a plain backward (not create_graph=True), where nothing records it."""
    if plain(grad, output) and not torch.compiler.is_dynamo_compiling():
        with below_autograd():
            return _ops.sigmoid_backward.default(grad, output)
    return _ops.sigmoid_backward.default(grad, output)


def _conj(t):
    return t.conj() if t.is_complex() else t


class SigmoidFunction(torch.autograd.Function):
    """sigmoid as an autograd.Function: runs the op and saves only its output. Supports
    backward (twice), forward-mode AD and every torch.func transform."""


    @staticmethod
    def forward(input):
        if torch.compiler.is_dynamo_compiling():
            return _ops.sigmoid.default(input)  # grad mode is off in here: no autograd
        with below_autograd():
            return _ops.sigmoid.default(input)

    @staticmethod
    def vmap(info, in_dims, input):
        return sigmoid_vmap(info, in_dims, input)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)  # the output, never the input
        if forward_ad._current_level >= 0 or transforms_active():
            # For jvp, which runs before apply returns: the output computed again from the input
            # carries an outer level's tangent (jacfwd of jacfwd); the output given here does not.
            ctx.save_for_forward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (output,) = ctx.saved_tensors
        return sigmoid_vjp(grad, output)

    @staticmethod
    def jvp(ctx, tangent):
        (input,) = ctx.saved_tensors
        output = _ops.sigmoid.default(input)
        return _conj(_ops.sigmoid_backward.default(_conj(tangent), output))


class SigmoidBackwardFunction(torch.autograd.Function):
    """sigmoid_backward(g, y) = g * conj(y (1 - y)) as an autograd.Function: double backward and
    the tangent of a backward (hessian = jacfwd(jacrev))."""

    @staticmethod
    def forward(grad_output, output):
        if torch.compiler.is_dynamo_compiling():
            return _ops.sigmoid_backward.default(grad_output, output)
        with below_autograd():
            return _ops.sigmoid_backward.default(grad_output, output)

    @staticmethod
    def vmap(info, in_dims, grad_output, output):
        return sigmoid_backward_vmap(info, in_dims, grad_output, output)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)
        ctx.save_for_forward(*inputs)

    @staticmethod
    def backward(ctx, grad):
        # d/dg = sigmoid_backward(grad, conj(y)),  d/dy = conj(grad) * g * (1 - 2 conj(y))
        grad_output, output = ctx.saved_tensors
        grad_grad_output = grad_output_grad = None
        if ctx.needs_input_grad[0]:
            grad_grad_output = _ops.sigmoid_backward.default(grad, _conj(output))
        if ctx.needs_input_grad[1]:
            grad_output_grad = _conj(grad) * grad_output * (1 - 2 * _conj(output))
        return grad_grad_output, grad_output_grad

    @staticmethod
    def jvp(ctx, grad_output_tangent, output_tangent):
        grad_output, output = ctx.saved_tensors
        tangent = None
        if grad_output_tangent is not None:
            tangent = _ops.sigmoid_backward.default(grad_output_tangent, output)
        if output_tangent is not None:
            term = _conj(output_tangent) * grad_output * (1 - 2 * _conj(output))
            tangent = term if tangent is None else tangent + term
        return tangent


class SigmoidInplaceFunction(torch.autograd.Function):
    """sigmoid_ under autograd: the tensor is overwritten by its output, which is saved.
    (forward takes ctx: with no setup_context, Function.apply binds no arguments.)"""

    @staticmethod
    def forward(ctx, input):
        with below_ad_inplace_or_view():
            _ops.sigmoid_.default(input)
        ctx.mark_dirty(input)  # which bumps the version
        ctx.save_for_backward(input)
        return input

    @staticmethod
    def backward(ctx, grad):
        (output,) = ctx.saved_tensors
        return sigmoid_vjp(grad, output)


_SINGLE_LEVEL_APPLY = {
    function: super(torch.autograd.Function, function).apply
    for function in (SigmoidFunction, SigmoidBackwardFunction)
}


def sigmoid_autograd(input):
    """sigmoid where autograd or forward AD must see it, at the current level."""
    return _apply(SigmoidFunction, input)


def sigmoid__autograd(input):
    """sigmoid_ where autograd, forward AD or a transform must see it, checked before anything
    is written."""
    if forward_ad._current_level >= 0 or transforms_active():
        # The tangent and the transforms follow from the functional op and copy_.
        return input.copy_(_ops.sigmoid.default(input))
    _check_inplace_allowed(input)
    return SigmoidInplaceFunction.apply(input)  # mark_dirty bumps the version


def check_out_allowed(input, out):
    """torch's out= rules under autograd: no gradient, no tangent through out=."""
    if torch.is_grad_enabled() and (input.requires_grad or out.requires_grad):
        raise RuntimeError(
            "torch_sigmoid_ext.sigmoid(): functions with out=... arguments don't support "
            "automatic differentiation, but one of the arguments requires grad; call it "
            "without out= to get a gradient"
        )
    if forward_ad._current_level >= 0 and any(
        forward_ad.unpack_dual(t).tangent is not None for t in (input, out)
    ):
        raise NotImplementedError(
            "torch_sigmoid_ext.sigmoid(): forward AD does not support out=, as for torch's out= "
            "functions; call it without out= to get a tangent"
        )


def _check_inplace_allowed(x):
    # torch.sigmoid_'s rule, checked before anything is written so that a refused call leaves
    # the tensor as it was (autograd's own check comes after the kernel has run).
    if x.requires_grad and x.is_leaf:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation "
            "(torch_sigmoid_ext.sigmoid_); apply it to a copy, or under torch.no_grad()"
        )
    if x._is_view() and x._base.is_leaf and x._base.requires_grad:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place "
            "operation (torch_sigmoid_ext.sigmoid_); apply it to a copy, or under "
            "torch.no_grad()"
        )


def check_mutable(t, op, name):
    """torch's rule for writing into an inference tensor, checked before the write (torch's own
    check comes after it)."""
    if t.is_inference() and not torch.is_inference_mode_enabled():
        raise RuntimeError(
            f"torch_sigmoid_ext.{op}: {name} is an inference tensor, and an in-place update to "
            "an inference tensor outside InferenceMode is not allowed; clone it first, or call "
            "it inside torch.inference_mode()"
        )


def mutated(t):
    # As ATen's ADInplaceOrView kernels do, so that autograd notices a saved tensor was
    # overwritten. Inference tensors have no version counter.
    if not t.is_inference():
        torch.autograd.graph.increment_version(t)


def shape_before(out):
    """out's shape, for warn_if_resized; None for a nested tensor, which has none (the op refuses
    it)."""
    return None if out.is_nested else out.shape


def warn_if_resized(old_shape, x, out, stacklevel):
    """torch's resize_output warning, which the stable C++ API cannot give; given once the call
    has succeeded, so that a refused call does not warn."""
    if old_shape is not None and old_shape != x.shape and 0 not in old_shape:
        warnings.warn(
            f"torch_sigmoid_ext.sigmoid: an output with one or more elements was resized since "
            f"it had shape {list(old_shape)}, which does not match the required output shape "
            f"{list(x.shape)}. As for torch's out= functions this is deprecated; resize out to "
            "zero elements first (out.resize_(0)) to reuse it.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )


# The Autograd kernels: what `torch.ops` and every other caller of the dispatcher gets.


def _sigmoid_autograd_kernel(keyset, input):
    if plain(input):
        return _SIGMOID.redispatch_boxed(keyset & _AFTER_AUTOGRAD, input)
    return sigmoid_autograd(input)


def _sigmoid_backward_autograd_kernel(keyset, grad_output, output):
    if plain(grad_output, output):
        return _SIGMOID_BACKWARD.redispatch_boxed(keyset & _AFTER_AUTOGRAD, grad_output, output)
    return _apply(SigmoidBackwardFunction, grad_output, output)


def _sigmoid__autograd_kernel(keyset, input):
    if plain(input):
        _sigmoid__ad_inplace_or_view_kernel(keyset, input)  # one Python kernel, not two
    else:
        sigmoid__autograd(input)


def _sigmoid_out_autograd_kernel(keyset, input, *, out):
    check_out_allowed(input, out)
    _sigmoid_out_mutating(keyset, input, out, stacklevel=4)


# The ADInplaceOrView kernels of the mutating ops: the inference-tensor rule before the write,
# the version bump and the resize warning after it, as ATen's. The Autograd kernels call them
# directly; the dispatcher reaches them where no Autograd kernel runs (inference mode, and
# inference tensors).


def _sigmoid__ad_inplace_or_view_kernel(keyset, input):
    check_mutable(input, "sigmoid_", "the input")
    _SIGMOID_.redispatch_boxed(keyset & _AFTER_AD_INPLACE_OR_VIEW, input)
    mutated(input)


def _sigmoid_out_ad_inplace_or_view_kernel(keyset, input, *, out):
    _sigmoid_out_mutating(keyset, input, out, stacklevel=3)


def _sigmoid_out_mutating(keyset, input, out, stacklevel):
    # stacklevel: the frames from here to the caller of torch.ops (OpOverload.__call__ between).
    check_mutable(out, "sigmoid", "out")
    old_shape = shape_before(out)
    _SIGMOID_OUT.redispatch_boxed(keyset & _AFTER_AD_INPLACE_OR_VIEW, input, out=out)
    mutated(out)
    warn_if_resized(old_shape, input, out, stacklevel=stacklevel)


# torch.func's transforms take the ops as their autograd.Functions, level by level, before any
# transform unwraps the arguments: applied at one level below the transforms, a Function's saved
# tensors would carry no outer level's gradient or tangent (hessian would be 0).


def _sigmoid_transforms_kernel(input):
    return SigmoidFunction.apply(input)


def _sigmoid_backward_transforms_kernel(grad_output, output):
    return SigmoidBackwardFunction.apply(grad_output, output)


def _sigmoid__transforms_kernel(input):
    sigmoid__autograd(input)  # copy_ of sigmoid, which carries the transforms' rules


# Batching rules: sigmoid is elementwise, so a batched input is one larger input.


def sigmoid_vmap(info, in_dims, input):
    return _ops.sigmoid.default(input), in_dims[0]


def sigmoid_backward_vmap(info, in_dims, grad_output, output):
    def batched_first(t, dim):
        if dim is None:
            return t.unsqueeze(0).expand(info.batch_size, *t.shape)
        return t.movedim(dim, 0)

    if in_dims[0] == in_dims[1]:
        return _ops.sigmoid_backward.default(grad_output, output), in_dims[0]
    grad_output = batched_first(grad_output, in_dims[0])
    output = batched_first(output, in_dims[1])
    return _ops.sigmoid_backward.default(grad_output, output), 0


_lib = torch.library.Library("torch_sigmoid_ext", "IMPL")
for _name, _kernel in [
    ("sigmoid", _sigmoid_autograd_kernel),
    ("sigmoid_backward", _sigmoid_backward_autograd_kernel),
    ("sigmoid_", _sigmoid__autograd_kernel),
    ("sigmoid.out", _sigmoid_out_autograd_kernel),
]:
    _lib.impl(_name, _kernel, "Autograd", with_keyset=True)
for _name, _kernel in [
    ("sigmoid", _sigmoid_transforms_kernel),
    ("sigmoid_backward", _sigmoid_backward_transforms_kernel),
    ("sigmoid_", _sigmoid__transforms_kernel),
]:
    _lib.impl(_name, _kernel, "FuncTorchDynamicLayerFrontMode")
_lib.impl("sigmoid_", _sigmoid__ad_inplace_or_view_kernel, "ADInplaceOrView", with_keyset=True)
_lib.impl(
    "sigmoid.out", _sigmoid_out_ad_inplace_or_view_kernel, "ADInplaceOrView", with_keyset=True
)
torch.library.register_vmap("torch_sigmoid_ext::sigmoid", sigmoid_vmap, lib=_lib)
torch.library.register_vmap(
    "torch_sigmoid_ext::sigmoid_backward", sigmoid_backward_vmap, lib=_lib
)
