"""Device ops of the regression group (csrc/ops_regression.h and mse_loss), one per op
name of csrc/ops.def; see _elementwise for the op signature.

Each op mirrors its C kernel: the same formulas, stable forms and comparisons in each
select, so that NaN, ties, zeros and infinities come out as on the CPU.  The C's
LOG1P_UNIT is math.log1p here; math is _devmath's (the math module, IEEE under the
simulator)."""
from numba import cuda, float64

from . import _devmath
from ._devmath import math

_LOG2 = 0.69314718055994530942
_LOG_2PI = 1.8378770664093454836

# robust_loss (Barron 2019): the C kernel's formulas (csrc/ops_regression.h), in float64
# for both dtypes; see there for the derivation.
_ROBUST_T_GRAD = ("robust_loss",)
_INF = float("inf")


@cuda.jit(device=True, inline=True)
def _rb_exprel(v):
    e = math.exp(v)
    if e == 1.0:
        return float64(1.0)
    if e == _INF:
        return e
    if e == 0.0:
        return -1.0 / v
    return (e - 1.0) / math.log(e)


@cuda.jit(device=True, inline=True)
def _rb_expm1(v):
    e = math.exp(v)
    if e == 1.0:
        return v
    if e - 1.0 == -1.0:
        return float64(-1.0)
    if e == _INF:
        return e
    return (e - 1.0) * (v / math.log(e))


@cuda.jit(device=True, inline=True)
def _rb_g(v):
    """(v e^v - expm1(v)) / v^2 for |v| < 2: sum_k (k + 1) v^k / (k + 2)!"""
    acc = 6.198990658061994e-26
    acc = acc * v + 1.5472680682522736e-24
    acc = acc * v + 3.706996413521072e-23
    acc = acc * v + 8.509974375387505e-22
    acc = acc * v + 1.8683261924146203e-20
    acc = acc * v + 3.9145882126782523e-19
    acc = acc * v + 7.809603484293113e-18
    acc = acc * v + 1.4797143443923793e-16
    acc = acc * v + 2.6552651846596585e-15
    acc = acc * v + 4.498331606952833e-14
    acc = acc * v + 7.169215998581078e-13
    acc = acc * v + 1.0706029224547743e-11
    acc = acc * v + 1.4911969277048643e-10
    acc = acc * v + 1.9270852604185937e-09
    acc = acc * v + 2.296443268665491e-08
    acc = acc * v + 2.505210838544172e-07
    acc = acc * v + 2.48015873015873e-06
    acc = acc * v + 2.2045855379188714e-05
    acc = acc * v + 0.00017361111111111112
    acc = acc * v + 0.0011904761904761906
    acc = acc * v + 0.006944444444444444
    acc = acc * v + 0.03333333333333333
    acc = acc * v + 0.125
    acc = acc * v + 0.3333333333333333
    acc = acc * v + 0.5
    return acc


@cuda.jit(device=True, inline=True)
def _robust(x, a, c):
    """(rho, d/dx, d/dc, d/dalpha) in float64."""
    ic = 1.0 / c
    z = x * ic
    w = z * z
    hw = 0.5 * w
    aa = -a if a < 0.0 else a
    if a == 2.0:
        return hw, z * ic, -w * ic, (_INF if w > 0.0 else 0.0)
    if aa == _INF:
        em = _rb_expm1(hw if a > 0.0 else -hw)
        q = math.exp(hw if a > 0.0 else -hw)
        return (em if a > 0.0 else -em), z * q * ic, -w * q * ic, float64(0.0)
    s = 1.0 if a > 2.0 else -1.0
    b = s * (a - 2.0)
    u = w / b
    L = math.log1p(u)
    v = 0.5 * a * L
    ex = _rb_exprel(v)
    Q = math.exp((0.5 * a - 1.0) * L)
    if u < 0.25 and u * aa < 1.0:
        ia2 = 1.0 / (a - 2.0)
        tk = 0.125 * (a - 2.0) * w * u
        pk = 0.0
        da = 0.0
        for k in range(2, 27):
            f = u * (1.0 / (2 * (k + 1)))
            am = a - 2.0 * k
            pk = f * (am * (pk - tk * ia2) + tk)
            tk = tk * am * f
            da += pk
    else:
        if aa < 1.0:
            da = s * (0.5 * L * ex - 0.5 * Q * u)
        else:
            m = 1.0 - 0.5 * s * w
            if m > 0.5:
                da = s / a * _rb_expm1((0.5 * a - 1.0) * L + math.log1p(-0.5 * s * w))
            else:
                da = s / a * (Q * m - 1.0)
        av = -v if v < 0.0 else v
        if av < 2.0:
            da += b * (0.25 * L * L) * _rb_g(v)
        else:
            da += ((b + w) * Q * (v - 1.0) + b) / (a * a)
    return b * (0.5 * L) * ex, z * Q * ic, -w * Q * ic, da


def build(R):
    sign = _devmath.build(R).sign
    inf = R(_INF)

    # mse_loss: l = r^2, dl = 2 r
    @cuda.jit(device=True, inline=True)
    def mse_loss(x, t, y, pw, p0, p1, p2, p3):
        r = x - t
        return r * r, R(2) * r, R(0)

    # l1_loss: l = |r|, dl = sign(r) (0 at 0, NaN for NaN)
    @cuda.jit(device=True, inline=True)
    def l1_loss(x, t, y, pw, p0, p1, p2, p3):
        r = x - t
        l = -r if r < R(0) else r
        return l, sign(r), R(0)

    # huber_loss (p0 = delta, p1 = delta / 2): l = r^2 / 2 for |r| < delta,
    # delta (|r| - delta / 2) otherwise; dl = clamp(r, -delta, delta)
    @cuda.jit(device=True, inline=True)
    def huber_loss(x, t, y, pw, p0, p1, p2, p3):
        r = x - t
        a = -r if r < R(0) else r
        l = R(0.5) * r * r if a < p0 else p0 * (a - p1)
        d = p0 if r > p0 else (-p0 if r < -p0 else r)
        return l, d, R(0)

    # smooth_l1_loss (p0 = beta > 0, p1 = beta / 2): l = r^2 / (2 beta) for |r| < beta,
    # |r| - beta / 2 otherwise; dl = r / beta for |r| < beta, sign(r) otherwise
    @cuda.jit(device=True, inline=True)
    def smooth_l1_loss(x, t, y, pw, p0, p1, p2, p3):
        r = x - t
        a = -r if r < R(0) else r
        inside = a < p0
        l = R(0.5) * r * r / p0 if inside else a - p1
        d = r / p0 if inside else sign(r)
        return l, d, R(0)

    # log_cosh_loss: l = log cosh r, dl = tanh r; a = |r|, E = exp(-a):
    #   a <= 1: S = sinh r by its Taylor series to r^19, C = |S| + E = cosh r,
    #           l = log1p(S^2 / (1 + C)), dl = S / C
    #   a > 1:  l = a - log 2 + log1p(E^2), dl = sign(r) (1 - E^2) / (1 + E^2)
    @cuda.jit(device=True, inline=True)
    def log_cosh_loss(x, t, y, pw, p0, p1, p2, p3):
        r = x - t
        a = -r if r < R(0) else r
        E = R(math.exp(-a))
        E2 = E * E
        z = r * r
        s = R(1.0 / 121645100408832000.0)          # 1/19!
        s = s * z + R(1.0 / 355687428096000.0)     # 1/17!
        s = s * z + R(1.0 / 1307674368000.0)       # 1/15!
        s = s * z + R(1.0 / 6227020800.0)
        s = s * z + R(1.0 / 39916800.0)
        s = s * z + R(1.0 / 362880.0)
        s = s * z + R(1.0 / 5040.0)
        s = s * z + R(1.0 / 120.0)
        s = s * z + R(1.0 / 6.0)
        S = r + r * (z * s)                        # sinh r, sign of r
        aS = -S if S < R(0) else S
        C = aS + E                                 # cosh r
        small = a <= R(1)
        u = S * S / (R(1) + C) if small else E2
        lp = R(math.log1p(u))
        l = lp if small else (a - R(_LOG2)) + lp
        th = (R(1) - E2) / (R(1) + E2)
        d = S / C if small else (-th if r < R(0) else th)
        return l, d, R(0)

    # pinball_loss (p0 = q, p1 = q - 1), u = t - x: l = q u for u >= 0, (q - 1) u for
    # u < 0; dl = -q for u >= 0 (a tie included), 1 - q for u < 0, NaN for NaN
    @cuda.jit(device=True, inline=True)
    def pinball_loss(x, t, y, pw, p0, p1, p2, p3):
        u = t - x
        l = p0 * u if u >= R(0) else p1 * u
        d = -p0 if u >= R(0) else (-p1 if u < R(0) else u)
        return l, d, R(0)

    # Stirling's term of poisson_nll_loss(full=True): t log t - t + log(2 pi t) / 2 where
    # t > 1, else 0
    @cuda.jit(device=True, inline=True)
    def stirling(t):
        lt = R(math.log(t))
        s = t * lt - t + R(0.5) * (lt + R(_LOG_2PI))
        return s if t > R(1) else R(0)

    # poisson_nll_log (log_input=True): l = exp(x) - t x, dl = exp(x) - t
    @cuda.jit(device=True, inline=True)
    def poisson_nll_log(x, t, y, pw, p0, p1, p2, p3):
        mu = R(math.exp(x))
        return mu - t * x, mu - t, R(0)

    # poisson_nll_log_full: poisson_nll_log + Stirling's term
    @cuda.jit(device=True, inline=True)
    def poisson_nll_log_full(x, t, y, pw, p0, p1, p2, p3):
        mu = R(math.exp(x))
        return (mu - t * x) + stirling(t), mu - t, R(0)

    # poisson_nll (log_input=False, p0 = eps): l = x - t log(x + eps),
    # dl = 1 - t / (x + eps)
    @cuda.jit(device=True, inline=True)
    def poisson_nll(x, t, y, pw, p0, p1, p2, p3):
        xe = x + p0
        return x - t * R(math.log(xe)), R(1) - t / xe, R(0)

    # poisson_nll_full: poisson_nll + Stirling's term
    @cuda.jit(device=True, inline=True)
    def poisson_nll_full(x, t, y, pw, p0, p1, p2, p3):
        xe = x + p0
        return (x - t * R(math.log(xe))) + stirling(t), R(1) - t / xe, R(0)

    # gaussian_nll_loss (y = var, p0 = eps, p1 = log(2 pi) / 2 or 0): v = max(var, eps)
    # (NaN propagates); l = (log v + r^2 / v) / 2 + p1, dl/dx = r / v,
    # dl/dvar = (1 / v - r^2 / v^2) / 2 (the clamp does not mask it)
    @cuda.jit(device=True, inline=True)
    def gaussian_nll_loss(x, t, y, pw, p0, p1, p2, p3):
        r = x - t
        v = p0 if y < p0 else y
        iv = R(1) / v
        q = r * iv
        l = R(0.5) * (R(math.log(v)) + r * q) + p1
        return l, q, R(0.5) * (iv - q * q)

    # expm1(z) by Kahan's trick: (u - 1) z / log(u) with u = exp(z) rounded; u = 1 gives
    # z, u = 0 gives -1, u = inf gives inf
    @cuda.jit(device=True, inline=True)
    def expm1k(z):
        u = R(math.exp(z))
        um1 = u - R(1)
        q = um1 * (z / R(math.log(u)))
        return z if u == R(1) else (R(-1) if um1 == R(-1) else (u if u == inf else q))

    # tweedie_normal (power 0), mu = exp(x): l = (mu - t)^2 / 2, dl = mu (mu - t)
    @cuda.jit(device=True, inline=True)
    def tweedie_normal(x, t, y, pw, p0, p1, p2, p3):
        mu = R(math.exp(x))
        r = mu - t
        return R(0.5) * r * r, mu * r, R(0)

    # tweedie_poisson (power 1), mu = exp(x), dl = x - log t: l = t (expm1(dl) - dl),
    # d = t expm1(dl); for dl > 2, l = mu - t (1 + dl), d = mu - t; at t = 0, l = d = mu
    @cuda.jit(device=True, inline=True)
    def tweedie_poisson(x, t, y, pw, p0, p1, p2, p3):
        mu = R(math.exp(x))
        dl = x - R(math.log(t))
        em = expm1k(dl)
        l = mu if t == R(0) else (mu - t * (R(1) + dl) if dl > R(2) else t * (em - dl))
        d = mu if t == R(0) else (mu - t if dl > R(2) else t * em)
        return l, d, R(0)

    # tweedie_gamma (power 2), dl = x - log t: l = dl + expm1(-dl), d = -expm1(-dl);
    # for dl < -2, l = dl - 1 + t exp(-x), d = 1 - t exp(-x)
    @cuda.jit(device=True, inline=True)
    def tweedie_gamma(x, t, y, pw, p0, p1, p2, p3):
        dl = x - R(math.log(t))
        em = expm1k(-dl)
        te = t * R(math.exp(-x))
        l = dl - R(1) + te if dl < R(-2) else dl + em
        d = R(1) - te if dl < R(-2) else -em
        return l, d, R(0)

    # (tz^a - mu^a) / a (ia = 1 / a, lt = log tz, dl = x - lt): the larger power times
    # expm1(-|a dl|)
    @cuda.jit(device=True, inline=True)
    def pow_diff(a, ia, lt, x, dl):
        ad = a * dl
        tbig = ad <= R(0)
        P = R(math.exp(a * lt if tbig else a * x))
        em = P * expm1k(ad if tbig else -ad)
        return (-em if tbig else em) * ia

    # tweedie_deviance_loss (p0 = 1 - p, p1 = 2 - p, p2 = 1 / (1 - p), p3 = 1 / (2 - p)),
    # tz = max(t, 0): l = t (tz^(1-p) - mu^(1-p)) / (1-p) - (tz^(2-p) - mu^(2-p)) / (2-p),
    # +inf where that is inf - inf; d = mu^(2-p) - t mu^(1-p) = F (1 - t e) with
    # F = exp((2-p) x) for x >= 0 or t = 0, else F (e - t) with F = exp((1-p) x);
    # e = exp(-|x|)
    @cuda.jit(device=True, inline=True)
    def tweedie_deviance_loss(x, t, y, pw, p0, p1, p2, p3):
        tz = R(0) if t < R(0) else t
        lt = R(math.log(tz))
        dl = x - lt
        d1 = pow_diff(p0, p2, lt, x, dl)
        d2 = pow_diff(p1, p3, lt, x, dl)
        v = (R(0) if t == R(0) else t * d1) - d2
        l = inf if (v != v and x == x and t == t) else v
        up = x >= R(0) or t == R(0)
        ax = -x if x < R(0) else x
        e = R(math.exp(-ax))
        F = R(math.exp((p1 if up else p0) * x))
        d = F * (R(1) - t * e if up else e - t)
        return l, d, R(0)

    # robust_loss: t = alpha, y = scale; returns (l, d, d/dscale, d/dalpha)
    @cuda.jit(device=True, inline=True)
    def robust_loss(x, t, y, pw, p0, p1, p2, p3):
        l, d, dc, da = _robust(float64(x), float64(t), float64(y))
        return R(l), R(d), R(dc), R(da)

    return {
        "mse_loss": mse_loss,
        "l1_loss": l1_loss,
        "huber_loss": huber_loss,
        "smooth_l1_loss": smooth_l1_loss,
        "log_cosh_loss": log_cosh_loss,
        "pinball_loss": pinball_loss,
        "poisson_nll_log": poisson_nll_log,
        "poisson_nll_log_full": poisson_nll_log_full,
        "poisson_nll": poisson_nll,
        "poisson_nll_full": poisson_nll_full,
        "gaussian_nll_loss": gaussian_nll_loss,
        "tweedie_normal": tweedie_normal,
        "tweedie_poisson": tweedie_poisson,
        "tweedie_gamma": tweedie_gamma,
        "tweedie_deviance_loss": tweedie_deviance_loss,
        "robust_loss": robust_loss,
    }


T_GRAD = _ROBUST_T_GRAD
__all__ = ["build", "T_GRAD"]
