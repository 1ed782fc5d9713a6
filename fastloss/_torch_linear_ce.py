"""Fused linear cross-entropy for PyTorch tensors, with autograd:

    loss = linear_cross_entropy(hidden, weight, target, bias=None, ignore_index=-100,
                                label_smoothing=0.0, reduction="mean", chunk_size=None)
    loss.backward()

the value of ``F.cross_entropy(F.linear(hidden, weight, bias), target, ...)`` (and its
gradients with respect to hidden, weight and bias) without the (N, V) logits ever
existing: they are made one chunk of rows at a time (torch matmul on the tensors' device),
turned into their gradient in place by fastloss's fused cross-entropy kernel (CPU tensors
zero-copy through ``.numpy()`` to the C kernel, CUDA tensors to fastloss's CUDA backend),
and multiplied back into the gradients of hidden, weight and bias before the next chunk.
Tokens whose target is ``ignore_index`` are skipped (no matmul at all).

How autograd sees it: one custom operator, ``torch.ops.fastloss.linear_cross_entropy``
(``torch.library.custom_op``, with ``register_fake`` for torch.compile / FakeTensor and
``register_autograd``).

- reduction "mean" / "sum": the forward computes the value AND the gradients (of the
  inputs that require grad only; nothing but the value when none does or grad mode is
  off) and keeps them; the backward scales them by the incoming scalar, in place, and
  hands them on, so that autograd adopts them as ``.grad`` without a copy (no zero-filled
  incoming gradients are made for the op's gradient outputs either): the peak memory is
  the gradients plus one chunk of logits.  A second backward through the same graph
  (``retain_graph=True``) recomputes the gradients from the saved inputs, bitwise the
  same.  Under torch.compile / FakeTensor tracing the scaling is an ordinary
  out-of-place multiplication in the graph.
- reduction "none": the incoming gradient is one weight per token, and the weight and bias
  gradients are sums over tokens of weighted terms, which saved unweighted sums cannot
  give.  So the forward computes the values only and saves the inputs; the backward
  (``torch.ops.fastloss.linear_cross_entropy_backward``) recomputes each chunk's logits,
  scales each row of the chunk's gradient by its token's incoming weight and accumulates.
  That is one more logits matmul than "mean" / "sum" (4 instead of 3 per chunk).

Semantics follow torch.nn.functional.cross_entropy (no class weights): "mean" divides by
the number of tokens not ignored, and a mean over nothing (no tokens, or every target
ignored) is NaN with zero gradients, as in PyTorch.  (fastloss's NumPy
``linear_cross_entropy`` gives 0.0 there instead, fastloss's rule for NumPy losses.)

Precision: float32 and float64 compute in their own dtype.  float16 / bfloat16: each
chunk's logits are made by a matmul in the input dtype, converted to float32 for the
kernel; d_hidden is ``G.to(dtype) @ weight`` (a matmul in the input dtype, as PyTorch's
own backward); d_weight accumulates in float32 across chunks (a float32 matmul of G and
the chunk of hidden), d_bias in float64; all are returned in the input's dtype, as is the
value (summed in float64).  Double backward is not supported.

``chunk_size=None``: see fastloss._linear_ce (64 MiB of float32 logits per chunk, at
least 256 rows).
"""
from typing import Optional

import torch

from . import _linear_ce

_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_REDUCTIONS = ("mean", "sum", "none")
_DH, _DW, _DB = 1, 2, 4          # bits of grad_mask: which gradients to compute


def _compute_dtype(dtype):
    return torch.float64 if dtype == torch.float64 else torch.float32


# --------------------------------------------------------------- the chunks ----

def _check_targets(target, v, ignore_index):
    """Raise (before anything is computed) for a class index outside [0, v) that is not
    ignore_index."""
    bad = (target != ignore_index) & ((target < 0) | (target >= v))
    if bool(bad.any()):
        pos = int(bad.nonzero()[0, 0])
        raise ValueError(f"target: class index {int(target[pos])} at position {pos} is out "
                         f"of range for {v} classes (valid: 0 to {v - 1}, or ignore_index="
                         f"{ignore_index})")


def _kernel(lg, tc, ignore_index, label_smoothing, reduction, want_grad, n_threads):
    """fastloss's fused cross-entropy of the chunk logits lg (float32/float64, C-contiguous),
    the gradient of the sum written over lg; the value (a float, 0-d device tensor, or per
    row values for "none")."""
    from . import cross_entropy
    cuda = lg.device.type != "cpu"
    x, t = (lg, tc) if cuda else (lg.numpy(), tc.numpy())
    kw = dict(ignore_index=ignore_index, label_smoothing=label_smoothing,
              reduction=reduction)
    if not cuda and n_threads is not None:
        kw["n_threads"] = n_threads
    if want_grad:
        v, _ = cross_entropy.value_and_grad(x, t, out=x, **kw)
    else:
        v = cross_entropy(x, t, **kw)
    if reduction == "none":
        return v if cuda else torch.from_numpy(v)
    return v if cuda else float(v)


def _chunks(hidden, weight, target, bias, ignore_index, label_smoothing, reduction,
            chunk_size, grad_mask, n_threads, row_weight=None):
    """Value and gradients chunk by chunk.  With row_weight (the backward of "none"), each
    row of the chunk gradient is scaled by its token's weight and no value is made.

    Returns (value, dh, dW, db, count): value a float / 0-d float64 tensor (sum) or a
    per-token tensor (none) of the compute dtype; dh in hidden's dtype, dW in the compute
    dtype, db in float64; a gradient not asked for is None."""
    n, h = hidden.shape
    v = weight.shape[0]
    dev, dtype = hidden.device, hidden.dtype
    ct = _compute_dtype(dtype)
    low = dtype != ct
    cuda = dev.type != "cpu"
    _check_targets(target, v, ignore_index)
    valid = target != ignore_index
    count = int(valid.sum())
    rows = None if count == n else valid.nonzero().squeeze(1)
    need_dh = bool(grad_mask & _DH)
    need_dw = bool(grad_mask & _DW)
    need_db = bool(grad_mask & _DB) and bias is not None
    want_grad = need_dh or need_dw or need_db
    none = reduction == "none" and row_weight is None
    red = "none" if none else "sum"
    values = torch.zeros(n, dtype=ct, device=dev) if none else None
    total = torch.zeros((), dtype=torch.float64, device=dev) if cuda else 0.0
    dh = dW = db = None
    if need_dh:
        dh = (torch.empty if rows is None else torch.zeros)((n, h), dtype=dtype, device=dev)
    if need_dw:
        dW = torch.zeros((v, h), dtype=ct, device=dev)
    if need_db:
        db = torch.zeros(v, dtype=torch.float64, device=dev)
    cs = min(chunk_size, count)
    if cs:
        buf = torch.empty((cs, v), dtype=ct, device=dev)
        buf_low = torch.empty((cs, v), dtype=dtype, device=dev) if low else None
    wt = weight.t()
    for s in range(0, count, max(cs, 1)):
        e = min(s + cs, count)
        k = e - s
        if rows is None:
            hc, tc, idx = hidden[s:e], target[s:e], None
        else:
            idx = rows[s:e]
            hc, tc = hidden.index_select(0, idx), target.index_select(0, idx)
        lg = buf[:k]
        out = buf_low[:k] if low else lg
        if bias is None:
            torch.mm(hc, wt, out=out)
        else:
            torch.addmm(bias, hc, wt, out=out)
        if low:
            lg.copy_(out)
        val = _kernel(lg, tc, ignore_index, label_smoothing, red, want_grad, n_threads)
        if none:
            if idx is None:
                values[s:e] = val
            else:
                values.index_copy_(0, idx, val.to(ct))
        elif row_weight is None:
            total += val
        if not want_grad:
            continue
        # lg holds G, the gradient of the chunk's summed losses with respect to its logits
        if row_weight is not None:
            rw = row_weight[s:e] if idx is None else row_weight.index_select(0, idx)
            lg.mul_(rw.to(ct).unsqueeze(1))
        if need_dh:
            g = buf_low[:k].copy_(lg) if low else lg
            if idx is None:
                torch.mm(g, weight, out=dh[s:e])
            else:
                dh.index_copy_(0, idx, torch.mm(g, weight))
        if need_dw:
            dW.addmm_(lg.t(), hc.to(ct) if low else hc)
        if need_db:
            db.add_(lg.sum(0, dtype=torch.float64))
    if none:
        return values, dh, dW, db, count
    return total, dh, dW, db, count


def _empty(like):
    return like.new_empty((0,))


def _resolve(hidden, weight, target, bias, ignore_index, label_smoothing, reduction,
             chunk_size, grad_mask, n_threads, row_weight=None):
    """The custom ops' common body: (value, dh, dW, db) in the input's dtype, the gradients
    scaled for "mean" (and empty for those not asked for)."""
    with torch.no_grad():
        value, dh, dW, db, count = _chunks(hidden, weight, target, bias, ignore_index,
                                           label_smoothing, reduction, chunk_size,
                                           grad_mask, n_threads, row_weight)
        dtype = hidden.dtype
        if row_weight is not None:
            scale = None
        elif reduction == "mean":
            # PyTorch's rule: a mean over nothing is NaN (the gradients stay zero)
            if count:
                scale = 1.0 / count
                value = value * scale
            else:
                scale = None
                value = value * float("nan")
        else:
            scale = None
        if reduction == "none" and row_weight is None:
            value = value.to(dtype)
        elif torch.is_tensor(value):
            value = value.to(dtype)
        else:
            value = torch.tensor(value, dtype=dtype, device=hidden.device)
        outs = []
        for g in (dh, dW, db):
            if g is None:
                outs.append(_empty(hidden))
                continue
            if scale is not None:
                g.mul_(scale)
            outs.append(g.to(dtype))
        return (value, *outs)


# ----------------------------------------------------------- custom operators ----

@torch.library.custom_op("fastloss::linear_cross_entropy", mutates_args=())
def _lce_op(hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor,
            bias: Optional[torch.Tensor], ignore_index: int, label_smoothing: float,
            reduction: str, chunk_size: int, grad_mask: int,
            n_threads: Optional[int]
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(value, d_hidden, d_weight, d_bias) of the fused linear cross-entropy; a gradient
    not in grad_mask (bits 1: hidden, 2: weight, 4: bias) is an empty tensor.  With
    reduction "none" no gradient is computed (grad_mask must be 0)."""
    if reduction == "none":
        grad_mask = 0
    return _resolve(hidden, weight, target, bias, ignore_index, label_smoothing, reduction,
                    chunk_size, grad_mask, n_threads)


def _grad_shapes(hidden, weight, bias, grad_mask):
    n, h = hidden.shape
    v = weight.shape[0]
    return ((n, h) if grad_mask & _DH else (0,),
            (v, h) if grad_mask & _DW else (0,),
            (v,) if grad_mask & _DB and bias is not None else (0,))


@_lce_op.register_fake
def _lce_fake(hidden, weight, target, bias, ignore_index, label_smoothing, reduction,
              chunk_size, grad_mask, n_threads):
    if reduction == "none":
        grad_mask = 0
    value = hidden.new_empty((hidden.shape[0],) if reduction == "none" else ())
    return (value, *(hidden.new_empty(s) for s in _grad_shapes(hidden, weight, bias,
                                                                   grad_mask)))


@torch.library.custom_op("fastloss::linear_cross_entropy_backward", mutates_args=())
def _lce_backward_op(hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor,
                     bias: Optional[torch.Tensor], grad_value: torch.Tensor, ignore_index: int,
                     label_smoothing: float, chunk_size: int, grad_mask: int,
                     n_threads: Optional[int]
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of sum_i grad_value[i] * loss_i (reduction "none"), recomputed chunk by
    chunk; a gradient not in grad_mask is an empty tensor."""
    _, dh, dW, db = _resolve(hidden, weight, target, bias, ignore_index, label_smoothing,
                             "none", chunk_size, grad_mask, n_threads, row_weight=grad_value)
    return dh, dW, db


@_lce_backward_op.register_fake
def _lce_backward_fake(hidden, weight, target, bias, grad_value, ignore_index,
                       label_smoothing, chunk_size, grad_mask, n_threads):
    return tuple(hidden.new_empty(s) for s in _grad_shapes(hidden, weight, bias, grad_mask))


def _setup_context(ctx, inputs, output):
    hidden, weight, target, bias, ignore_index, label_smoothing, reduction, chunk_size, \
        grad_mask, n_threads = inputs
    _, dh, dW, db = output
    ctx.mark_non_differentiable(dh, dW, db)
    # no zero-filled incoming gradients for the gradient outputs (a (V, H) tensor of zeros
    # would be made for d_weight at every backward)
    ctx.set_materialize_grads(False)
    ctx.reduction = reduction
    ctx.args = (ignore_index, label_smoothing, chunk_size, n_threads)
    ctx.grad_mask = grad_mask
    ctx.save_for_backward(hidden, weight, target, bias)
    # "mean" / "sum": the gradients the forward computed, owned by this node until its
    # first (eager) backward hands them on
    ctx.grads = None if reduction == "none" else (dh, dW, db)


def _eager(g):
    """Whether g is a plain tensor of an eager call: not under torch.compile / make_fx
    tracing, no tensor subclass (FakeTensor, FunctionalTensor) and no dispatch mode."""
    if type(g) is not torch.Tensor or torch.compiler.is_compiling():
        return False
    stack = getattr(torch._C, "_len_torch_dispatch_stack", None)
    return stack is not None and stack() == 0


def _backward(ctx, g_value, _g_dh, _g_dw, _g_db):
    need = ctx.needs_input_grad       # (hidden, weight, target, bias, ...)
    if g_value is None:               # no gradient flows into the value: zero gradients
        return (None,) * 10
    if torch.is_grad_enabled() and _eager(g_value):
        raise RuntimeError("linear_cross_entropy: double backward (create_graph=True) is "
                           "not supported")
    ignore_index, label_smoothing, chunk_size, n_threads = ctx.args
    mask = (_DH if need[0] else 0) | (_DW if need[1] else 0) | (_DB if need[3] else 0)
    if ctx.reduction == "none":
        hidden, weight, target, bias = ctx.saved_tensors
        grads = torch.ops.fastloss.linear_cross_entropy_backward(
            hidden, weight, target, bias, g_value, ignore_index, label_smoothing, chunk_size,
            mask, n_threads)
    else:
        eager = _eager(g_value)
        grads = ctx.grads
        grad_mask = ctx.grad_mask
        if mask & ~grad_mask:
            # a gradient the forward did not make (the op called directly with a grad_mask
            # short of the inputs that require grad): recompute them all
            grads, grad_mask = None, grad_mask | mask
        elif eager:
            # hand the saved gradients on (autograd can adopt them as .grad without a
            # copy) and scale them in place; a second backward through this graph
            # (retain_graph=True) recomputes them, bitwise the same
            ctx.grads = None
        if grads is None:
            hidden, weight, target, bias = ctx.saved_tensors
            grads = torch.ops.fastloss.linear_cross_entropy(
                hidden, weight, target, bias, ignore_index, label_smoothing, ctx.reduction,
                chunk_size, grad_mask, n_threads)[1:]
        if eager:
            if not bool(g_value == 1):
                for g in grads:
                    g.mul_(g_value)
        else:
            grads = tuple(g * g_value for g in grads)
    return (grads[0] if need[0] else None, grads[1] if need[1] else None, None,
            grads[2] if need[3] else None, None, None, None, None, None, None)


_lce_op.register_autograd(_backward, setup_context=_setup_context)


# ------------------------------------------------------------------- the API ----

def _tensor(a, name, what):
    if not isinstance(a, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor {what}, got {type(a).__name__}")
    return a


def _shape(t):
    return "(" + ", ".join(str(d) for d in t.shape) + ("," if t.dim() == 1 else "") + ")"


def linear_cross_entropy(hidden, weight, target, bias=None, ignore_index=-100,
                         label_smoothing=0.0, reduction="mean", chunk_size=None, *,
                         n_threads=None):
    """Cross-entropy of the logits ``hidden @ weight.T + bias`` without making them:
    ``F.cross_entropy(F.linear(hidden, weight, bias), target, ignore_index=...,
    label_smoothing=..., reduction=...)`` in chunks of rows, differentiable with respect
    to hidden, weight and bias.

    hidden : (N, H) float16, bfloat16, float32 or float64 (reshape (B, T, H) to (B*T, H))
    weight : (V, H), hidden's dtype and device
    target : (N,) integer class indices in [0, V), or ignore_index (such tokens count
        nowhere and cost nothing)
    bias : (V,) or None
    reduction : "mean" (over the tokens not ignored; NaN when there are none, as
        PyTorch), "sum" or "none" (one value per token, 0 where ignored)
    chunk_size : rows per chunk (int >= 1), or None for 64 MiB of float32 chunk logits
        (at least 256 rows); the extra memory is about chunk_size x V x 4 bytes (twice
        that for float16 / bfloat16) beyond the gradients
    n_threads : threads of fastloss's CPU cross-entropy kernel (None: its default); the
        matmuls use torch's threads

    Returns the value (a 0-d tensor, or (N,) for "none") in hidden's dtype.  The gradients
    of "mean" / "sum" are computed in the forward (when an input requires grad) and
    saved; "none" recomputes in the backward.  CPU tensors go to fastloss's C kernel,
    CUDA tensors to its CUDA backend.  Bad arguments raise TypeError or ValueError naming
    the argument before anything is computed.
    """
    from . import _checks as ck
    from ._api import threads
    _tensor(hidden, "hidden", "(N, H)")
    _tensor(weight, "weight", "(V, H)")
    _tensor(target, "target", "(N,) of class indices")
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"reduction: expected one of {', '.join(map(repr, _REDUCTIONS))}; "
                         f"got {reduction!r}")
    ignore_index = ck.integer(ignore_index, "ignore_index")
    label_smoothing = ck.number(label_smoothing, "label_smoothing", 0.0, 1.0)
    if n_threads is not None:
        threads(n_threads)            # checked here; passed on as given
    if hidden.dtype not in _FLOATS:
        raise TypeError(f"hidden: expected a floating-point tensor (float16, bfloat16, "
                        f"float32 or float64), got dtype {hidden.dtype}")
    if hidden.dim() != 2:
        raise ValueError(f"hidden: expected shape (N, H), got {_shape(hidden)}; reshape "
                         "(B, T, H) to (B * T, H)")
    if weight.dtype != hidden.dtype:
        raise TypeError(f"weight: dtype {weight.dtype} does not match hidden's dtype "
                        f"{hidden.dtype}")
    if weight.dim() != 2 or weight.shape[1] != hidden.shape[1]:
        raise ValueError(f"weight: shape {_shape(weight)} does not match hidden "
                         f"{_shape(hidden)}; expected (V, {hidden.shape[1]})")
    if weight.shape[0] == 0:
        raise ValueError("weight: needs at least one class (V >= 1), got V = 0")
    n, v = hidden.shape[0], weight.shape[0]
    tensors = [("weight", weight), ("target", target)]
    if bias is not None:
        _tensor(bias, "bias", f"({v},) or None")
        if bias.dtype != hidden.dtype:
            raise TypeError(f"bias: dtype {bias.dtype} does not match hidden's dtype "
                            f"{hidden.dtype}")
        if tuple(bias.shape) != (v,):
            raise ValueError(f"bias: shape {_shape(bias)} does not match weight's {v} "
                             f"classes; expected ({v},)")
        tensors.append(("bias", bias))
    if target.dtype.is_floating_point or target.dtype.is_complex or target.dtype == torch.bool:
        raise TypeError(f"target: expected integer class indices, got dtype {target.dtype}")
    if tuple(target.shape) != (n,):
        raise ValueError(f"target: shape {_shape(target)} does not match hidden's {n} rows; "
                         f"expected ({n},)")
    for name, t in tensors:
        if t.device != hidden.device:
            raise ValueError(f"{name}: on device {t.device}, hidden on {hidden.device}; "
                             "all tensors must be on one device")
    itemsize = 8 if hidden.dtype == torch.float64 else 4
    if chunk_size is None:
        chunk_size = _linear_ce.default_chunk_size(n, v, itemsize)
    else:
        chunk_size = ck.integer(chunk_size, "chunk_size", 1)
    if target.dtype != torch.int64:
        target = target.long()
    grad_mask = 0
    if reduction != "none" and torch.is_grad_enabled():
        grad_mask = ((_DH if hidden.requires_grad else 0) |
                     (_DW if weight.requires_grad else 0) |
                     (_DB if bias is not None and bias.requires_grad else 0))
    value = torch.ops.fastloss.linear_cross_entropy(
        hidden, weight, target, bias, ignore_index, label_smoothing, reduction, chunk_size,
        grad_mask, n_threads)[0]
    return value
