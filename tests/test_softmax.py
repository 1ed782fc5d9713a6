"""The softmax losses against second, independent references: PyTorch autograd on the
papers' formulas (values and gradients, every option, float32 and float64, every
reduction, both backends), their special cases (cross_entropy), high-precision values
where p_y is within rounding of 1, and finite gradients at the edges."""
import itertools
import math

import numpy as np
import pytest

import fastloss as fl

from cases_softmax import STOP_GRADIENT
from test_losses import _fd_grad, assert_close

torch = pytest.importorskip("torch")
F = torch.nn.functional

DTYPES = (np.float32, np.float64)
BACKENDS = ("cpu", "numpy")
NAMES = ("softmax_focal_loss", "poly1_cross_entropy", "generalized_cross_entropy",
         "symmetric_cross_entropy", "bootstrapped_cross_entropy")


# ------------------------------------------------- torch formulas, per sample ----

def t_focal(x, y, gamma=2.0, alpha=None):
    logq = F.log_softmax(x, 1).gather(1, y[:, None])[:, 0]
    a = 1.0 if alpha is None else alpha[y]
    return -a * (1.0 - logq.exp()) ** gamma * logq


def t_poly1(x, y, epsilon=1.0, weight=None, label_smoothing=0.0):
    c = x.shape[1]
    ce = F.cross_entropy(x, y, weight=weight, reduction="none",
                         label_smoothing=label_smoothing)
    t = F.one_hot(y, c).to(x.dtype) * (1.0 - label_smoothing) + label_smoothing / c
    pt = (t * F.softmax(x, 1)).sum(1)
    wy = 1.0 if weight is None else weight[y]
    return ce + epsilon * wy * (1.0 - pt)


def t_gce(x, y, q=0.7):
    py = F.softmax(x, 1).gather(1, y[:, None])[:, 0]
    return (1.0 - py ** q) / q


def t_sce(x, y, alpha=0.1, beta=1.0, A=-4.0):
    # Wang et al.'s code: the one-hot target clamped to [exp(A), 1] before its log
    ce = F.cross_entropy(x, y, reduction="none")
    p = F.softmax(x, 1)
    onehot = F.one_hot(y, x.shape[1]).to(x.dtype)
    rce = -(p * torch.log(torch.clamp(onehot, min=math.exp(A), max=1.0))).sum(1)
    return alpha * ce + beta * rce


def t_boot(x, y, beta=0.95, mode="soft"):
    logp = F.log_softmax(x, 1)
    p = logp.exp().detach()   # the target mix is a constant of the gradient
    z = p if mode == "soft" else F.one_hot(p.argmax(1), x.shape[1]).to(x.dtype)
    t = beta * F.one_hot(y, x.shape[1]).to(x.dtype) + (1.0 - beta) * z
    return -(t * logp).sum(1)


TORCH = {"softmax_focal_loss": t_focal, "poly1_cross_entropy": t_poly1,
         "generalized_cross_entropy": t_gce, "symmetric_cross_entropy": t_sce,
         "bootstrapped_cross_entropy": t_boot}


def torch_value_and_grad(name, x, target, reduction, ignore_index=-100, sample_weight=None,
                         **opts):
    """The loss in torch float64 (per-sample formula above, ignored rows 0, sample weights,
    the reduction; the mean divides by the summed sample weight of the rows not ignored,
    times weight[y] for poly1_cross_entropy) and the gradient of its sum."""
    x = np.asarray(x, np.float64)
    unbatched = x.ndim == 1
    xt = torch.tensor(x.reshape(-1, x.shape[-1]), requires_grad=True)
    t = torch.tensor(np.asarray(target, np.int64).reshape(-1))
    valid = t != ignore_index
    y = torch.where(valid, t, 0)
    n = xt.shape[0]
    sw = torch.ones(n, dtype=torch.float64) if sample_weight is None else \
        torch.tensor(np.asarray(sample_weight, np.float64).reshape(n))
    topts = {k: (torch.tensor(np.asarray(v, np.float64)) if isinstance(v, np.ndarray) else v)
             for k, v in opts.items()}
    per = torch.where(valid, TORCH[name](xt, y, **topts), 0.0) * sw
    den = valid * sw
    if name == "poly1_cross_entropy" and topts.get("weight") is not None:
        den = den * topts["weight"][y]
    out = {"none": per, "sum": per.sum(), "mean": per.sum() / den.sum()}[reduction]
    out.sum().backward()
    v, g = out.detach().numpy(), xt.grad.numpy()
    return (v[0] if unbatched and reduction == "none" else v), g.reshape(x.shape)


# --------------------------------------------------------------- option grids ----

def _options(name, w):
    if name == "softmax_focal_loss":
        return [dict(gamma=g, alpha=a) for g, a in
                itertools.product([0.0, 0.25, 0.5, 1.0, 2.0, 4.5], [None, w])]
    if name == "poly1_cross_entropy":
        return [dict(epsilon=e, weight=wt, label_smoothing=ls) for e, wt, ls in
                itertools.product([-1.0, 0.0, 1.0, 3.0], [None, w], [0.0, 0.1, 1.0])]
    if name == "generalized_cross_entropy":
        return [dict(q=q) for q in (0.01, 0.3, 0.7, 1.0)]
    if name == "symmetric_cross_entropy":
        return [dict(alpha=a, beta=b, A=A) for a, b, A in
                [(0.1, 1.0, -4.0), (1.0, 0.0, -4.0), (0.0, 1.0, -9.21), (0.7, 2.0, -0.5)]]
    return [dict(beta=b, mode=m) for b, m in
            itertools.product([0.0, 0.3, 0.95, 1.0], ["soft", "hard"])]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", NAMES)
def test_matches_torch(name, reduction, dtype, backend, rng):
    n, c = 23, 7
    x = (rng.standard_normal((n, c)) * 3).astype(dtype)
    t = rng.integers(0, c, n)
    t_ign = t.copy()
    t_ign[::4] = -100
    w = (0.2 + rng.random(c)).astype(dtype)
    sw = rng.random(n).astype(dtype)
    loss = getattr(fl, name)
    for opts, (tn, tt, unbatched), swt in itertools.product(
            _options(name, w), [("t", t, False), ("ign", t_ign, False), ("one", t, True)],
            [None, sw]):
        xx = x
        if unbatched:
            xx, tt, swt = x[1], np.int64(tt[1]), (None if swt is None else swt[1])
        v, g = loss.value_and_grad(xx, tt, reduction=reduction, sample_weight=swt,
                                   backend=backend, **opts)
        vt, gt = torch_value_and_grad(name, xx, tt, reduction, sample_weight=swt, **opts)
        what = f"{name} {opts} {tn} sw={swt is not None} unbatched={unbatched}"
        assert np.asarray(v).dtype == dtype and g.dtype == dtype and g.shape == xx.shape
        assert_close(v, vt, dtype, what + " value",
                     scale=_torch_cancellation(name, opts, reduction, tt, swt, xx)
                     if name == "poly1_cross_entropy" else 0.0)
        assert_close(g, gt, dtype, what + " grad",
                     scale=_torch_cancellation(name, opts, reduction, tt, swt))


def _torch_cancellation(name, opts, reduction, target, sw, x=None):
    """The size of the terms that cancel in torch's autograd gradient (p - t' of the
    bootstrapped loss, p_j - p_j (1 - p_y) of the reverse cross-entropy, CE - |eps| (1 - p_t)
    of poly-1 with a negative epsilon), for assert_close's scale: with p_y small, t' = p or
    p_t near 1, torch's result is rounding noise.  With x: the scale of the value, whose
    cross-entropy term torch rounds at the size of the logits."""
    if name == "bootstrapped_cross_entropy":
        size = 1.0
    elif name == "symmetric_cross_entropy":
        size = opts["alpha"] + opts["beta"] * abs(opts["A"])
    elif name == "poly1_cross_entropy" and opts.get("epsilon", 1.0) < 0:
        size = 1.0 + abs(opts["epsilon"])
        if x is not None:
            size *= 1.0 + np.max(np.abs(x), initial=0.0)
    else:
        return 0.0
    sw = np.ones(np.size(target)) if sw is None else np.asarray(sw, np.float64).reshape(-1)
    valid = np.asarray(target).reshape(-1) != -100
    den = np.sum(sw[valid]) if reduction == "mean" else 1.0
    return size * np.max(sw, initial=0.0) / den if den > 0 else 0.0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", NAMES)
def test_many_classes_match_torch(name, dtype, backend, rng):
    """300 and 2500 classes (rows of 128 classes or more are split at the target; 2500
    spans several online chunks), targets at both ends, class weights."""
    for c in (300, 2500):
        x = (rng.standard_normal((6, c)) * 3 + np.linspace(0, 10, c)).astype(dtype)
        t = rng.integers(0, c, 6)
        t[:3] = [0, c - 1, int(np.argmax(x[2]))]
        x[3, t[3]] += 20
        w = (0.2 + rng.random(c)).astype(dtype)
        grid = _options(name, w)
        for opts in grid if len(grid) <= 8 else grid[::5]:   # (weights, smoothing mixed)
            for reduction in ("mean", "none"):
                v, g = getattr(fl, name).value_and_grad(x, t, reduction=reduction,
                                                        backend=backend, **opts)
                vt, gt = torch_value_and_grad(name, x, t, reduction, **opts)
                assert_close(v, vt, dtype, f"{c} {opts} value")
                assert_close(g, gt, dtype, f"{c} {opts} grad",
                             scale=_torch_cancellation(name, opts, reduction, t, None))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", NAMES)
def test_ignore_index_other_than_default_matches_torch(name, dtype, backend, rng):
    x = (rng.standard_normal((12, 5)) * 2).astype(dtype)
    t = rng.integers(0, 5, 12)
    t[::3] = 2
    v, g = getattr(fl, name).value_and_grad(x, t, ignore_index=2, backend=backend)
    vt, gt = torch_value_and_grad(name, x, t, "mean", ignore_index=2)
    assert_close(v, vt, dtype, "value")
    assert_close(g, gt, dtype, "grad")
    assert not g[::3].any()


_LARGE_OPTS = {
    "softmax_focal_loss": dict(gamma=2.0),
    "poly1_cross_entropy": dict(epsilon=2.0, label_smoothing=0.1),
    "generalized_cross_entropy": dict(q=0.7),
    "symmetric_cross_entropy": dict(alpha=0.5, beta=1.0, A=-4.0),
    "bootstrapped_cross_entropy": dict(beta=0.8),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", NAMES)
def test_large_logits_match_torch(name, dtype, backend, rng):
    """Logits of +-30 (p_y from about 1 to 1e-26) and -1e4 off the target: torch's plain
    formulas are accurate there (no gradient of (1 - p)^gamma at p = 1 needed)."""
    x = (rng.choice([-1.0, 1.0], (16, 6)) * 30 + rng.standard_normal((16, 6))).astype(dtype)
    t = rng.integers(0, 6, 16)
    x[3, (t[3] + 1) % 6] = -1e4
    opts = _LARGE_OPTS[name]
    for reduction in ("none", "sum"):
        v, g = getattr(fl, name).value_and_grad(x, t, reduction=reduction, backend=backend,
                                                **opts)
        vt, gt = torch_value_and_grad(name, x, t, reduction, **opts)
        assert_close(v, vt, dtype, f"{opts} value")
        assert_close(g, gt, dtype, f"{opts} grad")


# ------------------------------------------------------------- special cases ----

def _logits(rng, dtype, n=19, c=6):
    x = (rng.standard_normal((n, c)) * 3).astype(dtype)
    t = rng.integers(0, c, n)
    t[::5] = -100
    return x, t, (0.3 + rng.random(c)).astype(dtype), rng.random(n).astype(dtype)


def _same(a, b, dtype, what):
    for ak, bk, k in zip(a, b, ("value", "grad")):
        assert_close(ak, bk, dtype, f"{what} {k}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_special_cases_equal_cross_entropy(reduction, dtype, backend, rng):
    x, t, w, sw = _logits(rng, dtype)
    kw = dict(reduction=reduction, sample_weight=sw, backend=backend)
    ce = fl.cross_entropy.value_and_grad(x, t, **kw)
    _same(fl.softmax_focal_loss.value_and_grad(x, t, gamma=0.0, **kw), ce, dtype, "focal g=0")
    _same(fl.symmetric_cross_entropy.value_and_grad(x, t, alpha=1.0, beta=0.0, **kw), ce,
          dtype, "sce a=1 b=0")
    for mode in ("soft", "hard"):
        _same(fl.bootstrapped_cross_entropy.value_and_grad(x, t, beta=1.0, mode=mode, **kw),
              ce, dtype, f"bootstrapped beta=1 {mode}")
    for ls in (0.0, 0.3):
        _same(fl.poly1_cross_entropy.value_and_grad(x, t, epsilon=0.0, weight=w,
                                                    label_smoothing=ls, **kw),
              fl.cross_entropy.value_and_grad(x, t, weight=w, label_smoothing=ls, **kw),
              dtype, f"poly1 eps=0 ls={ls}")
    if reduction != "mean":
        # alpha rescales the terms as cross_entropy's weight, but is not in the mean's divisor
        _same(fl.softmax_focal_loss.value_and_grad(x, t, gamma=0.0, alpha=w, **kw),
              fl.cross_entropy.value_and_grad(x, t, weight=w, **kw), dtype, "focal alpha")


@pytest.mark.parametrize("backend", BACKENDS)
def test_focal_mean_divides_by_sample_weight_not_alpha(backend, rng):
    x, t, w, sw = _logits(rng, np.float64)
    kw = dict(gamma=1.5, alpha=w, sample_weight=sw, backend=backend)
    mean = fl.softmax_focal_loss(x, t, **kw)
    total = fl.softmax_focal_loss(x, t, reduction="sum", **kw)
    assert mean == pytest.approx(total / np.sum(sw[t != -100]), rel=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_gce_small_q_tends_to_cross_entropy(dtype, backend, rng):
    """With z = -Q log p_y >= 0, (1 - p_y^Q) / Q = (1 - e^-z) / Q lies in
    [-log p_y - Q log^2 p_y / 2, -log p_y]: at Q = 1e-4 within 1e-4 log^2 p_y / 2 of cross-
    entropy; the gradient factor p_y^Q lies in [1 - Q |log p_y|, 1]."""
    Q = 1e-4
    x, t, _, _ = _logits(rng, dtype)
    v, g = fl.generalized_cross_entropy.value_and_grad(x, t, q=Q, reduction="none",
                                                      backend=backend)
    vc, gc = fl.cross_entropy.value_and_grad(x, t, reduction="none", backend=backend)
    lq = np.where(t != -100, -vc.astype(np.float64), 0.0)
    slack = 1e-6 * np.abs(lq) if dtype == np.float32 else 1e-13 * np.abs(lq)
    assert np.all(v <= -lq + slack)
    assert np.all(v >= -lq - Q * lq ** 2 / 2 - slack)
    gslack = 1e-6 if dtype == np.float32 else 1e-14
    assert np.all(np.abs(g - gc) <= (Q * np.abs(lq))[:, None] * np.abs(gc) + gslack)
    assert np.abs(v - vc).max() > 0   # not cross_entropy itself


@pytest.mark.parametrize("backend", BACKENDS)
def test_known_values(backend):
    """Hand-computed: logits (0, log 3), target 0, so p_y = 1/4, 1 - p_y = 3/4."""
    x = np.array([[0.0, np.log(3.0)]])
    t = np.array([0])
    kw = dict(backend=backend)
    # focal, gamma 2: -(3/4)^2 log(1/4); gradient F (p - e_0), F = 9/16 - 2 (1/4)(3/4) log(1/4)
    v, g = fl.softmax_focal_loss.value_and_grad(x, t, gamma=2.0, **kw)
    assert v == pytest.approx(9 / 16 * np.log(4), rel=1e-14)
    Fv = 9 / 16 + 0.375 * np.log(4)
    np.testing.assert_allclose(g, Fv * np.array([[-0.75, 0.75]]), rtol=1e-14)
    # GCE q = 1/2: (1 - 1/2) / (1/2) = 1; gradient (1/2) (p - e_0)
    v, g = fl.generalized_cross_entropy.value_and_grad(x, t, q=0.5, **kw)
    assert v == pytest.approx(1.0, rel=1e-14)
    np.testing.assert_allclose(g, [[-0.375, 0.375]], rtol=1e-14)
    # GCE q = 1 is 1 - p_y
    assert fl.generalized_cross_entropy(x, t, q=1.0, **kw) == pytest.approx(0.75, rel=1e-15)
    # SCE: 0.1 log 4 + 1 * 4 * 3/4
    assert fl.symmetric_cross_entropy(x, t, **kw) == pytest.approx(0.1 * np.log(4) + 3.0,
                                                                    rel=1e-14)
    # poly1, epsilon 1: log 4 + 3/4
    assert fl.poly1_cross_entropy(x, t, **kw) == pytest.approx(np.log(4) + 0.75, rel=1e-14)
    # bootstrapped hard, beta 0.5: 0.5 log 4 + 0.5 log(4/3); gradient p - (1/2, 1/2)
    v, g = fl.bootstrapped_cross_entropy.value_and_grad(x, t, beta=0.5, mode="hard", **kw)
    assert v == pytest.approx(0.5 * np.log(4) + 0.5 * np.log(4 / 3), rel=1e-14)
    np.testing.assert_allclose(g, [[-0.25, 0.25]], rtol=1e-14)
    # bootstrapped soft: beta log 4 + (1 - beta) H(1/4, 3/4); gradient beta (p - e_0)
    H = -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))
    v, g = fl.bootstrapped_cross_entropy.value_and_grad(x, t, beta=0.8, **kw)
    assert v == pytest.approx(0.8 * np.log(4) + 0.2 * H, rel=1e-14)
    np.testing.assert_allclose(g, [[-0.6, 0.6]], rtol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bootstrapped_hard_takes_the_first_maximum(backend):
    x = np.array([[1.0, 3.0, 3.0, 0.0], [5.0, 5.0, 5.0, 5.0]])
    t = np.array([0, 3])
    v, g = fl.bootstrapped_cross_entropy.value_and_grad(x, t, beta=0.5, mode="hard",
                                                        reduction="sum", backend=backend)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    tmix = np.array([[0.5, 0.5, 0, 0], [0.5, 0, 0, 0.5]])
    np.testing.assert_allclose(g, p - tmix, rtol=1e-14, atol=1e-16)
    assert v == pytest.approx(-np.sum(tmix * np.log(p)), rel=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["soft", "hard"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bootstrapped_gradient_is_that_of_the_frozen_mix(reduction, mode, backend, rng):
    """The gradient is p - t' with t' held at its value: central differences of
    -sum_c t'_c log softmax(x)_c with t' frozen (its definition in the paper)."""
    assert "bootstrapped_cross_entropy" in STOP_GRADIENT
    x = rng.standard_normal((5, 4)) * 2
    t = rng.integers(0, 4, 5)
    t[2] = -100
    sw = 0.5 + rng.random(5)
    beta = 0.7
    logp0 = x - np.log(np.exp(x).sum(1, keepdims=True))
    z = np.exp(logp0) if mode == "soft" else np.eye(4)[np.argmax(x, 1)]
    tmix = beta * np.eye(4)[np.where(t >= 0, t, 0)] + (1 - beta) * z
    valid = t >= 0

    def frozen(xx):
        logp = xx - np.log(np.exp(xx).sum(1, keepdims=True))
        per = np.where(valid, -np.sum(tmix * logp, 1), 0.0) * sw
        return per.sum() / (np.sum(sw[valid]) if reduction == "mean" else 1.0)

    g = fl.bootstrapped_cross_entropy.grad(x, t, beta=beta, mode=mode, reduction=reduction,
                                           sample_weight=sw, backend=backend)
    np.testing.assert_allclose(g, _fd_grad(frozen, x.copy()), rtol=1e-6, atol=1e-9)
    # and the value is the frozen loss at the point itself
    v = fl.bootstrapped_cross_entropy(x, t, beta=beta, mode=mode, reduction=reduction,
                                      sample_weight=sw, backend=backend)
    assert np.sum(v) == pytest.approx(frozen(x), rel=1e-13)


# ------------------------------------------------------------ accuracy, edges ----

def _mp_softmax_row(x, y):
    mpmath = pytest.importorskip("mpmath")
    xs = [mpmath.mpf(float(v)) for v in x]
    m = max(xs)
    es = [mpmath.exp(v - m) for v in xs]
    s = sum(es)
    q = es[y] / s
    u = sum(e for j, e in enumerate(es) if j != y) / s
    return mpmath, [e / s for e in es], q, u


def _mp_loss(name, x, y, opts):
    """Value and gradient of one row in 1000-digit arithmetic (enough for -log q - u at
    1 - q = 1e-304), from the formulas."""
    mp = pytest.importorskip("mpmath").mp
    with mp.workdps(1000):
        return _mp_loss_row(mp, name, x, y, opts)


def _mp_loss_row(mp, name, x, y, opts):
    _, p, q, u = _mp_softmax_row(x, y)
    lq = mp.log(q)
    if name == "softmax_focal_loss":
        gm = mp.mpf(opts["gamma"])
        v = -u ** gm * lq
        K = u ** gm - gm * q * u ** (gm - 1) * lq
    elif name == "poly1_cross_entropy":
        e = mp.mpf(opts["epsilon"])
        v, K = -lq + e * u, 1 + e * q
    elif name == "generalized_cross_entropy":
        Q = mp.mpf(opts["q"])
        v, K = (1 - q ** Q) / Q, q ** Q
    elif name == "symmetric_cross_entropy":
        v = opts["alpha"] * -lq - opts["beta"] * opts["A"] * u
        K = opts["alpha"] - opts["A"] * opts["beta"] * q
    else:
        b = mp.mpf(opts["beta"])
        H = -sum(pj * mp.log(pj) for pj in p if pj > 0)
        v, K = b * -lq + (1 - b) * H, b
    g = [K * (pj - (1 if j == y else 0)) for j, pj in enumerate(p)]
    return float(v), np.array([float(gj) for gj in g])


_MP_OPTS = {
    "softmax_focal_loss": [dict(gamma=0.25), dict(gamma=0.5), dict(gamma=2.0)],
    "poly1_cross_entropy": [dict(epsilon=-1.0), dict(epsilon=1.0)],
    "generalized_cross_entropy": [dict(q=1e-4), dict(q=0.7), dict(q=1.0)],
    "symmetric_cross_entropy": [dict(alpha=0.1, beta=1.0, A=-4.0)],
    "bootstrapped_cross_entropy": [dict(beta=0.0), dict(beta=0.8)],
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_confident_rows_are_accurate(name, backend, rng):
    """p_y within 1e-3 ... 1e-300 of 1 (the target the row max by a margin of 7 to 700):
    every row's value and gradient to 1e-12 relative (row by row, float64), where 1 - p_y
    computed as such would have lost all its digits."""
    c = 5
    margins = np.array([7.0, 20.0, 37.0, 60.0, 300.0, 700.0])
    x = rng.standard_normal((len(margins), c))
    t = rng.integers(0, c, len(margins))
    x[np.arange(len(margins)), t] = x.max(1) + margins
    for opts in _MP_OPTS[name]:
        v, g = getattr(fl, name).value_and_grad(x, t, reduction="none", backend=backend,
                                                **opts)
        for i in range(len(margins)):
            vm, gm = _mp_loss(name, x[i], t[i], opts)
            assert v[i] == pytest.approx(vm, rel=1e-12, abs=1e-300), (opts, margins[i])
            np.testing.assert_allclose(g[i], gm, rtol=1e-12, atol=1e-300,
                                       err_msg=f"{opts} margin {margins[i]}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("gamma", [0.25, 0.5])
def test_focal_gradient_finite_below_gamma_one(gamma, dtype, backend, rng):
    """(1 - p)^gamma has an infinite derivative at p = 1 for gamma < 1: the gradient stays
    finite with logits of +-1e4, where p_y is exactly 1 or 0, and next to it."""
    n, c = 24, 5
    t = rng.integers(0, c, n)
    big = (rng.choice([-1.0, 1.0], (n, c)) * 1e4).astype(dtype)
    sure = np.full((n, c), -1e4, dtype)
    sure[np.arange(n), t] = 1e4   # p_y rounds to exactly 1
    near = (rng.standard_normal((n, c))).astype(dtype)
    near[np.arange(n), t] = 17 if dtype == np.float32 else 38   # 1 - p_y below eps
    for x in (big, sure, near, -sure):
        for reduction in ("mean", "none"):
            v, g = fl.softmax_focal_loss.value_and_grad(x, t, gamma=gamma, reduction=reduction,
                                                        backend=backend)
            assert np.all(np.isfinite(v)) and np.all(np.isfinite(g))
    v, g = fl.softmax_focal_loss.value_and_grad(sure, t, gamma=gamma, reduction="none",
                                                backend=backend)
    assert not v.any() and not g.any()   # p_y = 1: no loss and no gradient


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_extremes_are_finite(name, backend, rng):
    """Every option of the grid on logits of +-1e4 (ties at the max, p_y of 1 and 0)."""
    t = rng.integers(0, 5, 20)
    x = rng.choice([-1.0, 1.0], (20, 5)) * 1e4
    x[:5] = -1e4
    x[np.arange(5), t[:5]] = 1e4
    w = 0.5 + rng.random(5)
    for opts in _options(name, w):
        v, g = getattr(fl, name).value_and_grad(x, t, reduction="none", backend=backend,
                                                **opts)
        assert np.all(np.isfinite(v)) and np.all(np.isfinite(g)), opts


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_nan_stays_in_its_row_and_ignored_rows_are_zero(name, backend, rng):
    x = rng.standard_normal((6, 4))
    t = rng.integers(0, 4, 6)
    x[1, 2] = np.nan
    x[4, 0] = np.nan
    t[4] = -100   # ignored: value 0 and gradient 0, NaN or not
    v, g = getattr(fl, name).value_and_grad(x, t, reduction="none", backend=backend)
    assert np.isnan(v[1]) and np.isnan(g[1]).all()
    others = [0, 2, 3, 5]
    assert np.isfinite(v[others]).all() and np.isfinite(g[others]).all()
    assert v[4] == 0 and not g[4].any()
    assert np.isnan(getattr(fl, name)(x, t, backend=backend))
