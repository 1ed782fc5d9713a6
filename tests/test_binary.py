"""The binary group against independent implementations: torch.nn.functional
(binary_cross_entropy, kl_div), torchvision's sigmoid_focal_loss written out with torch
autograd (torchvision itself is not a dependency), a soft Dice loss written with torch autograd
in MONAI's form, high-precision mpmath derivatives at extreme logits, and hand-computed values.
Values and gradients, float32 and float64, every reduction."""
import itertools
import warnings

import numpy as np
import pytest

import fastloss as fl
from fastloss._registry import LOSSES

from test_losses import assert_close

torch = pytest.importorskip("torch")
F = torch.nn.functional

DTYPES = (np.float32, np.float64)
REDUCTIONS = ("mean", "sum", "none")
DT = pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)


def _t(a):
    """A torch copy of a (0-d kept); floating arrays in float64 (see _autograd)."""
    if a is None:
        return None
    a = np.array(a)
    return torch.from_numpy(a.astype(np.float64) if a.dtype.kind == "f" else a)


def _reduce_torch(per, reduction, sample_weight=None, batchmean=False):
    """Reduce per-element torch values (first axis = samples) with fastloss' sample weights:
    "mean" divides by the summed weight times the elements per sample ("batchmean": by the
    summed weight only)."""
    n = per.shape[0] if per.dim() else 1
    m = per.numel() // n if n else 1
    if sample_weight is not None:
        sw = _t(sample_weight).to(per.dtype)
        per = per * sw.reshape((-1,) + (1,) * (per.dim() - 1))
        total = sw.sum()
    else:
        total = torch.tensor(float(n), dtype=per.dtype)
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return per.sum() / (total if batchmean else total * m)


def _autograd(fn, x):
    """fn(x_tensor) -> torch value; returns (value, d sum(value) / dx) as NumPy.  Torch runs
    in float64 on the same (possibly float32-rounded) inputs: float32 results are held to
    the exact value, not to PyTorch's own float32 rounding (which is up to 100 times less
    accurate for the focal loss's BCE term at moderate logits)."""
    xt = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    out = fn(xt)
    out.sum().backward()
    return out.detach().numpy(), xt.grad.numpy()


# ------------------------------------------------------------ binary_cross_entropy ----

@DT
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch(dtype, reduction, rng):
    for shape in [(), (13,), (6, 5), (3, 4, 5)]:
        x = (0.01 + 0.98 * rng.random(shape)).astype(dtype)
        t = rng.random(shape).astype(dtype)
        weights = [None, (0.3 + rng.random(shape)).astype(dtype), np.asarray(0.7, dtype)]
        if shape:
            weights.append((0.3 + rng.random(shape[-1])).astype(dtype))
        if len(shape) >= 2:
            weights.append((0.3 + rng.random((shape[0],) + (1,) * (len(shape) - 1))).astype(dtype))
            weights.append((0.3 + rng.random(shape[1:2] + (1,) * (len(shape) - 2))).astype(dtype))
        for w in weights:
            v, g = fl.binary_cross_entropy.value_and_grad(x, t, weight=w, reduction=reduction)
            vt, gt = _autograd(lambda z: F.binary_cross_entropy(z, _t(t), weight=_t(w),
                                                                reduction=reduction), x)
            assert_close(v, vt, dtype, f"value {shape} w={None if w is None else w.shape}")
            assert_close(g, gt, dtype, f"grad {shape} w={None if w is None else w.shape}")


@DT
def test_binary_cross_entropy_clamps_match_torch(dtype):
    """Inputs exactly 0 and 1: PyTorch clamps each log at -100 (value 100 for the wrong
    label, 0 for the right one) and the gradient's denominator x (1 - x) at 1e-12."""
    x = np.array([0, 1, 0, 1, 0, 1, 0, 1, 1e-30, 1e-7, 1 - 1e-7, 0.5], dtype)
    t = np.array([0, 0, 1, 1, 0.3, 0.3, 0.5, 0.5, 1, 0, 1, 0.5], dtype)
    for reduction in REDUCTIONS:
        v, g = fl.binary_cross_entropy.value_and_grad(x, t, reduction=reduction)
        vt, gt = _autograd(lambda z: F.binary_cross_entropy(z, _t(t), reduction=reduction), x)
        assert_close(v, vt, dtype, "value")
        assert_close(g, gt, dtype, "grad")
    v, g = fl.binary_cross_entropy.value_and_grad(x[:4], t[:4], reduction="none")
    np.testing.assert_array_equal(v, [0, 100, 100, 0])
    big = 1 / float(np.float32(1e-12))            # PyTorch's float constant, in both dtypes
    np.testing.assert_allclose(g, [0, big, -big, 0], rtol=1e-7)


@DT
def test_binary_cross_entropy_sample_weight_matches_torch(dtype, rng):
    x = (0.01 + 0.98 * rng.random((7, 3, 2))).astype(dtype)
    t = rng.random((7, 3, 2)).astype(dtype)
    sw = rng.random(7).astype(dtype)
    w = (0.5 + rng.random(2)).astype(dtype)
    for reduction in REDUCTIONS:
        v, g = fl.binary_cross_entropy.value_and_grad(x, t, weight=w, reduction=reduction,
                                                      sample_weight=sw)
        vt, gt = _autograd(lambda z: _reduce_torch(
            F.binary_cross_entropy(z, _t(t), weight=_t(w), reduction="none"), reduction, sw), x)
        assert_close(v, vt, dtype, "value")
        assert_close(g, gt, dtype, "grad")


def test_binary_cross_entropy_domain():
    """Out-of-range probabilities raise naming the argument (PyTorch raises too); NaN input
    passes as data and propagates (PyTorch raises for it)."""
    x = np.array([0.2, 0.5])
    with pytest.raises(ValueError, match="input"):
        fl.binary_cross_entropy(np.array([0.2, 1.5]), x)
    with pytest.raises(ValueError, match="target"):
        fl.binary_cross_entropy(x, np.array([0.2, -0.5]))
    with pytest.raises(RuntimeError):
        F.binary_cross_entropy(torch.tensor([0.2, 1.5]), torch.tensor([0.2, 0.5]))
    v, g = fl.binary_cross_entropy.value_and_grad(np.array([0.2, np.nan]), x, reduction="none")
    assert np.isnan(v[1]) and np.isnan(g[1]) and np.isfinite(v[0]) and np.isfinite(g[0])


# -------------------------------------------------------------------------- kl_div ----

@DT
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
def test_kl_div_matches_torch(dtype, reduction, rng):
    for shape, log_target in itertools.product([(), (11,), (6, 5), (3, 4, 5)], [False, True]):
        x = torch.log_softmax(torch.from_numpy(rng.standard_normal(shape)), -1).numpy() \
            if shape else np.asarray(-0.7)
        x = x.astype(dtype)
        t = rng.random(shape)
        if shape:
            t[t < 0.2] = 0.0           # exact zeros: 0 log 0 = 0
        t = np.log(t + 1e-3) if log_target else t
        t = t.astype(dtype)
        v, g = fl.kl_div.value_and_grad(x, t, reduction=reduction, log_target=log_target)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # PyTorch warns that "mean" is not batchmean
            vt, gt = _autograd(lambda z: F.kl_div(z, _t(t), reduction=reduction,
                                                  log_target=log_target), x)
        assert_close(v, vt, dtype, f"value {shape} log_target={log_target}")
        assert_close(g, gt, dtype, f"grad {shape} log_target={log_target}")


@DT
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
def test_kl_div_sample_weight(dtype, reduction, rng):
    """batchmean with sample weights is the weighted sum over the summed weight."""
    x = rng.standard_normal((8, 5)).astype(dtype)
    t = rng.dirichlet(np.ones(5), 8).astype(dtype)
    sw = rng.random(8).astype(dtype)
    for log_target in (False, True):
        tt = np.log(t) if log_target else t
        v, g = fl.kl_div.value_and_grad(x, tt, reduction=reduction, log_target=log_target,
                                        sample_weight=sw)
        red = "mean" if reduction == "batchmean" else reduction
        vt, gt = _autograd(lambda z: _reduce_torch(
            F.kl_div(z, _t(tt), reduction="none", log_target=log_target), red, sw,
            batchmean=reduction == "batchmean"), x)
        assert_close(v, vt, dtype, "value")
        assert_close(g, gt, dtype, "grad")


def test_kl_div_zero_target_and_nan():
    """A zero target contributes 0 whatever the input (finite); NaN input gives NaN value but
    the gradient -t does not read it; NaN in the target propagates to both."""
    x = np.array([1.0, -3.0, np.nan])
    t = np.array([0.0, 0.5, 0.25])
    v, g = fl.kl_div.value_and_grad(x, t, reduction="none")
    assert v[0] == 0.0 and np.isnan(v[2])
    np.testing.assert_array_equal(g, -t)
    v, g = fl.kl_div.value_and_grad(x[:2], np.array([np.nan, 0.5]), reduction="none")
    assert np.isnan(v[0]) and np.isnan(g[0]) and np.isfinite(v[1])
    with pytest.raises(ValueError, match="target"):
        fl.kl_div(x, np.array([0.2, -1e-12, 0.3]))
    # negative log-probability targets are fine with log_target
    assert np.isfinite(fl.kl_div(x[:2], np.array([-2.0, -0.1]), log_target=True))


# ----------------------------------------------------------------- sigmoid_focal_loss ----

def torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """torchvision.ops.sigmoid_focal_loss (torchvision 0.20), verbatim."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "none":
        pass
    elif reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss


@DT
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sigmoid_focal_loss_matches_torchvision(dtype, reduction, rng):
    for shape in [(), (17,), (6, 5), (3, 4, 5)]:
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        soft = rng.random(shape).astype(dtype)
        hard = (rng.random(shape) < 0.3).astype(dtype)
        for t, alpha, gamma in itertools.product([soft, hard], [0.25, -1.0, 0.0, 0.8],
                                                 [0.0, 0.5, 1.0, 2.0, 3.0]):
            v, g = fl.sigmoid_focal_loss.value_and_grad(x, t, alpha, gamma, reduction)
            vt, gt = _autograd(lambda z: torchvision_sigmoid_focal_loss(
                z, _t(t), alpha, gamma, reduction), x)
            what = f"{shape} alpha={alpha} gamma={gamma}"
            assert_close(v, vt, dtype, "value " + what)
            # d ce / dx = sigmoid(x) - t cancels where the prediction matches a soft target:
            # its terms are up to |alpha_t| <= 1 (per element, before the mean's 1/size)
            assert_close(g, gt, dtype, "grad " + what,
                         scale=1.0 / (x.size if reduction == "mean" else 1))


@DT
def test_sigmoid_focal_loss_sample_weight(dtype, rng):
    x = (rng.standard_normal((9, 4)) * 3).astype(dtype)
    t = rng.random((9, 4)).astype(dtype)
    sw = rng.random(9).astype(dtype)
    for reduction in REDUCTIONS:
        v, g = fl.sigmoid_focal_loss.value_and_grad(x, t, gamma=1.5, reduction=reduction,
                                                    sample_weight=sw)
        vt, gt = _autograd(lambda z: _reduce_torch(
            torchvision_sigmoid_focal_loss(z, _t(t), gamma=1.5), reduction, sw), x)
        assert_close(v, vt, dtype, "value")
        assert_close(g, gt, dtype, "grad")


def _focal_mp(x, t, alpha, gamma):
    """Value and derivative of torchvision's formula in 60-digit arithmetic (mpmath's
    numerical derivative, independent of the analytic one in the kernel)."""
    import mpmath as mp

    mp.mp.dps = 60
    t = mp.mpf(float(t))
    a_t = alpha * t + (1 - alpha) * (1 - t) if alpha >= 0 else 1

    def f(z):
        p = 1 / (1 + mp.exp(-z))
        ce = t * mp.log(1 + mp.exp(-z)) + (1 - t) * mp.log(1 + mp.exp(z))
        return a_t * ce * (t * (1 - p) + (1 - t) * p) ** gamma

    x = mp.mpf(float(x))
    return f(x), mp.diff(f, x)


@DT
@pytest.mark.parametrize("gamma", [0.25, 0.5, 1.0, 2.0])
def test_sigmoid_focal_loss_extreme_logits(dtype, gamma):
    """(1 - p_t)^gamma with gamma < 1 has an infinite derivative at p_t = 1; at logits
    +-1e4, +-100, +-50 and hard targets the gradient is finite and agrees with a 60-digit
    evaluation element by element (relative, where the exact value is representable)."""
    xs = np.array([-1e4, -100, -50, -20, -3, 0, 3, 20, 50, 100, 1e4])
    x = np.concatenate([xs, xs, xs]).astype(dtype)
    t = np.concatenate([np.zeros(11), np.ones(11), np.full(11, 0.25)]).astype(dtype)
    v, g = fl.sigmoid_focal_loss.value_and_grad(x, t, 0.25, gamma, "none")
    assert np.isfinite(v).all() and np.isfinite(g).all()
    tiny = np.finfo(dtype).tiny / np.finfo(dtype).eps   # below this, float rounding is absolute
    rtol = 3e-6 if dtype == np.float32 else 1e-13
    for k in range(x.size):
        ve, ge = (float(z) for z in _focal_mp(x[k], t[k], 0.25, gamma))
        for got, exp_, what in ((v[k], ve, "value"), (g[k], ge, "grad")):
            assert abs(float(got) - exp_) <= rtol * abs(exp_) + tiny, \
                f"{what} at x={x[k]}, t={t[k]}: {got} != {exp_}"


def test_sigmoid_focal_loss_signature_and_default_reduction():
    import inspect

    s = inspect.signature(fl.sigmoid_focal_loss)
    assert list(s.parameters)[:5] == ["inputs", "targets", "alpha", "gamma", "reduction"]
    assert s.parameters["alpha"].default == 0.25 and s.parameters["gamma"].default == 2.0
    assert s.parameters["reduction"].default == "none"
    x = np.zeros((2, 3))
    assert fl.sigmoid_focal_loss(x, x).shape == (2, 3)


# The table-driven tests that call a loss with its default reduction expect a scalar; with
# torchvision's default "none" these properties are checked here with explicit reductions.

@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_sigmoid_focal_loss_nan_and_zero_weight(backend, rng):
    x = rng.standard_normal((4, 3))
    t = rng.random((4, 3))
    x[1, 2] = np.nan
    per = fl.sigmoid_focal_loss(x, t, reduction="none", backend=backend)
    assert np.isnan(per[1, 2]) and np.isfinite(np.delete(per, 1, axis=0)).all()
    for reduction in ("mean", "sum"):
        v, g = fl.sigmoid_focal_loss.value_and_grad(x, t, reduction=reduction, backend=backend)
        assert np.isnan(v) and np.isnan(g[1, 2]) and np.isfinite(np.delete(g, 1, axis=0)).all()
    v, g = fl.sigmoid_focal_loss.value_and_grad(x, t, reduction="mean", backend=backend,
                                                sample_weight=np.zeros(4))
    assert np.isnan(v) and np.isnan(g[1]).any()
    rest = np.delete(g, 1, axis=0)
    assert not np.isnan(rest).any() and not rest.any()


@DT
@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_sigmoid_focal_loss_out_layouts(dtype, backend, rng):
    x = rng.standard_normal((5, 4)).astype(dtype)
    t = rng.random((5, 4)).astype(dtype)
    for reduction in REDUCTIONS:
        v0, g0 = fl.sigmoid_focal_loss.value_and_grad(x, t, reduction=reduction, backend=backend)
        out = np.empty_like(x)
        v, g = fl.sigmoid_focal_loss.value_and_grad(x, t, reduction=reduction, out=out,
                                                    backend=backend)
        assert g is out
        np.testing.assert_array_equal(v, v0)
        np.testing.assert_array_equal(g, g0)
        xi = x.copy()
        v, g = fl.sigmoid_focal_loss.value_and_grad(xi, t, reduction=reduction, out=xi,
                                                    backend=backend)
        np.testing.assert_array_equal(v, v0)
        np.testing.assert_array_equal(xi, g0)
        for xx, tt in ((np.asfortranarray(x), t), (x[::-1].copy()[::-1], t.tolist()),
                       (x.astype(x.dtype.newbyteorder(">")), t[:, ::-1].copy()[:, ::-1])):
            v, g = fl.sigmoid_focal_loss.value_and_grad(xx, tt, reduction=reduction,
                                                        backend=backend)
            np.testing.assert_array_equal(v, v0)
            np.testing.assert_array_equal(g, g0)


# ------------------------------------------------------------------------- dice_loss ----

def torch_dice_loss(x, target, smooth=1.0, from_logits=True, weight=None, ignore_index=-100,
                    reduction="mean", sample_weight=None):
    """Soft Dice in MONAI's form (DiceLoss with include_background, softmax or sigmoid,
    one-hot targets, per sample and class: 1 - (2 I + smooth_nr) / (P + T + smooth_dr)),
    with smooth_nr = smooth_dr = smooth, class weights, ignore_index, and fastloss' sample
    weights; torch autograd gives the gradient."""
    n, c = x.shape[:2]
    p = (torch.sigmoid(x) if c == 1 else torch.softmax(x, 1)) if from_logits else x
    p = p.reshape(n, c, -1)
    tg = torch.from_numpy(np.asarray(target))
    if tg.dtype in (torch.int64, torch.int32) and tuple(tg.shape) != tuple(x.shape):
        valid = (tg != ignore_index).reshape(n, 1, -1)
        y = torch.where(valid.reshape(tg.shape), tg, torch.zeros_like(tg)).reshape(n, -1)
        t = F.one_hot(y, c).permute(0, 2, 1).to(x.dtype) * valid
        p = torch.where(valid, p, torch.zeros_like(p))
    else:
        t = tg.to(x.dtype).reshape(n, c, -1)
    inter = (p * t).sum(-1)
    denom = p.sum(-1) + t.sum(-1)
    dice = (2 * inter + smooth) / (denom + smooth)
    if smooth == 0:
        dice = torch.where(denom == 0, torch.ones_like(dice), dice)
    w = torch.ones(c, dtype=x.dtype) if weight is None else _t(weight).to(x.dtype)
    per = ((1 - dice) * w).sum(1) / w.sum()
    return _reduce_torch(per, reduction, sample_weight)


def _dice_targets(rng, n, c, sp, dtype):
    y = rng.integers(0, c, (n,) + sp)
    y_ign = y.copy()
    y_ign[rng.random(y.shape) < 0.25] = -100
    soft = np.moveaxis(rng.dirichlet(np.ones(c), (n,) + sp), -1, 1).astype(dtype)
    onehot = np.moveaxis(np.eye(c)[y], -1, 1).astype(dtype)
    return {"idx": y, "ign": y_ign, "soft": soft, "onehot": onehot}


@DT
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_dice_loss_matches_torch(dtype, reduction, rng):
    for shape in [(5, 3), (4, 3, 7), (3, 4, 5, 6), (2, 2, 2, 3, 4)]:
        n, c, sp = shape[0], shape[1], shape[2:]
        x = (rng.standard_normal(shape) * 2).astype(dtype)
        probs = np.moveaxis(rng.dirichlet(np.ones(c), (n,) + sp), -1, 1).astype(dtype)
        w = (0.2 + rng.random(c)).astype(dtype)
        sw = rng.random(n).astype(dtype)
        for (tn, t), logits, smooth, weight, swt in itertools.product(
                _dice_targets(rng, n, c, sp, dtype).items(), [True, False], [1.0, 0.0, 1e-5],
                [None, w], [None, sw]):
            xx = x if logits else probs
            kw = dict(smooth=smooth, from_logits=logits, weight=weight, reduction=reduction)
            v, g = fl.dice_loss.value_and_grad(xx, t, sample_weight=swt, **kw)
            vt, gt = _autograd(lambda z: torch_dice_loss(z, t, sample_weight=swt, **kw), xx)
            what = f"{shape} {tn} logits={logits} smooth={smooth} w={weight is not None}"
            assert_close(v, vt, dtype, "value " + what)
            assert_close(g, gt, dtype, "grad " + what)


@DT
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_dice_loss_binary_matches_torch(dtype, reduction, rng):
    for shape in [(6, 1), (4, 1, 9), (3, 1, 4, 5)]:
        n, sp = shape[0], shape[2:]
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        probs = rng.random(shape).astype(dtype)
        mask = (rng.random((n,) + sp) < 0.4).astype(dtype)
        soft = rng.random(shape).astype(dtype)
        for t, logits, smooth in itertools.product([mask, soft], [True, False], [1.0, 0.0]):
            xx = x if logits else probs
            kw = dict(smooth=smooth, from_logits=logits, reduction=reduction)
            v, g = fl.dice_loss.value_and_grad(xx, t, **kw)
            vt, gt = _autograd(lambda z: torch_dice_loss(z, t.reshape(shape), **kw), xx)
            assert_close(v, vt, dtype, f"value {shape} logits={logits}")
            assert_close(g, gt, dtype, f"grad {shape} logits={logits}")
            # the mask with and without its class axis is the same target
            v2, g2 = fl.dice_loss.value_and_grad(xx, t.reshape(shape), **kw)
            np.testing.assert_array_equal(v2, v)
            np.testing.assert_array_equal(g2, g)


def test_dice_loss_known_values():
    """Hand-computed: probabilities that match one-hot targets exactly give Dice 1 per class
    (loss 0), and dL/dp = -(w/W) (2 t D - 2 I) / D^2; an empty class with smooth = 0
    counts as Dice 1 with a zero gradient."""
    p = np.array([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]])    # (1, 3, 2): class 2 empty
    y = np.array([[0, 1]])
    v, g = fl.dice_loss.value_and_grad(p, y, smooth=0.0, from_logits=False, reduction="sum")
    assert v == 0.0
    # classes 0 and 1: I = 1, D = 2 -> -(1/3) (4 t - 2) / 4 = -1/6 at the target, +1/6 off it
    np.testing.assert_allclose(g, [[[-1 / 6, 1 / 6], [1 / 6, -1 / 6], [0, 0]]], rtol=1e-15)
    # smooth = 1, binary: p = 0.5 everywhere over 4 positions with 2 positives:
    # I = 1, P = 2, T = 2, dice = 3 / 5, loss 0.4
    v = fl.dice_loss(np.full((1, 1, 4), 0.5), np.array([[1.0, 1.0, 0.0, 0.0]]), from_logits=False)
    assert v == pytest.approx(0.4, rel=1e-15)
    # logits 0 under sigmoid are p = 0.5 too; the gradient is dL/dp * 1/4
    v2, g2 = fl.dice_loss.value_and_grad(np.zeros((1, 1, 4)), np.array([[1.0, 1.0, 0.0, 0.0]]))
    assert v2 == pytest.approx(0.4, rel=1e-15)
    # dL/dp = -(2 t 5 - 3) / 25: -7/25 at t = 1, 3/25 at t = 0
    np.testing.assert_allclose(g2, [[[-7 / 100, -7 / 100, 3 / 100, 3 / 100]]], rtol=1e-14)


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_dice_loss_ignored_positions(backend, rng):
    """Ignored positions count in no sum: their input (even NaN) changes nothing, their
    gradient is exactly 0; a sample with every position ignored has loss 0 (smooth > 0)."""
    x = rng.standard_normal((3, 4, 10))
    y = rng.integers(0, 4, (3, 10))
    y[0, ::2] = 255
    y[2] = 255
    v, g = fl.dice_loss.value_and_grad(x, y, ignore_index=255, reduction="none", backend=backend)
    x2 = x.copy()
    x2[0, :, ::2] = np.nan
    x2[2] = 1e4
    v2, g2 = fl.dice_loss.value_and_grad(x2, y, ignore_index=255, reduction="none",
                                         backend=backend)
    np.testing.assert_array_equal(v2, v)
    np.testing.assert_array_equal(g2, g)
    assert not g[0, :, ::2].any() and not g[2].any() and v[2] == 0.0
    assert g[0, :, 1::2].all()


def test_dice_loss_many_classes_and_long_rows(rng):
    """More classes than the per-row sums keep on the stack, and rows of several position
    segments: the CPU kernel agrees with torch."""
    for shape, c in (((2, 1100, 3), 1100), ((2, 3, 1000), 3)):
        x = rng.standard_normal(shape)
        y = rng.integers(0, c, (shape[0],) + shape[2:])
        v, g = fl.dice_loss.value_and_grad(x, y, smooth=0.5)
        vt, gt = _autograd(lambda z: torch_dice_loss(z, y, smooth=0.5), x)
        assert_close(v, vt, np.float64, "value")
        assert_close(g, gt, np.float64, "grad")


def test_dice_loss_in_table():
    spec = LOSSES["dice_loss"]
    assert [p.name for p in spec.signature_params()] == [
        "smooth", "from_logits", "weight", "ignore_index", "reduction"]
