"""Test cases of the softmax losses (see cases.py for what each name holds)."""
import itertools

import numpy as np

import fastloss as fl
from badinput import on_backend

INT_DTYPES = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)

# Losses whose gradient holds part of the value fixed (a stop-gradient), so that it is not
# the derivative of the value and finite differences of the value cannot check it:
# bootstrapped_cross_entropy's target mix t' (in "soft" mode a function of p).  Its
# gradient is checked in test_softmax.py against finite differences with t' frozen.
STOP_GRADIENT = {"bootstrapped_cross_entropy"}


def _logits(rng, shape, dtype, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _pos(rng, shape, dtype, low=0.1):
    return (low + rng.random(shape)).astype(dtype)


# Per loss: its option grid (every combination runs with plain and ignored targets, with
# and without sample weights) and the options the extreme inputs run with.
def _grid(name, dtype, rng, c):
    w = _pos(rng, c, dtype)
    if name == "softmax_focal_loss":
        return [{"gamma": g, "alpha": a} for g, a in
                itertools.product([0.0, 0.25, 0.5, 2.0, 5.0], [None, w])]
    if name == "poly1_cross_entropy":
        return [{"epsilon": e, "weight": wt, "label_smoothing": ls} for e, wt, ls in
                itertools.product([-1.0, 0.0, 1.0, 2.5], [None, w], [0.0, 0.2])]
    if name == "generalized_cross_entropy":
        return [{"q": q} for q in (1e-4, 0.3, 0.7, 1.0)]
    if name == "symmetric_cross_entropy":
        return [{"alpha": a, "beta": b, "A": A} for a, b, A in
                [(0.1, 1.0, -4.0), (1.0, 0.0, -4.0), (0.0, 1.0, -1e-3), (2.5, 0.5, -10.0)]]
    return [{"beta": b, "mode": m} for b, m in
            itertools.product([0.0, 0.5, 0.95, 1.0], ["soft", "hard"])]


def _extreme_opts(name, dtype, rng, c):
    w = _pos(rng, c, dtype)
    return {
        "softmax_focal_loss": [{"gamma": 0.25}, {"gamma": 0.5, "alpha": w}, {"gamma": 2.0}],
        "poly1_cross_entropy": [{"epsilon": -1.0, "weight": w},
                                {"epsilon": 2.0, "label_smoothing": 0.1},
                                {"epsilon": 0.5, "weight": w, "label_smoothing": 0.3}],
        "generalized_cross_entropy": [{"q": 1e-4}, {"q": 0.7}, {"q": 1.0}],
        "symmetric_cross_entropy": [{}, {"alpha": 1.0, "beta": 0.5, "A": -2.0}],
        "bootstrapped_cross_entropy": [{"beta": 0.8}, {"beta": 0.8, "mode": "hard"}],
    }[name]


def _opt_id(kw):
    return ",".join(f"{k}={'w' if isinstance(v, np.ndarray) else v}" for k, v in kw.items())


def softmax_cases(name):
    def cases(dtype, rng):
        n, c = 29, 11
        x = _logits(rng, (n, c), dtype)
        t = rng.integers(0, c, n).astype(INT_DTYPES[rng.integers(len(INT_DTYPES))])
        t_ign = t.astype(np.int64)
        t_ign[rng.random(n) < 0.3] = -100
        sw = _pos(rng, n, dtype, 0.0)
        for opts, (tn, tt), swt in itertools.product(
                _grid(name, dtype, rng, c), [("t", t), ("ign", t_ign)], [None, sw]):
            yield f"{_opt_id(opts)}-{tn}-sw{swt is not None}", (x, tt), {
                **opts, "sample_weight": swt}
        t3 = t.astype(np.int64)
        t3[:6] = 3
        yield "ignore3", (x, t3), {"ignore_index": 3, "sample_weight": sw}

        rows = np.arange(n)
        big = (rng.choice([-1.0, 1.0], (n, c)) * 1e4).astype(dtype)   # ties at the max
        sure = np.full((n, c), -1e4, dtype)       # p_y = 1 exactly (or 0: wrong and sure)
        sure[rows, t.astype(np.int64)] = 1e4
        sure[::4] = -sure[::4]
        neginf = x.copy()
        neginf[rows, (t.astype(np.int64) + 1) % c] = -np.inf
        neginf[::3, (t[::3].astype(np.int64) + 2) % c] = -np.inf
        confident = x.copy()   # p_y within 1e-7 of 1 (and beyond): the re-summed rows
        confident[rows, t.astype(np.int64)] += np.linspace(8.0, 40.0, n).astype(dtype)
        sure30 = (x * 0.1).astype(dtype)   # every row: 1 - p_y about 1e-12
        sure30[rows, t.astype(np.int64)] += 30
        tie = x.copy()   # the target ties with another class at the max
        tie[rows, t.astype(np.int64)] = x.max(axis=1) + 1
        tie[rows, (t.astype(np.int64) + 5) % c] = x.max(axis=1) + 1
        wide = _logits(rng, (5, 3000), dtype) + np.linspace(0, 30, 3000).astype(dtype)
        tw = rng.integers(0, 3000, 5)
        tw[0] = np.argmax(wide[0])   # the target the max, in a late chunk
        wide_sure = wide.copy()
        wide_sure[np.arange(5), tw] += 40
        wide_ties = wide.copy()   # the max in several 64-blocks and chunks; a target on one
        top = wide.max(axis=1) + 1
        for j in (130, 1500, 2999):
            wide_ties[:, j] = top
        tw_ties = np.array([1500, 130, 7, 2999, 2998])
        one = _logits(rng, (n, 1), dtype)
        # 200 classes (rows from 128 on are split at the target, see csrc/ops_softmax.h)
        mid = _logits(rng, (9, 200), dtype)
        tm = rng.integers(0, 200, 9)
        tm[:3] = [0, 199, 100]
        mid[3:6] = confident[:3, :1]   # constant rows: ties everywhere
        mid[6, tm[6]] += 45            # p_y rounds to 1
        mid[7, (tm[7] + 3) % 200] = -np.inf
        mid_w = _pos(rng, 200, dtype)
        for k, opts in enumerate(_extreme_opts(name, dtype, rng, c)):
            oid = f"x{k}"
            yield f"{oid}-logits1e4", (big, t), dict(opts)
            yield f"{oid}-sure1e4", (sure, t), {**opts, "sample_weight": sw}
            yield f"{oid}-neginf", (neginf, t), dict(opts)
            yield f"{oid}-confident", (confident, t), dict(opts)
            yield f"{oid}-confident30", (sure30, t), dict(opts)
            yield f"{oid}-tie", (tie, t), dict(opts)
            # other class counts: without the (C,) class weights
            unweighted = {k: v for k, v in opts.items() if k not in ("alpha", "weight")}
            yield f"{oid}-wide", (wide, tw), unweighted
            yield f"{oid}-wide-sure", (wide_sure, tw), unweighted
            yield f"{oid}-wide-ties", (wide_ties, tw_ties), unweighted
            yield f"{oid}-one-class", (one, np.zeros(n, np.int64)), unweighted
            yield f"{oid}-200-classes", (mid, tm), {
                **{k: (mid_w if isinstance(v, np.ndarray) else v) for k, v in opts.items()},
                "sample_weight": sw[:9]}
            yield f"{oid}-one-sample", (x[:1], t[:1]), dict(opts)
            yield f"{oid}-unbatched", (x[0], np.int64(t[0])), {**opts,
                                                               "sample_weight": sw[0]}
        yield "empty", (x[:0], t[:0]), {}
        yield "all-ignored", (x, np.full(n, -100)), {}
        yield "zero-weight", (x, t), {"sample_weight": np.zeros(n, dtype)}
    return cases


_SMALL_OPTS = {
    "softmax_focal_loss": [{"gamma": 2.0, "alpha": "w"}, {"gamma": 0.5}, {"gamma": 0.25},
                           {"gamma": 1.5}],
    "poly1_cross_entropy": [{"epsilon": 1.0}, {"epsilon": -1.0, "weight": "w",
                                               "label_smoothing": 0.2},
                            {"epsilon": 2.5, "label_smoothing": 0.1}, {"epsilon": 2.0}],
    "generalized_cross_entropy": [{"q": 0.7}, {"q": 1.0}, {"q": 0.05}, {"q": 0.3}],
    "symmetric_cross_entropy": [{}, {"alpha": 0.5, "beta": 2.0, "A": -2.0},
                                {"alpha": 0.0, "beta": 1.0, "A": -6.0}, {}],
    "bootstrapped_cross_entropy": [{"beta": 0.95}, {"beta": 0.6, "mode": "hard"},
                                   {"beta": 0.3}, {"beta": 0.5, "mode": "hard"}],
}


def softmax_small(name):
    """The first item batched with sample weights and no ignored row; then weights, an
    ignored row, and an unbatched row."""
    def small(rng):
        n, c = 4, 5
        x = rng.standard_normal((n, c)) * 2
        t = rng.integers(0, c, n)
        w = 0.5 + rng.random(c)
        opts = [{k: (w if v == "w" else v) for k, v in o.items()} for o in _SMALL_OPTS[name]]
        yield (x, t), {**opts[0], "sample_weight": 0.5 + rng.random(n)}
        yield (x, t), opts[1]
        ti = t.copy()
        ti[1] = -100
        yield (x, ti), {**opts[2], "sample_weight": 0.5 + rng.random(n)}
        yield (x[0], np.int64(t[0])), opts[3]
    return small


_LARGE_OPTS = {
    "softmax_focal_loss": {"gamma": 0.5},
    "poly1_cross_entropy": {"epsilon": 1.0, "label_smoothing": 0.1},
    "generalized_cross_entropy": {"q": 0.7},
    "symmetric_cross_entropy": {},
    "bootstrapped_cross_entropy": {"beta": 0.8},
}


def softmax_large(name):
    def large(dtype, rng):
        x = _logits(rng, (700, 300), dtype)
        t = rng.integers(0, 300, 700)
        t[::7] = -100
        x[::5][np.arange(140), t[::5]] += 30   # confident rows
        return (x, t), {**_LARGE_OPTS[name], "sample_weight": _pos(rng, 700, dtype, 0.0)}
    return large


NAMES = tuple(_SMALL_OPTS)
CASES = {name: softmax_cases(name) for name in NAMES}
SMALL = {name: softmax_small(name) for name in NAMES}
LARGE = {name: softmax_large(name) for name in NAMES}

FOCAL, POLY, GCE, SCE, BOOT = (on_backend(getattr(fl, name)) for name in NAMES)
_X = np.random.default_rng(5).standard_normal((6, 4))
_T = np.array([0, 1, 2, 3, 0, 1])
_ALL = [(name, on_backend(getattr(fl, name))) for name in NAMES]
BAD = [
    ("focal-gamma-neg", lambda: FOCAL(_X, _T, gamma=-0.5), ValueError, "gamma"),
    ("focal-gamma-nan", lambda: FOCAL(_X, _T, gamma=float("nan")), ValueError, "gamma"),
    ("focal-gamma-inf", lambda: FOCAL(_X, _T, gamma=float("inf")), ValueError, "gamma"),
    ("focal-gamma-str", lambda: FOCAL(_X, _T, gamma="2"), TypeError, "gamma"),
    ("focal-alpha-shape", lambda: FOCAL(_X, _T, alpha=np.ones(3)), ValueError, "alpha"),
    ("focal-alpha-negative", lambda: FOCAL(_X, _T, alpha=np.array([1, -1, 1, 1.0])),
     ValueError, "alpha"),
    ("focal-alpha-nan", lambda: FOCAL(_X, _T, alpha=np.array([1, np.nan, 1, 1.0])),
     ValueError, "alpha"),
    ("focal-alpha-complex", lambda: FOCAL(_X, _T, alpha=np.ones(4, complex)), TypeError,
     "alpha"),
    ("poly1-epsilon-low", lambda: POLY(_X, _T, epsilon=-1.5), ValueError, "epsilon"),
    ("poly1-epsilon-inf", lambda: POLY(_X, _T, epsilon=float("inf")), ValueError, "epsilon"),
    ("poly1-weight-shape", lambda: POLY(_X, _T, weight=np.ones(5)), ValueError, "weight"),
    ("poly1-weight-negative", lambda: POLY(_X, _T, weight=-np.ones(4)), ValueError, "weight"),
    ("poly1-ls-high", lambda: POLY(_X, _T, label_smoothing=1.5), ValueError, "label_smoothing"),
    ("gce-q-zero", lambda: GCE(_X, _T, q=0.0), ValueError, "q"),
    ("gce-q-neg", lambda: GCE(_X, _T, q=-0.3), ValueError, "q"),
    ("gce-q-high", lambda: GCE(_X, _T, q=1.5), ValueError, "q"),
    ("gce-q-nan", lambda: GCE(_X, _T, q=float("nan")), ValueError, "q"),
    ("sce-alpha-neg", lambda: SCE(_X, _T, alpha=-0.1), ValueError, "alpha"),
    ("sce-beta-neg", lambda: SCE(_X, _T, beta=-1.0), ValueError, "beta"),
    ("sce-beta-inf", lambda: SCE(_X, _T, beta=float("inf")), ValueError, "beta"),
    ("sce-A-zero", lambda: SCE(_X, _T, A=0.0), ValueError, "A"),
    ("sce-A-positive", lambda: SCE(_X, _T, A=2.0), ValueError, "A"),
    ("sce-A-neginf", lambda: SCE(_X, _T, A=-float("inf")), ValueError, "A"),
    ("boot-beta-high", lambda: BOOT(_X, _T, beta=1.01), ValueError, "beta"),
    ("boot-beta-neg", lambda: BOOT(_X, _T, beta=-0.2), ValueError, "beta"),
    ("boot-mode", lambda: BOOT(_X, _T, mode="medium"), ValueError, "mode"),
    ("boot-mode-none", lambda: BOOT(_X, _T, mode=None), ValueError, "mode"),
    ("boot-mode-bool", lambda: BOOT(_X, _T, mode=True), ValueError, "mode"),
]
for _name, _loss in _ALL:
    BAD += [
        (f"{_name}-index-high", lambda f=_loss: f(_X, np.array([0, 1, 2, 4, 0, 1])),
         ValueError, "target"),
        (f"{_name}-index-neg", lambda f=_loss: f(_X, np.array([0, 1, -1, 3, 0, 1])),
         ValueError, "target"),
        (f"{_name}-index-ignored-elsewhere",
         lambda f=_loss: f(_X, np.array([0, 1, -100, 3, 0, 1]), ignore_index=-1),
         ValueError, "target"),
        (f"{_name}-target-float", lambda f=_loss: f(_X, _T.astype(float)), TypeError, "target"),
        (f"{_name}-target-shape", lambda f=_loss: f(_X, _T[:5]), ValueError, "target"),
        (f"{_name}-input-3d", lambda f=_loss: f(_X.reshape(2, 3, 4), _T[:2]), ValueError,
         "input"),
        (f"{_name}-input-scalar", lambda f=_loss: f(np.float64(1.0), np.int64(0)), ValueError,
         "input"),
        (f"{_name}-no-classes", lambda f=_loss: f(np.zeros((3, 0)), np.zeros(3, np.int64)),
         ValueError, "input"),
        (f"{_name}-sw-shape", lambda f=_loss: f(_X, _T, sample_weight=np.ones(5)), ValueError,
         "sample_weight"),
        (f"{_name}-sw-negative", lambda f=_loss: f(_X, _T, sample_weight=-np.ones(6)),
         ValueError, "sample_weight"),
    ]
