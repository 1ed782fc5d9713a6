"""Test cases of the binary losses (see cases.py for what each name holds)."""
import itertools

import numpy as np

import fastloss as fl
from badinput import on_backend


def _logits(rng, shape, dtype, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _prob(rng, shape, dtype, low=0.0):
    """Values in [low, 1 - low] (probabilities or soft targets)."""
    return (low + (1.0 - 2.0 * low) * rng.random(shape)).astype(dtype)


def _pos(rng, shape, dtype, low=0.1):
    return (low + rng.random(shape)).astype(dtype)


def _sid(shape):
    return "x".join(map(str, shape)) or "scalar"


# ------------------------------------------------------------- binary_cross_entropy ----

def bce_cases(dtype, rng):
    for shape in [(37,), (8, 13), (4, 3, 5), ()]:
        x, t = _prob(rng, shape, dtype, 0.01), _prob(rng, shape, dtype)
        n, c = (shape[0] if shape else 1), (shape[-1] if shape else 1)
        weights = {"none": None, "full": _pos(rng, shape, dtype), "scalar": np.asarray(0.7, dtype)}
        if len(shape) >= 1:
            weights["last"] = _pos(rng, (c,), dtype)
        if len(shape) >= 2:
            weights["row"] = _pos(rng, (n,) + (1,) * (len(shape) - 1), dtype)
            weights["mid"] = _pos(rng, shape[1:2] + (1,) * (len(shape) - 2), dtype)
        sws = {"none": None}
        if shape:
            sws["sw"] = _pos(rng, (n,), dtype, 0.0)
        for (wn, w), (sn, sw) in itertools.product(weights.items(), sws.items()):
            yield f"{_sid(shape)}-w{wn}-{sn}", (x, t), {"weight": w, "sample_weight": sw}
    # the clamps: inputs exactly 0 and 1 (log -> -100, gradient denominator -> 1e-12),
    # and next to them
    edge = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1e-30, 1 - 1e-7, 1e-7, 0.5], dtype)
    for tv in (0.0, 1.0, 0.3):
        yield f"edges-t{tv}", (edge, np.full(edge.shape, tv, dtype)), {}
    yield "edges-mixed", (edge, np.array([0, 0, 1, 1, 0.5, 0.5, 1, 0, 1, 1], dtype)), {
        "weight": _pos(rng, edge.shape, dtype)}
    x = _prob(rng, (6, 7), dtype)
    yield "hard-targets", (x, rng.integers(0, 2, (6, 7)).astype(dtype)), {}
    yield "int-targets", (x, rng.integers(0, 2, (6, 7))), {"weight": _pos(rng, 7, dtype)}
    yield "bool-targets", (x, rng.random((6, 7)) < 0.5), {}
    yield "zero-weight", (x, _prob(rng, (6, 7), dtype)), {"sample_weight": np.zeros(6, dtype)}
    yield "empty", (x[:0], x[:0]), {}
    yield "one-sample", (x[:1], _prob(rng, (1, 7), dtype)), {"sample_weight": np.ones(1, dtype)}
    yield "large", (_prob(rng, (50, 1500), dtype), _prob(rng, (50, 1500), dtype)), {
        "weight": _pos(rng, 1500, dtype)}


def bce_small(rng):
    x = 0.05 + 0.9 * rng.random((3, 4))
    t = rng.random((3, 4))
    yield (x, t), {"weight": 0.5 + rng.random(4), "sample_weight": 0.5 + rng.random(3)}
    yield (x, t), {}
    yield (x, rng.integers(0, 2, (3, 4)).astype(float)), {"weight": 0.5 + rng.random((3, 1))}
    yield (x[0], t[0]), {}


# ---------------------------------------------------------------------------- kl_div ----

def _log_softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def kl_cases(dtype, rng):
    for shape in [(37,), (8, 13), (4, 3, 5), ()]:
        x = _logits(rng, shape, dtype)
        t = _prob(rng, shape, dtype)
        lt = _logits(rng, shape, dtype, 1.0)
        for log_target, sw in itertools.product([False, True], [False, True]):
            if sw and not shape:
                continue
            kw = {"log_target": log_target}
            if sw:
                kw["sample_weight"] = _pos(rng, shape[:1], dtype, 0.0)
            yield f"{_sid(shape)}-log{log_target}-sw{sw}", (x, lt if log_target else t), kw
    # distributions over the last axis, with exact zeros in the target (0 log 0 = 0)
    x = _log_softmax(_logits(rng, (9, 11), np.float64)).astype(dtype)
    t = rng.dirichlet(np.ones(11), 9)
    t[t < 0.05] = 0.0
    yield "dist-zeros", (x, t.astype(dtype)), {}
    yield "dist-log-target", (x, _log_softmax(_logits(rng, (9, 11), np.float64)).astype(dtype)), {
        "log_target": True}
    yield "all-zero-target", (x, np.zeros((9, 11), dtype)), {}
    yield "large-values", (_logits(rng, (6, 5), dtype, 1e3), _prob(rng, (6, 5), dtype) * 1e3), {}
    yield "int-target", (x, rng.integers(0, 3, (9, 11))), {}
    yield "empty", (x[:0], t[:0].astype(dtype)), {}
    yield "large", (_logits(rng, (50, 1500), dtype), _prob(rng, (50, 1500), dtype)), {
        "log_target": False}


def kl_small(rng):
    yield (rng.standard_normal((3, 4)), rng.random((3, 4))), {"sample_weight": 0.5 + rng.random(3)}
    yield (rng.standard_normal((3, 4)), rng.standard_normal((3, 4))), {"log_target": True}
    yield (rng.standard_normal(5), np.array([0.0, 0.2, 0.3, 0.0, 0.5])), {}


# ---------------------------------------------------------------- sigmoid_focal_loss ----

def focal_cases(dtype, rng):
    for shape in [(37,), (8, 13), (4, 3, 5), ()]:
        x = _logits(rng, shape, dtype)
        # a lone soft target near sigmoid(x) would test float32 rounding of sigmoid(x) - t
        # (inherent; arrays are compared norm-wise): the scalar case takes a hard target
        t = _prob(rng, shape, dtype) if shape else np.asarray(rng.integers(0, 2), dtype)
        for alpha, gamma in [(0.25, 2.0), (-1.0, 2.0), (0.6, 0.5), (0.25, 0.0), (1.0, 1.0),
                             (0.0, 3.5)]:
            yield f"{_sid(shape)}-a{alpha}-g{gamma}", (x, t), {"alpha": alpha, "gamma": gamma}
        if shape:
            yield f"{_sid(shape)}-sw", (x, t), {"sample_weight": _pos(rng, shape[:1], dtype, 0.0),
                                                "gamma": 0.25}
    # hard targets at extreme logits: (1 - p_t)^gamma with gamma < 1 has an infinite
    # derivative at p_t = 1; the gradient must stay finite and exact
    ext = np.array([-1e4, -100, -50, -20, -1, 0, 1, 20, 50, 100, 1e4], dtype)
    x = np.concatenate([ext, ext])
    t = np.concatenate([np.zeros_like(ext), np.ones_like(ext)])
    for gamma in (0.0, 0.25, 0.5, 1.0, 2.0, 3.0):
        yield f"extreme-g{gamma}", (x, t), {"gamma": gamma}
    yield "extreme-soft", (x, np.full(x.shape, 0.3, dtype)), {"gamma": 0.5, "alpha": 0.9}
    xx = _logits(rng, (6, 7), dtype)
    yield "hard-targets", (xx, rng.integers(0, 2, (6, 7)).astype(dtype)), {"gamma": 0.5}
    yield "int-targets", (xx, rng.integers(0, 2, (6, 7))), {}
    yield "alpha-above-1", (xx, _prob(rng, (6, 7), dtype)), {"alpha": 1.5}
    yield "empty", (xx[:0], xx[:0]), {}
    yield "large", (_logits(rng, (50, 1500), dtype), _prob(rng, (50, 1500), dtype)), {
        "gamma": 1.5}


def focal_small(rng):
    x = rng.standard_normal((3, 4)) * 2
    t = rng.random((3, 4))
    yield (x, t), {"sample_weight": 0.5 + rng.random(3)}
    yield (x, rng.integers(0, 2, (3, 4)).astype(float)), {"gamma": 0.5, "alpha": 0.7}
    yield (x, t), {"gamma": 0.25, "alpha": -1.0}
    yield (x[0], t[0]), {"gamma": 0.0}
    yield (x, t), {"gamma": 3.0, "alpha": 0.0}


# ------------------------------------------------------------------------- dice_loss ----

def _onehot(rng, n, c, sp, dtype):
    y = rng.integers(0, c, (n,) + sp)
    return np.moveaxis(np.eye(c)[y], -1, 1).astype(dtype)


def dice_cases(dtype, rng):
    for shape in [(5, 3), (4, 3, 7), (3, 4, 5, 6), (2, 3, 2, 3, 4)]:
        n, c, sp = shape[0], shape[1], shape[2:]
        x = _logits(rng, shape, dtype)
        xp = np.moveaxis(rng.dirichlet(np.ones(c), (n,) + sp), -1, 1).astype(dtype)
        y = rng.integers(0, c, (n,) + sp)
        y_ign = y.copy()
        y_ign[rng.random(y.shape) < 0.3] = -100
        soft = np.moveaxis(rng.dirichlet(np.ones(c), (n,) + sp), -1, 1).astype(dtype)
        w = _pos(rng, c, dtype)
        sw = _pos(rng, n, dtype, 0.0)
        targets = {"idx": y, "ign": y_ign, "soft": soft, "onehot-int": _onehot(rng, n, c, sp, np.int64)}
        for (tn, tt), logits, smooth, wt, swt in itertools.product(
                targets.items(), [True, False], [1.0, 0.0], [None, w], [None, sw]):
            kw = {"from_logits": logits, "smooth": smooth, "weight": wt, "sample_weight": swt}
            yield (f"{_sid(shape)}-{tn}-logits{logits}-s{smooth}-w{wt is not None}-"
                   f"sw{swt is not None}"), (x if logits else xp, tt), kw
    # binary (C = 1): sigmoid of the logits or probabilities; target with or without the
    # class axis
    for shape in [(4, 1), (3, 1, 8), (2, 1, 5, 6)]:
        n, sp = shape[0], shape[2:]
        x = _logits(rng, shape, dtype)
        tb = (rng.random((n,) + sp) < 0.4).astype(dtype)
        ts = _prob(rng, shape, dtype)
        for (tn, tt), logits, smooth in itertools.product(
                [("mask", tb), ("soft-c", ts)], [True, False], [1.0, 0.0, 1e-5]):
            xx = x if logits else _prob(rng, shape, dtype)
            yield f"bin-{_sid(shape)}-{tn}-logits{logits}-s{smooth}", (xx, tt), {
                "from_logits": logits, "smooth": smooth,
                "sample_weight": _pos(rng, n, dtype)}
    yield "bin-bool-mask", (_logits(rng, (3, 1, 9), dtype), rng.random((3, 9)) < 0.5), {}
    yield "bin-int-mask", (_logits(rng, (3, 1, 9), dtype), rng.integers(0, 2, (3, 1, 9))), {}
    # custom ignore_index; an all-ignored sample; classes absent from a sample
    x = _logits(rng, (3, 4, 12), dtype)
    y = rng.integers(0, 4, (3, 12))
    y[0, ::3] = 255
    y[1] = 255
    y[2] = np.where(y[2] == 3, 0, y[2])
    yield "ignore-255", (x, y), {"ignore_index": 255, "weight": _pos(rng, 4, dtype)}
    yield "ignore-255-s0", (x, y), {"ignore_index": 255, "smooth": 0.0}
    # smooth = 0 and empty classes: zero probability where the class is absent, D = 0
    p = np.zeros((2, 3, 6), dtype)
    p[:, 0] = 0.6
    p[:, 1] = 0.4
    yi = np.tile(np.array([0, 1, 0, 1, 0, 0]), (2, 1))
    yield "empty-class-s0", (p, yi), {"from_logits": False, "smooth": 0.0}
    yield "empty-class-s1", (p, yi), {"from_logits": False, "weight": np.array([1, 2, 3], dtype)}
    yield "zero-class-weight", (x, y % 4), {"weight": np.array([0, 1, 0, 2], dtype)}
    # extreme logits, long position runs (several segments), many classes (heap sums)
    big = (rng.choice([-1.0, 1.0], (3, 4, 10)) * 1e4).astype(dtype)
    yield "logits1e4", (big, rng.integers(0, 4, (3, 10))), {}
    yield "logits1e4-soft", (big, np.moveaxis(rng.dirichlet(np.ones(4), (3, 10)), -1, 1).astype(dtype)), {}
    yield "logits1e4-bin", (big[:, :1], (rng.random((3, 10)) < 0.5).astype(dtype)), {}
    # nearly right predictions: 1 - p ~ 1e-10 (p rounds to 1 in float32), the loss and
    # gradient must come from the small terms, not from differences of near-equal sums
    yn = rng.integers(0, 4, (3, 40))
    xn = np.where(np.arange(4)[None, :, None] == yn[:, None, :], 12.0, -12.0)
    xn += rng.random(xn.shape)
    yield "near-perfect", (xn.astype(dtype), yn), {}
    yield "near-perfect-s0", (xn.astype(dtype), yn), {"smooth": 0.0}
    yield "near-perfect-soft", (xn.astype(dtype), np.moveaxis(np.eye(4)[yn], -1, 1).astype(dtype)), {}
    mb = rng.random((3, 30)) < 0.5
    yield "near-perfect-bin", (np.where(mb, 20.0, -20.0)[:, None].astype(dtype), mb), {}
    yield "long", (_logits(rng, (2, 3, 700), dtype), rng.integers(0, 3, (2, 700))), {}
    yield "long-soft", (_logits(rng, (2, 2, 1300), dtype), _prob(rng, (2, 2, 1300), dtype)), {}
    yield "many-classes", (_logits(rng, (2, 1100, 3), dtype), rng.integers(0, 1100, (2, 3))), {
        "smooth": 0.5}
    yield "many-classes-soft", (_logits(rng, (2, 1030, 2), dtype),
                                np.moveaxis(rng.dirichlet(np.ones(1030), (2, 2)), -1, 1).astype(dtype)), {}
    yield "one-sample", (x[:1], y[:1] % 4), {}
    yield "zero-weight", (x, y % 4), {"sample_weight": np.zeros(3, dtype)}
    yield "empty", (x[:0], y[:0]), {}


def dice_small(rng):
    x = rng.standard_normal((3, 3, 4)) * 2
    y = rng.integers(0, 3, (3, 4))
    yield (x, y), {"sample_weight": 0.5 + rng.random(3)}
    y_ign = y.copy()
    y_ign[0, 1] = -100
    yield (x, y_ign), {"weight": 0.5 + rng.random(3), "smooth": 0.5}
    soft = np.moveaxis(rng.dirichlet(np.ones(3), (3, 4)), -1, 1)
    yield (x, soft), {"smooth": 0.0, "weight": 0.5 + rng.random(3)}
    yield (0.1 + 0.8 * rng.random((3, 3, 4)), y), {"from_logits": False}
    yield (rng.standard_normal((3, 1, 5)), rng.random((3, 5))), {"sample_weight": 0.5 + rng.random(3)}
    yield (0.1 + 0.8 * rng.random((2, 1, 2, 3)), rng.random((2, 1, 2, 3))), {"from_logits": False,
                                                                            "smooth": 1e-3}
    yield (rng.standard_normal((4, 3)), rng.integers(0, 3, 4)), {}


def dice_large(dtype, rng):
    y = rng.integers(0, 3, (8, 64, 64))
    y[rng.random(y.shape) < 0.1] = -100
    return (_logits(rng, (8, 3, 64, 64), dtype), y), {"weight": _pos(rng, 3, dtype)}


CASES = {
    "binary_cross_entropy": bce_cases,
    "kl_div": kl_cases,
    "sigmoid_focal_loss": focal_cases,
    "dice_loss": dice_cases,
}
SMALL = {
    "binary_cross_entropy": bce_small,
    "kl_div": kl_small,
    "sigmoid_focal_loss": focal_small,
    "dice_loss": dice_small,
}
LARGE = {
    "binary_cross_entropy": lambda dtype, rng: ((_prob(rng, (300, 700), dtype),
                                                 _prob(rng, (300, 700), dtype)),
                                                {"weight": _pos(rng, 700, dtype)}),
    "kl_div": lambda dtype, rng: ((_logits(rng, (300, 700), dtype),
                                   _prob(rng, (300, 700), dtype)), {}),
    "sigmoid_focal_loss": lambda dtype, rng: ((_logits(rng, (300, 700), dtype),
                                               _prob(rng, (300, 700), dtype)), {}),
    "dice_loss": dice_large,
}

# kl_div's gradient -t (or -exp(t)) does not read the input
GRAD_FREE_OF_INPUT = {"kl_div"}

BCE, KL, FOCAL, DICE = map(on_backend, (fl.binary_cross_entropy, fl.kl_div,
                                        fl.sigmoid_focal_loss, fl.dice_loss))
_R = np.random.default_rng(5)
_P = 0.05 + 0.9 * _R.random((6, 4))
_X = _R.standard_normal((6, 4))
_XD = _R.standard_normal((3, 4, 5))
_YD = _R.integers(0, 4, (3, 5))
_SOFT = np.full((3, 4, 5), 0.25)


def _with(a, idx, v):
    b = np.array(a, dtype=float)
    b[idx] = v
    return b


BAD = [
    # binary_cross_entropy
    ("bce-prob-input-high", lambda: BCE(_with(_P, (2, 1), 1.5), _P), ValueError, "input"),
    ("bce-prob-input-neg", lambda: BCE(_with(_P, (0, 0), -1e-9), _P), ValueError, "input"),
    ("bce-prob-input-inf", lambda: BCE(_with(_P, (0, 0), np.inf), _P), ValueError, "input"),
    ("bce-prob-target-high", lambda: BCE(_P, _with(_P, (3, 3), 1.01)), ValueError, "target"),
    ("bce-prob-target-neg", lambda: BCE(_P, -_P), ValueError, "target"),
    ("bce-prob-target-shape", lambda: BCE(_P, _P[:, :3]), ValueError, "target"),
    ("bce-prob-weight-shape", lambda: BCE(_P, _P, weight=np.ones(3)), ValueError, "weight"),
    ("bce-prob-weight-negative", lambda: BCE(_P, _P, weight=-np.ones(4)), ValueError, "weight"),
    ("bce-prob-weight-nan", lambda: BCE(_P, _P, weight=np.full(4, np.nan)), ValueError, "weight"),
    ("bce-prob-sw-shape", lambda: BCE(_P, _P, sample_weight=np.ones(4)), ValueError, "sample_weight"),
    ("bce-prob-batchmean", lambda: BCE(_P, _P, reduction="batchmean"), ValueError, "reduction"),
    # kl_div
    ("kl-target-neg", lambda: KL(_X, _with(_P, (1, 2), -0.1)), ValueError, "target"),
    ("kl-target-neg-inf", lambda: KL(_X, _with(_P, (1, 2), -np.inf)), ValueError, "target"),
    ("kl-target-shape", lambda: KL(_X, _P[:3]), ValueError, "target"),
    ("kl-log-target-type", lambda: KL(_X, _P, log_target=1), TypeError, "log_target"),
    ("kl-reduction", lambda: KL(_X, _P, reduction="batch"), ValueError, "reduction"),
    ("kl-sw-negative", lambda: KL(_X, _P, sample_weight=-np.ones(6)), ValueError, "sample_weight"),
    # sigmoid_focal_loss
    ("focal-targets-high", lambda: FOCAL(_X, _P + 1), ValueError, "targets"),
    ("focal-targets-neg", lambda: FOCAL(_X, _with(_P, (5, 3), -0.5)), ValueError, "targets"),
    ("focal-targets-shape", lambda: FOCAL(_X, _P.T), ValueError, "targets"),
    ("focal-gamma-neg", lambda: FOCAL(_X, _P, gamma=-0.5), ValueError, "gamma"),
    ("focal-gamma-nan", lambda: FOCAL(_X, _P, gamma=float("nan")), ValueError, "gamma"),
    ("focal-alpha-nan", lambda: FOCAL(_X, _P, alpha=float("nan")), ValueError, "alpha"),
    ("focal-alpha-str", lambda: FOCAL(_X, _P, alpha="0.25"), TypeError, "alpha"),
    ("focal-inputs-int", lambda: FOCAL(_YD, _YD), TypeError, "inputs"),
    ("focal-sw-shape", lambda: FOCAL(_X, _P, sample_weight=np.ones(5)), ValueError, "sample_weight"),
    # dice_loss
    ("dice-smooth-neg", lambda: DICE(_XD, _YD, smooth=-1.0), ValueError, "smooth"),
    ("dice-from-logits-type", lambda: DICE(_XD, _YD, from_logits="yes"), TypeError, "from_logits"),
    ("dice-index-high", lambda: DICE(_XD, _with(_YD, (0, 0), 4).astype(int)), ValueError, "target"),
    ("dice-index-neg", lambda: DICE(_XD, _with(_YD, (1, 1), -1).astype(int)), ValueError, "target"),
    ("dice-index-ignored-other", lambda: DICE(_XD, _with(_YD, (1, 1), -100).astype(int),
                                              ignore_index=7), ValueError, "target"),
    ("dice-index-float", lambda: DICE(_XD, _YD.astype(float)), TypeError, "target"),
    ("dice-target-shape", lambda: DICE(_XD, _YD[:, :4]), ValueError, "target"),
    ("dice-target-batch", lambda: DICE(_XD, _YD[:2]), ValueError, "target"),
    ("dice-soft-high", lambda: DICE(_XD, _with(_SOFT, (0, 0, 0), 1.5)), ValueError, "target"),
    ("dice-soft-neg", lambda: DICE(_XD, _with(_SOFT, (0, 0, 0), -0.5)), ValueError, "target"),
    ("dice-soft-ignore", lambda: DICE(_XD, _SOFT, ignore_index=0), ValueError, "ignore_index"),
    ("dice-binary-mask-255", lambda: DICE(_XD[:, :1], np.full((3, 5), 255)), ValueError, "target"),
    ("dice-binary-shape", lambda: DICE(_XD[:, :1], np.zeros((3, 4))), ValueError, "target"),
    ("dice-prob-input", lambda: DICE(_XD, _YD, from_logits=False), ValueError, "input"),
    ("dice-input-1d", lambda: DICE(_XD[0, 0], _YD[0]), ValueError, "input"),
    ("dice-input-no-classes", lambda: DICE(_XD[:, :0], _YD), ValueError, "input"),
    ("dice-input-no-positions", lambda: DICE(_XD[:, :, :0], _YD[:, :0]), ValueError, "input"),
    ("dice-weight-shape", lambda: DICE(_XD, _YD, weight=np.ones(3)), ValueError, "weight"),
    ("dice-weight-negative", lambda: DICE(_XD, _YD, weight=np.array([1, -1, 1, 1.0])), ValueError, "weight"),
    ("dice-weight-all-zero", lambda: DICE(_XD, _YD, weight=np.zeros(4)), ValueError, "weight"),
    ("dice-weight-inf", lambda: DICE(_XD, _YD, weight=np.array([1, np.inf, 1, 1])), ValueError, "weight"),
    ("dice-sw-shape", lambda: DICE(_XD, _YD, sample_weight=np.ones(4)), ValueError, "sample_weight"),
    ("dice-target-str", lambda: DICE(_XD, np.array(["a"] * 15).reshape(3, 5)), TypeError, "target"),
]
