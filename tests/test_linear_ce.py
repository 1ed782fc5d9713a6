"""Fused linear cross-entropy (fastloss._linear_ce for NumPy, fastloss._torch_linear_ce for
PyTorch) against the unfused computation: the NumPy reference cross-entropy of the full
logits h @ W.T + b with its analytic gradient G (d_hidden = G @ W, d_weight = G.T @ h,
d_bias = G.sum(0)), and torch autograd through F.cross_entropy(F.linear(h, W, b), t)."""
import tracemalloc

import numpy as np
import pytest

from fastloss import _linear_ce as lce
from fastloss.reference.losses import cross_entropy as ref_cross_entropy

from test_losses import assert_close

DTYPES = (np.float32, np.float64)
REDUCTIONS = ("mean", "sum", "none")
N, H, V = 23, 6, 9
CHUNKS = (None, 1, 4, 5, 23, 100)   # default, one row, not dividing N, dividing the 20
                                    # rows not ignored, N itself, more than N


def _inputs(rng, dtype, n=N, h=H, v=V, bias=True, ignored=True, ignore_index=-100):
    x = rng.standard_normal((n, h)).astype(dtype)
    w = (rng.standard_normal((v, h)) * 0.7).astype(dtype)
    b = rng.standard_normal(v).astype(dtype) if bias else None
    t = rng.integers(0, v, n)
    if ignored and n:
        t[::6] = ignore_index
    return x, w, b, t


def _expected(x, w, b, t, reduction, label_smoothing=0.0, ignore_index=-100):
    """Value and the three gradients from the full float64 logits (the unfused way)."""
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    logits = x64 @ w64.T + (0.0 if b is None else b.astype(np.float64))
    value, g = ref_cross_entropy(logits, t, ignore_index=ignore_index, reduction=reduction,
                                 label_smoothing=label_smoothing)
    return value, g @ w64, g.T @ x64, (None if b is None else g.sum(0))


def _check(got, want, dtype, what, h=H):
    (v, (dh, dw, db)), (ve, dhe, dwe, dbe) = got, want
    assert_close(v, ve, dtype, f"{what} value")
    # the gradients are sums of terms of both signs: compare at the size of the terms
    scale = float(np.abs(dwe).max()) if dwe.size else 0.0
    assert_close(dh, dhe, dtype, f"{what} d_hidden", scale)
    assert_close(dw, dwe, dtype, f"{what} d_weight", scale)
    if dbe is None:
        assert db is None
    else:
        assert_close(db, dbe, dtype, f"{what} d_bias", scale)
    assert dh.dtype == dw.dtype == dtype


# ----------------------------------------------------------------- NumPy ----

@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_numpy_matches_unfused(dtype, reduction, bias, rng):
    x, w, b, t = _inputs(rng, dtype, bias=bias)
    for ls in (0.0, 0.2):
        want = _expected(x, w, b, t, reduction, ls)
        for cs in CHUNKS:
            what = f"ls={ls} chunk_size={cs}"
            got = lce.linear_cross_entropy_value_and_grad(x, w, t, b, label_smoothing=ls,
                                                          reduction=reduction, chunk_size=cs)
            _check(got, want, dtype, what)
            v = lce.linear_cross_entropy(x, w, t, b, label_smoothing=ls, reduction=reduction,
                                         chunk_size=cs)
            assert_close(v, want[0], dtype, f"{what} value-only path")
            if reduction == "none":
                assert v.shape == (N,) and not v[::6].any()     # ignored tokens: 0
            else:
                assert np.ndim(v) == 0 and v.dtype == dtype


def test_numpy_other_ignore_index_and_layouts(rng):
    """ignore_index other than -100; non-contiguous and Fortran-ordered inputs, any
    integer target dtype (BLAS may round differently for other layouts: close, not
    bitwise)."""
    x, w, b, t = _inputs(rng, np.float64, ignore_index=3)
    want = _expected(x, w, b, t, "mean", 0.1, ignore_index=3)
    got = lce.linear_cross_entropy_value_and_grad(x, w, t, b, ignore_index=3,
                                                  label_smoothing=0.1, chunk_size=4)
    _check(got, want, np.float64, "ignore_index=3")
    xs = np.asfortranarray(x)
    wide = np.zeros((V, 2 * H))
    wide[:, ::2] = w
    ws = wide[:, ::2]                      # strided view
    got2 = lce.linear_cross_entropy_value_and_grad(xs, ws, t.astype(np.int16), b,
                                                   ignore_index=3, label_smoothing=0.1,
                                                   chunk_size=4)
    _check(got2, want, np.float64, "layouts")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_numpy_empty_and_all_ignored(reduction, rng):
    """A mean over nothing is 0.0 with zero gradients (fastloss's rule, not NaN)."""
    for n, ignored in ((0, False), (7, True)):
        x, w, b, t = _inputs(rng, np.float32, n=n, ignored=False)
        if ignored:
            t[:] = -100
        v, (dh, dw, db) = lce.linear_cross_entropy_value_and_grad(x, w, t, b,
                                                                  reduction=reduction)
        if reduction == "none":
            assert v.shape == (n,) and not v.any()
        else:
            assert v == 0.0 and not np.isnan(v)
        assert dh.shape == (n, H) and dw.shape == (V, H) and db.shape == (V,)
        assert not dh.any() and not dw.any() and not db.any()


def test_numpy_float16(rng):
    """float16 in: computed in float32, returned in float16, close to the float64 result
    of the same (float16-rounded) numbers."""
    x, w, b, t = _inputs(rng, np.float16)
    want = _expected(x, w, b, t, "mean", 0.1)
    v, grads = lce.linear_cross_entropy_value_and_grad(x, w, t, b, label_smoothing=0.1,
                                                       chunk_size=4)
    assert v.dtype == np.float16 and all(g.dtype == np.float16 for g in grads)
    for got, exp, what in zip((v,) + grads, want, ("value", "dh", "dw", "db")):
        exp = np.asarray(exp)
        np.testing.assert_allclose(np.asarray(got, np.float64), exp, rtol=2e-3,
                                   atol=2e-3 * np.abs(exp).max(), err_msg=what)


def test_numpy_nan_propagates_ignored_rows_do_not(rng):
    x, w, b, t = _inputs(rng, np.float64)
    x[0] = np.nan                   # row 0 is ignored (t[::6]): drops out
    v, (dh, dw, db) = lce.linear_cross_entropy_value_and_grad(x, w, t, b)
    assert np.isfinite(v) and np.isfinite(dw).all() and not dh[0].any()
    x[1, 0] = np.nan                # a row that counts: NaN
    v, (dh, dw, db) = lce.linear_cross_entropy_value_and_grad(x, w, t, b)
    assert np.isnan(v) and np.isnan(dw).any()


def test_numpy_never_makes_the_full_logits(rng):
    """The point of fusing: with chunks of 64 rows, the peak NumPy allocation stays far
    below the (N, V) logits (16 MB here), near the gradients plus one chunk."""
    n, h, v, cs = 2048, 8, 1000, 64
    x, w, b, t = _inputs(rng, np.float64, n=n, h=h, v=v)
    logits_bytes = n * v * 8
    grads_bytes = (n * h + v * h + v) * 8
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        got = lce.linear_cross_entropy_value_and_grad(x, w, t, b, chunk_size=cs)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < grads_bytes + 4 * cs * v * 8 + 2**20, (peak, logits_bytes)
    assert peak < logits_bytes / 8
    _check(got, _expected(x, w, b, t, "mean"), np.float64, "large n", h)


def test_numpy_default_chunk_size():
    assert lce.default_chunk_size(10**6, 32000, 4) == lce.CHUNK_BYTES // (32000 * 4)
    assert lce.default_chunk_size(10**6, 32000, 8) == lce.CHUNK_BYTES // (32000 * 8)
    assert lce.default_chunk_size(10**6, 10**7, 4) == lce.MIN_CHUNK_ROWS
    assert lce.default_chunk_size(10, 100, 4) == 10
    assert lce.default_chunk_size(0, 100, 4) == 1


def test_numpy_n_threads_bitwise(rng):
    x, w, b, t = _inputs(rng, np.float32, n=300, v=200)
    one = lce.linear_cross_entropy_value_and_grad(x, w, t, b, n_threads=1)
    two = lce.linear_cross_entropy_value_and_grad(x, w, t, b, n_threads=2)
    assert one[0] == two[0]
    for a, c in zip(one[1], two[1]):
        np.testing.assert_array_equal(a, c)


# ---------------------------------------------------------------- bad input ----

def _bad_cases(x, w, b, t):
    """(what to change, exception, the argument its message must start with)."""
    xi = x.astype(np.int64)
    return [
        (dict(hidden=x[0]), ValueError, "hidden"),
        (dict(hidden=x[None]), ValueError, "hidden"),
        (dict(hidden=xi, weight=w.astype(np.int64)), TypeError, "hidden"),
        (dict(hidden=x.astype(np.complex128)), TypeError, "hidden"),
        (dict(weight=w[:, :-1]), ValueError, "weight"),
        (dict(weight=w[0]), ValueError, "weight"),
        (dict(weight=w[:0]), ValueError, "weight"),
        (dict(weight=w.astype(np.float32)), TypeError, "weight"),
        (dict(bias=b[:-1]), ValueError, "bias"),
        (dict(bias=b[None]), ValueError, "bias"),
        (dict(bias=b.astype(np.float32)), TypeError, "bias"),
        (dict(target=t.astype(np.float64)), TypeError, "target"),
        (dict(target=t[:-1]), ValueError, "target"),
        (dict(target=t[:, None]), ValueError, "target"),
        (dict(target=np.where(np.arange(N) == N - 1, V, t)), ValueError, "target"),
        (dict(target=np.where(np.arange(N) == N - 1, -1, t)), ValueError, "target"),
        (dict(target=t, ignore_index=-1), ValueError, "target"),      # -100 now a class
        (dict(ignore_index=1.5), TypeError, "ignore_index"),
        (dict(label_smoothing=1.5), ValueError, "label_smoothing"),
        (dict(label_smoothing=-0.1), ValueError, "label_smoothing"),
        (dict(label_smoothing="0.1"), TypeError, "label_smoothing"),
        (dict(reduction="batchmean"), ValueError, "reduction"),
        (dict(reduction=None), ValueError, "reduction"),
        (dict(chunk_size=0), ValueError, "chunk_size"),
        (dict(chunk_size=2.5), TypeError, "chunk_size"),
        (dict(chunk_size=True), TypeError, "chunk_size"),
        (dict(n_threads=0), ValueError, "n_threads"),
        (dict(n_threads="2"), TypeError, "n_threads"),
    ]


def _args(x, w, b, t, change):
    kw = dict(hidden=x, weight=w, target=t, bias=b)
    kw.update(change)
    return kw


@pytest.mark.parametrize("fn", ["value", "value_and_grad"])
def test_numpy_bad_input(fn, rng):
    f = lce.linear_cross_entropy if fn == "value" else lce.linear_cross_entropy_value_and_grad
    x, w, b, t = _inputs(rng, np.float64)
    for change, exc, name in _bad_cases(x, w, b, t):
        with pytest.raises(exc) as info:
            f(**_args(x, w, b, t, change))
        assert str(info.value).startswith(name + ":"), (change, str(info.value))


def test_numpy_bad_target_raises_before_any_kernel(rng, monkeypatch):
    import fastloss
    calls = []
    real = fastloss.cross_entropy

    class Spy:
        def __call__(self, *a, **k):
            calls.append(1)
            return real(*a, **k)

        def value_and_grad(self, *a, **k):
            calls.append(1)
            return real.value_and_grad(*a, **k)

    monkeypatch.setattr(fastloss, "cross_entropy", Spy())
    x, w, b, t = _inputs(rng, np.float64)
    t[-1] = V
    with pytest.raises(ValueError, match=f"target: class index {V} at position {N - 1}"):
        lce.linear_cross_entropy_value_and_grad(x, w, t, b, chunk_size=1)
    assert not calls
    t[-1] = 0
    lce.linear_cross_entropy_value_and_grad(x, w, t, b, chunk_size=1)
    assert len(calls) == np.count_nonzero(t != -100)      # the spy does see the chunks


# ---------------------------------------------------------------- PyTorch ----

torch = pytest.importorskip("torch")
F = torch.nn.functional
TL = pytest.importorskip("fastloss._torch_linear_ce")
TORCH_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


def _leaves(x, w, b, dtype=None):
    out = []
    for a in (x, w, b):
        if a is None:
            out.append(None)
            continue
        ta = torch.from_numpy(np.array(a))
        if dtype is not None:
            ta = ta.to(dtype)
        out.append(ta.requires_grad_(True))
    return out


def _torch_run(fn, x, w, b, t, upstream, **kw):
    """fn(h, W, t, b, **kw), backward with `upstream`; value and the three gradients."""
    h_, w_, b_ = _leaves(x, w, b)
    v = fn(h_, w_, torch.from_numpy(t), b_, **kw)
    v.backward(torch.as_tensor(upstream, dtype=v.dtype))
    return v.detach(), h_.grad, w_.grad, (None if b_ is None else b_.grad)


def _unfused(h, w, t, b, reduction="mean", label_smoothing=0.0, ignore_index=-100,
             chunk_size=None):
    return F.cross_entropy(F.linear(h, w, b), t, reduction=reduction,
                           label_smoothing=label_smoothing, ignore_index=ignore_index)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_torch_matches_torch_autograd(dtype, reduction, bias, rng):
    x, w, b, t = _inputs(rng, dtype, bias=bias)
    upstream = (rng.standard_normal(N) if reduction == "none" else 1.7)
    for ls in (0.0, 0.2):
        kw = dict(reduction=reduction, label_smoothing=ls)
        want = _torch_run(_unfused, x, w, b, t, upstream, **kw)
        # the NumPy reference agrees with torch autograd (the scaled unfused gradient)
        ve, dhe, dwe, dbe = _expected(x, w, b, t, reduction, ls)
        if reduction == "none":
            g = upstream[:, None] * _expected_rows(x, w, b, t, ls)
            dhe, dwe, dbe = g @ w.astype(np.float64), g.T @ x.astype(np.float64), \
                (None if b is None else g.sum(0))
        else:
            dhe, dwe = upstream * dhe, upstream * dwe
            dbe = None if dbe is None else upstream * dbe
        for a, e, what in zip(want, (ve, dhe, dwe, dbe), ("v", "dh", "dw", "db")):
            if e is not None:
                assert_close(a.numpy(), e, dtype, f"torch autograd vs reference {what}",
                             np.abs(dwe).max())
        for cs in CHUNKS:
            got = _torch_run(TL.linear_cross_entropy, x, w, b, t, upstream, chunk_size=cs,
                             **kw)
            for a, e, what in zip(got, want, ("value", "d_hidden", "d_weight", "d_bias")):
                if e is None:
                    assert a is None
                    continue
                assert a.dtype == e.dtype and a.shape == e.shape, what
                assert_close(a.numpy(), e.numpy(), dtype, f"ls={ls} cs={cs} {what}",
                             float(want[2].abs().max()))


def _expected_rows(x, w, b, t, ls):
    """The per-token gradient rows G of the full logits (gradient of the sum)."""
    logits = x.astype(np.float64) @ w.astype(np.float64).T
    if b is not None:
        logits = logits + b
    return ref_cross_entropy(logits, t, reduction="none", label_smoothing=ls)[1]


def test_numpy_matches_torch(rng):
    for reduction in REDUCTIONS:
        x, w, b, t = _inputs(rng, np.float64)
        upstream = np.ones(N) if reduction == "none" else 1.0
        want = _torch_run(_unfused, x, w, b, t, upstream, reduction=reduction,
                          label_smoothing=0.1)
        v, grads = lce.linear_cross_entropy_value_and_grad(x, w, t, b, reduction=reduction,
                                                           label_smoothing=0.1, chunk_size=4)
        for a, e, what in zip((v,) + grads, want, ("value", "dh", "dw", "db")):
            assert_close(a, e.numpy(), np.float64, f"{reduction} {what}")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_torch_empty_and_all_ignored_follow_torch(reduction, rng):
    """PyTorch's rule: a mean over nothing is NaN with zero gradients."""
    for n, ignored in ((0, False), (7, True)):
        x, w, b, t = _inputs(rng, np.float64, n=n, ignored=False)
        if ignored:
            t[:] = -100
        up = np.ones(n) if reduction == "none" else 1.0
        want = _torch_run(_unfused, x, w, b, t, up, reduction=reduction)
        got = _torch_run(TL.linear_cross_entropy, x, w, b, t, up, reduction=reduction)
        if reduction == "mean":
            assert torch.isnan(want[0]) and torch.isnan(got[0])
        for a, e in zip(got, want):
            assert a.shape == e.shape
            torch.testing.assert_close(a, e, equal_nan=True, rtol=0, atol=0)
        assert not got[2].any() and not got[3].any()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_torch_gradcheck(reduction, rng):
    x, w, b, t = _inputs(rng, np.float64, n=7, h=3, v=5)
    t[1] = -100
    h_, w_, b_ = _leaves(x, w, b)
    tt = torch.from_numpy(t)
    for cs in (2, None):
        def f(h, w, b):
            return TL.linear_cross_entropy(h, w, tt, b, reduction=reduction,
                                           label_smoothing=0.15, chunk_size=cs)
        assert torch.autograd.gradcheck(f, (h_, w_, b_))


def _op_args(rng, bias=True, mask=7, reduction="mean"):
    x, w, b, t = _inputs(rng, np.float64, n=7, h=3, v=5, bias=bias)
    h_, w_, b_ = _leaves(x, w, b)
    return (h_, w_, torch.from_numpy(t), b_, -100, 0.1, reduction, 3, mask, 1)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_torch_opcheck(reduction, rng):
    for bias, mask in ((True, 7), (False, 3), (True, 2)):
        m = 0 if reduction == "none" else mask
        torch.library.opcheck(torch.ops.fastloss.linear_cross_entropy.default,
                              _op_args(rng, bias, m, reduction))
    h_, w_, t_, b_, *_ = _op_args(rng)
    g = torch.from_numpy(rng.standard_normal(7))
    torch.library.opcheck(torch.ops.fastloss.linear_cross_entropy_backward.default,
                          (h_.detach(), w_.detach(), t_, b_.detach(), g, -100, 0.1, 3, 7, 1))


def test_torch_retain_graph_and_accumulation(rng):
    """Two backward passes through one graph (retain_graph), with upstream 1 and then 2.5,
    accumulate as torch's own: the saved gradients handed on by the first are recomputed
    for the second."""
    x, w, b, t = _inputs(rng, np.float64)
    res = []
    for fn in (_unfused, TL.linear_cross_entropy):
        h_, w_, b_ = _leaves(x, w, b)
        v = fn(h_, w_, torch.from_numpy(t), b_, label_smoothing=0.1)
        v.backward(retain_graph=True)
        first = w_.grad.clone()
        v.backward(torch.tensor(2.5, dtype=v.dtype), retain_graph=True)
        (v * 0.5).backward()
        res.append((first, h_.grad, w_.grad, b_.grad))
    for a, e in zip(*res):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-14)


def test_torch_frozen_weight_and_no_grad(rng, monkeypatch):
    """Only the gradients asked for are made; without grad, the value only."""
    x, w, b, t = _inputs(rng, np.float64)
    seen = []
    real = TL._kernel

    def spy(lg, tc, ii, ls, red, want_grad, nt):
        seen.append(want_grad)
        return real(lg, tc, ii, ls, red, want_grad, nt)

    monkeypatch.setattr(TL, "_kernel", spy)
    h_ = torch.from_numpy(x).requires_grad_(True)
    w_, b_, tt = torch.from_numpy(w), torch.from_numpy(b), torch.from_numpy(t)
    v = TL.linear_cross_entropy(h_, w_, tt, b_)
    v.backward()
    want = _torch_run(_unfused, x, w, b, t, 1.0)
    torch.testing.assert_close(h_.grad, want[1], rtol=1e-12, atol=1e-14)
    assert w_.grad is None and b_.grad is None and all(seen)
    seen.clear()
    with torch.no_grad():
        v2 = TL.linear_cross_entropy(h_, w_, tt, b_)
    assert not v2.requires_grad and seen and not any(seen)
    assert v2.item() == v.item()
    seen.clear()
    TL.linear_cross_entropy(h_.detach(), w_, tt, b_)
    assert seen and not any(seen)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_torch_half_precision(dtype, rng):
    """bf16/fp16: the value and gradients come back in the input dtype, close to the
    float64 computation of the same (rounded) numbers; d_weight accumulates in float32."""
    td = getattr(torch, dtype)
    x, w, b, t = _inputs(rng, np.float64, n=200, h=16, v=50)
    h_, w_, b_ = _leaves(x, w, b, td)
    v = TL.linear_cross_entropy(h_, w_, torch.from_numpy(t), b_, label_smoothing=0.1,
                                chunk_size=16)
    v.backward()
    assert v.dtype == td and h_.grad.dtype == w_.grad.dtype == b_.grad.dtype == td
    r = [a.detach().double().numpy() for a in (h_, w_, b_)]
    want = _expected(r[0], r[1], r[2], t, "mean", 0.1)
    tol = 1e-2 if dtype == "bfloat16" else 2e-3
    for got, e, what in zip((v, h_.grad, w_.grad, b_.grad), want, ("v", "dh", "dw", "db")):
        e = np.asarray(e)
        np.testing.assert_allclose(got.detach().double().numpy(), e, rtol=tol,
                                   atol=tol * np.abs(e).max(), err_msg=what)


def test_torch_bad_input(rng):
    x, w, b, t = _inputs(rng, np.float64)
    h_, w_, b_ = (torch.from_numpy(a) for a in (x, w, b))
    cases = [(dict((k, torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
                   for k, v in change.items()), exc, name)
             for change, exc, name in _bad_cases(x, w, b, t)
             if name != "hidden" or change["hidden"].dtype != np.complex128]
    cases += [
        (dict(hidden=x), TypeError, "hidden"),
        (dict(weight=[[1.0]]), TypeError, "weight"),
        (dict(target=list(t)), TypeError, "target"),
        (dict(bias=b), TypeError, "bias"),
        (dict(target=torch.from_numpy(t) > 0), TypeError, "target"),
        (dict(weight=torch.empty((V, H), dtype=torch.float64, device="meta")), ValueError,
         "weight"),
        (dict(target=torch.from_numpy(t).to("meta")), ValueError, "target"),
    ]
    for change, exc, name in cases:
        kw = dict(hidden=h_, weight=w_, target=torch.from_numpy(t), bias=b_)
        kw.update(change)
        with pytest.raises(exc) as info:
            TL.linear_cross_entropy(**kw)
        assert str(info.value).startswith(name + ":"), (name, str(info.value))


def test_torch_bad_target_raises_before_any_kernel(rng, monkeypatch):
    calls = []
    real = TL._kernel
    monkeypatch.setattr(TL, "_kernel", lambda *a: calls.append(1) or real(*a))
    x, w, b, t = _inputs(rng, np.float64)
    t[-1] = -5
    h_, w_, b_ = _leaves(x, w, b)
    with pytest.raises(ValueError, match=f"target: class index -5 at position {N - 1}"):
        TL.linear_cross_entropy(h_, w_, torch.from_numpy(t), b_, chunk_size=1)
    assert not calls


def test_torch_compile_traces_the_op(rng):
    """torch.compile (aot_eager: no C++ compiler needed) traces the wrapper and both
    custom ops in one graph, forward and backward, and agrees with eager PyTorch."""
    x, w, b, t = _inputs(rng, np.float64)
    tt = torch.from_numpy(t)
    for reduction in ("mean", "none"):
        f = torch.compile(lambda h, w_, b_: (TL.linear_cross_entropy(
            h, w_, tt, b_, reduction=reduction) * 2).sum(), backend="aot_eager",
            fullgraph=True)
        got = _torch_run(lambda h, w_, t_, b_: f(h, w_, b_), x, w, b, t, 1.0)
        want = _torch_run(lambda h, w_, t_, b_: (_unfused(h, w_, t_, b_, reduction) * 2)
                          .sum(), x, w, b, t, 1.0)
        for a, e in zip(got, want):
            torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-14)


def test_torch_double_backward_raises(rng):
    x, w, b, t = _inputs(rng, np.float64)
    h_, w_, b_ = _leaves(x, w, b)
    v = TL.linear_cross_entropy(h_, w_, torch.from_numpy(t), b_)
    with pytest.raises(RuntimeError, match="double backward"):
        torch.autograd.grad(v, h_, create_graph=True)


def test_torch_gradients_are_handed_on_without_a_copy(rng, monkeypatch):
    """The memory claim of "mean" / "sum": the gradients made in the forward become .grad
    themselves (scaled in place by the upstream gradient), no (V, H) copy."""
    made = []
    real = TL._resolve

    def spy(*a, **k):
        out = real(*a, **k)
        made.append([t.data_ptr() for t in out[1:]])
        return out

    monkeypatch.setattr(TL, "_resolve", spy)
    x, w, b, t = _inputs(rng, np.float32)
    for up in (1.0, 0.3):
        h_, w_, b_ = _leaves(x, w, b)
        v = TL.linear_cross_entropy(h_, w_, torch.from_numpy(t), b_, reduction="sum")
        v.backward(torch.tensor(up))
        assert [h_.grad.data_ptr(), w_.grad.data_ptr()] == made[-1][:2]
        want = _torch_run(_unfused, x, w, b, t, up, reduction="sum")
        assert_close(w_.grad.numpy(), want[2].numpy(), np.float32, f"d_weight x {up}")


def test_numpy_value_and_grad_attribute(rng):
    x, w, b, t = _inputs(rng, np.float64)
    v1, g1 = lce.linear_cross_entropy.value_and_grad(x, w, t, b, chunk_size=4)
    v2, g2 = lce.linear_cross_entropy_value_and_grad(x, w, t, b, chunk_size=4)
    assert v1 == v2 and all(np.array_equal(a, c) for a, c in zip(g1, g2))


def test_numpy_without_scipy_gemm(rng, monkeypatch):
    """Without SciPy, d_weight accumulates through one (V, H) buffer: the same numbers."""
    monkeypatch.setattr(lce, "_ACC", None)
    x, w, b, t = _inputs(rng, np.float64)
    got = lce.linear_cross_entropy_value_and_grad(x, w, t, b, chunk_size=5)
    _check(got, _expected(x, w, b, t, "mean"), np.float64, "no SciPy")


def test_public_names():
    """The package exposes both functions under their documented names, loaded lazily."""
    import fastloss
    import fastloss.torch as flt
    assert fastloss.linear_cross_entropy is lce.linear_cross_entropy
    assert fastloss.linear_cross_entropy.value_and_grad is \
        lce.linear_cross_entropy_value_and_grad
    from fastloss import _torch_linear_ce
    assert flt.linear_cross_entropy is _torch_linear_ce.linear_cross_entropy
