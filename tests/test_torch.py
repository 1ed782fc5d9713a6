"""Agreement with torch.nn.functional, value and gradient, for every option combination.

Skipped when PyTorch is not installed (CI installs torch==2.13.0)."""
import itertools

import numpy as np
import pytest

import fastloss as fl

from test_losses import assert_close

torch = pytest.importorskip("torch")
F = torch.nn.functional

DTYPES = (np.float32, np.float64)


def _torch_value_and_grad(fn, x, *args, **kw):
    xt = torch.tensor(x, requires_grad=True)
    targs = [torch.from_numpy(np.asarray(a)) if isinstance(a, np.ndarray) else a for a in args]
    tkw = {k: (torch.from_numpy(np.asarray(v)) if isinstance(v, np.ndarray) else v)
           for k, v in kw.items()}
    out = fn(xt, *targs, **tkw)
    out.sum().backward()
    return out.detach().numpy(), xt.grad.numpy()


def _close(a, b, dtype, what):
    assert_close(a, b, dtype, what)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_torch(dtype, reduction, rng):
    n, c = 29, 7
    x = (rng.standard_normal((n, c)) * 3).astype(dtype)
    t = rng.integers(0, c, n)
    t_ign = t.copy()
    t_ign[::4] = 2
    p = rng.dirichlet(np.ones(c), n).astype(dtype)
    w = (0.2 + rng.random(c)).astype(dtype)
    combos = itertools.product([("idx", t, -100), ("ign", t_ign, 2), ("prob", p, -100)],
                               [None, w], [0.0, 0.1, 1.0], [False, True])
    for (kind, target, ii), weight, ls, unbatched in combos:
        xx, tt = (x[0], target[0]) if unbatched else (x, target)
        if unbatched and kind != "prob":
            tt = np.int64(tt)
        kw = dict(weight=weight, ignore_index=ii, label_smoothing=ls, reduction=reduction)
        v, g = fl.cross_entropy.value_and_grad(xx, tt, **kw)
        if kind != "prob" and np.ndim(tt) == 0:
            tt = np.asarray(tt)
        vt, gt = _torch_value_and_grad(F.cross_entropy, xx, tt, **kw)
        if reduction == "mean" and kind != "prob" and np.all(np.asarray(tt) == ii):
            # a mean over nothing: PyTorch gives NaN, fastloss 0.0 with a zero gradient
            assert np.isnan(vt) and v == 0.0 and not g.any()
            continue
        _close(v, vt, dtype, f"value {kind} w={weight is not None} ls={ls}")
        _close(g, gt, dtype, f"grad {kind} w={weight is not None} ls={ls}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_cross_entropy_extremes_match_torch(dtype, rng):
    x = (rng.choice([-1.0, 1.0], (16, 5)) * 1e4).astype(dtype)
    t = rng.integers(0, 5, 16)
    x[3, (t[3] + 1) % 5] = -np.inf
    for ls in (0.0, 0.2):
        v, g = fl.cross_entropy.value_and_grad(x, t, label_smoothing=ls, reduction="none")
        vt, gt = _torch_value_and_grad(F.cross_entropy, x, t, label_smoothing=ls, reduction="none")
        _close(v, vt, dtype, 'value')
        _close(g, gt, dtype, 'grad')


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_matches_torch(dtype, reduction, rng):
    for shape in [(13,), (6, 5), (3, 4, 5)]:
        x = (rng.standard_normal(shape) * 4).astype(dtype)
        t = rng.random(shape).astype(dtype)
        c = shape[-1]
        for weight, pos_weight in itertools.product(
                [None, (0.3 + rng.random(shape)).astype(dtype), (0.3 + rng.random(c)).astype(dtype)],
                [None, (0.3 + rng.random(c)).astype(dtype)]):
            kw = dict(weight=weight, pos_weight=pos_weight, reduction=reduction)
            v, g = fl.binary_cross_entropy_with_logits.value_and_grad(x, t, **kw)
            vt, gt = _torch_value_and_grad(F.binary_cross_entropy_with_logits, x, t, **kw)
            _close(v, vt, dtype, 'value')
            _close(g, gt, dtype, 'grad')


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_matches_torch(dtype, reduction, rng):
    for shape in [(), (13,), (6, 5), (3, 4, 5)]:
        x = rng.standard_normal(shape).astype(dtype)
        t = rng.standard_normal(shape).astype(dtype)
        v, g = fl.mse_loss.value_and_grad(x, t, reduction=reduction)
        vt, gt = _torch_value_and_grad(F.mse_loss, x, t, reduction=reduction)
        _close(v, vt, dtype, 'value')
        _close(g, gt, dtype, 'grad')
