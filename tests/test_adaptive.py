"""fastloss.adaptive: Barron's adaptive robust loss as a negative log-likelihood.

log Z(alpha) is checked against mpmath.quad at high precision (and against the closed
forms at alpha = 0, 1, 2 and 4), its derivative against finite differences of that, the
spline against the quadrature at the points where a cubic Hermite spline's error peaks,
the NLL's gradients against central finite differences of its value, the density against
integration over x, and the learned parameters against what the data were drawn from.

Until the compiled ``fastloss.robust_loss`` is available, rho and its gradients come from
the float64 NumPy formula below, installed in its place for the duration of each test.
"""
import math
import subprocess
import sys

import numpy as np
import pytest

import fastloss
from fastloss import adaptive
from fastloss.adaptive import AdaptiveRobustLoss

mpmath = pytest.importorskip("mpmath")

VALUE_BOUND = 5e-11      # the bounds the module's docstring states
GRAD_BOUND = 1e-8
REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------- reference rho

def ref_rho(x, alpha, scale):
    """Barron's rho in float64, element-wise (broadcast), with the alpha = 0, 2 limits."""
    x, alpha, scale = np.broadcast_arrays(np.asarray(x, np.float64),
                                          np.asarray(alpha, np.float64),
                                          np.asarray(scale, np.float64))
    z = (x / scale) ** 2
    b = np.abs(alpha - 2.0)
    out = np.empty(z.shape)
    two, zero = alpha == 2.0, alpha == 0.0
    gen = ~(two | zero)
    out[two] = z[two] / 2.0
    out[zero] = np.log1p(z[zero] / 2.0)
    out[gen] = b[gen] / alpha[gen] * np.expm1(alpha[gen] / 2.0 * np.log1p(z[gen] / b[gen]))
    return out


def ref_rho_grads(x, alpha, scale):
    """d rho / d x, d alpha, d scale, element-wise. d/d alpha by a complex step in alpha
    (with |alpha - 2| continued as sign(alpha - 2) (alpha - 2)), by the series of rho in
    alpha at alpha = 0; NaN at alpha = 2, where it diverges."""
    x, alpha, scale = np.broadcast_arrays(np.asarray(x, np.float64),
                                          np.asarray(alpha, np.float64),
                                          np.asarray(scale, np.float64))
    z = (x / scale) ** 2
    b = np.abs(alpha - 2.0)
    two = alpha == 2.0
    b_safe = np.where(two, 1.0, b)
    dx = np.where(two, x / scale**2,
                  x / scale**2 * np.exp((alpha / 2.0 - 1.0) * np.log1p(z / b_safe)))
    dscale = -(x / scale) * dx
    h = 1e-20
    ac = alpha + 1j * h
    sgn = np.where(alpha > 2.0, 1.0, -1.0)
    zero = alpha == 0.0
    ac_safe = np.where(zero | two, 1.0 + 0j, ac)
    bc = np.where(two, 1.0 + 0j, sgn * (ac_safe - 2.0))
    rho_c = bc / ac_safe * (np.exp(ac_safe / 2.0 * np.log1p(z / bc)) - 1.0)
    dalpha = rho_c.imag / h
    l0 = np.log1p(z / 2.0)          # alpha = 0: -L/2 + z / (2 (2 + z)) + L^2 / 4
    dalpha = np.where(zero, -l0 / 2.0 + z / (2.0 * (2.0 + z)) + l0 * l0 / 4.0, dalpha)
    dalpha = np.where(two, np.nan, dalpha)
    return dx, dalpha, dscale


def _unbroadcast(g, shape):
    """Sums g over the axes along which an array of `shape` was broadcast."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


class RefRobustLoss:
    """fastloss.robust_loss's interface on the float64 formula above."""

    def _reduce(self, values, reduction):
        if reduction == "none":
            return values, 1.0
        if reduction == "sum":
            return values.sum(), 1.0
        return (values.mean() if values.size else 0.0), 1.0 / max(values.size, 1)

    def __call__(self, x, alpha, scale, reduction="mean"):
        x = np.asarray(x)
        value, _ = self._reduce(ref_rho(x, alpha, scale), reduction)
        return np.asarray(value).astype(x.dtype)[()]

    def value_and_grad(self, x, alpha, scale, reduction="mean"):
        x = np.asarray(x)
        value, w = self._reduce(ref_rho(x, alpha, scale), reduction)
        dx, da, dc = ref_rho_grads(x, alpha, scale)
        grads = ((w * dx).astype(x.dtype), _unbroadcast(w * da, np.shape(alpha)),
                 _unbroadcast(w * dc, np.shape(scale)))
        return np.asarray(value).astype(x.dtype)[()], grads


@pytest.fixture(autouse=True)
def robust_loss(monkeypatch):
    """fastloss.robust_loss, or the reference in its place while it is not built."""
    if not hasattr(fastloss, "robust_loss"):
        monkeypatch.setattr(fastloss, "robust_loss", RefRobustLoss(), raising=False)
    return fastloss.robust_loss


# --------------------------------------------------------------------------- mpmath log Z

mpmath.mp.dps = 30


def _mp_rho(x, a):
    if a == 0:
        return mpmath.log(x * x / 2 + 1)
    if a == 2:
        return x * x / 2
    b = abs(a - 2)
    return b / a * ((x * x / b + 1) ** (a / 2) - 1)


def mp_log_z(alpha):
    """log of 2 * integral_0^inf exp(-rho(x, alpha, 1)) dx, by tanh-sinh quadrature in x
    (split so that it follows the |x|^-2 tails out to 1e8 and beyond)."""
    a = mpmath.mpf(alpha)
    f = lambda x: mpmath.exp(-_mp_rho(x, a))     # noqa: E731
    return mpmath.log(2 * mpmath.quad(f, [0, 1, 10, 100, 1e4, 1e8, mpmath.inf]))


def mp_dlog_z(alpha):
    """d log Z / d alpha by a fourth-order finite difference of mp_log_z (one-sided where
    alpha - 2h < 0), with h well inside the distance to the singularity at alpha = 2."""
    a = mpmath.mpf(alpha)
    d = abs(float(alpha) - 2.0)
    h = mpmath.mpf(min(1e-4, d / 1000))
    if a - 2 * h < 0:
        f = [mp_log_z(a + k * h) for k in range(5)]
        return (-25 * f[0] + 48 * f[1] - 36 * f[2] + 16 * f[3] - 3 * f[4]) / (12 * h)
    f = [mp_log_z(a + k * h) for k in (-2, -1, 1, 2)]
    return (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h)


def test_mpmath_reference_matches_closed_forms():
    """The reference itself: Z(0) = pi sqrt 2, Z(1) = 2 e K_1(1), Z(2) = sqrt(2 pi),
    Z(4) = e^(1/4) K_(1/4)(1/4)."""
    exact = {0: mpmath.pi * mpmath.sqrt(2), 1: 2 * mpmath.e * mpmath.besselk(1, 1),
             2: mpmath.sqrt(2 * mpmath.pi),
             4: mpmath.exp(mpmath.mpf(1) / 4) * mpmath.besselk(0.25, 0.25)}
    for a, z in exact.items():
        assert abs(mp_log_z(a) - mpmath.log(z)) < 1e-20, a


def test_log_partition_exact_values():
    assert adaptive.log_partition(0.0) == pytest.approx(math.log(math.pi * math.sqrt(2)),
                                                        abs=1e-15)
    assert adaptive.log_partition(2.0) == pytest.approx(0.5 * math.log(2 * math.pi), abs=1e-15)
    k1 = float(mpmath.besselk(1, 1))
    assert adaptive.log_partition(1.0) == pytest.approx(math.log(2 * math.e * k1),
                                                        abs=VALUE_BOUND)
    k14 = float(mpmath.besselk(0.25, 0.25))
    assert adaptive.log_partition(4.0) == pytest.approx(0.25 + math.log(k14), abs=1e-13)


SPECIAL_ALPHAS = [0.0, 1e-12, 1e-9, 1e-4, 1e-2, 0.3, 1.0, 1.5, 1.9, 1.999, 2 - 1e-6, 2 - 1e-8,
                  2 - 1e-10, 2.0, 2 + 1e-10, 2 + 1e-8, 2 + 1e-6, 2.001, 2.1, 3.0, 4 - 1e-6, 4.0]


def test_log_partition_against_mpmath(rng):
    alphas = list(rng.uniform(0, 4, 24)) + list(rng.uniform(0, 0.05, 4)) \
        + list(2 + rng.uniform(-0.05, 0.05, 4)) + SPECIAL_ALPHAS
    got = adaptive.log_partition(np.array(alphas))
    for a, g in zip(alphas, got):
        assert abs(g - float(mp_log_z(a))) <= VALUE_BOUND, a
    # the quadrature behind the table is exact to rounding
    quad, _ = adaptive.log_partition_quadrature(np.array(alphas))
    for a, q in zip(alphas, quad):
        assert abs(q - float(mp_log_z(a))) <= 1e-14, a


def test_log_partition_grad_against_mpmath(rng):
    alphas = list(rng.uniform(0, 4, 8)) + [a for a in SPECIAL_ALPHAS if a != 2.0]
    got = adaptive.log_partition_grad(np.array(alphas))
    _, quad = adaptive.log_partition_quadrature(np.array(alphas))
    for a, g, q in zip(alphas, got, quad):
        ref = float(mp_dlog_z(a))
        assert abs(g - ref) <= GRAD_BOUND, a
        assert abs(q - ref) <= 1e-10 * max(1.0, abs(ref)), a


def test_log_partition_grad_diverges_at_2():
    assert adaptive.log_partition_grad(2.0) == -np.inf
    # like log|alpha - 2| / 4 + (euler_gamma + log 2) / 4 on both sides
    for alpha in (2 + 1e-9, 2 - 1e-9, 2 + 1e-12, 2 - 1e-12):
        d = alpha - 2.0
        g = adaptive.log_partition_grad(alpha)
        assert g == pytest.approx((math.log(abs(d)) + 0.5772156649015329 + math.log(2)) / 4,
                                  abs=1e-6)


def test_spline_error_at_its_peaks():
    """The cubic Hermite error of the value peaks at the middle of a knot interval and that
    of the derivative (3 +- sqrt 3)/6 of the way along: check every interval there."""
    assert (adaptive.LOG_PARTITION_ERROR, adaptive.LOG_PARTITION_GRAD_ERROR) \
        == (VALUE_BOUND, GRAD_BOUND)
    knots, _, _ = adaptive._table()
    h = np.diff(knots)
    mid = knots[:-1] + h / 2
    q = np.sqrt(3) / 6
    off = np.concatenate([knots[:-1] + (0.5 - q) * h, knots[:-1] + (0.5 + q) * h])
    v_quad, _ = adaptive.log_partition_quadrature(mid)
    _, d_quad = adaptive.log_partition_quadrature(off)
    assert np.abs(adaptive.log_partition(mid) - v_quad).max() <= VALUE_BOUND
    assert np.abs(adaptive.log_partition_grad(off) - d_quad).max() <= GRAD_BOUND
    # and at the knots the spline is the table
    v_k, d_k = adaptive.log_partition_quadrature(knots)
    np.testing.assert_allclose(adaptive.log_partition(knots), v_k, rtol=0, atol=1e-15)
    ok = knots != 2
    np.testing.assert_allclose(adaptive.log_partition_grad(knots[ok]), d_k[ok], rtol=1e-13,
                               atol=1e-14)


def test_log_partition_grad_is_its_derivative(rng):
    """Fourth-order central differences of the float64 log_partition, with steps well
    inside the distance to the singularity at alpha = 2."""
    alphas = np.concatenate([rng.uniform(1e-3, 4 - 1e-3, 200),
                             [1e-3, 1.0, 1.999, 2.001, 2 - 1e-5, 2 + 1e-5]])
    alphas = alphas[np.abs(alphas - 2) > 1e-6]
    h = np.minimum(1e-5, np.abs(alphas - 2) / 100)
    f = [adaptive.log_partition(alphas + k * h) for k in (-2, -1, 1, 2)]
    fd = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h)
    np.testing.assert_allclose(adaptive.log_partition_grad(alphas), fd, rtol=0,
                               atol=GRAD_BOUND)


def test_log_partition_shapes_and_types():
    v, g = adaptive.log_partition_and_grad(1.0)
    assert isinstance(v, float) and isinstance(g, float)
    a = np.array([[0.5, 1.0, 3.0]])
    v, g = adaptive.log_partition_and_grad(a)
    assert v.shape == g.shape == (1, 3) and v.dtype == g.dtype == np.float64
    assert adaptive.log_partition(np.array(1.0)).shape == ()
    assert adaptive.log_partition(1) == adaptive.log_partition(1.0)
    assert adaptive.log_partition(np.zeros(0)).shape == (0,)


@pytest.mark.parametrize("alpha", [-1e-12, -0.5, -np.inf, np.array([1.0, -1.0])])
def test_log_partition_not_normalizable(alpha):
    with pytest.raises(ValueError, match="alpha.*normaliz"):
        adaptive.log_partition(alpha)


@pytest.mark.parametrize("fn", [adaptive.log_partition, adaptive.log_partition_grad,
                                adaptive.log_partition_quadrature])
def test_log_partition_bad_alpha(fn):
    with pytest.raises(ValueError, match="^alpha:.*tabulated"):
        fn(4.0 + 1e-9)
    with pytest.raises(ValueError, match="^alpha:.*NaN"):
        fn(np.array([1.0, np.nan]))
    with pytest.raises(TypeError, match="^alpha:"):
        fn("1.0")
    with pytest.raises(TypeError, match="^alpha:"):
        fn(True)


# --------------------------------------------------------------------------- the loss

def expected_nll(x, alpha, scale):
    """rho + log scale + log Z, with log Z from mpmath (alpha, scale: arrays of the loss's
    shape, broadcast against x)."""
    log_z = np.vectorize(lambda a: float(mp_log_z(a)))(alpha)
    return ref_rho(x, alpha, scale) + np.log(scale) + log_z


def _residuals(rng, shape, dtype=np.float64):
    x = np.asarray(rng.standard_normal(shape) * 2.0)
    flat = x.reshape(-1)
    if flat.size >= 3:
        flat[0], flat[1], flat[2] = 40.0, -1e3, 0.0       # outliers and an exact zero
    return x.astype(dtype)


def _random_loss(rng, shape, **kw):
    loss = AdaptiveRobustLoss(shape, **kw)
    loss.alpha_latent = rng.normal(0, 1.5, shape)
    loss.scale_latent = rng.normal(0, 1.0, shape)
    return loss


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_value(rng, reduction):
    loss = _random_loss(rng, (3,))
    x = _residuals(rng, (5, 3))
    want = expected_nll(x, loss.alpha, loss.scale)
    got = loss(x, reduction=reduction)
    if reduction == "none":
        assert got.shape == x.shape and got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=VALUE_BOUND)
    else:
        assert isinstance(got, np.float64)
        ref = want.mean() if reduction == "mean" else want.sum()
        assert got == pytest.approx(ref, rel=1e-12, abs=VALUE_BOUND)
    assert loss.nll(x, reduction=reduction) == pytest.approx(got, rel=1e-15)
    v, _, _ = loss.value_and_grad(x, reduction=reduction)
    np.testing.assert_allclose(v, got, rtol=1e-14)


def test_init_values():
    loss = AdaptiveRobustLoss()
    assert loss.alpha.shape == loss.scale.shape == ()
    assert loss.alpha == pytest.approx(1.0) and loss.scale == pytest.approx(1.0)
    loss = AdaptiveRobustLoss((2, 3), alpha_lo=0.5, alpha_hi=3.5, alpha_init=[[1.0], [3.0]],
                              scale_lo=0.1, scale_init=np.array([0.2, 5.0, 1e-3 + 0.1]))
    np.testing.assert_allclose(loss.alpha, [[1.0] * 3, [3.0] * 3], rtol=1e-14)
    np.testing.assert_allclose(loss.scale, [[0.2, 5.0, 0.101]] * 2, rtol=1e-12)
    assert loss.alpha_latent.dtype == loss.scale_latent.dtype == np.float64
    assert loss.alpha_latent.shape == (2, 3)
    fixed = AdaptiveRobustLoss(alpha_lo=0.7, alpha_hi=0.7)
    assert fixed.alpha == 0.7
    fixed.alpha_latent = np.array(5.0)
    assert fixed.alpha == 0.7
    assert AdaptiveRobustLoss(alpha_lo=0, alpha_hi=4, scale_lo=0).alpha == pytest.approx(2.0)


def _fd(f, p, h):
    """Central differences of f() with respect to each element of the array p (in place)."""
    g = np.zeros_like(p)
    flat, gflat = p.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f()
        flat[i] = old - h
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return g


def _fd_atol(loss, x, reduction, h):
    """What rounding in the summed value can do to a difference quotient with step h."""
    size = np.sum(np.abs(loss(x, reduction="none")))
    if reduction == "mean":
        size /= max(x.size, 1)
    return 1e-8 + 1e-14 * size / h


CASES = [((), (7, 3)), ((3,), (7, 3)), ((2, 1), (2, 5)), ((4, 3), (4, 3)),
         ((1, 3), (2, 3)), ((), ())]
BOUNDS = [dict(), dict(alpha_lo=0.0, alpha_hi=1.6), dict(alpha_lo=2.2, alpha_hi=4.0, scale_lo=0)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("bounds", BOUNDS, ids=["default", "0-1.6", "2.2-4"])
@pytest.mark.parametrize("shape,xshape", CASES, ids=lambda c: str(c))
def test_gradients_by_finite_differences(rng, shape, xshape, reduction, bounds):
    loss = _random_loss(rng, shape, **bounds)
    x = _residuals(rng, xshape)
    h = 1e-6

    def f():
        return float(np.sum(loss(x, reduction=reduction)))

    value, gx, (ga, gc) = loss.value_and_grad(x, reduction=reduction)
    assert gx.shape == x.shape and gx.dtype == x.dtype
    assert ga.shape == gc.shape == shape and ga.dtype == gc.dtype == np.float64
    atol = _fd_atol(loss, x, reduction, h)
    np.testing.assert_allclose(ga, _fd(f, loss.alpha_latent, h), rtol=1e-6, atol=atol)
    np.testing.assert_allclose(gc, _fd(f, loss.scale_latent, h), rtol=1e-6, atol=atol)
    # x: element i moves only its own term, so difference that term alone
    want = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        step = h * max(1.0, abs(x[i]))
        xp[i] += step
        xm[i] -= step
        want[i] = (loss(xp, reduction="none")[i] - loss(xm, reduction="none")[i]) / (2 * step)
    if reduction == "mean":
        want /= x.size
    np.testing.assert_allclose(gx, want, rtol=1e-6, atol=1e-9)


def test_fixed_alpha_has_no_latent_gradient(rng):
    loss = AdaptiveRobustLoss((3,), alpha_lo=2.0, alpha_hi=2.0, scale_init=[0.5, 1.0, 2.0])
    x = _residuals(rng, (6, 3))
    value, gx, (ga, gc) = loss.value_and_grad(x)
    assert np.all(ga == 0) and ga.shape == (3,)
    assert np.isfinite(value) and np.isfinite(gc).all()
    # at alpha = 2 the NLL is the Gaussian's
    want = np.mean(x**2 / (2 * loss.scale**2) + np.log(loss.scale) + 0.5 * np.log(2 * np.pi))
    assert value == pytest.approx(want, rel=1e-13)
    fd_c = _fd(lambda: float(loss(x)), loss.scale_latent, 1e-6)
    np.testing.assert_allclose(gc, fd_c, rtol=1e-6, atol=_fd_atol(loss, x, "mean", 1e-6))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32(rng, reduction):
    loss = _random_loss(rng, (3,))
    x64 = _residuals(rng, (50, 3))
    x32 = x64.astype(np.float32)
    v32, gx32, (ga32, gc32) = loss.value_and_grad(x32, reduction=reduction)
    v64, gx64, (ga64, gc64) = loss.value_and_grad(x32.astype(np.float64), reduction=reduction)
    assert np.asarray(v32).dtype == np.float32 and gx32.dtype == np.float32
    assert ga32.dtype == gc32.dtype == np.float64
    assert np.asarray(loss(x32, reduction=reduction)).dtype == np.float32
    np.testing.assert_allclose(v32, v64, rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(gx32, gx64, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(ga32, ga64, rtol=2e-4, atol=1e-5)
    np.testing.assert_allclose(gc32, gc64, rtol=2e-4, atol=1e-5)


def test_empty_input():
    loss = AdaptiveRobustLoss((3,))
    x = np.zeros((0, 3))
    assert loss(x) == 0.0 and loss(x, reduction="sum") == 0.0
    assert loss(x, reduction="none").shape == (0, 3)
    v, gx, (ga, gc) = loss.value_and_grad(x)
    assert v == 0.0 and gx.shape == (0, 3) and np.all(ga == 0) and np.all(gc == 0)


@pytest.mark.parametrize("alpha,scale", [(0.0, 1.0), (0.0, 0.2), (0.001, 3.0), (0.5, 1.0),
                                         (1.0, 0.7), (1.999, 2.0), (2.0, 1.5), (3.0, 0.4),
                                         (4.0, 5.0)])
def test_density_integrates_to_one(alpha, scale):
    """integral of exp(-nll(x)) dx = 1, with x = scale sinh(u) (trapezoidal rule in u, which
    follows the |x|^-2 tails at alpha = 0 out to |x| ~ 1e19)."""
    loss = AdaptiveRobustLoss(alpha_lo=alpha, alpha_hi=alpha, scale_init=scale, scale_lo=0)
    u = np.arange(-45.0, 45.0 + 1e-9, 0.005)
    x = scale * np.sinh(u)
    dens = np.exp(-loss(x, reduction="none"))
    total = np.sum(dens * scale * np.cosh(u)) * 0.005
    assert total == pytest.approx(1.0, abs=1e-9)


def _fit(loss, x, steps, lr):
    for _ in range(steps):
        _, _, (ga, gc) = loss.value_and_grad(x)
        loss.alpha_latent -= lr * ga
        loss.scale_latent -= lr * gc
    return loss


def test_fit_gaussian_reaches_upper_bound():
    x = np.random.default_rng(1234).normal(0.0, 2.0, 4000)
    loss = _fit(AdaptiveRobustLoss(), x, steps=1000, lr=3.0)
    assert loss.alpha > 1.85                       # from 1.0; the bound is 1.999
    assert loss.scale == pytest.approx(2.0, rel=0.1)


def test_fit_cauchy_reaches_small_alpha():
    """A Cauchy density with scale g is Barron's at alpha = 0, scale g / sqrt(2)."""
    x = np.random.default_rng(99).standard_cauchy(4000) * 1.5
    loss = _fit(AdaptiveRobustLoss(), x, steps=500, lr=3.0)
    assert loss.alpha < 0.1                        # from 1.0; the bound is 0.001
    assert loss.scale == pytest.approx(1.5 / math.sqrt(2), rel=0.15)


def test_fit_per_channel():
    r = np.random.default_rng(7)
    x = np.stack([r.normal(0, 0.5, 3000), r.standard_cauchy(3000), r.laplace(0, 1, 3000)], 1)
    loss = _fit(AdaptiveRobustLoss((3,), alpha_lo=0.0, alpha_hi=2.5), x, steps=800, lr=3.0)
    a = loss.alpha
    assert abs(a[0] - 2.0) < 0.3           # the Gaussian's
    assert a[1] < 0.15                     # the Cauchy's
    assert 0.3 < a[2] < 1.6                # the Laplace's tails lie in between
    assert loss.scale[0] == pytest.approx(0.5, rel=0.15)
    assert loss.scale[1] == pytest.approx(1 / math.sqrt(2), rel=0.15)


def test_uses_robust_loss(monkeypatch, robust_loss):
    calls = []

    class Spy:
        def __call__(self, *a, **k):
            calls.append("value")
            return robust_loss(*a, **k)

        def value_and_grad(self, *a, **k):
            calls.append("value_and_grad")
            return robust_loss.value_and_grad(*a, **k)

    monkeypatch.setattr(fastloss, "robust_loss", Spy())
    loss = AdaptiveRobustLoss((2,))
    loss(np.ones((3, 2)))
    loss.value_and_grad(np.ones((3, 2)), reduction="sum")
    assert calls == ["value", "value_and_grad"]


def test_missing_robust_loss_is_reported(monkeypatch):
    monkeypatch.delattr(fastloss, "robust_loss")
    with pytest.raises(RuntimeError, match="robust_loss"):
        AdaptiveRobustLoss()(np.ones(3))


@pytest.mark.skipif(not hasattr(fastloss, "robust_loss"),
                    reason="fastloss.robust_loss is not built yet")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_robust_loss_agrees_with_reference(rng, reduction):
    x = _residuals(rng, (6, 3))
    alpha = np.array([0.0, 0.7, 3.0])
    scale = np.array([0.5, 1.0, 2.0])
    ref = RefRobustLoss()
    v, (gx, ga, gc) = fastloss.robust_loss.value_and_grad(x, alpha, scale, reduction=reduction)
    rv, (rgx, rga, rgc) = ref.value_and_grad(x, alpha, scale, reduction=reduction)
    for got, want in ((v, rv), (gx, rgx), (ga, rga), (gc, rgc)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    v, (gx, ga, gc) = fastloss.robust_loss.value_and_grad(x, 1.5, 0.8, reduction=reduction)
    rv, (rgx, rga, rgc) = ref.value_and_grad(x, 1.5, 0.8, reduction=reduction)
    assert np.shape(ga) == np.shape(gc) == ()
    np.testing.assert_allclose(ga, rga, rtol=1e-10)


def test_reference_gradients_by_finite_differences(rng):
    """The stand-in's own gradients (what the NLL tests lean on while it stands in)."""
    x = _residuals(rng, (4, 6))
    alpha = np.array([0.0, 0.001, 0.8, 1.999, 2.5, 4.0])
    scale = rng.uniform(0.3, 3.0, 6)
    dx, da, dc = ref_rho_grads(x, alpha, scale)
    h = 1e-6
    np.testing.assert_allclose(dx, (ref_rho(x + h, alpha, scale) - ref_rho(x - h, alpha, scale))
                               / (2 * h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dc, (ref_rho(x, alpha, scale + h) - ref_rho(x, alpha, scale - h))
                               / (2 * h), rtol=1e-6, atol=1e-8)
    fd_a = (ref_rho(x, alpha + h, scale) - ref_rho(x, np.maximum(alpha - h, 0), scale)) \
        / (alpha + h - np.maximum(alpha - h, 0))
    ok = alpha > 0                      # one-sided at 0: first order only
    np.testing.assert_allclose(da[:, ok], fd_a[:, ok], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(da[:, ~ok], fd_a[:, ~ok], rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- state, errors

def test_state_dict_round_trip(rng):
    loss = _random_loss(rng, (3,), alpha_lo=0.2, alpha_hi=2.5)
    state = loss.state_dict()
    other = AdaptiveRobustLoss((3,), alpha_lo=0.2, alpha_hi=2.5)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.alpha, loss.alpha)
    np.testing.assert_array_equal(other.scale, loss.scale)
    state["alpha_latent"][0] = 99.0        # a copy, not the loss's own array
    assert loss.alpha_latent[0] != 99.0
    with pytest.raises(ValueError, match="alpha_lo"):
        AdaptiveRobustLoss((3,)).load_state_dict(loss.state_dict())
    with pytest.raises(ValueError, match="shape"):
        AdaptiveRobustLoss((4,), alpha_lo=0.2, alpha_hi=2.5).load_state_dict(loss.state_dict())
    bare = {"alpha_latent": np.zeros(2), "scale_latent": np.zeros(3)}
    with pytest.raises(ValueError, match="alpha_latent"):
        other.load_state_dict(bare)
    with pytest.raises(KeyError, match="scale_latent"):
        other.load_state_dict({"alpha_latent": np.zeros(3)})


@pytest.mark.parametrize("kwargs,exc,name", [
    (dict(alpha_lo=-0.1), ValueError, "alpha_lo"),
    (dict(alpha_lo=np.nan), ValueError, "alpha_lo"),
    (dict(alpha_lo="0"), TypeError, "alpha_lo"),
    (dict(alpha_hi=4.5), ValueError, "alpha_hi"),
    (dict(alpha_lo=1.5, alpha_hi=1.0), ValueError, "alpha_hi"),
    (dict(alpha_init=1.999), ValueError, "alpha_init"),
    (dict(alpha_init=0.0), ValueError, "alpha_init"),
    (dict(alpha_lo=1.0, alpha_hi=1.0, alpha_init=1.5), ValueError, "alpha_init"),
    (dict(shape=(3,), alpha_init=[1.0, 1.5]), ValueError, "alpha_init"),
    (dict(alpha_init="a"), TypeError, "alpha_init"),
    (dict(scale_lo=-1e-3), ValueError, "scale_lo"),
    (dict(scale_lo=np.inf), ValueError, "scale_lo"),
    (dict(scale_init=1e-5), ValueError, "scale_init"),
    (dict(scale_init=[1.0, -2.0], shape=(2,)), ValueError, "scale_init"),
    (dict(scale_init=np.nan), ValueError, "scale_init"),
    (dict(shape=(-1,)), ValueError, "shape"),
    (dict(shape=(2.5,)), TypeError, "shape"),
    (dict(shape="ab"), TypeError, "shape"),
])
def test_bad_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=f"^{name}:"):
        AdaptiveRobustLoss(**kwargs)


def test_bad_calls():
    loss = AdaptiveRobustLoss((3,))
    with pytest.raises(ValueError, match="^x:"):
        loss(np.ones((4, 2)))
    with pytest.raises(ValueError, match="^x:"):
        loss.value_and_grad(np.ones(3)[:, None])        # would broadcast x to (3, 3)
    with pytest.raises(TypeError, match="^x:"):
        loss(np.ones((2, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="^x:"):
        loss(np.ones((2, 3), dtype=np.float16))
    with pytest.raises(ValueError, match="^reduction:"):
        loss(np.ones((2, 3)), reduction="avg")
    with pytest.raises(ValueError, match="^alpha_latent:"):
        loss.alpha_latent = np.zeros(4)
    with pytest.raises(ValueError, match="^scale_latent:"):
        loss.scale_latent = np.zeros(())
    loss.alpha_latent = np.array([0.0, np.nan, 0.0])
    with pytest.raises(ValueError, match="^alpha_latent:"):
        loss(np.ones((2, 3)))


def test_import_fastloss_does_not_import_adaptive():
    from test_package import _run   # a subprocess outside the repository root
    code = "import sys, fastloss; print('fastloss.adaptive' in sys.modules)"
    assert _run(code).strip() == "False"


def test_saturated_alpha_at_2(rng):
    """alpha_hi = 2 and a latent so large that alpha rounds to 2: the NLL is the Gaussian's
    and the gradients stay finite (the alpha latent's is 0)."""
    loss = AdaptiveRobustLoss(alpha_lo=1.0, alpha_hi=2.0, scale_init=1.3)
    loss.alpha_latent = np.array(60.0)
    assert loss.alpha == 2.0
    x = _residuals(rng, (20,))
    value, gx, (ga, gc) = loss.value_and_grad(x)
    want = np.mean(x**2 / (2 * 1.3**2) + np.log(1.3) + 0.5 * np.log(2 * np.pi))
    assert value == pytest.approx(want, rel=1e-12)
    assert ga == 0.0 and np.isfinite(gc) and np.isfinite(gx).all()
