"""NumPy references of the softmax losses (float64, written for clarity).

Each loss is a function of the softmax p of a row of logits x and its target y.  The
probability q = p_y and u = 1 - q are taken from z = logsumexp_{c != y} x_c - x_y, the
log-odds against the target: log q = -softplus(z), log u = -softplus(-z), so that neither
cancels when q is close to 1; log p = (x - m) - log1p(S), S the sum of exp(x_c - m) over
all classes but the first maximum m, is accurate also where p_max is close to 1.  Rows
whose target is ignore_index have value 0 and a zero gradient (whatever their logits hold)
and count in no mean.
"""
import numpy as np

from .losses import _reduce


def _logsumexp(x):
    m = np.max(x, axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return (m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True)))[:, 0]


class _Rows:
    """The rows of a call: n, c, x (n, c), y, valid, sw, p, logp, q, logq, u, and
    dp = p - onehot(y) with its target entry -u (exact where p_y - 1 cancels)."""

    def __init__(self, input, target, ignore_index, sample_weight):
        x = np.asarray(input, dtype=np.float64)
        t = np.asarray(target)
        self.unbatched = x.ndim == 1
        if self.unbatched:
            x, t = x[None, :], t.reshape(1)
        n, c = x.shape
        self.n, self.c, self.x = n, c, x
        self.valid = t != ignore_index
        self.y = np.where(self.valid, t, 0).astype(np.int64)
        self.sw = np.ones(n) if sample_weight is None else \
            np.asarray(sample_weight, np.float64).reshape(n)
        rows = np.arange(n)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            m = np.max(x, axis=1, keepdims=True)
            d = x - np.where(np.isfinite(m), m, 0.0)
            e = np.exp(d)
            e[rows, np.argmax(x, axis=1)] -= 1.0   # the max's exp(0) (NaN stays NaN)
            self.logp = d - np.log1p(np.sum(e, axis=1, keepdims=True))
            self.p = np.exp(self.logp)
            others = x.copy()
            others[rows, self.y] = -np.inf
            z = _logsumexp(others) - x[rows, self.y]
            self.logq = -np.logaddexp(0.0, z)
            self.q = np.exp(self.logq)
            self.u = np.exp(-np.logaddexp(0.0, -z))
        self.onehot = np.zeros((n, c))
        self.onehot[rows, self.y] = 1.0
        self.dp = self.p - self.onehot
        self.dp[rows, self.y] = -self.u

    def finish(self, loss, grad, reduction, class_weighted=None):
        """Weight and reduce per-row losses (n,) and their gradients (n, c); the mean
        divides by the summed sample weight of the valid rows, times class_weighted[y]
        where given (cross_entropy's rule)."""
        w = self.valid * self.sw
        if class_weighted is not None:
            w = w * class_weighted[self.y]
        per = np.where(self.valid, self.sw * loss, 0.0)
        grad = np.where(self.valid[:, None], self.sw[:, None] * grad, 0.0)
        if self.unbatched:
            per, grad = per[0], grad[0]
        return _reduce(per, grad, reduction, float(np.sum(w)))


def softmax_focal_loss(input, target, gamma=2.0, alpha=None, ignore_index=-100,
                       reduction="mean", sample_weight=None):
    """-alpha_y (1 - q)^gamma log q; gradient alpha_y F (p - onehot) with
    F = u^gamma - gamma q u^(gamma - 1) log q, whose second term is 0 at u = 0 (its limit)."""
    r = _Rows(input, target, ignore_index, sample_weight)
    a = np.ones(r.c) if alpha is None else np.asarray(alpha, np.float64)
    ay = a[r.y]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ug = r.u ** gamma
        loss = -ay * ug * r.logq
        term = np.where((r.u > 0) & (r.q > 0), gamma * r.q * r.logq * r.u ** (gamma - 1.0), 0.0)
    F = ug - term
    return r.finish(loss, (ay * F)[:, None] * r.dp, reduction)


def poly1_cross_entropy(input, target, epsilon=1.0, weight=None, ignore_index=-100,
                        reduction="mean", label_smoothing=0.0, sample_weight=None):
    """cross_entropy(weight, label_smoothing) + epsilon w_y (1 - p_t), p_t = sum_c t'_c p_c
    with the smoothed one-hot t' = (1 - ls) onehot(y) + ls / C."""
    r = _Rows(input, target, ignore_index, sample_weight)
    ls, c = float(label_smoothing), r.c
    w = np.ones(c) if weight is None else np.asarray(weight, np.float64)
    wy = w[r.y]
    # -log q + epsilon u = g + (1 + epsilon) u with g = -log(1 - u) - u = sum_k>=2 u^k / k,
    # summed as a series where u is small (it is O(u^2), and epsilon = -1 leaves only g)
    with np.errstate(invalid="ignore", over="ignore"):
        g = np.where(r.u > 0.25, -r.logq - r.u,
                     sum(np.minimum(r.u, 0.25) ** k / k for k in range(2, 60)))
    loss = (1.0 - ls) * wy * (g + (1.0 + epsilon) * r.u)
    if ls > 0:
        with np.errstate(invalid="ignore"):
            loss = loss + ls / c * np.sum(w * -r.logp, axis=1) \
                + epsilon * wy * ls * (c - 1) / c
    # d CE = (1 - ls) w_y (p - onehot) + ls / C (W p - w); d(1 - p_t) = (1 - ls) q (p - onehot)
    # (1 + epsilon q written as 1 + epsilon - epsilon u: it is u at epsilon = -1)
    grad = ((1.0 - ls) * wy * (1.0 + epsilon - epsilon * r.u))[:, None] * r.dp \
        + ls / c * (np.sum(w) * r.p - w)
    return r.finish(loss, grad, reduction, class_weighted=w)


def generalized_cross_entropy(input, target, q=0.7, ignore_index=-100, reduction="mean",
                              sample_weight=None):
    """(1 - p_y^q) / q; gradient p_y^q (p - onehot)."""
    r = _Rows(input, target, ignore_index, sample_weight)
    loss = -np.expm1(q * r.logq) / q
    return r.finish(loss, np.exp(q * r.logq)[:, None] * r.dp, reduction)


def symmetric_cross_entropy(input, target, alpha=0.1, beta=1.0, A=-4.0, ignore_index=-100,
                            reduction="mean", sample_weight=None):
    """alpha CE + beta RCE, RCE = -sum_c p_c log t_c with log 0 = A: -A (1 - p_y)."""
    r = _Rows(input, target, ignore_index, sample_weight)
    loss = alpha * -r.logq + beta * -A * r.u
    # d(1 - p_y) / dx = p_y (p - onehot)
    return r.finish(loss, (alpha - beta * A * r.q)[:, None] * r.dp, reduction)


def bootstrapped_cross_entropy(input, target, beta=0.95, mode="soft", ignore_index=-100,
                               reduction="mean", sample_weight=None):
    """-sum_c t'_c log p_c, t' = beta onehot(y) + (1 - beta) z with z = p ("soft") or
    onehot(argmax p) ("hard", the first maximum).  The gradient is p - t', t' held constant
    (a stop-gradient, as the paper and common practice): in soft mode it is not the
    derivative of the value."""
    r = _Rows(input, target, ignore_index, sample_weight)
    rows = np.arange(r.n)
    if mode == "soft":
        with np.errstate(invalid="ignore"):
            plogp = np.where(r.p > 0, r.p * r.logp, 0.0)   # 0 log 0 = 0
        loss = beta * -r.logq - (1.0 - beta) * np.sum(plogp, axis=1)
        # p - t' = p - beta onehot - (1 - beta) p
        grad = beta * r.dp
    else:
        k = np.argmax(r.x, axis=1)
        loss = beta * -r.logq + (1.0 - beta) * -r.logp[rows, k]
        zk = np.zeros((r.n, r.c))
        zk[rows, k] = 1.0
        grad = r.p - beta * r.onehot - (1.0 - beta) * zk
        same = k == r.y   # then the target's entry is p_y - 1 = -u
        grad[rows[same], r.y[same]] = -r.u[same]
    return r.finish(loss, grad, reduction)
