/* ops_regression.h: this group's kernels, included per type and instruction set by
 * kernels_body.h (see FL_EW_DEFINE and FL_ROW_DEFINE there). */

/* l1_loss: l = |x - t|, dl = sign(x - t) (0 at 0, NaN for NaN, as torch.sign). */
FL_ALWAYS_INLINE void FN(l1_loss_elem)(REAL x, REAL t, REAL y, REAL p0, REAL p1, REAL p2,
                                       REAL p3, REAL *l, REAL *d, REAL *dy)
{
    (void)y, (void)p0, (void)p1, (void)p2, (void)p3, (void)dy;
    const REAL r = x - t;
    *l = r < 0 ? -r : r;
    *d = r > 0 ? (REAL)1 : (r < 0 ? (REAL)-1 : r * 0);   /* r * 0: 0, or NaN for NaN */
}
FL_EW_DEFINE(l1_loss, 1, 0, 1)
