"""Device ops of the margin group (csrc/ops_margin.h): its element-wise ops of
csrc/ops.def; see _elementwise for the op signature.

Kinks follow PyTorch's autograd, as the C kernels: max(v, 0) written as clamp_min passes
the gradient at v = 0; NaN propagates to the value and the gradient."""
from ._devmath import math

from numba import cuda


def build(R):

    @cuda.jit(device=True, inline=True)
    def clamp_step(v):
        """d max(v, 0) / dv as clamp_min: 1 for v >= 0, 0 for v < 0, NaN stays NaN"""
        return R(0) if v < R(0) else (R(1) if v >= R(0) else v)

    @cuda.jit(device=True, inline=True)
    def soft_margin_loss(x, t, y, pw, p0, p1, p2, p3):
        """z = -t x: l = softplus(z) = max(z, 0) + log1p(e), dl = -t sigmoid(z),
        with e = exp(-|z|)."""
        z = -t * x
        az = -z if z < R(0) else z
        e = R(math.exp(-az))
        r = R(1) / (R(1) + e)
        return ((z if z > R(0) else R(0)) + R(math.log1p(e)),
                -t * (e * r if z < R(0) else r),
                R(0))

    @cuda.jit(device=True, inline=True)
    def hinge_embedding_loss(x, t, y, pw, p0, p1, p2, p3):
        """p0 = margin, v = margin - x: l = x for t = 1, max(v, 0) for t = -1."""
        v = p0 - x
        return (x if t > R(0) else (R(0) if v < R(0) else v),
                R(1) if t > R(0) else -clamp_step(v),
                R(0))

    @cuda.jit(device=True, inline=True)
    def margin_ranking_loss(x, t, y, pw, p0, p1, p2, p3):
        """x = input1, y = input2, p0 = margin, v = -t (x - y) + margin:
        l = max(v, 0), dl/dx = -t step(v), dl/dy = t step(v)."""
        v = -t * (x - y) + p0
        s = clamp_step(v)
        return R(0) if v < R(0) else v, -t * s, t * s

    return {
        "soft_margin_loss": soft_margin_loss,
        "hinge_embedding_loss": hinge_embedding_loss,
        "margin_ranking_loss": margin_ranking_loss,
    }


__all__ = ["build"]
