"""Input cases per loss, for the table-driven tests.

``CASES[name](dtype, rng)`` yields ``(case_id, args, kwargs)`` covering every option
combination of that loss and the extremes (large logits, infinities where the loss is
defined, one class, one sample, empty batches).  ``SMALL[name](rng)`` yields small float64
``(args, kwargs)`` for finite differences; its first item is also the basic case of the
generic tests (NaN propagation, layouts, out=), so it must be batched (first axis = the
samples, at least 3 of them, none ignored) and take ``sample_weight``.
``LARGE[name](dtype, rng)`` gives one ``(args, kwargs)`` with at least 65536 input values,
for the thread-count tests.  ``BAD`` lists bad-input cases (see badinput.py).

The core losses are here; each group of losses has its own ``cases_<group>.py`` with the
same four names, merged below.  Every loss in the table must have all three: a test
fails when one is missing, so a new loss cannot go untested.
"""
import itertools

import numpy as np

INT_DTYPES = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)


def _logits(rng, shape, dtype, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _pos(rng, shape, dtype, low=0.1):
    return (low + rng.random(shape)).astype(dtype)


# ------------------------------------------------------------------ cross_entropy ----

def cross_entropy_cases(dtype, rng):
    n, c = 37, 11
    x = _logits(rng, (n, c), dtype)
    idt = INT_DTYPES[rng.integers(len(INT_DTYPES))]
    t = rng.integers(0, c, n).astype(idt)
    t_ign = t.astype(np.int64)
    t_ign[rng.random(n) < 0.3] = -100
    t_ign3 = t.astype(np.int64)   # ignore_index=3 and targets that hit it
    t_ign3[:5] = 3
    w = _pos(rng, c, dtype)
    sw = _pos(rng, n, dtype, 0.0)
    for (tname, tt, ii), wt, ls, swt in itertools.product(
            [("t", t, None), ("ign", t_ign, None), ("ign3", t_ign3, 3)],
            [None, w], [0.0, 0.25, 1.0], [None, sw]):
        kw = {}
        if ii is not None:
            kw["ignore_index"] = ii
        if wt is not None:
            kw["weight"] = wt
        if ls:
            kw["label_smoothing"] = ls
        if swt is not None:
            kw["sample_weight"] = swt
        yield f"{tname}-w{wt is not None}-ls{ls}-sw{swt is not None}", (x, tt), kw
    # probability targets
    p = rng.dirichlet(np.ones(c), n).astype(dtype)
    for wt, ls, swt in itertools.product([None, w], [0.0, 0.3], [None, sw]):
        kw = {"weight": wt, "label_smoothing": ls, "sample_weight": swt}
        yield f"prob-w{wt is not None}-ls{ls}-sw{swt is not None}", (x, p), kw
    # extremes
    big = (rng.choice([-1.0, 1.0], (n, c)) * 1e4).astype(dtype)
    yield "logits1e4", (big, t), {}
    yield "logits1e4-ls", (big, t), {"label_smoothing": 0.1, "weight": w}
    xi = x.copy()
    xi[np.arange(n), (t.astype(np.int64) + 1) % c] = -np.inf   # -inf off the target
    yield "neginf", (xi, t), {}
    yield "one-class", (_logits(rng, (n, 1), dtype), np.zeros(n, np.int64)), {}
    yield "one-class-ls", (_logits(rng, (n, 1), dtype), np.zeros(n, np.int64)), {"label_smoothing": 0.5}
    yield "one-sample", (x[:1], t[:1]), {"weight": w}
    yield "unbatched", (x[0], np.int64(t[0])), {}
    yield "unbatched-prob", (x[0], p[0]), {"label_smoothing": 0.2}
    yield "empty", (x[:0], t[:0]), {}
    yield "empty-prob", (x[:0], p[:0]), {}
    yield "all-ignored", (x, np.full(n, -100)), {}
    yield "zero-weight", (x, t), {"sample_weight": np.zeros(n, dtype)}
    # wide rows: several online chunks, with the max growing across chunks
    wide = _logits(rng, (5, 3000), dtype) + np.linspace(0, 30, 3000).astype(dtype)
    tw = rng.integers(0, 3000, 5)
    yield "wide", (wide, tw), {}
    yield "wide-ls-w", (wide, tw), {"label_smoothing": 0.1, "weight": _pos(rng, 3000, dtype)}
    yield "wide-prob", (wide, rng.dirichlet(np.ones(3000), 5).astype(dtype)), {}


def cross_entropy_kdim_cases(dtype, rng):
    """(N, C, d1, ..., dk) input: segmentation-style targets per position."""
    for shape in [(3, 4, 5), (2, 5, 3, 7), (2, 3, 2, 2, 3)]:
        n, c = shape[:2]
        x = _logits(rng, shape, dtype)
        t = rng.integers(0, c, (n,) + shape[2:])
        t_ign = t.copy()
        t_ign[rng.random(t.shape) < 0.3] = -100
        p = np.moveaxis(rng.dirichlet(np.ones(c), (n,) + shape[2:]), -1, 1).astype(dtype)
        w = _pos(rng, c, dtype)
        sw = _pos(rng, n, dtype, 0.0)
        sid = "kd" + "x".join(map(str, shape))
        for (tn, tt), wt, ls, z, swt in itertools.product(
                [("t", t), ("ign", t_ign), ("prob", p)], [None, w], [0.0, 0.2], [0.0, 0.01],
                [None, sw]):
            kw = {"weight": wt, "label_smoothing": ls, "z_loss": z, "sample_weight": swt}
            yield f"{sid}-{tn}-w{wt is not None}-ls{ls}-z{z}-sw{swt is not None}", (x, tt), kw
    # positions beyond one segment, a large class count, -inf and 1e4 logits
    x = _logits(rng, (2, 3, 600), dtype)
    yield "kd-long", (x, rng.integers(0, 3, (2, 600))), {"label_smoothing": 0.1}
    x = _logits(rng, (2, 700, 20), dtype)
    yield "kd-many-classes", (x, rng.integers(0, 700, (2, 20))), {"z_loss": 1e-3}
    big = (rng.choice([-1.0, 1.0], (3, 4, 6)) * 1e4).astype(dtype)
    big[0, 1, :] = -np.inf
    yield "kd-extreme", (big, rng.integers(0, 4, (3, 6))), {"z_loss": 1e-4}
    yield "kd-empty", (_logits(rng, (0, 3, 4), dtype), np.zeros((0, 4), np.int64)), {}
    yield "kd-no-positions", (_logits(rng, (3, 4, 0), dtype), np.zeros((3, 0), np.int64)), {
        "sample_weight": _pos(rng, 3, dtype)}
    yield "kd-no-positions-prob", (_logits(rng, (2, 4, 3, 0), dtype),
                                   np.zeros((2, 4, 3, 0), dtype)), {}
    yield "kd-all-ignored", (_logits(rng, (2, 3, 4), dtype), np.full((2, 4), -100)), {}


def cross_entropy_all_cases(dtype, rng):
    yield from cross_entropy_cases(dtype, rng)
    yield from cross_entropy_kdim_cases(dtype, rng)
    x = _logits(rng, (37, 11), dtype)
    t = rng.integers(0, 11, 37)
    for z in (1e-4, 0.1):
        yield f"z{z}", (x, t), {"z_loss": z, "weight": _pos(rng, 11, dtype)}
        yield f"z{z}-prob", (x, rng.dirichlet(np.ones(11), 37).astype(dtype)), {"z_loss": z}
    yield "z-wide", (_logits(rng, (4, 3000), dtype), rng.integers(0, 3000, 4)), {"z_loss": 1e-3}


def cross_entropy_small(rng):
    n, c = 4, 5
    x = rng.standard_normal((n, c)) * 2
    t = rng.integers(0, c, n)
    yield (x, t), {"sample_weight": 0.5 + rng.random(n)}
    t[0] = -100
    w = 0.5 + rng.random(c)
    sw = 0.5 + rng.random(n)
    yield (x, t), {"weight": w, "label_smoothing": 0.2, "sample_weight": sw}
    yield (x, t), {}
    yield (x, rng.dirichlet(np.ones(c), n)), {"weight": w, "label_smoothing": 0.1}
    yield (x[0], np.int64(2)), {"label_smoothing": 0.3}
    yield (x, t), {"z_loss": 0.05, "weight": w}
    xk = rng.standard_normal((2, 3, 2, 2)) * 2
    tk = rng.integers(0, 3, (2, 2, 2))
    tk[0, 1, 0] = -100
    yield (xk, tk), {"weight": w[:3], "label_smoothing": 0.2, "z_loss": 0.1,
                     "sample_weight": 0.5 + rng.random(2)}
    yield (xk, np.moveaxis(rng.dirichlet(np.ones(3), (2, 2, 2)), -1, 1)), {"z_loss": 0.1}


def cross_entropy_large(dtype, rng):
    return (_logits(rng, (700, 300), dtype), rng.integers(0, 300, 700)), {"label_smoothing": 0.1}


# ------------------------------------------------------------------------ nll_loss ----

def _log_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def nll_cases(dtype, rng):
    n, c = 23, 6
    x = _log_softmax(_logits(rng, (n, c), np.float64)).astype(dtype)
    t = rng.integers(0, c, n).astype(INT_DTYPES[rng.integers(len(INT_DTYPES))])
    t_ign = t.astype(np.int64)
    t_ign[::3] = 2
    w = _pos(rng, c, dtype)
    sw = _pos(rng, n, dtype, 0.0)
    for (tn, tt, ii), wt, swt in itertools.product([("t", t, -100), ("ign2", t_ign, 2)],
                                                   [None, w], [None, sw]):
        yield f"{tn}-w{wt is not None}-sw{swt is not None}", (x, tt), {
            "weight": wt, "ignore_index": ii, "sample_weight": swt}
    yield "raw-scores", (_logits(rng, (n, c), dtype), t), {}   # any real input, as PyTorch
    yield "unbatched", (x[0], np.int64(t[0])), {"weight": w}
    yield "empty", (x[:0], t[:0]), {}
    yield "all-ignored", (x, np.full(n, -100)), {}
    xk = _logits(rng, (3, 4, 5, 2), dtype)
    tk = rng.integers(0, 4, (3, 5, 2))
    tk[0, 0, 0] = -100
    yield "kd", (xk, tk), {"weight": _pos(rng, 4, dtype), "sample_weight": _pos(rng, 3, dtype)}
    yield "kd-long", (_logits(rng, (2, 3, 700), dtype), rng.integers(0, 3, (2, 700))), {}
    yield "kd-no-positions", (_logits(rng, (2, 3, 0), dtype), np.zeros((2, 0), np.int64)), {}


def nll_small(rng):
    x = _log_softmax(rng.standard_normal((4, 5)))
    t = rng.integers(0, 5, 4)
    yield (x, t), {"weight": 0.5 + rng.random(5), "sample_weight": 0.5 + rng.random(4)}
    yield (rng.standard_normal((2, 3, 4)), rng.integers(0, 3, (2, 4))), {}


def nll_large(dtype, rng):
    return (_logits(rng, (300, 300), dtype), rng.integers(0, 300, 300)), {}


# --------------------------------------------- binary_cross_entropy_with_logits ----

def bce_cases(dtype, rng):
    for shape in [(37,), (8, 13), (4, 3, 5), ()]:
        x = _logits(rng, shape, dtype)
        t = rng.random(shape).astype(dtype)
        c = shape[-1] if shape else 1
        n = shape[0] if shape else 1
        weights = {"none": None, "full": _pos(rng, shape, dtype), "scalar": np.asarray(0.7, dtype)}
        if len(shape) >= 1:
            weights["last"] = _pos(rng, (c,), dtype)
        if len(shape) >= 2:
            weights["row"] = _pos(rng, (n,) + (1,) * (len(shape) - 1), dtype)
            weights["mid"] = _pos(rng, shape[1:2] + (1,) * (len(shape) - 2), dtype)
        pws = {"none": None, "full": _pos(rng, shape, dtype)}
        if len(shape) >= 1:
            pws["last"] = _pos(rng, (c,), dtype, 0.5)
        sws = {"none": None}
        if len(shape) >= 1:
            sws["sw"] = _pos(rng, (n,), dtype, 0.0)
        sid = "x".join(map(str, shape)) or "scalar"
        for (wn, w), (pn, pw), (sn, sw) in itertools.product(weights.items(), pws.items(), sws.items()):
            yield f"{sid}-w{wn}-pw{pn}-{sn}", (x, t), {"weight": w, "pos_weight": pw, "sample_weight": sw}
    x = _logits(rng, (6, 7), dtype)
    yield "binary-targets", (x, rng.integers(0, 2, (6, 7)).astype(dtype)), {}
    yield "int-targets", (x, rng.integers(0, 2, (6, 7))), {"pos_weight": _pos(rng, 7, dtype)}
    big = (rng.choice([-1.0, 1.0], (6, 7)) * 1e4).astype(dtype)
    yield "logits1e4", (big, rng.random((6, 7)).astype(dtype)), {"pos_weight": _pos(rng, 7, dtype)}
    yield "empty", (x[:0], rng.random((0, 7)).astype(dtype)), {}
    yield "large", (_logits(rng, (50, 1500), dtype), rng.random((50, 1500)).astype(dtype)), {
        "weight": _pos(rng, 1500, dtype)}


def bce_large(dtype, rng):
    return (_logits(rng, (300, 700), dtype), rng.random((300, 700)).astype(dtype)), {}


def bce_small(rng):
    x = rng.standard_normal((3, 4)) * 2
    t = rng.random((3, 4))
    yield (x, t), {"weight": 0.5 + rng.random(4), "pos_weight": 0.5 + rng.random(4),
                   "sample_weight": 0.5 + rng.random(3)}
    yield (x, t), {}
    yield (x[0], t[0]), {"pos_weight": 0.5 + rng.random(4)}


# ------------------------------------------------------------------------ mse_loss ----

def mse_cases(dtype, rng):
    for shape in [(37,), (8, 13), (4, 3, 5), ()]:
        x = _logits(rng, shape, dtype)
        t = _logits(rng, shape, dtype)
        sid = "x".join(map(str, shape)) or "scalar"
        yield sid, (x, t), {}
        yield sid + "-w", (x, t), {"weight": _pos(rng, shape, dtype, 0.0)}
        if shape:
            yield sid + "-sw", (x, t), {"sample_weight": _pos(rng, shape[:1], dtype, 0.0)}
            yield sid + "-w-sw", (x, t), {"weight": _pos(rng, shape, dtype),
                                          "sample_weight": _pos(rng, shape[:1], dtype)}
    yield "zero-weight", (x, t), {"weight": np.zeros(x.shape, dtype)}
    yield "large-values", ((rng.standard_normal(50) * 1e4).astype(dtype),
                           (rng.standard_normal(50) * 1e4).astype(dtype)), {}
    yield "int-target", (_logits(rng, (5, 3), dtype), rng.integers(-3, 3, (5, 3))), {}
    yield "empty", (_logits(rng, (0, 4), dtype), _logits(rng, (0, 4), dtype)), {}
    yield "large", (_logits(rng, (300, 400), dtype), _logits(rng, (300, 400), dtype)), {}


def mse_large(dtype, rng):
    return (_logits(rng, (300, 700), dtype), _logits(rng, (300, 700), dtype)), {}


def mse_small(rng):
    yield (rng.standard_normal((3, 4)), rng.standard_normal((3, 4))), {"sample_weight": rng.random(3)}
    yield (rng.standard_normal((3, 4)), rng.standard_normal((3, 4))), {
        "weight": rng.random((3, 4)), "sample_weight": rng.random(3)}
    yield (rng.standard_normal(5), rng.standard_normal(5)), {}


CASES = {
    "cross_entropy": cross_entropy_all_cases,
    "nll_loss": nll_cases,
    "binary_cross_entropy_with_logits": bce_cases,
    "mse_loss": mse_cases,
}

SMALL = {
    "cross_entropy": cross_entropy_small,
    "nll_loss": nll_small,
    "binary_cross_entropy_with_logits": bce_small,
    "mse_loss": mse_small,
}

LARGE = {
    "cross_entropy": cross_entropy_large,
    "nll_loss": nll_large,
    "binary_cross_entropy_with_logits": bce_large,
    "mse_loss": mse_large,
}

BAD = []

# losses whose gradient does not read the input (linear in it): NaN input, finite gradient
GRAD_FREE_OF_INPUT = {"nll_loss"}
# losses whose documented gradient treats part of the value as a constant (a stop-gradient,
# e.g. a bootstrapped target): not the derivative of the value, so finite differences of
# the value do not apply; their group tests check the gradient with that part frozen
STOP_GRADIENT = set()

import cases_binary, cases_margin, cases_regression, cases_softmax  # noqa: E402

for _group in (cases_softmax, cases_binary, cases_margin, cases_regression):
    for _mine, _theirs in ((CASES, _group.CASES), (SMALL, _group.SMALL), (LARGE, _group.LARGE)):
        assert not set(_mine) & set(_theirs), "a loss has cases in two modules"
        _mine.update(_theirs)
    BAD += _group.BAD
    GRAD_FREE_OF_INPUT |= getattr(_group, "GRAD_FREE_OF_INPUT", set())
    STOP_GRADIENT |= getattr(_group, "STOP_GRADIENT", set())
