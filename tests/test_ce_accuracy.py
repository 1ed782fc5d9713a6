"""cross_entropy(..., return_accuracy=True): the accuracy counted by the loss kernel in the
same pass, against np.argmax and against scikit-learn's accuracy_score, on every kernel
path (rows of few classes through the tiles, cached rows, online rows beyond the cache
limit, K-dimensional positions), with ties, NaN and -inf rows, ignored targets, sample
weights, in place, and on the CUDA backend (simulator in CI)."""
import numpy as np
import pytest

import fastloss as fl
from fastloss.reference.losses import cross_entropy_accuracy

from test_losses import assert_close

DTYPES = (np.float32, np.float64)

# (input shape, target shape): tile path (C < 32), cached rows, online rows, positions,
# one unbatched row
SHAPES = [((97, 5), (97,)), ((40, 300), (40,)), ((3, 70_001), (3,)), ((6, 4, 11), (6, 11)),
          ((5, 3, 2, 7), (5, 2, 7)), ((9,), ())]


def _argmax_accuracy(x, t, ignore_index, sw):
    """Independent count: the class axis moved last, positions flattened, np.argmax."""
    x = np.asarray(x, np.float64)
    if x.ndim == 1:
        x, t = x[None], np.asarray(t).reshape(1)
        sw = None if sw is None else np.asarray(sw).reshape(1)
    xr = np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])
    tr = np.asarray(t).reshape(-1)
    w = np.ones(tr.shape) if sw is None else \
        np.repeat(np.asarray(sw, np.float64), tr.size // x.shape[0])
    keep = tr != ignore_index
    hit = (np.argmax(xr, axis=1) == tr) & ~np.isnan(xr).any(axis=1)
    den = w[keep].sum()
    return float(w[keep & hit].sum() / den) if den > 0 else 0.0


def _inputs(rng, shape, tshape, dtype, ties=True):
    c = shape[1] if len(shape) > 1 else shape[0]
    if ties:   # few distinct values: many rows hold their max more than once
        x = rng.integers(-2, 3, shape).astype(dtype)
    else:
        x = rng.standard_normal(shape).astype(dtype)
    t = rng.integers(0, c, tshape)
    if len(shape) > 1:
        # a third of the positions predict their target, so accuracy is far from 0
        xm = np.moveaxis(x, 1, -1)
        flat = xm.reshape(-1, c)
        tf = t.reshape(-1)
        pick = rng.random(tf.shape) < 0.35
        flat[pick, tf[pick]] = flat[pick].max(axis=1) + (0 if ties else 1)
        x = np.ascontiguousarray(np.moveaxis(flat.reshape(xm.shape), -1, 1))
    return x, t


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape,tshape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("ties", [True, False], ids=["ties", "distinct"])
def test_accuracy_matches_argmax(shape, tshape, dtype, ties, rng):
    x, t = _inputs(rng, shape, tshape, dtype, ties)
    want = _argmax_accuracy(x, t, -100, None)
    assert want == cross_entropy_accuracy(x, t)
    v0 = fl.cross_entropy(x, t)
    v, a = fl.cross_entropy(x, t, return_accuracy=True)
    assert type(a) is float and a == want
    assert v == v0                      # the value is unchanged by the extra count
    v1, g1 = fl.cross_entropy.value_and_grad(x, t)
    v2, g2, a2 = fl.cross_entropy.value_and_grad(x, t, return_accuracy=True)
    assert a2 == want and v2 == v1 and np.array_equal(g1, g2)
    g3, a3 = fl.cross_entropy.grad(x, t, return_accuracy=True)
    assert a3 == want and np.array_equal(g3, g1)
    vr, ar = fl.cross_entropy(x, t, return_accuracy=True, backend="numpy")
    assert ar == want
    assert_close(v, vr, dtype, "value")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape,tshape", SHAPES[:5], ids=lambda s: "x".join(map(str, s)))
def test_accuracy_weights_ignored_options(shape, tshape, dtype, rng):
    x, t = _inputs(rng, shape, tshape, dtype)
    t = t.copy()
    t.reshape(-1)[::4] = 3 if shape[1] > 3 else 1
    sw = rng.random(shape[0]).astype(dtype)
    cw = (0.5 + rng.random(shape[1])).astype(dtype)
    want = _argmax_accuracy(x, t, 3 if shape[1] > 3 else 1, sw)
    ii = 3 if shape[1] > 3 else 1
    for kw in (dict(), dict(weight=cw), dict(label_smoothing=0.2), dict(z_loss=1e-3)):
        for reduction in ("mean", "sum", "none"):
            v0 = fl.cross_entropy(x, t, ignore_index=ii, reduction=reduction,
                                  sample_weight=sw, **kw)
            v, a = fl.cross_entropy(x, t, ignore_index=ii, reduction=reduction,
                                    sample_weight=sw, return_accuracy=True, **kw)
            assert a == pytest.approx(want, rel=1e-12, abs=1e-15)
            assert np.array_equal(v, v0)
    # scikit-learn's weighted accuracy over the positions not ignored
    skm = pytest.importorskip("sklearn.metrics")
    xr = np.moveaxis(x, 1, -1).reshape(-1, shape[1])
    tr = t.reshape(-1)
    w = np.repeat(sw.astype(np.float64), tr.size // shape[0])
    keep = tr != ii
    sk = skm.accuracy_score(tr[keep], np.argmax(xr, axis=1)[keep], sample_weight=w[keep])
    _, a = fl.cross_entropy(x, t, ignore_index=ii, sample_weight=sw, return_accuracy=True)
    assert a == pytest.approx(sk, rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape,tshape", SHAPES[:4], ids=lambda s: "x".join(map(str, s)))
def test_accuracy_nan_and_infinite_rows(shape, tshape, dtype, rng):
    x, t = _inputs(rng, shape, tshape, dtype)
    c = shape[1]
    xm = np.moveaxis(x, 1, -1).reshape(-1, c)   # a view when x is (N, C); copied back below
    tf = t.reshape(-1)
    xm[0] = -np.inf                              # argmax of an all -inf row is class 0
    tf[0] = 0
    xm[1, :] = -np.inf
    xm[1, c - 1] = 2.0                           # the only finite logit, the target
    tf[1] = c - 1
    xm[2, tf[2]] = np.inf                        # +inf at the target: a hit
    if xm.shape[0] > 3:
        xm[3, tf[3]] = 50.0                      # the target holds the max, but a NaN
        xm[3, (tf[3] + 1) % c] = np.nan          # elsewhere makes the row wrong
    x = np.ascontiguousarray(np.moveaxis(xm.reshape(np.moveaxis(x, 1, -1).shape), -1, 1))
    with np.errstate(invalid="ignore"):
        want = _argmax_accuracy(x, t, -100, None)
        _, a = fl.cross_entropy(x, t, return_accuracy=True)
        _, _, a2 = fl.cross_entropy.value_and_grad(x, t, return_accuracy=True)
    assert a == want and a2 == want


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape,tshape", SHAPES[:5], ids=lambda s: "x".join(map(str, s)))
def test_accuracy_in_place_and_threads(shape, tshape, dtype, rng):
    """out=input: the hits are counted before the gradient overwrites the logits; any
    thread count gives the same count."""
    x, t = _inputs(rng, shape, tshape, dtype, ties=False)
    want = _argmax_accuracy(x, t, -100, None)
    v1, g1 = fl.cross_entropy.value_and_grad(x, t)
    xi = x.copy()
    v, g, a = fl.cross_entropy.value_and_grad(xi, t, out=xi, return_accuracy=True)
    assert g is xi and a == want and v == v1 and np.array_equal(g, g1)
    for nt in (1, 2, 3):
        assert fl.cross_entropy(x, t, return_accuracy=True, n_threads=nt)[1] == want


def test_accuracy_nothing_counts():
    x = np.zeros((4, 3))
    t = np.full(4, -100)
    assert fl.cross_entropy(x, t, return_accuracy=True) == (0.0, 0.0)
    assert fl.cross_entropy(np.zeros((0, 3)), np.zeros(0, np.int64),
                            return_accuracy=True)[1] == 0.0
    assert fl.cross_entropy(x, t, return_accuracy=True, backend="numpy")[1] == 0.0
    _, a = fl.cross_entropy(np.eye(3), np.arange(3), sample_weight=np.zeros(3),
                            return_accuracy=True)
    assert a == 0.0


def test_accuracy_bad_arguments():
    x = np.zeros((4, 3))
    p = np.full((4, 3), 1 / 3)
    with pytest.raises(ValueError, match="return_accuracy: needs class-index targets"):
        fl.cross_entropy(x, p, return_accuracy=True)
    with pytest.raises(ValueError, match="return_accuracy"):
        fl.cross_entropy.value_and_grad(x, p, return_accuracy=True, backend="numpy")
    with pytest.raises(TypeError, match="return_accuracy: expected True or False"):
        fl.cross_entropy(x, np.zeros(4, np.int64), return_accuracy="yes")
    # soft targets without the option still work, and False is the default
    assert fl.cross_entropy(x, p, return_accuracy=False) == fl.cross_entropy(x, p)
    # the other losses have no such option
    with pytest.raises(TypeError):
        fl.nll_loss(x, np.zeros(4, np.int64), return_accuracy=True)


def test_accuracy_signature_and_doc():
    import inspect
    sig = inspect.signature(fl.cross_entropy)
    p = sig.parameters["return_accuracy"]
    assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is False
    assert "return_accuracy" in fl.cross_entropy.__doc__


def test_accuracy_cuda_backend(rng):
    """The CUDA kernels (simulator in CI) count the same hits: host arrays with
    backend="cuda" (copied over and back) and device arrays."""
    pytest.importorskip("numba.cuda")
    from numba import cuda
    for shape, tshape in (((7, 5), (7,)), ((3, 2, 4), (3, 4)), ((4, 40), (4,))):
        x, t = _inputs(rng, shape, tshape, np.float32)
        t = t.copy()
        t.reshape(-1)[::3] = -100
        if t.size > 1:
            x.reshape(-1)[1] = np.nan
        sw = rng.random(shape[0]).astype(np.float32)
        with np.errstate(invalid="ignore"):
            want = _argmax_accuracy(x, t, -100, sw)
        v, a = fl.cross_entropy(x, t, sample_weight=sw, return_accuracy=True, backend="cuda")
        assert a == pytest.approx(want, rel=1e-12, abs=1e-15)
        dx, dt, dsw = cuda.to_device(x), cuda.to_device(t), cuda.to_device(sw)
        v, g, a = fl.cross_entropy.value_and_grad(dx, dt, sample_weight=dsw,
                                                  return_accuracy=True)
        assert a == pytest.approx(want, rel=1e-12, abs=1e-15)
        with pytest.raises(ValueError, match="return_accuracy"):
            fl.cross_entropy(cuda.to_device(np.full(shape, 0.2, np.float32)),
                             cuda.to_device(np.full(shape, 0.2, np.float32)),
                             return_accuracy=True)
