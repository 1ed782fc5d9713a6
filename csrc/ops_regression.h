/* ops_regression.h: this group's kernels, included per type and instruction set by
 * kernels_body.h (see FL_EW_DEFINE and FL_ROW_DEFINE there).
 *
 * Every op is element-wise and branch-free: both sides of a piecewise formula are
 * computed and one is selected, so a side that overflows or is NaN where it is not
 * selected costs nothing.  Selects are written so that a NaN residual falls through to a
 * side that propagates it. */

/* sign(r): 1, -1, 0 at 0, NaN for NaN (as torch.sign) */
FL_ALWAYS_INLINE REAL FN(rg_sign)(REAL r)
{
    return r > 0 ? (REAL)1 : (r < 0 ? (REAL)-1 : r * 0);   /* r * 0: 0, or NaN for NaN */
}

/* l1_loss: l = |x - t|, dl = sign(x - t) (0 at 0, NaN for NaN, as torch.sign). */
FL_ALWAYS_INLINE void FN(l1_loss_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                       REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy;
    const REAL r = x - t;
    *l = r < 0 ? -r : r;
    *d = FN(rg_sign)(r);
}
FL_EW_DEFINE(l1_loss, 1, 0, 1)

/* huber_loss (p0 = delta > 0, p1 = delta / 2), as torch:
 *   l = r^2 / 2 for |r| < delta, delta (|r| - delta / 2) otherwise
 *   dl = clamp(r, -delta, delta) */
FL_ALWAYS_INLINE void FN(huber_loss_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                          REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p2, (void)p3, (void)dy;
    const REAL r = x - t;
    const REAL a = r < 0 ? -r : r;
    *l = a < p0 ? (REAL)0.5 * r * r : p0 * (a - p1);
    *d = r > p0 ? p0 : (r < -p0 ? -p0 : r);
}
FL_EW_DEFINE(huber_loss, 1, 0, 1)

/* smooth_l1_loss (p0 = beta > 0, p1 = beta / 2; beta = 0 runs l1_loss), as torch:
 *   l = r^2 / (2 beta) for |r| < beta, |r| - beta / 2 otherwise
 *   dl = r / beta for |r| < beta, sign(r) otherwise */
FL_ALWAYS_INLINE void FN(smooth_l1_loss_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                              REAL p2, REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p2, (void)p3, (void)dy;
    const REAL r = x - t;
    const REAL a = r < 0 ? -r : r;
    const int in = a < p0;
    *l = in ? (REAL)0.5 * r * r / p0 : a - p1;
    *d = in ? r / p0 : FN(rg_sign)(r);
}
FL_EW_DEFINE(smooth_l1_loss, 1, 0, 0)

/* log_cosh_loss: l = log cosh r, dl = tanh r, without cancellation at any |r|.
 * With a = |r| and E = exp(-a):
 *   a <= 1: S = sinh r by its Taylor series (to r^19: truncation < 2e-20 relative),
 *           C = cosh a = |S| + E, cosh a - 1 = S^2 / (1 + C), so
 *           l = log1p(S^2 / (1 + C)) (argument in [0, 0.55]), dl = S / C;
 *   a > 1:  l = a - log 2 + log1p(E^2), dl = sign(r) (1 - E^2) / (1 + E^2),
 *           finite for |r| up to the float max (E^2 underflows to 0). */
FL_ALWAYS_INLINE void FN(log_cosh_loss_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                             REAL p2, REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy;
    const REAL r = x - t;
    const REAL a = r < 0 ? -r : r;
    const REAL E = EXP(-a);
    const REAL E2 = E * E;
    const REAL z = r * r;
    REAL s = (REAL)(1.0 / 121645100408832000.0);   /* 1/19! */
    s = s * z + (REAL)(1.0 / 355687428096000.0);    /* 1/17! */
    s = s * z + (REAL)(1.0 / 1307674368000.0);      /* 1/15! */
    s = s * z + (REAL)(1.0 / 6227020800.0);
    s = s * z + (REAL)(1.0 / 39916800.0);
    s = s * z + (REAL)(1.0 / 362880.0);
    s = s * z + (REAL)(1.0 / 5040.0);
    s = s * z + (REAL)(1.0 / 120.0);
    s = s * z + (REAL)(1.0 / 6.0);
    const REAL S = r + r * (z * s);                   /* sinh r, sign of r */
    const REAL aS = S < 0 ? -S : S;
    const REAL C = aS + E;                            /* cosh r */
    const int small = a <= 1;
    const REAL u = small ? S * S / (1 + C) : E2;
    const REAL lp = LOG1P_UNIT(u);
    *l = small ? lp : (a - (REAL)0.69314718055994530942) + lp;
    const REAL th = (1 - E2) / (1 + E2);
    *d = small ? S / C : (r < 0 ? -th : th);
}
FL_EW_DEFINE(log_cosh_loss, 1, 0, 0)

/* pinball_loss (p0 = q in (0, 1), p1 = q - 1), u = t - x:
 *   l = q u for u >= 0, (q - 1) u for u < 0
 *   dl = -q for u >= 0 (a tie included, as scikit-learn's PinballLoss), 1 - q for u < 0 */
FL_ALWAYS_INLINE void FN(pinball_loss_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                            REAL p2, REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p2, (void)p3, (void)dy;
    const REAL u = t - x;
    *l = u >= 0 ? p0 * u : p1 * u;
    *d = u >= 0 ? -p0 : (u < 0 ? -p1 : u);   /* NaN falls through to u */
}
FL_EW_DEFINE(pinball_loss, 1, 0, 0)

/* poisson_nll_loss, as torch.  Stirling's term of full=True, which does not depend on
 * the input: t log t - t + log(2 pi t) / 2 where t > 1, else 0. */
FL_ALWAYS_INLINE REAL FN(rg_stirling)(REAL t)
{
    const REAL lt = LOG(t);
    const REAL s = t * lt - t + (REAL)0.5 * (lt + (REAL)1.8378770664093454836);  /* log 2pi */
    return t > 1 ? s : (REAL)0;
}

/* log_input=True: l = exp(x) - t x, dl = exp(x) - t */
FL_ALWAYS_INLINE void FN(rg_poisson_log)(REAL x, REAL t, REAL *l, REAL *d)
{
    const REAL mu = EXP(x);
    *l = mu - t * x;
    *d = mu - t;
}

/* log_input=False (p0 = eps): l = x - t log(x + eps), dl = 1 - t / (x + eps) */
FL_ALWAYS_INLINE void FN(rg_poisson_lin)(REAL x, REAL t, REAL eps, REAL *l, REAL *d)
{
    const REAL xe = x + eps;
    *l = x - t * LOG(xe);
    *d = 1 - t / xe;
}

FL_ALWAYS_INLINE void FN(poisson_nll_log_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                               REAL p2, REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy;
    FN(rg_poisson_log)(x, t, l, d);
}
FL_EW_DEFINE(poisson_nll_log, 1, 0, 0)

FL_ALWAYS_INLINE void FN(poisson_nll_log_full_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                                    REAL p2, REAL p3, REAL *l, REAL *d,
                                                    REAL *dy, REAL *dt)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy;
    FN(rg_poisson_log)(x, t, l, d);
    *l += FN(rg_stirling)(t);
}
FL_EW_DEFINE(poisson_nll_log_full, 1, 0, 0)

FL_ALWAYS_INLINE void FN(poisson_nll_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                           REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p1, (void)p2, (void)p3, (void)dy;
    FN(rg_poisson_lin)(x, t, p0, l, d);
}
FL_EW_DEFINE(poisson_nll, 1, 0, 0)

FL_ALWAYS_INLINE void FN(poisson_nll_full_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                                REAL p2, REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p1, (void)p2, (void)p3, (void)dy;
    FN(rg_poisson_lin)(x, t, p0, l, d);
    *l += FN(rg_stirling)(t);
}
FL_EW_DEFINE(poisson_nll_full, 1, 0, 0)

/* gaussian_nll_loss (y = var materialized to the input's shape, p0 = eps, p1 = log(2 pi)/2
 * for full=True, else 0), as torch: v = max(var, eps) (NaN propagates);
 *   l = (log v + r^2 / v) / 2 + p1
 *   dl/dx = r / v,  dl/dvar = (1 / v - r^2 / v^2) / 2
 * The clamp does not mask the gradient (torch clamps under no_grad): below eps, dl/dvar
 * is the derivative at v = eps. */
FL_ALWAYS_INLINE void FN(gaussian_nll_loss_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                                 REAL p2, REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)p2, (void)p3;
    const REAL r = x - t;
    const REAL v = y < p0 ? p0 : y;
    const REAL iv = 1 / v;
    const REAL q = r * iv;
    *l = (REAL)0.5 * (LOG(v) + r * q) + p1;
    *d = q;
    *dy = (REAL)0.5 * (iv - q * q);
}
FL_EW_DEFINE(gaussian_nll_loss, 1, 1, 0)

/* tweedie_deviance_loss: half the Tweedie deviance of mu = exp(x) from t, with the
 * constant that makes it 0 at x = log t (scikit-learn's HalfTweedieLoss(power) plus its
 * constant_to_optimal_zero).  Powers 0, 1 and 2 are separate ops. */

/* expm1(z) by Kahan's trick: with u = exp(z) rounded, u - 1 is exact near u = 1 and
 * (u - 1) z / log(u) is expm1(z) to a few ulp, whatever the rounding of u (the quotient
 * is a smooth function of u).  u = 1 gives z, u = 0 gives -1, u = inf gives inf. */
FL_ALWAYS_INLINE REAL FN(rg_expm1)(REAL z)
{
    const REAL u = EXP(z);
    const REAL um1 = u - 1;
    const REAL r = um1 * (z / LOG(u));   /* um1 * z alone overflows for finite results */
    return u == 1 ? z : (um1 == -1 ? (REAL)-1 : (u == (REAL)__builtin_inf() ? u : r));
}

/* power 0: l = (mu - t)^2 / 2, dl = mu (mu - t) */
FL_ALWAYS_INLINE void FN(tweedie_normal_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                              REAL p2, REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy;
    const REAL mu = EXP(x);
    const REAL r = mu - t;
    *l = (REAL)0.5 * r * r;
    *d = mu * r;
}
FL_EW_DEFINE(tweedie_normal, 1, 0, 0)

/* Powers 1 and 2 are written in d = x - log t (t > 0): the value keeps its relative
 * accuracy near the optimum d = 0 instead of cancelling terms of the size of x and log t.
 *
 * power 1 (t >= 0): l = mu - t - t (x - log t) = t (expm1(d) - d), dl = mu - t = t expm1(d);
 * at t = 0, l = dl = mu. */
FL_ALWAYS_INLINE void FN(tweedie_poisson_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                               REAL p2, REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy;
    const REAL mu = EXP(x);
    const REAL dl = x - LOG(t);
    const REAL em = FN(rg_expm1)(dl);
    /* far above the target (dl > 2) t exp(dl) = mu: no overflow of exp(dl), no loss of
     * the digits of dl */
    *l = t == 0 ? mu : (dl > 2 ? mu - t * (1 + dl) : t * (em - dl));
    *d = t == 0 ? mu : (dl > 2 ? mu - t : t * em);
}
FL_EW_DEFINE(tweedie_poisson, 1, 0, 0)

/* power 2 (t > 0): l = d + t exp(-x) - 1 = d + expm1(-d), dl = 1 - t exp(-x) = -expm1(-d) */
FL_ALWAYS_INLINE void FN(tweedie_gamma_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                             REAL p2, REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy;
    const REAL dl = x - LOG(t);
    const REAL em = FN(rg_expm1)(-dl);
    /* far below the target (dl < -2) expm1(-dl) = t exp(-x) - 1, computed from t directly */
    const REAL te = t * EXP(-x);
    *l = dl < -2 ? dl - 1 + te : dl + em;
    *d = dl < -2 ? 1 - te : -em;
}
FL_EW_DEFINE(tweedie_gamma, 1, 0, 0)

/* (tz^a - mu^a) / a for tz >= 0 (lt = log tz, -inf at 0), mu = exp(x), dl = x - lt: the
 * larger power P times expm1(-|a dl|): relative accuracy for tz^a close to mu^a and for a
 * close to 0 (no cancellation in the difference, no 1/a blow-up).  Both differences of
 * a loss take their argument from the one rounded dl, so that their own cancellation
 * near the optimum leaves an error of the size of dl's rounding, not of each product's. */
FL_ALWAYS_INLINE REAL FN(rg_pow_diff)(REAL a, REAL ia, REAL lt, REAL x, REAL dl)
{
    const REAL ad = a * dl;
    const int tbig = ad <= 0;                       /* tz^a >= mu^a */
    const REAL P = EXP(tbig ? a * lt : a * x);
    const REAL em = P * FN(rg_expm1)(tbig ? ad : -ad);
    return (tbig ? -em : em) * ia;
}

/* other powers (p0 = 1 - p, p1 = 2 - p, p2 = 1 / (1 - p), p3 = 1 / (2 - p)):
 *   l  = max(t, 0)^(2-p) / ((1-p)(2-p)) - t mu^(1-p) / (1-p) + mu^(2-p) / (2-p)
 *      = t (tz^(1-p) - mu^(1-p)) / (1-p) - (tz^(2-p) - mu^(2-p)) / (2-p),  tz = max(t, 0)
 * (for t < 0, only allowed at p <= 0, tz^(1-p) = 0 makes both lines agree).  The second
 * line keeps its accuracy for p near 1 or 2 and near the optimum mu = t.  Its two terms
 * are inf - inf only where both overflow, and the deviance is >= 0: that value is +inf.
 *   dl = mu^(2-p) - t mu^(1-p)
 * is factored by the larger exponential, F = exp((2-p) x) for x >= 0 and exp((1-p) x)
 * for x < 0, the other being F e with e = exp(-|x|) <= 1: dl = F (1 - t e) or F (e - t),
 * +-inf and not NaN where F overflows.  At t = 0, the t terms are 0 (also against an
 * infinite power) and F = exp((2-p) x) whatever the sign of x. */
FL_ALWAYS_INLINE void FN(tweedie_deviance_loss_elem)(REAL x, REAL t, REAL y, REAL p0,
                                                     REAL p1, REAL p2, REAL p3, REAL *l,
                                                     REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)dy;
    const REAL tz = t < 0 ? (REAL)0 : t;   /* NaN propagates */
    const REAL lt = LOG(tz);
    const REAL dl = x - lt;
    const REAL d1 = FN(rg_pow_diff)(p0, p2, lt, x, dl);
    const REAL d2 = FN(rg_pow_diff)(p1, p3, lt, x, dl);
    const REAL v = (t == 0 ? (REAL)0 : t * d1) - d2;
    *l = v != v && x == x && t == t ? (REAL)__builtin_inf() : v;
    const int up = (x >= 0) | (t == 0);
    const REAL ax = x < 0 ? -x : x;
    const REAL e = EXP(-ax);
    const REAL F = EXP((up ? p1 : p0) * x);
    *d = F * (up ? 1 - t * e : e - t);
}
FL_EW_DEFINE(tweedie_deviance_loss, 1, 0, 0)

/* robust_loss (Barron 2019), x the residual, t = alpha, y = scale c (both materialized to
 * x's shape); with z = x / c, w = z^2, b = |alpha - 2|, s = sign(alpha - 2), u = w / b,
 * L = log1p(u), v = alpha L / 2:
 *   rho = b/alpha ((1 + u)^(alpha/2) - 1) = b (L / 2) exprel(v),  exprel(v) = expm1(v)/v,
 * which is exact at alpha = 0 (log1p(w / 2)) and keeps its digits near 0 and 2 (no pow,
 * no 1 - 1 cancellation).  With Q = (1 + u)^(alpha/2 - 1) = exp((alpha/2 - 1) L):
 *   d rho/dx = z Q / c,   d rho/dc = -w Q / c,
 *   d rho/dalpha = s (L/2) exprel(v) - s Q u / 2 + b (L^2 / 4) G(v),
 *   G(v) = (v e^v - expm1(v)) / v^2 = sum_k (k + 1) v^k / (k + 2)!
 * The first two terms are written as (s / alpha)(Q (1 - s w / 2) - 1) where |alpha| >= 1
 * (they cancel near alpha = 2); b (L^2/4) G(v) as ((b + w) Q (v - 1) + b) / alpha^2 where
 * |v| >= 2 (no overflow of e^v = (1 + u)^(alpha/2) near alpha = 2).  For small u the
 * terms are O(w) and the sum O(w^3): there it is the series sum_k a_k'(alpha) w^k of
 * rho = sum_k a_k w^k, a_1 = 1/2, a_(k+1) / a_k = (alpha - 2k) / (2 (k + 1) b), summed
 * with t_k = a_k w^k and P_k = t_k d(log a_k)/dalpha by
 *   t_(k+1) = t_k (alpha - 2k) u / (2 (k + 1)),
 *   P_(k+1) = u / (2 (k + 1)) ((alpha - 2k) (P_k - t_k / (alpha - 2)) + t_k).
 * Special values: alpha = 2: w / 2 (d/dalpha is +inf for w > 0: rho grows like
 * (alpha - 2) log|alpha - 2| there; 0 at w = 0); alpha = -inf: -expm1(-w / 2);
 * alpha = +inf: expm1(w / 2) (d/dalpha 0 at both). */
/* Computed in double for float32 too: d rho/dalpha sums terms that cancel to a few
 * digits (e.g. near |alpha| = 1, where the two closed forms meet), and float32 would
 * keep only ~4 of them there. */
#define FL_RB_G_TERMS 25

/* The double-precision helpers below use fl_log_pos (normal positive arguments) and
 * handle the other arguments by selects on doubles: fl_log's subnormal path has an
 * integer select SSE2 cannot vectorize in float64, and this loop must vectorize in every
 * variant alike (else the value depends on whether the gradient was asked for). */
#define FL_DBL_MIN 2.2250738585072014e-308

FL_ALWAYS_INLINE double FN(rb_exprel)(double v)
{
    /* Kahan's expm1 over v: (e - 1) / log(e) with e = exp(v) rounded; e below the
     * normal range: expm1(v) / v = -1 / v to rounding */
    const double e = fl_exp(v);
    const double es = e < FL_DBL_MIN || e == __builtin_inf() ? 2.0 : e;
    const double r = (e - 1) / fl_log_pos(es);
    return e == 1 ? 1.0 : (e == __builtin_inf() ? e : (e < FL_DBL_MIN ? -1 / v : r));
}

/* log1p(y) for y >= -1/2 (or NaN, inf) by Kahan's trick, log(m) y / (m - 1) with
 * m = 1 + y rounded */
FL_ALWAYS_INLINE double FN(rb_log1p)(double y)
{
    const double m = 1 + y;
    const double ms = m == __builtin_inf() || m != m ? 2.0 : m;
    const double r = fl_log_pos(ms) * (y / (m - 1));
    return m == 1 ? y : (m == __builtin_inf() || m != m ? m : r);
}

FL_ALWAYS_INLINE double FN(rb_expm1)(double v)
{
    const double e = fl_exp(v);
    const double es = e < FL_DBL_MIN || e == __builtin_inf() ? 2.0 : e;
    const double r = (e - 1) * (v / fl_log_pos(es));
    return e == 1 ? v : (e < FL_DBL_MIN ? -1.0 : (e == __builtin_inf() ? e : r));
}

FL_ALWAYS_INLINE double FN(rb_g)(double v)
{
    /* (k + 1) / (k + 2)! for k = 24 .. 0, Horner: to |v| = 2 the first term left out is
     * below 2e-17 of the sum */
    static const double c[FL_RB_G_TERMS] = {
        6.198990658061994e-26, 1.5472680682522736e-24, 3.706996413521072e-23,
        8.509974375387505e-22, 1.8683261924146203e-20, 3.9145882126782523e-19,
        7.809603484293113e-18, 1.4797143443923793e-16, 2.6552651846596585e-15,
        4.498331606952833e-14, 7.169215998581078e-13, 1.0706029224547743e-11,
        1.4911969277048643e-10, 1.9270852604185937e-09, 2.296443268665491e-08,
        2.505210838544172e-07, 2.48015873015873e-06, 2.2045855379188714e-05,
        0.00017361111111111112, 0.0011904761904761906, 0.006944444444444444,
        0.03333333333333333, 0.125, 0.3333333333333333,
        0.5};
    double acc = c[0];
    /* written out: a loop here (even unrolled by pragma) can keep the element loop
     * around it from vectorizing */
#define FL_RB_H(k) acc = acc * v + c[k]
    FL_RB_H(1); FL_RB_H(2); FL_RB_H(3); FL_RB_H(4); FL_RB_H(5); FL_RB_H(6); FL_RB_H(7);
    FL_RB_H(8); FL_RB_H(9); FL_RB_H(10); FL_RB_H(11); FL_RB_H(12); FL_RB_H(13); FL_RB_H(14);
    FL_RB_H(15); FL_RB_H(16); FL_RB_H(17); FL_RB_H(18); FL_RB_H(19); FL_RB_H(20);
    FL_RB_H(21); FL_RB_H(22); FL_RB_H(23); FL_RB_H(24);
#undef FL_RB_H
    return acc;
}

FL_ALWAYS_INLINE void FN(robust_loss_elem)(REAL xr, REAL t, REAL y, REAL p0, REAL p1,
                                           REAL p2, REAL p3, REAL *l, REAL *d, REAL *dy,
                                           REAL *dt)
{
    (void)p0, (void)p1, (void)p2, (void)p3;
    const double x = xr, a = t, c = y;
    const double ic = 1 / c;
    const double z = x * ic;
    const double w = z * z;
    const double big = __builtin_inf();
    const double s = a > 2 ? 1.0 : -1.0;
    const double b = s * (a - 2);
    const double u = w / b;
    const double L = FN(rb_log1p)(u);
    const double v = 0.5 * a * L;
    const double ex = FN(rb_exprel)(v);
    const double Q = fl_exp((0.5 * a - 1) * L);
    /* d rho / d alpha: the closed form */
    const double ac3 = s * (0.5 * L * ex - 0.5 * Q * u);
    /* Q (1 - s w/2) - 1 as expm1(log Q + log1p(-s w/2)) where 1 - s w/2 > 1/2: Q (1 - s w/2)
     * is near 1 close to alpha = 2 (below 1/2 the difference cannot cancel: Q <= 1 there
     * when alpha < 2; for alpha > 2 only where it changes sign) */
    const double m = 1 - 0.5 * s * w;
    const double ac2 = s / a * (m > 0.5 ? FN(rb_expm1)((0.5 * a - 1) * L +
                                                       FN(rb_log1p)(m > 0.5 ? -0.5 * s * w : 0))
                                        : Q * m - 1);
    const double av = v < 0 ? -v : v, aa = a < 0 ? -a : a;
    const double bg_s = b * (0.25 * L * L) * FN(rb_g)(v);
    const double bg_l = ((b + w) * Q * (v - 1) + b) / (a * a);
    const double closed = (aa < 1 ? ac3 : ac2) + (av < 2 ? bg_s : bg_l);
    /* ... and the series in u, where its terms fall by 4 or more at each step */
    const double ia2 = 1 / (a - 2);
    /* from k = 2: t_2 = (alpha - 2) w u / 8, P_2 = 0 exactly (the recursion would give
     * the rounding error of (alpha - 2) (t_1 / (alpha - 2)) - t_1 there) */
    double tk = 0.125 * (a - 2) * w * u, pk = 0, ser = 0;
    /* k = 2 .. 26, written out (see rb_g) */
#define FL_RB_S(k)                                                  \
    do {                                                            \
        const double f = u * (1.0 / (2 * (k + 1)));                 \
        const double am = a - 2.0 * (k);                           \
        const double pn = f * (am * (pk - tk * ia2) + tk);          \
        tk = tk * am * f;                                           \
        pk = pn;                                                    \
        ser += pn;                                                  \
    } while (0)
    FL_RB_S(2); FL_RB_S(3); FL_RB_S(4); FL_RB_S(5); FL_RB_S(6); FL_RB_S(7); FL_RB_S(8);
    FL_RB_S(9); FL_RB_S(10); FL_RB_S(11); FL_RB_S(12); FL_RB_S(13); FL_RB_S(14);
    FL_RB_S(15); FL_RB_S(16); FL_RB_S(17); FL_RB_S(18); FL_RB_S(19); FL_RB_S(20);
    FL_RB_S(21); FL_RB_S(22); FL_RB_S(23); FL_RB_S(24); FL_RB_S(25); FL_RB_S(26);
#undef FL_RB_S
    const double da = u < 0.25 && u * aa < 1 ? ser : closed;
    /* the general case, then the special values */
    const double lg = b * (0.5 * L) * ex;
    const double hw = 0.5 * w;
    const double em = FN(rb_expm1)(a > 0 ? hw : -hw);   /* expm1(+-w/2) for alpha = +-inf */
    const double eh = fl_exp(a > 0 ? hw : -hw);   /* exp(+-w/2), not em + 1: that loses
                                                   * its digits where exp(-w/2) is small */
    const double qq = a == 2 ? 1.0 : (aa == big ? eh : Q);
    *l = (REAL)(a == 2 ? hw : (aa == big ? (a > 0 ? em : -em) : lg));
    *d = (REAL)(z * qq * ic);
    *dy = (REAL)(-w * qq * ic);
    *dt = (REAL)(a == 2 ? (w > 0 ? big : 0.0) : (aa == big ? 0.0 : da));
}
FL_EW_DEFINE(robust_loss, 2, 1, 0)
