"""NumPy reference implementations of every loss (``backend="numpy"``).

They are the oracle for the compiled kernels: clear float64 code, no tricks.  Each
returns ``(value, grad)``; see :mod:`fastloss.reference.losses`.
"""
from .losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss

__all__ = ["cross_entropy", "binary_cross_entropy_with_logits", "mse_loss"]
