"""NumPy references of the softmax losses (float64, written for clarity)."""
import numpy as np

from .losses import _reduce, _sample_weight_nd, _elements_per_sample
