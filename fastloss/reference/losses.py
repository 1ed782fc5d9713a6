"""NumPy reference implementations: the oracle every kernel is tested against.

Written for clarity, not speed, in float64 throughout.  Each function takes the
arguments of the public loss (already validated by the API layer) and returns
``(value, grad)``: the value for the requested reduction and the analytic gradient of
that value with respect to the input (for ``reduction="none"``, of the sum of the
per-sample values).  The analytic gradients are themselves checked against finite
differences of the values in the tests.
"""
import numpy as np

__all__ = ["cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "mse_loss"]


def _reduce(per_sample, grad, reduction, denominator):
    """Apply a reduction to per-sample values and to the gradient of their sum."""
    if reduction == "none":
        return per_sample, grad
    total = float(np.sum(per_sample))
    if reduction == "sum":
        return total, grad
    if denominator == 0:
        # a mean over nothing is 0 with a zero gradient, but NaN or inf in the data
        # (weighted by 0) propagates: 0 * NaN and 0 * inf are NaN
        with np.errstate(invalid="ignore"):
            return (total if np.isnan(total) else 0.0), grad * 0.0
    return total / denominator, grad / denominator


def _log_softmax(x):
    m = np.max(x, axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    z = x - m
    return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))


def _positions_as_rows(x, target, sample_weight):
    """(N, C, d1..dk) -> (N*S, C) rows, targets and sample weights to match."""
    n, c = x.shape[:2]
    s = int(np.prod(x.shape[2:]))
    xr = np.moveaxis(x.reshape(n, c, s), 1, 2).reshape(n * s, c)
    tr = target.reshape(n * s) if target.ndim == x.ndim - 1 else \
        np.moveaxis(target.reshape(n, c, s), 1, 2).reshape(n * s, c)
    swr = None if sample_weight is None else \
        np.repeat(np.asarray(sample_weight, np.float64).reshape(n), s)
    return xr, tr, swr


def _rows_as_positions(per, grad, shape):
    n, c = shape[:2]
    s = int(np.prod(shape[2:]))
    grad = np.moveaxis(grad.reshape(n, s, c), 2, 1).reshape(shape)
    return (None if per is None else per.reshape((n,) + shape[2:])), grad


def cross_entropy_accuracy(input, target, ignore_index=-100, sample_weight=None, **_):
    """The accuracy cross_entropy(..., return_accuracy=True) reports: the fraction of the
    positions not ignored (weighted by their sample's weight) whose argmax over the class
    axis (ties to the lowest class, as np.argmax) is the target; a position with a NaN
    logit counts as wrong; 0.0 when no weight counts."""
    x = np.asarray(input, dtype=np.float64)
    target = np.asarray(target)
    axis = 0 if x.ndim == 1 else 1
    pred = np.argmax(x, axis=axis)
    hit = (pred == target) & ~np.isnan(x).any(axis=axis) & (target != ignore_index)
    valid = np.broadcast_to(target != ignore_index, hit.shape)
    w = np.ones(hit.shape)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, np.float64)
        w = w * sw.reshape(sw.shape + (1,) * (hit.ndim - sw.ndim))
    den = float(np.sum(w * valid))
    return float(np.sum(w * hit)) / den if den > 0 else 0.0


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, z_loss=0.0, sample_weight=None):
    x = np.asarray(input, dtype=np.float64)
    target = np.asarray(target)
    if x.ndim > 2:
        # K-dimensional: every position is a row of C class scores
        xr, tr, swr = _positions_as_rows(x, target, sample_weight)
        per, grad = cross_entropy(xr, tr, weight, ignore_index, "none", label_smoothing,
                                  z_loss, swr)
        _, den = cross_entropy(xr, tr, weight, ignore_index, "_denominator", label_smoothing,
                               z_loss, swr)
        per, grad = _rows_as_positions(per, grad, x.shape)
        return _reduce(per, grad, reduction, den)
    unbatched = x.ndim == 1
    if unbatched:
        x = x[None, :]
        target = target[None] if target.ndim == 0 else target[None, :]
    n, c = x.shape
    w = np.ones(c) if weight is None else np.asarray(weight, dtype=np.float64)
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64).reshape(n)
    ls = float(label_smoothing)
    logp = _log_softmax(x)
    p = np.exp(logp)

    if np.issubdtype(target.dtype, np.integer):
        # loss_i = (1 - ls) w_y (-log p_y) + ls / C * sum_c w_c (-log p_c), times sw_i
        valid = target != ignore_index
        y = np.where(valid, target, 0).astype(np.int64)
        onehot = np.zeros((n, c))
        onehot[np.arange(n), y] = 1.0
        wy = np.where(valid, w[y], 0.0)
        nll = np.where(valid, -logp[np.arange(n), y], 0.0)
        per = (1.0 - ls) * wy * nll
        grad = (1.0 - ls) * wy[:, None] * (p - onehot)
        if ls > 0:
            smooth = np.where(valid, -np.sum(logp * w, axis=1), 0.0)
            per = per + ls / c * smooth
            grad = grad + valid[:, None] * (ls / c) * (np.sum(w) * p - w)
        if z_loss > 0:
            # z_loss * lse^2, weighted as the cross-entropy term (w_y)
            lse = (np.log(np.sum(np.exp(x - np.max(x, 1, keepdims=True)), 1))
                   + np.max(x, 1))
            per = per + np.where(valid, z_loss * wy * lse ** 2, 0.0)
            grad = grad + (2.0 * z_loss * wy * np.where(valid, lse, 0.0))[:, None] * p
        per = per * sw
        grad = np.where(valid[:, None], grad * sw[:, None], 0.0)   # ignored rows: exactly 0
        denominator = float(np.sum(wy * sw))
    else:
        # probabilities: smoothed t' = (1 - ls) t + ls / C, loss_i = -sum_c w_c t'_c log p_c
        t = np.asarray(target, dtype=np.float64).reshape(n, c)
        ts = (1.0 - ls) * t + ls / c
        per = -np.sum(w * ts * logp, axis=1)
        grad = p * np.sum(w * ts, axis=1, keepdims=True) - w * ts
        if z_loss > 0:
            lse = (np.log(np.sum(np.exp(x - np.max(x, 1, keepdims=True)), 1))
                   + np.max(x, 1))
            per = per + z_loss * lse ** 2
            grad = grad + (2.0 * z_loss * lse)[:, None] * p
        per = per * sw
        grad = grad * sw[:, None]
        denominator = float(np.sum(sw))

    if reduction == "_denominator":
        return None, denominator
    if unbatched:
        per, grad = per[0], grad[0]
    return _reduce(per, grad, reduction, denominator)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean",
             sample_weight=None):
    x = np.asarray(input, dtype=np.float64)
    target = np.asarray(target)
    if x.ndim > 2:
        xr, tr, swr = _positions_as_rows(x, target, sample_weight)
        per, grad = nll_loss(xr, tr, weight, ignore_index, "none", swr)
        _, den = nll_loss(xr, tr, weight, ignore_index, "_denominator", swr)
        per, grad = _rows_as_positions(per, grad, x.shape)
        return _reduce(per, grad, reduction, den)
    unbatched = x.ndim == 1
    if unbatched:
        x, target = x[None, :], target.reshape(1)
    n, c = x.shape
    w = np.ones(c) if weight is None else np.asarray(weight, dtype=np.float64)
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64).reshape(n)
    valid = target != ignore_index
    y = np.where(valid, target, 0).astype(np.int64)
    wy = np.where(valid, w[y], 0.0) * sw
    # -w_y x_y; an ignored row contributes nothing (not even NaN from its input)
    per = np.where(valid, -wy * x[np.arange(n), y], 0.0)
    grad = np.zeros((n, c))
    grad[np.arange(n), y] = np.where(valid, -wy, 0.0)
    if reduction == "_denominator":
        return None, float(np.sum(wy))
    if unbatched:
        per, grad = per[0], grad[0]
    return _reduce(per, grad, reduction, float(np.sum(wy)))


def _sample_weight_nd(sample_weight, shape):
    """One weight per sample (first axis), broadcast over the other axes."""
    if sample_weight is None:
        return np.ones(shape[:1] + (1,) * max(len(shape) - 1, 0)), (shape[0] if shape else 1)
    sw = np.asarray(sample_weight, dtype=np.float64)
    return sw.reshape(shape[:1] + (1,) * max(len(shape) - 1, 0)), float(np.sum(sw))


def _elements_per_sample(shape):
    return int(np.prod(shape[1:])) if len(shape) > 1 else 1


def _sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None, sample_weight=None):
    x = np.asarray(input, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    w = 1.0 if weight is None else np.asarray(weight, dtype=np.float64)
    pw = 1.0 if pos_weight is None else np.asarray(pos_weight, dtype=np.float64)
    sw, sw_total = _sample_weight_nd(sample_weight, x.shape)
    # -[pw t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]; NaN in x propagates (no warning)
    with np.errstate(invalid="ignore"):
        loss = pw * t * np.logaddexp(0.0, -x) + (1.0 - t) * np.logaddexp(0.0, x)
        dloss = (1.0 - t) * _sigmoid(x) - pw * t * _sigmoid(-x)
    per = np.broadcast_to(w * sw * loss, x.shape)
    grad = np.broadcast_to(w * sw * dloss, x.shape).copy()
    return _reduce(np.array(per), grad, reduction, sw_total * _elements_per_sample(x.shape))


def weighted_elementwise(x, loss, dloss, weight, sample_weight, reduction):
    """Reduce per-element values with PyTorch's `weight` of mse/l1/huber (same shape as
    the input, in the mean's divisor) and fastloss' per-sample weights."""
    sw, sw_total = _sample_weight_nd(sample_weight, x.shape)
    w = 1.0 if weight is None else np.asarray(weight, dtype=np.float64)
    per = np.broadcast_to(w * sw * loss, x.shape)
    grad = np.broadcast_to(w * sw * dloss, x.shape).copy()
    if weight is None:
        den = sw_total * _elements_per_sample(x.shape)
    else:
        den = float(np.sum(np.broadcast_to(w * sw, x.shape)))
    return _reduce(np.array(per), grad, reduction, den)


def mse_loss(input, target, reduction="mean", weight=None, sample_weight=None):
    x = np.asarray(input, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    return weighted_elementwise(x, (x - t) ** 2, 2.0 * (x - t), weight, sample_weight, reduction)
