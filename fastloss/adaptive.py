r"""Barron's general and adaptive robust loss as a learnable negative log-likelihood.

J. T. Barron, "A General and Adaptive Robust Loss Function", CVPR 2019, defines for a
residual x, a shape alpha and a scale c > 0 the loss

    rho(x, alpha, c) = |alpha-2|/alpha * (((x/c)^2 / |alpha-2| + 1)^(alpha/2) - 1)

with the limits rho = (x/c)^2 / 2 at alpha = 2, log((x/c)^2 / 2 + 1) at alpha = 0,
1 - exp(-(x/c)^2 / 2) at alpha = -inf and exp((x/c)^2 / 2) - 1 at alpha = +inf. alpha = 1
is the pseudo-Huber (Charbonnier) loss, alpha = 0 the Cauchy (Lorentzian) loss,
alpha = -2 Geman-McClure and alpha = -inf Welsch. For alpha >= 0,

    p(x | alpha, c) = exp(-rho(x, alpha, c)) / (c Z(alpha)),
    Z(alpha) = integral over the real line of exp(-rho(x, alpha, 1)) dx,

is a probability density (section 3 of the paper), and minimizing its negative
log-likelihood

    nll(x) = rho(x, alpha, c) + log(c) + log Z(alpha)

over alpha and c lets a model learn how robust its loss should be: the log Z(alpha) term
stops alpha from drifting to the most forgiving loss, since every alpha must put the same
total mass on the residuals. For alpha < 0, exp(-rho) tends to exp(-|alpha-2|/|alpha|) > 0
as |x| grows, the integral diverges, and there is no density.

This module provides

- :func:`log_partition`, :func:`log_partition_grad`, :func:`log_partition_and_grad`:
  log Z(alpha) and d log Z / d alpha on the tabulated interval
  ``[ALPHA_MIN, ALPHA_MAX] = [0, 4]``, from a table built (in NumPy, in a few hundredths
  of a second) at first use and interpolated with a cubic Hermite spline;
  :func:`log_partition_quadrature` evaluates the quadrature behind the table directly;
- :class:`AdaptiveRobustLoss`: alpha and scale as learnable latent parameters (one of each,
  or one per channel), returning the NLL and its gradients with respect to the input and
  the latents. rho and its gradients come from the compiled ``fastloss.robust_loss``.

How log Z is computed
---------------------
Z is even in x, and with b = |alpha - 2| the substitution x^2 = b (exp(s^2) - 1), s >= 0,
turns rho into b (exp(alpha s^2 / 2) - 1) / alpha (which tends to b s^2 / 2 as alpha -> 0)
and dx into sqrt(b) exp(s^2/2) s / sqrt(1 - exp(-s^2)) ds: the integrand becomes a smooth
even function of s with no singularity at s = 0, and every tail becomes a Gaussian or
faster one in s (at alpha = 0, where exp(-rho) decays like x^-2, it decays like
exp(-s^2/2); for small alpha > 0, where exp(-rho) decays like x^-2 out to enormous |x| and
only then faster than any power, like exp(-s^2/2) too). The trapezoidal rule on
s in [0, 10] with step 0.02 is then exact to rounding (it converges geometrically for such
integrands; halving the step or widening the range changes nothing above 1e-15). The
same quadrature gives d log Z / d alpha = -E_p[d rho / d alpha], with the alpha-derivative
taken at fixed x and written in forms free of cancellation, also as alpha -> 0.
Each is computed as the ratio of the integral to that of exp(-x^2/2) (= sqrt(2 pi)) in the
same variable, which cancels the large, alpha-dependent terms near alpha = 2.

Z(0) = pi sqrt(2), Z(1) = 2 e K_1(1), Z(2) = sqrt(2 pi) and Z(4) = e^(1/4) K_(1/4)(1/4)
exactly (K: modified Bessel function of the second kind).

log Z is not smooth at alpha = 2: with d = alpha - 2,

    log Z(2 + d) = log sqrt(2 pi) + (d/4) log|d| + C1 d + O(d^2 log^2 |d|),
    C1 = (euler_gamma + log 2 - 1) / 4,

(the d log|d| term comes from rho(x, 2 + d, 1) = x^2/2 + (d/4) x^2 log(x^2/|d|) + ...), so
d log Z / d alpha diverges like log|d| / 4, to -inf at alpha = 2 exactly, where rho's own
alpha-derivative diverges to +inf: the two cancel in the NLL's gradient only in
expectation. The table therefore holds R = log Z - log sqrt(2 pi) - (d/4) log|d|, which is
C^1, with R(2) = 0 and R'(2) = C1 exact, and the spline adds the singular term back
analytically. Its knots are graded: about 1850 of them, 4e-4 apart at alpha = 0 (where the
derivatives of log Z are large, since ever higher moments of log|x| enter them) widening
to 0.006, and geometrically closer around alpha = 2 (by 1.6%, then by 10% below
|d| = 3e-4) down to |d| = 1e-8.

Accuracy: over the whole of [0, 4] the interpolated log Z is within 5e-11 (absolute) of
the exact value, and its derivative within 1e-8 (absolute; d log Z / d alpha itself ranges
over about [-5, 0] away from alpha = 2 and tends to -inf there). The cubic Hermite error
on a knot interval of width h is h^4/384 max|f''''| for the value (largest at the
midpoint) and about (sqrt(3)/216) h^3 max|f''''| for the derivative (largest at
(3 +- sqrt(3))/6 of the way along); the tests compare the spline with the quadrature at
exactly those points of every knot interval, and the quadrature and the spline with
high-precision ``mpmath.quad`` integration at random and special alpha.
"""
import functools
import math
import numbers
import operator
import sys

import numpy as np

__all__ = ["ALPHA_MIN", "ALPHA_MAX", "log_partition", "log_partition_grad",
           "log_partition_and_grad", "log_partition_quadrature", "AdaptiveRobustLoss"]

ALPHA_MIN = 0.0
ALPHA_MAX = 4.0
LOG_PARTITION_ERROR = 5e-11          # stated bound on |log Z error| over [0, 4]
LOG_PARTITION_GRAD_ERROR = 1e-8      # stated bound on |d log Z / d alpha error| over [0, 4]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_EULER_GAMMA = 0.5772156649015329
_C1 = (_EULER_GAMMA + math.log(2.0) - 1.0) / 4.0     # R'(2), see the module docstring

# quadrature in s (x^2 = b (exp(s^2) - 1)): trapezoidal rule on [0, _S_MAX]
_S_STEP = 0.02
_S_MAX = 10.0
_CHUNK = 128          # alpha values per vectorized block (bounds the temporaries' memory)

# knots: spacing min(_H_MAX, _H0 + _C0 alpha, c |alpha - 2|), c = _C2 above |d| = _D1 and
# _C3 below, down to |alpha - 2| = _D_MIN, then the knot 2 itself
_H_MAX = 0.006
_H0 = 4e-4
_C0 = 0.008
_C2 = 0.016
_C3 = 0.1
_D1 = 3e-4
_D_MIN = 1e-8


# --------------------------------------------------------------------------- log Z

def _h(u):
    """(u e^u - (e^u - 1)) / u^2 for u >= 0 (1/2 at u = 0), without cancellation."""
    small = u < 0.1
    us = np.where(small, u, 0.0)
    series = np.zeros_like(u)
    for n in range(13, 1, -1):                   # sum_{n>=2} (n-1)/n! u^(n-2)
        series = series * us + (n - 1) / math.factorial(n)
    ul = np.where(small, 1.0, u)
    direct = ((ul - 1.0) * np.expm1(ul) + ul) / (ul * ul)
    return np.where(small, series, direct)


@functools.lru_cache(maxsize=1)
def _s_grid():
    n = int(round(_S_MAX / _S_STEP))
    s = np.arange(n + 1) * _S_STEP
    t = s * s
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(s > 0, s / np.sqrt(-np.expm1(-t)), 1.0)     # -> 1 as s -> 0
    g[0] *= 0.5                                                   # trapezoidal end weight
    return t, g


def _quadrature_block(alpha):
    """Q = log Z - log sqrt(2 pi) and d log Z / d alpha for a 1-D float64 block of alpha in
    [0, 4], alpha != 2.

    Q = log(int exp(-rho) / int exp(-x^2/2)) with both integrals in the same variable s;
    where Delta = rho - x^2/2 is small (alpha near 2) the difference of the integrands is
    formed as exp(-x^2/2) expm1(-Delta), so that Q keeps its relative precision as it
    tends to 0 at alpha = 2.
    """
    t, g = _s_grid()
    a = alpha[:, None]
    d = a - 2.0
    b = np.abs(d)
    sgn = np.sign(d)
    u = a * t / 2.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        e = np.where(a > 0, np.expm1(u) / np.where(a > 0, a, 1.0), t / 2.0)
        rho = b * e                              # rho(x(s), alpha, 1)
        x2 = b * np.expm1(t)                     # x(s)^2
        half_t = t / 2.0
        m = np.maximum((half_t - rho).max(axis=1), (half_t - x2 / 2.0).max(axis=1))
        tm = half_t - m[:, None]
        num = np.exp(tm - rho) * g               # exp(-rho) dx / ds, scaled by exp(-m)
        den = np.exp(tm - x2 / 2.0) * g          # exp(-x^2/2) dx / ds, likewise
        # Delta = rho - x^2/2 = b (2 e^t expm1(d t/2) - d expm1(t)) / (2 alpha), free of
        # cancellation near alpha = 2; the plain difference elsewhere (alpha < 1)
        delta = np.where(a >= 1.0,
                         b * (2.0 * np.exp(t) * np.expm1(d * t / 2.0) - d * np.expm1(t))
                         / (2.0 * a), rho - x2 / 2.0)
        diff = np.where(np.abs(delta) < 1.0, den * np.expm1(-delta), num - den)
        num_sum = num.sum(axis=1)
        q = np.log1p(diff.sum(axis=1) / den.sum(axis=1))
        # d rho / d alpha at fixed x, in terms of t = s^2 = log(1 + x^2 / b)
        drho = (-b * e / 2.0 + 0.5 * sgn * np.expm1(sgn * b * t / 2.0)
                + b * (t * t / 4.0) * _h(u))
        drho = np.where(num > 0, drho, 0.0)
        dlog_z = -(num * drho).sum(axis=1) / num_sum
    return q, dlog_z


def _quadrature(alpha):
    """Q = log Z - log sqrt(2 pi) and d log Z / d alpha (-inf at 2) for float64 alpha."""
    alpha = np.asarray(alpha, dtype=np.float64).reshape(-1)
    q = np.empty_like(alpha)
    dlog_z = np.empty_like(alpha)
    at2 = alpha == 2.0
    rest = np.flatnonzero(~at2)
    for i in range(0, rest.size, _CHUNK):
        idx = rest[i:i + _CHUNK]
        q[idx], dlog_z[idx] = _quadrature_block(alpha[idx])
    q[at2] = 0.0
    dlog_z[at2] = -np.inf
    return q, dlog_z


def _singular(alpha):
    """S = (d/4) log|d| and S' = (log|d| + 1)/4, d = alpha - 2 (S(2) = 0, S'(2) = -inf)."""
    d = alpha - 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_d = np.log(np.abs(d))
        s = np.where(d == 0, 0.0, d / 4.0 * log_d)
    return s, (log_d + 1.0) / 4.0


def _knots():
    def spacing_near_2(d):
        return (_C2 if d > _D1 else _C3) * d

    out = [0.0]
    a = 0.0
    while 2.0 - a > 2.0 * _D_MIN:
        a += min(_H_MAX, _H0 + _C0 * a, spacing_near_2(2.0 - a))
        out.append(a)
    out[-1] = min(out[-1], 2.0 - _D_MIN)
    a = 2.0 + _D_MIN
    out += [2.0, a]
    while a < ALPHA_MAX:
        a += min(_H_MAX, spacing_near_2(a - 2.0))
        out.append(min(a, ALPHA_MAX))
    if out[-1] - out[-2] < 0.5 * _H_MAX:       # no sliver of an interval at the end
        del out[-2]
    return np.array(out)


@functools.lru_cache(maxsize=1)
def _table():
    """Knots, R = log Z - log sqrt(2 pi) - S and R' = d log Z / d alpha - S' (read-only)."""
    knots = _knots()
    q, dlog_z = _quadrature(knots)
    s, ds = _singular(knots)
    at2 = knots == 2.0
    ds[at2] = 0.0
    r = q - s
    dr = dlog_z - ds
    r[at2] = 0.0
    dr[at2] = _C1
    for arr in (knots, r, dr):
        arr.flags.writeable = False
    return knots, r, dr


def _alpha_array(alpha, name="alpha"):
    if isinstance(alpha, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a real number or array, got bool")
    arr = np.asarray(alpha)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected a real number or array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.size:
        if np.isnan(arr).any():
            raise ValueError(f"{name}: is NaN")
        lo, hi = arr.min(), arr.max()
        if lo < ALPHA_MIN:
            raise ValueError(
                f"{name}: {lo!r} < 0: the density exp(-rho(x, alpha, c)) / (c Z(alpha)) is "
                "not normalizable for alpha < 0 (exp(-rho) tends to a positive constant as "
                "|x| grows), so log Z(alpha) is infinite")
        if hi > ALPHA_MAX:
            raise ValueError(f"{name}: {hi!r} lies outside the tabulated interval "
                             f"[{ALPHA_MIN:g}, {ALPHA_MAX:g}]")
    return arr


def _out(arr, like):
    return float(arr) if np.ndim(like) == 0 and not isinstance(like, np.ndarray) else arr


def _interpolate(alpha):
    knots, r, dr = _table()
    k = np.clip(np.searchsorted(knots, alpha, side="right") - 1, 0, knots.size - 2)
    x0 = knots[k]
    h = knots[k + 1] - x0
    t = (alpha - x0) / h
    t1 = 1.0 - t
    r0, r1, d0, d1 = r[k], r[k + 1], dr[k], dr[k + 1]
    value = (1.0 + 2.0 * t) * t1 * t1 * r0 + t * t * (3.0 - 2.0 * t) * r1 \
        + h * t * t1 * (t1 * d0 - t * d1)
    slope = 6.0 * t * t1 * (r1 - r0) / h + t1 * (1.0 - 3.0 * t) * d0 + t * (3.0 * t - 2.0) * d1
    s, ds = _singular(alpha)
    return _HALF_LOG_2PI + (value + s), slope + ds


def log_partition_and_grad(alpha):
    """log Z(alpha) and d log Z / d alpha, for alpha in [0, 4] (a number or an array).

    Z(alpha) is the integral over the real line of exp(-rho(x, alpha, 1)), the
    normalizer of Barron's density p(x | alpha, c) = exp(-rho(x, alpha, c)) / (c Z(alpha))
    (Barron, CVPR 2019, section 3), and d log Z / d alpha = -E_p[d rho / d alpha].
    Both come from a cubic Hermite spline through a table of exact quadrature values
    (built at first use); over [0, 4] the value is within 5e-11 and the derivative within
    1e-8 of the exact ones (absolute). The derivative is -inf at alpha = 2 exactly, where
    log Z behaves like log sqrt(2 pi) + ((alpha-2)/4) log|alpha-2|.

    A number gives floats, an array arrays of its shape. Raises ValueError naming alpha
    for alpha < 0 (no density exists), alpha > 4 (outside the table) and NaN.
    """
    arr = _alpha_array(alpha)
    value, grad = _interpolate(arr)
    return _out(value, alpha), _out(grad, alpha)


def log_partition(alpha):
    """log Z(alpha) for alpha in [0, 4], within 5e-11 (see :func:`log_partition_and_grad`).

    Z(0) = pi sqrt(2) (the Cauchy density), Z(2) = sqrt(2 pi) (the normal density)."""
    return log_partition_and_grad(alpha)[0]


def log_partition_grad(alpha):
    """d log Z / d alpha for alpha in [0, 4], within 1e-8 (see :func:`log_partition_and_grad`);
    -inf at alpha = 2."""
    return log_partition_and_grad(alpha)[1]


def log_partition_quadrature(alpha):
    """log Z(alpha) and d log Z / d alpha by direct quadrature (the values the table holds),
    accurate to a few units of rounding; slower than :func:`log_partition_and_grad`, which
    interpolates these. Same domain and errors."""
    arr = _alpha_array(alpha)
    q, grad = _quadrature(arr)
    value = _HALF_LOG_2PI + q
    return _out(value.reshape(arr.shape), alpha), _out(grad.reshape(arr.shape), alpha)


# --------------------------------------------------------------------------- the loss

_REDUCTIONS = ("mean", "sum", "none")


def _sigmoid(z):
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(z):
    with np.errstate(over="ignore"):
        return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _softplus_inverse(y):
    """z with softplus(z) = y > 0: log(exp(y) - 1), stably."""
    with np.errstate(divide="ignore"):
        return y + np.log(-np.expm1(-y))


def _number(v, name):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(v).__name__}")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"{name}: must be finite, got {v!r}")
    return f


def _shape(shape):
    if isinstance(shape, (numbers.Integral, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"shape: expected a tuple of non-negative integers, got "
                        f"{type(shape).__name__}") from None
    out = []
    for d in dims:
        if isinstance(d, (bool, np.bool_)):
            raise TypeError("shape: expected a tuple of non-negative integers, got a bool")
        try:
            d = operator.index(d)
        except TypeError:
            raise TypeError(f"shape: expected a tuple of non-negative integers, got "
                            f"{shape!r}") from None
        if d < 0:
            raise ValueError(f"shape: dimensions must be non-negative, got {shape!r}")
        out.append(d)
    return tuple(out)


def _param_array(v, name, shape):
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a real number or array, got bool")
    arr = np.asarray(v)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected a real number or array, got dtype {arr.dtype}")
    try:
        arr = np.broadcast_to(arr.astype(np.float64), shape).copy()
    except ValueError:
        raise ValueError(f"{name}: shape {arr.shape} cannot be broadcast to the parameter "
                         f"shape {shape}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: must be finite")
    return arr


class AdaptiveRobustLoss:
    r"""Barron's adaptive robust loss: a negative log-likelihood with learnable shape and scale.

    For residuals x (any shape; float32 or float64) the loss is the negative
    log-likelihood of Barron's density (J. T. Barron, "A General and Adaptive Robust Loss
    Function", CVPR 2019, section 3),

        nll(x) = rho(x, alpha, scale) + log(scale) + log Z(alpha),

    reduced by its mean (default), sum, or not at all. alpha and scale are functions of
    unconstrained latent parameters, as in the paper's experiments:

        alpha = alpha_lo + (alpha_hi - alpha_lo) * sigmoid(alpha_latent)
        scale = scale_lo + softplus(scale_latent)

    so every latent value gives a valid alpha in [alpha_lo, alpha_hi] and scale > scale_lo.
    ``shape`` is the shape of both latents: ``()`` (the default) for one alpha and one
    scale shared by every element, ``(D,)`` for one per channel of x's last dimension, or
    any shape that broadcasts to x's shape as NumPy broadcasts (e.g. ``(C, 1, 1)`` for
    the channels of a (N, C, H, W) image).

    Parameters
    ----------
    shape : tuple of int, default ()
    alpha_lo, alpha_hi : float, default 0.001 and 1.999
        0 <= alpha_lo <= alpha_hi <= 4 (the tabulated interval of log Z; below 0 there is
        no density). alpha_lo == alpha_hi fixes alpha (its latent gradient is then zero).
        The default range stops short of alpha = 2, where d log Z / d alpha and
        d rho / d alpha diverge (in opposite directions); it still reaches the Gaussian
        to within 1e-3 in alpha. A range across 2 works (the NLL is continuous there and
        its alpha-gradient finite on either side), but at alpha == 2 exactly, inside the
        range, the alpha-latent gradient is NaN. Where the sigmoid saturates (alpha
        rounds onto alpha_lo or alpha_hi) the alpha-latent gradient is 0.
    alpha_init : float or array broadcastable to ``shape``, default the midpoint
        Strictly between alpha_lo and alpha_hi (equal to them when they are equal).
    scale_lo : float, default 1e-5
        Lower bound of the scale, >= 0.
    scale_init : float or array broadcastable to ``shape``, default 1.0
        Initial scale, > scale_lo.

    Attributes
    ----------
    alpha_latent, scale_latent : float64 arrays of ``shape``
        The learnable parameters: step them with an optimizer (in place or by assignment).
    alpha, scale : float64 arrays of ``shape`` (read-only properties)

    Example
    -------
    >>> loss = AdaptiveRobustLoss(shape=(3,))
    >>> value, grad_x, (g_alpha, g_scale) = loss.value_and_grad(residuals)
    >>> loss.alpha_latent -= lr * g_alpha
    >>> loss.scale_latent -= lr * g_scale

    rho and its gradients come from ``fastloss.robust_loss``; log Z and its derivative from
    :func:`log_partition_and_grad` (within 5e-11 and 1e-8).
    """

    def __init__(self, shape=(), alpha_lo=0.001, alpha_hi=1.999, alpha_init=None,
                 scale_lo=1e-5, scale_init=1.0):
        self._shape = _shape(shape)
        lo = _number(alpha_lo, "alpha_lo")
        hi = _number(alpha_hi, "alpha_hi")
        if not ALPHA_MIN <= lo <= ALPHA_MAX:
            raise ValueError(f"alpha_lo: must lie in [{ALPHA_MIN:g}, {ALPHA_MAX:g}] (no "
                             f"density exists for alpha < 0; log Z is tabulated up to "
                             f"{ALPHA_MAX:g}), got {alpha_lo!r}")
        if not ALPHA_MIN <= hi <= ALPHA_MAX:
            raise ValueError(f"alpha_hi: must lie in [{ALPHA_MIN:g}, {ALPHA_MAX:g}] (log Z "
                             f"is tabulated up to {ALPHA_MAX:g}), got {alpha_hi!r}")
        if hi < lo:
            raise ValueError(f"alpha_hi: must be >= alpha_lo ({lo!r}), got {alpha_hi!r}")
        s_lo = _number(scale_lo, "scale_lo")
        if s_lo < 0:
            raise ValueError(f"scale_lo: must be >= 0, got {scale_lo!r}")
        self._alpha_lo, self._alpha_hi, self._scale_lo = lo, hi, s_lo

        if alpha_init is None:
            a0 = np.full(self._shape, 0.5 * (lo + hi))
        else:
            a0 = _param_array(alpha_init, "alpha_init", self._shape)
        if lo == hi:
            if a0.size and not (a0 == lo).all():
                raise ValueError(f"alpha_init: alpha is fixed at alpha_lo == alpha_hi == "
                                 f"{lo!r}, got {alpha_init!r}")
            latent = np.zeros(self._shape)
        else:
            if a0.size and not ((a0 > lo) & (a0 < hi)).all():
                raise ValueError(f"alpha_init: must lie strictly between alpha_lo ({lo!r}) "
                                 f"and alpha_hi ({hi!r}), got {alpha_init!r}")
            p = (a0 - lo) / (hi - lo)
            latent = np.log(p) - np.log1p(-p)
        self._alpha_latent = latent

        c0 = _param_array(scale_init, "scale_init", self._shape)
        if c0.size and not (c0 > s_lo).all():
            raise ValueError(f"scale_init: must be > scale_lo ({s_lo!r}), got {scale_init!r}")
        self._scale_latent = _softplus_inverse(c0 - s_lo)

    # ----------------------------------------------------------------- parameters
    @property
    def shape(self):
        return self._shape

    @property
    def alpha_lo(self):
        return self._alpha_lo

    @property
    def alpha_hi(self):
        return self._alpha_hi

    @property
    def scale_lo(self):
        return self._scale_lo

    def _latent(self, value, name):
        if isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name}: expected a real array, got bool")
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{name}: expected a real array, got dtype {arr.dtype}")
        if arr.shape != self._shape:
            raise ValueError(f"{name}: shape {arr.shape} does not match the loss's parameter "
                             f"shape {self._shape}")
        return arr if arr is value and arr.dtype == np.float64 else arr.astype(np.float64)

    @property
    def alpha_latent(self):
        return self._alpha_latent

    @alpha_latent.setter
    def alpha_latent(self, value):
        self._alpha_latent = self._latent(value, "alpha_latent")

    @property
    def scale_latent(self):
        return self._scale_latent

    @scale_latent.setter
    def scale_latent(self, value):
        self._scale_latent = self._latent(value, "scale_latent")

    @property
    def alpha(self):
        """alpha_lo + (alpha_hi - alpha_lo) * sigmoid(alpha_latent), in [alpha_lo, alpha_hi]."""
        lo, hi = self._alpha_lo, self._alpha_hi
        return np.clip(lo + (hi - lo) * _sigmoid(self._alpha_latent), lo, hi)

    @property
    def scale(self):
        """scale_lo + softplus(scale_latent)."""
        return self._scale_lo + _softplus(self._scale_latent)

    def _parameters(self):
        if np.isnan(self._alpha_latent).any():
            raise ValueError("alpha_latent: is NaN")
        if not np.isfinite(self._scale_latent).all():
            raise ValueError("scale_latent: must be finite (found NaN or inf)")
        return self.alpha, self.scale

    # ----------------------------------------------------------------- the loss
    def _check(self, x, reduction):
        if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
            raise ValueError(f"reduction: expected one of {', '.join(map(repr, _REDUCTIONS))}; "
                             f"got {reduction!r}")
        from ._checks import float_input
        x = float_input(x, "x")
        try:
            full = np.broadcast_shapes(x.shape, self._shape)
        except ValueError:
            full = None
        if full != x.shape:
            raise ValueError(f"x: shape {x.shape} does not take the loss's parameter shape "
                             f"{self._shape} (the parameters must broadcast to x's shape)")
        return x

    def _args(self, alpha, scale):
        if self._shape == ():
            return float(alpha), float(scale)
        return alpha, scale

    def __call__(self, x, reduction="mean"):
        """The negative log-likelihood rho(x, alpha, scale) + log(scale) + log Z(alpha):
        its mean over the elements of x ("mean", 0.0 for an empty x), its sum ("sum"), or
        per element ("none", an array of x's shape). Dtype follows x."""
        x = self._check(x, reduction)
        alpha, scale = self._parameters()
        log_z = _interpolate(alpha)[0]
        a, c = self._args(alpha, scale)
        value = _robust_loss()(x, a, c, reduction=reduction)
        return self._add_constant(x, value, np.log(scale) + log_z, reduction)

    nll = __call__

    def _add_constant(self, x, value, const, reduction):
        """Adds log(scale) + log Z(alpha), broadcast over x, to rho's reduced value."""
        if reduction == "none":
            return (np.asarray(value, dtype=np.float64) + const).astype(x.dtype)
        if x.size == 0:
            return x.dtype.type(0.0)
        total = float(np.sum(const))
        if reduction == "mean":
            total /= const.size
        else:
            total *= x.size // const.size
        return x.dtype.type(float(value) + total)

    def value_and_grad(self, x, reduction="mean"):
        """``(value, grad_x, (grad_alpha_latent, grad_scale_latent))``.

        value is :meth:`__call__`'s; grad_x (x's shape and dtype) is its gradient with
        respect to x (for "none", the gradient of the sum of the per-element values), and
        the latent gradients (float64 arrays of ``shape``) are, by the chain rule,

            d/d alpha_latent = (sum of d rho/d alpha + n d log Z/d alpha) * d alpha/d latent
            d/d scale_latent = (sum of d rho/d scale + n / scale) * sigmoid(scale_latent)

        where each sum runs over the elements of x a parameter broadcasts over, n is their
        number, d alpha / d latent = (alpha_hi - alpha_lo) sigmoid (1 - sigmoid), and the
        whole is divided by x.size for "mean". With alpha_lo == alpha_hi the alpha latent
        gradient is zero.
        """
        x = self._check(x, reduction)
        alpha, scale = self._parameters()
        fixed = self._alpha_lo == self._alpha_hi
        log_z, dlog_z = _interpolate(alpha)
        a, c = self._args(alpha, scale)
        value, (grad_x, grad_a, grad_c) = _robust_loss().value_and_grad(
            x, a, c, reduction=reduction)
        value = self._add_constant(x, value, np.log(scale) + log_z, reduction)
        if x.size == 0:
            zero = np.zeros(self._shape)
            return value, grad_x, (zero, zero.copy())
        per = x.size // alpha.size                 # elements each parameter covers
        weight = 1.0 / alpha.size if reduction == "mean" else float(per)
        grad_c = np.asarray(grad_c, dtype=np.float64).reshape(self._shape) + weight / scale
        g_scale = grad_c * _sigmoid(self._scale_latent)
        if fixed:
            g_alpha = np.zeros(self._shape)
        else:
            sig = _sigmoid(self._alpha_latent)
            dalpha = (self._alpha_hi - self._alpha_lo) * sig * (1.0 - sig)
            with np.errstate(invalid="ignore"):
                grad_a = np.asarray(grad_a, dtype=np.float64).reshape(self._shape) \
                    + weight * dlog_z
                # a saturated sigmoid (alpha rounded onto a bound, maybe 2) passes nothing
                g_alpha = np.where(dalpha > 0, grad_a * dalpha, 0.0)
        return value, grad_x, (g_alpha, g_scale)

    # ----------------------------------------------------------------- state
    def state_dict(self):
        """The latents (copies) and the parameterization they belong to."""
        return {"shape": self._shape, "alpha_lo": self._alpha_lo,
                "alpha_hi": self._alpha_hi, "scale_lo": self._scale_lo,
                "alpha_latent": self._alpha_latent.copy(),
                "scale_latent": self._scale_latent.copy()}

    def load_state_dict(self, state):
        """Loads latents saved by :meth:`state_dict`. The parameterization entries, where
        present, must match this loss's (the same latent means another alpha under other
        bounds); raises KeyError or ValueError naming the entry otherwise."""
        if not isinstance(state, dict):
            raise TypeError(f"state: expected a dict, got {type(state).__name__}")
        for key in ("alpha_latent", "scale_latent"):
            if key not in state:
                raise KeyError(f"state: missing {key!r}")
        mine = {"shape": self._shape, "alpha_lo": self._alpha_lo,
                "alpha_hi": self._alpha_hi, "scale_lo": self._scale_lo}
        for key, want in mine.items():
            if key in state:
                got = tuple(state[key]) if key == "shape" else state[key]
                if got != want:
                    raise ValueError(f"state[{key!r}]: {state[key]!r} does not match this "
                                     f"loss's {want!r}")
        alpha_latent = self._latent(state["alpha_latent"], "state['alpha_latent']")
        scale_latent = self._latent(state["scale_latent"], "state['scale_latent']")
        self._alpha_latent = np.array(alpha_latent, dtype=np.float64)
        self._scale_latent = np.array(scale_latent, dtype=np.float64)

    def __repr__(self):
        return (f"AdaptiveRobustLoss(shape={self._shape}, alpha_lo={self._alpha_lo!r}, "
                f"alpha_hi={self._alpha_hi!r}, scale_lo={self._scale_lo!r})")


def _robust_loss():
    """fastloss.robust_loss (the compiled rho), looked up at call time."""
    loss = getattr(sys.modules[__package__], "robust_loss", None)
    if loss is None:
        raise RuntimeError("fastloss.robust_loss is not available in this build of fastloss; "
                           "AdaptiveRobustLoss computes rho and its gradients with it")
    return loss
