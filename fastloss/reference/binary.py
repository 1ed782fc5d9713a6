"""NumPy references of the binary losses (float64, written for clarity)."""
import numpy as np

from .losses import _reduce, _sample_weight_nd, _elements_per_sample


def _elementwise_reduce(x, loss, dloss, weight, sample_weight, reduction, batchmean=False):
    """Per-element values and derivatives, times the element weight (broadcast; not in the
    divisor) and the sample weight; "mean" over the weighted element count, "batchmean"
    over the weighted sample count."""
    w = 1.0 if weight is None else np.asarray(weight, dtype=np.float64)
    sw, sw_total = _sample_weight_nd(sample_weight, x.shape)
    with np.errstate(invalid="ignore"):
        per = np.broadcast_to(w * sw * loss, x.shape)
        grad = np.broadcast_to(w * sw * dloss, x.shape).copy()
    den = sw_total if batchmean else sw_total * _elements_per_sample(x.shape)
    return _reduce(np.array(per), grad, "mean" if batchmean else reduction, den)


def binary_cross_entropy(input, target, weight=None, reduction="mean", sample_weight=None):
    x = np.asarray(input, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    # -[t log x + (1 - t) log(1 - x)], each log clamped at -100 (PyTorch); the gradient
    # (x - t) / (x (1 - x)) with its denominator clamped at 1e-12 (PyTorch's backward, whose
    # constant is the float 1e-12f = 9.99999996e-13 also in double precision)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_x = np.maximum(np.log(x), -100.0)
        log_1mx = np.maximum(np.log1p(-x), -100.0)
        loss = -(t * log_x + (1.0 - t) * log_1mx)
        dloss = (x - t) / np.maximum(x * (1.0 - x), float(np.float32(1e-12)))
    return _elementwise_reduce(x, loss, dloss, weight, sample_weight, reduction)


def kl_div(input, target, reduction="mean", log_target=False, sample_weight=None):
    x = np.asarray(input, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if log_target:
            # exp(t) (t - x): the divergence with the target given as log-probabilities
            loss = np.exp(t) * (t - x)
            dloss = -np.exp(t)
        else:
            # t log t - t x, with 0 log 0 = 0 (scipy's xlogy)
            tlogt = np.where(t == 0, 0.0, t * np.log(np.where(t == 0, 1.0, t)))
            loss = tlogt - t * x
            dloss = -t
    dloss = np.broadcast_to(dloss, x.shape)
    return _elementwise_reduce(x, loss, dloss, None, sample_weight, reduction,
                               batchmean=reduction == "batchmean")


def _sigmoid(x):
    """sigmoid(x) without overflow, accurate in both tails."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none",
                       sample_weight=None):
    x = np.asarray(inputs, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        p, p_neg = _sigmoid(x), _sigmoid(-x)          # p and 1 - p, both accurate
        ce = t * np.logaddexp(0.0, -x) + (1.0 - t) * np.logaddexp(0.0, x)
        q = t * p_neg + (1.0 - t) * p                 # 1 - p_t
        mod = np.where(q == 0, 0.0 if gamma > 0 else 1.0, q ** gamma)
        a_t = alpha * t + (1.0 - alpha) * (1.0 - t) if alpha >= 0 else 1.0
        loss = a_t * ce * mod
        # d/dx: (p - t) q^g + ce g q^(g-1) (1 - 2t) p (1 - p); the last factor written as
        # q^g * p (1 - p) / q, which is bounded by 1 (q is between p and 1 - p)
        ratio = np.where(q == 0, 0.0, p * p_neg / np.where(q == 0, 1.0, q))
        dloss = a_t * mod * ((1.0 - t) * p - t * p_neg + gamma * (1.0 - 2.0 * t) * ce * ratio)
    return _elementwise_reduce(x, loss, dloss, None, sample_weight, reduction)


def dice_loss(input, target, smooth=1.0, from_logits=True, weight=None, ignore_index=-100,
              reduction="mean", sample_weight=None):
    x = np.asarray(input, dtype=np.float64)
    n, c = x.shape[:2]
    s = int(np.prod(x.shape[2:]))
    xs = x.reshape(n, c, s)
    target = np.asarray(target)
    with np.errstate(invalid="ignore", over="ignore"):
        # p and 1 - p, the latter without cancellation where p is near 1
        if not from_logits:
            p, omp = xs, 1.0 - xs
        elif c == 1:
            p, omp = _sigmoid(xs), _sigmoid(-xs)
        else:
            z = xs - np.max(xs, axis=1, keepdims=True)
            e = np.exp(z)
            p = e / np.sum(e, axis=1, keepdims=True)
            others = 1.0 - np.eye(c)                  # 1 - p_k = sum_{j != k} p_j
            omp = np.einsum("kj,njs->nks", others, e) / np.sum(e, axis=1, keepdims=True)
    if target.dtype.kind in "iu":
        # class indices (n, d...): one-hot, positions with ignore_index in no sum
        y = target.reshape(n, 1, s)
        valid = np.broadcast_to(y != ignore_index, (n, c, s))
        t = (y == np.arange(c).reshape(1, c, 1)).astype(np.float64)
    else:
        t = np.asarray(target, dtype=np.float64).reshape(n, c, s)
        valid = np.ones((n, c, s), dtype=bool)
    pm = np.where(valid, p, 0.0)
    tm = np.where(valid, t, 0.0)
    inter = np.sum(pm * tm, axis=2)
    d = np.sum(pm, axis=2) + np.sum(tm, axis=2) + smooth
    empty = d == 0                       # smooth = 0 and nothing predicted or present
    dd = np.where(empty, 1.0, d)
    # 1 - dice = (P + T - 2 I) / D = sum (p (1 - t) + t (1 - p)) / D: no difference of
    # nearly equal sums when the prediction is nearly right
    u = np.sum(np.where(valid, pm * (1.0 - tm) + tm * omp, 0.0), axis=2)
    one_minus = np.where(empty, 0.0, u / dd)
    w = np.ones(c) if weight is None else np.asarray(weight, dtype=np.float64)
    wn = w / np.sum(w)
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64).reshape(n)
    per = np.sum(wn * one_minus, axis=1) * sw
    # d loss_i / d p_ks = -w_k / W (2 t D - (2 I + smooth)) / D^2
    gp = -wn[None, :, None] * (2.0 * tm * dd[..., None] - (2.0 * inter + smooth)[..., None]) \
        / dd[..., None] ** 2
    gp = np.where(valid & ~empty[..., None], gp, 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        if not from_logits:
            gx = gp
        elif c == 1:
            gx = gp * _sigmoid(xs) * _sigmoid(-xs)
        else:
            # p_k (g_k - sum_j g_j p_j) = p_k sum_j (g_k - g_j) p_j: no cancellation when
            # p_k is near 1
            gx = p * np.einsum("nkjs,njs->nks", gp[:, :, None, :] - gp[:, None, :, :], p)
    gx = np.where(valid, gx, 0.0) * sw[:, None, None]
    return _reduce(per, gx.reshape(x.shape), reduction, float(np.sum(sw)))
