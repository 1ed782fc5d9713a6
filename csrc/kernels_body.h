/* kernels_body.h: the hot loops, written once and included per floating type and per
 * instruction set by kernels_isa.h.  The includer defines
 *   REAL      float or double
 *   FL_T      f32 or f64 (name suffix)
 *   FL_ISA    baseline, avx2 or avx512 (name suffix)
 * and EXP, LOG, LOG1P, LOG1P_UNIT, SOFTPLUS, SIGMOID, the matching functions of fl_math.h.
 *
 * Every inner loop carries `#pragma omp simd`: it licenses the reordering of the double
 * accumulations and states that there is no loop-carried dependence, which holds also
 * when the gradient is written over the input (`out=input`), since each element is read
 * before it is written at the same index.  Check with -fopt-info-vec-missed that every
 * loop marked HOT vectorizes.
 */

#define FL_CAT3_(a, b, c) a##_##b##_##c
#define FL_CAT3(a, b, c) FL_CAT3_(a, b, c)
#define FN(name) FL_CAT3(name, FL_T, FL_ISA)

#define FL_CE_CHUNK 1024

/* The inner-loop functions take their variant flags as arguments and are called with
 * constants: they must be inlined for those flags to fold (a loop with a run-time
 * `if (WG) g[j] = ...` does not vectorize), and GCC's size limits would not inline them
 * at every call site on their own. */
#ifndef FL_ALWAYS_INLINE
#define FL_ALWAYS_INLINE static inline __attribute__((always_inline))
#endif

/* ------------------------------------------------------------ cross-entropy ---- */

FL_ALWAYS_INLINE int FN(has_nan)(const REAL *x, int64_t n)
{
    int nan = 0;
#pragma omp simd reduction(| : nan)
    for (int64_t j = 0; j < n; j++)
        nan |= x[j] != x[j];
    return nan;
}

/* Online log-sum-exp over one row: per chunk, the chunk max, a rescale of the running
 * sum when the max grows, then the chunk's exp-sum against the running max.  The row is
 * read once from memory; each chunk is re-read from L1.  Returns the running max m and
 * s = sum exp(x - m); also sum_c wc * x_c into *sx when want_sx (label smoothing). */
FL_ALWAYS_INLINE void FN(ce_online)(const REAL *x, int64_t C, const REAL *cw, int want_sx,
                                 double *m_out, double *s_out, double *sx_out)
{
    double m = -__builtin_inf(), s = 0.0, sx = 0.0;
    for (int64_t k = 0; k < C; k += FL_CE_CHUNK) {
        const int64_t L = (C - k) < FL_CE_CHUNK ? (C - k) : FL_CE_CHUNK;
        const REAL *xc = x + k;
        REAL cm = -(REAL)__builtin_inf();
#pragma omp simd reduction(max : cm)
        for (int64_t j = 0; j < L; j++)   /* HOT */
            cm = xc[j] > cm ? xc[j] : cm;
        if (cm > m) {
            s = s * fl_exp(m - (double)cm);
            m = cm;
        }
        if (want_sx) {
            double a = 0.0;
            if (cw) {
                const REAL *wc = cw + k;
#pragma omp simd reduction(+ : a)
                for (int64_t j = 0; j < L; j++)   /* HOT */
                    a += (double)(wc[j] * xc[j]);
            } else {
#pragma omp simd reduction(+ : a)
                for (int64_t j = 0; j < L; j++)   /* HOT */
                    a += (double)xc[j];
            }
            sx += a;
        }
        if (m == -__builtin_inf()) {
            /* every element so far is -inf (they add 0) or NaN, which the max skipped:
             * a NaN must still reach the sum */
            if (FN(has_nan)(xc, L))
                s = __builtin_nan("");
            continue;
        }
        const REAL M = (REAL)m;
        double cs = 0.0;
#pragma omp simd reduction(+ : cs)
        for (int64_t j = 0; j < L; j++)   /* HOT */
            cs += (double)EXP_NP(xc[j] - M);
        s += cs;
    }
    *m_out = m;
    *s_out = s;
    *sx_out = sx;
}

/* Soft targets: the same online pass plus T = sum w t' and S = sum w t' x, where
 * t' = (1 - ls) t + ls / C is the smoothed target. */
FL_ALWAYS_INLINE void FN(ce_online_soft)(const REAL *x, const REAL *t, int64_t C, const REAL *cw,
                                      REAL a1, REAL a0, double *m_out, double *s_out,
                                      double *T_out, double *S_out)
{
    double m = -__builtin_inf(), s = 0.0, T = 0.0, S = 0.0;
    for (int64_t k = 0; k < C; k += FL_CE_CHUNK) {
        const int64_t L = (C - k) < FL_CE_CHUNK ? (C - k) : FL_CE_CHUNK;
        const REAL *xc = x + k, *tc = t + k;
        REAL cm = -(REAL)__builtin_inf();
#pragma omp simd reduction(max : cm)
        for (int64_t j = 0; j < L; j++)   /* HOT */
            cm = xc[j] > cm ? xc[j] : cm;
        if (cm > m) {
            s = s * fl_exp(m - (double)cm);
            m = cm;
        }
        double ta = 0.0, sa = 0.0;
        if (cw) {
            const REAL *wc = cw + k;
#pragma omp simd reduction(+ : ta, sa)
            for (int64_t j = 0; j < L; j++) {   /* HOT */
                REAL wt = wc[j] * (a1 * tc[j] + a0);
                ta += (double)wt;
                sa += (double)(wt * xc[j]);
            }
        } else {
#pragma omp simd reduction(+ : ta, sa)
            for (int64_t j = 0; j < L; j++) {   /* HOT */
                REAL wt = a1 * tc[j] + a0;
                ta += (double)wt;
                sa += (double)(wt * xc[j]);
            }
        }
        T += ta;
        S += sa;
        if (m == -__builtin_inf()) {
            if (FN(has_nan)(xc, L))
                s = __builtin_nan("");
            continue;
        }
        const REAL M = (REAL)m;
        double cs = 0.0;
#pragma omp simd reduction(+ : cs)
        for (int64_t j = 0; j < L; j++)   /* HOT */
            cs += (double)EXP_NP(xc[j] - M);
        s += cs;
    }
    *m_out = m;
    *s_out = s;
    *T_out = T;
    *S_out = S;
}

/* Whether the argmax of the C values x[j * stride] (ties to the lowest class) is y, given
 * their max m with NaN skipped: x[y] holds m and no class before y does.  A NaN makes the
 * row wrong: it is found here when m = +inf, and otherwise by the caller's exp-sum, which
 * it turns to NaN (with m = +inf the sum is NaN anyway, from inf - inf).  The scans run
 * only for rows whose target holds the max. */
FL_ALWAYS_INLINE int FN(argmax_is)(const REAL *x, int64_t stride, int64_t C, int64_t y, REAL m)
{
    if (!(x[y * stride] == m))
        return 0;
    for (int64_t j = 0; j < y; j++)
        if (x[j * stride] == m)
            return 0;
    if (m == (REAL)__builtin_inf())
        for (int64_t j = 0; j < C; j++)
            if (x[j * stride] != x[j * stride])
                return 0;
    return 1;
}

/* the hit after the exp-sum s: see argmax_is */
#define FL_HIT(hit, s, m) ((uint8_t)((hit) && ((s) == (s) || (m) == __builtin_inf())))

/* nll_loss: x holds log-probabilities; value -w_y x_y, gradient -w_y at y only. */
FL_ALWAYS_INLINE double FN(nll_row)(const fl_ce_args *a, int64_t i, double gscale)
{
    const int64_t C = a->c;
    const REAL *x = (const REAL *)a->x + i * C;
    REAL *g = a->grad ? (REAL *)a->grad + i * C : 0;
    const int64_t y = a->target[i];
    const int valid = !(y == a->ignore_index || y < 0 || y >= C);
    const double sw = a->sample_w ? (double)((const REAL *)a->sample_w)[i] : 1.0;
    const double wy = valid ? (a->class_w ? (double)((const REAL *)a->class_w)[y] : 1.0) : 0.0;
    const double loss = valid ? -sw * wy * (double)x[y] : 0.0;
    if (a->loss_out)
        ((REAL *)a->loss_out)[i] = (REAL)loss;
    if (g) {
#pragma omp simd
        for (int64_t j = 0; j < C; j++)   /* HOT */
            g[j] = 0;
        if (valid)
            g[y] = (REAL)(-sw * wy * gscale);
    }
    return loss;
}

/* One row with a class-index target, online (rows longer than FL_CE_CACHED_ROW; two exp
 * per logit, see ce_row below).  Per-sample value (before the row weight sw):
 *   (1 - ls) * w_y * (lse - x_y) + ls / C * (W * lse - sum_c w_c x_c) + z * w_y * lse^2,
 * W = sum_c w_c, and its gradient
 *   coef * (p_j * ((1 - ls) w_y + ls W / C + 2 z w_y lse) - ls w_j / C - [j = y] (1 - ls) w_y). */
FL_ALWAYS_INLINE double FN(ce_row_index_online)(const fl_ce_args *a, int64_t i, double gscale)
{
    const int64_t C = a->c;
    const REAL *x = (const REAL *)a->x + i * C;
    const REAL *cw = (const REAL *)a->class_w;
    REAL *g = a->grad ? (REAL *)a->grad + i * C : 0;
    const int64_t y = a->target[i];
    if (y == a->ignore_index || y < 0 || y >= C) {
        if (g) {
#pragma omp simd
            for (int64_t j = 0; j < C; j++)
                g[j] = 0;
        }
        if (a->loss_out)
            ((REAL *)a->loss_out)[i] = 0;
        if (a->correct)
            a->correct[i] = 0;
        return 0.0;
    }
    const double sw = a->sample_w ? (double)((const REAL *)a->sample_w)[i] : 1.0;
    const double ls = a->label_smoothing, z = a->z_loss;
    const double xy = (double)x[y];   /* read before the gradient may overwrite x */
    const double wy = cw ? (double)cw[y] : 1.0;
    double m, s, sx;
    FN(ce_online)(x, C, cw, ls > 0.0, &m, &s, &sx);
    if (a->correct)   /* m is x's max (NaN skipped): a NaN reaches s */
        a->correct[i] = FL_HIT(FN(argmax_is)(x, 1, C, y, (REAL)m), s, m);
    const double logs = fl_log(s);
    const double lse = m + logs;
    double loss = (1.0 - ls) * wy * (lse - xy);
    if (ls > 0.0)
        loss += ls / (double)C * (a->class_w_sum * lse - sx);
    if (z > 0.0)
        loss += z * wy * lse * lse;
    loss *= sw;
    if (a->loss_out)
        ((REAL *)a->loss_out)[i] = (REAL)loss;
    if (g) {
        const double coef = sw * gscale;
        double A = coef * ((1.0 - ls) * wy + ls * a->class_w_sum / (double)C);
        if (z > 0.0)
            A += coef * 2.0 * z * wy * lse;
        /* p_j = exp(x_j - m) / s: x_j - m is exact for the row max and 1/s is folded into
         * the coefficient, so rounding lse to REAL costs no accuracy at large logits. */
        const REAL As = (REAL)(A / s);
        const REAL B = (REAL)(coef * ls / (double)C);
        const REAL M = (REAL)m;
        if (ls > 0.0 && cw) {
#pragma omp simd
            for (int64_t j = 0; j < C; j++)   /* HOT */
                g[j] = As * EXP_NP(x[j] - M) - B * cw[j];
        } else if (ls > 0.0) {
#pragma omp simd
            for (int64_t j = 0; j < C; j++)   /* HOT */
                g[j] = As * EXP_NP(x[j] - M) - B;
        } else {
#pragma omp simd
            for (int64_t j = 0; j < C; j++)   /* HOT */
                g[j] = As * EXP_NP(x[j] - M);
        }
        g[y] -= (REAL)(coef * (1.0 - ls) * wy);
    }
    return loss;
}

/* One row with probability targets: value T * lse - S + z * lse^2 (see ce_online_soft),
 * gradient coef * (p_j * (T + 2 z lse) - w_j t'_j). */
FL_ALWAYS_INLINE double FN(ce_row_soft_online)(const fl_ce_args *a, int64_t i, double gscale)
{
    const int64_t C = a->c;
    const REAL *x = (const REAL *)a->x + i * C;
    const REAL *t = (const REAL *)a->soft + i * C;
    const REAL *cw = (const REAL *)a->class_w;
    REAL *g = a->grad ? (REAL *)a->grad + i * C : 0;
    const double sw = a->sample_w ? (double)((const REAL *)a->sample_w)[i] : 1.0;
    const double ls = a->label_smoothing, z = a->z_loss;
    const REAL a1 = (REAL)(1.0 - ls), a0 = (REAL)(ls / (double)C);
    double m, s, T, S;
    FN(ce_online_soft)(x, t, C, cw, a1, a0, &m, &s, &T, &S);
    const double lse = m + fl_log(s);
    /* T * lse - S with T = 0 (all-zero target row) is 0 even when lse is infinite. */
    double loss = T == 0.0 ? -S : T * lse - S;
    if (z > 0.0)
        loss += z * lse * lse;
    loss *= sw;
    if (a->loss_out)
        ((REAL *)a->loss_out)[i] = (REAL)loss;
    if (g) {
        const double coef = sw * gscale;
        const REAL As = (REAL)(coef * (z > 0.0 ? T + 2.0 * z * lse : T) / s);
        const REAL B = (REAL)coef;
        const REAL M = (REAL)m;
        if (cw) {
#pragma omp simd
            for (int64_t j = 0; j < C; j++)   /* HOT */
                g[j] = As * EXP_NP(x[j] - M) - B * cw[j] * (a1 * t[j] + a0);
        } else {
#pragma omp simd
            for (int64_t j = 0; j < C; j++)   /* HOT */
                g[j] = As * EXP_NP(x[j] - M) - B * (a1 * t[j] + a0);
        }
    }
    return loss;
}

/* ------------------------------------------------ cross-entropy, one exp per logit ---- */

/* A row of C logits is read from memory once and processed in three passes while it is
 * in cache: (1) the row max and everything else that reads x (the target logit, the
 * label-smoothing sum, the soft-target sums), since the gradient may overwrite x;
 * (2) e_j = exp(x_j - m) stored into the gradient row and summed; (3) the gradient from
 * e_j in place.  One exp per logit, against two for an online pass that recomputes it.
 * Rows longer than FL_CE_CACHED_ROW use the online pass (ce_row_*_online above).  Rows
 * shorter than FL_CE_TILE_C are processed a tile of rows at a time, transposed, by the
 * K-dimensional kernel (ce_tile below), so that its loops run over rows at full vector
 * width. */
#define FL_CE_CACHED_ROW 65536
#define FL_CE_TILE_C 32
#define FL_CE_TILE 256

#ifndef FL_CE_STAT_DEFINED
#define FL_CE_STAT_DEFINED
typedef struct {
    double mu;      /* the row max, or 0 when it is -inf (every logit -inf) */
    double s;       /* sum_j exp(x_j - mu) */
    double xy, wy;  /* index targets: the target logit and its class weight */
    double sx;      /* label smoothing: sum_j w_j x_j; soft targets: S = sum_j w_j t'_j x_j */
    double T;       /* soft targets: sum_j w_j t'_j */
    int64_t y;      /* index targets: the class, or -1 when the row is ignored */
    int hit;        /* with a->correct: x[y] is the row max, first among equals */
} fl_ce_stat;
#endif

FL_ALWAYS_INLINE REAL FN(row_max)(const REAL *x, int64_t C)
{
    REAL m = -(REAL)__builtin_inf();
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < C; j++)   /* HOT */
        m = x[j] > m ? x[j] : m;
    return m;
}

/* pass 1: what reads x; returns 0 for an ignored row (index targets) */
FL_ALWAYS_INLINE int FN(ce_pre)(const fl_ce_args *a, const REAL *x, const REAL *t, int64_t y,
                                fl_ce_stat *st)
{
    const int64_t C = a->c;
    const REAL *cw = (const REAL *)a->class_w;
    const double ls = a->label_smoothing;
    st->sx = 0.0;
    st->T = 0.0;
    st->xy = 0.0;
    st->wy = 0.0;
    if (t) {
        const REAL a1 = (REAL)(1.0 - ls), a0 = (REAL)(ls / (double)C);
        double ta = 0.0, sa = 0.0;
        if (cw) {
#pragma omp simd reduction(+ : ta, sa)
            for (int64_t j = 0; j < C; j++) {   /* HOT */
                const REAL wt = cw[j] * (a1 * t[j] + a0);
                ta += (double)wt;
                sa += (double)(wt * x[j]);
            }
        } else {
#pragma omp simd reduction(+ : ta, sa)
            for (int64_t j = 0; j < C; j++) {   /* HOT */
                const REAL wt = a1 * t[j] + a0;
                ta += (double)wt;
                sa += (double)(wt * x[j]);
            }
        }
        st->T = ta;
        st->sx = sa;
        st->y = -1;
    } else {
        if (y == a->ignore_index || y < 0 || y >= C) {
            st->y = -1;
            st->mu = 0.0;
            return 0;
        }
        st->y = y;
        st->xy = (double)x[y];
        st->wy = cw ? (double)cw[y] : 1.0;
        if (ls > 0.0) {
            double sx = 0.0;
            if (cw) {
#pragma omp simd reduction(+ : sx)
                for (int64_t j = 0; j < C; j++)   /* HOT */
                    sx += (double)(cw[j] * x[j]);
            } else {
#pragma omp simd reduction(+ : sx)
                for (int64_t j = 0; j < C; j++)   /* HOT */
                    sx += (double)x[j];
            }
            st->sx = sx;
        }
    }
    const REAL m = FN(row_max)(x, C);
    /* an all -inf row keeps max -inf: exp(x - 0) reads 0 there (lse = -inf); NaN in the
     * row skips the max but reaches the sum */
    st->mu = m == -(REAL)__builtin_inf() ? 0.0 : (double)m;
    st->hit = a->correct && !t && FN(argmax_is)(x, 1, C, y, m);
    return 1;
}

/* pass 2: sum_j exp(x_j - mu), each term stored into e when STORE (e may be x) */
FL_ALWAYS_INLINE double FN(ce_expsum)(const REAL *x, int64_t C, REAL mu, REAL *e, const int STORE)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < C; j++) {   /* HOT */
        const REAL v = EXP_NP(x[j] - mu);
        if (STORE)
            e[j] = v;
        s += (double)v;
    }
    return s;
}

/* The row's value (times the sample weight sw) from its statistics, and the gradient's
 * coefficients: g_j = As e_j - B w_j t'_j (soft) or As e_j - B w_j, then g_y -= Cy
 * (index).  Formulas as ce_row_index_online / ce_row_soft_online. */
FL_ALWAYS_INLINE double FN(ce_post)(const fl_ce_args *a, fl_ce_stat sv, int soft,
                                    double sw, double gscale, REAL *As, REAL *B, REAL *Cy)
{
    const fl_ce_stat *st = &sv;
    const double ls = a->label_smoothing, z = a->z_loss, C = (double)a->c;
    const double lse = st->mu + fl_log(st->s);
    const double coef = sw * gscale;
    double loss, A;
    if (soft) {
        /* T * lse - S with T = 0 (all-zero target row) is 0 even when lse is infinite */
        loss = st->T == 0.0 ? -st->sx : st->T * lse - st->sx;
        A = st->T;
        if (z > 0.0) {
            loss += z * lse * lse;
            A += 2.0 * z * lse;
        }
        *B = (REAL)coef;
        *Cy = 0;
    } else {
        loss = (1.0 - ls) * st->wy * (lse - st->xy);
        A = (1.0 - ls) * st->wy + ls * a->class_w_sum / C;
        if (ls > 0.0)
            loss += ls / C * (a->class_w_sum * lse - st->sx);
        if (z > 0.0) {
            loss += z * st->wy * lse * lse;
            A += 2.0 * z * st->wy * lse;
        }
        *B = (REAL)(coef * ls / C);
        *Cy = (REAL)(coef * (1.0 - ls) * st->wy);
    }
    /* p_j = e_j / s: x_j - mu is exact for the row max and 1/s is folded into the
     * coefficient, so rounding lse to REAL costs no accuracy at large logits */
    *As = (REAL)(coef * A / st->s);
    return loss * sw;
}

/* pass 3: the gradient row from e (g may be e) */
FL_ALWAYS_INLINE void FN(ce_grad)(const fl_ce_args *a, REAL *g, const REAL *e, const REAL *t,
                                  int64_t y, REAL As, REAL B, REAL Cy)
{
    const int64_t C = a->c;
    const REAL *cw = (const REAL *)a->class_w;
    const double ls = a->label_smoothing;
    if (t) {
        const REAL a1 = (REAL)(1.0 - ls), a0 = (REAL)(ls / (double)C);
        if (cw) {
#pragma omp simd
            for (int64_t j = 0; j < C; j++)   /* HOT */
                g[j] = As * e[j] - B * cw[j] * (a1 * t[j] + a0);
        } else {
#pragma omp simd
            for (int64_t j = 0; j < C; j++)   /* HOT */
                g[j] = As * e[j] - B * (a1 * t[j] + a0);
        }
        return;
    }
    if (ls > 0.0 && cw) {
#pragma omp simd
        for (int64_t j = 0; j < C; j++)   /* HOT */
            g[j] = As * e[j] - B * cw[j];
    } else if (ls > 0.0) {
#pragma omp simd
        for (int64_t j = 0; j < C; j++)   /* HOT */
            g[j] = As * e[j] - B;
    } else {
#pragma omp simd
        for (int64_t j = 0; j < C; j++)   /* HOT */
            g[j] = As * e[j];
    }
    g[y] -= Cy;
}

FL_ALWAYS_INLINE void FN(ce_zero)(REAL *g, int64_t C)
{
#pragma omp simd
    for (int64_t j = 0; j < C; j++)
        g[j] = 0;
}

/* One row (index or probability targets) of any length. */
FL_ALWAYS_INLINE double FN(ce_row)(const fl_ce_args *a, int64_t i, double gscale)
{
    const int64_t C = a->c;
    if (C > FL_CE_CACHED_ROW)
        return a->target ? FN(ce_row_index_online)(a, i, gscale) : FN(ce_row_soft_online)(a, i, gscale);
    const REAL *x = (const REAL *)a->x + i * C;
    const REAL *t = a->target ? 0 : (const REAL *)a->soft + i * C;
    REAL *g = a->grad ? (REAL *)a->grad + i * C : 0;
    REAL *lo = a->loss_out ? (REAL *)a->loss_out + i : 0;
    fl_ce_stat st;
    if (!FN(ce_pre)(a, x, t, a->target ? a->target[i] : -1, &st)) {
        if (g)
            FN(ce_zero)(g, C);
        if (lo)
            *lo = 0;
        if (a->correct)
            a->correct[i] = 0;
        return 0.0;
    }
    st.s = g ? FN(ce_expsum)(x, C, (REAL)st.mu, g, 1) : FN(ce_expsum)(x, C, (REAL)st.mu, 0, 0);
    if (a->correct)   /* a NaN in the row skips the max but reaches the sum */
        a->correct[i] = FL_HIT(st.hit, st.s, st.mu);
    const double sw = a->sample_w ? (double)((const REAL *)a->sample_w)[i] : 1.0;
    REAL As, B, Cy;
    const double loss = FN(ce_post)(a, st, t != 0, sw, gscale, &As, &B, &Cy);
    if (lo)
        *lo = (REAL)loss;
    if (g)
        FN(ce_grad)(a, g, g, t, st.y, As, B, Cy);
    return loss;
}

/* Rows [r0, r0 + R) of few classes, R * C <= FL_CE_TILE, R <= FL_KD_MAX: transposed into
 * a (C, R) buffer, they are R positions of one K-dimensional sample (ce_kd_seg, below,
 * with per-position sample weights), whose loops run over the positions at full vector
 * width; the gradient is transposed back. */
FL_ALWAYS_INLINE double FN(ce_kd_seg)(const fl_ce_args *a, int64_t i, int64_t p0, int64_t L,
                                      double gscale);

FL_ALWAYS_INLINE void FN(transpose)(REAL *dst, const REAL *src, int64_t rows, int64_t cols)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t k = 0; k < cols; k++)
            dst[k * rows + i] = src[i * cols + k];
}

FL_ALWAYS_INLINE double FN(ce_tile)(const fl_ce_args *a, int64_t r0, int64_t R, double gscale)
{
    const int64_t C = a->c;
    REAL xt[FL_CE_TILE], tt[FL_CE_TILE], gt[FL_CE_TILE];
    FN(transpose)(xt, (const REAL *)a->x + r0 * C, R, C);
    fl_ce_args b = *a;
    b.n = 1;
    b.s = R;
    b.x = xt;
    if (a->soft) {
        FN(transpose)(tt, (const REAL *)a->soft + r0 * C, R, C);
        b.soft = tt;
    }
    b.target = a->target ? a->target + r0 : 0;
    b.pos_w = a->sample_w ? (const REAL *)a->sample_w + r0 : 0;
    b.sample_w = 0;
    b.loss_out = a->loss_out ? (REAL *)a->loss_out + r0 : 0;
    b.correct = a->correct ? a->correct + r0 : 0;
    b.grad = a->grad ? gt : 0;
    const double acc = FN(ce_kd_seg)(&b, 0, 0, R, gscale);
    if (a->grad) {
        REAL *g = (REAL *)a->grad + r0 * C;
        for (int64_t k = 0; k < C; k++)
            for (int64_t i = 0; i < R; i++)
                g[i * C + k] = gt[k * R + i];
    }
    return acc;
}

/* K-dimensional input (n, c, s), s > 1: the classes of one position are s apart, so a
 * segment of L consecutive positions of one sample is processed class by class, each
 * class a contiguous run of L values: a max pass, an exp-sum pass and a gradient pass
 * over the segment's c * L values (sized to stay in L1/L2), per-position accumulators
 * in double.  Same per-position formulas as ce_post / nll_row. */
#define FL_KD_MAX 256

FL_ALWAYS_INLINE double FN(ce_kd_seg)(const fl_ce_args *a, int64_t i, int64_t p0, int64_t L,
                                   double gscale)
{
    const int64_t C = a->c, S = a->s;
    const REAL *x = (const REAL *)a->x + i * C * S + p0;
    const REAL *soft = a->soft ? (const REAL *)a->soft + i * C * S + p0 : 0;
    const int64_t *tg = a->target ? a->target + i * S + p0 : 0;
    const REAL *cw = (const REAL *)a->class_w;
    REAL *g = a->grad ? (REAL *)a->grad + i * C * S + p0 : 0;
    REAL *lo = a->loss_out ? (REAL *)a->loss_out + i * S + p0 : 0;
    uint8_t *cor = a->correct && !a->nll && !soft ? a->correct + i * S + p0 : 0;
    const double sw = a->sample_w ? (double)((const REAL *)a->sample_w)[i] : 1.0;
    const double ls = a->label_smoothing, z = a->z_loss;
    /* per-position sample weights: the tile path (ce_tile) lays rows out as positions */
    const REAL *pw = a->pos_w ? (const REAL *)a->pos_w + p0 : 0;
    double wy[FL_KD_MAX], xy[FL_KD_MAX];
    int64_t yy[FL_KD_MAX];
    double acc = 0.0;
    if (tg) {
        for (int64_t j = 0; j < L; j++) {
            const int64_t y = tg[j];
            const int valid = !(y == a->ignore_index || y < 0 || y >= C);
            yy[j] = valid ? y : -1;
            wy[j] = valid ? (cw ? (double)cw[y] : 1.0) : 0.0;
            xy[j] = valid ? (double)x[y * S + j] : 0.0;   /* before g may overwrite x */
        }
    }
    if (a->nll) {
        for (int64_t j = 0; j < L; j++) {
            const double swj = pw ? (double)pw[j] : sw;
            const double l = yy[j] >= 0 ? -swj * wy[j] * xy[j] : 0.0;
            if (lo)
                lo[j] = (REAL)l;
            acc += l;
        }
        if (g) {
            for (int64_t k = 0; k < C; k++) {
                REAL *gk = g + k * S;
#pragma omp simd
                for (int64_t j = 0; j < L; j++)
                    gk[j] = 0;
            }
            for (int64_t j = 0; j < L; j++)
                if (yy[j] >= 0)
                    g[yy[j] * S + j] = (REAL)(-(pw ? (double)pw[j] : sw) * gscale * wy[j]);
        }
        return acc;
    }
    REAL mx[FL_KD_MAX];
    double se[FL_KD_MAX], sx[FL_KD_MAX], T[FL_KD_MAX];
    for (int64_t j = 0; j < L; j++) {
        mx[j] = -(REAL)__builtin_inf();
        se[j] = 0.0;
        sx[j] = 0.0;
        T[j] = 0.0;
    }
    for (int64_t k = 0; k < C; k++) {
        const REAL *xk = x + k * S;
#pragma omp simd
        for (int64_t j = 0; j < L; j++)   /* HOT */
            mx[j] = xk[j] > mx[j] ? xk[j] : mx[j];
    }
    /* a position whose every class is -inf keeps max -inf: exp(x - max) must read 0 there
     * (its lse is -inf); NaN is carried by the sum. */
    REAL mu[FL_KD_MAX];
    for (int64_t j = 0; j < L; j++)
        mu[j] = mx[j] == -(REAL)__builtin_inf() ? (REAL)0 : mx[j];
    /* argmax hits, before the exp pass may overwrite x (NaN is caught by the sums below) */
    if (cor)
        for (int64_t j = 0; j < L; j++)
            cor[j] = (uint8_t)(yy[j] >= 0 && FN(argmax_is)(x + j, S, C, yy[j], mx[j]));
    const REAL a1 = (REAL)(1.0 - ls), a0 = (REAL)(ls / (double)C);
    /* exp(x - max) is stored into the gradient (read back by the gradient pass: one exp
     * per value); x is read before it is written at the same place (g may be x) */
    for (int64_t k = 0; k < C; k++) {
        const REAL *xk = x + k * S;
        REAL *ek = g ? g + k * S : 0;
        const REAL wk = cw ? cw[k] : (REAL)1;
        if (soft) {
            const REAL *tk = soft + k * S;
#pragma omp simd
            for (int64_t j = 0; j < L; j++) {   /* HOT */
                const REAL xv = xk[j];   /* read once: ek may be xk */
                const REAL wt = wk * (a1 * tk[j] + a0);
                const REAL e = EXP_NP(xv - mu[j]);
                T[j] += (double)wt;
                sx[j] += (double)(wt * xv);
                if (ek)
                    ek[j] = e;
                se[j] += (double)e;
            }
        } else if (ls > 0.0) {
#pragma omp simd
            for (int64_t j = 0; j < L; j++) {   /* HOT */
                const REAL xv = xk[j];
                const REAL e = EXP_NP(xv - mu[j]);
                sx[j] += (double)(wk * xv);
                if (ek)
                    ek[j] = e;
                se[j] += (double)e;
            }
        } else {
#pragma omp simd
            for (int64_t j = 0; j < L; j++) {   /* HOT */
                const REAL e = EXP_NP(xk[j] - mu[j]);
                if (ek)
                    ek[j] = e;
                se[j] += (double)e;
            }
        }
    }
    /* per position: the value, and the gradient's coefficients A (of p) and B (of w t'),
     * branch-free so the loop vectorizes; an ignored position gets value and gradient 0
     * (its column is masked in the gradient pass, so NaN there does not leak) */
    REAL As[FL_KD_MAX], Bs[FL_KD_MAX], vm[FL_KD_MAX];
    const double W = a->class_w_sum, lsC = ls / (double)C;
    if (soft) {
#pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < L; j++) {
            const double lse = (double)mu[j] + fl_log(se[j]);
            double l = T[j] == 0.0 ? -sx[j] : T[j] * lse - sx[j];
            double A = T[j];
            l += z > 0.0 ? z * lse * lse : 0.0;
            A += z > 0.0 ? 2.0 * z * lse : 0.0;
            const double swj = pw ? (double)pw[j] : sw, coef = swj * gscale;
            l *= swj;
            As[j] = (REAL)(coef * A / se[j]);
            Bs[j] = (REAL)coef;
            vm[j] = 1;
            if (lo)
                lo[j] = (REAL)l;
            acc += l;
        }
    } else {
#pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < L; j++) {
            const int valid = yy[j] >= 0;
            const double lse = (double)mu[j] + fl_log(se[j]);
            double l = (1.0 - ls) * wy[j] * (lse - xy[j]);
            double A = (1.0 - ls) * wy[j] + lsC * W;
            l += ls > 0.0 ? lsC * (W * lse - sx[j]) : 0.0;
            l += z > 0.0 ? z * wy[j] * lse * lse : 0.0;
            A += z > 0.0 ? 2.0 * z * wy[j] * lse : 0.0;
            const double swj = pw ? (double)pw[j] : sw, coef = swj * gscale;
            l = valid ? l * swj : 0.0;
            As[j] = valid ? (REAL)(coef * A / se[j]) : (REAL)0;
            Bs[j] = valid ? (REAL)(coef * lsC) : (REAL)0;
            vm[j] = (REAL)valid;
            if (lo)
                lo[j] = (REAL)l;
            acc += l;
        }
    }
    if (cor)
        for (int64_t j = 0; j < L; j++)
            cor[j] = FL_HIT(cor[j], se[j], mx[j]);
    if (!g)
        return acc;
    for (int64_t k = 0; k < C; k++) {
        REAL *gk = g + k * S;
        const REAL wk = cw ? cw[k] : (REAL)1;
        if (soft) {
            const REAL *tk = soft + k * S;
#pragma omp simd
            for (int64_t j = 0; j < L; j++)   /* HOT */
                gk[j] = As[j] * gk[j] - Bs[j] * wk * (a1 * tk[j] + a0);
        } else {
#pragma omp simd
            for (int64_t j = 0; j < L; j++) {   /* HOT */
                const REAL v = As[j] * gk[j] - Bs[j] * wk;
                gk[j] = vm[j] != 0 ? v : (REAL)0;
            }
        }
    }
    if (!soft)
        for (int64_t j = 0; j < L; j++)
            if (yy[j] >= 0)
                g[yy[j] * S + j] -= (REAL)((pw ? (double)pw[j] : sw) * gscale * (1.0 - ls) * wy[j]);
    return acc;
}

static double FN(fl_ce_block)(const void *args, int64_t r0, int64_t r1, double gscale)
{
    const fl_ce_args *a = (const fl_ce_args *)args;
    double acc = 0.0;
    if (a->s > 1) {
        /* [r0, r1) are positions of the flat (n, s) grid, cut at sample ends and into
         * segments of at most FL_KD_MAX positions */
        const int64_t S = a->s;
        int64_t L = 8192 / (a->c > 0 ? a->c : 1);
        L = L < 16 ? 16 : (L > FL_KD_MAX ? FL_KD_MAX : L);
        int64_t e = r0;
        while (e < r1) {
            const int64_t i = e / S, p0 = e - i * S;
            int64_t len = S - p0 < r1 - e ? S - p0 : r1 - e;
            len = len < L ? len : L;
            acc += FN(ce_kd_seg)(a, i, p0, len, gscale);
            e += len;
        }
    } else if (a->nll) {
        for (int64_t i = r0; i < r1; i++)
            acc += FN(nll_row)(a, i, gscale);
    } else if (a->c > 0 && a->c < FL_CE_TILE_C) {
        const int64_t R = FL_CE_TILE / a->c;
        for (int64_t i = r0; i < r1; i += R)
            acc += FN(ce_tile)(a, i, r1 - i < R ? r1 - i : R, gscale);
    } else {
        for (int64_t i = r0; i < r1; i++)
            acc += FN(ce_row)(a, i, gscale);
    }
    return acc;
}

/* ------------------------------------------------------------ row argmax ---- */

/* The argmax of each row, as np.argmax: ties to the lowest index, and the first NaN wins
 * when there is one.  One vector pass per row in chunks of FL_AM_CHUNK values (the chunk
 * max and a NaN flag), keeping the first chunk that raised the running max (or held the
 * first NaN); then that chunk (in L1) is searched for the first value equal to the max
 * (or the first NaN), FL_AM_SUB values at a time with a vector test. */
#define FL_AM_CHUNK 512
#define FL_AM_SUB 32

static void FN(fl_argmax_rows)(const void *xv, int64_t ld, int64_t r0, int64_t r1, int64_t C,
                               int64_t *idx)
{
    for (int64_t i = r0; i < r1; i++) {
        const REAL *x = (const REAL *)xv + i * ld;
        REAL m = -(REAL)__builtin_inf();
        int64_t mk = 0;
        int nan = 0;
        for (int64_t k = 0; k < C; k += FL_AM_CHUNK) {
            const int64_t L = (C - k) < FL_AM_CHUNK ? (C - k) : FL_AM_CHUNK;
            const REAL *xc = x + k;
            REAL cm = -(REAL)__builtin_inf();
            int cn = 0;
#pragma omp simd reduction(max : cm) reduction(| : cn)
            for (int64_t j = 0; j < L; j++) {   /* HOT */
                cm = xc[j] > cm ? xc[j] : cm;
                cn |= xc[j] != xc[j];
            }
            if (cn) {
                nan = 1;
                mk = k;
                break;
            }
            if (cm > m) {
                m = cm;
                mk = k;
            }
        }
        const int64_t end = (C - mk) < FL_AM_CHUNK ? C : mk + FL_AM_CHUNK;
        int64_t a = mk;
        for (int64_t s0 = mk; s0 < end; s0 += FL_AM_SUB) {
            const int64_t L = (end - s0) < FL_AM_SUB ? (end - s0) : FL_AM_SUB;
            const REAL *xs = x + s0;
            int f = 0;
            if (nan) {
#pragma omp simd reduction(| : f)
                for (int64_t j = 0; j < L; j++)
                    f |= xs[j] != xs[j];
            } else {
#pragma omp simd reduction(| : f)
                for (int64_t j = 0; j < L; j++)
                    f |= xs[j] == m;
            }
            if (f) {
                int64_t j = 0;
                while (!(nan ? xs[j] != xs[j] : xs[j] == m))
                    j++;
                a = s0 + j;
                break;
            }
        }
        idx[i - r0] = a;
    }
}

/* ------------------------------------------------------ element-wise losses ---- */

/* A segment is a run of elements [c0, c0 + len) of one row r.  The block function walks
 * its flat range row by row, folds the per-row weights (sample weight, row-laid-out
 * element weight) into the coefficients, and calls the loss's segment function, which
 * returns sum(w_e * l_e) over the segment and writes
 *   grad[e] = gc * w_e * dl_e,   loss_out[e] = lc * w_e * l_e. */
#define FL_EW_BLOCK(NAME, SEGFN)                                                           \
    static double FN(NAME)(const void *args, int64_t e0, int64_t e1, double gscale)      \
    {                                                                                      \
        const fl_ew_args *a = (const fl_ew_args *)args;                                   \
        const int64_t M = a->m;                                                            \
        /* Nothing per row or per column: the block is one flat run (row 0, column e0, \
         * which addresses full-layout weights at e0 too). */                              \
        if (!a->sample_w && a->w_layout != FL_AUX_ROW && a->w_layout != FL_AUX_COL &&      \
            a->pw_layout != FL_AUX_ROW && a->pw_layout != FL_AUX_COL)                      \
            return SEGFN(a, 0, e0, e0, e1 - e0, (REAL)gscale, (REAL)1);                    \
        double acc = 0.0;                                                                  \
        int64_t e = e0;                                                                    \
        while (e < e1) {                                                                   \
            const int64_t r = e / M, c0 = e - r * M;                                       \
            const int64_t len = (M - c0) < (e1 - e) ? (M - c0) : (e1 - e);                 \
            double rw = a->sample_w ? (double)((const REAL *)a->sample_w)[r] : 1.0;        \
            if (a->w_layout == FL_AUX_ROW)                                                 \
                rw *= (double)((const REAL *)a->w)[r];                                     \
            acc += rw * SEGFN(a, r, c0, e, len, (REAL)(rw * gscale), (REAL)rw);            \
            e += len;                                                                      \
        }                                                                                  \
        return acc;                                                                        \
    }

/* The element weight pointer for row r at column c0, or NULL when it is per row. */
static inline const REAL *FN(ew_aux)(const void *p, int layout, int64_t M, int64_t r, int64_t c0)
{
    if (layout == FL_AUX_FULL)
        return (const REAL *)p + r * M + c0;
    if (layout == FL_AUX_COL)
        return (const REAL *)p + c0;
    return 0;
}

/* binary_cross_entropy_with_logits:
 *   l  = pw t softplus(-x) + (1 - t) softplus(x)      (no cancellation: both terms >= 0)
 *   dl = (1 - t) sigmoid(x) - pw t sigmoid(-x)
 * with one exp, one log and one division: e = exp(-|x|) (fl_exp*_nonpos: 0 for |x| > 87.68
 * in float32, 708.75 in float64, so softplus(-|x|) and sigmoid(-|x|), e itself there, are
 * 0 instead of subnormal, as PyTorch's), softplus(+-x) = max(+-x, 0) + log1p(e). */
FL_ALWAYS_INLINE double FN(bce_inner)(const REAL *x, const REAL *t, const REAL *w, const REAL *pw,
                                   REAL pws, int64_t n, REAL gc, REAL lc, REAL *g, REAL *lo,
                                   const int HW, const int HPW, const int WG, const int WL)
{
    double acc = 0.0;
#pragma omp simd reduction(+ : acc)
    for (int64_t j = 0; j < n; j++) {   /* HOT */
        const REAL xv = x[j], tv = t[j];
        const REAL pv = HPW ? pw[j] : pws;
        const REAL ax = xv < 0 ? -xv : xv;
        const REAL e = EXP_NP(-ax);
        /* log1p(e) as LOG1P_UNIT, its correction term sharing 1/(1 + e) with sigmoid */
        const REAL u = (REAL)1 + e;
        const REAL r = (REAL)1 / u;
        const REAL l1p = LOG_POS(u) + (e - (u - (REAL)1)) * r;   /* u in [1, 2] or NaN */
        const REAL spp = (xv > 0 ? xv : (REAL)0) + l1p;
        const REAL spn = (xv < 0 ? -xv : (REAL)0) + l1p;
        const REAL er = e * r;
        const REAL sig = xv < 0 ? er : r;
        const REAL sneg = xv < 0 ? r : er;
        const REAL ptv = pv * tv;
        const REAL l = ptv * spn + ((REAL)1 - tv) * spp;
        const REAL d = ((REAL)1 - tv) * sig - ptv * sneg;
        const REAL wv = HW ? w[j] : (REAL)1;
        if (WG)
            g[j] = gc * wv * d;
        if (WL)
            lo[j] = lc * wv * l;
        acc += (double)(wv * l);
    }
    return acc;
}

FL_ALWAYS_INLINE double FN(bce_seg)(const fl_ew_args *a, int64_t r, int64_t c0, int64_t e,
                                 int64_t len, REAL gc, REAL lc)
{
    const REAL *x = (const REAL *)a->x + e, *t = (const REAL *)a->t + e;
    const REAL *w = FN(ew_aux)(a->w, a->w_layout, a->m, r, c0);
    const REAL *pw = FN(ew_aux)(a->pw, a->pw_layout, a->m, r, c0);
    const REAL pws = a->pw_layout == FL_AUX_ROW ? ((const REAL *)a->pw)[r] : (REAL)1;
    REAL *g = a->grad ? (REAL *)a->grad + e : 0;
    REAL *lo = a->loss_out ? (REAL *)a->loss_out + e : 0;
    const int key = (w != 0) << 3 | (pw != 0) << 2 | (g != 0) << 1 | (lo != 0);
#define FL_BCE(HW, HPW, WG, WL) \
    case (HW << 3 | HPW << 2 | WG << 1 | WL): \
        return FN(bce_inner)(x, t, w, pw, pws, len, gc, lc, g, lo, HW, HPW, WG, WL)
    switch (key) {
        FL_BCE(0, 0, 0, 0); FL_BCE(0, 0, 0, 1); FL_BCE(0, 0, 1, 0); FL_BCE(0, 0, 1, 1);
        FL_BCE(0, 1, 0, 0); FL_BCE(0, 1, 0, 1); FL_BCE(0, 1, 1, 0); FL_BCE(0, 1, 1, 1);
        FL_BCE(1, 0, 0, 0); FL_BCE(1, 0, 0, 1); FL_BCE(1, 0, 1, 0); FL_BCE(1, 0, 1, 1);
        FL_BCE(1, 1, 0, 0); FL_BCE(1, 1, 0, 1); FL_BCE(1, 1, 1, 0); default: FL_BCE(1, 1, 1, 1);
    }
#undef FL_BCE
}

FL_EW_BLOCK(fl_bce_block, FN(bce_seg))



/* ------------------------------------------------------------ generic ops ---- */

/* Element-wise ops.  A group's ops_<group>.h writes, per op,
 *
 *   FL_ALWAYS_INLINE void FN(NAME_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
 *                                       REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
 *
 * the per-element value l and its derivatives d = dl/dx, dy = dl/dy (y is the second
 * input; leave dy alone when the op has none) and dt = dl/dt (only for ops that are
 * differentiable in their `target`, such as robust_loss's alpha; leave it alone
 * otherwise), branch-free with the fl_math.h functions (EXP, LOG, ...) so the loop
 * vectorizes, and then
 *
 *   FL_EW_DEFINE(NAME, HT, HY, HW)
 *
 * with HT = 1 when it reads a target (2 when it also writes the target's gradient, into
 * grad3), HY = 1 when it reads a second input y (and writes its gradient), HW = 1 when it
 * takes an element weight `w`.  p0..p3 are fl_ew_args.p
 * cast to REAL (precompute derived constants on the Python side).  The macro makes the
 * block function fl_ew_NAME: segments, sample and element weights, reductions, the
 * optional gradient and per-element outputs, as for mse_loss. */
#define FL_EW_DEFINE(NAME, HT, HY, HW)                                                     \
    FL_ALWAYS_INLINE double FN(NAME##_inner)(const REAL *x, const REAL *t, const REAL *y,  \
                                             const REAL *w, int64_t n, REAL p0, REAL p1,   \
                                             REAL p2, REAL p3, REAL gc, REAL lc, REAL *g,  \
                                             REAL *g2, REAL *g3, REAL *lo, const int KW,   \
                                             const int WG, const int WL)                   \
    {                                                                                      \
        double acc = 0.0;                                                                  \
        _Pragma("omp simd reduction(+ : acc)")                                             \
        for (int64_t j = 0; j < n; j++) { /* HOT */                                        \
            REAL l, d, dy = 0, dt = 0;                                                     \
            FN(NAME##_elem)(x[j], HT ? t[j] : (REAL)0, HY ? y[j] : (REAL)0, p0, p1, p2,    \
                            p3, &l, &d, &dy, &dt);                                         \
            const REAL wv = KW ? w[j] : (REAL)1;                                           \
            if (WG) {                                                                      \
                g[j] = gc * wv * d;                                                        \
                if (HY)                                                                    \
                    g2[j] = gc * wv * dy;                                                  \
                if (HT == 2) /* the binding passes grad3 with grad for these ops */         \
                    g3[j] = gc * wv * dt;                                                  \
            }                                                                              \
            if (WL)                                                                        \
                lo[j] = lc * wv * l;                                                       \
            acc += (double)(wv * l);                                                       \
        }                                                                                  \
        return acc;                                                                        \
    }                                                                                      \
    FL_ALWAYS_INLINE double FN(NAME##_seg)(const fl_ew_args *a, int64_t r, int64_t c0,     \
                                           int64_t e, int64_t len, REAL gc, REAL lc)       \
    {                                                                                      \
        const REAL *x = (const REAL *)a->x + e;                                            \
        const REAL *t = HT ? (const REAL *)a->t + e : 0;                                   \
        const REAL *y = HY ? (const REAL *)a->y + e : 0;                                   \
        const REAL *w = HW ? FN(ew_aux)(a->w, a->w_layout, a->m, r, c0) : 0;               \
        REAL *g = a->grad ? (REAL *)a->grad + e : 0;                                       \
        REAL *g2 = HY && a->grad2 ? (REAL *)a->grad2 + e : 0;                              \
        REAL *g3 = HT == 2 && a->grad3 ? (REAL *)a->grad3 + e : 0;                         \
        REAL *lo = a->loss_out ? (REAL *)a->loss_out + e : 0;                              \
        const REAL p0 = (REAL)a->p[0], p1 = (REAL)a->p[1], p2 = (REAL)a->p[2],             \
                   p3 = (REAL)a->p[3];                                                     \
        switch ((w != 0) << 2 | (g != 0) << 1 | (lo != 0)) {                               \
        case 0: return FN(NAME##_inner)(x, t, y, w, len, p0, p1, p2, p3, gc, lc, g, g2, g3, lo, 0, 0, 0); \
        case 1: return FN(NAME##_inner)(x, t, y, w, len, p0, p1, p2, p3, gc, lc, g, g2, g3, lo, 0, 0, 1); \
        case 2: return FN(NAME##_inner)(x, t, y, w, len, p0, p1, p2, p3, gc, lc, g, g2, g3, lo, 0, 1, 0); \
        case 3: return FN(NAME##_inner)(x, t, y, w, len, p0, p1, p2, p3, gc, lc, g, g2, g3, lo, 0, 1, 1); \
        case 4: return FN(NAME##_inner)(x, t, y, w, len, p0, p1, p2, p3, gc, lc, g, g2, g3, lo, HW, 0, 0); \
        case 5: return FN(NAME##_inner)(x, t, y, w, len, p0, p1, p2, p3, gc, lc, g, g2, g3, lo, HW, 0, 1); \
        case 6: return FN(NAME##_inner)(x, t, y, w, len, p0, p1, p2, p3, gc, lc, g, g2, g3, lo, HW, 1, 0); \
        default: return FN(NAME##_inner)(x, t, y, w, len, p0, p1, p2, p3, gc, lc, g, g2, g3, lo, HW, 1, 1); \
        }                                                                                  \
    }                                                                                      \
    FL_EW_BLOCK(fl_ew_##NAME, FN(NAME##_seg))

/* Row-wise ops.  A group's ops_<group>.h writes, per op,
 *
 *   FL_ALWAYS_INLINE double FN(NAME_row)(const fl_row_args *a, int64_t i, double gscale)
 *
 * which computes sample i (its c * s values at offset i * c * s of x, x2, x3, t; its
 * targets at i * s; rt[i]; sample_w[i]), writes loss_out[i] when loss_out is set and the
 * gradient rows (grad, grad2, grad3 as the op has inputs) scaled by gscale * sample
 * weight when grad is set, and returns the sample's value times its sample weight.  It
 * must read every value of a row before writing that row's gradient (out= may be the
 * input), use double for its sums, and treat an out-of-range class index as ignored.
 * Then FL_ROW_DEFINE(NAME) makes the block function fl_row_NAME. */
#define FL_ROW_DEFINE(NAME)                                                                \
    static double FN(fl_row_##NAME)(const void *args, int64_t r0, int64_t r1, double gscale) \
    {                                                                                      \
        const fl_row_args *a = (const fl_row_args *)args;                                 \
        double acc = 0.0;                                                                  \
        for (int64_t i = r0; i < r1; i++)                                                  \
            acc += FN(NAME##_row)(a, i, gscale);                                           \
        return acc;                                                                        \
    }

/* mse_loss: l = (x - t)^2, dl = 2 (x - t); element weight as PyTorch's `weight`. */
FL_ALWAYS_INLINE void FN(mse_loss_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                        REAL p3, REAL *l, REAL *d, REAL *dy, REAL *dt)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy;
    const REAL r = x - t;
    *l = r * r;
    *d = (REAL)2 * r;
}
FL_EW_DEFINE(mse_loss, 1, 0, 1)

#include "ops_regression.h"
#include "ops_binary.h"
#include "ops_softmax.h"
#include "ops_margin.h"
#include "ops_penalty.h"

/* ------------------------------------------------------ elementary functions ---- */

static void FN(fl_math)(int fn, const void *xv, void *yv, int64_t n)
{
    const REAL *x = (const REAL *)xv;
    REAL *y = (REAL *)yv;
#define FL_MAP(F)                                 \
    do {                                          \
        _Pragma("omp simd")                       \
        for (int64_t i = 0; i < n; i++)           \
            y[i] = F(x[i]);                       \
    } while (0)
    switch (fn) {
    case FL_FN_EXP: FL_MAP(EXP); break;
    case FL_FN_LOG: FL_MAP(LOG); break;
    case FL_FN_LOG1P: FL_MAP(LOG1P); break;
    case FL_FN_SOFTPLUS: FL_MAP(SOFTPLUS); break;
    case FL_FN_EXP_NONPOS: FL_MAP(EXP_NP); break;
    default: FL_MAP(SIGMOID); break;
    }
#undef FL_MAP
}

#undef FN
#undef FL_CAT3
#undef FL_CAT3_
