"""NumPy references of the regularizers (float64, written for clarity, not speed).

Every function takes one parameter array ``w`` (any shape); the penalties return
``(value, grad)``, the proximal maps the new array (``w`` is not modified).

``frozen`` is None or a boolean mask broadcastable to ``w`` (True = frozen).  A frozen
element contributes ``0 * term`` to the value and ``0 * derivative`` to the gradient (so
a NaN in a frozen element still propagates, as the compiled kernels do), and a proximal
map returns it unchanged.

The proximal map of a penalty P with step s is

    prox(v) = argmin_w  ||w - v||^2 / (2 s) + P(w).
"""
import math

import numpy as np


def _prepare(w, frozen):
    """w in float64 and the trainable mask `keep` (1.0 trainable, 0.0 frozen)."""
    w = np.asarray(w, dtype=np.float64)
    if frozen is None:
        keep = np.ones_like(w)
    else:
        keep = 1.0 - np.broadcast_to(np.asarray(frozen, dtype=bool), w.shape)
    return w, keep


def _unfrozen(w, new, frozen):
    """`new` where trainable, `w` where frozen."""
    if frozen is None:
        return new
    return np.where(np.broadcast_to(np.asarray(frozen, dtype=bool), w.shape), w, new)


# ------------------------------------------------------------------------ l1 ----

def l1(w, strength, frozen=None):
    """strength * sum |w|; gradient strength * sign(w) (0 at 0)."""
    w, keep = _prepare(w, frozen)
    value = strength * np.sum(keep * np.abs(w))
    grad = keep * (strength * np.sign(w))
    return float(value), grad


def soft_threshold(w, lam):
    """sign(w) * max(|w| - lam, 0): the proximal map of lam * ||w||_1."""
    return np.sign(w) * np.maximum(np.abs(w) - lam, 0.0)


def l1_prox(w, strength, step, frozen=None):
    w = np.asarray(w, dtype=np.float64)
    return _unfrozen(w, soft_threshold(w, step * strength), frozen)


# ------------------------------------------------------------------------ l2 ----

def l2(w, strength, frozen=None):
    """0.5 * strength * ||w||^2; gradient strength * w."""
    w, keep = _prepare(w, frozen)
    value = 0.5 * strength * np.sum(keep * w * w)
    grad = keep * (strength * w)
    return float(value), grad


def l2_prox(w, strength, step, frozen=None):
    """w / (1 + step * strength)."""
    w = np.asarray(w, dtype=np.float64)
    return _unfrozen(w, w / (1.0 + step * strength), frozen)


# --------------------------------------------------------------- elastic net ----

def elastic_net(w, alpha, l1_ratio, frozen=None):
    """scikit-learn's ElasticNet penalty
        alpha * l1_ratio * ||w||_1 + 0.5 * alpha * (1 - l1_ratio) * ||w||^2;
    a term whose coefficient is 0 is left out (l1_ratio = 0 or 1 is exactly l2 or l1)."""
    w, keep = _prepare(w, frozen)
    a1 = alpha * l1_ratio
    a2 = alpha * (1.0 - l1_ratio)
    value = 0.0
    grad = np.zeros_like(w)
    if a1 != 0.0:
        value += a1 * np.sum(keep * np.abs(w))
        grad += a1 * np.sign(w)
    if a2 != 0.0:
        value += 0.5 * a2 * np.sum(keep * w * w)
        grad += a2 * w
    return float(value), keep * grad


def elastic_net_prox(w, alpha, l1_ratio, step, frozen=None):
    """Soft-threshold by step * alpha * l1_ratio, then divide by
    1 + step * alpha * (1 - l1_ratio)."""
    w = np.asarray(w, dtype=np.float64)
    new = soft_threshold(w, step * alpha * l1_ratio) / (1.0 + step * alpha * (1.0 - l1_ratio))
    return _unfrozen(w, new, frozen)


# --------------------------------------------------------------- group lasso ----

def as_2d(w):
    """The 2-D view the groups are taken in: (n0, n1 * ... * nk); (n,) is (n, 1), () is (1, 1)."""
    w = np.asarray(w)
    if w.ndim == 0:
        return w.reshape(1, 1)
    return w.reshape(w.shape[0], math.prod(w.shape[1:]))


def _group_norms(w, keep, axis):
    """The norms of the trainable parts of the groups: along `axis` of the 2-D view."""
    a = as_2d(keep * w)
    return np.sqrt(np.sum(a * a, axis=axis, keepdims=True))


def group_strength(w, strength, axis, weighted):
    """strength, times sqrt(group size) when weighted (the group size: the length of the
    2-D view along `axis`)."""
    if not weighted:
        return strength
    return strength * np.sqrt(as_2d(w).shape[axis])


def group_lasso(w, strength, axis, frozen=None, weighted=False):
    """strength * sum_g ||w_g||_2 over the groups of the 2-D view: rows (axis=1, each row a
    group, the norm along axis 1) or columns (axis=0); gradient strength * w_g / ||w_g||,
    0 for a zero group."""
    w, keep = _prepare(w, frozen)
    s = group_strength(w, strength, axis, weighted)
    norms = _group_norms(w, keep, axis)
    value = s * np.sum(norms)
    a = as_2d(keep * w)
    # w_g / ||w_g||: 0 where the norm is 0, NaN where it is NaN
    unit = np.divide(a, norms, out=np.zeros_like(a), where=norms != 0)
    grad = (s * unit).reshape(w.shape)
    return float(value), grad


def group_lasso_prox(w, strength, axis, step, frozen=None, weighted=False):
    """Group soft-thresholding w_g * max(0, 1 - step * strength / ||w_g||) (0 for a zero
    group, NaN for a group holding NaN)."""
    w, keep = _prepare(w, frozen)
    lam = step * group_strength(w, strength, axis, weighted)
    norms = _group_norms(w, keep, axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(norms > lam, 1.0 - lam / norms, 0.0)
    factor = np.where(np.isnan(norms), np.nan, factor)
    new = (as_2d(w) * factor).reshape(w.shape)
    return _unfrozen(w, new, frozen)


# ---------------------------------------------------------------------- l2_sp ----

def l2_sp(w, w0, alpha, beta, frozen=None):
    """L2-SP (Li, Grandvalet, Davoine 2018): alpha / 2 * ||w - w0||^2 for a parameter with a
    pre-trained value w0, beta / 2 * ||w||^2 for a new one (w0 None)."""
    w, keep = _prepare(w, frozen)
    if w0 is None:
        return l2(w, beta, frozen)
    r = w - np.asarray(w0, dtype=np.float64)
    value = 0.5 * alpha * np.sum(keep * r * r)
    grad = keep * (alpha * r)
    return float(value), grad


def l2_sp_prox(w, w0, alpha, beta, step, frozen=None):
    """(w + step * alpha * w0) / (1 + step * alpha): the shrink toward w0; the l2 prox with
    beta for a new parameter."""
    w = np.asarray(w, dtype=np.float64)
    if w0 is None:
        return l2_prox(w, beta, step, frozen)
    w0 = np.asarray(w0, dtype=np.float64)
    a = step * alpha
    if a == 0.0:
        return _unfrozen(w, w, frozen)
    # w / (1 + a) + w0 / (1 + 1/a): w0 itself when a overflows (not inf / inf)
    return _unfrozen(w, w / (1.0 + a) + w0 / (1.0 + 1.0 / a), frozen)
