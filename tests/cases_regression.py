"""Test cases of the regression losses (see cases.py for what each name holds)."""
import itertools

import numpy as np

import fastloss as fl
from badinput import on_backend

SHAPES = [(37,), (8, 13), (4, 3, 5), ()]


def _real(rng, shape, dtype, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _pos(rng, shape, dtype, low=0.1):
    return (low + rng.random(shape)).astype(dtype)


def _sid(shape):
    return "x".join(map(str, shape)) or "scalar"


def _counts(rng, shape, dtype):
    """Poisson-like counts with zeros, ones and fractional values in (0, 1] and > 1."""
    t = rng.poisson(2.0, shape).astype(np.float64)
    frac = rng.random(shape) < 0.2
    t = np.where(frac, rng.random(shape) * 3.0, t)
    return t.astype(dtype)


def _weight_variants(rng, shape, dtype, same_shape_weight):
    """kwargs with and without sample weights (and PyTorch's same-shape weight)."""
    yield "", {}
    if same_shape_weight:
        yield "-w", {"weight": rng.random(shape).astype(dtype)}
    if shape:
        yield "-sw", {"sample_weight": rng.random(shape[0]).astype(dtype)}
        if same_shape_weight:
            yield "-w-sw", {"weight": rng.random(shape).astype(dtype),
                            "sample_weight": rng.random(shape[0]).astype(dtype)}


def _residual_cases(dtype, rng, same_shape_weight, params):
    """Random cases over shapes x weights x one parameter's values, for the losses of a
    residual input - target."""
    name, values = params
    for shape in SHAPES:
        x, t = _real(rng, shape, dtype), _real(rng, shape, dtype)
        for (wid, kw), v in itertools.product(
                list(_weight_variants(rng, shape, dtype, same_shape_weight)), values):
            kw = dict(kw)
            if name:
                kw[name] = v
            yield f"{_sid(shape)}{wid}-{name}{v}", (x, t), kw
    x = _real(rng, (6, 5), dtype)
    yield "ties", (x, x.copy()), {}
    yield "int-target", (x, rng.integers(-3, 3, (6, 5))), {}
    yield "empty", (x[:0], x[:0]), {}
    yield "zero-sw", (x, x + 1), {"sample_weight": np.zeros(6, dtype)}
    big = (rng.choice([-1.0, 1.0], (6, 5)) * 1e4).astype(dtype)
    yield "r1e4", (big, _real(rng, (6, 5), dtype)), {}
    yield "large", (_real(rng, (50, 1500), dtype), _real(rng, (50, 1500), dtype)), {}


# ----------------------------------------------------------------------- l1_loss ----

def l1_cases(dtype, rng):
    yield from _residual_cases(dtype, rng, True, ("", [None]))


def l1_small(rng):
    x = rng.standard_normal((4, 3))
    yield (x, rng.standard_normal((4, 3))), {"sample_weight": 0.5 + rng.random(4)}
    yield (x, rng.standard_normal((4, 3))), {"weight": rng.random((4, 3))}
    yield (rng.standard_normal(5), rng.standard_normal(5)), {}


# -------------------------------------------------------------------- huber_loss ----

def huber_cases(dtype, rng):
    yield from _residual_cases(dtype, rng, True, ("delta", [1.0, 0.3, 5.0]))
    x = (rng.integers(-8, 8, (6, 5)) * 0.25).astype(dtype)
    for delta in (0.5, 1.0):
        # |r| == delta exactly: both pieces give delta^2 / 2, the gradient +-delta
        yield f"at-delta{delta}", (x, x + np.where(rng.random((6, 5)) < 0.5, -delta, delta)
                                   .astype(dtype)), {"delta": delta}
    for delta in (1e-6, 1e6):
        yield f"delta{delta}", (x, _real(rng, (6, 5), dtype)), {
            "delta": delta, "weight": rng.random((6, 5)).astype(dtype)}
    big = (rng.choice([-1.0, 1.0], (6, 5)) * 1e4).astype(dtype)
    yield "r1e4-w", (big, x), {"delta": 2.0, "weight": rng.random((6, 5)).astype(dtype)}
    yield "zero-weight", (x, x + 1), {"weight": np.zeros((6, 5), dtype)}


def huber_small(rng):
    x = rng.standard_normal((4, 3)) * 2
    yield (x, rng.standard_normal((4, 3))), {"sample_weight": 0.5 + rng.random(4),
                                             "delta": 0.7}
    yield (x, rng.standard_normal((4, 3))), {"weight": rng.random((4, 3)), "delta": 1.5}
    yield (rng.standard_normal(5) * 3, rng.standard_normal(5)), {}


# ---------------------------------------------------------------- smooth_l1_loss ----

def smooth_l1_cases(dtype, rng):
    yield from _residual_cases(dtype, rng, False, ("beta", [1.0, 0.0, 0.4]))
    x = (rng.integers(-8, 8, (6, 5)) * 0.25).astype(dtype)
    yield "at-beta", (x, x + np.where(rng.random((6, 5)) < 0.5, -0.5, 0.5).astype(dtype)), {
        "beta": 0.5}
    for beta in (1e-6, 1e4):
        yield f"beta{beta}", (x, _real(rng, (6, 5), dtype)), {"beta": beta}
    yield "beta0-ties", (x, x.copy()), {"beta": 0.0}


def smooth_l1_small(rng):
    x = rng.standard_normal((4, 3)) * 2
    yield (x, rng.standard_normal((4, 3))), {"sample_weight": 0.5 + rng.random(4), "beta": 0.6}
    yield (x, rng.standard_normal((4, 3))), {"beta": 0.0}
    yield (rng.standard_normal(5), rng.standard_normal(5)), {"beta": 2.0}


# ----------------------------------------------------------------- log_cosh_loss ----

def log_cosh_cases(dtype, rng):
    yield from _residual_cases(dtype, rng, False, ("", [None]))
    fmax = float(np.finfo(dtype).max) / 4   # (the harness sums |expected| + max)
    r = np.array([0.0, 1e-30, 1e-10, 1e-4, 0.3, 0.999, 1.0, 1.001, 3.0, 30.0, 1e4, 1e30,
                  fmax, np.inf])
    r = np.concatenate([r, -r]).astype(dtype)
    yield "extremes", (r, np.zeros_like(r)), {}
    yield "extremes-shifted", (r[:12] + dtype(2.5), np.full(12, 2.5, dtype)), {}
    yield "around1", (np.linspace(0.9, 1.1, 41).astype(dtype), np.zeros(41, dtype)), {}


def log_cosh_small(rng):
    x = rng.standard_normal((4, 3)) * 2
    yield (x, rng.standard_normal((4, 3))), {"sample_weight": 0.5 + rng.random(4)}
    yield (rng.standard_normal(6) * 0.3, np.zeros(6)), {}
    yield (np.array([0.999, 1.001, -0.999, -1.001, 40.0]), np.zeros(5)), {}


# ------------------------------------------------------------------ pinball_loss ----

def pinball_cases(dtype, rng):
    yield from _residual_cases(dtype, rng, False, ("quantile", [0.5, 0.1, 0.9]))
    x = _real(rng, (6, 5), dtype)
    for q in (1e-6, 1 - 1e-6):
        yield f"q{q}", (x, _real(rng, (6, 5), dtype)), {"quantile": q}
        t = x.copy()
        t[::2] += 1
        yield f"q{q}-ties", (x, t), {"quantile": q}


def pinball_small(rng):
    x = rng.standard_normal((4, 3)) * 2
    yield (x, rng.standard_normal((4, 3))), {"sample_weight": 0.5 + rng.random(4),
                                             "quantile": 0.3}
    yield (x, rng.standard_normal((4, 3))), {"quantile": 0.9}
    yield (rng.standard_normal(5), rng.standard_normal(5)), {}


# -------------------------------------------------------------- poisson_nll_loss ----

def poisson_cases(dtype, rng):
    for shape in SHAPES:
        xl = _real(rng, shape, dtype, 1.5)
        xr = _pos(rng, shape, dtype, 0.0) * 4       # rates, for log_input=False
        t = _counts(rng, shape, dtype)
        if not shape:
            # one value: keep the value and the gradient away from cancelling to 0 (the
            # relative comparison of a lone value has no larger values to scale by)
            t = dtype(rng.random() * 2)
            xl = dtype(2 + rng.random())
            xr = dtype(t + 1 + rng.random())
        for (wid, kw), log_input, full in itertools.product(
                list(_weight_variants(rng, shape, dtype, False)), [True, False],
                [False, True]):
            x = xl if log_input else xr
            yield (f"{_sid(shape)}{wid}-log{log_input}-full{full}", (x, t),
                   dict(kw, log_input=log_input, full=full))
    x = _real(rng, (6, 5), dtype)
    t = _counts(rng, (6, 5), dtype)
    for eps in (1e-3, 1.0):
        yield f"eps{eps}", (_pos(rng, (6, 5), dtype, 0.0), t), {"log_input": False,
                                                                "eps": eps, "full": True}
    yield "rate0", (np.zeros((6, 5), dtype), t), {"log_input": False}
    yield "target0", (x, np.zeros((6, 5), dtype)), {"full": True}
    yield "target0-rate", (_pos(rng, (6, 5), dtype), np.zeros((6, 5), dtype)), {
        "log_input": False, "full": True}
    yield "target-at-1", (x, np.ones((6, 5), dtype)), {"full": True}
    yield "large-counts", (x + dtype(5), rng.poisson(150.0, (6, 5)).astype(dtype)), {
        "full": True}
    big = (rng.choice([-1.0, 1.0], (6, 5)) * 1e4).astype(dtype)
    yield "x1e4", (big, t), {"full": True}
    yield "int-target", (x, rng.integers(0, 5, (6, 5))), {}
    yield "empty", (x[:0], t[:0]), {}
    yield "large", (_real(rng, (50, 1500), dtype), _counts(rng, (50, 1500), dtype)), {}


def poisson_small(rng):
    x = rng.standard_normal((4, 3))
    t = rng.poisson(2.0, (4, 3)) + rng.random((4, 3))
    yield (x, t), {"sample_weight": 0.5 + rng.random(4)}
    yield (x, t), {"full": True}
    r = 0.5 + rng.random((4, 3))
    yield (r, t), {"log_input": False}
    yield (r, t), {"log_input": False, "full": True, "eps": 0.1,
                   "sample_weight": 0.5 + rng.random(4)}


# ------------------------------------------------------------- gaussian_nll_loss ----

def _var_shapes(shape):
    """The var shapes PyTorch takes for an input shape: its own, without the last
    dimension, and with one dimension of size 1."""
    out = {"full": shape}
    if shape:
        out["nolast"] = shape[:-1]
        for k in range(len(shape)):
            out[f"one{k}"] = shape[:k] + (1,) + shape[k + 1:]
    return out


def gaussian_cases(dtype, rng):
    for shape in SHAPES:
        x, t = _real(rng, shape, dtype), _real(rng, shape, dtype)
        for (vid, vshape), (wid, kw), full in itertools.product(
                _var_shapes(shape).items(), list(_weight_variants(rng, shape, dtype, False)),
                [False, True]):
            var = _pos(rng, vshape, dtype)
            if not shape:
                # one value: log var >= 0 and r^2 >= 4 var, so that neither the value nor
                # d/dvar = (1/v - r^2/v^2) / 2 cancels to 0
                var = dtype(1 + rng.random())
                x = dtype(t + (2 + rng.random()) * np.sqrt(var))
            yield f"{_sid(shape)}-var{vid}{wid}-full{full}", (x, t, var), dict(kw, full=full)
        yield f"{_sid(shape)}-float-var", (x, t, 0.7), {}
    x, t = _real(rng, (6, 5), dtype), _real(rng, (6, 5), dtype)
    var = _pos(rng, (6, 5), dtype)
    var[0] = 1e-6          # at eps
    var[1] = 1e-8          # below eps: clamped, gradient not masked
    var[2, :] = np.finfo(dtype).tiny
    yield "var-at-below-eps", (x, t, var), {}
    yield "var-below-eps-broadcast", (x, t, np.full(6, 1e-9, dtype)), {}
    for eps in (1e-3, 0.5):
        yield f"eps{eps}", (x, t, var), {"eps": eps, "full": True}
    yield "float-var-below-eps", (x, t, 1e-9), {}
    yield "int-var", (x, t, rng.integers(1, 4, (6, 5))), {}
    yield "0d-var-1d-input", (x[0], t[0], np.asarray(0.5, dtype)), {}
    big = (rng.choice([-1.0, 1.0], (6, 5)) * 1e4).astype(dtype)
    yield "r1e4", (big, t, var), {}
    yield "var-large", (x, t, np.full((6, 5), 1e6, dtype)), {}
    yield "empty", (x[:0], t[:0], var[:0]), {}
    yield "empty-nolast", (x[:0], t[:0], var[:0, 0]), {}
    yield "large", (_real(rng, (50, 1500), dtype), _real(rng, (50, 1500), dtype),
                    _pos(rng, (50, 1), dtype)), {}


def gaussian_small(rng):
    x = rng.standard_normal((4, 3))
    t = rng.standard_normal((4, 3))
    yield (x, t, 0.5 + rng.random((4, 3))), {"sample_weight": 0.5 + rng.random(4)}
    yield (x, t, 0.5 + rng.random(4)), {"full": True}          # var (N,) for (N, D)
    yield (x, t, 0.5 + rng.random((1, 3))), {"sample_weight": 0.5 + rng.random(4)}
    yield (x, t, 0.5 + rng.random((4, 1))), {}
    xx = rng.standard_normal((2, 3, 2))
    yield (xx, rng.standard_normal((2, 3, 2)), 0.5 + rng.random((2, 1, 2))), {}
    yield (x, t, 1.3), {}


# --------------------------------------------------------- tweedie_deviance_loss ----

POWERS = [1.5, 0.0, 1.0, 2.0, 3.0, -1.0, 1.2, 2.5]


def _tweedie_target(rng, shape, dtype, p):
    if p <= 0:
        return _real(rng, shape, dtype, 2.0)
    t = rng.gamma(2.0, 1.0, shape)
    if p < 2:
        t = np.where(rng.random(shape) < 0.2, 0.0, t)
    return t.astype(dtype)


def tweedie_cases(dtype, rng):
    for shape, p in itertools.product(SHAPES, POWERS):
        x = _real(rng, shape, dtype, 1.0)
        t = _tweedie_target(rng, shape, dtype, p)
        if not shape:
            # one value: x at least 0.5 away from the optimum log t, where the deviance
            # and its gradient vanish (a lone value has no larger values to scale by)
            t = np.abs(t) + dtype(0.5)
            x = dtype(np.log(t) + rng.choice([-1, 1]) * (0.5 + rng.random()))
        for wid, kw in _weight_variants(rng, shape, dtype, False):
            yield f"{_sid(shape)}{wid}-p{p}", (x, t), dict(kw, power=p)
    x = _real(rng, (6, 5), dtype, 1.0)
    big = (rng.choice([-1.0, 1.0], (6, 5)) * 1e4).astype(dtype)
    for p in POWERS + [-0.5, 1.0 + 1e-9, 2.0 - 1e-9, 4.0]:
        yield f"x1e4-p{p}", (big, _tweedie_target(rng, (6, 5), dtype, p)), {"power": p}
        if p < 2:
            yield f"x1e4-target0-p{p}", (big, np.zeros((6, 5), dtype)), {"power": p}
            yield f"target0-p{p}", (x, np.zeros((6, 5), dtype)), {"power": p}
    yield "negative-target-p-1", (x, -np.abs(_real(rng, (6, 5), dtype))), {"power": -1.0}
    yield "negative-target-p0", (x, -np.abs(_real(rng, (6, 5), dtype))), {"power": 0.0}
    yield "int-target", (x, rng.integers(1, 5, (6, 5))), {"power": 2.5}
    yield "empty", (x[:0], x[:0]), {}
    yield "large", (_real(rng, (50, 1500), dtype, 1.0),
                    _tweedie_target(rng, (50, 1500), dtype, 1.5)), {}


def tweedie_small(rng):
    x = rng.standard_normal((4, 3))
    t = rng.gamma(2.0, 1.0, (4, 3))
    yield (x, t), {"sample_weight": 0.5 + rng.random(4)}
    for p in (0.0, 1.0, 2.0, 3.0, -1.0, 1.3):
        yield (x, t), {"power": p}


# ------------------------------------------------------------------- robust_loss ----

# the special shapes and the points around them where a naive form loses its digits
ALPHAS = [0.0, 1e-6, -1e-6, 1.0, 2.0, 2.0 - 1e-4, 2.0 + 1e-4, -2.0, 1.5, 0.5, -5.0, 4.0,
          -np.inf, np.inf, -40.0]


def robust_cases(dtype, rng):
    for shape in SHAPES:
        x = _real(rng, shape, dtype)
        for a in ALPHAS:
            for wid, kw in _weight_variants(rng, shape, dtype, False):
                yield f"{_sid(shape)}{wid}-a{a}", (x, a, 1.3), kw
    x = _real(rng, (8, 13), dtype)
    # per-channel, per-sample, full and 0-d alpha / scale
    yield "alpha-col", (x, (rng.random(13) * 4 - 2).astype(dtype), 0.8), {}
    yield "scale-col", (x, 1.0, _pos(rng, 13, dtype)), {"sample_weight": _pos(rng, 8, dtype)}
    yield "both-col", (x, (rng.random(13) * 2).astype(dtype), _pos(rng, 13, dtype)), {}
    yield "alpha-row", (x, (rng.random((8, 1)) * 3 - 1).astype(dtype), 2.0), {}
    yield "both-full", (x, (rng.random((8, 13)) * 6 - 3).astype(dtype),
                        _pos(rng, (8, 13), dtype)), {}
    yield "0d", (x, np.asarray(0.5, dtype), np.asarray(2.0, dtype)), {}
    yield "int-alpha", (x, rng.integers(-2, 3, 13), 1.0), {}
    x3 = _real(rng, (4, 3, 5), dtype)
    yield "3d-alpha-mid", (x3, (rng.random((3, 1)) * 2).astype(dtype), 1.5), {}
    yield "3d-scale-ends", (x3, 1.0, _pos(rng, (4, 1, 5), dtype)), {}
    yield "3d-both-lead", (x3, (rng.random((1, 3, 5)) * 2).astype(dtype),
                           _pos(rng, (1, 1, 5), dtype)), {}
    tiny = (rng.standard_normal((6, 5)) * 1e-3).astype(dtype)
    for a in (0.0, 1.0, 1.99, -3.0):
        yield f"tiny-residual-a{a}", (tiny, a, 1.0), {}
        yield f"x1e4-a{a}", ((rng.choice([-1.0, 1.0], (6, 5)) * 1e4).astype(dtype), a, 1.0), {}
        yield f"small-scale-a{a}", (_real(rng, (6, 5), dtype), a, 1e-3), {}
    yield "zeros", (np.zeros((6, 5), dtype), 1.0, 1.0), {}
    yield "empty", (x[:0], 1.0, 1.0), {}
    yield "empty-col", (x[:0], (rng.random(13)).astype(dtype), 1.0), {}


def _alphas_off_two(rng, shape):
    """Shapes alpha in [-4, 1.5] or [2.5, 5]: d rho / d alpha has a log singularity at 2,
    where central differences of step 1e-6 are no longer accurate to 1e-6."""
    a = rng.random(shape) * 5.5 - 4
    return np.where(rng.random(shape) < 0.25, 2.5 + rng.random(shape) * 2.5, a)


def robust_small(rng):
    x = rng.standard_normal((4, 3)) * 2
    yield (x, _alphas_off_two(rng, 3), 0.5 + rng.random(3)), \
        {"sample_weight": 0.5 + rng.random(4)}
    yield (x, 0.7, 1.3), {"sample_weight": 0.5 + rng.random(4)}
    yield (x, _alphas_off_two(rng, (4, 3)), 0.5 + rng.random((4, 3))), {}
    yield (x, _alphas_off_two(rng, (4, 1)), 1.0), {}
    for a in (0.0, 1.0, -2.0, 1.9, -30.0, 5.0):
        yield (x, a, 0.9), {}
    yield (rng.standard_normal((2, 3, 2)), rng.random((3, 1)) * 1.5, 0.5 + rng.random(2)), {}


# ------------------------------------------------------------------------ tables ----

def _large(make_target=None, **kw):
    def large(dtype, rng):
        x = _real(rng, (300, 700), dtype, 1.0)
        t = make_target(rng, dtype) if make_target else _real(rng, (300, 700), dtype)
        return (x, t), kw
    return large


CASES = {
    "l1_loss": l1_cases,
    "huber_loss": huber_cases,
    "smooth_l1_loss": smooth_l1_cases,
    "log_cosh_loss": log_cosh_cases,
    "pinball_loss": pinball_cases,
    "poisson_nll_loss": poisson_cases,
    "gaussian_nll_loss": gaussian_cases,
    "tweedie_deviance_loss": tweedie_cases,
    "robust_loss": robust_cases,
}
SMALL = {
    "l1_loss": l1_small,
    "huber_loss": huber_small,
    "smooth_l1_loss": smooth_l1_small,
    "log_cosh_loss": log_cosh_small,
    "pinball_loss": pinball_small,
    "poisson_nll_loss": poisson_small,
    "gaussian_nll_loss": gaussian_small,
    "tweedie_deviance_loss": tweedie_small,
    "robust_loss": robust_small,
}
LARGE = {
    "l1_loss": _large(),
    "huber_loss": _large(delta=0.5),
    "smooth_l1_loss": _large(beta=0.5),
    "log_cosh_loss": _large(),
    "pinball_loss": _large(quantile=0.2),
    "poisson_nll_loss": _large(lambda rng, dt: _counts(rng, (300, 700), dt), full=True),
    "gaussian_nll_loss": lambda dtype, rng: ((_real(rng, (300, 700), dtype),
                                              _real(rng, (300, 700), dtype),
                                              _pos(rng, (300, 700), dtype)), {"full": True}),
    "tweedie_deviance_loss": _large(lambda rng, dt: _tweedie_target(rng, (300, 700), dt, 1.5)),
    "robust_loss": lambda dtype, rng: ((_real(rng, (300, 700), dtype),
                                        (rng.random(700) * 3 - 1).astype(dtype),
                                        _pos(rng, 700, dtype)), {}),
}

L1, HUBER, SL1 = on_backend(fl.l1_loss), on_backend(fl.huber_loss), on_backend(fl.smooth_l1_loss)
PIN, POIS = on_backend(fl.pinball_loss), on_backend(fl.poisson_nll_loss)
GAUSS, TW = on_backend(fl.gaussian_nll_loss), on_backend(fl.tweedie_deviance_loss)
LC = on_backend(fl.log_cosh_loss)
RB = on_backend(fl.robust_loss)
_X = np.random.default_rng(3).standard_normal((6, 4))
_T = np.abs(_X) + 1
_V = np.ones((6, 4))
BAD = [
    ("l1-target-shape", lambda: L1(_X, _X[:3]), ValueError, "target"),
    ("l1-sw-shape", lambda: L1(_X, _X, sample_weight=np.ones(5)), ValueError, "sample_weight"),
    ("l1-weight-shape", lambda: L1(_X, _X, weight=np.ones(4)), ValueError, "weight"),
    ("l1-weight-negative", lambda: L1(_X, _X, weight=-np.ones((6, 4))), ValueError, "weight"),
    ("huber-delta-0", lambda: HUBER(_X, _X, delta=0.0), ValueError, "delta"),
    ("huber-delta-negative", lambda: HUBER(_X, _X, delta=-1.0), ValueError, "delta"),
    ("huber-delta-nan", lambda: HUBER(_X, _X, delta=np.nan), ValueError, "delta"),
    ("huber-weight-shape", lambda: HUBER(_X, _X, weight=np.ones(4)), ValueError, "weight"),
    ("huber-weight-nan", lambda: HUBER(_X, _X, weight=np.full((6, 4), np.nan)), ValueError,
     "weight"),
    ("huber-target-shape", lambda: HUBER(_X, _X[:, :2]), ValueError, "target"),
    ("smooth-l1-beta-negative", lambda: SL1(_X, _X, beta=-0.5), ValueError, "beta"),
    ("smooth-l1-beta-str", lambda: SL1(_X, _X, beta="1"), TypeError, "beta"),
    ("log-cosh-target-dtype", lambda: LC(_X, _X.astype(str)), TypeError, "target"),
    ("log-cosh-sw-negative", lambda: LC(_X, _X, sample_weight=-np.ones(6)), ValueError,
     "sample_weight"),
    ("pinball-q0", lambda: PIN(_X, _X, quantile=0.0), ValueError, "quantile"),
    ("pinball-q1", lambda: PIN(_X, _X, quantile=1.0), ValueError, "quantile"),
    ("pinball-q-above", lambda: PIN(_X, _X, 1.5), ValueError, "quantile"),
    ("poisson-target-negative", lambda: POIS(_X, -_T), ValueError, "target"),
    ("poisson-target-negative-float32", lambda: POIS(_X.astype(np.float32), _X), ValueError,
     "target"),
    ("poisson-eps-0", lambda: POIS(_X, _T, eps=0.0), ValueError, "eps"),
    ("poisson-log-input-not-bool", lambda: POIS(_X, _T, log_input=1), TypeError, "log_input"),
    ("gaussian-var-negative", lambda: GAUSS(_X, _X, -_V), ValueError, "var"),
    ("gaussian-var-zero", lambda: GAUSS(_X, _X, 0 * _V), ValueError, "var"),
    ("gaussian-var-zero-float32", lambda: GAUSS(_X.astype(np.float32), _X, 0 * _V),
     ValueError, "var"),
    ("gaussian-var-underflow-float32", lambda: GAUSS(_X.astype(np.float32), _X, 1e-50 * _V),
     ValueError, "var"),
    ("gaussian-var-float-zero", lambda: GAUSS(_X, _X, 0.0), ValueError, "var"),
    ("gaussian-var-float-negative", lambda: GAUSS(_X, _X, -1.0), ValueError, "var"),
    ("gaussian-var-shape", lambda: GAUSS(_X, _X, np.ones(4)), ValueError, "var"),
    ("gaussian-var-shape-two-ones", lambda: GAUSS(_X, _X, np.ones((1, 1))), ValueError, "var"),
    ("gaussian-var-shape-transposed", lambda: GAUSS(_X, _X, np.ones((4, 6))), ValueError,
     "var"),
    ("gaussian-var-bool", lambda: GAUSS(_X, _X, True), TypeError, "var"),
    ("gaussian-var-dtype", lambda: GAUSS(_X, _X, _V.astype(str)), TypeError, "var"),
    ("gaussian-target-shape", lambda: GAUSS(_X, _X[:3], _V), ValueError, "target"),
    ("gaussian-eps-0", lambda: GAUSS(_X, _X, _V, eps=0.0), ValueError, "eps"),
    ("gaussian-out-not-tuple", lambda: GAUSS.value_and_grad(_X, _X, _V, out=np.empty((6, 4))),
     TypeError, "out"),
    ("tweedie-power-between-0-1", lambda: TW(_X, _T, power=0.5), ValueError, "power"),
    ("tweedie-power-nan", lambda: TW(_X, _T, power=np.nan), ValueError, "power"),
    ("tweedie-power-inf", lambda: TW(_X, _T, power=np.inf), ValueError, "power"),
    ("tweedie-target-negative-p1", lambda: TW(_X, -_T, power=1.0), ValueError, "target"),
    ("tweedie-target-negative-p1.5", lambda: TW(_X, -_T, power=1.5), ValueError, "target"),
    ("tweedie-target-zero-p2", lambda: TW(_X, 0 * _T, power=2.0), ValueError, "target"),
    ("tweedie-target-zero-p3", lambda: TW(_X, 0 * _T, power=3.0), ValueError, "target"),
    ("tweedie-target-zero-p3-float32", lambda: TW(_X.astype(np.float32), 0 * _T, power=3.0),
     ValueError, "target"),
    ("robust-scale-zero", lambda: RB(_X, 1.0, 0.0), ValueError, "scale"),
    ("robust-scale-negative", lambda: RB(_X, 1.0, -_V), ValueError, "scale"),
    ("robust-scale-inf", lambda: RB(_X, 1.0, np.inf), ValueError, "scale"),
    ("robust-scale-underflow-float32", lambda: RB(_X.astype(np.float32), 1.0, 1e-50),
     ValueError, "scale"),
    ("robust-alpha-shape", lambda: RB(_X, np.ones(6), 1.0), ValueError, "alpha"),
    ("robust-scale-shape", lambda: RB(_X, 1.0, np.ones((2, 4))), ValueError, "scale"),
    ("robust-alpha-grows-input", lambda: RB(_X, np.ones((2, 6, 4)), 1.0), ValueError, "alpha"),
    ("robust-alpha-bool", lambda: RB(_X, True, 1.0), TypeError, "alpha"),
    ("robust-alpha-str", lambda: RB(_X, "2", 1.0), TypeError, "alpha"),
    ("robust-input-int", lambda: RB(np.ones((3, 2), int), 1.0, 1.0), TypeError, "input"),
    ("robust-sw-shape", lambda: RB(_X, 1.0, 1.0, sample_weight=np.ones(4)), ValueError,
     "sample_weight"),
]
