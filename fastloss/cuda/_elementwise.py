"""Element-wise losses on the GPU: one grid-stride pass computing value and gradient,
per-block float64 partial sums, then the fixed-order second stage (see _reduce).

Every op is a device function built per floating type R by its group's module
(``build(R)`` returns ``{name: op}``), with the signature

    op(x, t, y, pw, p0, p1, p2, p3) -> (l, d, dy)

x the input, t the target (0 when the loss reads none), y a second input (0 when none),
pw the positive-class weight (1 when none), p0..p3 the loss's parameters, all of type R;
l the element's value, d and dy its derivatives in x and y.  Ops differentiable in their
target too (a group's T_GRAD names) return (l, d, dy, dt); the others are wrapped to
return dt = 0.  Literals are written R(...):
a bare 1.0 or 2 turns float32 arithmetic into float64."""
import numba
import numpy as np
from numba import cuda, float64

from . import _reduce as rd
from ._runtime import EW_THREADS, block_sum, current, grid_for
from . import _ops_regression, _ops_binary, _ops_margin, _ops_penalty

_GROUPS = (_ops_regression, _ops_binary, _ops_margin, _ops_penalty)
_OPS = {}        # (name, dtype) -> device function
_KERNELS = {}    # (name, dtype) -> kernel


def _with_dt(op, R):
    @cuda.jit(device=True, inline=True)
    def op4(x, t, y, pw, p0, p1, p2, p3):
        l, d, dy = op(x, t, y, pw, p0, p1, p2, p3)
        return l, d, dy, R(0)
    return op4


def ops_for(dtype):
    """{name: op} for ops returning (l, d, dy, dt)."""
    R = numba.from_dtype(np.dtype(dtype))
    key = np.dtype(dtype).str
    if key not in _OPS:
        table = {}
        for g in _GROUPS:
            tg = getattr(g, "T_GRAD", ())
            table.update({k: f if k in tg else _with_dt(f, R) for k, f in g.build(R).items()})
        _OPS[key] = table
    return _OPS[key]


def op_names():
    return sorted(ops_for(np.float64))


def _make_kernel(op, R):
    @cuda.jit(cache=True)
    def kernel(x, t, y, w, wl, pw, pwl, m, sw, p0, p1, p2, p3, den, gs, g, g2, g3, lo,
               part):
        sh = cuda.shared.array(EW_THREADS, float64)
        acc = 0.0
        gsc = gs if den is None else den[1]
        n_el = x.size
        for e in range(cuda.grid(1), n_el, cuda.gridDim.x * cuda.blockDim.x):
            tv = R(0) if t is None else t[e]
            yv = R(0) if y is None else y[e]
            r = 0
            if sw is not None or (w is not None and wl != 1) or (pw is not None and pwl != 1):
                r = e // m
            pv = R(1)
            if pw is not None:
                pv = pw[e] if pwl == 1 else (pw[e - r * m] if pwl == 2 else pw[r])
            l, d, dy, dt = op(x[e], tv, yv, pv, p0, p1, p2, p3)
            wv = R(1)
            if w is not None:
                wv = w[e] if wl == 1 else (w[e - r * m] if wl == 2 else w[r])
            if sw is not None:
                wv = wv * sw[r]
            lw = wv * l
            if lo is not None:
                lo[e] = lw
            if g is not None:
                gc = R(gsc) * wv
                g[e] = gc * d
                if g2 is not None:
                    g2[e] = gc * dy
                if g3 is not None:
                    g3[e] = gc * dt
            acc += float64(lw)
        s = block_sum(acc, sh)
        if cuda.threadIdx.x == 0:
            part[cuda.blockIdx.x] = s

    return kernel


def kernel_for(name, dtype):
    key = (name, np.dtype(dtype).str)
    k = _KERNELS.get(key)
    if k is None:
        R = numba.from_dtype(np.dtype(dtype))
        k = _KERNELS[key] = _make_kernel(ops_for(dtype)[name], R)
    return k


def _flat(a):
    return None if a is None else a.reshape(a.size)


def run(name, x, t, y, w, wl, pw, pwl, sw, params, red, loss_out, g, g2, w_denom, g3=None):
    """The value of op `name` over x (n, m) (a device array of shape () for "sum"/"mean",
    None for "none", whose values go to loss_out), the gradients into g, g2 (y's), g3
    (t's)."""
    ctx = current()
    n, m = x.shape
    total = n * m
    R = np.dtype(x.dtype).type
    p = tuple(R(v) for v in (tuple(params) + (0.0,) * 4)[:4])
    den, denom_host = None, rd.host_denominator(red, n, m, False)
    if red in (rd.MEAN, rd.BATCHMEAN):
        if w_denom and w is not None and red == rd.MEAN:
            den = rd.weight_denominator(_flat(w), wl, n, m, sw, red, 1.0)
        elif sw is not None:
            den = rd.weight_denominator(None, 0, n, m, sw, red,
                                        float(m) if red == rd.MEAN else 1.0)
    gs = rd.gscale_host(red, denom_host)
    grid = grid_for(total)
    part = ctx.empty(grid, np.float64)
    kernel_for(name, x.dtype)[grid, EW_THREADS, ctx.stream](
        _flat(x), _flat(t), _flat(y), _flat(w), int(wl or 0), _flat(pw), int(pwl or 0),
        max(m, 1), sw, p[0], p[1], p[2], p[3], den, gs, _flat(g), _flat(g2), _flat(g3),
        _flat(loss_out), part)
    if red == rd.NONE:
        return None
    return rd.finish(part, grid, red, den, denom_host, x.dtype)
