"""NumPy references of the regression losses (float64, written for clarity)."""
import numpy as np

from .losses import _reduce, _sample_weight_nd, _elements_per_sample, weighted_elementwise


def l1_loss(input, target, reduction="mean", weight=None, sample_weight=None):
    x = np.asarray(input, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    return weighted_elementwise(x, np.abs(x - t), np.sign(x - t), weight, sample_weight,
                                reduction)
