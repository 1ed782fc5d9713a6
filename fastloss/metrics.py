"""Classification metrics with scikit-learn's names, argument order and defaults, computed
from one pass over the data.

    from fastloss import metrics as M

    M.accuracy(y_true, y_pred)                         # sklearn's accuracy_score
    M.f1_score(y_true, logits, average="macro")        # 2-D scores: the row argmax is the class
    M.precision(y_true, y_pred, average=None)          # per-class array
    M.confusion_matrix(y_true, y_pred, normalize="true")
    M.top_k_accuracy(y_true, scores, k=5)
    M.f1_score(Y_true, probs, average="samples", threshold=0.5)   # multilabel
    M.from_logits_confusion(logits, target)            # (C, C) float64 confusion matrix

One pass over the data.  2-D float32/float64 scores (logits, probabilities) go to one
compiled pass (C with OpenMP, fastloss._cpu) that takes each row's argmax and accumulates
the counts at once (margins in per-thread partial counts added at the end, the (C, C)
matrix in place with atomic adds), so that no argmax array is made: the confusion matrix's diagonal and margins for the set-wise metrics
(``precision``, ``recall``, ``f1_score``, ``fbeta_score``,
``precision_recall_fscore_support``, ``accuracy``), the (C, C) matrix for
``confusion_matrix`` and ``from_logits_confusion``.  Samples dropped by ``ignore_index``
are skipped by the pass (the scores are not copied).  Other inputs: labels become class
indices and the counts are ``np.bincount`` over them (over ``true * C + pred`` for the
matrix); multilabel inputs give per-label counts.  Unweighted counts are exact; weighted
ones are float64 sums, whose last bits may depend on the thread count.  Results
equal scikit-learn's for the same arguments (``precision_score``, ``recall_score``,
``accuracy_score`` and ``top_k_accuracy_score`` are aliases under sklearn's names).

What ``y_pred`` may be:

- 1-D predicted labels, of any integer dtype, floats holding integers, strings (as sklearn);
- 2-D scores, probabilities or logits ``(n_samples, n_classes)`` with a 1-D ``y_true``: the
  predicted class is the row argmax (ties go to the lowest column, as ``np.argmax``).
  Column ``j`` is class ``j`` (``y_true`` must then hold integers in ``[0, n_classes)``), or
  ``labels[j]`` when ``labels`` is given, which must then have one entry per column;
- multilabel: with a 2-D 0/1 indicator ``y_true`` ``(n_samples, n_labels)``, a 2-D 0/1
  indicator ``y_pred`` of the same shape, or 2-D floats (probabilities) which are turned
  into indicators by ``y_pred > threshold`` (``threshold=0.5`` by default; pass
  ``threshold=0.0`` for logits).

fastloss's additions (keyword-only): ``ignore_index`` drops the samples whose ``y_true``
equals it (for multilabel inputs, the single entries equal to it are left out of every
count), as in the losses; ``threshold`` as above.  Unlike sklearn, negative or non-finite
``sample_weight`` is rejected.
"""
import numbers
import warnings

import numpy as np

__all__ = ["accuracy", "accuracy_score", "top_k_accuracy", "top_k_accuracy_score",
           "precision", "precision_score", "recall", "recall_score", "f1_score",
           "fbeta_score", "precision_recall_fscore_support", "confusion_matrix",
           "from_logits_confusion", "UndefinedMetricWarning"]


class UndefinedMetricWarning(UserWarning):
    """A metric is ill-defined (a division by zero) and was set by ``zero_division``."""


_AVERAGES = (None, "micro", "macro", "weighted", "samples", "binary")


# --------------------------------------------------------------------------- validation

def _check_average(average):
    if not (average is None or (isinstance(average, str) and average in _AVERAGES)):
        raise ValueError(f"average has to be one of {_AVERAGES}; got {average!r}")


def _check_zero_division(zero_division):
    if isinstance(zero_division, str):
        if zero_division == "warn":
            return 0.0
    elif isinstance(zero_division, numbers.Real) and not isinstance(zero_division, bool):
        z = float(zero_division)
        if z in (0.0, 1.0):
            return z
        if np.isnan(z):
            return np.nan
    raise ValueError("zero_division must be 'warn', 0.0, 1.0 or np.nan; "
                     f"got {zero_division!r}")


def _as_array(x, name):
    if x is None:
        raise TypeError(f"{name} must be an array, not None")
    a = np.asarray(x)
    if a.dtype.kind not in "biufUSO":
        raise TypeError(f"{name} must hold numbers or labels; got dtype {a.dtype}")
    if a.ndim == 0 or a.ndim > 2:
        raise ValueError(f"{name} must be 1-D or 2-D; got shape {a.shape}")
    return a


def _check_weight(sample_weight, n):
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight must be numeric; got dtype {w.dtype}")
    w = w.astype(np.float64, copy=False)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"sample_weight must have shape ({n},); got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight must be finite")
    if n and w.min() < 0:
        raise ValueError("sample_weight must be non-negative")
    return w


def _is_str(a):
    return a.dtype.kind in "USO"


def _check_label_values(a, name):
    """sklearn calls non-integral floats 'continuous' and refuses them."""
    if a.dtype.kind == "f" and a.size:
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise ValueError(f"{name} holds continuous values; classification metrics "
                             "need class labels (or 2-D scores for y_pred)")
    if a.dtype.kind == "c":
        raise ValueError(f"{name} must not be complex")


def _is_indicator(a):
    if a.dtype.kind == "b":
        return True
    if a.dtype.kind not in "iuf":
        return False
    return bool(np.all((a == 0) | (a == 1)))


# --------------------------------------------------------------------------- encoding

class _Counts:
    """The inputs reduced to class indices (kind 'binary'/'multiclass'), from which the
    confusion matrix (or just its diagonal and margins) is one bincount away, or to
    multilabel indicator arrays (kind 'multilabel')."""
    kind = None
    t_idx = p_idx = None  # (n,) indices into `classes` of y_true and of the prediction
    k = 0
    classes = None       # (K,) class values
    present = None       # (K,) bool: the class occurs in y_true or y_pred
    scores = False       # y_pred was 2-D scores (labels name its columns)
    yt = yp = None       # multilabel: (n, L) bool
    weight = None        # sample weights after ignore_index (None = ones)
    n = 0
    dm = None            # compiled pass over scores: (diag, pred, true) float64, or
    cm = None            # the (K, K) matrix (int64 without weights, float64 with them)


def _cm(c):
    """(K, K) confusion matrix over `classes`: rows true, columns predicted; int64
    without weights, float64 with them."""
    if c.cm is not None:
        return c.cm
    return _bincount_cm(c.t_idx, c.p_idx, c.k, c.weight)


def _diag_margins(c):
    """The confusion matrix's diagonal, column sums and row sums (float64) without
    building the (K, K) matrix: three bincounts of length K."""
    if c.dm is not None:
        return c.dm
    if c.cm is not None:
        cm = c.cm.astype(np.float64, copy=False)
        return np.diagonal(cm).copy(), cm.sum(axis=0), cm.sum(axis=1)
    t, p, w, k = c.t_idx, c.p_idx, c.weight, c.k
    hit = t == p
    diag = np.bincount(t[hit], weights=None if w is None else w[hit], minlength=k)
    pred = np.bincount(p, weights=w, minlength=k)
    true = np.bincount(t, weights=w, minlength=k)
    return (diag.astype(np.float64, copy=False), pred.astype(np.float64, copy=False),
            true.astype(np.float64, copy=False))


def _bincount_cm(t_idx, p_idx, k, w):
    flat = t_idx * k + p_idx
    if w is None:
        return np.bincount(flat, minlength=k * k).reshape(k, k)
    return np.bincount(flat, weights=w, minlength=k * k).reshape(k, k)


def _encode_labels(t, p):
    """1-D labels -> (t_idx, p_idx, classes): classes sorted, all present."""
    if t.dtype.kind in "biu" and p.dtype.kind in "biu":
        n = t.shape[0]
        t64 = t.astype(np.int64, copy=False)
        p64 = p.astype(np.int64, copy=False)
        if n == 0:
            return t64, p64, np.zeros(0, np.int64)
        lo = int(min(t64.min(), p64.min()))
        hi = int(max(t64.max(), p64.max()))
        span = hi - lo + 1
        if span <= 2 * n + 65536:
            if lo != 0:
                t64 = t64 - lo
                p64 = p64 - lo
            present = np.bincount(t64, minlength=span) > 0
            present |= np.bincount(p64, minlength=span) > 0
            classes = np.flatnonzero(present) + lo
            if classes.shape[0] == span:
                return t64, p64, classes
            lut = np.cumsum(present) - 1
            return lut[t64], lut[p64], classes
    if _is_str(t) != _is_str(p):
        raise ValueError("Mix of label input types (string and number) in y_true and "
                         "y_pred")
    both = np.concatenate([t, p])
    classes, inv = np.unique(both, return_inverse=True)
    inv = inv.reshape(-1)
    n = t.shape[0]
    return inv[:n], inv[n:], classes


def _compiled_scores(yp):
    """Whether the compiled argmax pass reads these 2-D scores as they are: float32 or
    float64 in native byte order, unit column stride, rows in order."""
    if yp.dtype not in (np.float32, np.float64) or not yp.dtype.isnative:
        return False
    n, k = yp.shape
    isz = yp.itemsize
    return (k <= 1 or yp.strides[1] == isz) and (n <= 1 or (
        yp.strides[0] % isz == 0 and yp.strides[0] >= k * isz))


def _argmax_counts(c, yp, t_idx, keep, w_all, full):
    """The compiled pass over the scores yp (all rows; those not kept are skipped): the
    counts into c (c.cm when full, else c.dm) and the classes predicted at least once."""
    from ._cpu import _kernels
    n, k = yp.shape
    if keep is None:
        t_full = np.ascontiguousarray(t_idx, dtype=np.int64)
    else:
        t_full = np.full(n, -1, np.int64)
        t_full[keep] = t_idx
    w = None if w_all is None else np.ascontiguousarray(w_all, dtype=np.float64)
    out = _kernels.argmax_counts(yp, t_full, w, full, _kernels.max_threads())
    if full:
        c.cm = out[:k * k].reshape(k, k)    # int64 counts without weights
        predn = out[k * k:]
    else:
        c.dm = (out[:k], out[k:2 * k], out[2 * k:3 * k])
        predn = out[3 * k:]
    return predn > 0


def _gather(y_true, y_pred, sample_weight, ignore_index, labels, threshold,
            allow_multilabel=True, full=False):
    """The inputs checked and reduced to counts (see _Counts); `full`: the (K, K) matrix
    will be wanted (the compiled pass over scores then counts it rather than its
    diagonal and margins)."""
    yt = _as_array(y_true, "y_true")
    yp = _as_array(y_pred, "y_pred")
    if yt.ndim == 2 and yt.shape[1] == 1:
        yt = yt[:, 0]
    if yt.shape[0] != yp.shape[0]:
        raise ValueError("y_true and y_pred have different numbers of samples: "
                         f"{yt.shape[0]} != {yp.shape[0]}")
    w = _check_weight(sample_weight, yt.shape[0])
    if threshold is not None:
        if not (isinstance(threshold, numbers.Real) and np.isfinite(threshold)):
            raise ValueError(f"threshold must be a finite number; got {threshold!r}")
        if yt.ndim != 2:
            raise ValueError("threshold applies to multilabel inputs (2-D y_true and "
                             "y_pred) only")
    c = _Counts()

    if yt.ndim == 2:                                   # multilabel
        if not allow_multilabel:
            raise ValueError("multilabel-indicator is not supported (y_true is 2-D)")
        if yp.shape != yt.shape:
            raise ValueError("Classification metrics can't handle a mix of "
                             "multilabel-indicator and other targets: y_pred must have "
                             f"y_true's shape {yt.shape}; got {yp.shape}")
        mask = None
        if ignore_index is not None:
            mask = yt == ignore_index
            if not mask.any():
                mask = None
        yt_v = np.where(mask, 0, yt) if mask is not None else yt
        if not _is_indicator(yt_v):
            raise ValueError("y_true is 2-D but not a 0/1 indicator matrix "
                             "(multiclass-multioutput is not supported)")
        if yp.dtype.kind == "f":
            th = 0.5 if threshold is None else float(threshold)
            if np.isnan(yp).any():
                raise ValueError("y_pred holds NaN")
            yp_b = yp > th
        elif _is_indicator(yp):
            yp_b = yp.astype(bool, copy=False)
        else:
            raise ValueError("y_pred must be a 0/1 indicator matrix, or floats with "
                             "threshold= (multilabel)")
        yt_b = yt_v.astype(bool, copy=False)
        if mask is not None:
            yp_b = yp_b & ~mask
        c.kind, c.yt, c.yp, c.weight, c.n = "multilabel", yt_b, yp_b, w, yt.shape[0]
        return c

    # single-label: optionally drop ignored samples
    keep = None
    if ignore_index is not None:
        try:
            keep = yt != ignore_index
        except TypeError:
            keep = None
        if keep is not None and (np.ndim(keep) == 0 or keep.all()):
            keep = None
    _check_label_values(yt, "y_true")

    if yp.ndim == 2:                                   # scores -> argmax
        n_cols = yp.shape[1]
        if yp.dtype.kind not in "biuf":
            raise TypeError(f"2-D y_pred must hold numeric scores; got dtype {yp.dtype}")
        if n_cols < 2:
            raise ValueError(f"2-D y_pred needs one column per class (>= 2); got {n_cols}")
        compiled = _compiled_scores(yp) and n_cols > 0
        w_all = w
        p_idx = None if compiled else np.argmax(yp, axis=1)
        if keep is not None:
            yt = yt[keep]
            p_idx = None if compiled else p_idx[keep]
            w = None if w is None else w[keep]
        if labels is None:
            classes = np.arange(n_cols)
            if _is_str(yt):
                raise ValueError("y_true holds strings: pass labels= naming the columns "
                                 "of the 2-D y_pred")
            if yt.size and (yt.min() < 0 or yt.max() >= n_cols):
                raise ValueError(f"y_true holds labels outside [0, {n_cols}), the columns "
                                 "of the 2-D y_pred; pass labels= naming the columns")
            t_idx = yt.astype(np.intp, copy=False)
        else:
            classes = np.asarray(labels)
            if classes.ndim != 1 or classes.shape[0] != n_cols:
                raise ValueError(f"labels must have one entry per column of the 2-D "
                                 f"y_pred ({n_cols}); got shape {classes.shape}")
            if np.unique(classes).shape[0] != n_cols:
                raise ValueError("labels must be unique")
            order = np.argsort(classes, kind="stable")
            srt = classes[order]
            try:
                pos = np.clip(np.searchsorted(srt, yt), 0, n_cols - 1)
                found = srt[pos] == yt
            except (TypeError, ValueError):
                found = np.zeros(yt.shape, bool)
                pos = np.zeros(yt.shape, np.intp)
            if not np.all(found):
                raise ValueError("y_true holds labels not in labels (the columns of the "
                                 "2-D y_pred)")
            t_idx = order[pos]
        k = n_cols
        present = np.bincount(t_idx, minlength=k) > 0
        if compiled:
            present |= _argmax_counts(c, yp, t_idx, keep, w_all, full)
        else:
            present |= np.bincount(p_idx, minlength=k) > 0
        c.scores = True
    else:
        _check_label_values(yp, "y_pred")
        if keep is not None:
            yt, yp = yt[keep], yp[keep]
            w = None if w is None else w[keep]
        t_idx, p_idx, classes = _encode_labels(yt, yp)
        k = classes.shape[0]
        present = np.ones(k, bool)
    c.t_idx, c.p_idx, c.k = t_idx, p_idx, k
    c.classes, c.present, c.weight, c.n = classes, present, w, yt.shape[0]
    c.kind = "binary" if present.sum() <= 2 else "multiclass"
    return c


def _lookup(classes, values):
    """Indices of `values` in `classes`; len(classes) where absent."""
    table = {}
    for i, v in enumerate(classes.tolist()):
        table.setdefault(v, i)
    miss = len(classes)
    return np.array([table.get(v, miss) for v in np.asarray(values).tolist()], np.intp)


# --------------------------------------------------------------------------- set-wise

def _warn_prf(average, modifier, msg_start, result_size):
    axis0, axis1 = ("label", "sample") if average == "samples" else ("sample", "label")
    msg = (f"{msg_start} ill-defined and being set to 0.0 {{0}} no {modifier} {axis0}s. "
           "Use `zero_division` parameter to control this behavior.")
    msg = msg.format("due to" if result_size == 1 else f"in {axis1}s with")
    warnings.warn(msg, UndefinedMetricWarning, stacklevel=4)


def _divide(num, den, metric, modifier, average, warn_for, zero_division, zval):
    mask = den == 0
    out = num / np.where(mask, 1.0, den)
    if mask.any():
        out[mask] = zval
        if isinstance(zero_division, str) and metric in warn_for:
            _warn_prf(average, modifier, f"{metric.capitalize()} is", out.shape[0])
    return out


def _nanaverage(a, weights=None):
    if a.shape[0] == 0:
        return np.nan
    mask = np.isnan(a)
    if mask.all():
        return np.nan
    a = a[~mask]
    if weights is None:
        return np.mean(a)
    weights = np.asarray(weights, np.float64)[~mask]
    s = weights.sum()
    if s == 0:
        return np.mean(a)
    return np.dot(a, weights) / s


def _binary_labels(c, average, labels, pos_label):
    """sklearn's _check_set_wise_labels on gathered counts."""
    if average == "binary":
        if c.kind == "binary":
            present = c.classes[c.present].tolist()
            if pos_label not in present and len(present) >= 2:
                raise ValueError(f"pos_label={pos_label} is not a valid label. It should "
                                 f"be one of {present}")
            return [pos_label]
        opts = [a for a in _AVERAGES if a != "binary"]
        if c.kind == "multiclass":
            opts.remove("samples")
        kind = "multilabel-indicator" if c.kind == "multilabel" else c.kind
        raise ValueError(f"Target is {kind} but average='binary'. Please choose another "
                         f"average setting, one of {opts}.")
    if pos_label not in (None, 1):
        warnings.warn(f"Note that pos_label (set to {pos_label!r}) is ignored when average "
                      f"!= 'binary' (got {average!r}). You may use labels=[pos_label] to "
                      "specify a single positive class.", UserWarning, stacklevel=3)
    return labels


def _stat_sums(c, average, labels):
    """tp, pred and true sums (float64) for the reported labels, or per sample."""
    if c.kind == "multilabel":
        yt, yp = c.yt, c.yp
        if labels is not None:
            lab = np.asarray(labels)
            n_lab = yt.shape[1]
            if lab.size and lab.max() >= n_lab:
                raise ValueError("All labels must be in [0, n labels) for multilabel "
                                 f"targets. Got {lab.max()} > {n_lab - 1}")
            if lab.size and lab.min() < 0:
                raise ValueError("All labels must be in [0, n labels) for multilabel "
                                 f"targets. Got {lab.min()} < 0")
            yt, yp = yt[:, lab], yp[:, lab]
        both = yt & yp
        if average == "samples":
            return (both.sum(1, dtype=np.float64), yp.sum(1, dtype=np.float64),
                    yt.sum(1, dtype=np.float64))
        if c.weight is None:
            return (both.sum(0, dtype=np.float64), yp.sum(0, dtype=np.float64),
                    yt.sum(0, dtype=np.float64))
        w = c.weight
        return w @ both.astype(np.float64), w @ yp.astype(np.float64), \
            w @ yt.astype(np.float64)
    if average == "samples":
        raise ValueError("average='samples' is available for multilabel inputs only "
                         "(Samplewise metrics are not available outside of multilabel "
                         "classification.)")
    k = c.k
    if labels is None:
        idx = np.flatnonzero(c.present)
    else:
        lab = np.asarray(labels)
        if lab.ndim != 1:
            raise ValueError("labels must be 1-D")
        idx = _lookup(c.classes, lab)
    diag, pred, true = (np.append(x, 0.0) for x in _diag_margins(c))
    idx = np.minimum(idx, k)
    return diag[idx], pred[idx], true[idx]


def precision_recall_fscore_support(y_true, y_pred, *, beta=1.0, labels=None, pos_label=1,
                                    average=None,
                                    warn_for=("precision", "recall", "f-score"),
                                    sample_weight=None, zero_division="warn",
                                    ignore_index=None, threshold=None):
    """Precision, recall, F-beta and support, as sklearn's function of the same name.

    Returns ``(precision, recall, fbeta, support)``: floats (support ``None``) when
    ``average`` is set, per-label arrays when ``average=None``."""
    _check_average(average)
    zval = _check_zero_division(zero_division)
    if not isinstance(beta, numbers.Real) or isinstance(beta, bool) or not beta >= 0:
        raise ValueError(f"beta must be a number >= 0; got {beta!r}")
    c = _gather(y_true, y_pred, sample_weight, ignore_index, labels, threshold)
    labels = _binary_labels(c, average, labels, pos_label)
    tp, pred, true = _stat_sums(c, average, labels)
    if average == "micro":
        tp, pred, true = (np.array([x.sum()]) for x in (tp, pred, true))
    precision = _divide(tp, pred, "precision", "predicted", average, warn_for,
                        zero_division, zval)
    recall = _divide(tp, true, "recall", "true", average, warn_for, zero_division, zval)
    if np.isposinf(beta):
        f = recall
    elif beta == 0:
        f = precision
    else:
        b2 = float(beta) ** 2
        f = _divide((1 + b2) * tp, b2 * true + pred, "f-score", "true nor predicted",
                    average, warn_for, zero_division, zval)
    if average is None:
        support = true if c.weight is not None else true.astype(np.int64)
        return precision, recall, f, support
    if average == "weighted":
        weights = true
    elif average == "samples":
        weights = c.weight
    else:
        weights = None
    return (float(_nanaverage(precision, weights)), float(_nanaverage(recall, weights)),
            float(_nanaverage(f, weights)), None)


def fbeta_score(y_true, y_pred, *, beta, labels=None, pos_label=1, average="binary",
                sample_weight=None, zero_division="warn", ignore_index=None,
                threshold=None):
    """F-beta score, as sklearn.metrics.fbeta_score."""
    return precision_recall_fscore_support(
        y_true, y_pred, beta=beta, labels=labels, pos_label=pos_label, average=average,
        warn_for=("f-score",), sample_weight=sample_weight, zero_division=zero_division,
        ignore_index=ignore_index, threshold=threshold)[2]


def f1_score(y_true, y_pred, *, labels=None, pos_label=1, average="binary",
             sample_weight=None, zero_division="warn", ignore_index=None, threshold=None):
    """F1 score, as sklearn.metrics.f1_score."""
    return fbeta_score(y_true, y_pred, beta=1.0, labels=labels, pos_label=pos_label,
                       average=average, sample_weight=sample_weight,
                       zero_division=zero_division, ignore_index=ignore_index,
                       threshold=threshold)


def precision(y_true, y_pred, *, labels=None, pos_label=1, average="binary",
              sample_weight=None, zero_division="warn", ignore_index=None, threshold=None):
    """Precision, as sklearn.metrics.precision_score."""
    return precision_recall_fscore_support(
        y_true, y_pred, labels=labels, pos_label=pos_label, average=average,
        warn_for=("precision",), sample_weight=sample_weight, zero_division=zero_division,
        ignore_index=ignore_index, threshold=threshold)[0]


def recall(y_true, y_pred, *, labels=None, pos_label=1, average="binary",
           sample_weight=None, zero_division="warn", ignore_index=None, threshold=None):
    """Recall, as sklearn.metrics.recall_score."""
    return precision_recall_fscore_support(
        y_true, y_pred, labels=labels, pos_label=pos_label, average=average,
        warn_for=("recall",), sample_weight=sample_weight, zero_division=zero_division,
        ignore_index=ignore_index, threshold=threshold)[1]


# --------------------------------------------------------------------------- accuracy, cm

def accuracy(y_true, y_pred, *, normalize=True, sample_weight=None, ignore_index=None,
             threshold=None):
    """Accuracy (subset accuracy for multilabel), as sklearn.metrics.accuracy_score:
    the (weighted) fraction of correct samples, or their (weighted) count when
    ``normalize=False``."""
    c = _gather(y_true, y_pred, sample_weight, ignore_index, None, threshold)
    if c.kind == "multilabel":
        hit = ~np.any(c.yt != c.yp, axis=1)
        correct = float(hit.sum()) if c.weight is None else float(np.dot(hit, c.weight))
    elif c.p_idx is None:   # the compiled pass over scores: the diagonal's sum
        correct = float(_diag_margins(c)[0].sum())
    else:
        hit = c.t_idx == c.p_idx
        correct = float(hit.sum()) if c.weight is None else float(np.dot(hit, c.weight))
    if not normalize:
        return correct
    total = float(c.n) if c.weight is None else float(c.weight.sum())
    if total == 0:
        if c.weight is not None and c.n:
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        return float("nan")
    return correct / total


def confusion_matrix(y_true, y_pred, *, labels=None, sample_weight=None, normalize=None,
                     ignore_index=None):
    """Confusion matrix ``C[i, j]`` = (weight of) samples of true class ``labels[i]``
    predicted as ``labels[j]``, as sklearn.metrics.confusion_matrix.  int64 counts
    without ``sample_weight``, float64 with it or with ``normalize``."""
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError("normalize must be one of {'true', 'pred', 'all', None}; "
                         f"got {normalize!r}")
    yp_arr = np.asarray(y_pred)
    scores = yp_arr.ndim == 2 and np.ndim(y_true) == 1
    c = _gather(y_true, y_pred, sample_weight, ignore_index, labels if scores else None,
                None, allow_multilabel=False, full=True)
    cm = _cm(c)
    k = cm.shape[0]
    if labels is None:
        idx = np.flatnonzero(c.present)
        if not (c.scores and idx.shape[0] == k):
            cm = cm[np.ix_(idx, idx)]
    else:
        lab = np.asarray(labels)
        if lab.ndim != 1 or lab.size == 0:
            raise ValueError("'labels' should contain at least one label.")
        if c.n == 0:
            return np.zeros((lab.size, lab.size), dtype=int)
        if not c.scores:
            idx = _lookup(c.classes, lab)
            true_present = cm.sum(1) > 0 if c.weight is None else None
            if true_present is None:
                # presence of a class in y_true, independent of the weights
                true_present = _class_presence(y_true, c, ignore_index)
            hit = idx < k
            if not np.any(true_present[idx[hit]]):
                raise ValueError("At least one label specified must be in y_true")
            pad = np.zeros((k + 1, k + 1), cm.dtype)
            pad[:k, :k] = cm
            cm = pad[np.ix_(idx, idx)]
    if normalize is not None:
        cm = cm.astype(np.float64)
        with np.errstate(all="ignore"):
            if normalize == "true":
                cm = cm / cm.sum(axis=1, keepdims=True)
            elif normalize == "pred":
                cm = cm / cm.sum(axis=0, keepdims=True)
            else:
                cm = cm / cm.sum()
        cm = np.nan_to_num(cm)
    if cm.shape == (1, 1):
        warnings.warn("A single label was found in 'y_true' and 'y_pred'. For the "
                      "confusion matrix to have the correct shape, use the 'labels' "
                      "parameter to pass all known labels.", UserWarning, stacklevel=2)
    return cm


def _class_presence(y_true, c, ignore_index):
    """Which classes occur in y_true (after ignore_index), weights aside."""
    yt = np.asarray(y_true)
    if yt.ndim == 2:
        yt = yt[:, 0]
    if ignore_index is not None:
        keep = yt != ignore_index
        if np.ndim(keep):
            yt = yt[keep]
    idx = _lookup(c.classes, np.unique(yt))
    out = np.zeros(c.classes.shape[0] + 1, bool)
    out[idx] = True
    return out[:-1]


def from_logits_confusion(logits, target, n_classes=None, sample_weight=None,
                          ignore_index=None):
    """(C, C) float64 confusion matrix straight from logits (or scores, probabilities):
    row = target class, column = the row argmax of ``logits`` (ties to the lowest index).
    ``target`` holds integers in ``[0, C)``; samples whose target equals ``ignore_index``
    are dropped."""
    x = np.asarray(logits)
    if x.ndim != 2:
        raise ValueError(f"logits must be 2-D (n_samples, n_classes); got shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"logits must be numeric; got dtype {x.dtype}")
    k = x.shape[1]
    if n_classes is not None:
        if not isinstance(n_classes, numbers.Integral) or n_classes != k:
            raise ValueError(f"n_classes ({n_classes!r}) must equal the number of columns "
                             f"of logits ({k})")
    t = np.asarray(target)
    if t.ndim != 1 or t.shape[0] != x.shape[0]:
        raise ValueError(f"target must have shape ({x.shape[0]},); got {t.shape}")
    if t.dtype.kind not in "biu":
        raise TypeError(f"target must hold integer class indices; got dtype {t.dtype}")
    w = _check_weight(sample_weight, x.shape[0])
    if k == 0:
        return np.zeros((0, 0))
    keep = None
    if ignore_index is not None:
        keep = t != ignore_index
        keep = None if keep.all() else keep
    tk = t if keep is None else t[keep]
    if tk.size and (tk.min() < 0 or tk.max() >= k):
        raise ValueError(f"target holds class indices outside [0, {k})")
    if _compiled_scores(x):   # one pass: argmax and counts, the ignored rows skipped
        c = _Counts()
        _argmax_counts(c, x, tk, keep, np.ones(x.shape[0]) if w is None else w, True)
        return c.cm
    p = np.argmax(x, axis=1)
    if keep is not None:
        p = p[keep]
        w = None if w is None else w[keep]
    flat = tk.astype(np.intp, copy=False) * k + p
    if w is None:
        w = np.ones(flat.shape[0])
    return np.bincount(flat, weights=w, minlength=k * k).reshape(k, k)


# --------------------------------------------------------------------------- top-k

def top_k_accuracy(y_true, y_score, *, k=2, normalize=True, sample_weight=None,
                   labels=None, ignore_index=None):
    """Top-k accuracy, as sklearn.metrics.top_k_accuracy_score: a sample is a hit when
    its true class is among the ``k`` highest scores of its row (ties ranked as sklearn:
    among equal scores the higher column ranks first).  ``y_score`` is ``(n, C)``, or 1-D
    (or ``(n, 1)``) scores of the positive class for binary ``y_true``.  Without
    ``labels``, column ``j`` is class ``j`` when ``y_true`` holds integers in ``[0, C)``,
    else the ``j``-th of the sorted classes of ``y_true`` (which must then number C)."""
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be an integer >= 1; got {k!r}")
    yt = _as_array(y_true, "y_true")
    if yt.ndim != 1:
        raise ValueError(f"y_true must be 1-D; got shape {yt.shape} (y type must be "
                         "'binary' or 'multiclass')")
    s = np.asarray(y_score)
    if s.dtype.kind not in "biuf":
        raise TypeError(f"y_score must be numeric; got dtype {s.dtype}")
    if s.ndim not in (1, 2):
        raise ValueError(f"y_score must be 1-D or 2-D; got shape {s.shape}")
    if s.shape[0] != yt.shape[0]:
        raise ValueError("y_true and y_score have different numbers of samples: "
                         f"{yt.shape[0]} != {s.shape[0]}")
    w = _check_weight(sample_weight, yt.shape[0])
    _check_label_values(yt, "y_true")
    if ignore_index is not None:
        keep = yt != ignore_index
        if np.ndim(keep) and not keep.all():
            yt, s = yt[keep], s[keep]
            w = None if w is None else w[keep]
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    n_cols = s.shape[1] if s.ndim == 2 else 2

    if labels is None:
        if s.ndim == 2 and not _is_str(yt) and (yt.size == 0 or (
                yt.min() >= 0 and yt.max() < n_cols)):
            classes = np.arange(n_cols)
        else:
            classes = np.unique(yt)
            if classes.shape[0] != n_cols:
                raise ValueError(f"Number of classes in 'y_true' ({classes.shape[0]}) not "
                                 f"equal to the number of classes in 'y_score' ({n_cols})."
                                 " You can provide a list of all known classes by "
                                 "assigning it to the `labels` parameter.")
    else:
        lab = np.asarray(labels).reshape(-1)
        classes = np.unique(lab)
        if classes.shape[0] != lab.shape[0]:
            raise ValueError("Parameter 'labels' must be unique.")
        if not np.array_equal(classes, lab):
            raise ValueError("Parameter 'labels' must be ordered.")
        if classes.shape[0] != n_cols:
            raise ValueError(f"Number of given labels ({classes.shape[0]}) not equal to the "
                             f"number of classes in 'y_score' ({n_cols}).")
    t_idx = _lookup(classes, yt) if _is_str(yt) or classes.dtype.kind == "U" else None
    if t_idx is None:
        pos = np.clip(np.searchsorted(classes, yt), 0, classes.shape[0] - 1)
        if yt.size and not np.all(classes[pos] == yt):
            raise ValueError("'y_true' contains labels not in parameter 'labels'.")
        t_idx = pos
    elif np.any(t_idx >= classes.shape[0]):
        raise ValueError("'y_true' contains labels not in parameter 'labels'.")
    n_classes = classes.shape[0]
    if k >= n_classes:
        warnings.warn(f"'k' ({k}) greater than or equal to 'n_classes' ({n_classes}) will "
                      "result in a perfect score and is therefore meaningless.",
                      UndefinedMetricWarning, stacklevel=2)
    if s.ndim == 1:                                   # binary, positive-class scores
        if k == 1:
            th = 0.5 if s.size and s.min() >= 0 and s.max() <= 1 else 0
            hits = (s > th).astype(np.intp) == t_idx
        else:
            hits = np.ones(s.shape[0], bool)
    elif k >= n_classes:
        hits = np.ones(s.shape[0], bool)
    else:
        st = s[np.arange(s.shape[0]), t_idx][:, None]
        rank = np.count_nonzero(s > st, axis=1)
        cols = np.arange(n_cols)
        rank += np.count_nonzero((s == st) & (cols > t_idx[:, None]), axis=1)
        hits = rank < k
    if normalize:
        if w is None:
            return float(np.mean(hits)) if hits.size else float("nan")
        if w.sum() == 0:
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        return float(np.dot(hits, w) / w.sum())
    return float(hits.sum()) if w is None else float(np.dot(hits, w))


# sklearn's names
accuracy_score = accuracy
precision_score = precision
recall_score = recall
top_k_accuracy_score = top_k_accuracy
