"""Hypothesis property tests: shapes, strides, dtypes and options, CPU kernels against the
NumPy reference."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastloss as fl

from test_losses import assert_close

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
dtypes = st.sampled_from([np.float32, np.float64])
reductions = st.sampled_from(["mean", "sum", "none"])


def _strided(draw, arr):
    """The same values, possibly as a non-contiguous or Fortran-ordered view."""
    kind = draw(st.sampled_from(["c", "f", "step", "reversed"]))
    if arr.ndim == 0:
        return arr
    if kind == "f":
        return np.asfortranarray(arr)
    if kind == "step":
        big = np.zeros((arr.shape[0] * 2,) + arr.shape[1:], arr.dtype)
        big[::2] = arr
        return big[::2]
    if kind == "reversed":
        return arr[::-1].copy()[::-1]
    return arr


@SETTINGS
@given(data=st.data(), dtype=dtypes, reduction=reductions)
def test_cross_entropy_property(data, dtype, reduction):
    n = data.draw(st.integers(0, 40))
    c = data.draw(st.integers(1, 70))
    batched = data.draw(st.booleans()) or n != 1
    x = data.draw(hnp.arrays(dtype, (n, c), elements=st.floats(-50, 50, width=32)))
    ls = data.draw(st.sampled_from([0.0, 0.05, 0.5, 1.0]))
    kw = {"label_smoothing": ls, "reduction": reduction}
    if data.draw(st.booleans()):
        kw["weight"] = data.draw(hnp.arrays(dtype, (c,), elements=st.floats(0, 3, width=32)))
    if data.draw(st.booleans()):
        kw["sample_weight"] = data.draw(hnp.arrays(dtype, (n,), elements=st.floats(0, 3, width=32)))
    if data.draw(st.booleans()):
        ii = data.draw(st.sampled_from([-100, 0, c - 1]))
        t = data.draw(hnp.arrays(data.draw(st.sampled_from([np.int8, np.int32, np.int64])), (n,),
                                 elements=st.integers(0, min(c - 1, 127)) | st.just(ii if ii >= -128 else -100)))
        kw["ignore_index"] = ii if ii != -100 else -100
        t = np.where(t == -100, -100, t) if ii == -100 else t
    else:
        t = data.draw(hnp.arrays(dtype, (n, c), elements=st.floats(0, 1, width=32)))
    if not batched:
        x, t = x[0], t[0]
        kw.pop("sample_weight", None)
    x = _strided(data.draw, x)
    v, g = fl.cross_entropy.value_and_grad(x, t, **kw)
    vr, gr = fl.cross_entropy.value_and_grad(x, t, backend="numpy", **kw)
    assert_close(v, vr, dtype, "value", scale=_ce_soft_value_scale(x, t, kw, c))
    assert_close(g, gr, dtype, "grad", scale=_ce_grad_coefficient(t, kw, c))


def _ce_soft_value_scale(x, t, kw, c):
    """The kernel forms T * lse - S (probability targets) or w_y (lse - x_y) plus the
    smoothing term ls / C (W lse - sum w x) (class indices); their terms, of size
    sum_c w_c t'_c (|x_c| + |lse|) per row, cancel where the target sits on the largest
    logit: the value's error is relative to them, not to the (tiny) value."""
    t = np.asarray(t)
    x2 = np.atleast_2d(np.asarray(x, np.float64))
    if x2.shape[0] == 0:
        return 0.0
    if t.dtype.kind == "f":
        t2 = np.atleast_2d(t.astype(np.float64))
    else:   # class indices: the one-hot target, ignored rows all zero
        y = np.atleast_1d(t).astype(np.int64)
        ii = kw.get("ignore_index", -100)
        t2 = np.zeros_like(x2)
        ok = y != ii
        t2[np.nonzero(ok)[0], y[ok]] = 1.0
        x2 = np.where(ok[:, None], x2, 0.0)
    ls = kw["label_smoothing"]
    w = np.ones(c) if kw.get("weight") is None else kw["weight"].astype(np.float64)
    sw = np.ones(x2.shape[0]) if kw.get("sample_weight") is None \
        else kw["sample_weight"].astype(np.float64)
    m = x2.max(1, keepdims=True)
    lse = m + np.log(np.exp(x2 - m).sum(1, keepdims=True))
    b = sw * (w * ((1 - ls) * t2 + ls / c) * (np.abs(x2) + np.abs(lse))).sum(1)
    if kw["reduction"] == "none":
        return float(b.max())
    if kw["reduction"] == "sum":
        return float(b.sum())
    den = sw.sum() if t.dtype.kind == "f" else (sw * (t2 * w).sum(1)).sum()   # w_y sw
    return float(b.sum() / den) if den > 0 else 0.0


def _ce_grad_coefficient(t, kw, c):
    """The largest per-row gradient coefficient (row weight over the mean's divisor): the
    size of the terms p_j T and w_j t_j that cancel in a gradient entry."""
    t = np.atleast_1d(t) if np.ndim(t) < 2 and t.dtype.kind != "f" else np.atleast_2d(t)
    n = t.shape[0]
    cw = np.asarray(kw.get("weight", np.ones(c)), np.float64)
    sw = np.asarray(kw.get("sample_weight", np.ones(n)), np.float64)
    if t.dtype.kind == "f":
        row = sw * cw.max(initial=0.0) * np.maximum(t.sum(axis=1), 1.0)
        denom = sw.sum()
    else:
        ok = t != kw.get("ignore_index", -100)
        row = np.where(ok, cw[np.where(ok, t, 0)] * sw, 0.0) * (1 + cw.sum())
        denom = np.where(ok, cw[np.where(ok, t, 0)] * sw, 0.0).sum()
    top = row.max(initial=0.0)
    if kw["reduction"] == "mean":
        return top / denom if denom > 0 else 0.0
    return top


@SETTINGS
@given(data=st.data(), dtype=dtypes, reduction=reductions)
def test_elementwise_property(data, dtype, reduction):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=7))
    x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-30, 30, width=32)))
    t = data.draw(hnp.arrays(dtype, shape, elements=st.floats(0, 1, width=32)))
    kw = {"reduction": reduction}
    if shape and data.draw(st.booleans()):
        kw["sample_weight"] = data.draw(hnp.arrays(dtype, shape[:1], elements=st.floats(0, 2, width=32)))
    x = _strided(data.draw, x)
    loss = data.draw(st.sampled_from([fl.binary_cross_entropy_with_logits, fl.mse_loss]))
    if loss is fl.binary_cross_entropy_with_logits:
        for key in ("weight", "pos_weight"):
            if data.draw(st.booleans()):
                # a broadcastable shape: some trailing axes of the input, some set to 1
                k = data.draw(st.integers(0, len(shape)))
                wshape = tuple(d if data.draw(st.booleans()) else 1 for d in shape[len(shape) - k:])
                kw[key] = data.draw(hnp.arrays(dtype, wshape, elements=st.floats(0, 3, width=32)))
    v, g = loss.value_and_grad(x, t, **kw)
    vr, gr = loss.value_and_grad(x, t, backend="numpy", **kw)
    assert_close(v, vr, dtype, "value")
    assert_close(g, gr, dtype, "grad")


@SETTINGS
@given(data=st.data(), dtype=dtypes, reduction=reductions)
def test_cross_entropy_kdim_property(data, dtype, reduction):
    """(N, C, d1, ..., dk) with any position count, including segments cut at sample ends."""
    n = data.draw(st.integers(0, 4))
    c = data.draw(st.integers(1, 40))
    dims = tuple(data.draw(st.lists(st.integers(1, 300 if c < 8 else 30), min_size=1, max_size=3)))
    x = data.draw(hnp.arrays(dtype, (n, c) + dims, elements=st.floats(-50, 50, width=32)))
    kw = {"reduction": reduction, "label_smoothing": data.draw(st.sampled_from([0.0, 0.3])),
          "z_loss": data.draw(st.sampled_from([0.0, 1e-3]))}
    if data.draw(st.booleans()):
        kw["weight"] = data.draw(hnp.arrays(dtype, (c,), elements=st.floats(0, 3, width=32)))
    if data.draw(st.booleans()):
        t = data.draw(hnp.arrays(np.int64, (n,) + dims, elements=st.integers(0, c - 1) | st.just(-100)))
    else:
        t = data.draw(hnp.arrays(dtype, x.shape, elements=st.floats(0, 1, width=32)))
    v, g = fl.cross_entropy.value_and_grad(x, t, **kw)
    vr, gr = fl.cross_entropy.value_and_grad(x, t, backend="numpy", **kw)
    assert_close(v, vr, dtype, "value", scale=50.0 * c)
    assert_close(g, gr, dtype, "grad", scale=1.0)
