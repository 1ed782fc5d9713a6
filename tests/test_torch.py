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
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_mse_l1_match_torch(name, dtype, reduction, rng):
    for shape in [(), (13,), (6, 5), (3, 4, 5)]:
        x = rng.standard_normal(shape).astype(dtype)
        t = rng.standard_normal(shape).astype(dtype)
        for weight in (None, rng.random(shape).astype(dtype)):
            v, g = getattr(fl, name).value_and_grad(x, t, reduction=reduction, weight=weight)
            vt, gt = _torch_value_and_grad(getattr(F, name), x, t, reduction=reduction,
                                           weight=weight)
            _close(v, vt, dtype, 'value')
            _close(g, gt, dtype, 'grad')


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_kdim_and_nll_match_torch(dtype, reduction, rng):
    for shape in [(3, 4, 5), (2, 5, 3, 7)]:
        n, c = shape[:2]
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        t = rng.integers(0, c, (n,) + shape[2:])
        t.reshape(-1)[::5] = 1
        p = np.moveaxis(rng.dirichlet(np.ones(c), (n,) + shape[2:]), -1, 1).astype(dtype)
        w = (0.2 + rng.random(c)).astype(dtype)
        for target, ii, weight, ls in itertools.product([t, p], [-100, 1], [None, w], [0.0, 0.2]):
            if target is p and ii != -100:
                continue
            kw = dict(weight=weight, ignore_index=ii, reduction=reduction)
            v, g = fl.cross_entropy.value_and_grad(x, target, label_smoothing=ls, **kw)
            vt, gt = _torch_value_and_grad(F.cross_entropy, x, target, label_smoothing=ls, **kw)
            _close(v, vt, dtype, f"cross_entropy value ii={ii} ls={ls}")
            _close(g, gt, dtype, f"cross_entropy grad ii={ii} ls={ls}")
            if target is t:
                lp = torch.log_softmax(torch.from_numpy(x), 1).numpy()
                v, g = fl.nll_loss.value_and_grad(lp, t, **kw)
                vt, gt = _torch_value_and_grad(F.nll_loss, lp, t, **kw)
                _close(v, vt, dtype, f"nll value ii={ii}")
                _close(g, gt, dtype, f"nll grad ii={ii}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_z_loss_formula(dtype, rng):
    """z_loss adds z * logsumexp^2 per row: PyTorch's cross-entropy plus that term, by autograd."""
    x = (rng.standard_normal((9, 6)) * 3).astype(dtype)
    t = rng.integers(0, 6, 9)
    z = 1e-2
    xt = torch.tensor(x, requires_grad=True)
    ref = (F.cross_entropy(xt, torch.from_numpy(t), reduction="none")
           + z * torch.logsumexp(xt, 1) ** 2).mean()
    ref.backward()
    v, g = fl.cross_entropy.value_and_grad(x, t, z_loss=z)
    _close(v, ref.detach().numpy(), dtype, "value")
    _close(g, xt.grad.numpy(), dtype, "grad")


@pytest.mark.parametrize("name", [s.name for s in __import__("fastloss._registry", fromlist=["TABLE"]).TABLE
                                  if s.torch and s.torch.startswith("torch.nn.functional.")])
def test_signature_matches_torch(name):
    """Argument names, order and defaults as torch.nn.functional (less the deprecated
    size_average / reduce); fastloss' extras are keyword-only."""
    import inspect

    ours = inspect.signature(getattr(fl, name)).parameters
    theirs = inspect.signature(getattr(F, name)).parameters
    t = [(p.name, p.default) for p in theirs.values() if p.name not in ("size_average", "reduce")]
    o = [(p.name, p.default) for p in ours.values()
         if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    assert [n for n, _ in o] == [n for n, _ in t]
    for (n, d), (_, dt) in zip(o, t):
        if dt is not inspect.Parameter.empty:
            assert d == dt, f"{n}: default {d!r}, torch {dt!r}"
