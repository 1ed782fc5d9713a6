/* ops_binary.h: this group's kernels, included per type and instruction set by
 * kernels_body.h (see FL_EW_DEFINE and FL_ROW_DEFINE there). */
#include <stdlib.h>

/* binary_cross_entropy on probabilities x in [0, 1], as PyTorch's CPU kernel:
 *   l  = (t - 1) max(log1p(-x), -100) - t max(log x, -100)
 *   dl = (x - t) / max((1 - x) x, 1e-12f)
 * (1e-12f: the float nearest 1e-12, in both precisions, as PyTorch; the clamps are
 * written `v < c ? c : v`, which keeps NaN). */
FL_ALWAYS_INLINE void FN(binary_cross_entropy_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                                    REAL p2, REAL p3, REAL *l, REAL *d,
                                                    REAL *dy, REAL *dt)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy;
    const REAL lx = LOG(x), l1x = LOG1P(-x);
    const REAL cx = lx < (REAL)-100 ? (REAL)-100 : lx;
    const REAL c1x = l1x < (REAL)-100 ? (REAL)-100 : l1x;
    *l = (t - (REAL)1) * c1x - t * cx;
    const REAL v = ((REAL)1 - x) * x;
    const REAL eps = (REAL)1e-12f;   /* PyTorch's EPSILON is a float, also for double */
    *d = (x - t) / (v < eps ? eps : v);
}
FL_EW_DEFINE(binary_cross_entropy, 1, 0, 1)

/* kl_div with probability targets, as PyTorch: l = xlogy(t, t) - t x (the first term 0
 * where t == 0, NaN where t is), dl = -t. */
FL_ALWAYS_INLINE void FN(kl_div_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                      REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy;
    const REAL tlt = t * LOG(t);
    *l = (t == 0 ? (REAL)0 : tlt) - t * x;
    *d = -t;
}
FL_EW_DEFINE(kl_div, 1, 0, 0)

/* kl_div with log_target: l = exp(t) (t - x), dl = -exp(t). */
FL_ALWAYS_INLINE void FN(kl_div_log_target_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                                 REAL p2, REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy;
    const REAL et = EXP(t);
    *l = et * (t - x);
    *d = -et;
}
FL_EW_DEFINE(kl_div_log_target, 1, 0, 0)

/* sigmoid_focal_loss (torchvision's), with p = sigmoid(x), a_t = A t + B (1 - t) (A = alpha,
 * B = 1 - alpha; both 1 when alpha < 0) and q = 1 - p_t = t sigmoid(-x) + (1 - t) sigmoid(x):
 *   l  = a_t ce q^g,   ce = t softplus(-x) + (1 - t) softplus(x)
 *   dl = a_t q^g (dce + g (1 - 2t) ce r),  dce = (1 - t) sigmoid(x) - t sigmoid(-x),
 * where r = p (1 - p) / q comes from d q^g / dx = g q^(g-1) (1 - 2t) p (1 - p).  q is a
 * convex combination of p and 1 - p, so q >= min(p, 1 - p) and r <= max(p, 1 - p) <= 1:
 * the factor q^(g-1), infinite at q = 0 for g < 1, never appears.  q == 0 happens only
 * for a hard target at a saturated logit, where p (1 - p) = 0 too: r = 0 there (its
 * limit, p or 1 - p, is multiplied by q^g = 0, or by g = 0).  Both sigmoids and
 * p (1 - p) = e / (1 + e)^2 come from e = exp(-|x|), so nothing cancels at large |x|.
 * G2: gamma == 2 (the default), q^2 as a product; else q^g = exp(g log q), 0^g = 0 for
 * g > 0 and 1 for g == 0. */
FL_ALWAYS_INLINE void FN(focal_elem)(REAL x, REAL t, REAL A, REAL B, REAL g, REAL *l, REAL *d,
                                     const int G2)
{
    const REAL ax = x < 0 ? -x : x;
    const REAL e = EXP(-ax);
    const REAL l1p = LOG1P_UNIT(e);
    const REAL spp = (x > 0 ? x : (REAL)0) + l1p;   /* softplus(x) */
    const REAL spn = (x < 0 ? -x : (REAL)0) + l1p;  /* softplus(-x) */
    const REAL r = (REAL)1 / ((REAL)1 + e);
    const REAL er = e * r;
    const REAL sig = x < 0 ? er : r;
    const REAL sneg = x < 0 ? r : er;
    const REAL u = (REAL)1 - t;
    const REAL ce = t * spn + u * spp;
    const REAL dce = u * sig - t * sneg;
    const REAL q = t * sneg + u * sig;
    const REAL qg = G2 ? q * q : (q == 0 ? (g == 0 ? (REAL)1 : (REAL)0) : EXP(g * LOG(q)));
    const REAL ratio = q == 0 ? (REAL)0 : er * r / q;
    const REAL at = A * t + B * u;
    *l = at * (ce * qg);
    *d = at * qg * (dce + g * ((REAL)1 - (REAL)2 * t) * ce * ratio);
}

FL_ALWAYS_INLINE void FN(sigmoid_focal_loss_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                                  REAL p2, REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p3, (void)dy;
    FN(focal_elem)(x, t, p0, p1, p2, l, d, 0);
}
FL_EW_DEFINE(sigmoid_focal_loss, 1, 0, 0)

FL_ALWAYS_INLINE void FN(sigmoid_focal_loss_g2_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                                     REAL p2, REAL p3, REAL *l, REAL *d,
                                                     REAL *dy, REAL *dt)
{
    (void)y, (void)p3, (void)dy;
    FN(focal_elem)(x, t, p0, p1, p2, l, d, 1);
}
FL_EW_DEFINE(sigmoid_focal_loss_g2, 1, 0, 0)

/* ------------------------------------------------------------------ dice_loss ---- */

/* Soft Dice over x (n, c, s): per sample i and class k, over the s positions,
 *   I = sum p t,  P = sum p,  T = sum t,  U = sum p (1 - t) + t (1 - p) = P + T - 2 I,
 *   loss_i = sum_k w_k (1 - (2 I + smooth) / D) / W = sum_k w_k U / D / W,  D = P + T + smooth,
 *   dL/dp_ks = g_ks = A_k t_ks + B_k,  A_k = -2 w_k / (W D),  B_k = w_k (2 I + smooth) / (W D^2),
 * (D == 0, an empty class with smooth = 0: loss 0 and gradient 0), chained through the
 * activation ACT: identity, sigmoid (dx = g p (1 - p)) or softmax over the classes
 * (dx_ks = p_ks (g_ks - sum_j g_js p_js)).  Targets: probabilities t (n, c, s), or (IDX)
 * class indices (n, s), whose ignored or out-of-range positions count in no sum and get a
 * zero gradient.
 *
 * Accuracy where a prediction is nearly right (p -> 1): U sums 1 - p, never P + T - 2 I
 * of nearly equal sums, and 1 - p is computed without cancellation (sigmoid(-x); for the
 * softmax's unique largest class, the sum of the other classes' exp over the sum of all);
 * the softmax chain is written around the position's largest class m,
 *   g_k - sum_j g_j p_j = (g_k - g_m) + R,   R = sum_j (g_m - g_j) p_j,
 * where no term is near 1 (g_m - g_m is exactly 0), instead of the difference of two nearly
 * equal numbers.
 *
 * The classes of a position are s apart: positions are processed in segments of
 * L <= FL_KD_MAX, class by class (contiguous runs), with per-position softmax terms on the
 * stack, as ce_kd_seg.  Pass 1 sums I, P, T, U over the row (double), pass 2 writes the
 * gradient; a segment is read whole before it is written. */
#ifndef FL_DICE_STACK_C
#define FL_DICE_IDENTITY 0
#define FL_DICE_SIGMOID 1
#define FL_DICE_SOFTMAX 2
#define FL_DICE_STACK_C 512   /* classes whose sums live on the stack; more: malloc */
#endif

/* The class of each index target of a segment, as int32 (the Python layer caps C below
 * 2^31), -1 where it is ignored or out of range: compared with the class in the loops. */
FL_ALWAYS_INLINE void FN(dice_classes)(const int64_t *tg, int64_t L, int64_t C, int64_t ignore,
                                       int32_t *yi)
{
    for (int64_t j = 0; j < L; j++) {
        const int64_t y = tg[j];
        yi[j] = (y == ignore || y < 0 || y >= C) ? -1 : (int32_t)y;
    }
}

/* The target of class kk at position j, in double: t, or [y = kk] for index targets (a
 * macro: written as a function, it stops the loops from vectorizing). */
#ifndef FL_DICE_T
#define FL_DICE_T(j) (IDX ? (yi[j] == kk ? 1.0 : 0.0) : (double)tk[j])
#endif

/* Per-position softmax terms of a segment: the shift mu (the max, 0 where every class is
 * -inf), se = sum exp(x - mu), rs = 1 / se, the number of classes at the max cnt, and
 * q1 = 1 - p of the largest class when it is unique (the other classes' sum over se; 0
 * otherwise).  NaN reaches se (the max skips it). */
typedef struct {
    REAL mu[FL_KD_MAX], rs[FL_KD_MAX], q1[FL_KD_MAX], uniq[FL_KD_MAX];
    double se[FL_KD_MAX], cnt[FL_KD_MAX];
} FN(dice_sm);

FL_ALWAYS_INLINE void FN(dice_softmax)(const REAL *x, int64_t C, int64_t S, int64_t L,
                                       FN(dice_sm) *sm)
{
    double rest[FL_KD_MAX];
    REAL *mu = sm->mu;
    double *se = sm->se, *cnt = sm->cnt;
    for (int64_t j = 0; j < L; j++) {
        mu[j] = -(REAL)__builtin_inf();
        se[j] = rest[j] = cnt[j] = 0.0;
    }
    for (int64_t k = 0; k < C; k++) {
        const REAL *xk = x + k * S;
#pragma omp simd
        for (int64_t j = 0; j < L; j++)   /* HOT */
            mu[j] = xk[j] > mu[j] ? xk[j] : mu[j];
    }
    for (int64_t j = 0; j < L; j++)
        mu[j] = mu[j] == -(REAL)__builtin_inf() ? (REAL)0 : mu[j];
    for (int64_t k = 0; k < C; k++) {
        const REAL *xk = x + k * S;
#pragma omp simd
        for (int64_t j = 0; j < L; j++) {   /* HOT */
            const REAL e = EXP(xk[j] - mu[j]);
            const int top = xk[j] == mu[j];
            se[j] += (double)e;
            rest[j] += top ? 0.0 : (double)e;
            cnt[j] += top ? 1.0 : 0.0;
        }
    }
    for (int64_t j = 0; j < L; j++) {
        sm->rs[j] = (REAL)(1.0 / se[j]);
        sm->uniq[j] = cnt[j] == 1.0 ? (REAL)1 : (REAL)0;
        sm->q1[j] = cnt[j] == 1.0 ? (REAL)(rest[j] / se[j]) : (REAL)0;
    }
}

/* p and 1 - p of one value under the activation (sm, j: the softmax's terms). */
FL_ALWAYS_INLINE void FN(dice_p)(REAL x, const FN(dice_sm) *sm, int64_t j, REAL *p, REAL *omp,
                                 const int ACT)
{
    if (ACT == FL_DICE_SOFTMAX) {
        const REAL pv = EXP(x - sm->mu[j]) * sm->rs[j];
        *p = pv;
        *omp = (x == sm->mu[j]) & (sm->uniq[j] != 0) ? sm->q1[j] : (REAL)1 - pv;
    } else if (ACT == FL_DICE_SIGMOID) {
        const REAL ax = x < 0 ? -x : x;
        const REAL e = EXP(-ax);
        const REAL r = (REAL)1 / ((REAL)1 + e);
        *p = x < 0 ? e * r : r;
        *omp = x < 0 ? r : e * r;
    } else {
        *p = x;
        *omp = (REAL)1 - x;
    }
}

/* Pass 1 over one segment: adds its sums to I, P, T, U (per class).  With index targets
 * t = [y = k], and positions whose y is -1 count in no sum. */
FL_ALWAYS_INLINE void FN(dice_sums)(const REAL *x, const REAL *t, const int64_t *tg, int64_t C,
                                    int64_t S, int64_t L, int64_t ignore, double *I, double *P,
                                    double *T, double *U, const int ACT, const int IDX)
{
    int32_t yi[FL_KD_MAX];
    FN(dice_sm) sm;
    if (IDX)
        FN(dice_classes)(tg, L, C, ignore, yi);
    if (ACT == FL_DICE_SOFTMAX)
        FN(dice_softmax)(x, C, S, L, &sm);
    for (int64_t k = 0; k < C; k++) {
        const REAL *xk = x + k * S;
        const REAL *tk = IDX ? 0 : t + k * S;
        const int32_t kk = (int32_t)k;
        double sp = 0.0, si = 0.0, st = 0.0, su = 0.0;
#pragma omp simd reduction(+ : sp, si, st, su)
        for (int64_t j = 0; j < L; j++) {   /* HOT */
            REAL p, omp;
            FN(dice_p)(xk[j], &sm, j, &p, &omp, ACT);
            const REAL tv = (REAL)FL_DICE_T(j);
            const int valid = IDX ? yi[j] >= 0 : 1;
            sp += valid ? (double)p : 0.0;
            si += valid ? (double)(p * tv) : 0.0;
            st += (double)tv;
            su += valid ? (double)(p * ((REAL)1 - tv) + tv * omp) : 0.0;
        }
        P[k] += sp;
        I[k] += si;
        T[k] += st;
        U[k] += su;
    }
}

/* One class's share of the softmax chain's per-position sums (SUM 0: the sum of g over
 * the classes at the max into gm; SUM 1: R += (g_m - g) p). */
FL_ALWAYS_INLINE void FN(dice_chain_sum)(const REAL *xk, const REAL *tk, const int32_t *yi,
                                         int32_t kk, double Ak, double Bk,
                                         const FN(dice_sm) *sm, int64_t L, double *gm,
                                         double *R, const int SUM, const int IDX)
{
    const REAL *mu = sm->mu, *rs = sm->rs;
#pragma omp simd
    for (int64_t j = 0; j < L; j++) {   /* HOT */
        const double gv = Ak * FL_DICE_T(j) + Bk;
        if (SUM == 0)
            gm[j] += xk[j] == mu[j] ? gv : 0.0;
        else
            R[j] += (gm[j] - gv) * (double)(EXP(xk[j] - mu[j]) * rs[j]);
    }
}

/* Pass 2 over one segment: the gradient, with A and B per class (sample weight and
 * reduction scale folded in) as in the comment above. */
FL_ALWAYS_INLINE void FN(dice_grad)(const REAL *x, const REAL *t, const int64_t *tg, REAL *g,
                                    int64_t C, int64_t S, int64_t L, int64_t ignore,
                                    const double *A, const double *B, const int ACT,
                                    const int IDX)
{
    int32_t yi[FL_KD_MAX];
    double gm[FL_KD_MAX], R[FL_KD_MAX];
    FN(dice_sm) sm;
    if (IDX)
        FN(dice_classes)(tg, L, C, ignore, yi);
    if (ACT == FL_DICE_SOFTMAX) {
        /* every value of the segment is read here, before any is written.  g_m: the mean
         * of g over the classes at the max (exactly g_m when there is one) */
        FN(dice_softmax)(x, C, S, L, &sm);
        for (int64_t j = 0; j < L; j++)
            gm[j] = R[j] = 0.0;
        for (int64_t k = 0; k < C; k++)
            FN(dice_chain_sum)(x + k * S, IDX ? 0 : t + k * S, yi, (int32_t)k, A[k], B[k], &sm, L,
                               gm, R, 0, IDX);
        for (int64_t j = 0; j < L; j++)
            gm[j] /= sm.cnt[j];
        for (int64_t k = 0; k < C; k++)
            FN(dice_chain_sum)(x + k * S, IDX ? 0 : t + k * S, yi, (int32_t)k, A[k], B[k], &sm, L,
                               gm, R, 1, IDX);
    }
    for (int64_t k = 0; k < C; k++) {
        const REAL *xk = x + k * S, *tk = IDX ? 0 : t + k * S;
        REAL *gk = g + k * S;
        const int32_t kk = (int32_t)k;
        const double Ak = A[k], Bk = B[k];
#pragma omp simd
        for (int64_t j = 0; j < L; j++) {   /* HOT */
            const REAL xv = xk[j];
            const double gv = Ak * FL_DICE_T(j) + Bk;
            REAL dx;
            if (ACT == FL_DICE_SOFTMAX) {
                const REAL p = EXP(xv - sm.mu[j]) * sm.rs[j];
                dx = (REAL)((double)p * ((gv - gm[j]) + R[j]));
            } else if (ACT == FL_DICE_SIGMOID) {
                const REAL ax = xv < 0 ? -xv : xv;
                const REAL e = EXP(-ax);
                const REAL r = (REAL)1 / ((REAL)1 + e);
                dx = (REAL)gv * (e * r * r);   /* p (1 - p) = e / (1 + e)^2 */
            } else {
                dx = (REAL)gv;
            }
            gk[j] = IDX ? (yi[j] >= 0 ? dx : (REAL)0) : dx;
        }
    }
}

FL_ALWAYS_INLINE double FN(dice_row_impl)(const fl_row_args *a, int64_t i, double gscale,
                                          const int ACT, const int IDX)
{
    const int64_t C = a->c, S = a->s;
    const REAL *x = (const REAL *)a->x + i * C * S;
    const REAL *t = IDX ? 0 : (const REAL *)a->t + i * C * S;
    const int64_t *tg = IDX ? a->target + i * S : 0;
    const REAL *cw = (const REAL *)a->class_w;
    REAL *g = a->grad ? (REAL *)a->grad + i * C * S : 0;
    const double sw = a->sample_w ? (double)((const REAL *)a->sample_w)[i] : 1.0;
    const double smooth = a->p[0], W = a->class_w_sum;
    double stack[4 * FL_DICE_STACK_C];
    double *acc = C <= FL_DICE_STACK_C ? stack : (double *)malloc((size_t)(4 * C) * sizeof(double));
    double loss;
    if (!acc) {
        /* no memory for the per-class sums: say so with NaN rather than a wrong number */
        loss = __builtin_nan("");
        if (g)
            for (int64_t j = 0; j < C * S; j++)
                g[j] = (REAL)loss;
    } else {
        double *I = acc, *P = acc + C, *T = acc + 2 * C, *U = acc + 3 * C;
        for (int64_t k = 0; k < 4 * C; k++)
            acc[k] = 0.0;
        int64_t L = 8192 / C;
        L = L < 16 ? 16 : (L > FL_KD_MAX ? FL_KD_MAX : L);
        for (int64_t p0 = 0; p0 < S; p0 += L)
            FN(dice_sums)(x + p0, IDX ? 0 : t + p0, IDX ? tg + p0 : 0, C, S,
                          S - p0 < L ? S - p0 : L, a->ignore_index, I, P, T, U, ACT, IDX);
        double s = 0.0;
        for (int64_t k = 0; k < C; k++) {
            const double D = P[k] + T[k] + smooth;
            const double wk = cw ? (double)cw[k] : 1.0;
            s += D == 0.0 ? 0.0 : wk * (U[k] / D);
        }
        loss = sw * (s / W);
        if (g) {
            /* A_k into I's place, B_k into P's */
            const double coef = sw * gscale / W;
            for (int64_t k = 0; k < C; k++) {
                const double D = P[k] + T[k] + smooth;
                const double wk = cw ? (double)cw[k] : 1.0;
                const double N2 = 2.0 * I[k] + smooth;
                I[k] = D == 0.0 ? 0.0 : -coef * wk * 2.0 / D;
                P[k] = D == 0.0 ? 0.0 : coef * wk * N2 / (D * D);
            }
            for (int64_t p0 = 0; p0 < S; p0 += L)
                FN(dice_grad)(x + p0, IDX ? 0 : t + p0, IDX ? tg + p0 : 0, g + p0, C, S,
                              S - p0 < L ? S - p0 : L, a->ignore_index, I, P, ACT, IDX);
        }
        if (acc != stack)
            free(acc);
    }
    if (a->loss_out)
        ((REAL *)a->loss_out)[i] = (REAL)loss;
    return loss;
}

/* p[0] = smooth, p[1] = the activation (FL_DICE_*); index targets when a->target is set. */
FL_ALWAYS_INLINE double FN(dice_loss_row)(const fl_row_args *a, int64_t i, double gscale)
{
    const int act = (int)a->p[1];
    if (a->target) {
        if (act == FL_DICE_SOFTMAX)
            return FN(dice_row_impl)(a, i, gscale, FL_DICE_SOFTMAX, 1);
        return FN(dice_row_impl)(a, i, gscale, FL_DICE_IDENTITY, 1);
    }
    if (act == FL_DICE_SOFTMAX)
        return FN(dice_row_impl)(a, i, gscale, FL_DICE_SOFTMAX, 0);
    if (act == FL_DICE_SIGMOID)
        return FN(dice_row_impl)(a, i, gscale, FL_DICE_SIGMOID, 0);
    return FN(dice_row_impl)(a, i, gscale, FL_DICE_IDENTITY, 0);
}
FL_ROW_DEFINE(dice_loss)
