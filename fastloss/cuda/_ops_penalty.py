"""Device side of fastloss.regularizers: the element-wise penalty and prox ops of
csrc/ops_penalty.h (see _elementwise for the op signature; the row ops group_lasso and
group_lasso_prox are in _rows), and `Runner`, which runs one regularizer call's arrays on
the device.

Each op mirrors its C kernel: the same formulas and the same selects, so that NaN, zeros
and ties come out as on the CPU.  The value of each array is summed in float64 on the
device (the element-wise kernel's per-block partial sums, then the fixed-order second
stage of _reduce) into one slot of a float64 array, copied to the host once per call."""
import math

import numpy as np
from numba import cuda, float64

from . import _devmath
from . import _reduce as rd
from ._runtime import EW_THREADS, RED_THREADS, block_sum, current, grid_for


def build(R):
    sign = _devmath.build(R).sign

    @cuda.jit(device=True, inline=True)
    def soft(x, lam):
        """sign(x) max(|x| - lam, 0), +-0 inside [-lam, lam], NaN for NaN"""
        if x > lam:
            return x - lam
        if x < -lam:
            return x + lam
        return x * R(0)

    # l1: l = |x|, d = p0 sign(x)
    @cuda.jit(device=True, inline=True)
    def pen_l1(x, t, y, pw, p0, p1, p2, p3):
        l = -x if x < R(0) else x
        return l, p0 * sign(x), R(0)

    # l2: l = x^2, d = p0 x
    @cuda.jit(device=True, inline=True)
    def pen_l2(x, t, y, pw, p0, p1, p2, p3):
        return x * x, p0 * x, R(0)

    # elastic net: l = p0 |x| + p1 x^2, d = p0 sign(x) + p2 x
    @cuda.jit(device=True, inline=True)
    def pen_enet(x, t, y, pw, p0, p1, p2, p3):
        ax = -x if x < R(0) else x
        return p0 * ax + p1 * (x * x), p0 * sign(x) + p2 * x, R(0)

    # L2-SP toward t = w0: l = (x - t)^2, d = p0 (x - t)
    @cuda.jit(device=True, inline=True)
    def pen_l2sp(x, t, y, pw, p0, p1, p2, p3):
        r = x - t
        return r * r, p0 * r, R(0)

    # group lasso over columns: d = x (pen_cols), t x (pen_cols_m); the column's factor
    # is the element weight
    @cuda.jit(device=True, inline=True)
    def pen_cols(x, t, y, pw, p0, p1, p2, p3):
        return R(0), x, R(0)

    @cuda.jit(device=True, inline=True)
    def pen_cols_m(x, t, y, pw, p0, p1, p2, p3):
        return R(0), t * x, R(0)

    # prox of the elastic net (l1: p1 = 1, l2: p0 = 0): soft(x, p0) / p1
    @cuda.jit(device=True, inline=True)
    def prox_enet(x, t, y, pw, p0, p1, p2, p3):
        return R(0), soft(x, p0) / p1, R(0)

    # the same with the trainable mask t: frozen elements (t = 0) keep x
    @cuda.jit(device=True, inline=True)
    def prox_enet_m(x, t, y, pw, p0, p1, p2, p3):
        v = soft(x, p0) / p1
        return R(0), (v if t != R(0) else x), R(0)

    # prox of L2-SP: p0 x + p1 t (p0 = 1 / (1 + a), p1 = 1 / (1 + 1 / a), a = step alpha),
    # x itself where t == x
    @cuda.jit(device=True, inline=True)
    def prox_l2sp(x, t, y, pw, p0, p1, p2, p3):
        v = p0 * x + p1 * t
        return R(0), (x if t == x else v), R(0)

    # x t (the masked group-lasso prox over columns)
    @cuda.jit(device=True, inline=True)
    def prox_mul(x, t, y, pw, p0, p1, p2, p3):
        return R(0), x * t, R(0)

    return {"pen_l1": pen_l1, "pen_l2": pen_l2, "pen_enet": pen_enet, "pen_l2sp": pen_l2sp,
            "pen_cols": pen_cols, "pen_cols_m": pen_cols_m, "prox_enet": prox_enet,
            "prox_enet_m": prox_enet_m, "prox_l2sp": prox_l2sp, "prox_mul": prox_mul}


# -------------------------------------------------------------- helper kernels ----

@cuda.jit
def _keep_from_mask(mask, out):
    """out = 0 where the frozen mask is set, 1 elsewhere (flat arrays of one size)"""
    for e in range(cuda.grid(1), out.size, cuda.gridDim.x * cuda.blockDim.x):
        out[e] = 0.0 if mask[e] else 1.0


@cuda.jit
def _select(keep, a, b, out):
    """out = b where keep != 0, else a"""
    for e in range(cuda.grid(1), out.size, cuda.gridDim.x * cuda.blockDim.x):
        out[e] = b[e] if keep[e] != 0 else a[e]


@cuda.jit
def _col_or_one(keep, f, m, out):
    """out[i, j] = f[j] where keep != 0, else 1 (flat, m columns)"""
    for e in range(cuda.grid(1), out.size, cuda.gridDim.x * cuda.blockDim.x):
        out[e] = f[e % m] if keep[e] != 0 else 1.0


@cuda.jit
def _col_sumsq(x, keep, n, m, out):
    """out[j] = sum_i (keep x)[i, j]^2 in float64, one thread per column"""
    for j in range(cuda.grid(1), m, cuda.gridDim.x * cuda.blockDim.x):
        ss = 0.0
        for i in range(n):
            e = i * m + j
            if keep is None:
                v = float64(x[e])
            else:
                v = float64(keep[e] * x[e])
            ss += v * v
        out[j] = ss


@cuda.jit
def _col_factors(sq, lam, prox, out):
    """per column, from its sum of squares: lam / norm (0 for a zero column), or with prox
    max(0, 1 - lam / norm) (0 for a zero column, NaN for NaN)"""
    for j in range(cuda.grid(1), sq.size, cuda.gridDim.x * cuda.blockDim.x):
        nrm = math.sqrt(sq[j])
        if prox:
            if nrm != nrm:
                f = nrm
            elif nrm > lam:
                f = 1.0 - lam / nrm
            else:
                f = 0.0
        else:
            f = 0.0 if nrm == 0.0 else lam / nrm
        out[j] = f


@cuda.jit
def _sum_sqrt(sq, out):
    """out[0] = sum_j sqrt(sq[j]) in float64 (one block, a fixed order)"""
    sh = cuda.shared.array(RED_THREADS, float64)
    acc = 0.0
    for j in range(cuda.threadIdx.x, sq.size, cuda.blockDim.x):
        acc += math.sqrt(sq[j])
    s = block_sum(acc, sh)
    if cuda.threadIdx.x == 0:
        out[0] = s


@cuda.jit
def _add(a, b, out):
    for e in range(cuda.grid(1), out.size, cuda.gridDim.x * cuda.blockDim.x):
        out[e] = a[e] + b[e]


def _flat(a):
    return None if a is None else a.reshape(a.size)


def add(a, b, inplace=False):
    """a + b for two Numba device arrays of one shape (into a with inplace)."""
    ctx = current()
    out = a if inplace else ctx.empty(a.shape, a.dtype)
    if a.size:
        _add[grid_for(a.size), EW_THREADS, ctx.stream](_flat(a), _flat(b), _flat(out))
    return out


# ---------------------------------------------------------------------- runner ----

class Runner:
    """One regularizer call's device arrays: kernels on the stream of the call's first GPU
    array, each array's value summed into one float64 slot, the slots copied back once
    (value()).  The methods mirror fastloss.regularizers' host side."""

    def __init__(self, first, n_slots):
        from . import _runtime as rt
        self.ctx = rt.Context(first)
        rt.set_current(self.ctx)
        self.slots = cuda.to_device(np.zeros(max(n_slots, 1)), stream=self.ctx.stream)
        self.coefs = []

    # arrays
    def wrap(self, a):
        return self.ctx.wrap(a)

    def public(self, d):
        return self.ctx.public(d)

    def to_device(self, a, dtype=None):
        return self.ctx.to_device(np.asarray(a, dtype=dtype))

    def contiguous(self, a, dtype=None):
        from ._kernels import contiguous
        return contiguous(a, dtype)

    def empty(self, shape, dtype):
        return self.ctx.empty(shape, dtype)

    def zeros(self, shape, dtype):
        from ._kernels import full
        return full(shape, 0, dtype)

    def fill_zero(self, a):
        from ._kernels import _fill
        if a.size:
            _fill[grid_for(a.size), EW_THREADS, self.ctx.stream](_flat(a), a.dtype.type(0))

    def _slot(self, coef):
        k = len(self.coefs)
        self.coefs.append(coef)
        return self.slots[k:k + 1]

    # kernels
    def ew(self, op, x2, t2, w, wl, params, g2, coef):
        """Element-wise op `op` over x2 (n, m), reduction "sum"; coef * its sum to the value
        (nothing when coef is None)."""
        from . import _elementwise
        ctx = self.ctx
        n, m = x2.shape
        R = np.dtype(x2.dtype).type
        p = tuple(R(v) for v in (tuple(params) + (0.0,) * 4)[:4])
        grid = grid_for(n * m)
        part = ctx.empty(grid, np.float64)
        _elementwise.kernel_for(op, x2.dtype)[grid, EW_THREADS, ctx.stream](
            _flat(x2), _flat(t2), None, _flat(w), int(wl), None, 0, max(m, 1), None,
            p[0], p[1], p[2], p[3], None, 1.0, _flat(g2), None, None, None, part)
        if coef is not None:
            rd._finish_value[1, RED_THREADS, ctx.stream](part, grid, rd.SUM, None, 0.0,
                                                         self._slot(coef))

    def row(self, op, x2, t2, params, g2, coef):
        """Row op `op` (one group per row of x2), reduction "sum"."""
        from . import _rows
        ctx = self.ctx
        n, c = x2.shape
        p = (tuple(float(v) for v in params) + (0.0,) * 4)[:4]
        grid = grid_for(n)
        part = ctx.empty(grid, np.float64)
        _rows.kernel_for(op, x2.dtype)[grid, EW_THREADS, ctx.stream](
            _flat(x2), None, None, None, _flat(t2), None, None, None, n, c, 1,
            p[0], p[1], p[2], p[3], 0, None, None, None, 1.0, None, _flat(g2), None, None,
            part)
        if coef is not None:
            rd._finish_value[1, RED_THREADS, ctx.stream](part, grid, rd.SUM, None, 0.0,
                                                         self._slot(coef))

    def keep(self, mask, shape, dtype):
        """The trainable mask (1 trainable, 0 frozen) in `dtype`, of `shape`, from a
        boolean frozen mask broadcastable to it (a host mask is copied over)."""
        from ._kernels import broadcast_copy
        if not hasattr(mask, "copy_to_host"):
            mask = self.wrap(mask) if hasattr(mask, "__cuda_array_interface__") else \
                self.to_device(np.asarray(mask))
        if tuple(mask.shape) != tuple(shape) or not mask.is_c_contiguous():
            mask = broadcast_copy(mask, shape)
        out = self.ctx.empty(shape, dtype)
        if out.size:
            _keep_from_mask[grid_for(out.size), EW_THREADS, self.ctx.stream](
                _flat(mask), _flat(out))
        return out

    def select(self, keep2, a2, b2):
        """b where keep != 0, else a (new array)."""
        out = self.ctx.empty(a2.shape, a2.dtype)
        if out.size:
            _select[grid_for(out.size), EW_THREADS, self.ctx.stream](
                _flat(keep2), _flat(a2), _flat(b2), _flat(out))
        return out

    def colsumsq(self, x2, keep2):
        n, m = x2.shape
        out = self.ctx.empty(m, np.float64)
        if m:
            _col_sumsq[grid_for(m), EW_THREADS, self.ctx.stream](
                _flat(x2), _flat(keep2), n, m, out)
        return out

    def col_factors(self, sq, lam, prox, coef, dtype):
        """The columns' factors in `dtype` (see _col_factors); coef * sum of the norms to
        the value unless coef is None."""
        m = sq.size
        out = self.ctx.empty(m, dtype)
        if m:
            _col_factors[grid_for(m), EW_THREADS, self.ctx.stream](sq, float(lam),
                                                                   bool(prox), out)
        if coef is not None:
            _sum_sqrt[1, RED_THREADS, self.ctx.stream](sq, self._slot(coef))
        return out

    def col_or_one(self, keep2, f):
        out = self.ctx.empty(keep2.shape, f.dtype)
        if out.size:
            _col_or_one[grid_for(out.size), EW_THREADS, self.ctx.stream](
                _flat(keep2), f, keep2.shape[1], _flat(out))
        return out

    def value(self):
        """The call's value: sum of coef * slot in float64 (one copy to the host)."""
        if not self.coefs:
            return 0.0
        h = self.slots.copy_to_host(stream=self.ctx.stream)
        total = 0.0
        for k, c in enumerate(self.coefs):
            total += c * float(h[k])
        return total

    def synchronize(self):
        self.ctx.synchronize()


__all__ = ["build", "Runner", "add"]
