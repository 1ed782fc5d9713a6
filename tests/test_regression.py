"""The regression losses against PyTorch (torch.nn.functional), scikit-learn (sklearn._loss
and sklearn.metrics) and independent formulas: values and gradients, every option,
float32 and float64, every reduction."""
import itertools
import math

import numpy as np
import pytest

import fastloss as fl

from test_losses import RTOL, assert_close

try:
    import torch
    F = torch.nn.functional
except ImportError:   # pragma: no cover
    torch = None
try:
    from sklearn._loss import loss as skloss
    from sklearn import metrics as skm
except ImportError:   # pragma: no cover
    skloss = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
needs_sklearn = pytest.mark.skipif(skloss is None, reason="scikit-learn is not installed")

DTYPES = (np.float32, np.float64)
REDUCTIONS = ("mean", "sum", "none")
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
reductions = pytest.mark.parametrize("reduction", REDUCTIONS)


def _t(a):
    return None if a is None else torch.from_numpy(np.array(a))   # 0-d stays 0-d


def _torch(fn, diff, *args, **kw):
    """fn(*diff, *args, **kw) by PyTorch: its value and the gradients of its sum with respect
    to each array of `diff` (a float in `diff` is passed as is, without a gradient)."""
    arr = (np.ndarray, np.generic)
    leaves = [torch.tensor(np.asarray(d), requires_grad=True) if isinstance(d, arr) else d
              for d in diff]
    out = fn(*leaves, *[_t(a) if isinstance(a, arr) else a for a in args],
             **{k: _t(v) if isinstance(v, arr) else v for k, v in kw.items()})
    out.sum().backward()
    grads = [leaf.grad.numpy() for leaf in leaves if isinstance(leaf, torch.Tensor)]
    return out.detach().numpy(), grads


def _residuals(rng, shape, dtype, scale=3.0):
    """input, target with residuals of every size: ordinary, tiny, and +-1e4."""
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    t = (rng.standard_normal(shape) * scale).astype(dtype)
    if x.size >= 4:
        flat_x, flat_t = x.reshape(-1), t.reshape(-1)
        flat_x[0], flat_t[0] = 1e4, -3.0
        flat_x[1], flat_t[1] = -1e4, 2.0
        flat_t[2] = flat_x[2]                     # a tie
        flat_t[3] = flat_x[3] + dtype(1e-3)       # tiny residual
    return x, t


SHAPES = [(), (13,), (6, 5), (3, 4, 5)]


def _sk_tweedie_terms(xx, tt, power):
    """The largest of the terms scikit-learn's HalfTweedieLoss (and its constant) add up,
    y^(2-p) / ((1-p)(2-p)), y mu^(1-p) / (1-p), mu^(2-p) / (2-p): near p = 1 or 2 they are
    large and cancel, and scikit-learn's value is only as accurate as they are large."""
    if power in (0.0, 1.0, 2.0):
        return 0.0
    mu = np.exp(xx)
    with np.errstate(all="ignore"):
        terms = (np.abs(tt ** (2 - power) / ((1 - power) * (2 - power))),
                 np.abs(tt * mu ** (1 - power) / (1 - power)), np.abs(mu ** (2 - power) / (2 - power)))
    return float(np.max(np.nan_to_num(np.maximum.reduce(terms), posinf=0.0), initial=0.0))


def _matches_sklearn_loss(loss, sk, x, t, dtype, sw, what, constant=False, **kw):
    """Per-sample values and gradients of `loss` against a sklearn._loss object, without
    and with sample weights (plus sk's constant_to_optimal_zero when `constant`)."""
    xx, tt = x.astype(np.float64), t.astype(np.float64)
    scale = _sk_tweedie_terms(xx, tt, kw["power"]) if "power" in kw else 0.0
    for s in (None, sw):
        ref = sk.loss(tt, xx, sample_weight=s)
        if constant:
            ref = ref + sk.constant_to_optimal_zero(tt, s)
        v, g = loss.value_and_grad(x, t, reduction="none",
                                   sample_weight=None if s is None else s.astype(dtype), **kw)
        assert_close(v, ref, dtype, "value " + what,
                     scale=scale * (1.0 if s is None else float(np.max(s, initial=0.0))))
        assert_close(g, sk.gradient(tt, xx, sample_weight=s), dtype, "grad " + what)


# ---------------------------------------------------------------------- huber_loss ----

@needs_torch
@dtypes
@reductions
def test_huber_matches_torch(dtype, reduction, rng):
    for shape, delta in itertools.product(SHAPES, [1.0, 0.3, 2.5, 1e-4, 1e5]):
        x, t = _residuals(rng, shape, dtype)
        for weight in (None, np.asarray(rng.random(shape), dtype)):
            kw = dict(reduction=reduction, delta=delta, weight=weight)
            v, g = fl.huber_loss.value_and_grad(x, t, **kw)
            vt, (gt,) = _torch(F.huber_loss, [x], t, **kw)
            assert_close(v, vt, dtype, f"value {shape} delta={delta}")
            assert_close(g, gt, dtype, f"grad {shape} delta={delta}")


@needs_torch
@dtypes
def test_huber_at_delta_matches_torch(dtype, rng):
    """|r| == delta exactly: value delta^2 / 2 from either piece, gradient +-delta."""
    x = (rng.integers(-20, 20, 40) * 0.25).astype(dtype)
    t = x + np.where(rng.random(40) < 0.5, -0.75, 0.75).astype(dtype)
    v, g = fl.huber_loss.value_and_grad(x, t, delta=0.75, reduction="none")
    vt, (gt,) = _torch(F.huber_loss, [x], t, delta=0.75, reduction="none")
    np.testing.assert_array_equal(v, vt)
    np.testing.assert_array_equal(g, gt)
    np.testing.assert_array_equal(v, np.full(40, 0.5 * 0.75 ** 2, dtype))


def test_huber_weighted_mean_divides_by_the_count(rng):
    """PyTorch 2.13's huber_loss divides a weighted mean by the element count (unlike its
    l1_loss and mse_loss, which divide by the weights' sum)."""
    x, t = rng.standard_normal((5, 4)) * 2, rng.standard_normal((5, 4))
    w = rng.random((5, 4))
    r = np.abs(x - t)
    per = np.where(r < 1.0, 0.5 * r * r, r - 0.5)
    for backend in ("cpu", "numpy"):
        v, g = fl.huber_loss.value_and_grad(x, t, weight=w, backend=backend)
        assert v == pytest.approx(np.sum(w * per) / 20, rel=1e-14)
        np.testing.assert_allclose(g, w * np.clip(x - t, -1, 1) / 20, rtol=1e-14)
        v = fl.huber_loss(x, t, weight=w, sample_weight=np.arange(1.0, 6.0), backend=backend)
        sw = np.arange(1.0, 6.0)[:, None]
        assert v == pytest.approx(np.sum(sw * w * per) / (15 * 4), rel=1e-14)


@needs_sklearn
@dtypes
def test_huber_matches_sklearn(dtype, rng):
    """sklearn's HuberLoss(delta=d) has the same per-sample value and gradient (its own
    delta is a fixed closs parameter; the quantile only matters to gradient boosting)."""
    x, t = _residuals(rng, 200, dtype)
    sw = rng.random(200)
    for delta in (0.5, 1.0, 3.0):
        _matches_sklearn_loss(fl.huber_loss, skloss.HuberLoss(delta=delta), x, t, dtype, sw,
                              f"delta={delta}", delta=delta)


# ------------------------------------------------------------------ smooth_l1_loss ----

@needs_torch
@dtypes
@reductions
def test_smooth_l1_matches_torch(dtype, reduction, rng):
    for shape, beta in itertools.product(SHAPES, [1.0, 0.0, 0.4, 3.0, 1e-5]):
        x, t = _residuals(rng, shape, dtype)
        kw = dict(reduction=reduction, beta=beta)
        v, g = fl.smooth_l1_loss.value_and_grad(x, t, **kw)
        vt, (gt,) = _torch(F.smooth_l1_loss, [x], t, **kw)
        assert_close(v, vt, dtype, f"value {shape} beta={beta}")
        assert_close(g, gt, dtype, f"grad {shape} beta={beta}")


@dtypes
def test_smooth_l1_beta0_is_l1_and_huber_over_beta(dtype, rng):
    x, t = _residuals(rng, (7, 6), dtype)
    for red in REDUCTIONS:
        v, g = fl.smooth_l1_loss.value_and_grad(x, t, beta=0.0, reduction=red)
        v1, g1 = fl.l1_loss.value_and_grad(x, t, reduction=red)
        np.testing.assert_array_equal(v, v1)
        np.testing.assert_array_equal(g, g1)
        # smooth_l1(beta) = huber(delta=beta) / beta
        v, g = fl.smooth_l1_loss.value_and_grad(x, t, beta=0.5, reduction=red)
        vh, gh = fl.huber_loss.value_and_grad(x, t, delta=0.5, reduction=red)
        assert_close(v, np.asarray(vh, np.float64) / 0.5, dtype, "value")
        assert_close(g, gh.astype(np.float64) / 0.5, dtype, "grad")


# ------------------------------------------------------------------- log_cosh_loss ----

@needs_torch
@dtypes
@reductions
def test_log_cosh_matches_torch_autograd_at_moderate_residuals(dtype, reduction, rng):
    """log(cosh(r)) by torch autograd, in float64, where cosh does not overflow."""
    for shape in SHAPES:
        x = (rng.standard_normal(shape) * 4).astype(dtype)
        t = (rng.standard_normal(shape) * 4).astype(dtype)
        sw = rng.random(shape[:1]).astype(dtype) if shape else None
        v, g = fl.log_cosh_loss.value_and_grad(x, t, reduction=reduction, sample_weight=sw)
        xt = torch.tensor(x.astype(np.float64), requires_grad=True)
        per = torch.log(torch.cosh(xt - _t(t.astype(np.float64))))
        if sw is not None:
            per = per * _t(sw.astype(np.float64)).reshape((-1,) + (1,) * (len(shape) - 1))
        out = {"mean": lambda p: p.sum() / (per.numel() if sw is None else
                                            float(sw.sum()) * (per.numel() // len(sw))),
               "sum": torch.sum, "none": lambda p: p}[reduction](per)
        out.sum().backward()
        assert_close(v, out.detach().numpy(), dtype, f"value {shape}")
        assert_close(g, xt.grad.numpy(), dtype, f"grad {shape}")


@dtypes
def test_log_cosh_extremes(dtype):
    """|r| - log 2 for large |r| (up to the float max: finite, never inf or NaN), r^2 / 2
    for tiny r, gradient +-1 and r, to the input's precision."""
    eps = np.finfo(dtype).eps
    fmax = np.finfo(dtype).max
    big = np.array([40.0, 1e4, 1e30, fmax], dtype)
    big = big[np.isfinite(big)]
    for sign in (1, -1):
        v, g = fl.log_cosh_loss.value_and_grad(sign * big, np.zeros_like(big),
                                               reduction="none")
        assert np.isfinite(v).all() and np.isfinite(g).all()
        np.testing.assert_allclose(v, big.astype(np.float64) - math.log(2.0), rtol=2 * eps)
        np.testing.assert_array_equal(g, np.full_like(big, sign))
    tiny = np.array([1e-30 if dtype == np.float64 else 1e-15, 1e-10, 1e-5, 1e-3], dtype)
    v, g = fl.log_cosh_loss.value_and_grad(tiny, np.zeros_like(tiny), reduction="none")
    r = tiny.astype(np.float64)
    z = r * r   # Taylor series, truncated below 1e-17 relative
    np.testing.assert_allclose(v, z * (1 / 2 - z * (1 / 12 - z * (1 / 45 - z * 17 / 2520))),
                               rtol=4 * eps)
    np.testing.assert_allclose(g, r * (1 - z * (1 / 3 - z * (2 / 15 - z * 17 / 315))),
                               rtol=4 * eps)
    assert fl.log_cosh_loss(np.zeros(3, dtype), np.zeros(3, dtype)) == 0


@dtypes
def test_log_cosh_is_accurate_across_the_branch_point(dtype):
    """The two forms meet at |r| = 1: the value and tanh agree with float64 libm there."""
    r = np.linspace(0.95, 1.05, 201)
    v, g = fl.log_cosh_loss.value_and_grad(r.astype(dtype), np.zeros(201, dtype),
                                           reduction="none")
    rr = r.astype(dtype).astype(np.float64)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(v, np.log(np.cosh(rr)), rtol=8 * eps)
    np.testing.assert_allclose(g, np.tanh(rr), rtol=4 * eps)


# -------------------------------------------------------------------- pinball_loss ----

@needs_sklearn
@dtypes
def test_pinball_matches_sklearn_loss(dtype, rng):
    """sklearn's PinballLoss(quantile): value and gradient per sample, -q at a tie."""
    x, t = _residuals(rng, 300, dtype)
    t[10:20] = x[10:20]   # ties
    sw = rng.random(300)
    for q in (0.5, 0.1, 0.9, 1e-6, 1 - 1e-6):
        _matches_sklearn_loss(fl.pinball_loss, skloss.PinballLoss(quantile=q), x, t, dtype, sw,
                              f"q={q}", quantile=q)
        g = fl.pinball_loss.grad(x[10:20], t[10:20], quantile=q, reduction="sum")
        np.testing.assert_array_equal(g, np.full(10, -q, dtype))


@needs_sklearn
@dtypes
def test_pinball_mean_matches_mean_pinball_loss(dtype, rng):
    for shape in [(50,), (20, 3)]:
        x = rng.standard_normal(shape).astype(dtype)
        t = rng.standard_normal(shape).astype(dtype)
        sw = rng.random(shape[0])
        for q, s in itertools.product((0.5, 0.25, 0.95), (None, sw)):
            v = fl.pinball_loss(x, t, quantile=q,
                                sample_weight=None if s is None else s.astype(dtype))
            ref = skm.mean_pinball_loss(t.astype(np.float64), x.astype(np.float64),
                                        alpha=q, sample_weight=s)
            assert_close(v, ref, dtype, f"{shape} q={q}")


def test_pinball_half_is_half_l1(rng):
    x, t = rng.standard_normal((9, 4)), rng.standard_normal((9, 4))
    v, g = fl.pinball_loss.value_and_grad(x, t, reduction="none")
    np.testing.assert_allclose(v, 0.5 * np.abs(x - t), rtol=1e-15)
    np.testing.assert_allclose(g, 0.5 * np.sign(x - t), rtol=1e-15)


# ---------------------------------------------------------------- poisson_nll_loss ----

@needs_torch
@dtypes
@reductions
def test_poisson_nll_matches_torch(dtype, reduction, rng):
    for shape, log_input, full, eps in itertools.product(
            [(13,), (6, 5), (3, 4, 5)], [True, False], [False, True], [1e-8, 1e-3, 0.5]):
        t = rng.poisson(2.0, shape).astype(np.float64)
        t[rng.random(shape) < 0.2] = 0.0
        t = np.where(rng.random(shape) < 0.2, rng.random(shape) * 3, t).astype(dtype)
        if log_input:
            x = (rng.standard_normal(shape) * 1.5).astype(dtype)
            x.reshape(-1)[:2] = (30.0, -30.0)
        else:
            x = (rng.random(shape) * 4).astype(dtype)
            x.reshape(-1)[0] = 0.0            # a zero rate: log(eps)
        kw = dict(log_input=log_input, full=full, eps=eps, reduction=reduction)
        v, g = fl.poisson_nll_loss.value_and_grad(x, t, **kw)
        vt, (gt,) = _torch(F.poisson_nll_loss, [x], t, **kw)
        what = f"{shape} log_input={log_input} full={full} eps={eps}"
        assert_close(v, vt, dtype, "value " + what)
        assert_close(g, gt, dtype, "grad " + what)


def test_poisson_nll_full_adds_stirling_where_target_exceeds_1(rng):
    x = rng.standard_normal(8)
    t = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 5.0, 10.0, 100.0])
    v0, g0 = fl.poisson_nll_loss.value_and_grad(x, t, reduction="none")
    v1, g1 = fl.poisson_nll_loss.value_and_grad(x, t, full=True, reduction="none")
    st = np.array([0.0 if k <= 1 else
                   k * math.log(k) - k + 0.5 * math.log(2 * math.pi * k) for k in t])
    np.testing.assert_allclose(v1 - v0, st, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(g0, g1)


# --------------------------------------------------------------- gaussian_nll_loss ----

def _var_shapes(shape):
    out = [shape, shape[:-1]]
    out += [shape[:k] + (1,) + shape[k + 1:] for k in range(len(shape))]
    return out


@needs_torch
@dtypes
@reductions
def test_gaussian_nll_matches_torch(dtype, reduction, rng):
    """Every var broadcast PyTorch takes; value, d_input and d_var (of var's own shape)."""
    for shape in [(13,), (6, 5), (3, 4, 5)]:
        x = (rng.standard_normal(shape) * 2).astype(dtype)
        t = (rng.standard_normal(shape) * 2).astype(dtype)
        for vshape, full, eps in itertools.product(_var_shapes(shape), [False, True],
                                                   [1e-6, 0.3]):
            var = (0.05 + rng.random(vshape)).astype(dtype)
            kw = dict(full=full, eps=eps, reduction=reduction)
            v, (gx, gv) = fl.gaussian_nll_loss.value_and_grad(x, t, var, **kw)
            vt, (gxt, gvt) = _torch(lambda a, b, *r, **k: F.gaussian_nll_loss(a, *r, b, **k),
                                    [x, var], t, **kw)
            what = f"{shape} var{vshape} full={full} eps={eps}"
            assert gv.shape == var.shape
            assert_close(v, vt, dtype, "value " + what)
            assert_close(gx, gxt, dtype, "d_input " + what)
            assert_close(gv, gvt, dtype, "d_var " + what)


@needs_torch
@dtypes
@reductions
def test_gaussian_nll_eps_clamp_matches_torch(dtype, reduction, rng):
    """var below eps is clamped to eps; PyTorch clamps without masking the gradient, so
    d_var there is the derivative at eps (not 0)."""
    x = rng.standard_normal((6, 5)).astype(dtype)
    t = rng.standard_normal((6, 5)).astype(dtype)
    var = (0.5 + rng.random((6, 5))).astype(dtype)
    var[0] = 1e-6
    var[1] = 1e-9
    var[2] = np.finfo(dtype).tiny
    for eps in (1e-6, 1e-3):
        v, (gx, gv) = fl.gaussian_nll_loss.value_and_grad(x, t, var, eps=eps,
                                                          reduction=reduction)
        vt, (gxt, gvt) = _torch(lambda a, b, *r, **k: F.gaussian_nll_loss(a, *r, b, **k),
                                [x, var], t, eps=eps, reduction=reduction)
        assert_close(v, vt, dtype, f"value eps={eps}")
        assert_close(gx, gxt, dtype, f"d_input eps={eps}")
        assert_close(gv, gvt, dtype, f"d_var eps={eps}")
        assert np.all(gv[1] != 0)


@needs_torch
@dtypes
def test_gaussian_nll_float_var_matches_torch(dtype, rng):
    """A float var (PyTorch's homoscedastic form); d_var is a 0-d array: the gradient of a
    var tensor filled with that float, summed."""
    x = rng.standard_normal((7, 3)).astype(dtype)
    t = rng.standard_normal((7, 3)).astype(dtype)
    for var, red in itertools.product([0.8, 2.5, 1e-8], REDUCTIONS):
        v, (gx, gv) = fl.gaussian_nll_loss.value_and_grad(x, t, var, reduction=red)
        vt = F.gaussian_nll_loss(_t(x), _t(t), var, reduction=red).numpy()
        full_var = np.full(x.shape, var, dtype)
        _, (gxt, gvt) = _torch(lambda a, b, *r, **k: F.gaussian_nll_loss(a, *r, b, **k),
                               [x, full_var], t, reduction=red)
        assert gv.shape == () and gv.dtype == dtype
        assert_close(v, vt, dtype, f"value var={var}")
        assert_close(gx, gxt, dtype, f"d_input var={var}")
        # a sum of terms of both signs: its rounding is relative to the terms
        assert_close(gv, gvt.astype(np.float64).sum(), dtype, f"d_var var={var}",
                     np.abs(gvt.astype(np.float64)).sum())


def test_gaussian_nll_0d_var_for_1d_input_matches_torch_unsqueeze(rng):
    """A 0-d var for a 1-D input is PyTorch's 'input shape without the last dimension'."""
    x, t = rng.standard_normal(9), rng.standard_normal(9)
    v, (gx, gv) = fl.gaussian_nll_loss.value_and_grad(x, t, np.asarray(0.7))
    v2, (gx2, gv2) = fl.gaussian_nll_loss.value_and_grad(x, t, np.full(9, 0.7))
    assert v == pytest.approx(v2, rel=1e-15)
    np.testing.assert_allclose(gx, gx2, rtol=1e-15)
    assert gv.shape == () and gv == pytest.approx(gv2.sum(), rel=1e-13)
    if torch is not None:
        vt, (gxt, gvt) = _torch(lambda a, b, *r: F.gaussian_nll_loss(a, *r, b),
                                [x, np.asarray(0.7)], t)
        assert v == pytest.approx(float(vt), rel=1e-14)
        assert gv == pytest.approx(float(gvt), rel=1e-13)


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_gaussian_nll_out_with_broadcast_var(backend, rng):
    """out= takes one array per gradient, d_var of var's shape; var itself may be overwritten
    by its gradient."""
    x, t = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    var = 0.5 + rng.random(5)
    v0, (gx0, gv0) = fl.gaussian_nll_loss.value_and_grad(x, t, var, backend=backend)
    out = (np.empty((5, 4)), np.empty(5))
    v, g = fl.gaussian_nll_loss.value_and_grad(x, t, var, out=out, backend=backend)
    assert g is out and v == v0
    np.testing.assert_array_equal(out[0], gx0)
    np.testing.assert_array_equal(out[1], gv0)
    xx, vv = x.copy(), var.copy()
    fl.gaussian_nll_loss.value_and_grad(xx, t, vv, out=(xx, vv), backend=backend)
    np.testing.assert_array_equal(xx, gx0)
    np.testing.assert_array_equal(vv, gv0)


# ---------------------------------------------------------- tweedie_deviance_loss ----

SK_POWERS = [0.0, 1.0, 2.0, 1.5, 3.0, -1.0, 1.2, 2.5, -0.5, 1.0001, 1.9999]


def _tweedie_data(rng, n, power, dtype):
    x = (rng.standard_normal(n) * 1.5).astype(dtype)
    if power <= 0:
        t = rng.standard_normal(n) * 3
    else:
        t = rng.gamma(2.0, 1.5, n)
        if power < 2:
            t[rng.random(n) < 0.2] = 0.0
    return x, t.astype(dtype)


def _sk_tweedie(power):
    special = {1.0: skloss.HalfPoissonLoss, 2.0: skloss.HalfGammaLoss}
    return special[power]() if power in special else skloss.HalfTweedieLoss(power=power)


@needs_sklearn
@dtypes
@pytest.mark.parametrize("power", SK_POWERS)
def test_tweedie_matches_sklearn_loss(power, dtype, rng):
    """HalfTweedieLoss(power) (HalfPoissonLoss, HalfGammaLoss at 1 and 2) plus its
    constant_to_optimal_zero, and its gradient, per sample, with sample weights."""
    x, t = _tweedie_data(rng, 400, power, dtype)
    sw = rng.random(400)
    for sk in (_sk_tweedie(power), skloss.HalfTweedieLoss(power=power)):
        _matches_sklearn_loss(fl.tweedie_deviance_loss, sk, x, t, dtype, sw,
                              type(sk).__name__, constant=True, power=power)


@needs_sklearn
@dtypes
@pytest.mark.parametrize("power", SK_POWERS)
def test_tweedie_mean_is_half_mean_tweedie_deviance(power, dtype, rng):
    x, t = _tweedie_data(rng, 300, power, dtype)
    mu, tt = np.exp(x.astype(np.float64)), t.astype(np.float64)
    sw = rng.random(300)
    for s in (None, sw):
        v = fl.tweedie_deviance_loss(x, t, power=power,
                                     sample_weight=None if s is None else s.astype(dtype))
        assert_close(v, skm.mean_tweedie_deviance(tt, mu, power=power, sample_weight=s) / 2,
                     dtype, "mean_tweedie_deviance")
        named = {1.0: skm.mean_poisson_deviance, 2.0: skm.mean_gamma_deviance}.get(power)
        if named is not None:
            assert_close(v, named(tt, mu, sample_weight=s) / 2, dtype, named.__name__)


@needs_sklearn
@pytest.mark.parametrize("power", [-2.0, -1.0, 0.0, 1.0, 1.5, 2.0, 3.0])
def test_tweedie_target_domain_is_sklearns(power):
    for target in (-1.0, 0.0, 2.0):
        ok = _sk_tweedie(power).in_y_true_range(np.array([target]))
        x, t = np.zeros(3), np.array([1.0, target, 1.0])
        if ok:
            assert np.isfinite(fl.tweedie_deviance_loss(x, t, power=power))
        else:
            with pytest.raises(ValueError, match="^target"):
                fl.tweedie_deviance_loss(x, t, power=power)


@pytest.mark.parametrize("power", [0.5, 0.01, 0.99])
def test_tweedie_power_between_0_and_1_raises(power):
    with pytest.raises(ValueError, match="^power"):
        fl.tweedie_deviance_loss(np.zeros(3), np.ones(3), power=power)


@dtypes
@pytest.mark.parametrize("exact,delta", [(1.0, 1e-7), (1.0, 1e-12), (2.0, 1e-7),
                                         (2.0, -1e-7), (0.0, -1e-7), (1.0, 1e-3)])
def test_tweedie_is_continuous_in_power(exact, delta, dtype, rng):
    """The general formula next to powers 0, 1 and 2 agrees with their exact special cases
    (it has no 1/(1-p) or 1/(2-p) blow-up), also in float32."""
    x, t = _tweedie_data(rng, 500, exact + 0.5, dtype)
    t = np.abs(t) + dtype(0.01)
    v, g = fl.tweedie_deviance_loss.value_and_grad(x, t, power=exact + delta, reduction="none")
    v0, g0 = fl.tweedie_deviance_loss.value_and_grad(x.astype(np.float64), t.astype(np.float64),
                                                     power=exact, reduction="none")
    tol = 10 * abs(delta) + 50 * RTOL[np.dtype(dtype)]
    assert np.max(np.abs(v - v0)) <= tol * np.max(v0)
    assert np.max(np.abs(g - g0)) <= tol * np.max(np.abs(g0))


@dtypes
@pytest.mark.parametrize("power", [0.0, 1.0, 2.0, 1.5, 3.0, -1.0])
def test_tweedie_is_zero_at_the_optimum(power, dtype, rng):
    t = rng.gamma(2.0, 2.0, 50).astype(dtype) + dtype(0.1)
    x = np.log(t.astype(np.float64)).astype(dtype)
    v, g = fl.tweedie_deviance_loss.value_and_grad(x, t, power=power, reduction="none")
    # x is log t rounded: the value is of the order of t^(2-p) ulp(x)^2, the gradient of
    # t^(2-p) ulp(x)
    scale = t.astype(np.float64) ** (2 - power) * (1 + np.abs(x))
    eps = np.finfo(dtype).eps
    assert np.all(np.abs(v) <= 16 * eps * eps * scale * (1 + np.abs(x)))
    assert np.all(np.abs(g) <= 4 * eps * scale)


@dtypes
@pytest.mark.parametrize("power", [0.0, 1.0, 2.0, 1.5, 3.0, -1.0, 1.2, 4.0, -0.5])
def test_tweedie_extremes_give_no_nan(power, dtype, rng):
    """Raw predictions of +-1e4 (and +-50): the value is finite or +inf, the gradient finite
    or +-inf, never NaN; with the sign the math gives."""
    for xv in (1e4, -1e4, 50.0, -50.0):
        x = np.full(20, xv, dtype)
        _, t = _tweedie_data(rng, 20, power, dtype)
        cases = [t] + ([np.zeros(20, dtype)] if power < 2 else [])
        for tt in cases:
            v, g = fl.tweedie_deviance_loss.value_and_grad(x, tt, power=power,
                                                           reduction="none")
            with np.errstate(over="ignore"):   # float64 values beyond float32's range
                vr, gr = fl.tweedie_deviance_loss.value_and_grad(x, tt, power=power,
                                                                 reduction="none",
                                                                 backend="numpy")
            assert not np.isnan(v).any() and not np.isnan(g).any(), (xv, power)
            assert (v >= 0).all()
            # (values that underflow into the subnormals keep only absolute accuracy)
            tiny = np.finfo(dtype).tiny
            assert_close(v, vr, dtype, f"value x={xv}", scale=tiny)
            assert_close(g, gr, dtype, f"grad x={xv}", scale=tiny)
