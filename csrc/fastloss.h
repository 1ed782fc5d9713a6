/* fastloss.h: the C kernels' interface.
 *
 * The kernels know nothing of Python: they take raw pointers to C-contiguous arrays of
 * one floating type (float or double, chosen by `dtype_size`, 4 or 8), which the Python
 * layer has validated (shapes, dtypes, class indices, weights).  They never read outside
 * the arrays they are given, even when a class index is bad: such a row counts as ignored.
 *
 * Reductions.  Every entry point computes the loss value for `reduction`:
 *   FL_NONE: per-sample values into `loss_out`, the gradient of their sum into `grad`;
 *   FL_SUM:  the sum;
 *   FL_MEAN: the sum over the total weight that applies (0.0 and a zero gradient when
 *            that total is 0).
 * Sums run in double over fixed blocks combined in a fixed order, so the value is
 * bitwise the same for any thread count.
 */
#ifndef FASTLOSS_H
#define FASTLOSS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { FL_NONE = 0, FL_SUM = 1, FL_MEAN = 2 };
enum { FL_ISA_BASELINE = 0, FL_ISA_AVX2 = 1, FL_ISA_AVX512 = 2 };
enum { FL_OK = 0, FL_ENOMEM = -1, FL_EDTYPE = -2 };

/* How an auxiliary weight array lines up with the (n, m) view of the input. */
enum { FL_AUX_NONE = 0, FL_AUX_FULL = 1 /* n*m */, FL_AUX_COL = 2 /* m, every row */,
       FL_AUX_ROW = 3 /* n, one per row */ };

/* Softmax cross-entropy over rows of x (n, c). */
typedef struct {
    int64_t n, c;
    const void *x;            /* (n, c) logits */
    const int64_t *target;    /* (n) class indices, or NULL when `soft` is given */
    const void *soft;         /* (n, c) class probabilities, or NULL */
    const void *class_w;      /* (c) class weights, or NULL */
    const void *sample_w;     /* (n) sample weights, or NULL */
    int64_t ignore_index;
    double label_smoothing;
    int reduction;
    void *loss_out;           /* (n) when reduction == FL_NONE, else NULL */
    void *grad;               /* (n, c) or NULL for the value only; may equal x */
    int n_threads;
    double class_w_sum;       /* filled by the driver */
} fl_ce_args;

/* Element-wise losses over the input seen as (n, m): n samples of m elements. */
typedef struct {
    int64_t n, m;
    const void *x;            /* (n, m) */
    const void *t;            /* (n, m) */
    const void *w;            /* element weight laid out as w_layout, or NULL */
    int w_layout;
    const void *pw;           /* positive-class weight laid out as pw_layout, or NULL */
    int pw_layout;
    const void *sample_w;     /* (n) or NULL */
    int reduction;
    void *loss_out;           /* (n, m) when reduction == FL_NONE, else NULL */
    void *grad;               /* (n, m) or NULL; may equal x */
    int n_threads;
} fl_ew_args;

int fl_cross_entropy(int dtype_size, const fl_ce_args *a, double *value);
int fl_bce_with_logits(int dtype_size, const fl_ew_args *a, double *value);
int fl_mse(int dtype_size, const fl_ew_args *a, double *value);

/* First position i with t[i] != ignore_index and t[i] outside [0, c), or -1. */
int64_t fl_find_bad_class_index(const int64_t *t, int64_t n, int64_t c, int64_t ignore_index);
/* First position i with p[i] < lo or p[i] > hi (NaN passes), or -1. */
int64_t fl_find_outside(int dtype_size, const void *p, int64_t n, double lo, double hi);

/* Memory bandwidth probe: copy n bytes from src to dst with n_threads threads. */
void fl_copy(void *dst, const void *src, int64_t n, int n_threads);

/* Elementary functions of fl_math.h, applied with the active instruction set. */
enum { FL_FN_EXP = 0, FL_FN_LOG = 1, FL_FN_LOG1P = 2, FL_FN_SOFTPLUS = 3, FL_FN_SIGMOID = 4 };
int fl_math(int fn, int dtype_size, const void *x, void *y, int64_t n);

/* Instruction-set level: the best the CPU supports, the one in use, forcing one. */
int fl_isa_supported(int isa);
int fl_isa_active(void);
int fl_set_isa(int isa);         /* 0 on success, -1 when the CPU lacks it */
const char *fl_isa_name(int isa);

int fl_openmp_enabled(void);
int fl_max_threads(void);

#ifdef __cplusplus
}
#endif
#endif /* FASTLOSS_H */
