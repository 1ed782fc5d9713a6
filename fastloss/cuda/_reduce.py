"""Deterministic reductions: per-block float64 partial sums, combined in a fixed order by
one small block (the second stage), and the value and gradient scale of a reduction.

A mean's divisor is computed on the device before the loss pass when it depends on data
(sample weights, element weights, ignored targets), so that nothing but the caller's
scalar ever leaves the device."""
import numpy as np
from numba import cuda, float64

from ._runtime import RED_THREADS, block_sum, current, grid_for, EW_THREADS

NONE, SUM, MEAN, BATCHMEAN = 0, 1, 2, 3


def gscale_host(red, denom):
    if red in (MEAN, BATCHMEAN):
        return 1.0 / denom if denom > 0.0 else 0.0
    return 1.0


@cuda.jit(device=True)
def _combine(part, nparts, sh):
    """Thread-strided sums of part (a fixed order), then the block tree."""
    acc = 0.0
    for i in range(cuda.threadIdx.x, nparts, cuda.blockDim.x):
        acc += part[i]
    return block_sum(acc, sh)


@cuda.jit
def _finish_value(part, nparts, red, den, denom_host, out):
    """out[0] = the value of `red` from the partial sums (den: [denom, gscale] on the
    device, or None with the divisor denom_host)."""
    sh = cuda.shared.array(RED_THREADS, float64)
    s = _combine(part, nparts, sh)
    if cuda.threadIdx.x == 0:
        d = denom_host if den is None else den[0]
        v = s
        if red == 2 or red == 3:
            if d > 0.0:
                v = s / d
            elif s == s:
                v = 0.0
        out[0] = v


@cuda.jit
def _finish_denom(part, nparts, red, den):
    """den = [denom, gscale] from the partial sums of the divisor."""
    sh = cuda.shared.array(RED_THREADS, float64)
    d = _combine(part, nparts, sh)
    if cuda.threadIdx.x == 0:
        den[0] = d
        den[1] = 1.0 / d if d > 0.0 else 0.0


@cuda.jit
def _weight_total(w, wl, n, m, sw, factor, part):
    """Partial sums of sum_i sw_i sum_j w_ij (w in layout wl: 1 full, 2 per column, 3 per
    row; None: m per row), times factor."""
    sh = cuda.shared.array(EW_THREADS, float64)
    acc = 0.0
    stride = cuda.gridDim.x * cuda.blockDim.x
    if w is None:
        for i in range(cuda.grid(1), n, stride):
            acc += (1.0 if sw is None else float64(sw[i])) * factor
    else:
        for e in range(cuda.grid(1), n * m, stride):
            r = e // m
            if wl == 1:
                wv = float64(w[e])
            elif wl == 2:
                wv = float64(w[e - r * m])
            else:
                wv = float64(w[r])
            acc += (wv if sw is None else wv * float64(sw[r])) * factor
    s = block_sum(acc, sh)
    if cuda.threadIdx.x == 0:
        part[cuda.blockIdx.x] = s


@cuda.jit
def _target_total(t, n, s, c, ignore_index, cw, sw, part):
    """Partial sums of the weight of the class-index targets t (n * s) not ignored:
    cw[y] (1 without class weights) times the sample weight."""
    sh = cuda.shared.array(EW_THREADS, float64)
    acc = 0.0
    for e in range(cuda.grid(1), n * s, cuda.gridDim.x * cuda.blockDim.x):
        y = t[e]
        if y != ignore_index and y >= 0 and y < c:
            v = 1.0 if cw is None else float64(cw[y])
            if sw is not None:
                v *= float64(sw[e // s])
            acc += v
    r = block_sum(acc, sh)
    if cuda.threadIdx.x == 0:
        part[cuda.blockIdx.x] = r


def _stage2_denom(launch_part, total, red):
    ctx = current()
    g = grid_for(total)
    part = ctx.empty(g, np.float64)
    launch_part(g, part)
    den = ctx.empty(2, np.float64)
    _finish_denom[1, RED_THREADS, ctx.stream](part, g, red, den)
    return den


def weight_denominator(w, wl, n, m, sw, red, factor):
    """[denom, gscale] on the device: sum_i sw_i sum_j w_ij (or m sw_i) times factor."""
    ctx = current()
    total = n * m if w is not None else n
    return _stage2_denom(lambda g, part: _weight_total[g, EW_THREADS, ctx.stream](
        w, wl, n, m, sw, float(factor), part), total, red)


def target_denominator(t, n, s, c, ignore_index, cw, sw, red):
    ctx = current()
    return _stage2_denom(lambda g, part: _target_total[g, EW_THREADS, ctx.stream](
        t, n, s, c, ignore_index, cw, sw, part), n * s, red)


def finish(part, nparts, red, den, denom_host, dtype):
    """The value as a device array of shape () in `dtype`."""
    ctx = current()
    out = ctx.empty(1, dtype)
    _finish_value[1, RED_THREADS, ctx.stream](part, nparts, red, den,
                                              float(denom_host), out)
    return out.reshape(())


def host_denominator(red, n, m, per_row):
    """The divisor when no data decides it (no weights): n * m for a mean, n for
    batchmean (per_row), 0 otherwise."""
    if red == MEAN:
        return float(n) * (1.0 if per_row else float(m))
    if red == BATCHMEAN:
        return float(n)
    return 0.0


@cuda.jit
def _sum_to(a, out):
    sh = cuda.shared.array(RED_THREADS, float64)
    acc = 0.0
    for i in range(cuda.threadIdx.x, a.size, cuda.blockDim.x):
        acc += float64(a[i])
    s = block_sum(acc, sh)
    if cuda.threadIdx.x == 0:
        out[0] = s


def array_sum(a):
    """sum(a) in float64 as a device array of one element (e.g. the class weights' sum)."""
    ctx = current()
    out = ctx.empty(1, np.float64)
    _sum_to[1, RED_THREADS, ctx.stream](a, out)
    return out
