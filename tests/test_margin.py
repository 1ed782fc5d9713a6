"""The margin losses against torch.nn.functional (values and every gradient, every option,
float32 and float64, every reduction, unbatched shapes), hand-computed values, and the
documented points where fastloss differs from PyTorch."""
import itertools

import numpy as np
import pytest

import fastloss as fl
from fastloss._registry import LOSSES

from test_losses import assert_close

torch = pytest.importorskip("torch")
F = torch.nn.functional

DTYPES = (np.float32, np.float64)
REDUCTIONS = ("mean", "sum", "none")


def _tensor(a):
    a = np.array(a)
    return torch.from_numpy(a.astype(np.int64) if a.dtype.kind in "iu" else a)


def _torch(name, args, kw, sample_weight=None):
    """PyTorch's value and gradients (one per differentiable input).  With sample_weight,
    the value is PyTorch's per-sample values weighted along the first axis and reduced as
    fastloss documents ("mean": over the summed weight that applies)."""
    spec = LOSSES[name]
    diff = [spec.inputs.index(n) for n in spec.grad_wrt]
    ts = [_tensor(a) for a in args]
    for k in diff:
        ts[k].requires_grad_(True)
    tkw = {k: _tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    red = tkw.pop("reduction", "mean")
    if sample_weight is None:
        out = getattr(F, name)(*ts, reduction=red, **tkw)
    else:
        per = getattr(F, name)(*ts, reduction="none", **tkw)
        sw = _tensor(sample_weight).to(per.dtype)
        w = sw.reshape(sw.shape + (1,) * (per.dim() - 1)) if per.dim() else sw.reshape(())
        out = per * w
        if red == "sum":
            out = out.sum()
        elif red == "mean":
            per_sample = per[0].numel() if per.dim() > 1 else 1
            out = out.sum() / (sw.sum() * per_sample)
    out.sum().backward()
    return out.detach().numpy(), [ts[k].grad.numpy() for k in diff]


def _check(name, args, kw, dtype, what="", sample_weight=None, reductions=REDUCTIONS,
           value_scale=None):
    """fastloss (cpu and numpy backends) against PyTorch for every reduction.
    value_scale(reduction): the size of the terms that cancel in the value, if any."""
    spec = LOSSES[name]
    loss = getattr(fl, name)
    for red, backend in itertools.product(reductions, ("cpu", "numpy")):
        fkw = dict(kw, reduction=red, backend=backend)
        if sample_weight is not None:
            fkw["sample_weight"] = sample_weight
        v, g = loss.value_and_grad(*args, **fkw)
        g = g if len(spec.grad_wrt) > 1 else (g,)
        vt, gt = _torch(name, args, dict(kw, reduction=red), sample_weight)
        tag = f"{name} {what} {red} {backend}"
        assert np.asarray(v).dtype == dtype
        assert_close(v, vt, dtype, f"{tag} value",
                     scale=0.0 if value_scale is None else value_scale(red))
        for k, (gk, gtk) in enumerate(zip(g, gt)):
            assert gk.dtype == dtype
            assert_close(gk, gtk, dtype, f"{tag} grad {spec.grad_wrt[k]}")


def _real(rng, shape, dtype, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _pm1(rng, shape, dtype):
    return rng.choice([-1.0, 1.0], shape).astype(dtype)


dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)


# ------------------------------------------------------------- against PyTorch ----

@dtypes
def test_multi_margin_loss(dtype, rng):
    n, c = 29, 7
    x = _real(rng, (n, c), dtype)
    y = rng.integers(0, c, n)
    w = (0.2 + rng.random(c)).astype(dtype)
    xi = rng.integers(-2, 3, (n, c)).astype(dtype)      # hinge kinks z = 0 exactly
    for p, margin, weight in itertools.product([1, 2], [1.0, 0.4, -0.6, 0.0], [None, w]):
        kw = dict(p=p, margin=margin, weight=weight)
        _check("multi_margin_loss", (x, y), kw, dtype, f"{kw}")
        _check("multi_margin_loss", (xi, y), kw, dtype, f"kink {kw}")
        _check("multi_margin_loss", (x[3], np.int64(y[3])), kw, dtype, f"unbatched {kw}")
        _check("multi_margin_loss", (x[3], y[3:4]), kw, dtype, f"unbatched target (1,) {kw}")
    _check("multi_margin_loss", (x[:, :1], np.zeros(n, np.int64)), {}, dtype, "one class")
    _check("multi_margin_loss", (x[:1], np.int64(y[0])), {"p": 2}, dtype, "(1, C), target ()")
    big = (rng.choice([-1.0, 1.0], (n, c)) * 1e4).astype(dtype)
    _check("multi_margin_loss", (big, y), {"p": 2, "weight": w}, dtype, "1e4")
    _check("multi_margin_loss", (x, y.astype(np.uint8)), {}, dtype, "uint8 target")


@dtypes
def test_multilabel_soft_margin_loss(dtype, rng):
    n, c = 23, 6
    x = _real(rng, (n, c), dtype)
    soft = rng.random((n, c)).astype(dtype)
    hard = rng.integers(0, 2, (n, c)).astype(dtype)
    # every weight shape PyTorch broadcasts against the input without enlarging it
    weights = [None, (0.2 + rng.random(c)), (0.2 + rng.random((1, c))), rng.random((n, 1)),
               rng.random((n, c)), np.asarray(0.3), 0.5 + rng.random(1)]
    for t, weight in itertools.product([soft, hard], weights):
        wt = None if weight is None else weight.astype(dtype)
        what = f"weight {None if wt is None else wt.shape}"
        _check("multilabel_soft_margin_loss", (x, t), {"weight": wt}, dtype, what)
        if wt is None or wt.ndim < 2:
            _check("multilabel_soft_margin_loss", (x[2], t[2]), {"weight": wt}, dtype,
                   "unbatched " + what)
    big = (rng.choice([-1.0, 1.0], (n, c)) * 1e4).astype(dtype)
    _check("multilabel_soft_margin_loss", (big, hard), {}, dtype, "logits 1e4")
    _check("multilabel_soft_margin_loss", (big, soft), {"weight": weights[4].astype(dtype)},
           dtype, "logits 1e4, full weight")
    _check("multilabel_soft_margin_loss", (x[:, :1], soft[:, :1]), {}, dtype, "one class")


@dtypes
def test_soft_margin_loss(dtype, rng):
    for shape in [(37,), (5, 6), (2, 3, 4), ()]:
        _check("soft_margin_loss", (_real(rng, shape, dtype), _pm1(rng, shape, dtype)), {},
               dtype, f"{shape}")
    # as large as PyTorch's log1p(exp(-t x)) stays finite (float32: exp overflows at 88.7)
    x = (rng.choice([-1.0, 1.0], 40) * rng.uniform(20, 80, 40)).astype(dtype)
    _check("soft_margin_loss", (x, _pm1(rng, 40, dtype)), {}, dtype, "|x| up to 80")


@dtypes
def test_hinge_embedding_loss(dtype, rng):
    for shape, margin in itertools.product([(37,), (5, 6), (2, 3, 4), ()], [1.0, 0.0, -0.5, 2.0]):
        args = (_real(rng, shape, dtype), _pm1(rng, shape, dtype))
        _check("hinge_embedding_loss", args, {"margin": margin}, dtype, f"{shape} m={margin}")
    xk = rng.integers(-2, 3, (6, 7)).astype(dtype)          # margin - x == 0 exactly
    for margin in (1.0, -1.0):
        _check("hinge_embedding_loss", (xk, _pm1(rng, (6, 7), dtype)), {"margin": margin},
               dtype, "kink")


@dtypes
def test_margin_ranking_loss(dtype, rng):
    for shape, margin in itertools.product([(37,), (5, 6), (2, 3, 4), ()], [0.0, 0.5, -0.3]):
        args = (_real(rng, shape, dtype), _real(rng, shape, dtype), _pm1(rng, shape, dtype))
        _check("margin_ranking_loss", args, {"margin": margin}, dtype, f"{shape} m={margin}")
    x1 = rng.integers(-3, 4, 40).astype(dtype)                # -t (x1 - x2) + margin == 0
    t = _pm1(rng, 40, dtype)
    _check("margin_ranking_loss", (x1, x1 - t, t), {"margin": 1.0}, dtype, "kink")


@dtypes
def test_cosine_embedding_loss(dtype, rng):
    n, d = 19, 8
    x1, x2, t = _real(rng, (n, d), dtype), _real(rng, (n, d), dtype), _pm1(rng, n, dtype)
    z1 = x1.copy()
    z1[::4] = 0                                              # zero rows: PyTorch's 1e-12
    for margin in (0.0, 0.5, -0.5, 1.0, -1.0):
        kw = {"margin": margin}
        _check("cosine_embedding_loss", (x1, x2, t), kw, dtype, f"m={margin}")
        _check("cosine_embedding_loss", (z1, x2, t), kw, dtype, f"zero rows m={margin}")
        for k in range(3):
            _check("cosine_embedding_loss", (x1[k], x2[k], np.asarray(t[k])), kw, dtype,
                   f"unbatched m={margin}")
    e = np.eye(d, dtype=dtype)
    _check("cosine_embedding_loss", (e[:4], e[4:], -np.ones(4, dtype)), {}, dtype,
           "kink: cos = margin = 0")
    _check("cosine_embedding_loss", (x1, x2, np.ones(n, dtype)), {}, dtype, "all t = 1")


def _triplet_terms(a, p, q, kw):
    """value_scale for triplet_margin_loss: margin + d(a, p) + d(a, n) per sample (the
    value is their difference, which PyTorch's float32 sums round at that size)."""
    a, p, q = (np.atleast_2d(np.asarray(v, np.float64)) for v in (a, p, q))
    eps, ord_ = kw.get("eps", 1e-6), kw.get("p", 2.0)
    with np.errstate(all="ignore"):
        t = kw.get("margin", 1.0) + sum(np.linalg.norm(u - v + eps, ord=ord_, axis=1)
                                        for u, v in ((a, p), (a, q), (p, q)))
    t = np.where(np.isfinite(t), t, 0.0)
    return lambda red: float(t.sum() if red == "sum" else t.max())


@dtypes
def test_triplet_margin_loss(dtype, rng):
    n, d = 17, 6
    a, p, q = (_real(rng, (n, d), dtype) for _ in range(3))
    for pp, swap, margin, eps in itertools.product([1, 2, 3, 0.5, 1.5, np.inf], [False, True],
                                                   [1.0, 0.2, 6.0], [1e-6, 0.0, 0.3]):
        kw = dict(p=pp, swap=swap, margin=margin, eps=eps)
        _check("triplet_margin_loss", (a, p, q), kw, dtype, f"{kw}",
               value_scale=_triplet_terms(a, p, q, kw))
    for pp, swap in itertools.product([1, 2, 3, 0.5, 1.5, np.inf], [False, True]):
        kw = dict(p=pp, swap=swap, margin=4.0)
        _check("triplet_margin_loss", (a[0], p[0], q[0]), kw, dtype, f"unbatched {kw}",
               value_scale=_triplet_terms(a[0], p[0], q[0], kw))
        # distances of exactly 0 (positive = anchor, eps = 0): PyTorch's zero gradient
        _check("triplet_margin_loss", (a, a.copy(), q), dict(kw, eps=0.0), dtype,
               f"zero distance {kw}")
        _check("triplet_margin_loss", (a, a.copy(), a.copy()), dict(kw, eps=1e-6), dtype,
               f"identical rows {kw}")
    pinf = p.copy()
    pinf[0, 2], pinf[1, 0] = np.inf, -np.inf                 # infinite distances
    for pp in [1, 2, 3, 0.5, np.inf]:
        _check("triplet_margin_loss", (a, pinf, q), dict(p=pp, swap=True), dtype,
               f"infinite positive p={pp}")
    # swap ties, d(a, n) == d(p, n) exactly: PyTorch's min splits the gradient in halves
    qi = rng.integers(-3, 4, (n, d)).astype(dtype)
    off = rng.integers(-2, 3, (n, d)).astype(dtype)
    for pp in (1, 2):
        _check("triplet_margin_loss", (qi + off, qi - off, qi),
               dict(p=pp, eps=0.0, swap=True, margin=50.0), dtype, f"swap tie p={pp}")


@pytest.mark.parametrize("name", ["multi_margin_loss", "multilabel_soft_margin_loss",
                                  "soft_margin_loss", "hinge_embedding_loss",
                                  "margin_ranking_loss", "cosine_embedding_loss",
                                  "triplet_margin_loss"])
@dtypes
def test_sample_weight_against_torch(name, dtype, rng):
    """sample_weight: PyTorch's per-sample values weighted along the first axis, the mean
    over the summed weight (times the elements per sample for element-wise losses)."""
    n = 11
    x = _real(rng, (n, 5), dtype)
    args = {
        "multi_margin_loss": (x, rng.integers(0, 5, n)),
        "multilabel_soft_margin_loss": (x, rng.random((n, 5)).astype(dtype)),
        "soft_margin_loss": (x, _pm1(rng, (n, 5), dtype)),
        "hinge_embedding_loss": (x, _pm1(rng, (n, 5), dtype)),
        "margin_ranking_loss": (x, _real(rng, (n, 5), dtype), _pm1(rng, (n, 5), dtype)),
        "cosine_embedding_loss": (x, _real(rng, (n, 5), dtype), _pm1(rng, n, dtype)),
        "triplet_margin_loss": (x, _real(rng, (n, 5), dtype), _real(rng, (n, 5), dtype)),
    }[name]
    kw = {"multi_margin_loss": {"p": 2, "weight": (0.5 + rng.random(5)).astype(dtype)},
          "multilabel_soft_margin_loss": {"weight": rng.random((n, 5)).astype(dtype)},
          "hinge_embedding_loss": {"margin": 0.7},
          "margin_ranking_loss": {"margin": 0.3},
          "cosine_embedding_loss": {"margin": -0.2},
          "triplet_margin_loss": {"swap": True, "margin": 3.0}}.get(name, {})
    sw = rng.random(n).astype(dtype)
    sw[2] = 0.0
    _check(name, args, kw, dtype, "sample_weight", sample_weight=sw)
    if name == "multilabel_soft_margin_loss":   # the class-weight path too
        _check(name, args, {"weight": rng.random(5).astype(dtype)}, dtype, "sample_weight",
               sample_weight=sw)


# ---------------------------------------------------------- hand-computed values ----

def test_known_values():
    # PyTorch's documentation example of MultiMarginLoss: (0.3 + 0.4 + 0.6) / 4
    x = np.array([[0.1, 0.2, 0.4, 0.8]])
    v, g = fl.multi_margin_loss.value_and_grad(x, np.array([3]))
    assert v == pytest.approx(0.325, rel=1e-15)
    np.testing.assert_allclose(g, [[0.25, 0.25, 0.25, -0.75]], rtol=1e-15)
    # p = 2, class weight 3: 3 * (0.3^2 + 0.4^2 + 0.6^2) / 4
    assert fl.multi_margin_loss(x, np.array([3]), p=2, weight=np.array([1, 1, 1, 3.0])) == \
        pytest.approx(3 * 0.61 / 4, rel=1e-14)
    # at zero logits every soft margin term is log 2
    assert fl.soft_margin_loss(np.zeros(3), np.array([1.0, -1.0, 1.0])) == \
        pytest.approx(np.log(2), rel=1e-15)
    assert fl.multilabel_soft_margin_loss(np.zeros((2, 3)), np.full((2, 3), 0.3)) == \
        pytest.approx(np.log(2), rel=1e-15)
    # hinge: x for t = 1, max(0, margin - x) for t = -1
    v = fl.hinge_embedding_loss(np.array([0.5, 0.5, 3.0]), np.array([1.0, -1.0, -1.0]),
                                margin=2.0, reduction="none")
    np.testing.assert_array_equal(v, [0.5, 1.5, 0.0])
    # ranking: max(0, -t (x1 - x2) + margin)
    v = fl.margin_ranking_loss(np.array([1.0, 1.0]), np.array([3.0, 3.0]),
                               np.array([1.0, -1.0]), margin=0.5, reduction="none")
    np.testing.assert_array_equal(v, [2.5, 0.0])
    # cosine: parallel rows (cos 1), opposite rows (cos -1), orthogonal rows (cos 0)
    x1 = np.array([[3.0, 4.0], [3.0, 4.0], [1.0, 0.0]])
    x2 = np.array([[6.0, 8.0], [-3.0, -4.0], [0.0, 2.0]])
    v = fl.cosine_embedding_loss(x1, x2, np.array([1.0, 1.0, -1.0]), margin=-0.5,
                                 reduction="none")
    np.testing.assert_allclose(v, [0.0, 2.0, 0.5], atol=1e-12)
    # triplet, p = 2, eps = 0: d(a, p) = 5 (a 3-4-5 triangle), d(a, n) = 1
    a, p, q = np.array([0.0, 0.0]), np.array([3.0, 4.0]), np.array([1.0, 0.0])
    v, (ga, gp, gn) = fl.triplet_margin_loss.value_and_grad(a, p, q, eps=0.0)
    assert v == pytest.approx(5.0, rel=1e-15)
    np.testing.assert_allclose(ga, [-0.6 + 1.0, -0.8], rtol=1e-15)
    np.testing.assert_allclose(gp, [0.6, 0.8], rtol=1e-15)
    np.testing.assert_allclose(gn, [-1.0, 0.0], rtol=1e-15)
    # p = 1 and p = inf distances of the same points: 7 and 4
    assert fl.triplet_margin_loss(a, p, q, p=1, eps=0.0) == pytest.approx(7.0)
    assert fl.triplet_margin_loss(a, p, q, p=np.inf, eps=0.0) == pytest.approx(4.0)
    # swap: d(p, n) = sqrt(20) > d(a, n) = 1 keeps d(a, n); a far anchor takes d(p, n)
    assert fl.triplet_margin_loss(np.array([-9.0, 0.0]), p, q, eps=0.0, swap=True) == \
        pytest.approx(1.0 + np.hypot(12, 4) - np.sqrt(20))


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_kink_gradients(backend):
    """The gradient at the kinks, as PyTorch's autograd (values written out)."""
    # hinge at margin - x == 0: -1 (clamp_min passes the gradient at 0)
    g = fl.hinge_embedding_loss.grad(np.array([1.0, 2.0]), np.array([-1.0, -1.0]),
                                     reduction="sum", backend=backend)
    np.testing.assert_array_equal(g, [-1.0, 0.0])
    # ranking at -t (x1 - x2) + margin == 0: passes
    g1, g2 = fl.margin_ranking_loss.grad(np.array([1.0]), np.array([1.0]), np.array([1.0]),
                                         reduction="sum", backend=backend)
    np.testing.assert_array_equal((g1, g2), ([-1.0], [1.0]))
    # multi_margin at z == 0: 0 (PyTorch's kernel tests z > 0)
    g = fl.multi_margin_loss.grad(np.array([[1.0, 0.0, 0.5]]), np.array([0]), reduction="sum",
                                  backend=backend)
    np.testing.assert_allclose(g, [[-1 / 3, 0.0, 1 / 3]], rtol=1e-15)
    # cosine at cos - margin == 0 (t = -1): passes, dcos/dx1 = x2 / |x1||x2| here
    g1, g2 = fl.cosine_embedding_loss.grad(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]),
                                           np.array([-1.0]), reduction="sum", backend=backend)
    np.testing.assert_allclose(g1, [[0.0, 1.0]], atol=1e-12)
    np.testing.assert_allclose(g2, [[1.0, 0.0]], atol=1e-12)
    # triplet at margin + d(a, p) - d(a, n) == 0: passes; d(a, p) == 0: zero gradient
    a, p, q = np.zeros((1, 2)), np.zeros((1, 2)), np.array([[0.0, 1.0]])
    ga, gp, gn = fl.triplet_margin_loss.grad(a, p, q, eps=0.0, reduction="sum", backend=backend)
    np.testing.assert_array_equal(ga, [[0.0, 1.0]])
    np.testing.assert_array_equal(gp, [[0.0, 0.0]])
    np.testing.assert_array_equal(gn, [[0.0, -1.0]])
    # swap tie d(a, n) == d(p, n): each distance takes half the gradient
    ga, gp, gn = fl.triplet_margin_loss.grad(np.array([0.0, 0.0]), np.array([2.0, 0.0]),
                                             np.array([1.0, 0.0]), margin=3.0, eps=0.0,
                                             swap=True, backend=backend)
    np.testing.assert_array_equal(ga, [-0.5, 0.0])
    np.testing.assert_array_equal(gp, [0.5, 0.0])
    np.testing.assert_array_equal(gn, [0.0, 0.0])


# ------------------------------------------------- documented differences from torch ----

@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_nan_propagates_where_torch_drops_it(backend):
    x = np.array([[np.nan, 0.0, 0.0], [0.0, 1.0, 0.0]])
    y = np.array([1, 1])
    per, g = fl.multi_margin_loss.value_and_grad(x, y, reduction="none", backend=backend)
    tv = F.multi_margin_loss(torch.from_numpy(x), torch.from_numpy(y), reduction="none")
    assert np.isfinite(tv.numpy()[0])               # PyTorch's z > 0 test drops the NaN
    assert np.isnan(per[0]) and np.isfinite(per[1])
    assert np.isnan(g[0, :2]).all() and g[0, 2] == pytest.approx(1 / 3)   # z_2 = 1 is finite
    assert not np.isnan(g[1]).any()
    # hinge: the t = -1 gradient reads the input (PyTorch's clamp gradient gives 0)
    v, g = fl.hinge_embedding_loss.value_and_grad(np.array([np.nan, np.nan, 0.5]),
                                                  np.array([1.0, -1.0, -1.0]),
                                                  reduction="none", backend=backend)
    assert np.isnan(v[:2]).all() and g[0] == 1.0 and np.isnan(g[1]) and g[2] == -1.0
    # triplet: NaN in one row leaves the other rows alone
    a = np.zeros((2, 3))
    a[0, 1] = np.nan
    per, (ga, gp, gn) = fl.triplet_margin_loss.value_and_grad(
        a, np.ones((2, 3)), -np.ones((2, 3)), p=3, swap=True, reduction="none", backend=backend)
    assert np.isnan(per[0]) and np.isfinite(per[1])
    assert np.isnan(ga[0]).all() and np.isfinite(ga[1]).all()


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
@dtypes
def test_soft_margin_stable_where_torch_overflows(dtype, backend):
    x = np.array([1e4, -1e4, 800.0, -800.0, 1e30], dtype)
    t = np.array([1.0, 1.0, -1.0, 1.0, -1.0], dtype)
    per, g = fl.soft_margin_loss.value_and_grad(x, t, reduction="none", backend=backend)
    tv = F.soft_margin_loss(torch.from_numpy(x), torch.from_numpy(t), reduction="none")
    assert np.isinf(tv.numpy()[1:]).all()           # PyTorch: log1p(exp(1e4)) = inf
    # log(1 + exp(z)) = z + log1p(exp(-z)): z itself for large z, exp(-1e4) = 0 for the first
    np.testing.assert_array_equal(per, np.array([0.0, 1e4, 800.0, 800.0, 1e30], dtype))
    np.testing.assert_array_equal(g, np.array([0.0, -1.0, 1.0, -1.0, 1.0], dtype))


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_multilabel_stable_at_large_logits(backend):
    x = np.array([[1e4, -1e4, 1e4], [-1e30, 1e30, 0.0]])
    t = np.array([[0.0, 1.0, 1.0], [0.25, 1.0, 0.5]])
    per, g = fl.multilabel_soft_margin_loss.value_and_grad(x, t, reduction="none",
                                                           backend=backend)
    np.testing.assert_allclose(per, [2e4 / 3, (0.25 * 1e30 + np.log(2)) / 3], rtol=1e-15)
    np.testing.assert_allclose(g, [[1 / 3, -1 / 3, 0.0], [-0.25 / 3, 0.0, 0.0]], atol=1e-300)


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_empty_mean_is_zero(backend):
    """PyTorch gives NaN (or, for multi_margin_loss, an uninitialized value) here."""
    e = np.zeros((0, 3))
    cases = [(fl.multi_margin_loss, (e, np.zeros(0, np.int64))),
             (fl.multilabel_soft_margin_loss, (e, e)),
             (fl.soft_margin_loss, (e, e)),
             (fl.hinge_embedding_loss, (e, e)),
             (fl.margin_ranking_loss, (e, e, e)),
             (fl.cosine_embedding_loss, (e, e, np.zeros(0))),
             (fl.triplet_margin_loss, (e, e, e))]
    for loss, args in cases:
        v, g = loss.value_and_grad(*args, backend=backend)
        assert v == 0.0
        assert all(gk.shape == (0, 3) for gk in (g if isinstance(g, tuple) else (g,)))


def test_value_shapes_follow_torch():
    x = np.zeros((4, 3))
    assert fl.multi_margin_loss(x[0], np.int64(1), reduction="none").shape == ()
    assert fl.multi_margin_loss(x[0], np.array([1]), reduction="none").shape == (1,)
    assert fl.multi_margin_loss(x[:1], np.int64(1), reduction="none").shape == ()
    assert fl.multilabel_soft_margin_loss(x, x, reduction="none").shape == (4,)
    assert fl.multilabel_soft_margin_loss(x[0], x[0], reduction="none").shape == ()
    assert fl.cosine_embedding_loss(x, x, np.ones(4), reduction="none").shape == (4,)
    assert fl.cosine_embedding_loss(x[0], x[0], 1.0, reduction="none").shape == ()
    assert fl.triplet_margin_loss(x, x, x, reduction="none").shape == (4,)
    assert fl.triplet_margin_loss(x[0], x[0], x[0], reduction="none").shape == ()
    assert fl.margin_ranking_loss(x, x, np.ones((4, 3)), reduction="none").shape == (4, 3)


def test_triplet_p_beyond_float32_range_is_the_max_norm(rng):
    """A finite p that float32 cannot hold is the p = inf norm, not NaN."""
    a, p, n = (rng.standard_normal((3, 4)).astype(np.float32) for _ in range(3))
    v, g = fl.triplet_margin_loss.value_and_grad(a, p, n, p=1e39)
    vi, gi = fl.triplet_margin_loss.value_and_grad(a, p, n, p=float("inf"))
    assert np.isfinite(v) and v == vi
    for gk, gik in zip(g, gi):
        np.testing.assert_array_equal(gk, gik)
