"""fastloss as a drop-in for ``torch.nn.functional``'s losses, with autograd.

    import fastloss.torch as F                    # instead of torch.nn.functional
    loss = F.cross_entropy(logits, target)        # same signature, same numbers
    loss.backward()

    from fastloss.torch import CrossEntropyLoss   # instead of torch.nn.CrossEntropyLoss

Every loss of fastloss's table is here: the PyTorch-named ones with exactly the signature
and defaults of ``torch.nn.functional`` (``sigmoid_focal_loss``: of
``torchvision.ops.sigmoid_focal_loss``), the deprecated ``size_average`` / ``reduce``
included (mapped to ``reduction`` as PyTorch does, with its warning), and the
fastloss-only ones with fastloss's signature.  fastloss's extra options stay available as
keyword-only arguments after PyTorch's: the loss's own (e.g. ``z_loss`` of
``cross_entropy``), ``sample_weight=None`` (one weight per sample) and ``n_threads=None``.
Each loss also has an ``nn.Module`` class: the PyTorch-named ones subclass the
``torch.nn`` class (``isinstance(m, torch.nn.CrossEntropyLoss)`` holds, same constructor,
buffers and state_dict), with the keyword-only extras added to the constructor and
``sample_weight`` to ``forward``.

Autograd
--------
Each loss is two ``torch.library.custom_op`` operators in the namespace "fastloss":
``fastloss::<name>`` returns the value and the gradient of every differentiable input
from ONE fused pass of fastloss's kernel (``value_and_grad``); its autograd formula saves
those gradients and scales them by the incoming gradient in the backward (a scalar for
"mean"/"sum", the per-sample values' gradient broadcast over the input for "none").
``fastloss::<name>_value`` returns the value only, and is called when no input requires
grad or grad mode is off: no gradient is computed then.  Both have fake (meta)
implementations, so they run under ``torch.compile(fullgraph=True)``.

- Memory: one gradient per differentiable input is kept from the forward to the backward
  (what PyTorch keeps for most of these losses anyway: its inputs or a softmax).  With
  ``reduction="none"`` a broadcast ``var`` (``gaussian_nll_loss``) or ``alpha`` / ``scale``
  (``robust_loss``) gets its gradient per element (each element's incoming gradient
  differs), an array of the input's size, summed back to its shape in the backward.
- Cost: the custom-op dispatch adds a fixed overhead per call (of the order of 0.1 ms
  on the CPU), which the fused kernel repays on all but the smallest inputs.
- Second-order gradients (double backward, e.g. ``create_graph=True`` followed by a
  backward through the gradient) are not supported: differentiating the gradient raises
  a RuntimeError that says so.
- Differentiable inputs are those of fastloss (``input``; both inputs of
  ``margin_ranking_loss`` and ``cosine_embedding_loss``; the three of
  ``triplet_margin_loss``; ``input`` and ``var`` of ``gaussian_nll_loss``; ``input``,
  ``alpha`` and ``scale`` of ``robust_loss``).  A ``target`` that requires grad gets
  ``-d/d input`` for the losses of the residual ``input - target`` (``mse_loss``,
  ``l1_loss``, ``huber_loss``, ``smooth_l1_loss``, ``log_cosh_loss``, ``pinball_loss``,
  ``gaussian_nll_loss``); for any other loss a target that requires grad, and a
  ``weight``, ``pos_weight``, ``alpha`` (class weights) or ``sample_weight`` that requires
  grad, raise NotImplementedError naming the argument (PyTorch would differentiate
  them).  Detach them to train without their gradient.

Tensors
-------
- CPU tensors reach the C kernels without a copy (``tensor.detach().numpy()``, strided
  views for non-contiguous tensors) and the results come back with ``torch.from_numpy``.
- CUDA tensors go to fastloss's CUDA backend on PyTorch's current stream; the results
  are CUDA tensors.  Every tensor argument must be on the input's device (a ValueError
  names the one that is not).
- bfloat16 / float16 inputs are computed in float32; the value and gradients come back in
  the input's dtype.  Integer class targets may be of any integer dtype.
- The value has PyTorch's dtype and shape (a 0-d tensor for "mean"/"sum").

Differences from torch.nn.functional
------------------------------------
- A mean over nothing (an empty batch, every target ignored, zero total weight) is NaN,
  as PyTorch, for the PyTorch-named losses; on the CPU the gradient is PyTorch's too
  (0 at ignored targets, NaN elsewhere).  On CUDA the value is NaN but the gradient of
  such a mean is 0 (PyTorch: NaN at targets not ignored whose weights are all 0).
  ``multi_margin_loss`` of an empty batch is NaN (PyTorch returns uninitialized memory).
  The fastloss-only losses keep fastloss's rule: 0.0 with a zero gradient.
- fastloss checks its inputs where PyTorch silently computes something: targets of the
  {-1, 1} losses that are neither, binary targets outside [0, 1] (also for
  ``binary_cross_entropy_with_logits``), ``var <= 0`` for ``gaussian_nll_loss`` (PyTorch
  clamps a 0 to ``eps``), shapes that PyTorch would broadcast between the inputs of
  ``margin_ranking_loss`` and the like.  ``mse_loss``, ``l1_loss``, ``huber_loss`` and
  ``smooth_l1_loss`` broadcast a target to the input's shape with PyTorch's warning, but
  raise where PyTorch would enlarge the input.
- NaN in the data propagates to the value and gradient, also where PyTorch's clamps drop
  it; ``binary_cross_entropy`` takes NaN input (PyTorch raises).
- Numerics are fastloss's (sums in float64, stable forms): values agree with PyTorch to
  rounding, and are more accurate at extremes (e.g. ``soft_margin_loss`` where PyTorch's
  ``log1p(exp(.))`` overflows).
- PyTorch's warnings (deprecated ``size_average`` / ``reduce``, ``kl_div``'s "mean", a
  target size that differs from the input's) are given in eager mode, not while
  torch.compile traces (where PyTorch's own losses are opaque calls that warn when run).
- ``linear_cross_entropy`` (fused linear layer + cross-entropy) is loaded from
  ``fastloss._torch_linear_ce`` on first use.
"""
import numbers
import warnings

import numpy as np
import torch
from torch.nn.modules.loss import _Loss

import fastloss as _fl
from . import _checks as _ck
from ._registry import TABLE as _TABLE
from ._spec import Param

_NS = "fastloss"
_N_THREADS = Param("n_threads", None, "int", "OpenMP thread count (None: the default)")
_HALF = (torch.bfloat16, torch.float16)

# the value's shape for reduction="none", by loss: "elementwise" the input's shape,
# "target" the target's, "ce" the target's (class indices) or the input's without axis 1
# (probabilities), "rows" the input's without its last axis, "sample" (N,)
_VALUE_KIND = {
    "cross_entropy": "ce",
    "nll_loss": "target", "softmax_focal_loss": "target", "poly1_cross_entropy": "target",
    "generalized_cross_entropy": "target", "symmetric_cross_entropy": "target",
    "bootstrapped_cross_entropy": "target", "multi_margin_loss": "target",
    "multilabel_soft_margin_loss": "rows", "cosine_embedding_loss": "rows",
    "triplet_margin_loss": "rows",
    "dice_loss": "sample",
}

# losses of the residual input - target: d/d target = -d/d input
_RESIDUAL = frozenset({"mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "log_cosh_loss",
                       "pinball_loss", "gaussian_nll_loss"})

# inputs that may be Python numbers (made 0-d tensors), as PyTorch's var
_SCALAR_INPUTS = {"gaussian_nll_loss": ("var",), "robust_loss": ("alpha", "scale")}

# PyTorch broadcasts these targets to the input with a warning (torch.broadcast_tensors)
_BROADCAST_TARGET = frozenset({"mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"})

# class weights divide the mean (PyTorch's rule) for these; the per-element weight of
# mse_loss and l1_loss too
_WEIGHTED_MEAN = frozenset({"cross_entropy", "nll_loss", "mse_loss", "l1_loss"})

# torch.nn.functional's argument order, with the deprecated size_average / reduce
_TORCH_ORDER = {
    "cross_entropy": ("weight", "size_average", "ignore_index", "reduce", "reduction",
                      "label_smoothing"),
    "nll_loss": ("weight", "size_average", "ignore_index", "reduce", "reduction"),
    "binary_cross_entropy_with_logits": ("weight", "size_average", "reduce", "reduction",
                                         "pos_weight"),
    "mse_loss": ("size_average", "reduce", "reduction", "weight"),
    "binary_cross_entropy": ("weight", "size_average", "reduce", "reduction"),
    "kl_div": ("size_average", "reduce", "reduction", "log_target"),
    "multi_margin_loss": ("p", "margin", "weight", "size_average", "reduce", "reduction"),
    "multilabel_soft_margin_loss": ("weight", "size_average", "reduce", "reduction"),
    "soft_margin_loss": ("size_average", "reduce", "reduction"),
    "hinge_embedding_loss": ("margin", "size_average", "reduce", "reduction"),
    "margin_ranking_loss": ("margin", "size_average", "reduce", "reduction"),
    "cosine_embedding_loss": ("margin", "size_average", "reduce", "reduction"),
    "triplet_margin_loss": ("margin", "p", "eps", "swap", "size_average", "reduce",
                            "reduction"),
    "l1_loss": ("size_average", "reduce", "reduction", "weight"),
    "huber_loss": ("reduction", "delta", "weight"),
    "smooth_l1_loss": ("size_average", "reduce", "reduction", "beta"),
    "poisson_nll_loss": ("log_input", "full", "size_average", "eps", "reduce", "reduction"),
    "gaussian_nll_loss": ("full", "eps", "reduction"),
}

# the nn.Module class of each loss: torch.nn's where PyTorch has one
_CLASS_NAMES = {
    "cross_entropy": "CrossEntropyLoss", "nll_loss": "NLLLoss",
    "binary_cross_entropy_with_logits": "BCEWithLogitsLoss", "mse_loss": "MSELoss",
    "binary_cross_entropy": "BCELoss", "kl_div": "KLDivLoss",
    "multi_margin_loss": "MultiMarginLoss",
    "multilabel_soft_margin_loss": "MultiLabelSoftMarginLoss",
    "soft_margin_loss": "SoftMarginLoss", "hinge_embedding_loss": "HingeEmbeddingLoss",
    "margin_ranking_loss": "MarginRankingLoss",
    "cosine_embedding_loss": "CosineEmbeddingLoss",
    "triplet_margin_loss": "TripletMarginLoss", "l1_loss": "L1Loss",
    "huber_loss": "HuberLoss", "smooth_l1_loss": "SmoothL1Loss",
    "poisson_nll_loss": "PoissonNLLLoss", "gaussian_nll_loss": "GaussianNLLLoss",
    # fastloss-only
    "softmax_focal_loss": "SoftmaxFocalLoss", "poly1_cross_entropy": "Poly1CrossEntropyLoss",
    "generalized_cross_entropy": "GeneralizedCrossEntropyLoss",
    "symmetric_cross_entropy": "SymmetricCrossEntropyLoss",
    "bootstrapped_cross_entropy": "BootstrappedCrossEntropyLoss",
    "sigmoid_focal_loss": "SigmoidFocalLoss", "dice_loss": "DiceLoss",
    "log_cosh_loss": "LogCoshLoss", "pinball_loss": "PinballLoss",
    "tweedie_deviance_loss": "TweedieDevianceLoss", "robust_loss": "RobustLoss",
}

_DOUBLE_BACKWARD = (b"fastloss.torch: double backward (a gradient of the gradient) is not "
                    b"supported: the loss's gradient is computed by fastloss's fused forward "
                    b"kernel and saved, so it cannot be differentiated again; use "
                    b"torch.nn.functional for second-order gradients")


def _class_name(spec):
    """The nn.Module class name of a loss: _CLASS_NAMES, else its name in CamelCase
    ending in "Loss" (a loss added to the table gets a class without an edit here)."""
    name = _CLASS_NAMES.get(spec.name)
    if name is None:
        name = "".join(w[:1].upper() + w[1:] for w in spec.name.split("_"))
        name += "" if name.endswith("Loss") else "Loss"
    return name


def _is_torch_named(spec):
    return bool(spec.torch) and spec.torch.startswith("torch.nn.functional.")


# --------------------------------------------------------------------- the ops ----

class _OpInfo:
    """What the ops of one loss need to know: argument layout and the loss."""

    def __init__(self, spec):
        self.spec = spec
        self.name = spec.name
        self.inputs = spec.inputs
        self.params = spec.all_params()
        self.n_in = len(spec.inputs)
        self.n_par = len(self.params)
        self.diff = tuple(spec.inputs.index(n) for n in spec.grad_wrt)
        self.target = spec.inputs.index("target") if "target" in spec.inputs else None
        self.residual = spec.name in _RESIDUAL
        self.kind = _VALUE_KIND.get(spec.name, "elementwise")
        self.torch_named = _is_torch_named(spec)
        self.scalar_inputs = _SCALAR_INPUTS.get(spec.name, ())
        # op argument index of reduction (after the inputs and parameters)
        self.red_index = self.n_in + self.n_par

    def schema(self, with_grad):
        args = [f"Tensor {n}" for n in self.inputs]
        for p in self.params:
            args.append(f"{_schema_type(p)} {p.name}")
        args += ["str reduction", "Tensor? sample_weight", "int? n_threads"]
        outs = "Tensor" if not with_grad else \
            "(" + ", ".join(["Tensor"] * (1 + len(self.diff))) + ")"
        return "(" + ", ".join(args) + ") -> " + outs


def _schema_type(p):
    if p.kind == "array":
        return "Tensor?"
    if p.kind == "float":
        return "float"
    if p.kind == "int":
        return "int"
    if p.kind == "bool":
        return "bool"
    assert p.kind == "choice", p
    return "str" if isinstance(p.default, str) else "int"


def _host(t):
    """A NumPy view of CPU tensor t (float32 for bfloat16 / float16), no copy otherwise."""
    if t is None:
        return None
    t = t.detach()
    if t.dtype in _HALF:
        t = t.float()
    return t.resolve_conj().resolve_neg().numpy()


def _run(info, with_grad, args):
    """The real implementation of both ops of a loss (CPU and CUDA)."""
    ins = args[:info.n_in]
    pars = args[info.n_in:info.red_index]
    reduction, sample_weight, n_threads = args[info.red_index:]
    x = ins[0]
    cuda = x.device.type != "cpu"
    conv = (lambda a: a) if cuda else _host
    kw = {p.name: (conv(v) if isinstance(v, torch.Tensor) else v)
          for p, v in zip(info.params, pars)}
    loss = getattr(_fl, info.name)
    if with_grad and reduction == "none":
        # a broadcast differentiable input (var, alpha, scale) is expanded to the input's
        # shape: each element's gradient is needed to scale it by its own incoming one
        ins = list(ins)
        for k in info.diff[1:]:
            if ins[k].shape != x.shape:
                bshape = _expanded_shape(info, ins[k].shape, x.shape)
                if bshape is not None:
                    ins[k] = ins[k].reshape(bshape).expand(x.shape)
                    if cuda:
                        ins[k] = ins[k].contiguous()
    call_args = [conv(a) for a in ins]
    sw = conv(sample_weight)
    if with_grad:
        v, g = loss.value_and_grad(*call_args, **kw, reduction=reduction, sample_weight=sw,
                                   n_threads=n_threads)
        grads = g if len(info.diff) > 1 else (g,)
    else:
        v = loss(*call_args, **kw, reduction=reduction, sample_weight=sw, n_threads=n_threads)
        grads = ()
    if cuda:
        value = v if isinstance(v, torch.Tensor) else torch.as_tensor(v, device=x.device)
        grads = list(grads)
    else:
        value = torch.from_numpy(np.asarray(v))
        grads = [torch.from_numpy(gk) for gk in grads]
    if value.dtype != x.dtype:
        value = value.to(x.dtype)
    for k, gk in enumerate(grads):
        if gk.dtype != x.dtype:
            grads[k] = gk.to(x.dtype)
    if info.torch_named and reduction in ("mean", "batchmean"):
        value, grads = _mean_over_nothing(info, ins, pars, sample_weight, reduction, value,
                                          grads, cuda)
    return (value, *grads) if with_grad else value


def _expanded_shape(info, shape, xshape):
    """The shape in which a differentiable input broadcasts against the input's shape
    (gaussian_nll_loss's var of the input's shape less its last dimension gets a trailing
    1, as PyTorch's), or None where it does not (fastloss then raises)."""
    shape, xshape = tuple(shape), tuple(xshape)
    if info.name == "gaussian_nll_loss" and shape != xshape and shape == xshape[:-1]:
        shape = shape + (1,)
    if len(shape) > len(xshape):
        return None
    for a, b in zip(shape[::-1], xshape[::-1]):
        if a != b and a != 1:
            return None
    return shape


def _mean_over_nothing(info, ins, pars, sample_weight, reduction, value, grads, cuda):
    """PyTorch's NaN for a mean whose divisor is 0 (fastloss returns 0.0 there)."""
    if not cuda and value.item() != 0.0:
        return value, grads            # a mean over something: fastloss's value stands
    x = ins[0]
    params = dict(zip((p.name for p in info.params), pars))
    nothing = _divisor_is_zero(info, ins, params, sample_weight, reduction)
    if nothing is False:
        return value, grads
    nan = torch.full((), float("nan"), dtype=value.dtype, device=value.device)
    if nothing is not True:
        if cuda:
            # no host synchronization: the value through where(); the gradient stays 0
            return torch.where(nothing, nan, value), grads
        if not bool(nothing):
            return value, grads
    value = nan
    target = ins[info.target] if info.target is not None else None
    indexed = info.name in ("cross_entropy", "nll_loss") and not target.is_floating_point()
    for k, gk in enumerate(grads):
        if indexed:
            mask = target.to(torch.int64) != params["ignore_index"]
            if x.dim() >= 2:
                mask = mask.unsqueeze(1)
            grads[k] = torch.where(mask, nan, torch.zeros((), dtype=gk.dtype,
                                                          device=gk.device)).expand(
                gk.shape).contiguous()
        else:
            grads[k] = torch.full_like(gk, float("nan"))
    return value, grads


def _divisor_is_zero(info, ins, params, sample_weight, reduction):
    """Whether the mean's divisor is 0: False, True, or a 0-d bool tensor (CUDA)."""
    x = ins[0]
    if reduction == "batchmean":
        n = x.shape[0] if x.dim() else 1
        if n == 0:
            return True
        return False if sample_weight is None else (sample_weight.sum() == 0)
    if x.numel() == 0:
        return True
    name = info.name
    if name in ("cross_entropy", "nll_loss") and not ins[1].is_floating_point():
        t = ins[1].to(torch.int64)
        valid = t != params["ignore_index"]
        w = valid.to(torch.float64)
        weight = params.get("weight")
        if weight is not None:
            c = x.shape[1] if x.dim() >= 2 else x.shape[0]
            w = w * weight.to(torch.float64)[torch.where(valid, t, 0).clamp(0, c - 1)]
        if sample_weight is not None:
            sw = sample_weight.to(torch.float64)
            w = w * sw.reshape(sw.shape + (1,) * (w.dim() - sw.dim()))
        return w.sum() == 0
    if name in _WEIGHTED_MEAN and params.get("weight") is not None:
        w = params["weight"].to(torch.float64)
        if sample_weight is not None:
            sw = sample_weight.to(torch.float64)
            w = w * sw.reshape(sw.shape + (1,) * (w.dim() - sw.dim()))
        return w.sum() == 0
    if sample_weight is not None:
        return sample_weight.sum() == 0
    return False


def _fake(info, with_grad, args):
    """Shapes and dtypes of the outputs, without running anything."""
    ins = args[:info.n_in]
    reduction = args[info.red_index]
    x = ins[0]
    if reduction != "none":
        shape = ()
    elif info.kind == "elementwise":
        shape = x.shape
    elif info.kind == "target":
        shape = ins[1].shape
    elif info.kind == "ce":
        t = ins[1]
        if t.is_floating_point():
            shape = (x.shape[:1] + x.shape[2:]) if x.dim() >= 2 else ()
        else:
            shape = t.shape
    elif info.kind == "rows":
        shape = x.shape[:-1]
    else:
        shape = x.shape[:1]
    value = torch.empty(shape, dtype=x.dtype, device=x.device)
    if not with_grad:
        return value
    # for "none", a broadcast var / alpha / scale gets one gradient entry per element
    return (value,) + tuple(torch.empty(x.shape if reduction == "none" else ins[k].shape,
                                        dtype=x.dtype, device=x.device) for k in info.diff)


def _delayed_error(t):
    """t, marked so that differentiating it raises the double-backward error."""
    from torch._C import _functions
    t = t.detach()
    t.requires_grad_(True)
    return _functions.DelayedError(_DOUBLE_BACKWARD, 1)(t)


def _is_one(gv):
    """Whether the incoming gradient is the scalar 1 (a CPU 0-d tensor: read without a
    device synchronization; any other gradient is multiplied in)."""
    return (gv is not None and gv.dim() == 0 and gv.device.type == "cpu"
            and not torch.compiler.is_compiling() and gv.item() == 1.0)


def _broadcast_to(gv, g):
    """The per-sample values' gradient gv, shaped to broadcast over gradient g."""
    if gv.dim() == 0 or gv.dim() == g.dim():
        return gv
    # (N, d1, ..., dk) against (N, C, d1, ..., dk); (N,) against (N, C, ...)
    shape = tuple(gv.shape[:1]) + (1,) + tuple(gv.shape[1:])
    return gv.reshape(shape + (1,) * (g.dim() - len(shape)))


def _make_ops(info):
    n_args = info.red_index + 3
    sfx = info.name

    def value_impl(*args):
        return _run(info, False, args)

    def vg_impl(*args):
        return _run(info, True, args)

    value_op = torch.library.custom_op(f"{_NS}::{sfx}_value", value_impl, mutates_args=(),
                                       schema=info.schema(False))
    vg_op = torch.library.custom_op(f"{_NS}::{sfx}", vg_impl, mutates_args=(),
                                    schema=info.schema(True))
    value_op.register_fake(lambda *args: _fake(info, False, args))
    vg_op.register_fake(lambda *args: _fake(info, True, args))

    def setup_context(ctx, inputs, output):
        grads = output[1:]
        ctx.save_for_backward(*grads)
        ctx.mark_non_differentiable(*grads)
        # the gradient outputs get no incoming gradient: no zero tensors made for them
        ctx.set_materialize_grads(False)
        ctx.none = inputs[info.red_index] == "none"
        x = inputs[0]
        ctx.shapes = [(inputs[k].shape, _expanded_shape(info, inputs[k].shape, x.shape))
                      for k in info.diff]

    def backward(ctx, grad_value, *_unused):
        out = [None] * n_args
        if grad_value is None:   # no gradient reached the value
            return tuple(out)
        gs = ctx.saved_tensors
        needs = ctx.needs_input_grad
        one = _is_one(grad_value)
        for k, idx in enumerate(info.diff):
            if needs[idx]:
                # loss.backward() of a scalar loss: the saved gradient is the gradient
                # (autograd copies it if it must keep it apart from the saved one)
                g = gs[k] if one else _broadcast_to(grad_value, gs[k]) * gs[k]
                shape, bshape = ctx.shapes[k]
                if ctx.none and g.shape != shape:
                    # per-element gradient of a broadcast var / alpha / scale
                    g = g.sum_to_size(bshape).reshape(shape)
                out[idx] = g
        if info.residual and needs[info.target]:
            g0 = out[0] if out[0] is not None else (
                gs[0] if one else _broadcast_to(grad_value, gs[0]) * gs[0])
            out[info.target] = -g0
        if torch.is_grad_enabled():
            out = [o if o is None else _delayed_error(o) for o in out]
        return tuple(out)

    vg_op.register_autograd(backward, setup_context=setup_context)

    class Eager(torch.autograd.Function):
        """The value-and-gradient op's eager twin: the same forward and backward without
        the custom-op dispatch (tens of microseconds a call); torch.compile traces the
        custom ops."""

        @staticmethod
        def forward(ctx, *args):
            out = _run(info, True, args)
            setup_context(ctx, args, out)
            return out

        @staticmethod
        def backward(ctx, grad_value, *rest):
            return backward(ctx, grad_value, *rest)

    Eager.__name__ = Eager.__qualname__ = f"{sfx}_eager"
    info.eager = Eager
    return value_op, vg_op


# ------------------------------------------------------------ the functions ----

def _scalar(p, v):
    """A scalar option in the type its op schema takes (fastloss checks its range)."""
    kind = p.kind
    if kind == "float":
        if v.__class__ is float:
            return v
        if v.__class__ is int:
            return float(v)
        return _ck.number(v, p.name)
    if kind == "int":
        if v.__class__ is int:
            return v
        return _ck.integer(v, p.name)
    if kind == "bool":
        if v is True or v is False:
            return v
        return bool(_ck.boolean(v, p.name))
    if kind == "choice":
        if isinstance(p.default, str):
            return v if v.__class__ is str else _ck.choice(v, p.name, p.choices)
        if v.__class__ is int:
            return v
        return int(_ck.choice(v, p.name, p.choices))
    return v


def _tensor_arg(fname, name, a, device):
    if not isinstance(a, torch.Tensor):
        raise TypeError(f"fastloss.torch.{fname}: {name}: expected a torch.Tensor, got "
                        f"{type(a).__name__}")
    if a.device != device:
        raise ValueError(f"fastloss.torch.{fname}: {name}: on {a.device}, but the input is "
                         f"on {device}; move it to the input's device")
    return a


def _warn(message, stacklevel):
    """PyTorch's warnings, outside torch.compile's tracing (where a warning would break
    the graph; PyTorch's own losses are opaque calls there)."""
    if not torch.compiler.is_compiling():
        warnings.warn(message, stacklevel=stacklevel + 1)


def _legacy(size_average, reduce):
    """The reduction for PyTorch's deprecated size_average / reduce, with its warning
    (torch.nn._reduction.legacy_get_string, which torch.compile cannot trace)."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
    _warn("size_average and reduce args will be deprecated, please use "
          f"reduction='{reduction}' instead.", stacklevel=3)
    return reduction


def _no_grad_arg(fname, name, a):
    raise NotImplementedError(
        f"fastloss.torch.{fname}: {name} requires grad, but fastloss computes no gradient "
        f"with respect to {name!r}; detach it (e.g. {name}.detach()) or use "
        f"torch.nn.functional for its gradient")


def _call(info, value_op, vg_op, inputs, params, reduction, sample_weight, n_threads):
    """Checks the arguments, then calls the value op (nothing requires grad) or the
    value-and-gradient op."""
    fname = info.name
    x = inputs[0]
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"fastloss.torch.{fname}: {info.inputs[0]}: expected a torch.Tensor, "
                        f"got {type(x).__name__}")
    if reduction.__class__ is not str or reduction not in info.spec.reductions:
        _ck.reduction(reduction, info.spec.reductions)
    device = x.device
    ins = [x]
    for name, a in zip(info.inputs[1:], inputs[1:]):
        if name in info.scalar_inputs and not isinstance(a, torch.Tensor) \
                and isinstance(a, numbers.Real) and not isinstance(a, (bool, np.bool_)):
            dt = torch.float32 if x.dtype in _HALF else x.dtype
            a = torch.full((), float(a), dtype=dt, device=device)
        ins.append(_tensor_arg(fname, name, a, device))
    pars = []
    for p, v in zip(info.params, params):
        if p.kind == "array":
            if v is not None:
                _tensor_arg(fname, p.name, v, device)
            pars.append(v)
        else:
            pars.append(_scalar(p, v))
    if sample_weight is not None:
        _tensor_arg(fname, "sample_weight", sample_weight, device)
    if n_threads is not None:
        n_threads = _ck.integer(n_threads, "n_threads")
    if fname in _BROADCAST_TARGET and ins[1].shape != x.shape:
        _warn(
            f"Using a target size ({ins[1].size()}) that is different to the input size "
            f"({x.size()}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.", stacklevel=3)
        try:
            if torch.broadcast_shapes(ins[1].shape, x.shape) == x.shape:
                ins[1] = ins[1].expand(x.shape)
        except RuntimeError:
            pass                # not broadcastable: fastloss's check names the target

    need = False
    if torch.is_grad_enabled():
        for k, (name, a) in enumerate(zip(info.inputs, ins)):
            if a.requires_grad:
                if k in info.diff or (info.residual and k == info.target):
                    need = True
                else:
                    _no_grad_arg(fname, name, a)
        for p, v in zip(info.params, pars):
            if p.kind == "array" and v is not None and v.requires_grad:
                _no_grad_arg(fname, p.name, v)
        if sample_weight is not None and sample_weight.requires_grad:
            _no_grad_arg(fname, "sample_weight", sample_weight)
    args = (*ins, *pars, reduction, sample_weight, n_threads)
    if not torch.compiler.is_compiling():   # eager: the ops' implementations, directly
        return info.eager.apply(*args)[0] if need else _run(info, False, args)
    if not need:
        return value_op(*args)
    return vg_op(*args)[0]


def _defaults_ns(spec):
    return {f"_d_{p.name}": p.default for p in spec.signature_params() + spec.keyword_only}


def _function_source(spec, info):
    """Source of the drop-in function of one loss, in PyTorch's argument order."""
    names = [p.name for p in spec.signature_params()]
    torch_order = _TORCH_ORDER.get(spec.name) if _is_torch_named(spec) else None
    if torch_order is not None:
        assert [n for n in torch_order if n not in ("size_average", "reduce")] == names, \
            spec.name
        order = torch_order
    else:
        order = names
    sig = list(spec.inputs)
    for n in order:
        sig.append(f"{n}=None" if n in ("size_average", "reduce") else f"{n}=_d_{n}")
    sig.append("*")
    sig += [f"{p.name}=_d_{p.name}" for p in spec.keyword_only]
    sig += ["sample_weight=None", "n_threads=None"]
    lines = [f"def {spec.name}({', '.join(sig)}):"]
    if "size_average" in order:
        lines += ["    if size_average is not None or reduce is not None:",
                  "        reduction = _legacy(size_average, reduce)"]
    if spec.name == "kl_div":
        lines += ["    if reduction == 'mean':",
                  "        _warn(_KL_MEAN_WARNING, stacklevel=2)"]
    pars = "".join(p.name + ", " for p in spec.all_params())
    lines.append(f"    return _call(_INFO, _VALUE_OP, _VG_OP, ({', '.join(spec.inputs)},), "
                 f"({pars}), reduction, sample_weight, n_threads)")
    return "\n".join(lines) + "\n"


_KL_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release.")


def _function_doc(spec):
    if _is_torch_named(spec):
        head = (f"Drop-in for ``{spec.torch}``: same arguments, defaults and results, "
                f"computed by fastloss's fused kernel (value and gradient in one pass).")
    elif spec.torch:
        head = (f"Drop-in for ``{spec.torch}``, computed by fastloss's fused kernel (value "
                f"and gradient in one pass).")
    else:
        head = (f"fastloss's ``{spec.name}`` for torch tensors, with autograd (value and "
                f"gradient in one pass).")
    return (head + "\n\nKeyword-only: fastloss's extra options, ``sample_weight`` and "
            "``n_threads``.  See the module docstring of fastloss.torch for autograd, "
            "dtypes, devices and the differences from PyTorch.\n\n" +
            getattr(_fl, spec.name).__doc__)


def _build_function(spec):
    info = _OpInfo(spec)
    value_op, vg_op = _make_ops(info)
    ns = {"_call": _call, "_INFO": info, "_VALUE_OP": value_op, "_VG_OP": vg_op,
          "_legacy": _legacy, "_warn": _warn,
          "_KL_MEAN_WARNING": _KL_MEAN_WARNING, **_defaults_ns(spec)}
    src = _function_source(spec, info)
    exec(compile(src, f"<fastloss.torch.{spec.name}>", "exec"), ns)
    fn = ns[spec.name]
    fn.__module__ = __name__
    fn.__qualname__ = spec.name
    fn.__doc__ = _function_doc(spec)
    fn._fastloss_ops = (value_op, vg_op)
    return fn


# -------------------------------------------------------------- the modules ----

def _torch_class(spec):
    name = _class_name(spec)
    return getattr(torch.nn, name, None) if _is_torch_named(spec) else None


def _class_source(spec, base):
    """Source of the nn.Module class of one loss.

    PyTorch-named losses subclass torch.nn's class: its constructor (same signature, plus
    fastloss's keyword-only extras), its attributes, buffers and state_dict; forward
    calls the drop-in function with them.  fastloss-only losses take the loss's options
    in the constructor (array options registered as buffers, like torch.nn's weight)."""
    import inspect

    cls = _class_name(spec)
    extras = [f"{p.name}=_d_{p.name}" for p in spec.keyword_only] + ["n_threads=None"]
    lines = [f"class {cls}(_Base):"]
    if base is not None:
        init_params = list(inspect.signature(base.__init__).parameters.values())[1:]
        sig, call = [], []
        for prm in init_params:
            if prm.kind is inspect.Parameter.KEYWORD_ONLY and "*" not in sig:
                sig.append("*")
            d = "" if prm.default is inspect.Parameter.empty else f"=_c_{prm.name}"
            sig.append(f"{prm.name}{d}")
            call.append(f"{prm.name}={prm.name}")
        if "*" not in sig:
            sig.append("*")
        sig += extras
        lines += [f"    def __init__(self, {', '.join(sig)}):",
                  f"        super().__init__({', '.join(call)})"]
        fwd = list(inspect.signature(base.forward).parameters)[1:]
    else:
        sig = [f"{p.name}=_d_{p.name}" for p in spec.signature_params()] + ["*"] + extras
        lines += [f"    def __init__(self, {', '.join(sig)}):",
                  "        super().__init__(reduction=reduction)"]
        for p in spec.signature_params():
            if p.name == "reduction":
                continue
            if p.kind == "array":
                lines.append(f"        self.register_buffer({p.name!r}, {p.name})")
            else:
                lines.append(f"        self.{p.name} = {p.name}")
        fwd = list(spec.inputs)
    for p in spec.keyword_only:
        lines.append(f"        self.{p.name} = {p.name}")
    lines.append("        self.n_threads = n_threads")
    args = ", ".join(fwd)
    kws = [f"{p.name}=getattr(self, {p.name!r}, _d_{p.name})" for p in spec.all_params()]
    kws += ["reduction=self.reduction", "sample_weight=sample_weight",
            "n_threads=self.n_threads"]
    lines += [f"    def forward(self, {args}, *, sample_weight=None):",
              f"        return _fn({args}, {', '.join(kws)})"]
    return "\n".join(lines) + "\n"


def _build_class(spec, fn):
    import inspect

    base = _torch_class(spec)
    cdefaults = {}
    if base is not None:
        cdefaults = {f"_c_{n}": p.default for n, p in
                     inspect.signature(base.__init__).parameters.items()}
    ns = {"_Base": base if base is not None else _Loss, "_fn": fn, **_defaults_ns(spec),
          **cdefaults}
    src = _class_source(spec, base)
    exec(compile(src, f"<fastloss.torch.{_class_name(spec)}>", "exec"), ns)
    cls = ns[_class_name(spec)]
    cls.__module__ = __name__
    extras = ", ".join(f"``{p.name}``" for p in spec.keyword_only + (_N_THREADS,))
    if base is not None:
        cls.__doc__ = (f"Drop-in for ``torch.nn.{base.__name__}`` (a subclass of it): same "
                       f"constructor, attributes, buffers and state_dict; ``forward`` calls "
                       f"``fastloss.torch.{spec.name}``.  Keyword-only constructor extras: "
                       f"{extras}; ``forward`` also takes keyword-only ``sample_weight``.")
    else:
        cls.__doc__ = (f"``fastloss.torch.{spec.name}`` as an ``nn.Module``: the loss's "
                       f"options in the constructor (array options as buffers; keyword-only "
                       f"{extras}), the inputs in ``forward`` (plus keyword-only "
                       f"``sample_weight``).\n\n" + (fn.__doc__ or ""))
    return cls


__all__ = []
for _spec in _TABLE:
    _f = _build_function(_spec)
    globals()[_spec.name] = _f
    _c = _build_class(_spec, _f)
    globals()[_c.__name__] = _c
    __all__ += [_spec.name, _c.__name__]
del _spec, _f, _c
__all__.append("linear_cross_entropy")


def __getattr__(name):
    if name == "linear_cross_entropy":
        try:
            from ._torch_linear_ce import linear_cross_entropy
        except ModuleNotFoundError as e:
            if e.name != __package__ + "._torch_linear_ce":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r} (this "
                                 f"installation lacks fastloss._torch_linear_ce)") from e
        globals()["linear_cross_entropy"] = linear_cross_entropy
        return linear_cross_entropy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"linear_cross_entropy"})
