"""Test cases of the regression losses (see cases.py for what each name holds)."""
import itertools

import numpy as np

import fastloss as fl
from badinput import on_backend

def _real(rng, shape, dtype, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def l1_cases(dtype, rng):
    for shape in [(37,), (8, 13), (4, 3, 5), ()]:
        x, t = _real(rng, shape, dtype), _real(rng, shape, dtype)
        sid = "x".join(map(str, shape)) or "scalar"
        w = rng.random(shape).astype(dtype)
        yield sid, (x, t), {}
        yield sid + "-w", (x, t), {"weight": w}
        if shape:
            yield sid + "-sw", (x, t), {"sample_weight": rng.random(shape[0]).astype(dtype)}
            yield sid + "-w-sw", (x, t), {"weight": w,
                                          "sample_weight": rng.random(shape[0]).astype(dtype)}
    x = _real(rng, (6, 5), dtype)
    t = x.copy()
    t[::2] += 1
    yield "ties", (x, t), {}   # gradient 0 where input == target
    yield "int-target", (x, rng.integers(-3, 3, (6, 5))), {}
    yield "empty", (x[:0], x[:0]), {}


def l1_small(rng):
    x = rng.standard_normal((4, 3))
    yield (x, rng.standard_normal((4, 3))), {"sample_weight": 0.5 + rng.random(4)}
    yield (x, rng.standard_normal((4, 3))), {"weight": rng.random((4, 3))}
    yield (rng.standard_normal(5), rng.standard_normal(5)), {}


CASES = {"l1_loss": l1_cases}
SMALL = {"l1_loss": l1_small}
LARGE = {"l1_loss": lambda dtype, rng: ((_real(rng, (300, 700), dtype),
                                         _real(rng, (300, 700), dtype)), {})}
L1 = on_backend(fl.l1_loss)
_X = np.random.default_rng(3).standard_normal((6, 4))
BAD = [
    ("l1-target-shape", lambda: L1(_X, _X[:3]), ValueError, "target"),
    ("l1-sw-shape", lambda: L1(_X, _X, sample_weight=np.ones(5)), ValueError, "sample_weight"),
    ("l1-weight-shape", lambda: L1(_X, _X, weight=np.ones(4)), ValueError, "weight"),
    ("l1-weight-negative", lambda: L1(_X, _X, weight=-np.ones((6, 4))), ValueError, "weight"),
]
