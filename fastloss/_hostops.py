"""The host side of the array operations the preparations need beyond the checks: the
CPU binding's kernels and scans (fastloss._cpu._kernels) and a few NumPy helpers.  The
CUDA backend's fastloss.cuda._kernels has the same names on device arrays; a preparation
takes whichever module fastloss._checks.ops gives for its input."""
import numpy as np

from ._cpu._kernels import (binary_cross_entropy_with_logits, cross_entropy, elementwise,  # noqa: F401
                            find_bad_class_index, find_not_in, find_outside, max_threads,
                            rowwise)

_INT64_MAX = np.iinfo(np.int64).max


def find_nonfinite(a):
    bad = np.flatnonzero(~np.isfinite(a))
    return int(bad[0]) if bad.size else -1


def item(a, i):
    return a.flat[i]


def broadcast_copy(a, shape, dtype=None):
    return np.ascontiguousarray(np.broadcast_to(a, shape), dtype=dtype)


def contiguous(a, dtype=None):
    return np.asarray(a, dtype=dtype, order="C")


def kernel_form(a, shape):
    """`a` as a kernel reads it: C-contiguous and of `shape` (its own size), a itself
    when it already is (no copy and no new view on the common path)."""
    if a.shape == shape and a.flags.c_contiguous:
        return a
    return np.asarray(a, order="C").reshape(shape)


empty = np.empty


def full(shape, value, dtype):
    return np.full(shape, value, dtype=dtype)


def divided(a, d):
    """a / d in a's dtype (a new array)."""
    return a / a.dtype.type(d)


def sum_middle(a3, out2):
    out2[...] = a3.sum(axis=1, dtype=np.float64)
    return out2


def int64_targets(t, c):
    """Integer class targets (of any integer dtype) as C-contiguous int64 (t's shape); a
    uint64 index beyond int64 raises rather than wrapping around."""
    if t.dtype.kind == "u" and t.dtype.itemsize == 8 and t.size and t.max() > _INT64_MAX:
        raise ValueError(f"target: class index {t.max()} is out of range for {c} classes")
    return np.ascontiguousarray(t, dtype=np.int64)


def total(a):
    return float(a.sum())


def extreme(a, which):
    return a.min() if which == "min" else a.max()


def accuracy(correct, t64, ignore_index, sw, s):
    """The weighted fraction of hits among the positions not ignored: `correct` (uint8,
    one per position, 0 at ignored ones) from the cross-entropy kernel, t64 the targets,
    sw the per-sample weights (None: ones) shared by a sample's s positions.  0.0 when no
    weight counts (the losses' rule for a mean over nothing)."""
    valid = t64 != ignore_index
    if sw is None:
        num, den = float(np.count_nonzero(correct)), float(np.count_nonzero(valid))
    else:
        w = np.repeat(np.asarray(sw, np.float64).reshape(-1), s)
        num, den = float(w @ correct), float(w @ valid)
    return num / den if den > 0 else 0.0
