"""Softmax-family losses on the GPU: cross_entropy, nll_loss and the softmax row ops
(softmax_focal_loss, generalized_cross_entropy, symmetric_cross_entropy,
poly1_cross_entropy, bootstrapped_cross_entropy), with the CPU kernels' semantics.

(N, C) rows: one block per row.  Each thread keeps an online (max, sum of exp) over its
strided share of the row, the target's class left out; a block max, a block sum of the
rescaled partial sums, and the other sums the options need (sum_j w_j x_j for label
smoothing and poly1, sum_j w_j t'_j and sum_j w_j t'_j x_j for probability targets) give
the row's statistics; then one pass writes the gradient, and thread 0 sets the target's
entry and the row's value.  The sum over the other classes S is summed as such, so
1 - p_y = S / s keeps its digits as p_y -> 1.  Every value of a row is read before any
of its gradient is written (out= may be the input): the block reductions synchronize.

(N, C, d1, ..., dk) inputs: one thread per position, looping over the C classes (stride
s, so neighbouring threads read neighbouring memory).

Values are summed in float64: per-row values by thread 0 of each block, then the fixed-
order second stage of _reduce; the value is the same on every run."""
import numba
import numpy as np
from numba import cuda, float64, int64, uint8

from . import _reduce as rd
from ._devmath import math
from ._runtime import EW_THREADS, ROW_THREADS, block_max, block_min_int, block_sum, \
    current, grid_for, max_blocks

CE, FOCAL, GCE, SCE, POLY1, BOOT = range(6)
ROW_OPS = {"softmax_focal_loss": FOCAL, "generalized_cross_entropy": GCE,
           "symmetric_cross_entropy": SCE, "poly1_cross_entropy": POLY1,
           "bootstrapped_cross_entropy": BOOT}
NEG_INF = -np.inf


@cuda.jit(device=True)
def _nlog1m_minus(u, logq):
    """-math.log(1 - u) - u without cancellation (as sm_nlog1m_minus of the CPU)."""
    if not u <= 0.25:
        return -logq - u
    w = u / (2.0 - u)
    w2 = w * w
    p = 1.0 / 21.0
    for k in range(9, 0, -1):
        p = p * w2 + 1.0 / (2 * k + 1)
    return u * u / (2.0 - u) + 2.0 * w * w2 * p


@cuda.jit(device=True)
def _ce_post(soft, T, sx, lse, xy, wy, ls, z, W, C, coef):
    """cross_entropy's row value (before the sample weight) and gradient coefficients,
    as the CPU's ce_post: g_j = (coef A / s) e_j - B w_j (times t'_j for probability
    targets), then the target's entry decreased by GY.  soft: T = sum_j w_j t'_j and sx =
    sum_j w_j t'_j x_j; class indices: sx = sum_j w_j x_j (label smoothing), x_y, w_y."""
    B = 0.0
    GY = 0.0
    if soft:
        loss = -sx if T == 0.0 else T * lse - sx
        A = T
        if z > 0.0:
            loss += z * lse * lse
            A += 2.0 * z * lse
        B = coef
    else:
        loss = (1.0 - ls) * wy * (lse - xy)
        A = (1.0 - ls) * wy + ls * W / C
        if ls > 0.0:
            loss += ls / C * (W * lse - sx)
        if z > 0.0:
            loss += z * wy * lse * lse
            A += 2.0 * z * wy * lse
        B = coef * ls / C
        GY = coef * (1.0 - ls) * wy
    return loss, A, B, GY


def _make_rows(OP, R, T):
    """The block-per-row kernel of OP for floating type R, T threads per block."""

    @cuda.jit(cache=True)
    def kernel(x, target, soft, cw, sw, ignore_index, ls, z, Wd, p0, p1, den, gs, g, lo,
               cor, part):
        shf = cuda.shared.array(T, float64)
        shi = cuda.shared.array(T, int64)
        n = x.shape[0]
        C = x.shape[1]
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        gsc = gs if den is None else den[1]
        W = float64(C) if Wd is None else Wd[0]
        acc = 0.0
        for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
            swi = 1.0 if sw is None else float64(sw[i])
            coef = swi * gsc
            y = int64(-1)
            if target is not None:
                y = target[i]
                if y == ignore_index or y < 0 or y >= C:
                    if g is not None:
                        for j in range(tid, C, nt):
                            g[i, j] = R(0)
                    if lo is not None and tid == 0:
                        lo[i] = R(0)
                    if cor is not None and tid == 0:
                        cor[i] = uint8(0)
                    continue
            xy = float64(x[i, y]) if y >= 0 else 0.0
            # pass 1: online (max, sum exp) without the target; sums of the options
            mt = NEG_INF
            st = 0.0
            a1 = 0.0
            a2 = 0.0
            sa1 = R(1) - R(ls)
            sa0 = R(ls / C)
            for j in range(tid, C, nt):
                v = x[i, j]
                wj = R(1) if cw is None else cw[j]
                if soft is not None:
                    wt = wj * (sa1 * soft[i, j] + sa0)
                    a1 += float64(wt)
                    a2 += float64(wt * v)
                elif ls > 0.0:
                    a1 += float64(wj * v)
                if j == y:
                    continue
                if v > mt:
                    if mt > NEG_INF:
                        st *= math.exp(mt - float64(v))
                    mt = float64(v)
                if mt == NEG_INF:
                    if v != v:
                        st = np.nan
                else:
                    st += float64(R(math.exp(R(v - R(mt)))))
            M = block_max(mt, shf)
            if y >= 0 and xy > M:
                M = xy
            mu = M if M > NEG_INF else 0.0
            if mt > NEG_INF:
                st = st * math.exp(mt - mu)
            elif st == st:
                st = 0.0
            S = block_sum(st, shf)
            sx = 0.0
            T_ = 0.0
            if soft is not None:
                T_ = block_sum(a1, shf)
                sx = block_sum(a2, shf)
            elif ls > 0.0:
                sx = block_sum(a1, shf)
            k = int64(C)
            if OP == BOOT and p1 != 0.0 and g is not None:
                kt = int64(C)
                for j in range(tid, C, nt):
                    if float64(x[i, j]) == M and j < kt:
                        kt = j
                k = block_min_int(kt, shi)
            bad = 0.0
            if cor is not None:   # the row argmax, ties to the lowest class; any NaN
                kt = int64(C)
                for j in range(tid, C, nt):
                    v = x[i, j]
                    if float64(v) == M and j < kt:
                        kt = j
                    if v != v:
                        bad = 1.0
                k = block_min_int(kt, shi)
                bad = block_max(bad, shf)
            # the row's statistics: s, 1 - p_y = S / s, log s, log p_y
            d = xy - mu
            ey = 0.0
            if y >= 0:
                ey = 1.0 if d == 0.0 else float64(R(math.exp(R(d))))
            s = S + ey
            u = S / s
            if y >= 0 and d == 0.0:
                logs = math.log1p(S)
                logq = -logs
            else:
                logs = math.log(s)
                logq = d - logs
            lse = mu + logs
            wy = 1.0
            if y >= 0 and cw is not None:
                wy = float64(cw[y])
            # value and gradient coefficients: g_j = A e_j - B (w_j or 1) [t'_j], then the
            # target's entry: set to GY (SET) or decreased by GY
            B = 0.0
            GY = 0.0
            SET = True
            GK = 0.0
            if OP == CE:
                loss, A, B, GY = _ce_post(soft is not None, T_, sx, lse, xy, wy, ls, z, W, C,
                                          coef)
                SET = soft is not None
                A = coef * A / s
                loss *= swi
            elif OP == POLY1:
                eps = p0
                loss = (1.0 - ls) * wy * (_nlog1m_minus(u, logq) + (1.0 + eps) * u)
                if ls > 0.0:
                    loss += ls / C * (W * lse - sx + eps * wy * (C - 1))
                loss *= swi
                D = coef * (1.0 - ls) * wy * ((1.0 + eps) - eps * u)
                B = coef * ls / C
                A = (D + B * W) / s
                GY = -D * u + B * (W * math.exp(logq) - wy)
            elif OP == BOOT:
                be = p0
                if p1 != 0.0:
                    loss = swi * (-be * logq + (1.0 - be) * logs)
                    A = coef / s
                    if k == y:
                        GY = -coef * u
                    else:
                        GY = coef * (math.exp(logq) - be)
                        GK = coef * (1.0 - be)
                else:
                    loss = 0.0   # after the gradient pass (needs the entropy sum)
                    A = coef * be / s
                    GY = -coef * be * u
            else:
                if OP == FOCAL:
                    gamma = p0
                    ug = 1.0 if gamma == 0.0 else math.exp(gamma * math.log(u))   # 0^0 = 1, 0^gamma = 0
                    q = math.exp(logq)
                    F = ug
                    if u > 0.0 and q > 0.0:
                        F -= gamma * q * (logq / u) * ug
                    loss = -swi * wy * ug * logq
                    K = wy * F
                elif OP == GCE:
                    Q = p0
                    loss = swi * (u if Q == 1.0 else -math.expm1(Q * logq) / Q)
                    K = math.exp(Q * logq)
                else:   # SCE
                    loss = swi * (-p0 * logq - p1 * z * u)   # z holds A here
                    K = p0 - z * p1 * math.exp(logq)
                A = coef * K / s
                GY = -coef * K * u
            # pass 2: the gradient (and the entropy sum of the soft bootstrap)
            tsum = 0.0
            if g is not None or (OP == BOOT and p1 == 0.0):
                As = R(A)
                Bs = R(B)
                Mr = R(mu)
                for j in range(tid, C, nt):
                    v = x[i, j]
                    dj = v - Mr
                    e = R(math.exp(dj))
                    if OP == BOOT and p1 == 0.0:
                        if e != R(0):
                            tsum += float64(e * dj)
                    if g is not None:
                        gv = As * e
                        if B != 0.0:
                            wj = R(1) if cw is None else cw[j]
                            if soft is not None:
                                wj = wj * (sa1 * soft[i, j] + sa0)
                            gv -= Bs * wj
                        g[i, j] = gv
            if OP == BOOT and p1 == 0.0:
                tsum = block_sum(tsum, shf)
                loss = swi * (-p0 * logq + (1.0 - p0) * (logs - tsum / s))
            cuda.syncthreads()
            if tid == 0:
                if g is not None and y >= 0:
                    if SET:
                        g[i, y] = R(GY)
                    else:
                        g[i, y] = g[i, y] - R(GY)
                    if GK != 0.0 and k != y and k < C:
                        g[i, k] = g[i, k] - R(GK)
                if lo is not None:
                    lo[i] = R(loss)
                if cor is not None:
                    cor[i] = uint8(1 if k == y and bad == 0.0 else 0)
                acc += loss
            cuda.syncthreads()
        if tid == 0:
            part[cuda.blockIdx.x] = acc

    return kernel


def _make_positions(R):
    """cross_entropy over (n, C, s): one thread per position, C classes at stride s."""

    @cuda.jit(cache=True)
    def kernel(x, target, soft, cw, sw, C, S, ignore_index, ls, z, Wd, den, gs, g, lo,
               cor, part):
        sh = cuda.shared.array(EW_THREADS, float64)
        gsc = gs if den is None else den[1]
        W = float64(C) if Wd is None else Wd[0]
        acc = 0.0
        npos = x.size // C if C > 0 else 0
        sa1 = R(1) - R(ls)
        sa0 = R(ls / C)
        for q in range(cuda.grid(1), npos, cuda.gridDim.x * cuda.blockDim.x):
            i = q // S
            base = i * C * S + (q - i * S)
            swi = 1.0 if sw is None else float64(sw[i])
            coef = swi * gsc
            y = int64(-1)
            if target is not None:
                y = target[q]
                if y == ignore_index or y < 0 or y >= C:
                    if g is not None:
                        for j in range(C):
                            g[base + j * S] = R(0)
                    if lo is not None:
                        lo[q] = R(0)
                    if cor is not None:
                        cor[q] = uint8(0)
                    continue
            xy = float64(x[base + y * S]) if y >= 0 else 0.0
            m = -R(np.inf)
            k = int64(0)   # the argmax, ties to the lowest class
            bad = False    # a NaN, which the max skips
            a1 = 0.0
            a2 = 0.0
            for j in range(C):
                v = x[base + j * S]
                if v > m:
                    m = v
                    k = j
                bad = bad or v != v
                wj = R(1) if cw is None else cw[j]
                if soft is not None:
                    wt = wj * (sa1 * soft[base + j * S] + sa0)
                    a1 += float64(wt)
                    a2 += float64(wt * v)
                elif ls > 0.0:
                    a1 += float64(wj * v)
            mu = R(0) if m == -R(np.inf) else m
            s = 0.0
            for j in range(C):
                s += float64(R(math.exp(x[base + j * S] - mu)))
            lse = float64(mu) + math.log(s)
            wy = 1.0 if cw is None or y < 0 else float64(cw[y])
            loss, A, B, GY = _ce_post(soft is not None, a1, a2 if soft is not None else a1,
                                      lse, xy, wy, ls, z, W, C, coef)
            loss *= swi
            if lo is not None:
                lo[q] = R(loss)
            if cor is not None:
                cor[q] = uint8(1 if k == y and not bad else 0)
            acc += loss
            if g is not None:
                As = R(coef * A / s)
                Bs = R(B)
                for j in range(C):
                    gv = As * R(math.exp(x[base + j * S] - mu))
                    if B != 0.0:
                        wj = R(1) if cw is None else cw[j]
                        if soft is not None:
                            wj = wj * (sa1 * soft[base + j * S] + sa0)
                        gv -= Bs * wj
                    g[base + j * S] = gv
                if y >= 0:
                    g[base + y * S] = g[base + y * S] - R(GY)
        r = block_sum(acc, sh)
        if cuda.threadIdx.x == 0:
            part[cuda.blockIdx.x] = r

    return kernel


@cuda.jit(cache=True)
def _nll(x, target, cw, sw, C, S, ignore_index, den, gs, g, lo, part):
    """nll_loss over (n, C, s): the gradient's zeros element-wise, the value and the
    target's entry by the thread of each position's class 0."""
    sh = cuda.shared.array(EW_THREADS, float64)
    gsc = gs if den is None else den[1]
    acc = 0.0
    for e in range(cuda.grid(1), x.size, cuda.gridDim.x * cuda.blockDim.x):
        i = e // (C * S)
        rem = e - i * C * S
        j = rem // S
        q = i * S + (rem - j * S)
        y = target[q]
        valid = not (y == ignore_index or y < 0 or y >= C)
        wv = 0.0
        if valid:
            wv = 1.0 if cw is None else float64(cw[y])
            if sw is not None:
                wv *= float64(sw[i])
        if g is not None:
            g[e] = (-wv * gsc) if (valid and j == y) else 0.0
        if j == 0:
            loss = -wv * float64(x[e + (y - j) * S]) if valid else 0.0
            if lo is not None:
                lo[q] = loss
            acc += loss
    r = block_sum(acc, sh)
    if cuda.threadIdx.x == 0:
        part[cuda.blockIdx.x] = r


_KERNELS = {}


def _kernel(kind, dtype, threads=0):
    key = (kind, np.dtype(dtype).str, threads)
    k = _KERNELS.get(key)
    if k is None:
        R = numba.from_dtype(np.dtype(dtype))
        if kind == "positions":
            k = _make_positions(R)
        else:
            k = _make_rows(kind, R, threads)
        _KERNELS[key] = k
    return k


def row_threads(c):
    """Threads per row block: a power of two, at least a warp, at most ROW_THREADS."""
    t = ROW_THREADS
    if ROW_THREADS >= 32:
        t = 32
        while t < ROW_THREADS and t < c:
            t *= 2
    return t


def _flat(a):
    return None if a is None else a.reshape(a.size)


def _denominator(red, n, s, c, target, ignore_index, cw, sw):
    """(den on the device or None, the host divisor) of a mean over class targets
    (target given: the weight cw[y] * sw of the positions not ignored) or positions."""
    if red != rd.MEAN:
        return None, 0.0
    if target is not None:
        return rd.target_denominator(target, n, s, c, ignore_index, cw, sw, red), 0.0
    if sw is not None:
        return rd.weight_denominator(None, 0, n, 1, sw, red, float(s)), 0.0
    return None, float(n * s)


def cross_entropy(x, target, soft, cw, sw, ignore_index, ls, red, loss_out, g, s=1,
                  z_loss=0.0, nll=False, correct=None):
    """The device form of fastloss._cpu._kernels.cross_entropy: x (n, c * s)."""
    ctx = current()
    n = x.shape[0]
    c = x.shape[1] // s if s else 0
    g = None if g is None else g.reshape(x.shape)   # the public shapes, as the kernel's
    loss_out = _flat(loss_out)
    den, dh = _denominator(red, n, s, c, target, ignore_index,
                           cw if target is not None else None, sw)
    gs = rd.gscale_host(red, dh)
    W = None if cw is None or nll or not ls > 0.0 else rd.array_sum(cw)   # read with ls only
    if nll or s > 1 or n == 0:
        grid = grid_for(x.size if nll else n * s)
        part = ctx.empty(grid, np.float64)
        if n * s == 0 or c == 0:
            _zero(part, ctx)   # no work: the partial sums are zero
            if correct is not None and correct.size:
                _fill0[1, 32, ctx.stream](correct)   # every position is ignored
        elif nll:
            _nll[grid, EW_THREADS, ctx.stream](_flat(x), target, cw, sw, c, s, ignore_index,
                                               den, gs, _flat(g), loss_out, part)
        else:
            _kernel("positions", x.dtype)[grid, EW_THREADS, ctx.stream](
                _flat(x), target, _flat(soft), cw, sw, c, s, ignore_index, float(ls),
                float(z_loss), W, den, gs, _flat(g), loss_out, correct, part)
    else:
        t = row_threads(c)
        grid = max(1, min(n, max_blocks() * 4))
        part = ctx.empty(grid, np.float64)
        _kernel(CE, x.dtype, t)[grid, t, ctx.stream](
            x, target, soft, cw, sw, ignore_index, float(ls), float(z_loss), W, 0.0, 0.0,
            den, gs, g, loss_out, correct, part)
    if red == rd.NONE:
        return None
    return rd.finish(part, grid, red, den, dh, x.dtype)


def _zero(part, ctx):
    _fill0[1, 32, ctx.stream](part)


@cuda.jit
def _fill0(a):
    for i in range(cuda.threadIdx.x, a.size, cuda.blockDim.x):
        a[i] = 0


def rowwise(name, x, target, cw, sw, params, ignore_index, denom, red, loss_out, g):
    """The softmax row ops (ROW_OPS) on (n, c) logits; denom as fastloss._losses.DEN_*."""
    ctx = current()
    n, c = x.shape
    op = ROW_OPS[name]
    g = None if g is None else g.reshape(x.shape)
    loss_out = _flat(loss_out)
    dcw = cw if denom == 2 else None
    if denom == 0 or target is None:
        den, dh = (None, float(n)) if sw is None or red != rd.MEAN else \
            (rd.weight_denominator(None, 0, n, 1, sw, red, 1.0), 0.0)
        if red != rd.MEAN:
            dh = 0.0
    else:
        den, dh = _denominator(red, n, 1, c, target, ignore_index, dcw, sw)
    gs = rd.gscale_host(red, dh)
    p = (tuple(float(v) for v in params) + (0.0,) * 3)[:3]
    ls = p[1] if op == POLY1 else 0.0
    W = None if cw is None or op != POLY1 else rd.array_sum(cw)
    t = row_threads(c)
    grid = max(1, min(n, max_blocks() * 4))
    part = ctx.empty(grid, np.float64)
    if n == 0:
        _zero(part, ctx)
    else:
        # z carries symmetric_cross_entropy's A; p1 its beta, or the bootstrap's mode
        _kernel(op, x.dtype, t)[grid, t, ctx.stream](
            x, target, None, cw, sw, ignore_index, ls, p[2] if op == SCE else 0.0, W, p[0],
            p[1] if op in (SCE, BOOT) else 0.0, den, gs, g, loss_out, None, part)
    if red == rd.NONE:
        return None
    return rd.finish(part, grid, red, den, dh, x.dtype)
