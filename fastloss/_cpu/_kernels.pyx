# cython: language_level=3
"""Binding of the C kernels in csrc/.

It knows nothing of option parsing: the API layer hands it C-contiguous float32 or
float64 arrays of matching dtype, int64 class targets, and integer codes, all validated.
The one exception are the fast paths of cross_entropy and nll_loss (the loss table's
`fast` entries): given the checked options, they check the arrays of the common case
themselves and decline (return None) anything else, which the general path then takes.
Pointers are taken with the NumPy C API (a typed memoryview would cost a buffer
acquisition per argument per call, which dominates small calls); each call still checks
the dtype and contiguity it relies on, so a misuse raises instead of reading bad memory.
The GIL is released while a kernel runs.
"""
from libc.string cimport memset
from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t,
                          uint64_t, INT64_MAX)
cimport numpy as cnp
import numpy as np

cnp.import_array()

cdef extern from "fastloss.h" nogil:
    ctypedef struct fl_ce_args:
        int64_t n, c, s
        const void *x
        const int64_t *target
        const void *soft
        const void *class_w
        const void *sample_w
        int64_t ignore_index
        double label_smoothing
        double z_loss
        int nll
        int reduction
        void *loss_out
        void *grad
        uint8_t *correct
        int n_threads
        double class_w_sum

    ctypedef struct fl_ew_args:
        int64_t n, m
        const void *x
        const void *t
        const void *y
        const void *w
        int w_layout
        const void *pw
        int pw_layout
        const void *sample_w
        int w_denom
        double p[4]
        int reduction
        void *loss_out
        void *grad
        void *grad2
        void *grad3
        int n_threads

    ctypedef struct fl_row_args:
        int64_t n, c, s
        const void *x
        const void *x2
        const void *x3
        const int64_t *target
        const void *t
        const void *rt
        const void *class_w
        const void *sample_w
        double p[4]
        int64_t ignore_index
        int denom
        int reduction
        void *loss_out
        void *grad
        void *grad2
        void *grad3
        int n_threads
        double class_w_sum

    int fl_cross_entropy(int dtype_size, const fl_ce_args *a, double *value)
    int fl_bce_with_logits(int dtype_size, const fl_ew_args *a, double *value)
    int64_t fl_find_bad_class_index(const int64_t *t, int64_t n, int64_t c, int64_t ignore_index)
    int fl_elementwise(int op, int dtype_size, const fl_ew_args *a, double *value)
    int fl_rowwise(int op, int dtype_size, const fl_row_args *a, double *value)
    const char *fl_ew_op_name(int op)
    const char *fl_row_op_name(int op)
    int fl_ew_op_count()
    int fl_row_op_count()
    int64_t fl_find_outside(int dtype_size, const void *p, int64_t n, double lo, double hi, int open)
    int64_t fl_find_not_in(int dtype_size, const void *p, int64_t n, double a, double b)
    int fl_math(int fn, int dtype_size, const void *x, void *y, int64_t n)
    void fl_copy(void *dst, const void *src, int64_t n, int n_threads)
    int fl_argmax_counts(int dtype_size, const void *x, int64_t n, int64_t c, int64_t ld,
                         const int64_t *t, const double *w, int full, double *out,
                         int n_threads)
    int fl_isa_supported(int isa)
    int fl_isa_active()
    int fl_set_isa(int isa)
    const char *fl_isa_name(int isa)
    int fl_openmp_enabled()
    int fl_max_threads()

ISA_LEVELS = ("baseline", "avx2", "avx512")
# the generic ops of csrc/ops.def, name -> op code
EW_OPS = {fl_ew_op_name(i).decode(): i for i in range(fl_ew_op_count())}
# ops differentiable in their target (FL_EW_DEFINE's HT = 2): they write grad3 with grad
EW_T_GRAD = frozenset(EW_OPS[name] for name in ("robust_loss",))
ROW_OPS = {fl_row_op_name(i).decode(): i for i in range(fl_row_op_count())}


cdef inline void _check(object a, int typenum, str what) except *:
    if not cnp.PyArray_Check(a):
        raise TypeError(f"internal: {what} must be a NumPy array")
    if not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a) or cnp.PyArray_TYPE(<cnp.ndarray>a) != typenum:
        raise ValueError(f"internal: {what} must be C-contiguous with the kernel's dtype")


cdef inline const void *_in(object a, int typenum, str what) except? NULL:
    if a is None:
        return NULL
    _check(a, typenum, what)
    return cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline void *_out(object a, int typenum, str what, int64_t size) except? NULL:
    if a is None:
        return NULL
    _check(a, typenum, what)
    if cnp.PyArray_SIZE(<cnp.ndarray>a) != size:
        raise ValueError(f"internal: {what} must have {size} elements")
    if not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a):
        raise ValueError(f"internal: {what} must be writable")
    return cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline const int64_t *_targets(object target, int64_t size) except? NULL:
    """Class indices: int64, C-contiguous, exactly `size` of them (or None -> NULL)."""
    if target is None:
        return NULL
    _check(target, cnp.NPY_INT64, "target")
    if cnp.PyArray_SIZE(<cnp.ndarray>target) != size:
        raise ValueError(f"internal: target must be int64 of length {size}")
    return <const int64_t *>cnp.PyArray_DATA(<cnp.ndarray>target)


cdef inline int _dsz(cnp.ndarray x) except -1:
    cdef int t = cnp.PyArray_TYPE(x)
    if t == cnp.NPY_FLOAT32:
        return 4
    if t == cnp.NPY_FLOAT64:
        return 8
    raise TypeError("internal: kernels take float32 or float64")


cdef inline double _done(int rc, double value) except? -1.0:
    if rc == -1:
        raise MemoryError("fastloss: out of memory in a kernel")
    if rc != 0:
        raise RuntimeError(f"fastloss: kernel error {rc}")
    return value


cdef inline double _ce_run(int dsz, fl_ce_args *a) except? -1.0:
    cdef double value = 0.0
    cdef int rc
    with nogil:
        rc = fl_cross_entropy(dsz, a, &value)
    return _done(rc, value)


def cross_entropy(cnp.ndarray x not None, object target, object soft, object class_w, object sample_w,
                  int64_t ignore_index, double label_smoothing, int reduction,
                  object loss_out, object grad, int n_threads, int64_t s=1, double z_loss=0.0,
                  bint nll=False, object correct=None):
    """x (n, c * s); target (n * s,) int64 or None; soft x's size or None; correct None or
    a C-contiguous uint8 (n * s,) array (index targets, not nll). Returns the value."""
    cdef int dsz = _dsz(x)
    cdef int tn = cnp.PyArray_TYPE(x)
    cdef fl_ce_args a
    memset(&a, 0, sizeof(a))   # fields not set below are 0 / NULL
    if cnp.PyArray_NDIM(x) != 2 or s < 1 or cnp.PyArray_DIM(x, 1) % s != 0:
        raise ValueError("internal: x must be 2-D (n, c * s)")
    a.n = cnp.PyArray_DIM(x, 0)
    a.s = s
    a.c = cnp.PyArray_DIM(x, 1) // s
    a.x = _in(x, tn, "x")
    a.target = _targets(target, a.n * s)
    if target is None:
        if nll:
            raise ValueError("internal: nll needs class indices")
        if soft is None:
            raise ValueError("internal: cross_entropy needs target or soft")
    if soft is not None:
        if target is not None:
            raise ValueError("internal: target and soft are exclusive")
        _check(soft, tn, "soft")
        if cnp.PyArray_SIZE(<cnp.ndarray>soft) != a.n * a.c * s:
            raise ValueError("internal: soft target must have the input's size")
    a.soft = _in(soft, tn, "soft")
    a.class_w = _in(class_w, tn, "class_w")
    a.sample_w = _in(sample_w, tn, "sample_w")
    a.ignore_index = ignore_index
    a.label_smoothing = label_smoothing
    a.z_loss = z_loss
    a.nll = nll
    a.reduction = reduction
    if class_w is not None and cnp.PyArray_SIZE(<cnp.ndarray>class_w) != a.c:
        raise ValueError("internal: class_w must have c elements")
    if sample_w is not None and cnp.PyArray_SIZE(<cnp.ndarray>sample_w) != a.n:
        raise ValueError("internal: sample_w must have n elements")
    a.loss_out = _out(loss_out, tn, "loss_out", a.n * s)
    a.grad = _out(grad, tn, "grad", a.n * a.c * s)
    if correct is not None:
        if target is None or nll:
            raise ValueError("internal: correct needs cross-entropy with class indices")
        a.correct = <uint8_t *>_out(correct, cnp.NPY_UINT8, "correct", a.n * s)
    a.n_threads = n_threads
    a.class_w_sum = 0.0
    return _ce_run(dsz, &a)


# ------------------------------------------------------------------------------------
# The common case whole: cross_entropy / nll_loss of a C-contiguous (N, C) float array
# with one integer class index per row, no weights.  The API layer has checked the
# scalar options; these check the arrays and run the kernel, or return None to decline
# anything else (another layout or dtype, an index out of range, an out= that the
# general path would reject), which then takes the general path and its errors.

ctypedef fused _narrow_index:
    int8_t
    int16_t
    int32_t
    uint8_t
    uint16_t
    uint32_t
    uint64_t


cdef bint _widen(const _narrow_index *src, int64_t *dst, int64_t n) noexcept nogil:
    """Class indices into int64; False at an index that int64 cannot hold."""
    cdef int64_t i
    for i in range(n):
        if _narrow_index is uint64_t:
            if src[i] > <uint64_t>INT64_MAX:
                return False
        dst[i] = <int64_t>src[i]
    return True


cdef object _int64_rows(cnp.ndarray t, cnp.npy_intp n):
    """One integer class index per row as a C-contiguous int64 array (t itself when it
    is one), or None when t is not n native integers in a C-contiguous vector."""
    if cnp.PyArray_NDIM(t) != 1 or cnp.PyArray_DIM(t, 0) != n \
            or not cnp.PyArray_ISCARRAY_RO(t) or not cnp.PyArray_ISNOTSWAPPED(t):
        return None
    cdef bint signed = cnp.PyArray_ISSIGNED(t)
    if not signed and not cnp.PyArray_ISUNSIGNED(t):
        return None
    cdef cnp.npy_intp size = cnp.PyArray_ITEMSIZE(t)
    if signed and size == 8:
        return t
    cdef cnp.ndarray t64 = cnp.PyArray_EMPTY(1, &n, cnp.NPY_INT64, 0)
    cdef int64_t *dst = <int64_t *>cnp.PyArray_DATA(t64)
    cdef const void *src = cnp.PyArray_DATA(t)
    cdef bint ok
    if signed:
        if size == 1:
            ok = _widen(<const int8_t *>src, dst, n)
        elif size == 2:
            ok = _widen(<const int16_t *>src, dst, n)
        else:
            ok = size == 4 and _widen(<const int32_t *>src, dst, n)
    elif size == 1:
        ok = _widen(<const uint8_t *>src, dst, n)
    elif size == 2:
        ok = _widen(<const uint16_t *>src, dst, n)
    elif size == 4:
        ok = _widen(<const uint32_t *>src, dst, n)
    else:
        ok = size == 8 and _widen(<const uint64_t *>src, dst, n)
    return t64 if ok else None


cdef inline bint _disjoint(cnp.ndarray a, cnp.ndarray b):
    """Whether two C-contiguous arrays share no byte."""
    cdef char *pa = <char *>cnp.PyArray_DATA(a)
    cdef char *pb = <char *>cnp.PyArray_DATA(b)
    return pa + cnp.PyArray_NBYTES(a) <= pb or pb + cnp.PyArray_NBYTES(b) <= pa


cdef object _grad_out(object out, cnp.ndarray x, cnp.ndarray t64):
    """out= as the general path accepts it for a gradient of x: x's shape and dtype,
    C-contiguous, writable, x itself (or x's memory exactly) or disjoint from x, and
    disjoint from the targets; None otherwise."""
    if not cnp.PyArray_Check(out):
        return None
    cdef cnp.ndarray o = <cnp.ndarray>out
    if cnp.PyArray_NDIM(o) != 2 or cnp.PyArray_DIM(o, 0) != cnp.PyArray_DIM(x, 0) \
            or cnp.PyArray_DIM(o, 1) != cnp.PyArray_DIM(x, 1) \
            or cnp.PyArray_TYPE(o) != cnp.PyArray_TYPE(x) or not cnp.PyArray_ISNOTSWAPPED(o) \
            or not cnp.PyArray_ISCARRAY(o):
        return None
    if o is not x and not _disjoint(o, x) and not (
            cnp.PyArray_DATA(o) == cnp.PyArray_DATA(x)
            and cnp.PyArray_NBYTES(o) == cnp.PyArray_NBYTES(x)):
        return None
    if not _disjoint(o, t64):
        return None
    return o


cdef object _class_index_fast(int mode, object out, object input, object target,
                              object weight, int64_t ignore_index, double label_smoothing,
                              double z_loss, object sample_weight, int reduction,
                              int n_threads, bint nll):
    if weight is not None or sample_weight is not None or reduction > 2 \
            or not cnp.PyArray_CheckExact(input) or not cnp.PyArray_CheckExact(target):
        return None
    cdef cnp.ndarray x = <cnp.ndarray>input
    cdef int tn = cnp.PyArray_TYPE(x)
    if (tn != cnp.NPY_FLOAT32 and tn != cnp.NPY_FLOAT64) or cnp.PyArray_NDIM(x) != 2 \
            or not cnp.PyArray_ISCARRAY_RO(x) or not cnp.PyArray_ISNOTSWAPPED(x):
        return None
    cdef cnp.npy_intp n = cnp.PyArray_DIM(x, 0)
    cdef cnp.npy_intp c = cnp.PyArray_DIM(x, 1)
    if n < 1 or c < 1:
        return None
    t64 = _int64_rows(<cnp.ndarray>target, n)
    if t64 is None:
        return None
    cdef const int64_t *tp = <const int64_t *>cnp.PyArray_DATA(<cnp.ndarray>t64)
    if fl_find_bad_class_index(tp, n, c, ignore_index) >= 0:
        return None
    grad = None
    if mode != 0:
        if out is None:
            grad = cnp.PyArray_EMPTY(2, cnp.PyArray_DIMS(x), tn, 0)
        else:
            grad = _grad_out(out, x, <cnp.ndarray>t64)
            if grad is None:
                return None
    loss_out = cnp.PyArray_EMPTY(1, &n, tn, 0) if reduction == 0 else None
    cdef fl_ce_args a
    memset(&a, 0, sizeof(a))   # fields not set below are 0 / NULL
    a.n = n
    a.c = c
    a.s = 1
    a.x = cnp.PyArray_DATA(x)
    a.target = tp                # no soft targets, class or sample weights: NULL
    a.ignore_index = ignore_index
    a.label_smoothing = label_smoothing
    a.z_loss = z_loss
    a.nll = nll
    a.reduction = reduction
    a.loss_out = NULL if loss_out is None else cnp.PyArray_DATA(<cnp.ndarray>loss_out)
    a.grad = NULL if grad is None else cnp.PyArray_DATA(<cnp.ndarray>grad)
    a.n_threads = n_threads
    cdef double v = _ce_run(4 if tn == cnp.NPY_FLOAT32 else 8, &a)
    cdef float f
    if loss_out is not None:
        value = loss_out
    elif tn == cnp.NPY_FLOAT32:
        f = <float>v
        value = cnp.PyArray_ToScalar(&f, x)
    else:
        value = cnp.PyArray_ToScalar(&v, x)
    if mode == 0:
        return value
    return grad if mode == 2 else (value, grad)


def cross_entropy_fast(int mode, object out, object input, object target, object weight,
                       int64_t ignore_index, double label_smoothing, double z_loss,
                       object sample_weight, int reduction, int n_threads):
    """cross_entropy's common case (see above): the result, or None to decline."""
    return _class_index_fast(mode, out, input, target, weight, ignore_index, label_smoothing,
                             z_loss, sample_weight, reduction, n_threads, False)


def nll_loss_fast(int mode, object out, object input, object target, object weight,
                  int64_t ignore_index, object sample_weight, int reduction, int n_threads):
    """nll_loss's common case (see above): the result, or None to decline."""
    return _class_index_fast(mode, out, input, target, weight, ignore_index, 0.0, 0.0,
                             sample_weight, reduction, n_threads, True)


cdef inline void _aux_size(object w, int layout, int64_t n, int64_t m) except *:
    if w is None:
        return
    cdef int64_t want = n * m if layout == 1 else (m if layout == 2 else (n if layout == 3 else -1))
    if cnp.PyArray_SIZE(<cnp.ndarray>w) != want:
        raise ValueError("internal: weight size does not match its layout")


cdef double _bce(cnp.ndarray x, cnp.ndarray t, object w, int w_layout,
                         object pw, int pw_layout, object sample_w, int reduction,
                         object loss_out, object grad, int n_threads) except? -1.0:
    cdef int dsz = _dsz(x)
    cdef int tn = cnp.PyArray_TYPE(x)
    cdef fl_ew_args a
    memset(&a, 0, sizeof(a))   # fields not set below are 0 / NULL
    cdef double value = 0.0
    cdef int rc
    if cnp.PyArray_NDIM(x) != 2 or cnp.PyArray_SIZE(t) != cnp.PyArray_SIZE(x):
        raise ValueError("internal: x must be 2-D and t of the same size")
    a.n = cnp.PyArray_DIM(x, 0)
    a.m = cnp.PyArray_DIM(x, 1)
    a.x = _in(x, tn, "x")
    a.t = _in(t, tn, "t")
    a.w = _in(w, tn, "w")
    a.w_layout = w_layout if w is not None else 0
    a.pw = _in(pw, tn, "pw")
    a.pw_layout = pw_layout if pw is not None else 0
    a.sample_w = _in(sample_w, tn, "sample_w")
    a.reduction = reduction
    if sample_w is not None and cnp.PyArray_SIZE(<cnp.ndarray>sample_w) != a.n:
        raise ValueError("internal: sample_w must have n elements")
    _aux_size(w, a.w_layout, a.n, a.m)
    _aux_size(pw, a.pw_layout, a.n, a.m)
    a.loss_out = _out(loss_out, tn, "loss_out", a.n * a.m)
    a.grad = _out(grad, tn, "grad", a.n * a.m)
    a.y = NULL
    a.grad2 = NULL
    a.p[0] = a.p[1] = a.p[2] = a.p[3] = 0.0
    a.n_threads = n_threads
    a.w_denom = 0
    with nogil:
        rc = fl_bce_with_logits(dsz, &a, &value)
    return _done(rc, value)


def binary_cross_entropy_with_logits(cnp.ndarray x not None, cnp.ndarray t not None, object w, int w_layout,
                                     object pw, int pw_layout, object sample_w, int reduction,
                                     object loss_out, object grad, int n_threads):
    return _bce(x, t, w, w_layout, pw, pw_layout, sample_w, reduction,
                        loss_out, grad, n_threads)


cdef inline void _params(double *p, tuple params) except *:
    if len(params) > 4:
        raise ValueError("internal: at most 4 parameters")
    cdef int k
    for k in range(4):
        p[k] = <double>params[k] if k < len(params) else 0.0


def elementwise(int op, cnp.ndarray x not None, object t, object y, object w, int w_layout,
                object sample_w, tuple params, int reduction, object loss_out, object grad,
                object grad2, int n_threads, bint w_denom=False, object grad3=None):
    """A generic element-wise op of ops.def over x (n, m); t and y of x's size or None
    (as the op reads them); grad2 (y's gradient) given with grad when y is; grad3 (t's
    gradient, written by ops differentiable in their target) optional with grad; w_denom:
    the element weight w enters the mean's divisor."""
    if op < 0 or op >= fl_ew_op_count():
        raise ValueError("internal: unknown element-wise op")
    cdef int dsz = _dsz(x)
    cdef int tn = cnp.PyArray_TYPE(x)
    cdef fl_ew_args a
    memset(&a, 0, sizeof(a))   # fields not set below are 0 / NULL
    cdef double value = 0.0
    cdef int rc
    if cnp.PyArray_NDIM(x) != 2:
        raise ValueError("internal: x must be 2-D")
    a.n = cnp.PyArray_DIM(x, 0)
    a.m = cnp.PyArray_DIM(x, 1)
    cdef int64_t size = a.n * a.m
    a.x = _in(x, tn, "x")
    a.t = _in(t, tn, "t")
    a.y = _in(y, tn, "y")
    if t is not None and cnp.PyArray_SIZE(<cnp.ndarray>t) != size:
        raise ValueError("internal: t must have x's size")
    if y is not None and cnp.PyArray_SIZE(<cnp.ndarray>y) != size:
        raise ValueError("internal: y must have x's size")
    a.w = _in(w, tn, "w")
    a.w_layout = w_layout if w is not None else 0
    _aux_size(w, a.w_layout, a.n, a.m)
    a.pw = NULL
    a.pw_layout = 0
    a.sample_w = _in(sample_w, tn, "sample_w")
    if sample_w is not None and cnp.PyArray_SIZE(<cnp.ndarray>sample_w) != a.n:
        raise ValueError("internal: sample_w must have n elements")
    _params(a.p, params)
    a.w_denom = w_denom
    a.reduction = reduction
    a.loss_out = _out(loss_out, tn, "loss_out", size)
    a.grad = _out(grad, tn, "grad", size)
    a.grad2 = _out(grad2, tn, "grad2", size)
    if (grad2 is None) != (grad is None or y is None):
        raise ValueError("internal: grad2 goes with grad when y is given")
    a.grad3 = _out(grad3, tn, "grad3", size)
    if (grad3 is None) != (grad is None or op not in EW_T_GRAD):
        raise ValueError("internal: grad3 goes with grad for ops differentiable in t")
    a.n_threads = n_threads
    with nogil:
        rc = fl_elementwise(op, dsz, &a, &value)
    return _done(rc, value)


def rowwise(int op, cnp.ndarray x not None, int64_t s, object x2, object x3, object target,
            object t, object rt, object class_w, object sample_w, tuple params,
            int64_t ignore_index, int denom, int reduction, object loss_out, object grad,
            object grad2, object grad3, int n_threads):
    """A generic row-wise op of ops.def over x (n, c * s); x2, x3, t of x's size,
    target (n * s,) int64, rt (n,), class_w (c,), or None; grad2 and grad3 given with grad
    when x2 and x3 are."""
    if op < 0 or op >= fl_row_op_count():
        raise ValueError("internal: unknown row-wise op")
    cdef int dsz = _dsz(x)
    cdef int tn = cnp.PyArray_TYPE(x)
    cdef fl_row_args a
    memset(&a, 0, sizeof(a))   # fields not set below are 0 / NULL
    cdef double value = 0.0
    cdef int rc
    if cnp.PyArray_NDIM(x) != 2 or s < 1 or cnp.PyArray_DIM(x, 1) % s != 0:
        raise ValueError("internal: x must be 2-D (n, c * s)")
    a.n = cnp.PyArray_DIM(x, 0)
    a.s = s
    a.c = cnp.PyArray_DIM(x, 1) // s
    cdef int64_t size = cnp.PyArray_SIZE(x)
    a.x = _in(x, tn, "x")
    a.x2 = _in(x2, tn, "x2")
    a.x3 = _in(x3, tn, "x3")
    a.t = _in(t, tn, "t")
    for arr, what in ((x2, "x2"), (x3, "x3"), (t, "t")):
        if arr is not None and cnp.PyArray_SIZE(<cnp.ndarray>arr) != size:
            raise ValueError(f"internal: {what} must have x's size")
    a.target = _targets(target, a.n * s)
    a.rt = _in(rt, tn, "rt")
    if rt is not None and cnp.PyArray_SIZE(<cnp.ndarray>rt) != a.n:
        raise ValueError("internal: rt must have n elements")
    a.class_w = _in(class_w, tn, "class_w")
    if class_w is not None and cnp.PyArray_SIZE(<cnp.ndarray>class_w) != a.c:
        raise ValueError("internal: class_w must have c elements")
    a.sample_w = _in(sample_w, tn, "sample_w")
    if sample_w is not None and cnp.PyArray_SIZE(<cnp.ndarray>sample_w) != a.n:
        raise ValueError("internal: sample_w must have n elements")
    _params(a.p, params)
    a.ignore_index = ignore_index
    a.denom = denom
    a.reduction = reduction
    if reduction not in (0, 1, 2):
        raise ValueError("internal: row-wise ops take none, sum or mean")
    a.loss_out = _out(loss_out, tn, "loss_out", a.n)
    a.grad = _out(grad, tn, "grad", size)
    a.grad2 = _out(grad2, tn, "grad2", size)
    a.grad3 = _out(grad3, tn, "grad3", size)
    if (grad2 is None) != (grad is None or x2 is None) or \
            (grad3 is None) != (grad is None or x3 is None):
        raise ValueError("internal: grad2 and grad3 go with grad when x2 and x3 are given")
    a.n_threads = n_threads
    a.class_w_sum = 0.0
    with nogil:
        rc = fl_rowwise(op, dsz, &a, &value)
    return _done(rc, value)


def find_bad_class_index(cnp.ndarray target not None, int64_t n_classes, int64_t ignore_index):
    """First position of a class index outside [0, n_classes) other than ignore_index, or -1."""
    _check(target, cnp.NPY_INT64, "target")
    cdef const int64_t *p = <const int64_t *>cnp.PyArray_DATA(target)
    cdef int64_t n = cnp.PyArray_SIZE(target)
    cdef int64_t r
    with nogil:
        r = fl_find_bad_class_index(p, n, n_classes, ignore_index)
    return r


def find_outside(cnp.ndarray a not None, double lo, double hi, bint open=False):
    """First flat position of a value outside [lo, hi] (NaN passes), or -1; with open,
    outside (lo, hi)."""
    cdef int dsz = _dsz(a)
    _check(a, cnp.PyArray_TYPE(a), "a")
    cdef const void *p = cnp.PyArray_DATA(a)
    cdef int64_t n = cnp.PyArray_SIZE(a)
    cdef int64_t r
    with nogil:
        r = fl_find_outside(dsz, p, n, lo, hi, open)
    return r


def find_not_in(cnp.ndarray a not None, double v1, double v2):
    """First flat position of a value that is neither v1 nor v2 (NaN included), or -1."""
    cdef int dsz = _dsz(a)
    _check(a, cnp.PyArray_TYPE(a), "a")
    cdef const void *p = cnp.PyArray_DATA(a)
    cdef int64_t n = cnp.PyArray_SIZE(a)
    cdef int64_t r
    with nogil:
        r = fl_find_not_in(dsz, p, n, v1, v2)
    return r


MATH_FUNCTIONS = ("exp", "log", "log1p", "softplus", "sigmoid", "exp_nonpos")


def math(str name, cnp.ndarray x not None):
    """One of fl_math.h's functions applied elementwise with the active SIMD level."""
    cdef int fn = MATH_FUNCTIONS.index(name)
    cdef int dsz = _dsz(x)
    _check(x, cnp.PyArray_TYPE(x), "x")
    cdef cnp.ndarray y = cnp.PyArray_EMPTY(1, [cnp.PyArray_SIZE(x)], cnp.PyArray_TYPE(x), 0)
    cdef const void *px = cnp.PyArray_DATA(x)
    cdef void *py = cnp.PyArray_DATA(y)
    cdef int64_t n = cnp.PyArray_SIZE(x)
    with nogil:
        fl_math(fn, dsz, px, py, n)
    return y.reshape((<object>x).shape)


def copy(cnp.ndarray dst not None, cnp.ndarray src not None, int n_threads):
    """Copy src into dst (same byte size, both C-contiguous): the bandwidth probe."""
    if not (cnp.PyArray_IS_C_CONTIGUOUS(dst) and cnp.PyArray_IS_C_CONTIGUOUS(src)):
        raise ValueError("internal: copy needs C-contiguous arrays")
    if cnp.PyArray_NBYTES(dst) != cnp.PyArray_NBYTES(src) or not cnp.PyArray_ISWRITEABLE(dst):
        raise ValueError("internal: copy needs a writable dst of src's size")
    cdef void *d = cnp.PyArray_DATA(dst)
    cdef const void *s = cnp.PyArray_DATA(src)
    cdef int64_t n = cnp.PyArray_NBYTES(src)
    with nogil:
        fl_copy(d, s, n, n_threads)


def argmax_counts(cnp.ndarray x not None, cnp.ndarray t not None, object w, bint full,
                  int n_threads):
    """Per-class counts of the row argmax of scores x (n, c) against classes t (see
    fl_argmax_counts): (c * c + c,) when full (int64 without w, else float64), else
    float64 (4 * c,).  x float32/float64
    with unit column stride (any row stride); t int64 (n,) C-contiguous (< 0: skipped);
    w float64 (n,) C-contiguous or None."""
    if cnp.PyArray_NDIM(x) != 2 or cnp.PyArray_ISBYTESWAPPED(x):
        raise ValueError("internal: x must be 2-D in native byte order")
    cdef int tn = cnp.PyArray_TYPE(x)
    if tn != cnp.NPY_FLOAT32 and tn != cnp.NPY_FLOAT64:
        raise ValueError("internal: x must be float32 or float64")
    cdef int64_t isz = cnp.PyArray_ITEMSIZE(x)
    cdef int64_t n = cnp.PyArray_DIM(x, 0), c = cnp.PyArray_DIM(x, 1)
    cdef int64_t ld = cnp.PyArray_STRIDE(x, 0) // isz if n > 1 else c
    if (c > 1 and cnp.PyArray_STRIDE(x, 1) != isz) or (n > 1 and (
            cnp.PyArray_STRIDE(x, 0) % isz != 0 or cnp.PyArray_STRIDE(x, 0) < c * isz)):
        raise ValueError("internal: x must have unit column stride and rows apart")
    _check(t, cnp.NPY_INT64, "t")
    if cnp.PyArray_SIZE(t) != n:
        raise ValueError("internal: t must have n elements")
    cdef const double *wp = NULL
    if w is not None:
        _check(w, cnp.NPY_FLOAT64, "w")
        if cnp.PyArray_SIZE(<cnp.ndarray>w) != n:
            raise ValueError("internal: w must have n elements")
        wp = <const double *>cnp.PyArray_DATA(<cnp.ndarray>w)
    cdef cnp.npy_intp size = c * c + c if full else 4 * c
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(1, &size, cnp.NPY_FLOAT64, 0)
    cdef const void *xp = cnp.PyArray_DATA(x)
    cdef const int64_t *tp = <const int64_t *>cnp.PyArray_DATA(t)
    cdef double *op = <double *>cnp.PyArray_DATA(out)
    cdef int rc
    with nogil:
        rc = fl_argmax_counts(<int>isz, xp, n, c, ld, tp, wp, full, op, n_threads)
    _done(rc, 0.0)
    return out.view(np.int64) if full and w is None else out


def isa_supported(str name):
    return bool(fl_isa_supported(ISA_LEVELS.index(name)))


def isa_active():
    return ISA_LEVELS[fl_isa_active()]


def set_isa(str name):
    """Force an instruction-set level; ValueError when the CPU lacks it."""
    if name not in ISA_LEVELS:
        raise ValueError(f"unknown SIMD level {name!r}; expected one of {ISA_LEVELS}")
    if fl_set_isa(ISA_LEVELS.index(name)) != 0:
        raise ValueError(f"this CPU does not support the {name} kernels")


def openmp_enabled():
    return bool(fl_openmp_enabled())


def max_threads():
    return fl_max_threads()
