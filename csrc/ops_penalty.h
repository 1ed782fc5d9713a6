/* ops_penalty.h: the regularizers' kernels (fastloss.regularizers), included per type and
 * instruction set by kernels_body.h (see FL_EW_DEFINE and FL_ROW_DEFINE there).
 *
 * Value and gradient (pen_*): one pass over a parameter array, run with reduction "sum";
 * l is the element's penalty without its strength where the strength is one factor
 * (the Python side multiplies the float64 sum by it) and d its derivative with the
 * strength folded in (p0).  A frozen mask comes in as the element weight w (1 trainable,
 * 0 frozen), so a frozen element adds 0 * l to the value and writes 0 * d: exactly 0 for
 * finite values, NaN where the element is NaN or infinite (NaN propagates, as the
 * losses' weights).
 *
 * Proximal maps (prox_*): run with reduction "sum", no weights, and the gradient array
 * equal to the parameter itself (out = x): d is the proximal map's result, written in
 * place in the same pass (each element is read before it is written); l is 0.  Masked
 * variants take the mask in t and select, so a frozen element is written back unchanged,
 * bit for bit.
 *
 * Everything is branch-free (selects), so the loops vectorize; selects are written so
 * that NaN falls through to a side that propagates it. */

/* sign(x): 1, -1, 0 at 0 (the subgradient 0), NaN for NaN */
FL_ALWAYS_INLINE REAL FN(pen_sign)(REAL x)
{
    return x > 0 ? (REAL)1 : (x < 0 ? (REAL)-1 : x * 0);
}

/* soft-thresholding sign(x) max(|x| - lam, 0), lam >= 0; exact x - lam / x + lam outside
 * [-lam, lam], +-0 inside, NaN for NaN */
FL_ALWAYS_INLINE REAL FN(pen_soft)(REAL x, REAL lam)
{
    return x > lam ? x - lam : (x < -lam ? x + lam : x * 0);
}

/* l1: l = |x|, d = p0 sign(x) (p0 = strength) */
FL_ALWAYS_INLINE void FN(pen_l1_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                      REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)t, (void)y, (void)p1, (void)p2, (void)p3, (void)dy, (void)dt;
    *l = x < 0 ? -x : x;
    *d = p0 * FN(pen_sign)(x);
}
FL_EW_DEFINE(pen_l1, 0, 0, 1)

/* l2: l = x^2, d = p0 x (p0 = strength; the value is 0.5 strength sum l) */
FL_ALWAYS_INLINE void FN(pen_l2_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                      REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)t, (void)y, (void)p1, (void)p2, (void)p3, (void)dy, (void)dt;
    *l = x * x;
    *d = p0 * x;
}
FL_EW_DEFINE(pen_l2, 0, 0, 1)

/* elastic net, 0 < l1_ratio < 1 (the ends run pen_l1 and pen_l2):
 *   l = p0 |x| + p1 x^2,  d = p0 sign(x) + p2 x,
 * p0 = alpha l1_ratio, p1 = alpha (1 - l1_ratio) / 2, p2 = alpha (1 - l1_ratio) */
FL_ALWAYS_INLINE void FN(pen_enet_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                        REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)t, (void)y, (void)p3, (void)dy, (void)dt;
    const REAL ax = x < 0 ? -x : x;
    *l = p0 * ax + p1 * (x * x);
    *d = p0 * FN(pen_sign)(x) + p2 * x;
}
FL_EW_DEFINE(pen_enet, 0, 0, 1)

/* L2-SP toward the pre-trained value t = w0: l = (x - t)^2, d = p0 (x - t) (p0 = alpha;
 * the value is 0.5 alpha sum l) */
FL_ALWAYS_INLINE void FN(pen_l2sp_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                        REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p1, (void)p2, (void)p3, (void)dy, (void)dt;
    const REAL r = x - t;
    *l = r * r;
    *d = p0 * r;
}
FL_EW_DEFINE(pen_l2sp, 1, 0, 1)

/* Group lasso over columns: the column norms are computed first, then one pass scales
 * each element by its column's factor, given as the element weight in the per-column
 * layout: g = w_col x (the gradient strength / ||w_col||, or the proximal factor
 * max(0, 1 - step strength / ||w_col||) written in place).  pen_cols_m multiplies by
 * the trainable mask t (1 trainable, 0 frozen) too.  No value (the norms give it). */
FL_ALWAYS_INLINE void FN(pen_cols_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                        REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)t, (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy, (void)dt;
    *l = 0;
    *d = x;
}
FL_EW_DEFINE(pen_cols, 0, 0, 1)

FL_ALWAYS_INLINE void FN(pen_cols_m_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                          REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy, (void)dt;
    *l = 0;
    *d = t * x;
}
FL_EW_DEFINE(pen_cols_m, 1, 0, 1)

/* Proximal map of the elastic net (l1 and l2 are its ends):
 *   prox(x) = soft(x, p0) / p1,  p0 = step alpha l1_ratio,  p1 = 1 + step alpha (1 - l1_ratio);
 * l1: p1 = 1 (x / 1 is exact), l2: p0 = 0 (soft(x, 0) = x exactly). */
FL_ALWAYS_INLINE void FN(prox_enet_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                         REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)t, (void)y, (void)p2, (void)p3, (void)dy, (void)dt;
    *l = 0;
    *d = FN(pen_soft)(x, p0) / p1;
}
FL_EW_DEFINE(prox_enet, 0, 0, 0)

/* the same with the trainable mask t: frozen elements (t = 0) keep x */
FL_ALWAYS_INLINE void FN(prox_enet_m_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                           REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p2, (void)p3, (void)dy, (void)dt;
    const REAL v = FN(pen_soft)(x, p0) / p1;
    *l = 0;
    *d = t != 0 ? v : x;
}
FL_EW_DEFINE(prox_enet_m, 1, 0, 0)

/* Proximal map of L2-SP, the shrink toward t = w0:
 *   prox(x) = (x + a t) / (1 + a) = p0 x + p1 t,  a = step alpha,
 *   p0 = 1 / (1 + a),  p1 = 1 / (1 + 1 / a)  (computed in double by the caller: w0 itself,
 *   not inf / inf, when a overflows);
 * x itself where t == x (exact; a frozen element gets t = x from the caller). */
FL_ALWAYS_INLINE void FN(prox_l2sp_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                         REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p2, (void)p3, (void)dy, (void)dt;
    const REAL v = p0 * x + p1 * t;
    *l = 0;
    *d = t == x ? x : v;
}
FL_EW_DEFINE(prox_l2sp, 1, 0, 0)

/* x t: the group-lasso prox over columns with a mask (t = the column's factor, or 1 for
 * a frozen element: x * 1 is x exactly) */
FL_ALWAYS_INLINE void FN(prox_mul_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                        REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy, (void)dt;
    *l = 0;
    *d = x * t;
}
FL_EW_DEFINE(prox_mul, 1, 0, 0)

/* ------------------------------------------------------------- group lasso rows ---- */

/* sum_j (t_j x_j)^2 in double over one row (t the trainable mask, or NULL) */
FL_ALWAYS_INLINE double FN(pen_row_sumsq)(const REAL *x, const REAL *t, int64_t C)
{
    double ss = 0.0;
    if (t) {
#pragma omp simd reduction(+ : ss)
        for (int64_t j = 0; j < C; j++) {   /* HOT */
            const double v = (double)(t[j] * x[j]);
            ss += v * v;
        }
    } else {
#pragma omp simd reduction(+ : ss)
        for (int64_t j = 0; j < C; j++) {   /* HOT */
            const double v = (double)x[j];
            ss += v * v;
        }
    }
    return ss;
}

/* group_lasso: each row is a group; value ||w_i|| (the Python side multiplies the sum
 * by the strength), gradient p0 w_i / ||w_i|| (p0 = strength, 0 for a zero row, NaN for
 * a row holding NaN), times the mask t when given.  The row is read from memory once:
 * the gradient sweep reads it again from cache. */
FL_ALWAYS_INLINE double FN(group_lasso_row)(const fl_row_args *a, int64_t i, double gscale)
{
    const int64_t C = a->c * a->s;
    const REAL *x = (const REAL *)a->x + i * C;
    const REAL *t = a->t ? (const REAL *)a->t + i * C : 0;
    REAL *g = a->grad ? (REAL *)a->grad + i * C : 0;
    const double sw = a->sample_w ? (double)((const REAL *)a->sample_w)[i] : 1.0;
    const double nrm = __builtin_sqrt(FN(pen_row_sumsq)(x, t, C));
    if (a->loss_out)
        ((REAL *)a->loss_out)[i] = (REAL)(sw * nrm);
    if (g) {
        const REAL k = nrm == 0.0 ? (REAL)0 : (REAL)(a->p[0] * gscale * sw / nrm);
        if (t) {
#pragma omp simd
            for (int64_t j = 0; j < C; j++)   /* HOT */
                g[j] = k * (t[j] * x[j]);
        } else {
#pragma omp simd
            for (int64_t j = 0; j < C; j++)   /* HOT */
                g[j] = k * x[j];
        }
    }
    return sw * nrm;
}
FL_ROW_DEFINE(group_lasso)

/* group_lasso_prox: group soft-thresholding written over the row (grad = x):
 *   w_i max(0, 1 - p0 / ||w_i||),  p0 = step strength,
 * 0 for a zero row, NaN for a row holding NaN; with the mask t, the norm is over the
 * trainable elements and frozen ones (t = 0) keep their value. */
FL_ALWAYS_INLINE double FN(group_lasso_prox_row)(const fl_row_args *a, int64_t i,
                                                 double gscale)
{
    (void)gscale;
    const int64_t C = a->c * a->s;
    const REAL *x = (const REAL *)a->x + i * C;
    const REAL *t = a->t ? (const REAL *)a->t + i * C : 0;
    if (!a->grad)
        return 0.0;
    REAL *g = (REAL *)a->grad + i * C;
    const double nrm = __builtin_sqrt(FN(pen_row_sumsq)(x, t, C));
    const double lam = a->p[0];
    const double f = nrm != nrm ? nrm : (nrm > lam ? 1.0 - lam / nrm : 0.0);
    const REAL F = (REAL)f;
    if (t) {
#pragma omp simd
        for (int64_t j = 0; j < C; j++)   /* HOT */
            g[j] = t[j] != 0 ? F * x[j] : x[j];
    } else {
#pragma omp simd
        for (int64_t j = 0; j < C; j++)   /* HOT */
            g[j] = F * x[j];
    }
    if (a->loss_out)
        ((REAL *)a->loss_out)[i] = 0;
    return 0.0;
}
FL_ROW_DEFINE(group_lasso_prox)
