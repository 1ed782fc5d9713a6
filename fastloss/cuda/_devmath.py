"""Scalar device functions shared by the ops, built per floating type R (numba.float32 or
numba.float64): ``m = build(R)`` gives m.softplus, m.sigmoid, m.sign, m.log_sigmoid.

math.exp, math.log, math.log1p, math.expm1, math.tanh and math.pow on an R value compile
to CUDA's libdevice functions of that precision (expf for float32), accurate to 1-2 ulp.

Numba's simulator runs device functions as Python, whose math module raises where a GPU
follows IEEE 754 (math.exp(1e4): OverflowError; math.log(0), math.log1p(-1): ValueError;
a GPU gives inf, -inf).  Under the simulator ``math`` here is NumPy's functions of those
names, which return inf, -inf and NaN as a GPU does: an ops module that takes
``from ._devmath import math`` runs its overflowing and log(0) branches there too."""
import math
import types

import numpy as np
from numba import cuda

from ._runtime import SIMULATOR

_BUILT = {}


def _quiet(f):
    """NumPy's f without its floating-point warnings"""
    def g(*args):
        with np.errstate(all="ignore"):
            return f(*args)
    return g


if SIMULATOR:
    math = types.SimpleNamespace(
        inf=np.inf, exp=_quiet(np.exp), log=_quiet(np.log), log1p=_quiet(np.log1p),
        expm1=_quiet(np.expm1), tanh=_quiet(np.tanh), pow=_quiet(np.power))


def build(R):
    if R in _BUILT:
        return _BUILT[R]

    @cuda.jit(device=True, inline=True)
    def sign(r):
        """1, -1, 0 at 0, NaN for NaN (torch.sign)"""
        if r > R(0):
            return R(1)
        if r < R(0):
            return R(-1)
        return r * R(0)

    @cuda.jit(device=True, inline=True)
    def softplus(x):
        """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)); NaN passes"""
        a = -x if x < R(0) else x
        mx = x if x > R(0) else R(0)
        return mx + R(math.log1p(math.exp(-a)))

    @cuda.jit(device=True, inline=True)
    def sigmoid(x):
        """1 / (1 + exp(-x)) without overflow at either end"""
        if x >= R(0):
            return R(1) / (R(1) + R(math.exp(-x)))
        e = R(math.exp(x))
        return e / (R(1) + e)

    m = types.SimpleNamespace(sign=sign, softplus=softplus, sigmoid=sigmoid)
    _BUILT[R] = m
    return m
