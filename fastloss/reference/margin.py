"""NumPy references of the margin losses (float64, written for clarity).

Kinks as PyTorch's autograd: the clamps max(v, 0) pass the gradient at v = 0, the
multi-margin hinge does not; NaN propagates to the value and the gradient."""
import numpy as np

from .losses import _reduce, _sigmoid, weighted_elementwise


def _step(v):
    """d max(v, 0) / dv as PyTorch's clamp_min: 1 for v >= 0, 0 for v < 0, NaN for NaN."""
    return np.where(v < 0, 0.0, np.where(v >= 0, 1.0, np.nan))


def _relu(v):
    """max(v, 0) keeping NaN."""
    return np.where(v < 0, 0.0, v)


def _sgn(u):
    """sign(u), 0 at 0, NaN for NaN."""
    return np.where(u > 0, 1.0, np.where(u < 0, -1.0, u * 0.0))


def _rows(per, grads, sample_weight, n, unbatched, reduction):
    """Weight per-row values and their gradients (n, ...) by the sample weights, then
    reduce (the mean over the summed sample weight)."""
    sw = np.ones(n) if sample_weight is None else \
        np.asarray(sample_weight, np.float64).reshape(n)
    per = per * sw
    grads = [g * sw.reshape((n,) + (1,) * (g.ndim - 1)) for g in grads]
    if unbatched:
        per, grads = per[0], [g[0] for g in grads]
    out = [_reduce(per, g, reduction, float(np.sum(sw))) for g in grads]
    return out[0][0], tuple(g for _, g in out)


# ------------------------------------------------------------ element-wise ----

def soft_margin_loss(input, target, reduction="mean", sample_weight=None):
    x = np.asarray(input, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        z = -t * x
        loss = np.logaddexp(0.0, z)            # log(1 + exp(z)), never overflows
        dloss = -t * _sigmoid(z)
    return weighted_elementwise(x, loss, dloss, None, sample_weight, reduction)


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean", sample_weight=None):
    x = np.asarray(input, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    v = margin - x
    loss = np.where(t == 1, x, _relu(v))
    dloss = np.where(t == 1, 1.0, -_step(v))
    return weighted_elementwise(x, loss, dloss, None, sample_weight, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean",
                        sample_weight=None):
    x1 = np.asarray(input1, dtype=np.float64)
    x2 = np.asarray(input2, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    v = -t * (x1 - x2) + margin
    loss, s = _relu(v), _step(v)
    value, g1 = weighted_elementwise(x1, loss, -t * s, None, sample_weight, reduction)
    _, g2 = weighted_elementwise(x1, loss, t * s, None, sample_weight, reduction)
    return value, (g1, g2)


# ---------------------------------------------------------------- row-wise ----

def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean",
                      sample_weight=None):
    x = np.asarray(input, dtype=np.float64)
    tshape = np.shape(target)
    unbatched = x.ndim == 1
    x = x.reshape(-1, x.shape[-1])
    n, c = x.shape
    y = np.asarray(target, dtype=np.int64).reshape(n)
    wy = np.ones(n) if weight is None else np.asarray(weight, np.float64)[y]
    rows = np.arange(n)
    others = np.ones((n, c), bool)
    others[rows, y] = False
    with np.errstate(invalid="ignore"):
        z = margin - x[rows, y][:, None] + x                 # z_j = margin - x_y + x_j
        h = np.where(others, _relu(z) ** p, 0.0)
        # PyTorch's kernel: h'(z) = 1 or 2z for z > 0, 0 for z <= 0 (no gradient at the kink)
        dh = np.where(z > 0, 1.0, np.where(z <= 0, 0.0, np.nan)) if p == 1 else 2.0 * _relu(z)
        dh = np.where(others, dh, 0.0)
    per = wy * h.sum(axis=1) / c
    grad = (wy / c)[:, None] * dh
    grad[rows, y] = -grad.sum(axis=1)
    value, (g,) = _rows(per, [grad], sample_weight, n, False, reduction)
    if reduction == "none":
        value = value.reshape(tshape)
    return value, (g[0] if unbatched else g)


def multilabel_soft_margin_loss(input, target, weight=None, reduction="mean",
                                sample_weight=None):
    x = np.asarray(input, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    w = np.ones(x.shape) if weight is None else \
        np.broadcast_to(np.asarray(weight, np.float64), x.shape)
    unbatched = x.ndim == 1
    x, t, w = (a.reshape(-1, a.shape[-1]) for a in (x, t, w))
    c = x.shape[1]
    with np.errstate(invalid="ignore"):
        terms = t * np.logaddexp(0.0, -x) + (1.0 - t) * np.logaddexp(0.0, x)
        grad = w * ((1.0 - t) * _sigmoid(x) - t * _sigmoid(-x)) / c
    per = np.sum(w * terms, axis=1) / c
    value, (g,) = _rows(per, [grad], sample_weight, x.shape[0], unbatched, reduction)
    return value, g


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean",
                          sample_weight=None):
    x1 = np.asarray(input1, dtype=np.float64)
    x2 = np.asarray(input2, dtype=np.float64)
    unbatched = x1.ndim == 1
    x1, x2 = x1.reshape(-1, x1.shape[-1]), x2.reshape(-1, x2.shape[-1])
    t = np.asarray(target, dtype=np.float64).reshape(x1.shape[0])
    eps = float(np.float32(1e-12))       # PyTorch's EPSILON: a float constant, also in double
    with np.errstate(invalid="ignore"):
        m1 = np.sum(x1 * x1, axis=1) + eps
        m2 = np.sum(x2 * x2, axis=1) + eps
        den = np.sqrt(m1 * m2)
        cos = np.sum(x1 * x2, axis=1) / den
        h = cos - margin
        per = np.where(t == 1, 1.0 - cos, _relu(h))
        dl = np.where(t == 1, -1.0, _step(h))
        g1 = dl[:, None] * (x2 / den[:, None] - (cos / m1)[:, None] * x1)
        g2 = dl[:, None] * (x1 / den[:, None] - (cos / m2)[:, None] * x2)
    value, grads = _rows(per, [g1, g2], sample_weight, x1.shape[0], unbatched, reduction)
    return value, grads


def _pnorm(u, p):
    """||u||_p over the last axis and its gradient (PyTorch's norm_backward: zero where
    the norm is 0; at u = 0 for p < 1; for p = inf, shared by the entries attaining the
    max)."""
    au = np.abs(u)
    if p == np.inf:
        d = np.max(au, axis=1)
        hit = (au == d[:, None]) | np.isnan(u)
        return d, _sgn(u) * hit / np.sum(hit, axis=1, keepdims=True)
    d = np.sum(au ** p, axis=1) ** (1.0 / p)
    dn = d[:, None]
    safe = np.where(dn == 0, 1.0, dn)
    if p == 1:
        g = _sgn(u)
    elif p == 2:
        g = np.where(dn == 0, 0.0, u / safe)
    else:
        g = np.where((u == 0) | (dn == 0), 0.0, _sgn(u) * (au / safe) ** (p - 1))
    return d, g


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6,
                        swap=False, reduction="mean", sample_weight=None):
    a = np.asarray(anchor)
    unbatched = a.ndim == 1
    dt = a.dtype.type if a.dtype.kind == "f" else np.float64
    a, pos, neg = (np.asarray(v, dtype=dt).reshape(-1, a.shape[-1])
                   for v in (anchor, positive, negative))

    def diff(u, v):
        """pairwise_distance's a - b + eps, rounded in the input's precision (PyTorch's)"""
        return (u - v + dt(eps)).astype(np.float64)

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        d_ap, g_ap = _pnorm(diff(a, pos), p)                 # pairwise_distance(a, b)
        d_an, g_an = _pnorm(diff(a, neg), p)
        w_an, w_pn = np.ones_like(d_an), np.zeros_like(d_an)
        d_neg = d_an
        g_pn = np.zeros_like(g_an)
        if swap:
            d_pn, g_pn = _pnorm(diff(pos, neg), p)
            d_neg = np.where(np.isnan(d_pn), d_pn, np.minimum(d_an, d_pn))
            # PyTorch's min(a, b): a tie splits the gradient in halves
            w_an = np.where(d_an > d_pn, 0.0, np.where(d_an == d_pn, 0.5, 1.0))
            w_pn = np.where(d_an < d_pn, 0.0, np.where(d_an == d_pn, 0.5, 1.0))
        v = margin + d_ap - d_neg
        per = _relu(v)
        s = _step(v)[:, None]
        c_an, c_pn = s * w_an[:, None], s * w_pn[:, None]
        ga = s * g_ap - c_an * g_an
        gp = -s * g_ap - c_pn * g_pn
        gn = c_an * g_an + c_pn * g_pn
    return _rows(per, [ga, gp, gn], sample_weight, a.shape[0], unbatched, reduction)
