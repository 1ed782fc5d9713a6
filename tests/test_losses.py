"""Table-driven tests: every loss of the table, every option, float32 and float64, every
SIMD level the CPU supports, against the NumPy reference and finite differences."""
import numpy as np
import pytest

import fastloss as fl
from fastloss._registry import LOSSES, TABLE

from cases import CASES, GRAD_FREE_OF_INPUT, LARGE, SMALL, STOP_GRADIENT

DTYPES = (np.float32, np.float64)
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def _case_ids(name):
    return [cid for cid, _, _ in CASES[name](np.float64, np.random.default_rng(0))]


def _case(name, dtype, rng, cid):
    for c, args, kw in CASES[name](dtype, rng):
        if c == cid:
            return args, kw
    raise KeyError(cid)


def assert_close(actual, expected, dtype, what, scale=0.0):
    """Norm-wise relative agreement: |a - e| <= rtol * (|e| + max(max|e|, scale)), NaN where
    NaN.  `scale` is the size of the terms that may cancel in each entry, for results that
    cancel to (nearly) zero."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    assert np.array_equal(nan_a, nan_e), f"{what}: NaN positions differ"
    a, e = a[~nan_e], e[~nan_e]
    inf = np.isinf(e)
    assert np.array_equal(a[inf], e[inf]), f"{what}: infinities differ"
    a, e = a[~inf], e[~inf]
    if e.size == 0:
        return
    rtol = RTOL[np.dtype(dtype)]
    scale = max(np.max(np.abs(e)), scale)
    err = np.abs(a - e)
    bad = err > rtol * (np.abs(e) + scale)
    assert not bad.any(), (f"{what}: max abs error {err.max():.3g}, max |expected| {scale:.3g}, "
                           f"{bad.sum()} of {e.size} outside rtol {rtol}")


def test_every_loss_has_cases():
    for spec in TABLE:
        for what in (CASES, SMALL, LARGE):
            assert spec.name in what, f"{spec.name} has no test cases"
    assert set(CASES) == set(LOSSES), "cases for a loss not in the table"


def _grads(spec, g):
    """The gradients of a result as a tuple, one per differentiable input."""
    return g if len(spec.grad_wrt) > 1 else (g,)


def _diff_positions(spec):
    return [spec.inputs.index(n) for n in spec.grad_wrt]


def basic(name, rng, dtype=np.float64):
    """The first SMALL case, its float arrays cast to dtype (copies)."""
    args, kw = next(iter(SMALL[name](rng)))
    cast = lambda a: a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
    return [cast(np.array(a)) if isinstance(a, np.ndarray) else a for a in args], \
        {k: cast(v) for k, v in kw.items()}


PARAMS = [(name, cid) for name in LOSSES for cid in _case_ids(name)]


def _sum_scale(loss, args, kw, reduction, value):
    """The size of the terms a reduced value sums, |per-sample values| summed (divided by
    the mean's divisor): a sum of terms of both signs can cancel to far below them, and
    its rounding error is relative to them, not to the result."""
    if reduction == "none":
        return 0.0
    with np.errstate(all="ignore"):
        per = np.asarray(loss(*args, reduction="none", backend="numpy", **kw), np.float64)
        size = float(np.sum(np.abs(per)))
        if reduction != "sum":
            total = float(loss(*args, reduction="sum", backend="numpy", **kw))
            size = size * abs(float(value) / total) if total != 0 else 0.0
    return size if np.isfinite(size) else 0.0


RPARAMS = [(n, c, r) for n, c in PARAMS for r in LOSSES[n].reductions]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name,cid,reduction", RPARAMS, ids=[f"{n}-{c}-{r}" for n, c, r in RPARAMS])
def test_agrees_with_reference(name, cid, reduction, dtype, rng, simd):
    loss = getattr(fl, name)
    args, kw = _case(name, dtype, rng, cid)
    spec = LOSSES[name]
    v, g = loss.value_and_grad(*args, reduction=reduction, **kw)
    vr, gr = loss.value_and_grad(*args, reduction=reduction, backend="numpy", **kw)
    assert np.asarray(v).dtype == dtype
    assert_close(v, vr, dtype, f"{name} value", _sum_scale(loss, args, kw, reduction, vr))
    for k, pos, gk, grk in zip(range(9), _diff_positions(spec), _grads(spec, g), _grads(spec, gr)):
        assert gk.dtype == dtype and gk.shape == np.shape(args[pos])
        assert_close(gk, grk, dtype, f"{name} grad {k}")
    # the value-only and gradient-only entry points give the same numbers
    v2 = loss(*args, reduction=reduction, **kw)
    g2 = loss.grad(*args, reduction=reduction, **kw)
    np.testing.assert_array_equal(np.asarray(v2), np.asarray(v))
    for gk, g2k in zip(_grads(spec, g), _grads(spec, g2)):
        np.testing.assert_array_equal(g2k, gk)


@pytest.mark.parametrize("name", [n for n, s in LOSSES.items() if "batchmean" in s.reductions])
def test_batchmean_where_offered(name, rng):
    """"batchmean" (kl_div's) is the sum over the summed sample weight."""
    args, kw = basic(name, rng)
    n = np.shape(args[0])[0]
    sw = kw.get("sample_weight")
    total = n if sw is None else np.sum(sw)
    for backend in ("cpu", "numpy"):
        v = getattr(fl, name)(*args, reduction="batchmean", backend=backend, **kw)
        s = getattr(fl, name)(*args, reduction="sum", backend=backend, **kw)
        assert v == pytest.approx(s / total, rel=1e-13)


def _fd_grad(f, x, h=1e-6):
    """Central differences of the scalar f at x (float64)."""
    g = np.zeros_like(x)
    flat = x.reshape(-1)
    for i in range(flat.size):
        step = h * max(1.0, abs(flat[i]))
        old = flat[i]
        flat[i] = old + step
        fp = f(x)
        flat[i] = old - step
        fm = f(x)
        flat[i] = old
        g.reshape(-1)[i] = (fp - fm) / (2 * step)
    return g


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", [n for n in LOSSES if n not in STOP_GRADIENT])
def test_gradient_matches_finite_differences(name, reduction, backend, rng):
    """Every differentiable input, against central differences of the reference.  (Losses
    in STOP_GRADIENT hold part of the value constant in their documented gradient; their
    group tests check it with that part frozen.)"""
    loss = getattr(fl, name)
    spec = LOSSES[name]
    for args, kw in SMALL[name](rng):
        g = _grads(spec, loss.grad(*args, reduction=reduction, backend=backend, **kw))
        for k, pos in enumerate(_diff_positions(spec)):
            a = list(args)
            x = np.array(args[pos], dtype=np.float64)

            def f(z):
                a[pos] = z
                return float(np.sum(loss(*a, reduction=reduction, backend="numpy", **kw)))

            fd = _fd_grad(f, x.copy())
            np.testing.assert_allclose(g[k], fd, rtol=1e-6,
                                       atol=1e-8 * max(1.0, np.abs(fd).max()),
                                       err_msg=f"gradient {k} ({spec.grad_wrt[k]})")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_bitwise_identical_for_any_thread_count(name, reduction, dtype, rng, simd):
    loss = getattr(fl, name)
    spec = LOSSES[name]
    args, kw = LARGE[name](dtype, rng)
    assert np.size(args[0]) >= 65536, "LARGE case too small to run on several threads"
    v1, g1 = loss.value_and_grad(*args, reduction=reduction, n_threads=1, **kw)
    for nt in (2, 3, 4):
        v, g = loss.value_and_grad(*args, reduction=reduction, n_threads=nt, **kw)
        assert np.asarray(v).tobytes() == np.asarray(v1).tobytes(), f"value differs at {nt} threads"
        for gk, g1k in zip(_grads(spec, g), _grads(spec, g1)):
            assert gk.tobytes() == g1k.tobytes(), f"gradient differs at {nt} threads"


# ----------------------------------------------------------- mean over nothing ----

@pytest.mark.parametrize("backend", ["cpu", "numpy"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_mean_over_nothing_is_zero(dtype, backend, rng):
    x = rng.standard_normal((6, 4)).astype(dtype)
    t = rng.integers(0, 4, 6)
    cases = [
        (fl.cross_entropy, (x[:0], t[:0]), {}),
        (fl.cross_entropy, (x, np.full(6, -100)), {}),
        (fl.cross_entropy, (x, t), {"sample_weight": np.zeros(6)}),
        (fl.cross_entropy, (x, np.zeros(6, np.int64)), {"weight": np.array([0, 1, 1, 1.0])}),
        (fl.binary_cross_entropy_with_logits, (x[:0], x[:0]), {}),
        (fl.binary_cross_entropy_with_logits, (x, np.abs(np.tanh(x))), {"sample_weight": np.zeros(6)}),
        (fl.mse_loss, (x[:0], x[:0]), {}),
        (fl.mse_loss, (x, x + 1), {"sample_weight": np.zeros(6)}),
    ]
    for loss, args, kw in cases:
        v, g = loss.value_and_grad(*args, backend=backend, **kw)
        assert v == 0.0 and not np.isnan(v), (loss, kw)
        assert not np.any(g), (loss, kw)


@pytest.mark.parametrize("name", list(LOSSES))
def test_zero_total_weight_still_propagates_nan(name, rng):
    """Zero weights make the mean's divisor 0, but NaN in the data is not hidden: the value
    is NaN and the gradient NaN where the data is; both backends agree."""
    loss = getattr(fl, name)
    spec = LOSSES[name]
    args, kw = basic(name, rng)
    args[0][1] = np.nan
    kw["sample_weight"] = np.zeros(np.shape(args[0])[0])
    results = [loss.value_and_grad(*args, backend=b, reduction="mean", **kw) for b in ("cpu", "numpy")]
    for v, g in results:
        assert np.isnan(v)
        g0 = _grads(spec, g)[0]
        assert np.isnan(g0[1]).any() or name in GRAD_FREE_OF_INPUT
        for gk in _grads(spec, g):
            if np.shape(gk) != np.shape(args[0]):
                # a broadcast parameter's gradient sums over the samples, the NaN one too
                assert np.isnan(gk).any()
                continue
            rest = np.delete(gk, 1, axis=0)
            assert not np.isnan(rest).any() and not rest.any()
    for gc, gn in zip(_grads(spec, results[0][1]), _grads(spec, results[1][1])):
        np.testing.assert_array_equal(gc, gn)


# --------------------------------------------------------------- NaN and layout ----

@pytest.mark.parametrize("ls", [0.0, 0.1])
@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_nan_in_a_leading_chunk_of_a_wide_row(backend, ls, simd):
    """A row whose first online chunk is all NaN (or NaN and -inf) must still give NaN."""
    x = np.zeros((2, 2048))
    x[0, :1024] = np.nan
    x[1, :1024] = -np.inf
    x[1, 5] = np.nan
    t = np.array([2000, 2000])
    per = fl.cross_entropy(x, t, label_smoothing=ls, reduction="none", backend=backend)
    assert np.isnan(per).all()
    v, g = fl.cross_entropy.value_and_grad(x, t, label_smoothing=ls, backend=backend)
    assert np.isnan(v) and np.isnan(g).all()


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_nan_input_propagates(name, backend, rng):
    loss = getattr(fl, name)
    spec = LOSSES[name]
    args, kw = basic(name, rng)
    args[0][1] = np.nan
    per = loss(*args, reduction="none", backend=backend, **kw)
    assert np.isnan(np.asarray(per)).any()
    assert np.isnan(loss(*args, backend=backend, reduction="mean", **kw))
    v, g = loss.value_and_grad(*args, backend=backend, reduction="mean", **kw)
    assert np.isnan(v)
    assert np.isnan(_grads(spec, g)[0]).any() or name in GRAD_FREE_OF_INPUT


class MyArray(np.ndarray):
    pass


@pytest.mark.parametrize("layout", ["strided", "fortran", "readonly", "memmap", "subclass", "list",
                                    "big-endian"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_layouts_are_accepted(name, layout, rng, tmp_path):
    """Every float array argument in any layout gives the same result as C-contiguous."""
    loss = getattr(fl, name)
    spec = LOSSES[name]
    args, kw = basic(name, rng)
    v0, g0 = loss.value_and_grad(*args, **kw)
    for pos, x in enumerate(args):
        if not (isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.ndim >= 1):
            continue
        if layout == "strided":
            big = np.zeros(tuple(2 * d for d in x.shape))
            big[(slice(None, None, 2),) * x.ndim] = x
            xx = big[(slice(None, None, 2),) * x.ndim]
        elif layout == "fortran":
            xx = np.asfortranarray(x)
        elif layout == "readonly":
            xx = x.copy()
            xx.setflags(write=False)
        elif layout == "memmap":
            xx = np.memmap(tmp_path / f"x{pos}.bin", dtype=x.dtype, mode="w+", shape=x.shape)
            xx[...] = x
            xx.flush()
            xx = np.memmap(tmp_path / f"x{pos}.bin", dtype=x.dtype, mode="r", shape=x.shape)
        elif layout == "subclass":
            xx = x.view(MyArray)
        elif layout == "big-endian":
            xx = x.astype(x.dtype.newbyteorder(">"))
        else:
            xx = x.tolist()
        a = list(args)
        a[pos] = xx
        v, g = loss.value_and_grad(*a, **kw)
        np.testing.assert_array_equal(v, v0)
        for gk, g0k in zip(_grads(spec, g), _grads(spec, g0)):
            np.testing.assert_array_equal(gk, g0k)
            assert type(gk) is np.ndarray


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("backend", ["cpu", "numpy"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_out_preallocated_and_in_place(name, backend, dtype, rng):
    loss = getattr(fl, name)
    spec = LOSSES[name]
    args, kw = basic(name, rng, dtype)
    multi = len(spec.grad_wrt) > 1
    pos = _diff_positions(spec)
    wrap = (lambda t: tuple(t)) if multi else (lambda t: t[0])
    v0, g0 = loss.value_and_grad(*args, backend=backend, **kw)
    g0 = _grads(spec, g0)
    out = wrap([np.empty_like(args[p]) for p in pos])
    v, g = loss.value_and_grad(*args, out=out, backend=backend, **kw)
    assert g is out
    np.testing.assert_array_equal(v, v0)
    for gk, g0k in zip(_grads(spec, g), g0):
        np.testing.assert_array_equal(gk, g0k)
    out2 = wrap([np.empty_like(args[p]) for p in pos])
    assert loss.grad(*args, out=out2, backend=backend, **kw) is out2
    for gk, g0k in zip(_grads(spec, out2), g0):
        np.testing.assert_array_equal(gk, g0k)
    # in place: each gradient over its own input
    a = [np.array(x) if k in pos else x for k, x in enumerate(args)]
    inplace = wrap([a[p] for p in pos])
    v, g = loss.value_and_grad(*a, out=inplace, backend=backend, **kw)
    assert g is inplace
    np.testing.assert_array_equal(v, v0)
    for p, g0k in zip(pos, g0):
        np.testing.assert_array_equal(a[p], g0k)


def _takes_out(name, cid):
    """Whether every differentiable input of the case is a float array, which out= can be
    (a Python float or an integer array `var` is not)."""
    args, _ = _case(name, np.float64, np.random.default_rng(0), cid)
    return all(isinstance(args[p], np.ndarray) and args[p].dtype.kind == "f"
               for p in _diff_positions(LOSSES[name]))


OUT_PARAMS = [(n, c) for n, c in PARAMS if _takes_out(n, c)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name,cid", OUT_PARAMS, ids=[f"{n}-{c}" for n, c in OUT_PARAMS])
def test_in_place_every_case(name, cid, dtype, rng):
    """out= the input itself gives bitwise the value and gradient of a separate out=, for
    every case and reduction (kernels that store intermediates in the gradient must read
    each input value before writing over it)."""
    loss = getattr(fl, name)
    spec = LOSSES[name]
    args, kw = _case(name, dtype, rng, cid)
    pos = _diff_positions(spec)
    wrap = (lambda t: tuple(t)) if len(pos) > 1 else (lambda t: t[0])
    for red in spec.reductions:
        v0, g0 = loss.value_and_grad(*args, reduction=red, **kw)
        a = [np.array(x, order="C") if k in pos else x for k, x in enumerate(args)]
        v, g = loss.value_and_grad(*a, out=wrap([a[p] for p in pos]), reduction=red, **kw)
        np.testing.assert_array_equal(np.asarray(v), np.asarray(v0), err_msg=f"{red} value")
        for p, g0k in zip(pos, _grads(spec, g0)):
            np.testing.assert_array_equal(a[p], g0k, err_msg=f"{red} gradient")


def test_value_types():
    x = np.zeros((3, 2), np.float32)
    t = np.zeros(3, np.int64)
    v = fl.cross_entropy(x, t)
    assert isinstance(v, np.float32)
    assert fl.cross_entropy(x, t, reduction="none").dtype == np.float32
    assert fl.cross_entropy(x.astype(np.float64), t).dtype == np.float64
    assert np.shape(fl.cross_entropy(x[0], np.int64(1), reduction="none")) == ()
    assert fl.mse_loss(x, x, reduction="none").shape == (3, 2)


def test_known_values():
    """Hand-computed values, independent of both implementations."""
    # uniform logits over 4 classes: loss = log 4 for every sample
    x = np.zeros((3, 4))
    assert fl.cross_entropy(x, np.array([0, 1, 3])) == pytest.approx(np.log(4), rel=1e-15)
    # logits (0, log 3): p = (1/4, 3/4); target 0 -> log 4; gradient (p - onehot) / N
    x = np.array([[0.0, np.log(3.0)]])
    v, g = fl.cross_entropy.value_and_grad(x, np.array([0]))
    assert v == pytest.approx(np.log(4), rel=1e-14)
    np.testing.assert_allclose(g, [[-0.75, 0.75]], rtol=1e-14)
    # BCE at logit 0 is log 2 for any target; gradient sigmoid(0) - t
    v, g = fl.binary_cross_entropy_with_logits.value_and_grad(np.zeros(2), np.array([0.0, 1.0]), reduction="sum")
    assert v == pytest.approx(2 * np.log(2), rel=1e-15)
    np.testing.assert_allclose(g, [0.5, -0.5], rtol=1e-15)
    # BCE at large logits: loss = |x| for the wrong label, ~exp(-|x|) for the right one
    v = fl.binary_cross_entropy_with_logits(np.array([-30.0, 30.0], np.float32), np.array([1.0, 1.0], np.float32), reduction="none")
    np.testing.assert_allclose(v, [30.0, np.exp(-30.0)], rtol=1e-6)
    assert fl.mse_loss(np.array([1.0, 2.0]), np.array([0.0, 0.0])) == 2.5


def test_signatures_follow_torch():
    import inspect

    s = inspect.signature(fl.cross_entropy)
    assert list(s.parameters)[:6] == ["input", "target", "weight", "ignore_index", "reduction", "label_smoothing"]
    assert s.parameters["ignore_index"].default == -100
    assert s.parameters["sample_weight"].kind is inspect.Parameter.KEYWORD_ONLY
    s = inspect.signature(fl.binary_cross_entropy_with_logits.value_and_grad)
    assert list(s.parameters)[:5] == ["input", "target", "weight", "reduction", "pos_weight"]
    assert "out" in s.parameters
    assert list(inspect.signature(fl.mse_loss).parameters)[:3] == ["input", "target", "reduction"]
