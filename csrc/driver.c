/* driver.c: reductions, threads and instruction-set dispatch around the block kernels.
 *
 * Determinism: the work is cut into blocks whose size depends only on the problem's
 * shape; each block's sum is computed by one thread in a fixed order, and the block sums
 * are added in block order.  The value is therefore bitwise the same for any thread count
 * (it can differ in the last bits between instruction sets, whose vector widths reorder
 * the sums inside a block).
 *
 * Threads: inputs under FL_PAR_MIN_ELEMS elements run on the calling thread without
 * entering an OpenMP region.
 */
#include <stdlib.h>
#include <string.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "fl_internal.h"

#define FL_BLOCK_ELEMS 16384      /* elements per block: 64 KiB of float32 */
#define FL_PAR_MIN_ELEMS 32768    /* below this, one thread and no OpenMP region */
#define FL_STACK_BLOCKS 64

/* ------------------------------------------------------------- ISA dispatch ---- */

static int fl_isa_current = -1;

int fl_isa_supported(int isa)
{
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
    __builtin_cpu_init();
    switch (isa) {
    case FL_ISA_BASELINE:
        return 1;
    case FL_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FL_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    default:
        return 0;
    }
#else
    return isa == FL_ISA_BASELINE;
#endif
}

static int fl_isa_best(void)
{
    if (fl_isa_supported(FL_ISA_AVX512))
        return FL_ISA_AVX512;
    if (fl_isa_supported(FL_ISA_AVX2))
        return FL_ISA_AVX2;
    return FL_ISA_BASELINE;
}

int fl_set_isa(int isa)
{
    if (!fl_isa_supported(isa))
        return -1;
    fl_isa_current = isa;
    return 0;
}

int fl_isa_active(void)
{
    if (fl_isa_current < 0)
        fl_isa_current = fl_isa_best();
    return fl_isa_current;
}

const char *fl_isa_name(int isa)
{
    switch (isa) {
    case FL_ISA_AVX512: return "avx512";
    case FL_ISA_AVX2: return "avx2";
    case FL_ISA_BASELINE: return "baseline";
    default: return "unknown";
    }
}

static const fl_isa_table *fl_table(void)
{
    switch (fl_isa_active()) {
    case FL_ISA_AVX512: return &fl_table_avx512;
    case FL_ISA_AVX2: return &fl_table_avx2;
    default: return &fl_table_baseline;
    }
}

/* ------------------------------------------------------------------ threads ---- */

int fl_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int fl_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Run fn over [0, total) in blocks of `blk`, summing block results in block order. */
static int fl_run_blocks(fl_block_fn fn, const void *args, int64_t total, int64_t blk,
                         int64_t work_elems, double gscale, int n_threads, double *sum)
{
    *sum = 0.0;
    if (total <= 0)
        return FL_OK;
    const int64_t nb = (total + blk - 1) / blk;
    int nt = n_threads < 1 ? 1 : n_threads;
    if (work_elems < FL_PAR_MIN_ELEMS)
        nt = 1;
    if ((int64_t)nt > nb)
        nt = (int)nb;
    double stack_part[FL_STACK_BLOCKS];
    double *part = stack_part;
    if (nb > FL_STACK_BLOCKS) {
        part = (double *)malloc((size_t)nb * sizeof(double));
        if (!part)
            return FL_ENOMEM;
    }
    if (nt == 1) {
        for (int64_t b = 0; b < nb; b++) {
            const int64_t b1 = (b + 1) * blk < total ? (b + 1) * blk : total;
            part[b] = fn(args, b * blk, b1, gscale);
        }
    } else {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
        for (int64_t b = 0; b < nb; b++) {
            const int64_t b1 = (b + 1) * blk < total ? (b + 1) * blk : total;
            part[b] = fn(args, b * blk, b1, gscale);
        }
    }
    double s = 0.0;
    for (int64_t b = 0; b < nb; b++)
        s += part[b];
    if (part != stack_part)
        free(part);
    *sum = s;
    return FL_OK;
}

static double fl_load(int dsz, const void *p, int64_t i)
{
    return dsz == 4 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

static double fl_sum_array(int dsz, const void *p, int64_t n)
{
    double s = 0.0;
    if (dsz == 4) {
        const float *q = (const float *)p;
        for (int64_t i = 0; i < n; i++)
            s += (double)q[i];
    } else {
        const double *q = (const double *)p;
        for (int64_t i = 0; i < n; i++)
            s += q[i];
    }
    return s;
}

/* The value from the block sum; sets the gradient scale for the reduction. */
static double fl_gscale(int reduction, double denom)
{
    if (reduction == FL_MEAN || reduction == FL_BATCHMEAN)
        return denom > 0.0 ? 1.0 / denom : 0.0;
    return 1.0;
}

/* A mean over nothing (zero total weight) is 0, unless the data held NaN or inf, whose
 * zero-weighted terms make the sum NaN: that propagates.  (The gradient, scaled by 0,
 * is 0 except where the per-element gradient is NaN or infinite.) */
static double fl_value(int reduction, double sum, double denom)
{
    if (reduction == FL_MEAN || reduction == FL_BATCHMEAN)
        return denom > 0.0 ? sum / denom : (sum == sum ? 0.0 : sum);
    return sum;
}

/* ------------------------------------------------------------ cross-entropy ---- */

/* The summed weight of the class-index targets t (n, s) that are not ignored: w[y] (1
 * without class weights) times the sample weight of their sample. */
static double fl_target_weight(int dsz, const int64_t *t, int64_t n, int64_t s, int64_t c,
                               int64_t ignore_index, const void *class_w, const void *sample_w)
{
    double denom = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double row = 0.0;
        for (int64_t j = 0; j < s; j++) {
            const int64_t y = t[i * s + j];
            if (y == ignore_index || y < 0 || y >= c)
                continue;
            row += class_w ? fl_load(dsz, class_w, y) : 1.0;
        }
        denom += sample_w ? row * fl_load(dsz, sample_w, i) : row;
    }
    return denom;
}

int fl_cross_entropy(int dsz, const fl_ce_args *in, double *value)
{
    if (dsz != 4 && dsz != 8)
        return FL_EDTYPE;
    fl_ce_args a = *in;
    if (a.s < 1)
        a.s = 1;
    a.class_w_sum = a.class_w ? fl_sum_array(dsz, a.class_w, a.c) : (double)a.c;
    a.pos_w = 0;
    /* mean: index targets divide by the summed weight w[y] * sw of the positions not
     * ignored (PyTorch's rule); probability targets by the summed weight of positions. */
    double denom = 0.0;
    if (a.reduction == FL_MEAN) {
        if (a.target)
            denom = fl_target_weight(dsz, a.target, a.n, a.s, a.c, a.ignore_index, a.class_w,
                                     a.sample_w);
        else
            denom = (a.sample_w ? fl_sum_array(dsz, a.sample_w, a.n) : (double)a.n) * (double)a.s;
    }
    const double gscale = fl_gscale(a.reduction, denom);
    /* blocks of rows (s == 1) or of positions (s > 1), about FL_BLOCK_ELEMS values each */
    int64_t blk = FL_BLOCK_ELEMS / (a.c > 0 ? a.c : 1);
    if (blk < 1)
        blk = 1;
    double sum;
    int rc = fl_run_blocks(fl_table()->ce[dsz == 8], &a, a.n * a.s, blk, a.n * a.c * a.s,
                           gscale, a.n_threads, &sum);
    if (rc != FL_OK)
        return rc;
    *value = fl_value(a.reduction, sum, denom);
    return FL_OK;
}

/* ----------------------------------------------------------- element-wise ------ */

/* sum_i sw_i sum_j w_ij over the (n, m) view, for each layout of w */
static double fl_ew_weight_total(int dsz, const fl_ew_args *a)
{
    const int64_t n = a->n, m = a->m;
    double total = 0.0;
    if (a->w_layout == FL_AUX_COL) {
        const double wsum = fl_sum_array(dsz, a->w, m);
        total = (a->sample_w ? fl_sum_array(dsz, a->sample_w, n) : (double)n) * wsum;
    } else {
        for (int64_t i = 0; i < n; i++) {
            const double row = a->w_layout == FL_AUX_ROW ? fl_load(dsz, a->w, i) * (double)m
                                                         : fl_sum_array(dsz, (const char *)a->w +
                                                                        (size_t)(i * m * dsz), m);
            total += a->sample_w ? row * fl_load(dsz, a->sample_w, i) : row;
        }
    }
    return total;
}

static int fl_ew_run(fl_block_fn fn, int dsz, const fl_ew_args *a, double *value)
{
    if (dsz != 4 && dsz != 8)
        return FL_EDTYPE;
    /* mean: the summed sample weight times the elements per sample (n * m unweighted);
     * element weights (PyTorch's `weight`) rescale terms but do not enter the divisor. */
    double denom = 0.0;
    if (a->reduction == FL_MEAN && a->w_denom && a->w) {
        denom = fl_ew_weight_total(dsz, a);
    } else if (a->reduction == FL_MEAN || a->reduction == FL_BATCHMEAN) {
        denom = a->sample_w ? fl_sum_array(dsz, a->sample_w, a->n) : (double)a->n;
        if (a->reduction == FL_MEAN)
            denom *= (double)a->m;
    }
    const double gscale = fl_gscale(a->reduction, denom);
    const int64_t total = a->n * a->m;
    double sum;
    int rc = fl_run_blocks(fn, a, total, FL_BLOCK_ELEMS, total, gscale, a->n_threads, &sum);
    if (rc != FL_OK)
        return rc;
    *value = fl_value(a->reduction, sum, denom);
    return FL_OK;
}

int fl_bce_with_logits(int dsz, const fl_ew_args *a, double *value)
{
    return fl_ew_run(fl_table()->bce[dsz == 8], dsz, a, value);
}

int fl_elementwise(int op, int dsz, const fl_ew_args *a, double *value)
{
    if (op < 0 || op >= FL_EW_COUNT)
        return FL_EDTYPE;
    return fl_ew_run(fl_table()->ew[op][dsz == 8], dsz, a, value);
}

int fl_rowwise(int op, int dsz, const fl_row_args *in, double *value)
{
    if (dsz != 4 && dsz != 8)
        return FL_EDTYPE;
    if (op < 0 || op >= FL_ROW_COUNT)
        return FL_EDTYPE;
    fl_row_args a = *in;
    if (a.s < 1)
        a.s = 1;
    a.class_w_sum = a.class_w ? fl_sum_array(dsz, a.class_w, a.c) : (double)a.c;
    double denom = 0.0;
    if (a.reduction == FL_MEAN) {
        if (a.denom == FL_DEN_ROWS || !a.target)
            denom = a.sample_w ? fl_sum_array(dsz, a.sample_w, a.n) : (double)a.n;
        else
            denom = fl_target_weight(dsz, a.target, a.n, a.s, a.c, a.ignore_index,
                                     a.denom == FL_DEN_CLASS_W ? a.class_w : 0, a.sample_w);
    }
    const double gscale = fl_gscale(a.reduction, denom);
    const int64_t row = a.c * a.s;
    int64_t blk = FL_BLOCK_ELEMS / (row > 0 ? row : 1);
    if (blk < 1)
        blk = 1;
    double sum;
    int rc = fl_run_blocks(fl_table()->row[op][dsz == 8], &a, a.n, blk, a.n * row, gscale,
                           a.n_threads, &sum);
    if (rc != FL_OK)
        return rc;
    *value = fl_value(a.reduction, sum, denom);
    return FL_OK;
}

#define FL_EW_OP(name) #name,
#define FL_ROW_OP(name)
static const char *const fl_ew_names[] = {
#include "ops.def"
    0};
#undef FL_EW_OP
#undef FL_ROW_OP
#define FL_EW_OP(name)
#define FL_ROW_OP(name) #name,
static const char *const fl_row_names[] = {
#include "ops.def"
    0};
#undef FL_EW_OP
#undef FL_ROW_OP

const char *fl_ew_op_name(int op) { return op >= 0 && op < FL_EW_COUNT ? fl_ew_names[op] : ""; }
const char *fl_row_op_name(int op) { return op >= 0 && op < FL_ROW_COUNT ? fl_row_names[op] : ""; }
int fl_ew_op_count(void) { return FL_EW_COUNT; }
int fl_row_op_count(void) { return FL_ROW_COUNT; }

int fl_math(int fn, int dsz, const void *x, void *y, int64_t n)
{
    if (dsz != 4 && dsz != 8)
        return FL_EDTYPE;
    fl_table()->math[dsz == 8](fn, x, y, n);
    return FL_OK;
}

/* --------------------------------------------------------------- validation ---- */

int64_t fl_find_bad_class_index(const int64_t *t, int64_t n, int64_t c, int64_t ignore_index)
{
    for (int64_t i = 0; i < n; i++) {
        const int64_t y = t[i];
        if (y != ignore_index && (y < 0 || y >= c))
            return i;
    }
    return -1;
}

#define FL_SCAN_BLOCK 4096

int64_t fl_find_outside(int dsz, const void *p, int64_t n, double lo, double hi, int open)
{
    if (open) {
        /* open ends: values equal to an end are outside too */
        for (int64_t i = 0; i < n; i++) {
            const double v = fl_load(dsz, p, i);
            if (v <= lo || v >= hi)
                return i;
        }
        return -1;
    }
    /* Count violations per block (a loop that vectorizes), locate only on a hit. */
    for (int64_t b = 0; b < n; b += FL_SCAN_BLOCK) {
        const int64_t e = b + FL_SCAN_BLOCK < n ? b + FL_SCAN_BLOCK : n;
        int64_t bad = 0;
        if (dsz == 4) {
            const float *q = (const float *)p;
            const float flo = (float)lo, fhi = (float)hi;
#pragma omp simd reduction(+ : bad)
            for (int64_t i = b; i < e; i++)
                bad += (q[i] < flo) | (q[i] > fhi);
        } else {
            const double *q = (const double *)p;
#pragma omp simd reduction(+ : bad)
            for (int64_t i = b; i < e; i++)
                bad += (q[i] < lo) | (q[i] > hi);
        }
        if (bad) {
            for (int64_t i = b; i < e; i++) {
                const double v = fl_load(dsz, p, i);
                if (v < lo || v > hi)
                    return i;
            }
        }
    }
    return -1;
}

int64_t fl_find_not_in(int dsz, const void *p, int64_t n, double a, double b)
{
    /* as fl_find_outside: count misses per block (vectorized), locate only on a hit */
    for (int64_t s = 0; s < n; s += FL_SCAN_BLOCK) {
        const int64_t e = s + FL_SCAN_BLOCK < n ? s + FL_SCAN_BLOCK : n;
        int64_t bad = 0;
        if (dsz == 4) {
            const float *q = (const float *)p;
            const float fa = (float)a, fb = (float)b;
#pragma omp simd reduction(+ : bad)
            for (int64_t i = s; i < e; i++)
                bad += !((q[i] == fa) | (q[i] == fb));
        } else {
            const double *q = (const double *)p;
#pragma omp simd reduction(+ : bad)
            for (int64_t i = s; i < e; i++)
                bad += !((q[i] == a) | (q[i] == b));
        }
        if (bad) {
            for (int64_t i = s; i < e; i++) {
                const double v = fl_load(dsz, p, i);
                if (!(v == a || v == b))
                    return i;
            }
        }
    }
    return -1;
}

/* ------------------------------------------------------- argmax counts ------ */

#define FL_AM_TILE 256                       /* rows per argmax call */

/* Rows [r0, r1) into the counts P (layout as fl_argmax_counts' out); `shared`: P is
 * shared between threads (the full matrix: atomic adds). */
static void fl_am_count(fl_argmax_fn am, const void *x, int64_t ld, int64_t r0, int64_t r1,
                        int64_t c, const int64_t *t, const double *w, int full, double *P,
                        int shared)
{
    int64_t idx[FL_AM_TILE];
    double *predn = P + (full ? c * c : 3 * c);
    for (int64_t i0 = r0; i0 < r1; i0 += FL_AM_TILE) {
        const int64_t i1 = i0 + FL_AM_TILE < r1 ? i0 + FL_AM_TILE : r1;
        am(x, ld, i0, i1, c, idx);
        for (int64_t i = i0; i < i1; i++) {
            const int64_t y = t[i], p = idx[i - i0];
            if (y < 0)
                continue;
            const double wi = w ? w[i] : 1.0;
            if (full && !w) {   /* int64 counts (see fl_argmax_counts) */
                int64_t *Q = (int64_t *)P;
                if (shared) {
#ifdef _OPENMP
#pragma omp atomic
#endif
                    Q[y * c + p] += 1;
#ifdef _OPENMP
#pragma omp atomic
#endif
                    Q[c * c + p] += 1;
                } else {
                    Q[y * c + p] += 1;
                    Q[c * c + p] += 1;
                }
                continue;
            }
            if (full && shared) {
#ifdef _OPENMP
#pragma omp atomic
#endif
                P[y * c + p] += wi;
#ifdef _OPENMP
#pragma omp atomic
#endif
                predn[p] += 1.0;
                continue;
            }
            if (full) {
                P[y * c + p] += wi;
            } else {
                P[y] += y == p ? wi : 0.0;
                P[c + p] += wi;
                P[2 * c + y] += wi;
            }
            predn[p] += 1.0;
        }
    }
}

int fl_argmax_counts(int dsz, const void *x, int64_t n, int64_t c, int64_t ld,
                     const int64_t *t, const double *w, int full, double *out, int n_threads)
{
    if (dsz != 4 && dsz != 8)
        return FL_EDTYPE;
    const int64_t K = full ? c * c + c : 4 * c;
    memset(out, 0, (size_t)K * sizeof(double));
    if (n <= 0 || c <= 0)
        return FL_OK;
    fl_argmax_fn am = fl_table()->argmax[dsz == 8];
    int nt = n_threads < 1 ? 1 : n_threads;
    if (n * c < FL_PAR_MIN_ELEMS)
        nt = 1;
    if ((int64_t)nt > n)
        nt = (int)n;
    /* the (c, c) matrix is counted in place by every thread (atomic adds: a partial
     * matrix per thread would cost more to allocate and add than the n adds); the
     * margins: thread 0 counts into out, thread k > 0 into its own partial (4 c values),
     * added in thread order */
    const int shared = nt > 1 && full;
    double *part = 0;
    if (nt > 1 && !full) {
        part = (double *)calloc((size_t)(nt - 1) * (size_t)K, sizeof(double));
        if (!part)
            return FL_ENOMEM;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
#ifdef _OPENMP
        const int k = omp_get_thread_num(), m = omp_get_num_threads();
#else
        const int k = 0, m = 1;
#endif
        double *P = (shared || k == 0) ? out : part + (int64_t)(k - 1) * K;
        fl_am_count(am, x, ld, n * k / m, n * (k + 1) / m, c, t, w, full, P, shared && m > 1);
    }
    if (!part)
        return FL_OK;
    for (int k = 1; k < nt; k++) {
        const double *pk = part + (int64_t)(k - 1) * K;
        for (int64_t j = 0; j < K; j++)
            out[j] += pk[j];
    }
    free(part);
    return FL_OK;
}

/* ---------------------------------------------------------- bandwidth probe ---- */

void fl_copy(void *dst, const void *src, int64_t n, int n_threads)
{
    const int64_t chunk = 1 << 20;
    const int64_t nc = (n + chunk - 1) / chunk;
    int nt = n_threads < 1 ? 1 : n_threads;
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (int64_t c = 0; c < nc; c++) {
        const int64_t b = c * chunk, len = (b + chunk < n ? chunk : n - b);
        memcpy((char *)dst + b, (const char *)src + b, (size_t)len);
    }
}
