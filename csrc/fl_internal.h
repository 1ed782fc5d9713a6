/* fl_internal.h: what the driver and the per-ISA kernel files share. */
#ifndef FL_INTERNAL_H
#define FL_INTERNAL_H

#include <stdint.h>
#include "fastloss.h"

/* A block function computes a contiguous range [b0, b1) of work (rows for the row-wise
 * losses, flat elements for the element-wise ones), writes its gradient scaled by
 * `gscale` and its per-sample values, and returns its weighted loss sum. */
typedef double (*fl_block_fn)(const void *args, int64_t b0, int64_t b1, double gscale);

/* Apply an elementary function of fl_math.h to n values (tests and accuracy checks). */
typedef void (*fl_math_fn)(int fn, const void *x, void *y, int64_t n);

/* Row argmax of rows [r0, r1) of x (row stride ld elements, c columns) into idx[0..r1-r0). */
typedef void (*fl_argmax_fn)(const void *x, int64_t ld, int64_t r0, int64_t r1, int64_t c,
                             int64_t *idx);

typedef struct {
    fl_math_fn math[2];
    fl_block_fn ce[2];    /* [0] float, [1] double */
    fl_block_fn bce[2];
    fl_block_fn ew[FL_EW_COUNT + 1][2];    /* the generic ops of ops.def */
    fl_block_fn row[FL_ROW_COUNT + 1][2];
    fl_argmax_fn argmax[2];
} fl_isa_table;

extern const fl_isa_table fl_table_baseline;
extern const fl_isa_table fl_table_avx2;
extern const fl_isa_table fl_table_avx512;

#endif
