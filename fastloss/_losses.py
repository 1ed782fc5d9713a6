"""Per-loss preparation: from validated public arguments to kernel-ready arrays.

Each ``prepare_*`` function checks what is specific to its loss (shapes, target domain,
weights), then returns a :class:`Call`: the kernel's input array, the shapes of the
gradient and of the per-sample values, a closure that runs the CPU kernel, and one that
builds the keyword arguments of the reference implementation (called for
backend="numpy" only).  Scalar options have already been
checked against the loss table by the API layer.
"""
import math

import numpy as np

from . import _checks as ck
from ._cpu import _kernels

FL_AUX_FULL, FL_AUX_COL, FL_AUX_ROW = 1, 2, 3


class Call:
    """A validated call: what the backends need, and nothing else."""

    __slots__ = ("x", "shape", "dtype", "value_shape", "cpu", "ref", "reads", "more", "acc")

    def __init__(self, x, shape, value_shape, cpu, ref, reads, more=(), acc=None):
        self.x = x                      # the kernel's input (C-contiguous)
        self.shape = shape              # the input's shape: the gradient's shape
        self.dtype = x.dtype
        self.value_shape = value_shape  # shape of the values for reduction="none"
        # cpu(reduction, loss_out, grad, n_threads) -> float; grad is None, an array of
        # the input's shape, or (with `more`) a tuple of one array per differentiable input
        self.cpu = cpu
        self.ref = ref                  # () -> keyword arguments of the reference function
        self.reads = reads              # the other arrays the kernel reads (overlap check)
        # further differentiable inputs: (kernel array, public shape) each, in order
        self.more = more
        # cross-entropy with class indices: (size, accuracy) -- `size` positions, whose
        # per-position argmax hits (uint8, written by cpu(..., correct=)) accuracy(correct)
        # turns into the weighted fraction; None where the loss cannot report accuracy
        self.acc = acc


def kernel_form(a, shape):
    """`a` as a kernel reads it: C-contiguous and of `shape` (its own size), a itself
    when it already is (no copy and no new view on the common path)."""
    if type(a) is np.ndarray and a.shape == shape and a.flags.c_contiguous:
        return a
    return ck.ops(a).kernel_form(a, shape)


# --------------------------------------------------------------- cross-entropy ----

def int64_targets(t, c):
    """Integer class targets (of any integer dtype) as C-contiguous int64 (t's shape); a
    uint64 index beyond int64 raises rather than wrapping around."""
    return ck.ops(t).int64_targets(t, c)


def _class_targets(t, x, n, c, s, ignore_index, batched):
    """Integer class targets of shape (n, d1..dk) as int64 (n * s,), range-checked."""
    want = ((n,) + x.shape[2:]) if batched else ()
    if t.shape != want:
        raise ValueError(f"target: class indices for input {ck.shape_str(x.shape)} must have "
                         f"shape {ck.shape_str(want)}, got {ck.shape_str(t.shape)}")
    t64 = int64_targets(t, c).reshape(n * s)
    k = ck.ops(t64)
    bad = k.find_bad_class_index(t64, c, ignore_index)
    if bad >= 0:
        raise ValueError(f"target: class index {k.item(t64, bad)} at flat position {bad} is out of "
                         f"range for {c} classes (valid: 0 to {c - 1}, or ignore_index="
                         f"{ignore_index})")
    return t64


def _reference_sample_weight(sw, batched):
    """The reference's sample_weight of a class input: (N,), or () for one sample."""
    return None if sw is None else (sw if batched else sw.reshape(()))


def _class_input(input, what="(N, C)"):
    """A class-score input (C,), (N, C) or (N, C, d1, ..., dk): (x, n, c, s, batched)."""
    x = ck.float_input(input, "input")
    if x.ndim == 0:
        raise ValueError(f"input: expected shape (C,), {what} or (N, C, d1, ..., dk), got ()")
    batched = x.ndim >= 2
    n, c = x.shape[:2] if batched else (1, x.shape[0])
    s = math.prod(x.shape[2:]) if x.ndim > 2 else 1
    if c == 0:
        raise ValueError("input: needs at least one class (C >= 1), got C = 0")
    return x, n, c, s, batched


def _class_weight(weight, c, dtype):
    if weight is None:
        return None
    w = ck.nonnegative_weights(weight, "weight", dtype)
    if w.shape != (c,):
        raise ValueError(f"weight: class weights must have shape ({c},), one per class, "
                         f"got {ck.shape_str(w.shape)}")
    return w


def _kernel_view(x, n, c, s, sw):
    """The (n, c * s) kernel view of a class input, its position count and sample weights;
    with no positions (a zero-sized d_k) there is nothing to compute: n = 0 for the kernel."""
    if s == 0:
        return ck.ops(x).empty((0, c), x.dtype), 1, (None if sw is None else sw[:0])
    return kernel_form(x, (n, c * s)), s, sw


def prepare_cross_entropy(input, target, weight, ignore_index, label_smoothing, z_loss,
                          sample_weight):
    x, n, c, s, batched = _class_input(input)
    dtype = x.dtype
    t = ck.array(target)
    if t.dtype.kind in "iu":
        t64 = _class_targets(t, x, n, c, s, ignore_index, batched)
        soft = target_ref = None   # the reference's target: t64 in t's shape
    elif t.dtype.kind == "f":
        if t.shape != x.shape:
            raise ValueError(f"target: class probabilities must have the input's shape "
                             f"{ck.shape_str(x.shape)}, got {ck.shape_str(t.shape)}")
        if ignore_index != -100:
            raise ValueError("ignore_index: is not supported with class-probability targets "
                             "(floating-point target); leave it at -100")
        soft = ck.ops(t).contiguous(t, dtype)
        t64 = None
        target_ref = soft
        soft = soft.reshape(n, c * s)
    else:
        raise TypeError(f"target: expected integer class indices or floating-point class "
                        f"probabilities, got dtype {t.dtype}")
    w = _class_weight(weight, c, dtype)
    sw = ck.sample_weight(sample_weight, n, dtype, batched)
    x2, sk, swk = _kernel_view(x, n, c, s, sw)
    if soft is not None:
        soft = soft.reshape(x2.shape)
    K = ck.ops(x2)

    def cpu(red, loss_out, grad, nt, correct=None):
        return K.cross_entropy(x2, t64, soft, w, swk, ignore_index, label_smoothing, red,
                                      loss_out, grad, nt, sk, z_loss, False, correct)

    def ref():
        return dict(input=x, target=t64.reshape(t.shape) if target_ref is None else target_ref,
                    weight=w, ignore_index=ignore_index, label_smoothing=label_smoothing,
                    z_loss=z_loss, sample_weight=_reference_sample_weight(sw, batched))

    value_shape = ((n,) + x.shape[2:]) if batched else ()
    acc = None
    if t64 is not None:
        acc = (n * s, lambda correct: K.accuracy(correct, t64, ignore_index, sw, s))
    return Call(x2, x.shape, value_shape, cpu, ref, (t64, soft, w, sw), acc=acc)


def prepare_nll_loss(input, target, weight, ignore_index, sample_weight):
    x, n, c, s, batched = _class_input(input)
    dtype = x.dtype
    t = ck.array(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"target: expected integer class indices, got dtype {t.dtype}")
    t64 = _class_targets(t, x, n, c, s, ignore_index, batched)
    w = _class_weight(weight, c, dtype)
    sw = ck.sample_weight(sample_weight, n, dtype, batched)
    x2, sk, swk = _kernel_view(x, n, c, s, sw)
    K = ck.ops(x2)

    def cpu(red, loss_out, grad, nt):
        return K.cross_entropy(x2, t64, None, w, swk, ignore_index, 0.0, red,
                                      loss_out, grad, nt, sk, 0.0, True)

    def ref():
        return dict(input=x, target=t64.reshape(t.shape), weight=w, ignore_index=ignore_index,
                    sample_weight=_reference_sample_weight(sw, batched))

    value_shape = ((n,) + x.shape[2:]) if batched else ()
    return Call(x2, x.shape, value_shape, cpu, ref, (t64, w, sw))


# -------------------------------------------------------- element-wise losses ----

def _rows(shape):
    """The (n, m) view of an element-wise input: n samples along the first axis."""
    if len(shape) == 2:
        return shape
    n = shape[0] if len(shape) else 1
    m = math.prod(shape[1:]) if len(shape) > 1 else 1
    return n, m


def _aux_weight(a, name, shape, n, m, dtype):
    """A weight broadcastable to the input, checked and cast once; returns it (for the
    reference) with its kernel form in the cheapest layout the kernel takes: the full (n, m)
    array, one value per column of the (n, m) view, or one per row.  Other broadcasts are
    materialized (a copy of the input's size)."""
    arr = ck.nonnegative_weights(a, name, dtype)
    return (arr,) + _aux_layout(arr, shape, n, m, dtype, name)


def check_broadcasts(arr, shape, name):
    """Raise naming `name` unless arr broadcasts to `shape` without changing it."""
    try:
        if np.broadcast_shapes(arr.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{name}: shape {ck.shape_str(arr.shape)} does not broadcast to the "
                         f"input's shape {ck.shape_str(shape)}") from None


def _aux_layout(arr, shape, n, m, dtype, name):
    check_broadcasts(arr, shape, name)
    nd = len(shape)
    wp = arr.reshape((1,) * (nd - arr.ndim) + arr.shape)
    if nd == 0:
        return wp.reshape(1), FL_AUX_ROW
    if wp.shape == shape:
        return wp.reshape(n, m), FL_AUX_FULL
    if wp.shape[0] == 1 and wp.shape[1:] == shape[1:]:
        return wp.reshape(m), FL_AUX_COL
    if all(d == 1 for d in wp.shape[1:]):
        if wp.shape[0] == shape[0]:
            return wp.reshape(n), FL_AUX_ROW
        return ck.ops(wp).broadcast_copy(wp.reshape(1), (n,)), FL_AUX_ROW
    return ck.ops(wp).broadcast_copy(wp, shape).reshape(n, m), FL_AUX_FULL


def _elementwise(input, target, sample_weight):
    x = ck.float_input(input, "input")
    dtype = x.dtype
    t = ck.real_array(target, "target", dtype, x.shape)
    n, m = _rows(x.shape)
    sw = None if sample_weight is None else ck.sample_weight(sample_weight, n, dtype,
                                                             batched=x.ndim >= 1)
    return x, t, n, m, sw


def prepare_binary_cross_entropy_with_logits(input, target, weight, pos_weight, sample_weight):
    x, t, n, m, sw = _elementwise(input, target, sample_weight)
    shape, dtype = x.shape, x.dtype
    t2 = t.reshape(n, m)
    K = ck.ops(t2)
    bad = K.find_outside(t2, 0.0, 1.0)
    if bad >= 0:
        raise ValueError(f"target: values must lie in [0, 1]; found {K.item(t2, bad)!r} at "
                         f"flat position {bad}")
    w_ref = w = wl = pw_ref = pw = pwl = None
    if weight is not None:
        w_ref, w, wl = _aux_weight(weight, "weight", shape, n, m, dtype)
    if pos_weight is not None:
        pw_ref, pw, pwl = _aux_weight(pos_weight, "pos_weight", shape, n, m, dtype)
    x2 = kernel_form(x, (n, m))

    def cpu(red, loss_out, grad, nt):
        return K.binary_cross_entropy_with_logits(x2, t2, w, wl or 0, pw, pwl or 0, sw, red,
                                                  loss_out, grad, nt)

    return Call(x2, shape, shape, cpu, lambda: dict(input=x, target=t, sample_weight=sw,
                                                    weight=w_ref, pos_weight=pw_ref),
                (t2, w, pw, sw))


def same_shape_weight(weight, shape, dtype):
    """PyTorch's `weight` of mse_loss / l1_loss / huber_loss: an element weight of exactly
    the input's shape, which also divides the mean.  Returns (array or None, layout)."""
    if weight is None:
        return None, 0
    w = ck.nonnegative_weights(weight, "weight", dtype)
    if w.shape != shape:
        raise ValueError(f"weight: must have the input's shape {ck.shape_str(shape)} (as "
                         f"PyTorch), got {ck.shape_str(w.shape)}")
    return w, FL_AUX_FULL


def prepare_mse_loss(input, target, weight, sample_weight):
    x, t, n, m, sw = _elementwise(input, target, sample_weight)
    w, wl = same_shape_weight(weight, x.shape, x.dtype)
    return ew_call("mse_loss", x, t, sw, (),
                   lambda: dict(input=x, target=t, weight=w, sample_weight=sw),
                   w=None if w is None else w.reshape(n, m), w_layout=wl, w_denom=True)


# ------------------------------------------------------------ generic kernels ----

def ew_call(op, x, t, sw, params, ref, y=None, w=None, w_layout=0, w_denom=False,
            t_grad=False):
    """A Call of the generic element-wise op `op` (its name in csrc/ops.def).

    x: the checked input; t: the target of x's shape (or None when the op reads none);
    y: a second differentiable input of x's shape (its gradient is the second of a tuple);
    t_grad: the op is differentiable in t too (its gradient comes before y's);
    w: an element weight in a kernel layout (see _aux_weight), in the mean's divisor when
    w_denom (PyTorch's rule for mse_loss' weight; not for BCE's); params: a tuple of up
    to 4 numbers (the binding converts them to double)."""
    code = _kernels.EW_OPS[op]
    K = ck.ops(x)
    nm = _rows(x.shape)
    x2 = kernel_form(x, nm)
    t2 = None if t is None else kernel_form(t, nm)
    y2 = None if y is None else kernel_form(y, nm)

    if t_grad:
        def cpu(red, loss_out, grad, nt):
            # grad: (x's, t's[, y's]) in the order of `more`
            g, g3, g2 = (None, None, None) if grad is None else (tuple(grad) + (None,))[:3]
            return K.elementwise(code, x2, t2, y2, w, w_layout, sw, params, red,
                                 loss_out, g, g2, nt, w_denom, g3)
    elif y2 is None:
        def cpu(red, loss_out, grad, nt):
            return K.elementwise(code, x2, t2, None, w, w_layout, sw, params, red,
                                 loss_out, grad, None, nt, w_denom)
    else:
        def cpu(red, loss_out, grad, nt):
            g, g2 = (None, None) if grad is None else grad
            return K.elementwise(code, x2, t2, y2, w, w_layout, sw, params, red,
                                 loss_out, g, g2, nt, w_denom)

    more = (((t2, x.shape),) if t_grad else ()) + (() if y2 is None else ((y2, x.shape),))
    return Call(x2, x.shape, x.shape, cpu, ref, (None if t_grad else t2, w, sw), more)


DEN_ROWS, DEN_VALID, DEN_CLASS_W = 0, 1, 2
_NO_GRADS = (None, None, None)


def row_call(op, x, n, c, sw, params, ref, *, s=1, x2=None, x3=None, target=None, t=None,
             rt=None, class_w=None, ignore_index=-100, denom=DEN_ROWS, value_shape=None):
    """A Call of the generic row-wise op `op` (its name in csrc/ops.def).

    x: the checked input, n samples of c * s values each (c classes or features, s
    positions); x2, x3: further differentiable
    inputs of x's shape (gradients returned in a tuple, in order); target: int64 class
    indices (n * s,) already range-checked; t: real targets of x's size; rt: one real
    target per sample (n,); class_w: (c,); denom: what "mean" divides by (DEN_*);
    params: a tuple of up to 4 numbers."""
    code = _kernels.ROW_OPS[op]
    K = ck.ops(x)
    shape = (n, c * s)
    xk = kernel_form(x, shape)
    xk2 = None if x2 is None else kernel_form(x2, shape)
    xk3 = None if x3 is None else kernel_form(x3, shape)
    tk = None if t is None else kernel_form(t, shape)

    def cpu(red, loss_out, grad, nt):
        # grad: None, x's gradient, or (with x2) a tuple of one gradient per input
        g1, g2, g3 = _NO_GRADS if grad is None else \
            (grad, None, None) if xk2 is None else (*grad, None)[:3]
        return K.rowwise(code, xk, s, xk2, xk3, target, tk, rt, class_w, sw, params,
                         ignore_index, denom, red, loss_out, g1, g2, g3, nt)

    more = () if xk2 is None else ((xk2, x2.shape),) if xk3 is None else \
        ((xk2, x2.shape), (xk3, x3.shape))
    reads = (target, tk, rt, class_w, sw)
    return Call(xk, x.shape, (n,) if value_shape is None else value_shape, cpu, ref, reads, more)
