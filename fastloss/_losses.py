"""Per-loss preparation: from validated public arguments to kernel-ready arrays.

Each ``prepare_*`` function checks what is specific to its loss (shapes, target domain,
weights), then returns a :class:`Call`: the kernel's input array, the shapes of the
gradient and of the per-sample values, a closure that runs the CPU kernel, and the
keyword arguments of the reference implementation.  Scalar options have already been
checked against the loss table by the API layer.
"""
import numpy as np

from . import _checks as ck
from ._cpu import _kernels

FL_AUX_FULL, FL_AUX_COL, FL_AUX_ROW = 1, 2, 3


class Call:
    """A validated call: what the backends need, and nothing else."""

    __slots__ = ("x", "shape", "dtype", "value_shape", "cpu", "ref", "reads")

    def __init__(self, x, shape, value_shape, cpu, ref, reads):
        self.x = x                      # the kernel's input (C-contiguous, 2-D)
        self.shape = shape              # the input's shape: the gradient's shape
        self.dtype = x.dtype
        self.value_shape = value_shape  # shape of the values for reduction="none"
        self.cpu = cpu                  # cpu(reduction, loss_out, grad2d, n_threads) -> float
        self.ref = ref                  # keyword arguments of the reference function
        self.reads = reads              # the other arrays the kernel reads (overlap check)


# --------------------------------------------------------------- cross-entropy ----

def prepare_cross_entropy(input, target, weight, ignore_index, label_smoothing, sample_weight):
    x = ck.float_input(input, "input")
    if x.ndim not in (1, 2):
        raise ValueError(f"input: expected shape (N, C) or (C,), got {ck.shape_str(x.shape)}")
    dtype = x.dtype
    batched = x.ndim == 2
    n, c = x.shape if batched else (1, x.shape[0])
    if c == 0:
        raise ValueError("input: needs at least one class (C >= 1), got C = 0")
    t = target if type(target) is np.ndarray else np.asarray(target)
    if t.dtype.kind in "iu":
        want = (n,) if batched else ()
        if t.shape != want:
            raise ValueError(f"target: class indices for input {ck.shape_str(x.shape)} must have "
                             f"shape {ck.shape_str(want)}, got {ck.shape_str(t.shape)}")
        if t.dtype == np.uint64 and t.size and t.max() > np.iinfo(np.int64).max:
            raise ValueError(f"target: class index {t.max()} is out of range for {c} classes")
        t64 = np.ascontiguousarray(t, dtype=np.int64).reshape(n)
        bad = _kernels.find_bad_class_index(t64, c, ignore_index)
        if bad >= 0:
            raise ValueError(f"target: class index {t64[bad]} at position {bad} is out of range "
                             f"for {c} classes (valid: 0 to {c - 1}, or ignore_index="
                             f"{ignore_index})")
        soft = None
        target_ref = t64 if batched else t64.reshape(())
    elif t.dtype.kind == "f":
        if t.shape != x.shape:
            raise ValueError(f"target: class probabilities must have the input's shape "
                             f"{ck.shape_str(x.shape)}, got {ck.shape_str(t.shape)}")
        if ignore_index != -100:
            raise ValueError("ignore_index: is not supported with class-probability targets "
                             "(floating-point target); leave it at -100")
        soft = np.asarray(t, dtype=dtype, order="C").reshape(n, c)
        t64 = None
        target_ref = soft if batched else soft.reshape(c)
    else:
        raise TypeError(f"target: expected integer class indices or floating-point class "
                        f"probabilities, got dtype {t.dtype}")
    w = None
    if weight is not None:
        w = ck.nonnegative_weights(weight, "weight", dtype)
        if w.shape != (c,):
            raise ValueError(f"weight: class weights must have shape ({c},), one per class, "
                             f"got {ck.shape_str(w.shape)}")
    sw = ck.sample_weight(sample_weight, n, dtype, batched)
    x2 = np.asarray(x, order="C").reshape(n, c)

    def cpu(red, loss_out, grad, nt):
        return _kernels.cross_entropy(x2, t64, soft, w, sw, ignore_index, label_smoothing, red,
                                      loss_out, grad, nt)

    ref = dict(input=x, target=target_ref, weight=w, ignore_index=ignore_index,
               label_smoothing=label_smoothing,
               sample_weight=None if sw is None else (sw if batched else sw.reshape(())))
    return Call(x2, x.shape, (n,) if batched else (), cpu, ref, (t64, soft, w, sw))


# -------------------------------------------------------- element-wise losses ----

def _rows(shape):
    """The (n, m) view of an element-wise input: n samples along the first axis."""
    n = shape[0] if len(shape) else 1
    m = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    return n, m


def _aux_weight(a, name, shape, n, m, dtype):
    """A weight broadcastable to the input, checked and cast once; returns it (for the
    reference) with its kernel form in the cheapest layout the kernel takes: the full (n, m)
    array, one value per column of the (n, m) view, or one per row.  Other broadcasts are
    materialized (a copy of the input's size)."""
    arr = ck.nonnegative_weights(a, name, dtype)
    return (arr,) + _aux_layout(arr, shape, n, m, dtype, name)


def _aux_layout(arr, shape, n, m, dtype, name):
    try:
        if np.broadcast_shapes(arr.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{name}: shape {ck.shape_str(arr.shape)} does not broadcast to the "
                         f"input's shape {ck.shape_str(shape)}") from None
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
        return np.full(n, wp.reshape(()), dtype=dtype), FL_AUX_ROW
    return np.ascontiguousarray(np.broadcast_to(wp, shape)).reshape(n, m), FL_AUX_FULL


def _elementwise(input, target, sample_weight):
    x = ck.float_input(input, "input")
    dtype = x.dtype
    t = ck.real_array(target, "target", dtype, x.shape)
    n, m = _rows(x.shape)
    sw = ck.sample_weight(sample_weight, n, dtype, batched=x.ndim >= 1)
    return x, t, n, m, sw


def prepare_binary_cross_entropy_with_logits(input, target, weight, pos_weight, sample_weight):
    x, t, n, m, sw = _elementwise(input, target, sample_weight)
    shape, dtype = x.shape, x.dtype
    t2 = t.reshape(n, m)
    bad = _kernels.find_outside(t2, 0.0, 1.0)
    if bad >= 0:
        raise ValueError(f"target: values must lie in [0, 1]; found {t2.flat[bad]!r} at flat "
                         f"position {bad}")
    w_ref = w = wl = pw_ref = pw = pwl = None
    if weight is not None:
        w_ref, w, wl = _aux_weight(weight, "weight", shape, n, m, dtype)
    if pos_weight is not None:
        pw_ref, pw, pwl = _aux_weight(pos_weight, "pos_weight", shape, n, m, dtype)
    x2 = np.asarray(x, order="C").reshape(n, m)

    def cpu(red, loss_out, grad, nt):
        return _kernels.binary_cross_entropy_with_logits(x2, t2, w, wl or 0, pw, pwl or 0, sw, red,
                                                         loss_out, grad, nt)

    ref = dict(input=x, target=t, sample_weight=sw, weight=w_ref, pos_weight=pw_ref)
    return Call(x2, shape, shape, cpu, ref, (t2, w, pw, sw))


def prepare_mse_loss(input, target, sample_weight):
    x, t, n, m, sw = _elementwise(input, target, sample_weight)
    x2 = np.asarray(x, order="C").reshape(n, m)
    t2 = t.reshape(n, m)

    def cpu(red, loss_out, grad, nt):
        return _kernels.mse_loss(x2, t2, sw, red, loss_out, grad, nt)

    return Call(x2, x.shape, x.shape, cpu, dict(input=x, target=t, sample_weight=sw), (t2, sw))
