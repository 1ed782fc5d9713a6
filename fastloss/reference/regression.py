"""NumPy references of the regression losses (float64, written for clarity)."""
import math

import numpy as np

from .losses import _reduce, _sample_weight_nd, _elements_per_sample, weighted_elementwise

LOG2 = np.log(2.0)


def _f64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def _plain(x, loss, dloss, sample_weight, reduction):
    """Per-element values reduced with per-sample weights only (the mean divides by the
    summed sample weight times the elements per sample)."""
    return weighted_elementwise(x, loss, dloss, None, sample_weight, reduction)


def l1_loss(input, target, reduction="mean", weight=None, sample_weight=None):
    x, t = _f64(input, target)
    return weighted_elementwise(x, np.abs(x - t), np.sign(x - t), weight, sample_weight,
                                reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None, sample_weight=None):
    """0.5 r^2 where |r| < delta, else delta (|r| - delta / 2).  PyTorch's `weight`
    multiplies each element but the mean still divides by the element count."""
    x, t = _f64(input, target)
    r = x - t
    a = np.abs(r)
    with np.errstate(invalid="ignore", over="ignore"):
        loss = np.where(a < delta, 0.5 * r * r, delta * (a - 0.5 * delta))
        dloss = np.clip(r, -delta, delta)
    if weight is not None:
        w = np.asarray(weight, dtype=np.float64)
        loss, dloss = w * loss, w * dloss
    return _plain(x, loss, dloss, sample_weight, reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0, sample_weight=None):
    x, t = _f64(input, target)
    if beta == 0.0:
        return l1_loss(x, t, reduction, sample_weight=sample_weight)
    r = x - t
    a = np.abs(r)
    with np.errstate(invalid="ignore", over="ignore"):
        loss = np.where(a < beta, 0.5 * r * r / beta, a - 0.5 * beta)
        dloss = np.where(a < beta, r / beta, np.sign(r))
    return _plain(x, loss, dloss, sample_weight, reduction)


def log_cosh_loss(input, target, reduction="mean", sample_weight=None):
    """log cosh r = log1p(2 sinh(r/2)^2) (no cancellation near 0) for |r| < 20, and
    |r| - log 2 + log1p(exp(-2|r|)) beyond (no overflow); gradient tanh r."""
    x, t = _f64(input, target)
    r = x - t
    a = np.abs(r)
    with np.errstate(over="ignore", invalid="ignore"):
        near = np.log1p(2.0 * np.sinh(np.minimum(a, 20.0) / 2.0) ** 2)
        far = a - LOG2 + np.log1p(np.exp(-2.0 * a))
    loss = np.where(a < 20.0, near, far)
    return _plain(x, loss, np.tanh(r), sample_weight, reduction)


def pinball_loss(input, target, quantile=0.5, reduction="mean", sample_weight=None):
    """rho_q(u) = u (q - [u < 0]), u = target - input; d/dinput = -q for u >= 0 (a tie
    included, scikit-learn's convention), 1 - q for u < 0."""
    x, t = _f64(input, target)
    u = t - x
    q = quantile
    with np.errstate(invalid="ignore"):
        loss = np.where(u >= 0, q * u, (q - 1.0) * u)
        dloss = np.where(np.isnan(u), u, np.where(u >= 0, -q, 1.0 - q))
    return _plain(x, loss, dloss, sample_weight, reduction)


def _stirling(t):
    """t log t - t + log(2 pi t) / 2 where t > 1, else 0 (PyTorch's `full` term)."""
    tt = np.where(t > 1, t, 2.0)
    return np.where(t > 1, tt * np.log(tt) - tt + 0.5 * np.log(2.0 * np.pi * tt), 0.0)


def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction="mean",
                     sample_weight=None):
    x, t = _f64(input, target)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if log_input:
            loss = np.exp(x) - t * x
            dloss = np.exp(x) - t
        else:
            loss = x - t * np.log(x + eps)
            dloss = 1.0 - t / (x + eps)
    if full:
        loss = loss + _stirling(t)
    return _plain(x, loss, dloss, sample_weight, reduction)


def _var_as_input(var, shape):
    """PyTorch's var broadcasts: a float (or 0-d array), the input's shape, the input's shape without its
    last dimension (unsqueezed), or the input's shape with a dimension of size 1.  Returns
    var in the input's shape and the shape var broadcasts from (None for a float)."""
    if np.ndim(var) == 0:
        return np.full(shape, float(var)), None
    v = np.asarray(var, dtype=np.float64)
    if v.shape != shape and v.shape == shape[:-1]:
        v = v[..., None]
    return np.broadcast_to(v, shape), v.shape


def _sum_to_var(g, var, bshape):
    """The gradient of var: g summed over the dimensions var was broadcast along."""
    if bshape is None:
        return np.asarray(g.sum())
    axes = tuple(k for k, (b, d) in enumerate(zip(bshape, g.shape)) if b != d)
    return g.sum(axis=axes, keepdims=True).reshape(np.shape(var))


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean",
                      sample_weight=None):
    """(log v + r^2 / v) / 2 [+ log(2 pi) / 2], v = max(var, eps).  The clamp is not
    differentiated (PyTorch clamps under no_grad): d/dvar is (1/v - r^2/v^2) / 2 at the
    clamped v, summed over var's broadcast dimensions."""
    x, t = _f64(input, target)
    vfull, bshape = _var_as_input(var, x.shape)
    r = x - t
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        v = np.maximum(vfull, eps)   # NaN propagates
        loss = 0.5 * (np.log(v) + r * r / v)
        if full:
            loss = loss + 0.5 * np.log(2.0 * np.pi)
        d_input = r / v
        d_var = 0.5 * (1.0 / v - r * r / (v * v))
    sw, sw_total = _sample_weight_nd(sample_weight, x.shape)
    per = np.array(np.broadcast_to(sw * loss, x.shape))
    g_in = np.broadcast_to(sw * d_input, x.shape).copy()
    g_var = np.broadcast_to(sw * d_var, x.shape).copy()
    den = sw_total * _elements_per_sample(x.shape)
    value, g_in = _reduce(per, g_in, reduction, den)
    _, g_var = _reduce(per, g_var, reduction, den)
    return value, (g_in, _sum_to_var(g_var, var, bshape))


def _power_difference(a, lt, x):
    """(t^a - mu^a) / a for log t = lt, log mu = x: the larger power times
    expm1(-|a (x - lt)|)."""
    ad = a * (x - lt)
    return np.where(ad <= 0, -np.exp(a * lt) * np.expm1(ad),
                    np.exp(a * x) * np.expm1(-ad)) / a


def _difference(la, sa, lb, sb):
    """sa exp(la) - sb exp(lb), scaled by the larger exponential (0 when both are 0)."""
    m = np.maximum(la, lb)
    ms = np.where(np.isfinite(m), m, 0.0)
    big = np.where(np.isinf(m), np.exp(m), 1.0) * np.exp(ms)
    return big * (sa * np.exp(la - ms) - sb * np.exp(lb - ms))


def tweedie_deviance_loss(input, target, power=1.5, reduction="mean", sample_weight=None):
    """Half the Tweedie deviance of mu = exp(input) from the target, zero at mu = target:
        p = 0: (t - mu)^2 / 2
        p = 1: t log(t / mu) - t + mu                  (t log t = 0 at t = 0)
        p = 2: log(mu / t) + t / mu - 1
        else:  max(t, 0)^(2-p) / ((1-p)(2-p)) - t mu^(1-p) / (1-p) + mu^(2-p) / (2-p)
    d/dinput = mu^(2-p) - t mu^(1-p) for every p."""
    x, t = _f64(input, target)
    p = float(power)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        mu = np.exp(x)
        if p == 0.0:
            loss = 0.5 * (t - mu) ** 2
            dloss = mu * (mu - t)
        elif p == 1.0:
            # t log(t / mu) - t + mu = t (expm1(d) - d), d = x - log t
            d = x - np.log(np.where(t > 0, t, 1.0))
            loss = np.where(t == 0, mu, t * (np.expm1(d) - d))
            dloss = mu - t
        elif p == 2.0:
            # log(mu / t) + t / mu - 1 = d + expm1(-d)
            d = x - np.log(t)
            loss = d + np.expm1(-d)
            dloss = -np.expm1(-d)
        else:
            a1, a2 = 1.0 - p, 2.0 - p
            pos = t > 0
            lt = np.log(np.where(pos, t, 1.0))
            # t > 0: t (t^a1 - mu^a1) / a1 - (t^a2 - mu^a2) / a2, each difference with
            # expm1 of a non-positive argument times the larger power (accurate near
            # p = 1, 2 and near mu = t); inf - inf only where both overflow: +inf
            with_t = t * _power_difference(a1, lt, x) - _power_difference(a2, lt, x)
            with_t = np.where(np.isnan(with_t) & ~np.isnan(x), np.inf, with_t)
            # t <= 0 (t < 0 only for p <= 0): -t mu^a1 / a1 + mu^a2 / a2, both terms >= 0
            no_t = np.where(t == 0, 0.0, -t * np.exp(a1 * x) / a1) + np.exp(a2 * x) / a2
            loss = np.where(pos, with_t, np.where(np.isnan(t), np.nan, no_t))
            dloss = _difference(a2 * x, 1.0, np.log(np.abs(t)) + a1 * x, np.sign(t))
    return _plain(x, loss, dloss, sample_weight, reduction)


def _robust_dalpha_series(w, a, u, terms=60):
    """d rho / d alpha at scale 1 for small u = w / |a - 2| from the Taylor series of rho
    in w: rho = sum_k t_k, t_1 = w / 2, t_(k+1) = t_k (a - 2k) u / (2 (k + 1)) (the
    binomial series of (1 + u)^(a/2)), differentiated term by term: with
    P_k = d t_k / d alpha (u depends on alpha through |a - 2|: d log u / d alpha =
    -1 / (a - 2)),
    P_(k+1) = u / (2 (k + 1)) ((a - 2k) (P_k - t_k / (a - 2)) + t_k).
    Converges for u < 1; used for u < 0.25 and u |a| < 1 (its terms fall by 4 or more at
    each step), where the closed form cancels."""
    # from k = 2: t_2 = (a - 2) w u / 8 and P_2 = 0 exactly (P_2 computed by the recursion
    # would be the rounding error of (a - 2) (t_1 / (a - 2)) - t_1, not small next to the
    # O(w^3) sum)
    with np.errstate(all="ignore"):
        t = (a - 2.0) * w * u / 8.0
    p = np.zeros_like(w)
    total = np.zeros_like(w)
    with np.errstate(all="ignore"):
        for k in range(2, terms):
            f = u / (2.0 * (k + 1))
            p = f * ((a - 2.0 * k) * (p - t / (a - 2.0)) + t)
            t = t * (a - 2.0 * k) * f
            total = total + p
    return total


def robust_loss(input, alpha, scale, reduction="mean", sample_weight=None):
    """Barron's general robust loss of the residual x = input:
    rho = |a - 2| / a * (((x / c)^2 / |a - 2| + 1)^(a / 2) - 1), written as
    |a - 2| (L / 2) expm1(v) / v with L = log1p(w / |a - 2|), v = a L / 2, w = (x / c)^2,
    and its limits a = 2 (w / 2), 0 (log1p(w / 2)), -inf (-expm1(-w / 2)), +inf
    (expm1(w / 2)).  Gradients in x, alpha and scale (alpha's and scale's summed over the
    dimensions they broadcast along, in their own shapes)."""
    x = np.asarray(input, dtype=np.float64)
    a_in = np.asarray(alpha, dtype=np.float64)
    c_in = np.asarray(scale, dtype=np.float64)
    a = np.broadcast_to(a_in, x.shape)
    c = np.broadcast_to(c_in, x.shape)
    with np.errstate(all="ignore"):
        z = x / c
        w = z * z
        b = np.abs(a - 2.0)
        s = np.sign(a - 2.0)
        u = w / b
        L = np.log1p(u)
        v = a * L / 2.0
        exprel = np.where(v == 0, 1.0, np.expm1(v) / np.where(v == 0, 1.0, v))
        exprel = np.where(np.isneginf(v), 0.0, exprel)
        rho = b * (L / 2.0) * exprel
        q = np.exp((a / 2.0 - 1.0) * L)          # (1 + u)^(a/2 - 1)
        # d rho / d alpha = d/da [b/a (P - 1)], P = (1 + u)^(a/2), db/da = s, du/da = -s u/b
        p = np.exp(v)
        # G(v) = (v e^v - expm1(v)) / v^2 = sum_k (k + 1) v^k / (k + 2)!
        g_series = sum((k + 1) / math.factorial(k + 2) * v ** k for k in range(12))
        g_v = np.where(np.abs(v) < 0.1, g_series,
                       (v * p - np.expm1(v)) / np.where(v == 0, 1.0, v * v))
        # s (L/2) exprel(v) - s q u / 2 cancel near a = 2: there (|a| >= 1) they are
        # written as one term, (s / a) (q (1 - s w / 2) - 1)
        # (q m - 1 as expm1(log q + log m) where m = 1 - s w / 2 > 1/2: q m is near 1 there)
        m = 1.0 - s * w / 2.0
        log_m = np.log1p(np.where(m > 0.5, -s * w / 2.0, 0.0))
        qm1 = np.where(m > 0.5, np.expm1((a / 2.0 - 1.0) * L + log_m), q * m - 1.0)
        first = np.where(np.abs(a) < 1, s * (L / 2.0) * exprel - s * q * u / 2.0, s / a * qm1)
        closed = first + b * (L * L / 4.0) * g_v
        series = _robust_dalpha_series(w, a, u)
        d_alpha = np.where((u < 0.25) & (u * np.abs(a) < 1), series, closed)
        # special values
        is2, neg_inf, pos_inf = a == 2.0, np.isneginf(a), np.isposinf(a)
        rho = np.where(is2, w / 2.0, rho)
        rho = np.where(neg_inf, -np.expm1(-w / 2.0), rho)
        rho = np.where(pos_inf, np.expm1(w / 2.0), rho)
        q = np.where(is2, 1.0, q)
        q = np.where(neg_inf, np.exp(-w / 2.0), q)
        q = np.where(pos_inf, np.exp(w / 2.0), q)
        d_alpha = np.where(is2, np.where(w > 0, np.inf, 0.0), d_alpha)
        d_alpha = np.where(neg_inf | pos_inf, 0.0, d_alpha)
        d_x = z * q / c
        d_c = -w * q / c
    sw, sw_total = _sample_weight_nd(sample_weight, x.shape)
    per = np.array(np.broadcast_to(sw * rho, x.shape))
    den = sw_total * _elements_per_sample(x.shape)
    grads = []
    for d in (d_x, d_alpha, d_c):
        value, g = _reduce(per, np.broadcast_to(sw * d, x.shape).copy(), reduction, den)
        grads.append(g)
    return value, (grads[0], _sum_to(grads[1], a_in.shape), _sum_to(grads[2], c_in.shape))


def _sum_to(g, shape):
    """g summed over the dimensions an array of `shape` was broadcast along."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(k for k, n in enumerate(shape) if n == 1 and g.shape[k] != 1)
    return np.asarray(g.sum(axis=axes, keepdims=True).reshape(shape))
