"""Device ops of the binary group (csrc/ops_binary.h), one per element-wise op name of
csrc/ops.def, and binary_cross_entropy_with_logits (the BCE kernel of
csrc/kernels_body.h); see _elementwise for the op signature.

The formulas, selects and stable forms are the C kernels'; log1p(e) of e = exp(-|x|) is
math.log1p (the C's LOG1P_UNIT), and exp(-|x|) is math.exp (the C's EXP, and EXP_NP in
BCE with logits, which returns 0 where math.exp returns a subnormal number)."""
from ._devmath import math

import numpy as np
from numba import cuda

# PyTorch's BCE epsilon is the float nearest 1e-12, also in double
_BCE_EPS = float(np.float32(1e-12))


def _focal(R, G2):
    """sigmoid_focal_loss (p0 = A, p1 = B, p2 = gamma g; G2: g == 2, q^2 as a product).
    With e = exp(-|x|), r = 1 / (1 + e), sigmoid(x) = sig, sigmoid(-x) = sneg, u = 1 - t:
      q  = t sneg + u sig,  ce = t softplus(-x) + u softplus(x),  a_t = A t + B u,
      l  = a_t ce q^g,
      dl = a_t q^g (dce + g (1 - 2t) ce ratio),  dce = u sig - t sneg,
      ratio = p (1 - p) / q = e r^2 / q (0 at q == 0);  q^g = exp(g log q), 0^g = [g == 0]."""
    @cuda.jit(device=True, inline=True)
    def op(x, t, y, pw, p0, p1, p2, p3):
        ax = -x if x < R(0) else x
        e = R(math.exp(-ax))
        l1p = R(math.log1p(e))
        spp = (x if x > R(0) else R(0)) + l1p
        spn = (-x if x < R(0) else R(0)) + l1p
        r = R(1) / (R(1) + e)
        er = e * r
        sig = er if x < R(0) else r
        sneg = r if x < R(0) else er
        u = R(1) - t
        ce = t * spn + u * spp
        dce = u * sig - t * sneg
        q = t * sneg + u * sig
        if G2:
            qg = q * q
        else:
            qg = ((R(1) if p2 == R(0) else R(0)) if q == R(0)
                  else R(math.exp(p2 * R(math.log(q)))))
        ratio = R(0) if q == R(0) else er * r / q
        at = p0 * t + p1 * u
        return (at * (ce * qg),
                at * qg * (dce + p2 * (R(1) - R(2) * t) * ce * ratio),
                R(0))

    return op


def build(R):

    @cuda.jit(device=True, inline=True)
    def binary_cross_entropy(x, t, y, pw, p0, p1, p2, p3):
        """l = (t - 1) max(log1p(-x), -100) - t max(log x, -100),
        dl = (x - t) / max((1 - x) x, 1e-12f); the clamps keep NaN."""
        lx = R(math.log(x))
        l1x = R(math.log1p(-x))
        cx = R(-100) if lx < R(-100) else lx
        c1x = R(-100) if l1x < R(-100) else l1x
        v = (R(1) - x) * x
        eps = R(_BCE_EPS)
        return (t - R(1)) * c1x - t * cx, (x - t) / (eps if v < eps else v), R(0)

    @cuda.jit(device=True, inline=True)
    def kl_div(x, t, y, pw, p0, p1, p2, p3):
        """l = xlogy(t, t) - t x (0 log 0 = 0, NaN t gives NaN), dl = -t."""
        return (R(0) if t == R(0) else t * R(math.log(t))) - t * x, -t, R(0)

    @cuda.jit(device=True, inline=True)
    def kl_div_log_target(x, t, y, pw, p0, p1, p2, p3):
        """l = exp(t) (t - x), dl = -exp(t)."""
        et = R(math.exp(t))
        return et * (t - x), -et, R(0)

    @cuda.jit(device=True, inline=True)
    def binary_cross_entropy_with_logits(x, t, y, pw, p0, p1, p2, p3):
        """pw the positive-class weight: l = pw t softplus(-x) + (1 - t) softplus(x),
        dl = (1 - t) sigmoid(x) - pw t sigmoid(-x), both sigmoids from e = exp(-|x|)."""
        ax = -x if x < R(0) else x
        e = R(math.exp(-ax))
        r = R(1) / (R(1) + e)
        l1p = R(math.log1p(e))
        spp = (x if x > R(0) else R(0)) + l1p
        spn = (-x if x < R(0) else R(0)) + l1p
        er = e * r
        sig = er if x < R(0) else r
        sneg = r if x < R(0) else er
        ptv = pw * t
        return ptv * spn + (R(1) - t) * spp, (R(1) - t) * sig - ptv * sneg, R(0)

    return {
        "binary_cross_entropy": binary_cross_entropy,
        "kl_div": kl_div,
        "kl_div_log_target": kl_div_log_target,
        "sigmoid_focal_loss": _focal(R, False),
        "sigmoid_focal_loss_g2": _focal(R, True),
        "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
    }


__all__ = ["build"]
