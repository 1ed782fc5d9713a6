"""NumPy references of the regression losses (float64, written for clarity)."""
import numpy as np

from .losses import _reduce, _sample_weight_nd, _elements_per_sample


def l1_loss(input, target, reduction="mean", sample_weight=None):
    x = np.asarray(input, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    sw, sw_total = _sample_weight_nd(sample_weight, x.shape)
    r = x - t
    per = np.broadcast_to(sw * np.abs(r), x.shape)
    grad = np.broadcast_to(sw * np.sign(r), x.shape).copy()
    return _reduce(np.array(per), grad, reduction, sw_total * _elements_per_sample(x.shape))
