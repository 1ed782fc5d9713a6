"""Row-wise losses on the GPU: dice_loss (csrc/ops_binary.h), multi_margin_loss,
multilabel_soft_margin_loss, cosine_embedding_loss and triplet_margin_loss
(csrc/ops_margin.h), and the group lasso's row ops of fastloss.regularizers
(csrc/ops_penalty.h).

One thread per row (a grid-stride loop over the rows), each doing what the C row
function does for its row (the contract above FL_ROW_DEFINE in csrc/kernels_body.h):
sequential loops over the row's c * s values, sums in float64 where the C sums in
double, every value of a row read before that row's gradient is written (out= may be an
input), the gradient scaled by the reduction's scale times the sample weight, the row's
value times its sample weight stored for reduction "none" and summed in a float64
per-thread sum, then per-block partial sums and the fixed-order second stage of _reduce.

Every op is a device function built per floating type R (numba.float32 or float64),

    row(i, x, x2, x3, tg, t, rt, cw, sw, c, s, p0, p1, p2, p3, ignore, W, acc, gsc,
        lo, g, g2, g3) -> float64

over flat arrays (absent ones None): x, x2, x3, t of n * c * s values, tg the int64
class targets (n * s), rt one real target per row, cw the class weights (c), sw the
sample weights (n), p0..p3 the op's float64 parameters, W the sum of the class weights
(c without), acc a float64 scratch (4 c, n) (dice_loss only), gsc the gradient scale,
lo the row values (n) for reduction "none", g, g2, g3 the gradients of x, x2, x3.
Literals are written R(...): a bare 1.0 or 2 turns float32 arithmetic into float64.
Numba prunes a branch on `a is None` only where `a` itself is None: an optional array is
indexed only under a test of that same array."""
import math

import numba
import numpy as np
from numba import cuda, float64

from . import _reduce as rd
from ._runtime import EW_THREADS, block_sum, current, grid_for

DEN_ROWS, DEN_VALID, DEN_CLASS_W = 0, 1, 2          # what "mean" divides by (FL_DEN_*)
DICE_IDENTITY, DICE_SIGMOID, DICE_SOFTMAX = 0, 1, 2  # dice_loss' activation (p1)
TRI_P1, TRI_P2, TRI_PG, TRI_PINF = 1, 2, 3, 4        # triplet_margin_loss' norm

_INF = math.inf
_NAN = math.nan
_COS_EPS = float(np.float32(1e-12))   # PyTorch's EPSILON, a float constant

_ROWS = {}       # dtype str -> {name: row device function}
_KERNELS = {}    # (name, dtype str) -> kernel


def build(R):
    """{name: row device function} for the floating type R."""
    # fl_exp*_nonpos gives 0 below -126.5 ln2 (float64: -1022.5 ln2), not a subnormal
    exp_np_min = (-126.5 if R.bitwidth == 32 else -1022.5) * math.log(2.0)

    @cuda.jit(device=True)
    def row_sw(sw, i):
        return 1.0 if sw is None else float64(sw[i])

    @cuda.jit(device=True)
    def store(lo, i, v):
        if lo is not None:
            lo[i] = R(v)
        return v

    @cuda.jit(device=True)
    def exp_np(v):
        """exp(v) for v <= 0, 0 where fl_exp*_nonpos flushes"""
        return R(0) if v < R(exp_np_min) else R(math.exp(v))

    # ------------------------------------------------------------- dice_loss ----
    # Per class k over the s positions, with p the activation of x (identity, sigmoid,
    # softmax over the classes) and t the target (or [y = k] for class indices; ignored
    # positions count in no sum and get a zero gradient):
    #   I = sum p t, P = sum p, T = sum t, U = sum p (1 - t) + t (1 - p), D = P + T + smooth,
    #   l = sum_k w_k U_k / D_k / W,  dl/dp = A_k t + B_k,  A_k = -2 w_k / (W D_k),
    #   B_k = w_k (2 I_k + smooth) / (W D_k^2),
    # chained through the activation.  The per-class sums live in acc[q c + k, i]
    # (q = 0..3: I, P, T, U), then A_k in I's place and B_k in P's.

    @cuda.jit(device=True)
    def dice_pos(tg, e, c, ignore):
        """(class, valid) of target position e: (-1, True) for probability targets,
        (-1, False) where the index is ignored or out of range"""
        if tg is None:
            return -1, True
        y = tg[e]
        if y == ignore or y < 0 or y >= c:
            return -1, False
        return y, True

    @cuda.jit(device=True)
    def dice_target(t, e, y, k):
        """the target of class k at flat index e, in float64: t, or [y = k] for index
        targets (t None)"""
        if t is not None:
            return float64(t[e])
        return 1.0 if y == k else 0.0

    @cuda.jit(device=True)
    def dice_softmax(x, e0, c, s):
        """the softmax terms of the position at e0 (class k at e0 + k s): the shift mu
        (the max, NaN skipped; 0 where every class is -inf), rs = 1 / sum exp(x - mu),
        uniq (one class at the max), q1 = 1 - p of that class (0 otherwise), cnt = the
        number of classes at the max"""
        mu = R(-_INF)
        for k in range(c):
            xv = x[e0 + k * s]
            mu = xv if xv > mu else mu
        if mu == R(-_INF):
            mu = R(0)
        se = 0.0
        rest = 0.0
        cnt = 0.0
        for k in range(c):
            xv = x[e0 + k * s]
            ev = R(math.exp(xv - mu))
            se += float64(ev)
            if xv == mu:
                cnt += 1.0
            else:
                rest += float64(ev)
        uniq = cnt == 1.0
        q1 = R(rest / se) if uniq else R(0)
        return mu, R(1.0 / se), uniq, q1, cnt

    @cuda.jit(device=True)
    def dice_sums_softmax(x, t, tg, i, base, c, s, ignore, acc):
        for q in range(4 * c):
            acc[q, i] = 0.0
        for j in range(s):
            e0 = base + j
            mu, rs, uniq, q1, cnt = dice_softmax(x, e0, c, s)
            y, valid = dice_pos(tg, i * s + j, c, ignore)
            for k in range(c):
                e = e0 + k * s
                xv = x[e]
                p = R(math.exp(xv - mu)) * rs
                omp = q1 if (xv == mu and uniq) else R(1) - p
                tv = R(dice_target(t, e, y, k))
                if valid:
                    acc[k, i] += float64(p * tv)
                    acc[c + k, i] += float64(p)
                    acc[3 * c + k, i] += float64(p * (R(1) - tv) + tv * omp)
                acc[2 * c + k, i] += float64(tv)

    @cuda.jit(device=True)
    def dice_sums(x, t, tg, i, base, c, s, ignore, sig, acc):
        for k in range(c):
            si = 0.0
            sp = 0.0
            st = 0.0
            su = 0.0
            for j in range(s):
                e = base + k * s + j
                xv = x[e]
                if sig:
                    ax = -xv if xv < R(0) else xv
                    ev = R(math.exp(-ax))
                    r = R(1) / (R(1) + ev)
                    p = ev * r if xv < R(0) else r
                    omp = r if xv < R(0) else ev * r
                else:
                    p = xv
                    omp = R(1) - xv
                y, valid = dice_pos(tg, i * s + j, c, ignore)
                tv = R(dice_target(t, e, y, k))
                if valid:
                    si += float64(p * tv)
                    sp += float64(p)
                    su += float64(p * (R(1) - tv) + tv * omp)
                st += float64(tv)
            acc[k, i] = si
            acc[c + k, i] = sp
            acc[2 * c + k, i] = st
            acc[3 * c + k, i] = su

    @cuda.jit(device=True)
    def dice_grad_softmax(x, t, tg, i, base, c, s, ignore, acc, g):
        """dx_k = p_k ((g_k - g_m) + R), R = sum_j (g_m - g_j) p_j, g_m the mean of g
        over the classes at the max; a position is read whole before it is written"""
        for j in range(s):
            e0 = base + j
            mu, rs, uniq, q1, cnt = dice_softmax(x, e0, c, s)
            y, valid = dice_pos(tg, i * s + j, c, ignore)
            gm = float64(0)   # the simulator's NumPy scalar: 0 / 0 gives NaN, not an error
            for k in range(c):
                e = e0 + k * s
                if x[e] == mu:
                    gm += acc[k, i] * dice_target(t, e, y, k) + acc[c + k, i]
            gm = gm / cnt
            rr = 0.0
            for k in range(c):
                e = e0 + k * s
                gv = acc[k, i] * dice_target(t, e, y, k) + acc[c + k, i]
                rr += (gm - gv) * float64(R(math.exp(x[e] - mu)) * rs)
            for k in range(c):
                e = e0 + k * s
                gv = acc[k, i] * dice_target(t, e, y, k) + acc[c + k, i]
                p = R(math.exp(x[e] - mu)) * rs
                g[e] = R(float64(p) * ((gv - gm) + rr)) if valid else R(0)

    @cuda.jit(device=True)
    def dice_grad(x, t, tg, i, base, c, s, ignore, sig, acc, g):
        """dx = dl/dp (identity) or dl/dp p (1 - p) (sigmoid)"""
        for k in range(c):
            ak = acc[k, i]
            bk = acc[c + k, i]
            for j in range(s):
                e = base + k * s + j
                xv = x[e]
                y, valid = dice_pos(tg, i * s + j, c, ignore)
                gv = ak * dice_target(t, e, y, k) + bk
                if sig:
                    ax = -xv if xv < R(0) else xv
                    ev = R(math.exp(-ax))
                    r = R(1) / (R(1) + ev)
                    dx = R(gv) * (ev * r * r)
                else:
                    dx = R(gv)
                g[e] = dx if valid else R(0)

    @cuda.jit(device=True)
    def dice_loss(i, x, x2, x3, tg, t, rt, cw, sw, c, s, p0, p1, p2, p3, ignore, W, acc,
                  gsc, lo, g, g2, g3):
        # p0 = smooth, p1 = the activation; class-index targets take identity or softmax
        act = int(p1)
        if tg is not None and act != DICE_SOFTMAX:
            act = DICE_IDENTITY
        base = i * c * s
        if act == DICE_SOFTMAX:
            dice_sums_softmax(x, t, tg, i, base, c, s, ignore, acc)
        else:
            dice_sums(x, t, tg, i, base, c, s, ignore, act == DICE_SIGMOID, acc)
        swv = row_sw(sw, i)
        tot = 0.0
        for k in range(c):
            d = acc[c + k, i] + acc[2 * c + k, i] + p0
            wk = 1.0 if cw is None else float64(cw[k])
            tot += 0.0 if d == 0.0 else wk * (acc[3 * c + k, i] / d)
        loss = swv * (tot / W)
        if g is not None:
            coef = swv * gsc / W
            for k in range(c):
                d = acc[c + k, i] + acc[2 * c + k, i] + p0
                wk = 1.0 if cw is None else float64(cw[k])
                n2 = 2.0 * acc[k, i] + p0
                acc[k, i] = 0.0 if d == 0.0 else -coef * wk * 2.0 / d
                acc[c + k, i] = 0.0 if d == 0.0 else coef * wk * n2 / (d * d)
            if act == DICE_SOFTMAX:
                dice_grad_softmax(x, t, tg, i, base, c, s, ignore, acc, g)
            else:
                dice_grad(x, t, tg, i, base, c, s, ignore, act == DICE_SIGMOID, acc, g)
        return store(lo, i, loss)

    # ----------------------------------------------------- multi_margin_loss ----
    # p0 = p in {1, 2}, p1 = margin; target class y:
    #   l = w_y / C sum_{j != y} max(0, margin - x_y + x_j)^p,
    #   dl/dx_j = w_y / C h'(z_j) (h'(z) = 1 or 2z for z > 0, 0 for z <= 0),
    #   dl/dx_y = -sum_{j != y} dl/dx_j.

    @cuda.jit(device=True)
    def multi_margin_loss(i, x, x2, x3, tg, t, rt, cw, sw, c, s, p0, p1, p2, p3, ignore, W,
                          acc, gsc, lo, g, g2, g3):
        base = i * c
        y = tg[i]
        if y < 0 or y >= c:   # validated before: keeps reads in bounds
            y = 0
        wy = 1.0 if cw is None else float64(cw[y])
        k = row_sw(sw, i) * wy / float64(c)
        b = R(p1) - x[base + y]   # x_y read before g may overwrite it
        gc = R(k * gsc)
        sq = p0 == 2.0
        l = 0.0
        d = 0.0
        for j in range(c):
            if j == y:
                continue
            z = b + x[base + j]
            zp = R(0) if z < R(0) else z   # max(z, 0); NaN stays NaN
            if sq:
                dh = R(2) * zp
                l += float64(zp * zp)
            else:
                dh = R(1) if z > R(0) else zp * R(0)
                l += float64(zp)
            d += float64(dh)
            if g is not None:
                g[base + j] = gc * dh
        if g is not None:
            g[base + y] = R(-k * gsc * d)
        return store(lo, i, k * l)

    # ------------------------------------------- multilabel_soft_margin_loss ----
    # l = 1/C sum_k w_k [t_k softplus(-x_k) + (1 - t_k) softplus(x_k)],
    # dl/dx_k = w_k (sigmoid(x_k) - t_k) / C: BCE with logits over the row (bce_inner).

    @cuda.jit(device=True)
    def multilabel_soft_margin_loss(i, x, x2, x3, tg, t, rt, cw, sw, c, s, p0, p1, p2, p3,
                                    ignore, W, acc, gsc, lo, g, g2, g3):
        base = i * c
        k = row_sw(sw, i) / float64(c)
        gc = R(k * gsc)
        a = 0.0
        for j in range(c):
            xv = x[base + j]
            tv = t[base + j]
            ax = -xv if xv < R(0) else xv
            e = exp_np(-ax)
            u = R(1) + e
            r = R(1) / u
            l1p = R(math.log(u)) + (e - (u - R(1))) * r   # log1p(e), u in [1, 2]
            spp = (xv if xv > R(0) else R(0)) + l1p
            spn = (-xv if xv < R(0) else R(0)) + l1p
            er = e * r
            sig = er if xv < R(0) else r
            sneg = r if xv < R(0) else er
            l = tv * spn + (R(1) - tv) * spp
            wv = R(1) if cw is None else cw[j]
            if g is not None:
                g[base + j] = gc * wv * ((R(1) - tv) * sig - tv * sneg)
            a += float64(wv * l)
        return store(lo, i, k * a)

    # ------------------------------------------------- cosine_embedding_loss ----
    # x1 = x, x2, rt = +-1, p0 = margin; cos = x1.x2 / sqrt((|x1|^2 + e)(|x2|^2 + e)):
    #   l = 1 - cos (t = 1), max(0, cos - margin) (t = -1),
    #   dcos/dx1 = x2 / den - cos x1 / m1, dcos/dx2 = x1 / den - cos x2 / m2.

    @cuda.jit(device=True)
    def cosine_embedding_loss(i, x, x2, x3, tg, t, rt, cw, sw, c, s, p0, p1, p2, p3, ignore,
                              W, acc, gsc, lo, g, g2, g3):
        base = i * c
        dot = 0.0
        s1 = 0.0
        s2 = 0.0
        for j in range(c):
            u = float64(x[base + j])
            v = float64(x2[base + j])
            dot += u * v
            s1 += u * u
            s2 += v * v
        m1 = s1 + _COS_EPS
        m2 = s2 + _COS_EPS
        den = math.sqrt(m1 * m2)
        cs = dot / den
        tv = float64(rt[i])
        swv = row_sw(sw, i)
        h = cs - p0
        l = 1.0 - cs if tv > 0.0 else (0.0 if h < 0.0 else h)
        if g is not None:
            dl = -1.0 if tv > 0.0 else (0.0 if h < 0.0 else (1.0 if h >= 0.0 else h))
            a = swv * gsc * dl
            cc = R(a / den)
            b1 = R(a * cs / m1)
            b2 = R(a * cs / m2)
            for j in range(c):
                u = x[base + j]
                v = x2[base + j]
                g[base + j] = cc * v - b1 * u
                g2[base + j] = cc * u - b2 * v
        return store(lo, i, swv * l)

    # --------------------------------------------------- triplet_margin_loss ----
    # x = anchor, x2 = positive, x3 = negative; p0 = margin, p1 = p, p2 = eps, p3 = swap:
    #   l = max(margin + d(a, p) - d_neg, 0),  d(a, b) = ||a - b + eps||_p,
    #   d_neg = d(a, n), or min(d(a, n), d(p, n)) with swap (a tie splits the gradient).

    @cuda.jit(device=True)
    def tri_norm(a, b, base, n_, eps, p, kind):
        """(||u||_p, count) of u_j = (a_j - b_j) + eps: p = 1 and 2 sum in float64; other p
        sum (|u_j| / m)^p, m = max |u_j|; p = inf gives m and the count of entries at m;
        NaN anywhere gives NaN"""
        if kind == TRI_P1 or kind == TRI_P2:
            acc_ = 0.0
            for j in range(n_):
                u = a[base + j] - b[base + j] + eps
                if kind == TRI_P1:
                    acc_ += float64(-u if u < R(0) else u)
                else:
                    acc_ += float64(u) * float64(u)
            return (acc_ if kind == TRI_P1 else math.sqrt(acc_)), 1.0
        m = R(0)
        z = R(0)   # NaN when some u is NaN or infinite
        for j in range(n_):
            u = a[base + j] - b[base + j] + eps
            au = -u if u < R(0) else u
            m = au if au > m else m
            z += u * R(0)
        if z != z and m != R(_INF):
            return _NAN, 1.0
        if z != z:
            for j in range(n_):
                u = a[base + j] - b[base + j] + eps
                if u != u:
                    return _NAN, 1.0
        if kind == TRI_PINF:
            cnt = 0.0
            for j in range(n_):
                u = a[base + j] - b[base + j] + eps
                if (-u if u < R(0) else u) == m:
                    cnt += 1.0
            return float64(m), cnt
        if m == R(0) or m == R(_INF):
            return float64(m), 1.0
        pr = R(p)
        acc_ = 0.0
        for j in range(n_):
            u = a[base + j] - b[base + j] + eps
            au = -u if u < R(0) else u
            # (|u| / m)^p, 0 at u = 0 (exp(p log 0) = 0)
            acc_ += 0.0 if au == R(0) else float64(R(math.exp(pr * R(math.log(au / m)))))
        return float64(m) * math.exp(math.log(acc_) / p), 1.0

    @cuda.jit(device=True)
    def tri_dnorm(u, nr, q, pm1, kind):
        """d||u||_p / du_j as PyTorch's norm_backward (nr the norm in R, q = 1 / count
        for p = inf, pm1 = p - 1); sgn(0) = 0, NaN stays NaN"""
        sg = R(1) if u > R(0) else (R(-1) if u < R(0) else u * R(0))
        if kind == TRI_P1:
            return sg
        if kind == TRI_P2:
            return R(0) if nr == R(0) else u / nr
        au = -u if u < R(0) else u
        if kind == TRI_PINF:
            return sg * q if (au == nr or u != u) else R(0)
        return R(0) if u == R(0) else sg * R(math.exp(pm1 * R(math.log(au / nr))))

    @cuda.jit(device=True)
    def triplet_margin_loss(i, x, x2, x3, tg, t, rt, cw, sw, c, s, p0, p1, p2, p3, ignore, W,
                            acc, gsc, lo, g, g2, g3):
        base = i * c
        eps = R(p2)
        swap = p3 != 0.0
        if p1 == 2.0:
            kind = TRI_P2
        elif p1 == 1.0:
            kind = TRI_P1
        elif R(p1) == R(_INF):   # also a finite p beyond R's range
            kind = TRI_PINF
        else:
            kind = TRI_PG
        dap, c0 = tri_norm(x, x2, base, c, eps, p1, kind)
        dan, c1 = tri_norm(x, x3, base, c, eps, p1, kind)
        dpn = 0.0
        c2 = 1.0
        dneg = dan
        wan = 1.0
        wpn = 0.0
        if swap:
            dpn, c2 = tri_norm(x2, x3, base, c, eps, p1, kind)
            dneg = dpn if dpn != dpn else (dpn if dpn < dan else dan)
            wan = 0.0 if dan > dpn else (0.5 if dan == dpn else 1.0)
            wpn = 0.0 if dan < dpn else (0.5 if dan == dpn else 1.0)
        v = p0 + dap - dneg
        swv = row_sw(sw, i)
        loss = store(lo, i, swv * (0.0 if v < 0.0 else v))
        if g is not None:
            a = swv * gsc * (0.0 if v < 0.0 else (1.0 if v >= 0.0 else v))
            n0 = R(dap)
            n1 = R(dan)
            n2 = R(dpn)
            q0 = R(1.0 / c0)
            q1 = R(1.0 / c1)
            q2 = R(1.0 / c2)
            pm1 = R(p1 - 1.0)
            cap = R(a)
            can = R(a * wan)
            cpn = R(a * wpn)
            for j in range(c):
                e = base + j
                av = x[e]
                pv = x2[e]
                nv = x3[e]
                dap_j = cap * tri_dnorm(av - pv + eps, n0, q0, pm1, kind)
                dan_j = can * tri_dnorm(av - nv + eps, n1, q1, pm1, kind)
                dpn_j = cpn * tri_dnorm(pv - nv + eps, n2, q2, pm1, kind) if swap else R(0)
                g[e] = dap_j - dan_j
                g2[e] = -dap_j - dpn_j
                g3[e] = dan_j + dpn_j
        return loss

    # ----------------------------------------------------------- group_lasso ----
    # (fastloss.regularizers, csrc/ops_penalty.h) each row a group; t the trainable mask
    # (1 trainable, 0 frozen) or None; the norm of t x in float64.
    #   group_lasso: value ||w_i||, gradient p0 w_i / ||w_i|| (p0 = strength; 0 for a
    #                zero row), times t;
    #   group_lasso_prox: w_i max(0, 1 - p0 / ||w_i||) (p0 = step strength; 0 for a zero
    #                row, NaN for NaN) written into g (= x), frozen elements kept.

    @cuda.jit(device=True)
    def gl_sumsq(x, t, base, n_):
        ss = 0.0
        for j in range(n_):
            if t is None:
                v = float64(x[base + j])
            else:
                v = float64(t[base + j] * x[base + j])
            ss += v * v
        return ss

    @cuda.jit(device=True)
    def group_lasso(i, x, x2, x3, tg, t, rt, cw, sw, c, s, p0, p1, p2, p3, ignore, W, acc,
                    gsc, lo, g, g2, g3):
        n_ = c * s
        base = i * n_
        swv = row_sw(sw, i)
        nrm = math.sqrt(gl_sumsq(x, t, base, n_))
        if g is not None:
            k = R(0) if nrm == 0.0 else R(p0 * gsc * swv / nrm)
            for j in range(n_):
                e = base + j
                if t is None:
                    g[e] = k * x[e]
                else:
                    g[e] = k * (t[e] * x[e])
        return store(lo, i, swv * nrm)

    @cuda.jit(device=True)
    def group_lasso_prox(i, x, x2, x3, tg, t, rt, cw, sw, c, s, p0, p1, p2, p3, ignore, W,
                         acc, gsc, lo, g, g2, g3):
        n_ = c * s
        base = i * n_
        nrm = math.sqrt(gl_sumsq(x, t, base, n_))
        if nrm != nrm:
            f = nrm
        elif nrm > p0:
            f = 1.0 - p0 / nrm
        else:
            f = 0.0
        F = R(f)
        if g is not None:
            for j in range(n_):
                e = base + j
                if t is None:
                    g[e] = F * x[e]
                else:
                    g[e] = F * x[e] if t[e] != R(0) else x[e]
        return store(lo, i, 0.0)

    return {"dice_loss": dice_loss, "multi_margin_loss": multi_margin_loss,
            "multilabel_soft_margin_loss": multilabel_soft_margin_loss,
            "cosine_embedding_loss": cosine_embedding_loss,
            "triplet_margin_loss": triplet_margin_loss,
            "group_lasso": group_lasso, "group_lasso_prox": group_lasso_prox}


def rows_for(dtype):
    key = np.dtype(dtype).str
    if key not in _ROWS:
        _ROWS[key] = build(numba.from_dtype(np.dtype(dtype)))
    return _ROWS[key]


def op_names():
    return sorted(rows_for(np.float64))


def _make_kernel(row):
    @cuda.jit(cache=True)
    def kernel(x, x2, x3, tg, t, rt, cw, sw, n, c, s, p0, p1, p2, p3, ignore, cws, acc, den,
               gs, lo, g, g2, g3, part):
        sh = cuda.shared.array(EW_THREADS, float64)
        gsc = gs if den is None else den[1]
        w_sum = float64(c) if cws is None else cws[0]
        v = 0.0
        for i in range(cuda.grid(1), n, cuda.gridDim.x * cuda.blockDim.x):
            v += row(i, x, x2, x3, tg, t, rt, cw, sw, c, s, p0, p1, p2, p3, ignore, w_sum,
                     acc, gsc, lo, g, g2, g3)
        b = block_sum(v, sh)
        if cuda.threadIdx.x == 0:
            part[cuda.blockIdx.x] = b

    return kernel


def kernel_for(name, dtype):
    key = (name, np.dtype(dtype).str)
    k = _KERNELS.get(key)
    if k is None:
        k = _KERNELS[key] = _make_kernel(rows_for(dtype)[name])
    return k


def _flat(a):
    return None if a is None else a.reshape(a.size)


def run(name, x, s, x2, x3, target, t, rt, class_w, sw, params, ignore_index, denom, red,
        loss_out, g1, g2, g3):
    """The value of row-wise op `name` over x (n, c * s) (a device array of shape () for
    "sum"/"mean", None for "none", whose per-row values go to loss_out (n,)), the
    gradients of x, x2, x3 into g1, g2, g3; the arguments as the CPU binding's rowwise."""
    ctx = current()
    n = x.shape[0]
    c = x.shape[1] // s
    p = (tuple(float(v) for v in params) + (0.0,) * 4)[:4]
    den, denom_host = None, rd.host_denominator(red, n, 1, True)
    if red == rd.MEAN:
        if denom == DEN_ROWS or target is None:
            if sw is not None:
                den = rd.weight_denominator(None, 0, n, 1, sw, red, 1.0)
        else:
            den = rd.target_denominator(target, n, s, c, ignore_index,
                                        class_w if denom == DEN_CLASS_W else None, sw, red)
    gs = rd.gscale_host(red, denom_host)
    cws = acc = None
    if name == "dice_loss":   # the only op that reads W and the per-class scratch
        if target is not None:
            t = None          # class-index targets take precedence, as in the C
        acc = ctx.empty((4 * c, n), np.float64)
        if class_w is not None:
            cws = rd.weight_denominator(class_w, 1, 1, c, None, rd.SUM, 1.0)
    grid = grid_for(n)
    part = ctx.empty(grid, np.float64)
    kernel_for(name, x.dtype)[grid, EW_THREADS, ctx.stream](
        _flat(x), _flat(x2), _flat(x3), _flat(target), _flat(t), _flat(rt), class_w, sw,
        n, c, s, p[0], p[1], p[2], p[3], int(ignore_index), cws, acc, den, gs,
        _flat(loss_out), _flat(g1), _flat(g2), _flat(g3), part)
    if red == rd.NONE:
        return None
    return rd.finish(part, grid, red, den, denom_host, x.dtype)
