"""The short per-call path.

The generated entry points test the common case of each scalar option inline and leave
everything else to the full checks of fastloss._checks; the binding's fast path of the
class-index losses (LossSpec.fast) takes the common case of their arrays whole and declines
(returns None) whatever else it sees.  Both must be invisible: the same results, bit for
bit, as the general path, and the same errors, naming the argument.
"""
import math

import numpy as np
import pytest

import fastloss as fl
from fastloss import _api
from fastloss import _checks as ck
from fastloss._registry import LOSSES

import cases
from cases import INT_DTYPES

MODES = (_api.VALUE, _api.VALUE_AND_GRAD, _api.GRAD)
FAST = sorted(name for name, spec in LOSSES.items() if spec.fast is not None)
N, C = 23, 7


def test_the_class_index_losses_have_a_fast_path():
    assert FAST == ["cross_entropy", "nll_loss"]


def _params(spec, opts):
    return tuple(opts.get(p.name, p.default) for p in spec.all_params())


def _fast(name, mode, out, x, t, reduction="mean", sample_weight=None, n_threads=1, **opts):
    spec = LOSSES[name]
    return spec.fast(mode, out, x, t, *_params(spec, opts), sample_weight,
                     ck.REDUCTIONS[reduction], n_threads)


def _general(name, mode, out, x, t, reduction="mean", sample_weight=None, n_threads=1, **opts):
    spec = LOSSES[name]
    return _api._compiled(spec, mode, out, (x, t), _params(spec, opts),
                          ck.REDUCTIONS[reduction], sample_weight, n_threads)


def assert_bitwise(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for ak, bk in zip(a, b):
            assert_bitwise(ak, bk)
        return
    assert type(a) is type(b), (type(a), type(b))
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def _data(rng, dtype, tdtype=np.int64, n=N, c=C):
    x = (rng.standard_normal((n, c)) * 3).astype(dtype)
    x[1, 2] = np.nan                            # NaN propagates the same way on both paths
    x[2] = 1e4
    t = rng.integers(0, c, n).astype(tdtype)
    return x, t


OPTIONS = [{}, {"ignore_index": 3}, {"label_smoothing": 0.2}, {"z_loss": 1e-3},
           {"label_smoothing": 1.0, "ignore_index": 0, "z_loss": 0.5}]


@pytest.mark.parametrize("opts", OPTIONS, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("tdtype", INT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", FAST)
def test_fast_path_is_bitwise_the_general_path(name, dtype, tdtype, reduction, opts, rng):
    if name == "nll_loss":
        opts = {k: v for k, v in opts.items() if k == "ignore_index"}
    x, t = _data(rng, dtype, tdtype)
    loss = getattr(fl, name)
    for mode in MODES:
        kw = dict(reduction=reduction, **opts)
        fast = _fast(name, mode, None, x, t, **kw)
        assert fast is not None, "the common case must take the fast path"
        assert_bitwise(fast, _general(name, mode, None, x, t, **kw))
        public = (loss, loss.value_and_grad, loss.grad)[mode](x, t, n_threads=1, **kw)
        assert_bitwise(public, fast)
        if mode == _api.VALUE:
            continue
        # out= a fresh array, and out= the input itself
        outs = [np.full_like(x, 7.0) for _ in range(2)]
        res = [f(name, mode, o, x, t, **kw) for f, o in zip((_fast, _general), outs)]
        assert_bitwise(res[0], res[1])
        assert (res[0] if mode == _api.GRAD else res[0][1]) is outs[0]
        xs = [x.copy(), x.copy()]
        res = [f(name, mode, xk, xk, t, **kw) for f, xk in zip((_fast, _general), xs)]
        assert_bitwise(res[0], res[1])
        assert xs[0].tobytes() == xs[1].tobytes()


@pytest.mark.parametrize("name", FAST)
def test_fast_path_is_thread_count_independent(name, rng):
    x, t = _data(rng, np.float32, n=300, c=50)
    ref = _fast(name, _api.VALUE_AND_GRAD, None, x, t, n_threads=1)
    for nt in (2, 3, 8):
        assert_bitwise(_fast(name, _api.VALUE_AND_GRAD, None, x, t, n_threads=nt), ref)


class _Sub(np.ndarray):
    pass


def _declined_valid(rng):
    """(id, x, t, options) the fast path leaves to the general path, all valid."""
    x, t = _data(rng, np.float64)
    swapped = x.dtype.newbyteorder()
    yield "fortran-input", np.asfortranarray(x), t, {}
    yield "strided-input", np.repeat(x, 2, axis=0)[::2], t, {}
    yield "subclass-input", x.view(_Sub), t, {}
    yield "byteswapped-input", x.astype(swapped), t, {}
    yield "list-input", x.tolist(), t, {}
    yield "strided-target", x, np.repeat(t, 2)[::2], {}
    yield "byteswapped-target", x, t.astype(t.dtype.newbyteorder()), {}
    yield "list-target", x, t.tolist(), {}
    yield "subclass-target", x, t.view(_Sub), {}
    yield "unbatched", x[0], t[0], {}
    yield "k-dim", x.reshape(N, C, 1), t.reshape(N, 1), {}
    yield "empty", x[:0], t[:0], {}
    yield "class-weight", x, t, {"weight": np.linspace(0.5, 2, C)}
    yield "sample-weight", x, t, {"sample_weight": np.linspace(0, 2, N)}
    yield "all-ignored", x, np.full(N, -100), {}


@pytest.mark.parametrize("name", FAST)
def test_fast_path_declines_the_rest_and_the_general_path_takes_it(name, rng):
    for cid, x, t, opts in _declined_valid(rng):
        mode = _api.VALUE_AND_GRAD
        fast = _fast(name, mode, None, x, t, **opts)
        if cid == "all-ignored":
            assert fast is not None   # valid and common: ignored rows are the kernel's
            continue
        assert fast is None, cid
        public = getattr(fl, name).value_and_grad(x, t, n_threads=1, **opts)
        xx = np.asarray(x)
        general = _general(name, mode, None, xx.astype(xx.dtype.newbyteorder("=")),
                           np.asarray(t), **opts)
        assert_bitwise(public, general)


def _readonly(a):
    a.setflags(write=False)
    return a


def _bad(rng):
    """(id, x, t, options, out, exception, argument): bad input the fast path can see."""
    x, t = _data(rng, np.float32)
    g = np.zeros_like(x)

    def with_t(*values):
        tt = t.copy()
        tt[:len(values)] = values
        return tt

    yield "index-high", x, with_t(C), {}, None, ValueError, "target"
    yield "index-negative", x, with_t(-1), {}, None, ValueError, "target"
    yield "index-ignore-mismatch", x, with_t(-100), {"ignore_index": -1}, None, ValueError, "target"
    for tdtype in INT_DTYPES:
        yield f"index-high-{np.dtype(tdtype).name}", x, t.astype(tdtype) + np.array(
            C, tdtype), {}, None, ValueError, "target"
    huge = t.astype(np.uint64)
    huge[3] = 2**63 + 5
    yield "index-uint64-huge", x, huge, {}, None, ValueError, "target"
    wraps = t.astype(np.uint64)
    wraps[3] = 2**64 - 100                    # would wrap to ignore_index=-100 as int64
    yield "index-uint64-wraps-to-ignore", x, wraps, {}, None, ValueError, "target"
    yield "index-uint64-byteswapped-wraps", x, wraps.astype(wraps.dtype.newbyteorder()), {}, \
        None, ValueError, "target"
    yield "target-short", x, t[:-1], {}, None, ValueError, "target"
    yield "target-2d", x, t.reshape(N, 1), {}, None, ValueError, "target"
    yield "target-bool", x, t > 2, {}, None, TypeError, "target"
    yield "target-complex", x, t.astype(complex), {}, None, TypeError, "target"
    yield "input-int", t.reshape(1, N), t[:1], {}, None, TypeError, "input"
    yield "input-half", x.astype(np.float16), t, {}, None, TypeError, "input"
    yield "no-classes", x[:, :0], t, {}, None, ValueError, "input"
    yield "out-shape", x, t, {}, g[:-1], ValueError, "out"
    yield "out-dtype", x, t, {}, g.astype(np.float64), TypeError, "out"
    yield "out-byteswapped", x, t, {}, g.astype(g.dtype.newbyteorder()), TypeError, "out"
    yield "out-readonly", x, t, {}, _readonly(g.copy()), ValueError, "out"
    yield "out-input-readonly", _readonly(x.copy()), t, {}, "input", ValueError, "out"
    yield "out-strided", x, t, {}, np.zeros((N, 2 * C), x.dtype)[:, ::2], ValueError, "out"
    yield "out-fortran", x, t, {}, np.asfortranarray(g), ValueError, "out"
    yield "out-list", x, t, {}, g.tolist(), TypeError, "out"
    yield "out-tuple", x, t, {}, (g,), TypeError, "out"
    buf = np.zeros(N * C + 3, x.dtype)
    xs = buf[:N * C].reshape(N, C)
    xs[...] = x
    yield "out-overlaps-input", xs, t, {}, buf[3:].reshape(N, C), ValueError, "out"
    # the targets living inside out's memory
    tb = np.zeros(N * C, np.float64)
    ti = tb.view(np.int64)[:N]
    ti[...] = t
    yield "out-overlaps-target", x.astype(np.float64), ti, {}, tb.reshape(N, C), ValueError, "out"


@pytest.mark.parametrize("name", FAST)
def test_bad_input_the_fast_path_sees_raises_naming_the_argument(name, rng):
    loss = getattr(fl, name)
    for cid, x, t, opts, out, exc, arg in _bad(rng):
        if isinstance(out, str):   # "input": out= the input itself
            out = x
        before = None if not isinstance(out, np.ndarray) else out.copy()
        t_before = np.array(t, copy=True)
        assert _fast(name, _api.VALUE_AND_GRAD, out, x, t, **opts) is None, cid
        for backend in ("cpu", "numpy"):
            with pytest.raises(exc) as info:
                loss.value_and_grad(x, t, backend=backend, out=out, **opts)
            assert arg in str(info.value), (cid, str(info.value))
        if out is None:
            with pytest.raises(exc) as info:
                loss(x, t, **opts)
            assert arg in str(info.value), (cid, str(info.value))
        if before is not None:
            assert out.tobytes() == before.tobytes(), f"{cid}: out was written"
        assert np.array_equal(np.asarray(t), t_before), f"{cid}: the target was written"


# ------------------------------------------ inline scalar checks of entry points ----

_FLOATS = [0, 1, 2, -1, 0.0, -0.0, 0.5, 1.0, -1.0, 2.0, 1e300, -1e300, math.inf, -math.inf,
           math.nan, np.float32(0.25), np.float64(0.75), np.int64(1), True, np.bool_(False),
           "0.1", None]
_INTS = [0, 1, -1, 3, -100, 2**63 - 1, 2**63, -2**63, -2**63 - 1, np.int64(2), np.uint8(1),
         True, 1.0, 1.5, "1", None]
_BOOLS = [True, False, np.bool_(True), np.bool_(False), 0, 1, None, "True"]


def _probes(p):
    if p.kind == "float":
        return _FLOATS + [b for b in (p.low, p.high) if b is not None]
    if p.kind == "int":
        return _INTS + [b for b in (p.low, p.high) if b is not None]
    if p.kind == "bool":
        return _BOOLS
    strs = [np.str_(c) for c in p.choices if isinstance(c, str)]
    return list(p.choices) + strs + ["nope", 1, 2, 1.0, True, None, np.int64(1), math.nan]


def _full_check(p, v):
    """What the checks of fastloss._checks make of v for parameter p."""
    if p.kind == "float":
        return ck.number(v, p.name, p.low, p.high, p.low_open, p.high_open)
    if p.kind == "int":
        return ck.integer(v, p.name, -2**63 if p.low is None else p.low,
                          2**63 - 1 if p.high is None else p.high)
    if p.kind == "bool":
        return ck.boolean(v, p.name)
    return ck.choice(v, p.name, p.choices)


def _outcome(f):
    try:
        return "ok", f()
    except (TypeError, ValueError) as e:
        return type(e), str(e)


def _same_outcome(a, b, what):
    assert a[0] == b[0], (what, a, b)
    if a[0] == "ok":
        assert_bitwise(a[1], b[1])
    else:
        assert a[1] == b[1], what


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_inline_scalar_checks_agree_with_the_full_checks(name, rng):
    """Each scalar option: the entry point accepts what _checks accepts (with the value
    _checks converts it to), and raises what _checks raises."""
    spec = LOSSES[name]
    args, kwargs = next(iter(cases.SMALL[name](rng)))
    loss = getattr(fl, name)
    for p in spec.all_params():
        if p.kind == "array":
            continue
        for v in _probes(p):
            expected = _outcome(lambda: _full_check(p, v))
            got = _outcome(lambda: loss.value_and_grad(*args, **{**kwargs, p.name: v}))
            if expected[0] != "ok":
                assert got[0] is expected[0] and got[1] == expected[1], (p.name, v, got)
                continue
            converted = _outcome(lambda: loss.value_and_grad(
                *args, **{**kwargs, p.name: expected[1]}))
            _same_outcome(got, converted, (p.name, v))


_COMMON = {
    "reduction": ["mean", "sum", "none", "batchmean", np.str_("sum"), "avg", None, 1,
                  np.array(["mean"])],
    "backend": ["auto", "cpu", "numpy", np.str_("cpu"), "cuda", "gpu", None, 0],
    "n_threads": [None, 1, 2, -1, np.int64(1), 0, 1.5, True, 2**31, -5000],
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_common_options_are_checked_as_before(name, rng):
    spec = LOSSES[name]
    args, kwargs = next(iter(cases.SMALL[name](rng)))
    loss = getattr(fl, name)
    full = {"reduction": lambda v: ck.reduction(v, spec.reductions),
            "backend": lambda v: _api._backend_code(v), "n_threads": _api.threads}
    for opt, values in _COMMON.items():
        for v in values:
            expected = _outcome(lambda: full[opt](v))
            got = _outcome(lambda: loss(*args, **{**kwargs, opt: v}))
            if expected[0] != "ok":
                assert got[0] is expected[0] and got[1] == expected[1], (opt, v, got)
            elif opt == "reduction":
                _same_outcome(got, _outcome(lambda: loss(*args, **{**kwargs, opt: str(v)})),
                              (opt, v))
            else:
                assert got[0] == "ok", (opt, v, got)
