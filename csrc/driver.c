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
    if (reduction == FL_MEAN)
        return denom > 0.0 ? 1.0 / denom : 0.0;
    return 1.0;
}

/* A mean over nothing (zero total weight) is 0, unless the data held NaN or inf, whose
 * zero-weighted terms make the sum NaN: that propagates.  (The gradient, scaled by 0,
 * is 0 except where the per-element gradient is NaN or infinite.) */
static double fl_value(int reduction, double sum, double denom)
{
    if (reduction == FL_MEAN)
        return denom > 0.0 ? sum / denom : (sum == sum ? 0.0 : sum);
    return sum;
}

/* ------------------------------------------------------------ cross-entropy ---- */

int fl_cross_entropy(int dsz, const fl_ce_args *in, double *value)
{
    if (dsz != 4 && dsz != 8)
        return FL_EDTYPE;
    fl_ce_args a = *in;
    a.class_w_sum = a.class_w ? fl_sum_array(dsz, a.class_w, a.c) : (double)a.c;
    /* mean: index targets divide by the summed weight w[y] * sw of the rows not ignored
     * (PyTorch's rule); probability targets by the number (summed weight) of rows. */
    double denom = 0.0;
    if (a.reduction == FL_MEAN) {
        if (a.target) {
            for (int64_t i = 0; i < a.n; i++) {
                const int64_t y = a.target[i];
                if (y == a.ignore_index || y < 0 || y >= a.c)
                    continue;
                double w = a.class_w ? fl_load(dsz, a.class_w, y) : 1.0;
                if (a.sample_w)
                    w *= fl_load(dsz, a.sample_w, i);
                denom += w;
            }
        } else {
            denom = a.sample_w ? fl_sum_array(dsz, a.sample_w, a.n) : (double)a.n;
        }
    }
    const double gscale = fl_gscale(a.reduction, denom);
    int64_t blk = FL_BLOCK_ELEMS / (a.c > 0 ? a.c : 1);
    if (blk < 1)
        blk = 1;
    double sum;
    int rc = fl_run_blocks(fl_table()->ce[dsz == 8], &a, a.n, blk, a.n * a.c, gscale,
                           a.n_threads, &sum);
    if (rc != FL_OK)
        return rc;
    *value = fl_value(a.reduction, sum, denom);
    return FL_OK;
}

/* ----------------------------------------------------------- element-wise ------ */

static int fl_ew_run(fl_block_fn fn, int dsz, const fl_ew_args *a, double *value)
{
    if (dsz != 4 && dsz != 8)
        return FL_EDTYPE;
    /* mean: the summed sample weight times the elements per sample (n * m unweighted);
     * element weights (PyTorch's `weight`) rescale terms but do not enter the divisor. */
    double denom = 0.0;
    if (a->reduction == FL_MEAN)
        denom = (a->sample_w ? fl_sum_array(dsz, a->sample_w, a->n) : (double)a->n) * (double)a->m;
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

int fl_mse(int dsz, const fl_ew_args *a, double *value)
{
    return fl_ew_run(fl_table()->mse[dsz == 8], dsz, a, value);
}

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

int64_t fl_find_outside(int dsz, const void *p, int64_t n, double lo, double hi)
{
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
