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
 *            that total is 0);
 *   FL_BATCHMEAN (element-wise losses): the sum over the summed sample weight (n
 *            unweighted), as PyTorch's kl_div "batchmean".
 * Sums run in double over fixed blocks combined in a fixed order, so the value is
 * bitwise the same for any thread count.
 */
#ifndef FASTLOSS_H
#define FASTLOSS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { FL_NONE = 0, FL_SUM = 1, FL_MEAN = 2, FL_BATCHMEAN = 3 };
enum { FL_ISA_BASELINE = 0, FL_ISA_AVX2 = 1, FL_ISA_AVX512 = 2 };
enum { FL_OK = 0, FL_ENOMEM = -1, FL_EDTYPE = -2 };

/* How an auxiliary weight array lines up with the (n, m) view of the input. */
enum { FL_AUX_NONE = 0, FL_AUX_FULL = 1 /* n*m */, FL_AUX_COL = 2 /* m, every row */,
       FL_AUX_ROW = 3 /* n, one per row */ };

/* Softmax cross-entropy over x (n, c, s): n samples, c classes, s positions per sample
 * (s = 1 for (N, C) input; the product d1...dk for (N, C, d1, ..., dk)).  With `nll`
 * set, x holds log-probabilities and the loss is nll_loss's -w_y x_y. */
typedef struct {
    int64_t n, c, s;
    const void *x;            /* (n, c, s) logits */
    const int64_t *target;    /* (n, s) class indices, or NULL when `soft` is given */
    const void *soft;         /* (n, c) class probabilities (s == 1 only), or NULL */
    const void *class_w;      /* (c) class weights, or NULL */
    const void *sample_w;     /* (n) sample weights, or NULL */
    int64_t ignore_index;
    double label_smoothing;
    double z_loss;            /* adds z_loss * lse^2 per position (0 for none) */
    int nll;                  /* 1: nll_loss on log-probabilities */
    int reduction;
    void *loss_out;           /* (n, s) when reduction == FL_NONE, else NULL */
    void *grad;               /* (n, c, s) or NULL for the value only; may equal x */
    uint8_t *correct;         /* (n, s) or NULL: 1 where the position's argmax (ties to the
                                 lowest class, a NaN anywhere counts as wrong) is its
                                 target class, else 0 (ignored positions: 0); index targets
                                 of cross-entropy only (not nll) */
    int n_threads;
    double class_w_sum;       /* filled by the driver */
    const void *pos_w;        /* internal (set by the kernels): per-position sample weights */
} fl_ce_args;

/* Element-wise losses over the input seen as (n, m): n samples of m elements. */
typedef struct {
    int64_t n, m;
    const void *x;            /* (n, m) */
    const void *t;            /* (n, m), or NULL for losses without a target */
    const void *y;            /* (n, m) second input (var, input2), or NULL */
    const void *w;            /* element weight laid out as w_layout, or NULL */
    int w_layout;
    const void *pw;           /* positive-class weight laid out as pw_layout, or NULL */
    int pw_layout;
    const void *sample_w;     /* (n) or NULL */
    int w_denom;              /* 1: "mean" divides by the summed element weight (times
                                 the sample weight), as PyTorch's mse/l1/huber `weight` */
    double p[4];              /* the loss's parameters (generic ops) */
    int reduction;
    void *loss_out;           /* (n, m) when reduction == FL_NONE, else NULL */
    void *grad;               /* (n, m) or NULL; may equal x */
    void *grad2;              /* (n, m) gradient for y, or NULL; given with grad */
    void *grad3;              /* (n, m) gradient for t (ops differentiable in their
                                 target), or NULL; given with grad */
    int n_threads;
} fl_ew_args;

/* Row-wise losses over x (n, c, s): each sample i is one row of c * s elements (s = 1
 * unless the loss has positions), computed by one call of the op's row function. */
typedef struct {
    int64_t n, c, s;
    const void *x;            /* (n, c, s) */
    const void *x2, *x3;      /* (n, c, s) further inputs, or NULL */
    const int64_t *target;    /* (n, s) class indices, or NULL */
    const void *t;            /* (n, c, s) real targets, or NULL */
    const void *rt;           /* (n) one real target per row, or NULL */
    const void *class_w;      /* (c) class weights, or NULL */
    const void *sample_w;     /* (n) or NULL */
    double p[4];              /* the loss's parameters */
    int64_t ignore_index;
    int denom;                /* what "mean" divides by: FL_DEN_* */
    int reduction;            /* FL_NONE, FL_SUM or FL_MEAN */
    void *loss_out;           /* (n) when reduction == FL_NONE, else NULL */
    void *grad, *grad2, *grad3; /* (n, c, s) for x, x2, x3, or NULL; given together */
    int n_threads;
    double class_w_sum;       /* filled by the driver */
} fl_row_args;

/* The divisor of "mean" for row-wise losses (times the sample weight where given):
 * ROWS: every row; VALID: every target position not equal to ignore_index;
 * CLASS_W: the class weight w[y] of every such position (cross-entropy's rule). */
enum { FL_DEN_ROWS = 0, FL_DEN_VALID = 1, FL_DEN_CLASS_W = 2 };

/* The generic ops, one enum per kind, listed in ops.def. */
#define FL_EW_OP(name) FL_EW_##name,
#define FL_ROW_OP(name)
enum {
#include "ops.def"
    FL_EW_COUNT
};
#undef FL_EW_OP
#undef FL_ROW_OP
#define FL_EW_OP(name)
#define FL_ROW_OP(name) FL_ROW_##name,
enum {
#include "ops.def"
    FL_ROW_COUNT
};
#undef FL_EW_OP
#undef FL_ROW_OP

int fl_elementwise(int op, int dtype_size, const fl_ew_args *a, double *value);
int fl_rowwise(int op, int dtype_size, const fl_row_args *a, double *value);
/* The ops' names (as in ops.def) and counts, for the binding. */
const char *fl_ew_op_name(int op);
const char *fl_row_op_name(int op);
int fl_ew_op_count(void);
int fl_row_op_count(void);

int fl_cross_entropy(int dtype_size, const fl_ce_args *a, double *value);
int fl_bce_with_logits(int dtype_size, const fl_ew_args *a, double *value);

/* First position i with t[i] != ignore_index and t[i] outside [0, c), or -1. */
int64_t fl_find_bad_class_index(const int64_t *t, int64_t n, int64_t c, int64_t ignore_index);
/* First position i with p[i] < lo or p[i] > hi (NaN passes), or -1; with `open` set,
 * also p[i] == lo or p[i] == hi. */
int64_t fl_find_outside(int dtype_size, const void *p, int64_t n, double lo, double hi, int open);
/* First position i with p[i] neither a nor b (NaN included), or -1. */
int64_t fl_find_not_in(int dtype_size, const void *p, int64_t n, double a, double b);

/* Per-class counts of the row argmax of scores x (n rows of c values, row stride ld
 * elements; ties to the lowest index, the first NaN wins, as np.argmax) against the class
 * t[i] of each row (rows with t[i] < 0 are skipped), each row weighted by w[i] (NULL:
 * 1).  full: out = the (c, c) matrix [true, predicted] then the c unweighted predicted
 * counts; else out = diagonal, predicted, true (weighted, c each) then the c unweighted
 * predicted counts, as int64 (out's memory reinterpreted) when full and w is NULL, else
 * as doubles.  Margins: per-thread partial counts added in thread order; the full
 * matrix: counted in place with atomic adds.  Unweighted counts are exact; weighted sums
 * round in an order that depends on the threads. */
int fl_argmax_counts(int dtype_size, const void *x, int64_t n, int64_t c, int64_t ld,
                     const int64_t *t, const double *w, int full, double *out, int n_threads);

/* Memory bandwidth probe: copy n bytes from src to dst with n_threads threads. */
void fl_copy(void *dst, const void *src, int64_t n, int n_threads);

/* Elementary functions of fl_math.h, applied with the active instruction set. */
enum { FL_FN_EXP = 0, FL_FN_LOG = 1, FL_FN_LOG1P = 2, FL_FN_SOFTPLUS = 3, FL_FN_SIGMOID = 4,
       FL_FN_EXP_NONPOS = 5 };
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
