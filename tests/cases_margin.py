"""Test cases of the margin losses (see cases.py for what each name holds)."""
import itertools

import numpy as np

import fastloss as fl
from badinput import on_backend

INT_DTYPES = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)


def _real(rng, shape, dtype, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _pos(rng, shape, dtype, low=0.1):
    return (low + rng.random(shape)).astype(dtype)


def _pm1(rng, shape, dtype):
    return rng.choice([-1.0, 1.0], shape).astype(dtype)


def _sid(shape):
    return "x".join(map(str, shape)) or "scalar"


# ------------------------------------------------------------ multi_margin_loss ----

def multi_margin_cases(dtype, rng):
    n, c = 37, 11
    x = _real(rng, (n, c), dtype)
    t = rng.integers(0, c, n).astype(INT_DTYPES[rng.integers(len(INT_DTYPES))])
    w = _pos(rng, c, dtype)
    sw = _pos(rng, n, dtype, 0.0)
    for p, margin, wt, swt in itertools.product([1, 2], [1.0, 0.3, -0.5], [None, w], [None, sw]):
        yield f"p{p}-m{margin}-w{wt is not None}-sw{swt is not None}", (x, t), {
            "p": p, "margin": margin, "weight": wt, "sample_weight": swt}
    # kinks: integer scores and margin, so that z = margin - x_y + x_j is exactly 0
    xi = rng.integers(-3, 4, (n, c)).astype(dtype)
    yield "kink-p1", (xi, t), {"margin": 1.0}
    yield "kink-p2", (xi, t), {"p": 2, "margin": 2.0, "weight": w}
    big = (rng.choice([-1.0, 1.0], (n, c)) * 1e4).astype(dtype)
    yield "scores1e4", (big, t), {"p": 2, "weight": w}
    xinf = x.copy()
    ti = t.astype(np.int64)
    xinf[0, ti[0]] = np.inf                      # target score +inf: value 0
    xinf[1, (ti[1] + 1) % c] = -np.inf           # another class at -inf: its term 0
    yield "inf", (xinf, t), {}
    yield "target-first-last", (x, np.where(np.arange(n) % 2, 0, c - 1)), {"p": 2}
    yield "one-class", (_real(rng, (n, 1), dtype), np.zeros(n, np.int64)), {}
    yield "one-sample", (x[:1], t[:1]), {"weight": w}
    yield "one-sample-target0d", (x[:1], np.int64(t[0])), {}
    yield "unbatched", (x[0], np.int64(t[0])), {"weight": w, "p": 2}
    yield "unbatched-target1", (x[0], t[:1]), {"margin": 0.5}
    yield "empty", (x[:0], t[:0]), {}
    yield "zero-weight", (x, t), {"sample_weight": np.zeros(n, dtype)}
    wide = _real(rng, (4, 3000), dtype)
    yield "wide", (wide, rng.integers(0, 3000, 4)), {"margin": 5.0}
    yield "wide-p2", (wide, rng.integers(0, 3000, 4)), {"p": 2, "weight": _pos(rng, 3000, dtype)}


def multi_margin_small(rng):
    n, c = 4, 5
    x = rng.standard_normal((n, c))
    t = rng.integers(0, c, n)
    yield (x, t), {"weight": 0.5 + rng.random(c), "sample_weight": 0.5 + rng.random(n)}
    yield (x, t), {"p": 2, "margin": 0.7}
    yield (x, t), {"p": 1, "margin": -0.2, "weight": 0.5 + rng.random(c)}
    yield (x[0], np.int64(3)), {"p": 2}


# ------------------------------------------------- multilabel_soft_margin_loss ----

def multilabel_cases(dtype, rng):
    n, c = 29, 9
    x = _real(rng, (n, c), dtype)
    t = rng.random((n, c)).astype(dtype)
    tb = rng.integers(0, 2, (n, c)).astype(dtype)
    sw = _pos(rng, n, dtype, 0.0)
    weights = {"none": None, "class": _pos(rng, c, dtype), "1xC": _pos(rng, (1, c), dtype),
               "scalar": np.asarray(0.7, dtype), "one": _pos(rng, 1, dtype),
               "row": _pos(rng, (n, 1), dtype), "full": _pos(rng, (n, c), dtype, 0.0)}
    for (wn, w), (tn, tt), swt in itertools.product(weights.items(), [("soft", t), ("binary", tb)],
                                                    [None, sw]):
        yield f"w{wn}-{tn}-sw{swt is not None}", (x, tt), {"weight": w, "sample_weight": swt}
    big = (rng.choice([-1.0, 1.0], (n, c)) * 1e4).astype(dtype)
    yield "logits1e4", (big, tb), {"weight": weights["class"]}
    yield "logits1e4-full", (big, t), {"weight": weights["full"]}
    xinf = x.copy()
    xinf[tb == 1] = np.inf                       # right-signed infinite logits: terms 0
    xinf[0, tb[0] == 0] = -np.inf
    yield "inf-right-side", (xinf, tb), {}
    yield "one-class", (x[:, :1], t[:, :1]), {}
    yield "one-sample", (x[:1], t[:1]), {"weight": weights["row"][:1]}
    yield "unbatched", (x[0], t[0]), {"weight": weights["class"]}
    yield "unbatched-scalar-w", (x[0], t[0]), {"weight": np.asarray(2.0, dtype)}
    yield "int-target", (x, rng.integers(0, 2, (n, c))), {}
    yield "empty", (x[:0], t[:0]), {}
    yield "empty-full-w", (x[:0], t[:0]), {"weight": weights["full"][:0]}
    yield "wide", (_real(rng, (5, 3000), dtype), rng.random((5, 3000)).astype(dtype)), {
        "weight": _pos(rng, 3000, dtype)}


def multilabel_small(rng):
    x = rng.standard_normal((4, 3)) * 2
    t = rng.random((4, 3))
    yield (x, t), {"weight": 0.5 + rng.random(3), "sample_weight": 0.5 + rng.random(4)}
    yield (x, t), {}
    yield (x, t), {"weight": 0.5 + rng.random((4, 3)), "sample_weight": 0.5 + rng.random(4)}
    yield (x, t), {"weight": 0.5 + rng.random((4, 1))}
    yield (x[0], t[0]), {"weight": 0.5 + rng.random(3)}


# ------------------------------------------------------------ soft_margin_loss ----

def soft_margin_cases(dtype, rng):
    for shape in [(37,), (8, 13), (4, 3, 5), ()]:
        x, t = _real(rng, shape, dtype), _pm1(rng, shape, dtype)
        yield _sid(shape), (x, t), {}
        if shape:
            yield _sid(shape) + "-sw", (x, t), {"sample_weight": _pos(rng, shape[:1], dtype, 0.0)}
    x = (rng.choice([-1.0, 1.0], (6, 7)) * 1e4).astype(dtype)
    yield "logits1e4", (x, _pm1(rng, (6, 7), dtype)), {}
    x = (rng.choice([-1.0, 1.0], (6, 7)) * rng.uniform(80, 800, (6, 7))).astype(dtype)
    yield "exp-overflow-range", (x, _pm1(rng, (6, 7), dtype)), {}   # exp(800) overflows
    xinf = np.array([[np.inf, -np.inf], [np.inf, -np.inf]], dtype)
    yield "inf-right-side", (xinf, np.array([[1, -1], [1, -1]])), {}
    yield "int-target", (_real(rng, (5, 3), dtype), rng.choice([-1, 1], (5, 3))), {}
    yield "empty", (_real(rng, (0, 4), dtype), np.ones((0, 4), dtype)), {}
    yield "large", (_real(rng, (40, 1500), dtype), _pm1(rng, (40, 1500), dtype)), {}


def soft_margin_small(rng):
    yield (rng.standard_normal((3, 4)), rng.choice([-1.0, 1.0], (3, 4))), {
        "sample_weight": 0.5 + rng.random(3)}
    yield (rng.standard_normal(5) * 3, rng.choice([-1.0, 1.0], 5)), {}


# -------------------------------------------------------- hinge_embedding_loss ----

def hinge_cases(dtype, rng):
    for shape in [(37,), (8, 13), (4, 3, 5), ()]:
        x, t = _real(rng, shape, dtype), _pm1(rng, shape, dtype)
        for margin in (1.0, 0.0, -0.5, 2.5):
            yield f"{_sid(shape)}-m{margin}", (x, t), {"margin": margin}
        if shape:
            yield _sid(shape) + "-sw", (x, t), {"sample_weight": _pos(rng, shape[:1], dtype, 0.0)}
    # the kink: margin - x == 0 exactly where t = -1 (gradient -1, as PyTorch)
    xk = rng.integers(-2, 3, (6, 7)).astype(dtype)
    yield "kink", (xk, _pm1(rng, (6, 7), dtype)), {"margin": 1.0}
    yield "large-values", ((rng.standard_normal(50) * 1e4).astype(dtype), _pm1(rng, 50, dtype)), {}
    yield "int-target", (_real(rng, (5, 3), dtype), rng.choice([-1, 1], (5, 3))), {}
    yield "empty", (_real(rng, (0, 4), dtype), np.ones((0, 4), dtype)), {}


def hinge_small(rng):
    t = rng.choice([-1.0, 1.0], (3, 4))
    t[1, :2] = -1.0          # the basic case: row 1 has t = -1 (its gradient reads x)
    yield (rng.standard_normal((3, 4)), t), {"sample_weight": 0.5 + rng.random(3), "margin": 0.5}
    yield (rng.standard_normal(5), rng.choice([-1.0, 1.0], 5)), {"margin": -0.5}


# --------------------------------------------------------- margin_ranking_loss ----

def ranking_cases(dtype, rng):
    for shape in [(37,), (8, 13), (4, 3, 5), ()]:
        x1, x2, t = _real(rng, shape, dtype), _real(rng, shape, dtype), _pm1(rng, shape, dtype)
        for margin in (0.0, 0.5, -0.3):
            yield f"{_sid(shape)}-m{margin}", (x1, x2, t), {"margin": margin}
        if shape:
            yield _sid(shape) + "-sw", (x1, x2, t), {
                "sample_weight": _pos(rng, shape[:1], dtype, 0.0), "margin": 0.2}
    # the kink: -t (x1 - x2) + margin == 0 exactly
    x1 = rng.integers(-3, 4, 40).astype(dtype)
    yield "kink", (x1, x1 - 1, np.ones(40, dtype)), {"margin": 1.0}
    yield "large-values", (_real(rng, 50, dtype, 1e4), _real(rng, 50, dtype, 1e4),
                           _pm1(rng, 50, dtype)), {}
    yield "int-target", (_real(rng, (5, 3), dtype), _real(rng, (5, 3), dtype),
                         rng.choice([-1, 1], (5, 3))), {}
    yield "empty", (_real(rng, (0, 4), dtype), _real(rng, (0, 4), dtype), np.ones((0, 4))), {}


def ranking_small(rng):
    yield (rng.standard_normal((3, 4)), rng.standard_normal((3, 4)),
           rng.choice([-1.0, 1.0], (3, 4))), {"sample_weight": 0.5 + rng.random(3), "margin": 0.3}
    yield (rng.standard_normal(5), rng.standard_normal(5), rng.choice([-1.0, 1.0], 5)), {}


# ------------------------------------------------------- cosine_embedding_loss ----

def cosine_cases(dtype, rng):
    n, d = 37, 16
    x1, x2, t = _real(rng, (n, d), dtype), _real(rng, (n, d), dtype), _pm1(rng, n, dtype)
    sw = _pos(rng, n, dtype, 0.0)
    for margin, swt in itertools.product([0.0, 0.5, -0.5, 1.0, -1.0], [None, sw]):
        yield f"m{margin}-sw{swt is not None}", (x1, x2, t), {"margin": margin, "sample_weight": swt}
    yield "all-similar", (x1, x2, np.ones(n, dtype)), {}
    yield "all-dissimilar", (x1, x2, -np.ones(n, dtype)), {"margin": 0.1}
    # the kink: orthogonal rows, cos = 0 = margin, t = -1 (gradient passes, as PyTorch)
    e = np.eye(d, dtype=dtype)
    yield "kink", (e[:4], e[4:8], -np.ones(4, dtype)), {}
    z1 = x1.copy()
    z1[::3] = 0                                  # zero rows: cos = 0 through PyTorch's 1e-12
    yield "zero-rows", (z1, x2, t), {"margin": -0.2}
    yield "large-values", (_real(rng, (n, d), dtype, 1e4), _real(rng, (n, d), dtype, 1e4), t), {}
    # (D = 1 is left out: the rows are parallel and the gradient is pure cancellation)
    yield "two-features", (_real(rng, (n, 2), dtype), _real(rng, (n, 2), dtype), t), {}
    yield "unbatched", (x1[0], x2[0], np.asarray(-1.0, dtype)), {"margin": -0.3}
    yield "unbatched-similar", (x1[1], x2[1], 1), {}
    yield "int-target", (x1, x2, rng.choice([-1, 1], n)), {}
    yield "empty", (x1[:0], x2[:0], t[:0]), {}
    yield "wide", (_real(rng, (3, 5000), dtype), _real(rng, (3, 5000), dtype), _pm1(rng, 3, dtype)), {}


def cosine_small(rng):
    yield (rng.standard_normal((4, 3)), rng.standard_normal((4, 3)),
           np.array([1.0, -1.0, -1.0, 1.0])), {"sample_weight": 0.5 + rng.random(4), "margin": -0.9}
    yield (rng.standard_normal((3, 5)), rng.standard_normal((3, 5)), np.array([-1.0, 1.0, -1.0])), {
        "margin": -0.5}
    yield (rng.standard_normal(4), rng.standard_normal(4), np.asarray(1.0)), {}


# --------------------------------------------------------- triplet_margin_loss ----

P_VALUES = (1, 2, 3, 0.5, 1.5, np.inf)


def triplet_cases(dtype, rng):
    n, d = 23, 8
    a, p, q = (_real(rng, (n, d), dtype) for _ in range(3))
    sw = _pos(rng, n, dtype, 0.0)
    for pp, swap, swt in itertools.product(P_VALUES, [False, True], [None, sw]):
        yield f"p{pp}-swap{swap}-sw{swt is not None}", (a, p, q), {
            "p": pp, "swap": swap, "sample_weight": swt, "margin": 4.0}
    for margin, eps in itertools.product([1.0, 0.2, 10.0], [1e-6, 0.0, 0.3]):
        yield f"m{margin}-eps{eps}", (a, p, q), {"margin": margin, "eps": eps}
    # distances of 0: positive == anchor, eps = 0 (zero gradient there, as PyTorch)
    for pp in P_VALUES:
        yield f"zero-distance-p{pp}", (a, a.copy(), q), {"p": pp, "eps": 0.0, "swap": True}
    yield "identical-eps", (a, a.copy(), a.copy()), {}
    # swap ties: d(a, n) == d(p, n) exactly (integer points symmetric about the negative)
    qi = rng.integers(-3, 4, (n, d)).astype(dtype)
    off = rng.integers(-2, 3, (n, d)).astype(dtype)
    for pp in (1, 2):
        yield f"swap-tie-p{pp}", (qi + off, qi - off, qi), {"p": pp, "eps": 0.0, "swap": True,
                                                          "margin": 100.0}
    pinf = p.copy()
    pinf[0, 2], pinf[1, 0] = np.inf, -np.inf    # infinite distances: value inf
    for pp in P_VALUES:
        yield f"inf-positive-p{pp}", (a, pinf, q), {"p": pp, "swap": pp != 2}
    big = _real(rng, (n, d), dtype, 1e4)
    yield "large-values", (big, _real(rng, (n, d), dtype, 1e4), _real(rng, (n, d), dtype, 1e4)), {
        "p": 3}
    yield "one-feature", (a[:, :1], p[:, :1], q[:, :1]), {"swap": True}
    yield "unbatched", (a[0], p[0], q[0]), {"p": 1.5, "swap": True, "margin": 3.0}
    yield "empty", (a[:0], p[:0], q[:0]), {}
    wide = [_real(rng, (3, 4000), dtype) for _ in range(3)]
    yield "wide", tuple(wide), {"margin": 50.0}
    yield "wide-p3-swap", tuple(wide), {"p": 3, "swap": True, "margin": 50.0}


def _triplet_points(rng, shape):
    """Anchor, positive, negative with every coordinate difference at least 0.5 (no kink
    of |u| within a finite-difference step); the negative lies beyond the anchor in even
    rows (d(a, n) < d(p, n)) and beyond the positive in odd rows (d(p, n) < d(a, n))."""
    a = rng.standard_normal(shape)
    s = rng.choice([-1.0, 1.0], shape)
    p = a + s * (0.5 + rng.random(shape))
    q = a - s * (0.5 + rng.random(shape))
    if len(shape) == 2:
        q[1::2] = p[1::2] + s[1::2] * (0.5 + rng.random(q[1::2].shape))
    return a, p, q


def triplet_small(rng):
    a, p, q = _triplet_points(rng, (4, 3))
    yield (a, p, q), {"sample_weight": 0.5 + rng.random(4), "margin": 5.0, "swap": True}
    for pp in P_VALUES:
        yield (a, p, q), {"p": pp, "margin": 40.0 if pp < 1 else 5.0, "eps": 0.01,
                          "swap": pp != 2}
    yield (a, p, q), {"swap": True, "p": 1.5, "margin": 3.0}
    yield _triplet_points(rng, (3,)), {"margin": 4.0}


CASES = {
    "multi_margin_loss": multi_margin_cases,
    "multilabel_soft_margin_loss": multilabel_cases,
    "soft_margin_loss": soft_margin_cases,
    "hinge_embedding_loss": hinge_cases,
    "margin_ranking_loss": ranking_cases,
    "cosine_embedding_loss": cosine_cases,
    "triplet_margin_loss": triplet_cases,
}
SMALL = {
    "multi_margin_loss": multi_margin_small,
    "multilabel_soft_margin_loss": multilabel_small,
    "soft_margin_loss": soft_margin_small,
    "hinge_embedding_loss": hinge_small,
    "margin_ranking_loss": ranking_small,
    "cosine_embedding_loss": cosine_small,
    "triplet_margin_loss": triplet_small,
}
LARGE = {
    "multi_margin_loss": lambda dtype, rng: (
        (_real(rng, (700, 100), dtype), rng.integers(0, 100, 700)), {"p": 2, "margin": 2.0}),
    "multilabel_soft_margin_loss": lambda dtype, rng: (
        (_real(rng, (300, 250), dtype), rng.random((300, 250)).astype(dtype)),
        {"weight": _pos(rng, 250, dtype)}),
    "soft_margin_loss": lambda dtype, rng: (
        (_real(rng, (300, 700), dtype), _pm1(rng, (300, 700), dtype)), {}),
    "hinge_embedding_loss": lambda dtype, rng: (
        (_real(rng, (300, 700), dtype), _pm1(rng, (300, 700), dtype)), {}),
    "margin_ranking_loss": lambda dtype, rng: (
        (_real(rng, (300, 700), dtype), _real(rng, (300, 700), dtype),
         _pm1(rng, (300, 700), dtype)), {"margin": 0.5}),
    "cosine_embedding_loss": lambda dtype, rng: (
        (_real(rng, (1024, 64), dtype), _real(rng, (1024, 64), dtype), _pm1(rng, 1024, dtype)),
        {"margin": 0.1}),
    "triplet_margin_loss": lambda dtype, rng: (
        tuple(_real(rng, (2048, 32), dtype) for _ in range(3)), {"swap": True, "margin": 5.0}),
}

# ------------------------------------------------------------------ bad input ----

MM, ML, SM, HE, MR, CE, TM = map(on_backend, (
    fl.multi_margin_loss, fl.multilabel_soft_margin_loss, fl.soft_margin_loss,
    fl.hinge_embedding_loss, fl.margin_ranking_loss, fl.cosine_embedding_loss,
    fl.triplet_margin_loss))
_R = np.random.default_rng(4)
_X = _R.standard_normal((6, 4))
_X2 = _R.standard_normal((6, 4))
_Y = np.array([0, 1, 2, 3, 0, 1])
_T = _R.random((6, 4))
_S = np.where(_R.random((6, 4)) < 0.5, -1.0, 1.0)
_S6 = _S[:, 0].copy()


def _with(a, pos, v):
    b = np.array(a, dtype=np.float64)
    b.flat[pos] = v
    return b


BAD = [
    # multi_margin_loss
    ("mm-p3", lambda: MM(_X, _Y, p=3), ValueError, "p"),
    ("mm-p1.5", lambda: MM(_X, _Y, p=1.5), ValueError, "p"),
    ("mm-p-str", lambda: MM(_X, _Y, p="1"), ValueError, "p"),
    ("mm-index-high", lambda: MM(_X, np.array([0, 1, 2, 4, 0, 1])), ValueError, "target"),
    ("mm-index-neg", lambda: MM(_X, np.array([0, 1, -1, 3, 0, 1])), ValueError, "target"),
    ("mm-index-minus100", lambda: MM(_X, np.array([0, 1, -100, 3, 0, 1])), ValueError, "target"),
    ("mm-index-uint64", lambda: MM(_X, np.full(6, 2**63 + 5, np.uint64)), ValueError, "target"),
    ("mm-target-float", lambda: MM(_X, _Y.astype(float)), TypeError, "target"),
    ("mm-target-shape", lambda: MM(_X, _Y[:5]), ValueError, "target"),
    ("mm-target-2d", lambda: MM(_X, _Y.reshape(6, 1)), ValueError, "target"),
    ("mm-unbatched-target-shape", lambda: MM(_X[0], _Y[:2]), ValueError, "target"),
    ("mm-weight-shape", lambda: MM(_X, _Y, weight=np.ones(3)), ValueError, "weight"),
    ("mm-weight-2d", lambda: MM(_X, _Y, weight=np.ones((1, 4))), ValueError, "weight"),
    ("mm-weight-negative", lambda: MM(_X, _Y, weight=_with(np.ones(4), 1, -1)), ValueError, "weight"),
    ("mm-weight-nan", lambda: MM(_X, _Y, weight=_with(np.ones(4), 1, np.nan)), ValueError, "weight"),
    ("mm-margin-nan", lambda: MM(_X, _Y, margin=float("nan")), ValueError, "margin"),
    ("mm-input-3d", lambda: MM(_X.reshape(2, 3, 4), _Y[:2]), ValueError, "input"),
    ("mm-input-0d", lambda: MM(np.float64(1.0), np.int64(0)), ValueError, "input"),
    ("mm-no-classes", lambda: MM(np.zeros((3, 0)), np.zeros(3, np.int64)), ValueError, "input"),
    ("mm-sw-shape", lambda: MM(_X, _Y, sample_weight=np.ones(5)), ValueError, "sample_weight"),
    # multilabel_soft_margin_loss
    ("ml-target-shape", lambda: ML(_X, _T[:, :3]), ValueError, "target"),
    ("ml-target-high", lambda: ML(_X, _with(_T, 5, 1.5)), ValueError, "target"),
    ("ml-target-neg", lambda: ML(_X, _with(_T, 5, -0.1)), ValueError, "target"),
    ("ml-weight-shape", lambda: ML(_X, _T, weight=np.ones(3)), ValueError, "weight"),
    ("ml-weight-enlarges", lambda: ML(_X, _T, weight=np.ones((2, 6, 4))), ValueError, "weight"),
    ("ml-weight-negative", lambda: ML(_X, _T, weight=-np.ones(4)), ValueError, "weight"),
    ("ml-weight-full-negative", lambda: ML(_X, _T, weight=_with(np.ones((6, 4)), 7, -1)), ValueError, "weight"),
    ("ml-input-3d", lambda: ML(_X.reshape(2, 3, 4), _T.reshape(2, 3, 4)), ValueError, "input"),
    ("ml-no-classes", lambda: ML(np.zeros((3, 0)), np.zeros((3, 0))), ValueError, "input"),
    ("ml-sw-shape", lambda: ML(_X, _T, sample_weight=np.ones(4)), ValueError, "sample_weight"),
    # soft_margin_loss
    ("sm-target-zero", lambda: SM(_X, _with(_S, 3, 0.0)), ValueError, "target"),
    ("sm-target-half", lambda: SM(_X, _with(_S, 3, 0.5)), ValueError, "target"),
    ("sm-target-nan", lambda: SM(_X, _with(_S, 3, np.nan)), ValueError, "target"),
    ("sm-target-01", lambda: SM(_X, (_S > 0).astype(float)), ValueError, "target"),
    ("sm-target-shape", lambda: SM(_X, _S[:3]), ValueError, "target"),
    # hinge_embedding_loss
    ("he-target-two", lambda: HE(_X, _with(_S, 0, 2.0)), ValueError, "target"),
    ("he-target-zero", lambda: HE(_X, _with(_S, 23, 0.0)), ValueError, "target"),
    ("he-target-shape", lambda: HE(_X, _S.T), ValueError, "target"),
    ("he-margin-str", lambda: HE(_X, _S, margin="1"), TypeError, "margin"),
    # margin_ranking_loss
    ("mr-input2-shape", lambda: MR(_X, _X2[:, :3], _S), ValueError, "input2"),
    ("mr-input2-broadcast", lambda: MR(_X, _X2[:1], _S), ValueError, "input2"),
    ("mr-input2-dtype", lambda: MR(_X, _X2.astype(np.float32), _S), TypeError, "input2"),
    ("mr-input2-int", lambda: MR(_X, _Y.reshape(6, 1).repeat(4, 1), _S), TypeError, "input2"),
    ("mr-input1-int", lambda: MR(_Y, _X2[:, 0], _S6), TypeError, "input1"),
    ("mr-target-shape", lambda: MR(_X, _X2, _S6), ValueError, "target"),
    ("mr-target-zero", lambda: MR(_X, _X2, _with(_S, 4, 0.0)), ValueError, "target"),
    ("mr-sw-shape", lambda: MR(_X, _X2, _S, sample_weight=np.ones(4)), ValueError, "sample_weight"),
    # cosine_embedding_loss
    ("ce-margin-high", lambda: CE(_X, _X2, _S6, margin=1.5), ValueError, "margin"),
    ("ce-margin-low", lambda: CE(_X, _X2, _S6, margin=-1.01), ValueError, "margin"),
    ("ce-target-zero", lambda: CE(_X, _X2, _with(_S6, 2, 0.0)), ValueError, "target"),
    ("ce-target-shape", lambda: CE(_X, _X2, _S), ValueError, "target"),
    ("ce-target-unbatched-shape", lambda: CE(_X[0], _X2[0], _S6[:1]), ValueError, "target"),
    ("ce-input2-shape", lambda: CE(_X, _X2[:, :3], _S6), ValueError, "input2"),
    ("ce-input2-rows", lambda: CE(_X, _X2[:1], _S6), ValueError, "input2"),
    ("ce-input1-3d", lambda: CE(_X.reshape(2, 3, 4), _X2.reshape(2, 3, 4), _S6[:2]), ValueError, "input1"),
    ("ce-sw-shape", lambda: CE(_X, _X2, _S6, sample_weight=np.ones(5)), ValueError, "sample_weight"),
    # triplet_margin_loss
    ("tm-p-zero", lambda: TM(_X, _X2, _T, p=0), ValueError, "p"),
    ("tm-p-neg", lambda: TM(_X, _X2, _T, p=-1.0), ValueError, "p"),
    ("tm-p-nan", lambda: TM(_X, _X2, _T, p=float("nan")), ValueError, "p"),
    ("tm-eps-neg", lambda: TM(_X, _X2, _T, eps=-1e-3), ValueError, "eps"),
    ("tm-margin-zero", lambda: TM(_X, _X2, _T, margin=0.0), ValueError, "margin"),
    ("tm-margin-neg", lambda: TM(_X, _X2, _T, margin=-1.0), ValueError, "margin"),
    ("tm-swap-str", lambda: TM(_X, _X2, _T, swap="yes"), TypeError, "swap"),
    ("tm-positive-shape", lambda: TM(_X, _X2[:, :3], _T), ValueError, "positive"),
    ("tm-negative-shape", lambda: TM(_X, _X2, _T[:5]), ValueError, "negative"),
    ("tm-negative-dtype", lambda: TM(_X, _X2, _T.astype(np.float32)), TypeError, "negative"),
    ("tm-anchor-3d", lambda: TM(_X.reshape(2, 3, 4), _X2.reshape(2, 3, 4), _T.reshape(2, 3, 4)), ValueError, "anchor"),
    ("tm-sw-shape", lambda: TM(_X, _X2, _T, sample_weight=np.ones(7)), ValueError, "sample_weight"),
]
