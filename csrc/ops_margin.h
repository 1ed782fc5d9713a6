/* ops_margin.h: this group's kernels, included per type and instruction set by
 * kernels_body.h (see FL_EW_DEFINE and FL_ROW_DEFINE there).
 *
 * Kinks follow PyTorch's autograd: max(v, 0) written as clamp_min passes the gradient at
 * v = 0 (hinge_embedding_loss, margin_ranking_loss, cosine_embedding_loss,
 * triplet_margin_loss), while multi_margin_loss' kernel tests z > 0 and gives 0 there.
 * Unlike PyTorch, NaN propagates to the value and the gradient (PyTorch's comparisons
 * drop it in multi_margin_loss and in the gradient of the clamps). */

#ifndef FL_MARGIN_ONCE
#define FL_MARGIN_ONCE
/* triplet_margin_loss: the norm's kind (p = 1, 2, any other finite p, inf) */
#define FL_TRI_P1 1
#define FL_TRI_P2 2
#define FL_TRI_PG 3
#define FL_TRI_PINF 4
#endif

/* d max(v, 0) / dv as PyTorch's clamp_min: 1 for v >= 0, 0 for v < 0; NaN stays NaN. */
FL_ALWAYS_INLINE REAL FN(clamp_step)(REAL v)
{
    return v < 0 ? (REAL)0 : (v >= 0 ? (REAL)1 : v);
}

/* Row-wise ops: the sample weight of row i (1 without), and storing row i's value for
 * reduction "none" (returns it). */
FL_ALWAYS_INLINE double FN(row_sw)(const fl_row_args *a, int64_t i)
{
    return a->sample_w ? (double)((const REAL *)a->sample_w)[i] : 1.0;
}

FL_ALWAYS_INLINE double FN(row_value)(const fl_row_args *a, int64_t i, double loss)
{
    if (a->loss_out)
        ((REAL *)a->loss_out)[i] = (REAL)loss;
    return loss;
}

/* soft_margin_loss: l = log(1 + exp(-t x)) = softplus(z), z = -t x;
 * dl = -t sigmoid(z), with one exp and one log1p of e = exp(-|z|), as BCE. */
FL_ALWAYS_INLINE void FN(soft_margin_loss_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                                REAL p2, REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy;
    const REAL z = -t * x;
    const REAL az = z < 0 ? -z : z;
    const REAL e = EXP(-az);
    const REAL r = (REAL)1 / ((REAL)1 + e);
    *l = (z > 0 ? z : (REAL)0) + LOG1P_UNIT(e);
    *d = -t * (z < 0 ? e * r : r);
}
FL_EW_DEFINE(soft_margin_loss, 1, 0, 0)

/* hinge_embedding_loss (p0 = margin): l = x for t = 1, max(0, margin - x) for t = -1. */
FL_ALWAYS_INLINE void FN(hinge_embedding_loss_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                                    REAL p2, REAL p3, REAL *l, REAL *d,
                                                    REAL *dy, REAL *dt)
{
    (void)y, (void)p1, (void)p2, (void)p3, (void)dy;
    const REAL v = p0 - x;
    *l = t > 0 ? x : (v < 0 ? (REAL)0 : v);
    *d = t > 0 ? (REAL)1 : -FN(clamp_step)(v);
}
FL_EW_DEFINE(hinge_embedding_loss, 1, 0, 0)

/* margin_ranking_loss (x = input1, y = input2, p0 = margin):
 * l = max(0, -t (x - y) + margin), dl/dx = -t step, dl/dy = t step. */
FL_ALWAYS_INLINE void FN(margin_ranking_loss_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1,
                                                   REAL p2, REAL p3, REAL *l, REAL *d,
                                                   REAL *dy, REAL *dt)
{
    (void)p1, (void)p2, (void)p3;
    const REAL v = -t * (x - y) + p0;
    const REAL s = FN(clamp_step)(v);
    *l = v < 0 ? (REAL)0 : v;
    *d = -t * s;
    *dy = t * s;
}
FL_EW_DEFINE(margin_ranking_loss, 1, 1, 0)

/* ------------------------------------------------------------ multi_margin_loss ---- */

/* One run of classes j != y: z_j = base + x_j (base = margin - x_y), returns
 * sum h(z_j) with h(z) = max(z, 0)^p, adds sum h'(z_j) to *dsum and writes
 * g_j = gc h'(z_j); h'(z) = 1 or 2z for z > 0 and 0 for z <= 0 (PyTorch's kernel). */
FL_ALWAYS_INLINE double FN(mm_run)(const REAL *x, REAL *g, int64_t L, REAL base, REAL gc,
                                   double *dsum, const int P2, const int WG)
{
    double l = 0.0, d = 0.0;
#pragma omp simd reduction(+ : l, d)
    for (int64_t j = 0; j < L; j++) {   /* HOT */
        const REAL z = base + x[j];
        const REAL zp = z < 0 ? (REAL)0 : z;   /* max(z, 0); NaN stays NaN */
        const REAL dh = P2 ? (REAL)2 * zp : (z > 0 ? (REAL)1 : zp * 0);
        l += (double)(P2 ? zp * zp : zp);
        d += (double)dh;
        if (WG)
            g[j] = gc * dh;
    }
    *dsum += d;
    return l;
}

/* Both runs of a row, the classes before and after y. */
FL_ALWAYS_INLINE double FN(mm_runs)(const REAL *x, REAL *g, int64_t C, int64_t y, REAL base,
                                    REAL gc, double *dsum, const int P2, const int WG)
{
    return FN(mm_run)(x, g, y, base, gc, dsum, P2, WG) +
           FN(mm_run)(x + y + 1, WG ? g + y + 1 : g, C - y - 1, base, gc, dsum, P2, WG);
}

/* multi_margin_loss (p[0] = p in {1, 2}, p[1] = margin): per row with target class y,
 *   l = w_y / C * sum_{j != y} max(0, margin - x_y + x_j)^p,
 *   dl/dx_j = w_y / C * h'(z_j) (j != y),   dl/dx_y = -sum_{j != y} dl/dx_j. */
FL_ALWAYS_INLINE double FN(multi_margin_loss_row)(const fl_row_args *a, int64_t i, double gscale)
{
    const int64_t C = a->c;
    const REAL *x = (const REAL *)a->x + i * C;
    REAL *g = a->grad ? (REAL *)a->grad + i * C : 0;
    const int64_t t = a->target[i];
    const int64_t y = t >= 0 && t < C ? t : 0;   /* validated before: keeps reads in bounds */
    const double wy = a->class_w ? (double)((const REAL *)a->class_w)[y] : 1.0;
    const double k = FN(row_sw)(a, i) * wy / (double)C;
    const REAL base = (REAL)a->p[1] - x[y];   /* x_y read before g may overwrite it */
    const REAL gc = (REAL)(k * gscale);
    double d = 0.0, l;
    switch ((a->p[0] == 2.0) << 1 | (g != 0)) {
    case 0: l = FN(mm_runs)(x, g, C, y, base, gc, &d, 0, 0); break;
    case 1: l = FN(mm_runs)(x, g, C, y, base, gc, &d, 0, 1); break;
    case 2: l = FN(mm_runs)(x, g, C, y, base, gc, &d, 1, 0); break;
    default: l = FN(mm_runs)(x, g, C, y, base, gc, &d, 1, 1); break;
    }
    if (g)
        g[y] = (REAL)(-k * gscale * d);
    return FN(row_value)(a, i, k * l);
}
FL_ROW_DEFINE(multi_margin_loss)

/* ------------------------------------------------- multilabel_soft_margin_loss ---- */

/* Per row: l = 1/C sum_c w_c [t_c softplus(-x_c) + (1 - t_c) softplus(x_c)],
 * dl/dx_c = w_c (sigmoid(x_c) - t_c) / C: BCE with logits over the row (bce_inner),
 * class weights w_c (PyTorch's `weight` of shape (C,)). */
FL_ALWAYS_INLINE double FN(multilabel_soft_margin_loss_row)(const fl_row_args *a, int64_t i,
                                                            double gscale)
{
    const int64_t C = a->c;
    const REAL *x = (const REAL *)a->x + i * C, *t = (const REAL *)a->t + i * C;
    const REAL *cw = (const REAL *)a->class_w;
    REAL *g = a->grad ? (REAL *)a->grad + i * C : 0;
    const double k = FN(row_sw)(a, i) / (double)C;
    const REAL gc = (REAL)(k * gscale), one = 1;
    double s;
    switch ((cw != 0) << 1 | (g != 0)) {
    case 0: s = FN(bce_inner)(x, t, cw, 0, one, C, gc, one, g, 0, 0, 0, 0, 0); break;
    case 1: s = FN(bce_inner)(x, t, cw, 0, one, C, gc, one, g, 0, 0, 0, 1, 0); break;
    case 2: s = FN(bce_inner)(x, t, cw, 0, one, C, gc, one, g, 0, 1, 0, 0, 0); break;
    default: s = FN(bce_inner)(x, t, cw, 0, one, C, gc, one, g, 0, 1, 0, 1, 0); break;
    }
    return FN(row_value)(a, i, k * s);
}
FL_ROW_DEFINE(multilabel_soft_margin_loss)

/* ------------------------------------------------------- cosine_embedding_loss ---- */

/* Per row (x1 = x, x2, target rt = +-1, p[0] = margin), as PyTorch's ATen code:
 *   cos = x1.x2 / sqrt((|x1|^2 + e) (|x2|^2 + e)), e = 1e-12 rounded to float (ATen's
 *   `constexpr float EPSILON`, also for double input),
 *   l = 1 - cos (t = 1),  max(0, cos - margin) (t = -1),
 *   dcos/dx1 = x2 / den - cos x1 / m1,   dcos/dx2 = x1 / den - cos x2 / m2.
 * Both rows are read whole (dot and squared norms in double) before either gradient is
 * written, so out= may be each input. */
FL_ALWAYS_INLINE double FN(cosine_embedding_loss_row)(const fl_row_args *a, int64_t i,
                                                      double gscale)
{
    const int64_t D = a->c;
    const REAL *x1 = (const REAL *)a->x + i * D, *x2 = (const REAL *)a->x2 + i * D;
    double dot = 0.0, s1 = 0.0, s2 = 0.0;
#pragma omp simd reduction(+ : dot, s1, s2)
    for (int64_t j = 0; j < D; j++) {   /* HOT */
        const double u = (double)x1[j], v = (double)x2[j];
        dot += u * v;
        s1 += u * u;
        s2 += v * v;
    }
    const double eps = (double)1e-12f;   /* PyTorch's EPSILON, a float constant */
    const double m1 = s1 + eps, m2 = s2 + eps;
    const double den = __builtin_sqrt(m1 * m2);
    const double cos = dot / den;
    const double t = (double)((const REAL *)a->rt)[i];
    const double sw = FN(row_sw)(a, i);
    const double h = cos - a->p[0];
    const double l = t > 0 ? 1.0 - cos : (h < 0 ? 0.0 : h);
    if (a->grad) {
        const double dl = t > 0 ? -1.0 : (h < 0 ? 0.0 : (h >= 0 ? 1.0 : h));
        const double A = sw * gscale * dl;
        const REAL c = (REAL)(A / den), b1 = (REAL)(A * cos / m1), b2 = (REAL)(A * cos / m2);
        REAL *g1 = (REAL *)a->grad + i * D, *g2 = (REAL *)a->grad2 + i * D;
#pragma omp simd
        for (int64_t j = 0; j < D; j++) {   /* HOT */
            const REAL u = x1[j], v = x2[j];
            g1[j] = c * v - b1 * u;
            g2[j] = c * u - b2 * v;
        }
    }
    return FN(row_value)(a, i, sw * l);
}
FL_ROW_DEFINE(cosine_embedding_loss)

/* --------------------------------------------------------- triplet_margin_loss ---- */

/* ||u||_p of u_j = (a_j - b_j) + eps, PyTorch's pairwise_distance (the difference
 * rounded in REAL, then eps added).  p = 1 and 2 sum in double; any other p sums
 * (|u_j| / m)^p with m = max |u_j| (no overflow or underflow of |u|^p) and returns
 * m * sum^(1/p); p = inf returns m and, in *cnt, how many entries attain it (they share
 * the gradient, as PyTorch).  NaN anywhere gives NaN. */
FL_ALWAYS_INLINE double FN(tri_norm)(const REAL *a, const REAL *b, int64_t D, REAL eps,
                                     double p, double *cnt, const int K)
{
    if (K == FL_TRI_P1 || K == FL_TRI_P2) {
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < D; j++) {   /* HOT */
            const REAL u = a[j] - b[j] + eps;
            s += K == FL_TRI_P1 ? (double)(u < 0 ? -u : u) : (double)u * (double)u;
        }
        return K == FL_TRI_P1 ? s : __builtin_sqrt(s);
    }
    /* the max skips NaN; z = sum u * 0 is NaN when some u is NaN or infinite (reductions
     * of the input type only: they vectorize on every instruction set) */
    REAL m = 0, z = 0;
#pragma omp simd reduction(max : m) reduction(+ : z)
    for (int64_t j = 0; j < D; j++) {   /* HOT */
        const REAL u = a[j] - b[j] + eps;
        const REAL au = u < 0 ? -u : u;
        m = au > m ? au : m;
        z += u * 0;
    }
    if (z != z && m != (REAL)__builtin_inf())
        return __builtin_nan("");   /* NaN, no infinity */
    if (z != z)
        for (int64_t j = 0; j < D; j++)
            if (a[j] - b[j] + eps != a[j] - b[j] + eps)
                return __builtin_nan("");
    if (K == FL_TRI_PINF) {
        double c = 0.0;
#pragma omp simd reduction(+ : c)
        for (int64_t j = 0; j < D; j++) {   /* HOT */
            const REAL u = a[j] - b[j] + eps;
            c += (u < 0 ? -u : u) == m ? 1.0 : 0.0;
        }
        *cnt = c;
        return (double)m;
    }
    if (m == 0 || m == (REAL)__builtin_inf())
        return (double)m;
    const REAL pr = (REAL)p;
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < D; j++) {   /* HOT */
        const REAL u = a[j] - b[j] + eps;
        s += (double)EXP(pr * LOG((u < 0 ? -u : u) / m));
    }
    return (double)m * fl_exp(fl_log(s) / p);
}

/* d||u||_p / du_j, as PyTorch's norm_backward: p = 1: sgn(u); p = 2: u / norm (0 when
 * norm = 0); other p: sgn(u) (|u| / norm)^(p - 1), 0 where u = 0; p = inf: sgn(u) / count
 * where |u| = norm.  sgn(0) = 0; NaN stays NaN (PyTorch's sgn gives 0).
 * nr: the norm in REAL; q: 1 / count for p = inf; pm1 = p - 1. */
FL_ALWAYS_INLINE REAL FN(tri_dnorm)(REAL u, REAL nr, REAL q, REAL pm1, const int K)
{
    const REAL sg = u > 0 ? (REAL)1 : (u < 0 ? (REAL)-1 : u * 0);
    const REAL au = u < 0 ? -u : u;
    if (K == FL_TRI_P1)
        return sg;
    if (K == FL_TRI_P2)
        return nr == 0 ? (REAL)0 : u / nr;
    if (K == FL_TRI_PINF)
        return (au == nr || u != u) ? sg * q : (REAL)0;
    return u == 0 ? (REAL)0 : sg * EXP(pm1 * LOG(au / nr));
}

/* The gradient pass: c_ap, c_an, c_pn are dl/d(distance) for the three distances (c_pn
 * only with swap); every row value is read before the gradients at that index are
 * written (out= may be each input). */
FL_ALWAYS_INLINE void FN(tri_grad)(const REAL *a, const REAL *p, const REAL *n, REAL *ga,
                                   REAL *gp, REAL *gn, int64_t D, REAL eps, const REAL *nr,
                                   const REAL *q, REAL pm1, REAL cap, REAL can, REAL cpn,
                                   const int K, const int SW)
{
#pragma omp simd
    for (int64_t j = 0; j < D; j++) {   /* HOT */
        const REAL av = a[j], pv = p[j], nv = n[j];
        const REAL dap = cap * FN(tri_dnorm)(av - pv + eps, nr[0], q[0], pm1, K);
        const REAL dan = can * FN(tri_dnorm)(av - nv + eps, nr[1], q[1], pm1, K);
        const REAL dpn = SW ? cpn * FN(tri_dnorm)(pv - nv + eps, nr[2], q[2], pm1, K) : (REAL)0;
        ga[j] = dap - dan;
        gp[j] = -dap - dpn;
        gn[j] = dan + dpn;
    }
}

/* triplet_margin_loss (x = anchor, x2 = positive, x3 = negative; p[0] = margin, p[1] = p,
 * p[2] = eps, p[3] = swap): l = max(margin + d(a, p) - d_neg, 0) with d_neg = d(a, n), or
 * min(d(a, n), d(p, n)) with swap (a tie splits the gradient in halves, as PyTorch's
 * min). */
FL_ALWAYS_INLINE double FN(tri_row)(const fl_row_args *a, int64_t i, double gscale, const int K)
{
    const int64_t D = a->c;
    const REAL *xa = (const REAL *)a->x + i * D, *xp = (const REAL *)a->x2 + i * D,
               *xn = (const REAL *)a->x3 + i * D;
    const double p = a->p[1];
    const REAL eps = (REAL)a->p[2];
    const int swap = a->p[3] != 0.0;
    double cnt[3] = {1.0, 1.0, 1.0};
    const double dap = FN(tri_norm)(xa, xp, D, eps, p, &cnt[0], K);
    const double dan = FN(tri_norm)(xa, xn, D, eps, p, &cnt[1], K);
    double dpn = 0.0, dneg = dan, wan = 1.0, wpn = 0.0;
    if (swap) {
        dpn = FN(tri_norm)(xp, xn, D, eps, p, &cnt[2], K);
        dneg = dpn != dpn ? dpn : (dpn < dan ? dpn : dan);
        wan = dan > dpn ? 0.0 : (dan == dpn ? 0.5 : 1.0);
        wpn = dan < dpn ? 0.0 : (dan == dpn ? 0.5 : 1.0);
    }
    const double v = a->p[0] + dap - dneg;
    const double sw = FN(row_sw)(a, i);
    const double loss = FN(row_value)(a, i, sw * (v < 0 ? 0.0 : v));
    if (a->grad) {
        const double A = sw * gscale * (v < 0 ? 0.0 : (v >= 0 ? 1.0 : v));
        const REAL nr[3] = {(REAL)dap, (REAL)dan, (REAL)dpn};
        const REAL q[3] = {(REAL)(1.0 / cnt[0]), (REAL)(1.0 / cnt[1]), (REAL)(1.0 / cnt[2])};
        REAL *ga = (REAL *)a->grad + i * D, *gp = (REAL *)a->grad2 + i * D,
             *gn = (REAL *)a->grad3 + i * D;
        const REAL pm1 = (REAL)(p - 1.0), cap = (REAL)A, can = (REAL)(A * wan),
                   cpn = (REAL)(A * wpn);
        if (swap)
            FN(tri_grad)(xa, xp, xn, ga, gp, gn, D, eps, nr, q, pm1, cap, can, cpn, K, 1);
        else
            FN(tri_grad)(xa, xp, xn, ga, gp, gn, D, eps, nr, q, pm1, cap, can, cpn, K, 0);
    }
    return loss;
}

FL_ALWAYS_INLINE double FN(triplet_margin_loss_row)(const fl_row_args *a, int64_t i, double gscale)
{
    const double p = a->p[1];
    if (p == 2.0)
        return FN(tri_row)(a, i, gscale, FL_TRI_P2);
    if (p == 1.0)
        return FN(tri_row)(a, i, gscale, FL_TRI_P1);
    if ((REAL)p == (REAL)__builtin_inf())   /* also a finite p beyond REAL's range */
        return FN(tri_row)(a, i, gscale, FL_TRI_PINF);
    return FN(tri_row)(a, i, gscale, FL_TRI_PG);
}
FL_ROW_DEFINE(triplet_margin_loss)
