"""NumPy reference implementations of every loss (``backend="numpy"``).

They are the oracle for the compiled kernels: clear float64 code, no tricks.  Each
returns ``(value, grad)`` (a tuple of gradients for losses of several inputs); the core
losses are in :mod:`fastloss.reference.losses`, the others in one module per group.
"""
from . import binary, margin, losses, regression, softmax

__all__ = ["losses", "softmax", "binary", "margin", "regression"]
