/* ops_softmax.h: this group's kernels, included per type and instruction set by
 * kernels_body.h (see FL_EW_DEFINE and FL_ROW_DEFINE there).
 *
 * Softmax losses of one class-index target y per row.  Each row is read from memory once,
 * by the online log-sum-exp of ce_online (running max m, s = sum_j exp(x_j - m)); the
 * gradient pass re-reads it from L1/L2 and recomputes exp (as ce_row_index_online); so
 * do two rarer passes: the re-sum of the other classes in sm_target (rows of fewer than FL_SM_SPLIT_MIN classes
 * whose target is far ahead) and the hard bootstrap's search for the first max.  In terms
 * of q = p_y and u = 1 - q (computed without cancellation, see sm_target) the gradients of
 * the first four losses are K (p_j - [j = y]) for a per-row factor K, written as
 * (K / s) exp(x_j - m), with the target's entry set to -K u afterwards (p_y - 1 would
 * cancel when q is close to 1).  Rows whose target is ignore_index (or out of range) have
 * value 0 and a zero gradient row. */

/* The first j with x_j == M, or C: blocks tested with a vectorized "any", the block
 * that holds it searched. */
FL_ALWAYS_INLINE int64_t FN(sm_first)(const REAL *x, int64_t C, REAL M)
{
    for (int64_t k = 0; k < C; k += 64) {
        const int64_t L = (C - k) < 64 ? (C - k) : 64;
        const REAL *xk = x + k;
        int hit = 0;
#pragma omp simd reduction(| : hit)
        for (int64_t j = 0; j < L; j++)   /* HOT */
            hit |= xk[j] == M;
        if (hit)
            for (int64_t j = 0; j < L; j++)
                if (xk[j] == M)
                    return k + j;
    }
    return C;
}

/* sum_j exp(x_j - M) over n values */
FL_ALWAYS_INLINE double FN(sm_expsum)(const REAL *x, int64_t n, REAL M)
{
    double a = 0.0;
#pragma omp simd reduction(+ : a)
    for (int64_t j = 0; j < n; j++)   /* HOT */
        a += (double)EXP(x[j] - M);
    return a;
}

/* Rows of fewer classes take one ce_online pass and, when the target is the row max with
 * the other classes' sum S = s - 1 below FL_SM_RESUM (where s - 1 has lost too many bits
 * to the rounding of s), a second pass over L1 for S; wider rows take the split pass of
 * sm_target, whose fixed cost (two more loop prologues and epilogues, a few hundred
 * instructions) would double the work of a small row. */
#define FL_SM_SPLIT_MIN 128
#define FL_SM_RESUM (sizeof(REAL) == 4 ? 0x1p-20 : 0x1p-3)

/* Statistics of a row x with target y: *m the row max, *s = S + e_y with S the other
 * classes' sum of exp(x_j - m) and e_y = exp(x_y - m), *sx = sum_c w_c x_c (when
 * want_sx), *logs = log s, *logq = log p_y and *u = 1 - p_y = S / s.  S keeps its digits
 * as p_y -> 1 (s - e_y alone would lose them all): from C = FL_SM_SPLIT_MIN on, the row's
 * one pass is ce_online over the classes before y and over those after it, joined with
 * x_y, so that S is summed as such; below, see FL_SM_RESUM (where y is not the row max,
 * the max's exp(0) = 1 is in S, so S >= s / 2 and s - e_y loses at most a bit).  log q
 * is -log1p(S) where y is a row max (e_y = 1), d - log s (d = x_y - m < 0, q < 1/2)
 * elsewhere.  NaN in the row makes s, and so every output, NaN. */
FL_ALWAYS_INLINE void FN(sm_target)(const REAL *x, int64_t C, int64_t y, const REAL *cw,
                                    int want_sx, double *m, double *s, double *sx,
                                    double *logs, double *logq, double *u)
{
    const double xy = (double)x[y];
    double mm, S;
    if (C < FL_SM_SPLIT_MIN) {
        double s0;
        FN(ce_online)(x, C, cw, want_sx, &mm, &s0, sx);
        S = s0 - (xy == mm ? 1.0 : fl_exp(xy - mm));
        if (xy == mm && S < FL_SM_RESUM)
            S = FN(sm_expsum)(x, y, (REAL)mm) + FN(sm_expsum)(x + y + 1, C - y - 1, (REAL)mm);
    } else {
        double m1, s1, sx1, m2, s2, sx2;
        FN(ce_online)(x, y, cw, want_sx, &m1, &s1, &sx1);
        FN(ce_online)(x + y + 1, C - y - 1, cw ? cw + y + 1 : 0, want_sx, &m2, &s2, &sx2);
        mm = m1 > m2 ? m1 : m2;
        mm = xy > mm ? xy : mm;
        /* (exp(0) = 1 spared: one of the three terms holds the max) */
        S = (m1 == mm ? s1 : s1 * fl_exp(m1 - mm)) + (m2 == mm ? s2 : s2 * fl_exp(m2 - mm));
        *sx = want_sx ? sx1 + sx2 + (double)(cw ? cw[y] * x[y] : x[y]) : 0.0;
    }
    const double d = xy - mm;   /* <= 0, or NaN */
    *m = mm;
    *s = S + (d == 0.0 ? 1.0 : fl_exp(d));
    *u = S / *s;
    if (d == 0.0) {
        *logs = fl_log1p(S);
        *logq = -*logs;
    } else {
        *logs = fl_log(*s);
        *logq = d - *logs;
    }
}

/* expm1(z) for a scalar z <= 0 (or NaN), by Kahan's identity
 * expm1(z) = (e - 1) z / log(e), e = exp(z) rounded: a few ulp, from fl_exp and fl_log. */
FL_ALWAYS_INLINE double FN(sm_expm1)(double z)
{
    const double e = fl_exp(z);
    if (e == 1.0)
        return z;
    if (e == 0.0)
        return -1.0;
    return (e - 1.0) * z / fl_log(e);
}

/* g = -log(1 - u) - u = -log q - u (= u^2/2 + u^3/3 + ...) without cancellation: for
 * u <= 1/4 from log1p(x) - x = -x^2 / (2 + x) + 2 (z^3/3 + z^5/5 + ...), z = x / (2 + x),
 * at x = -u: g = u^2 / (2 - u) + 2 (w^3/3 + w^5/5 + ...), w = u / (2 - u) <= 1/7, all terms
 * positive (ten terms reach 1e-17 relative); else directly. */
FL_ALWAYS_INLINE double FN(sm_nlog1m_minus)(double u, double logq)
{
    if (!(u <= 0.25))
        return -logq - u;
    const double w = u / (2.0 - u), w2 = w * w;
    double p = 1.0 / 21.0;
    for (int k = 9; k >= 1; k--)
        p = p * w2 + 1.0 / (double)(2 * k + 1);
    return u * u / (2.0 - u) + 2.0 * w * w2 * p;
}

/* The row's gradient before its target entry: g_j = A exp(x_j - m) - B (w ? w_j : 1). */
FL_ALWAYS_INLINE void FN(sm_grad)(const REAL *x, REAL *g, int64_t C, double m, double A,
                                  double B, const REAL *w)
{
    const REAL As = (REAL)A, Bs = (REAL)B, M = (REAL)m;
    if (B != 0.0 && w) {
#pragma omp simd
        for (int64_t j = 0; j < C; j++)   /* HOT */
            g[j] = As * EXP(x[j] - M) - Bs * w[j];
    } else if (B != 0.0) {
#pragma omp simd
        for (int64_t j = 0; j < C; j++)   /* HOT */
            g[j] = As * EXP(x[j] - M) - Bs;
    } else {
#pragma omp simd
        for (int64_t j = 0; j < C; j++)   /* HOT */
            g[j] = As * EXP(x[j] - M);
    }
}

/* A row with its target and statistics (see sm_target). */
typedef struct {
    const REAL *x;   /* the row's logits */
    REAL *g;         /* its gradient row, or NULL */
    int64_t y;       /* its target */
    double sw, m, s, sx, logs, logq, u;
} FN(sm_row_t);

/* Sample i's row: 0 for an ignored target (or one out of range) after writing the row's
 * zero value and gradient, else 1 with the row's statistics in *r (sm_target; sx, the
 * class-weighted logit sum over cw, only when want_sx). */
FL_ALWAYS_INLINE int FN(sm_begin)(const fl_row_args *a, int64_t i, const REAL *cw, int want_sx,
                                  FN(sm_row_t) *r)
{
    const int64_t C = a->c;
    r->x = (const REAL *)a->x + i * C;
    r->g = a->grad ? (REAL *)a->grad + i * C : 0;
    r->y = a->target[i];
    r->sw = a->sample_w ? (double)((const REAL *)a->sample_w)[i] : 1.0;
    if (!(r->y == a->ignore_index || r->y < 0 || r->y >= C)) {
        FN(sm_target)(r->x, C, r->y, cw, want_sx, &r->m, &r->s, &r->sx, &r->logs, &r->logq,
                      &r->u);
        return 1;
    }
    if (r->g) {
        REAL *gr = r->g;
#pragma omp simd
        for (int64_t j = 0; j < C; j++)
            gr[j] = 0;
    }
    if (a->loss_out)
        ((REAL *)a->loss_out)[i] = 0;
    return 0;
}

/* Store the row's value l (sample weight included); write its gradient
 * coef K (p - onehot(y)) when asked. */
FL_ALWAYS_INLINE double FN(sm_finish)(const fl_row_args *a, int64_t i, const FN(sm_row_t) *r,
                                      double l, double coef, double K)
{
    if (a->loss_out)
        ((REAL *)a->loss_out)[i] = (REAL)l;
    if (r->g) {
        FN(sm_grad)(r->x, r->g, a->c, r->m, coef * K / r->s, 0.0, 0);
        r->g[r->y] = (REAL)(-coef * K * r->u);
    }
    return l;
}

/* softmax_focal_loss: -alpha_y (1 - q)^gamma log q; with F = u^gamma - gamma q u^(gamma-1)
 * log q, the gradient is alpha_y F (p_j - [j = y]).  u^(gamma-1) q log q is taken as its
 * limit 0 at u = 0 (infinite power times zero log for gamma < 1), and u^(gamma-1) is formed
 * as u^gamma / u after the ratio log q / u (which tends to -1), so nothing overflows.
 * p[0] = gamma; class_w = alpha. */
FL_ALWAYS_INLINE double FN(softmax_focal_loss_row)(const fl_row_args *a, int64_t i,
                                                   double gscale)
{
    FN(sm_row_t) r;
    if (!FN(sm_begin)(a, i, 0, 0, &r))
        return 0.0;
    const double gamma = a->p[0];
    const double al = a->class_w ? (double)((const REAL *)a->class_w)[r.y] : 1.0;
    /* u^gamma; 0^0 = 1, as torch.pow */
    const double ug = gamma == 0.0 ? 1.0 : fl_exp(gamma * fl_log(r.u));
    const double q = fl_exp(r.logq);
    double F = ug;
    if (r.u > 0.0 && q > 0.0)   /* the limits 0 at u = 0 and q = 0; NaN u leaves F = NaN */
        F -= gamma * q * (r.logq / r.u) * ug;
    return FN(sm_finish)(a, i, &r, -r.sw * al * ug * r.logq, r.sw * gscale, al * F);
}
FL_ROW_DEFINE(softmax_focal_loss)

/* generalized_cross_entropy: (1 - q^Q) / Q, gradient q^Q (p_j - [j = y]); 1 - q^Q is
 * -expm1(Q log q), accurate as Q -> 0 (where the loss tends to -log q); Q = 1 is u.
 * p[0] = Q. */
FL_ALWAYS_INLINE double FN(generalized_cross_entropy_row)(const fl_row_args *a, int64_t i,
                                                          double gscale)
{
    FN(sm_row_t) r;
    if (!FN(sm_begin)(a, i, 0, 0, &r))
        return 0.0;
    const double Q = a->p[0];
    const double l = Q == 1.0 ? r.u : -FN(sm_expm1)(Q * r.logq) / Q;
    return FN(sm_finish)(a, i, &r, r.sw * l, r.sw * gscale, fl_exp(Q * r.logq));
}
FL_ROW_DEFINE(generalized_cross_entropy)

/* symmetric_cross_entropy: alpha (-log q) + beta (-A) u (the reverse cross-entropy with
 * log 0 := A), gradient (alpha - A beta q) (p_j - [j = y]).  p = (alpha, beta, A). */
FL_ALWAYS_INLINE double FN(symmetric_cross_entropy_row)(const fl_row_args *a, int64_t i,
                                                        double gscale)
{
    FN(sm_row_t) r;
    if (!FN(sm_begin)(a, i, 0, 0, &r))
        return 0.0;
    const double al = a->p[0], be = a->p[1], A = a->p[2];
    const double l = -al * r.logq - be * A * r.u;
    return FN(sm_finish)(a, i, &r, r.sw * l, r.sw * gscale, al - A * be * fl_exp(r.logq));
}
FL_ROW_DEFINE(symmetric_cross_entropy)

/* poly1_cross_entropy: cross_entropy (class weights w, label smoothing ls, as ce_post)
 * + eps w_y (1 - p_t), p_t = sum_c t'_c p_c, t' = (1 - ls) onehot(y) + ls / C, so
 * 1 - p_t = (1 - ls) u + ls (C - 1) / C, and the value is
 *   (1 - ls) w_y (g + (1 + eps) u) + ls / C (W lse - sum_c w_c x_c + eps w_y (C - 1)),
 * g = -log q - u (sm_nlog1m_minus: no cancellation at eps = -1 as q -> 1).  Gradient
 *   (1 - ls) w_y (1 + eps q) (p_j - [j = y]) + ls / C (W p_j - w_j),   W = sum_c w_c,
 * with 1 + eps q formed as (1 + eps) - eps u (exact at eps = -1).  p = (eps, ls). */
FL_ALWAYS_INLINE double FN(poly1_cross_entropy_row)(const fl_row_args *a, int64_t i,
                                                    double gscale)
{
    const int64_t C = a->c;
    const REAL *cw = (const REAL *)a->class_w;
    const double eps = a->p[0], ls = a->p[1], W = a->class_w_sum;
    FN(sm_row_t) r;
    if (!FN(sm_begin)(a, i, cw, ls > 0.0, &r))
        return 0.0;
    const double wy = cw ? (double)cw[r.y] : 1.0, u = r.u;
    double l = (1.0 - ls) * wy * (FN(sm_nlog1m_minus)(u, r.logq) + (1.0 + eps) * u);
    if (ls > 0.0)
        l += ls / (double)C * (W * (r.m + r.logs) - r.sx + eps * wy * (double)(C - 1));
    l *= r.sw;
    if (a->loss_out)
        ((REAL *)a->loss_out)[i] = (REAL)l;
    if (r.g) {
        const double coef = r.sw * gscale;
        const double D = coef * (1.0 - ls) * wy * ((1.0 + eps) - eps * u);
        const double B = coef * ls / (double)C;
        FN(sm_grad)(r.x, r.g, C, r.m, (D + B * W) / r.s, B, cw);
        r.g[r.y] = (REAL)(-D * u + B * (W * fl_exp(r.logq) - wy));
    }
    return l;
}
FL_ROW_DEFINE(poly1_cross_entropy)

/* bootstrapped_cross_entropy: -sum_c t'_c log p_c with t' = beta onehot(y) + (1 - beta) z,
 * z = p ("soft", p[1] = 0) or onehot(k), k the first row max ("hard", p[1] = 1); t' is a
 * constant of the gradient, which is p - t':
 *   soft: value beta (-log q) + (1 - beta) H, H = log s - sum_j e_j (x_j - m) / s the
 *         entropy (e_j = exp(x_j - m); 0 log 0 = 0); gradient beta (p_j - [j = y]);
 *         the sum for H runs in the gradient pass;
 *   hard: value beta (-log q) + (1 - beta) log s (-log p_k = log s); gradient
 *         p_j - beta [j = y] - (1 - beta) [j = k], k searched (from L1/L2) only for it. */
FL_ALWAYS_INLINE double FN(bootstrapped_cross_entropy_row)(const fl_row_args *a, int64_t i,
                                                           double gscale)
{
    FN(sm_row_t) r;
    if (!FN(sm_begin)(a, i, 0, 0, &r))
        return 0.0;
    const int64_t C = a->c, y = r.y;
    const REAL *x = r.x;
    REAL *g = r.g;
    const double be = a->p[0], coef = r.sw * gscale;
    const REAL M = (REAL)r.m;
    double l;
    if (a->p[1] != 0.0) {   /* hard */
        l = r.sw * (-be * r.logq + (1.0 - be) * r.logs);
        if (g) {
            const int64_t k = FN(sm_first)(x, C, M);   /* before g may overwrite x */
            FN(sm_grad)(x, g, C, r.m, coef / r.s, 0.0, 0);
            if (k == y) {
                g[y] = (REAL)(-coef * r.u);
            } else {
                g[y] = (REAL)(coef * (fl_exp(r.logq) - be));
                if (k < C)   /* no k in a row of NaN, whose gradient is NaN already */
                    g[k] -= (REAL)(coef * (1.0 - be));
            }
        }
    } else {
        const REAL As = (REAL)(coef * be / r.s);
        double t = 0.0;
        if (g) {
#pragma omp simd reduction(+ : t)
            for (int64_t j = 0; j < C; j++) {   /* HOT */
                const REAL dj = x[j] - M, e = EXP(dj);
                t += (double)(e == 0 ? (REAL)0 : e * dj);
                g[j] = As * e;
            }
            g[y] = (REAL)(-coef * be * r.u);
        } else {
#pragma omp simd reduction(+ : t)
            for (int64_t j = 0; j < C; j++) {   /* HOT */
                const REAL dj = x[j] - M, e = EXP(dj);
                t += (double)(e == 0 ? (REAL)0 : e * dj);
            }
        }
        l = r.sw * (-be * r.logq + (1.0 - be) * (r.logs - t / r.s));
    }
    if (a->loss_out)
        ((REAL *)a->loss_out)[i] = (REAL)l;
    return l;
}
FL_ROW_DEFINE(bootstrapped_cross_entropy)
