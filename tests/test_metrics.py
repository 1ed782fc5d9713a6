"""fastloss.metrics against scikit-learn, the oracle, on random data across the options."""
import warnings

import numpy as np
import pytest

sk = pytest.importorskip("sklearn.metrics")

from fastloss import metrics as M  # noqa: E402

NAN = float("nan")
ZD = ["warn", 0.0, 1.0, NAN]

SETWISE = {
    "precision": (M.precision, sk.precision_score, {}),
    "recall": (M.recall, sk.recall_score, {}),
    "f1_score": (M.f1_score, sk.f1_score, {}),
    "fbeta_0.5": (M.fbeta_score, sk.fbeta_score, {"beta": 0.5}),
    "fbeta_2": (M.fbeta_score, sk.fbeta_score, {"beta": 2.0}),
    "fbeta_0": (M.fbeta_score, sk.fbeta_score, {"beta": 0.0}),
    "fbeta_inf": (M.fbeta_score, sk.fbeta_score, {"beta": np.inf}),
    "prfs": (M.precision_recall_fscore_support, sk.precision_recall_fscore_support, {}),
}


def _run(fn, *args, **kw):
    """(result, exception type or None, whether an ill-defined warning was raised)."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            out = fn(*args, **kw)
            err = None
        except (ValueError, TypeError) as e:
            out, err = None, e
    ill = any("ill-defined" in str(r.message) for r in rec)
    return out, err, ill


def _same(a, b):
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
        return
    if a is None or b is None:
        assert a is None and b is None
        return
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12,
                               atol=1e-12, equal_nan=True)


def check(ours, theirs, *args, **kw):
    """ours(*args, **kw) must equal theirs(*args, **kw), errors and warnings included."""
    mine, err_m, ill_m = _run(ours, *args, **kw)
    ref, err_r, ill_r = _run(theirs, *args, **kw)
    if err_r is not None:
        assert err_m is not None, f"sklearn raised {err_r!r}, fastloss returned {mine}"
        assert isinstance(err_m, ValueError) == isinstance(err_r, ValueError) or \
            isinstance(err_m, (ValueError, TypeError))
        return None
    assert err_m is None, f"fastloss raised {err_m!r}, sklearn returned {ref}"
    _same(mine, ref)
    assert ill_m == ill_r, f"ill-defined warning: fastloss {ill_m}, sklearn {ill_r}"
    return mine


def _labels(rng, n, c, kind):
    t = rng.integers(0, c, n)
    p = np.where(rng.random(n) < 0.5, t, rng.integers(0, c, n))
    if kind == "int8":
        return t.astype(np.int8), p.astype(np.int8)
    if kind == "uint16":
        return t.astype(np.uint16), p.astype(np.uint16)
    if kind == "offset":
        return t * 7 + 100, p * 7 + 100
    if kind == "negative":
        return t - 2, p - 2
    if kind == "sparse":
        return t * 10**9, p * 10**9
    if kind == "float":
        return t.astype(np.float64), p.astype(np.float32)
    if kind == "str":
        names = np.array(["ant", "bee", "cat", "dog", "eel", "fox"])
        return names[t], names[p]
    return t, p


KINDS = ["int64", "int8", "uint16", "offset", "negative", "sparse", "float", "str"]


# ------------------------------------------------------------------ multiclass / binary

@pytest.mark.parametrize("name", list(SETWISE))
@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@pytest.mark.parametrize("zero_division", ZD)
def test_multiclass_setwise(rng, name, average, zero_division):
    ours, theirs, extra = SETWISE[name]
    for kind in KINDS:
        for c in (3, 5):
            t, p = _labels(rng, int(rng.integers(1, 60)), c, kind)
            for w in (None, rng.random(t.shape[0]) * 3):
                check(ours, theirs, t, p, average=average, sample_weight=w,
                      zero_division=zero_division, **extra)


@pytest.mark.parametrize("name", ["f1_score", "prfs", "precision", "fbeta_2"])
@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
def test_multiclass_labels_subset_and_absent(rng, name, average):
    ours, theirs, extra = SETWISE[name]
    for _ in range(5):
        t, p = _labels(rng, 40, 5, "int64")
        w = rng.random(40)
        for labels in ([0, 2], [4, 1, 3], [1, 7], [2, 0, 1, 3, 4, 9], [8]):
            check(ours, theirs, t, p, labels=labels, average=average, sample_weight=w,
                  zero_division=0.0, **extra)
        ts, ps = _labels(rng, 40, 5, "str")
        check(ours, theirs, ts, ps, labels=["cat", "zzz", "ant"], average=average,
              zero_division=1.0, **extra)


@pytest.mark.parametrize("name", list(SETWISE))
@pytest.mark.parametrize("zero_division", ZD)
def test_binary(rng, name, zero_division):
    ours, theirs, extra = SETWISE[name]
    for n in (1, 5, 30):
        t = rng.integers(0, 2, n)
        p = rng.integers(0, 2, n)
        for w in (None, rng.random(n)):
            for pos_label in (1, 0):
                check(ours, theirs, t, p, average="binary", pos_label=pos_label,
                      sample_weight=w, zero_division=zero_division, **extra)
        # one class only: the positive label may be absent
        check(ours, theirs, np.zeros(n, int), np.zeros(n, int), average="binary",
              zero_division=zero_division, **extra)
        s = np.array(["no", "yes"])
        check(ours, theirs, s[t], s[p], average="binary", pos_label="yes",
              zero_division=zero_division, **extra)
        # pos_label=1 is no label of string targets: both raise
        check(ours, theirs, s[t], s[p], average="binary", zero_division=zero_division,
              **extra)


def test_binary_average_on_multiclass_names_average(rng):
    t, p = _labels(rng, 50, 4, "int64")
    for fn in (M.f1_score, M.precision, M.recall):
        with pytest.raises(ValueError, match="average"):
            fn(t, p)
    with pytest.raises(ValueError, match="average"):
        sk.f1_score(t, p)


def test_pos_label_warning_when_not_binary(rng):
    t, p = _labels(rng, 50, 4, "int64")
    with pytest.warns(UserWarning, match="pos_label"):
        M.f1_score(t, p, average="macro", pos_label=2)


def test_warning_class_and_message():
    with pytest.warns(M.UndefinedMetricWarning, match="ill-defined"):
        assert M.precision([0, 1, 1], [0, 0, 0]) == 0.0


# ------------------------------------------------------------------ 2-D scores

@pytest.mark.parametrize("name", list(SETWISE))
@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
def test_scores_argmax(rng, name, average):
    ours, theirs, extra = SETWISE[name]
    for dtype in (np.float32, np.float64, np.int16):
        for c in (2, 4, 9):
            n = int(rng.integers(1, 80))
            if dtype == np.int16:          # many ties: argmax picks the lowest column
                s = rng.integers(0, 3, (n, c)).astype(dtype)
            else:
                s = rng.standard_normal((n, c)).astype(dtype)
            t = rng.integers(0, c, n)
            w = rng.random(n)
            pred = np.argmax(s, axis=1)
            avg = average if c > 2 or average is not None else "macro"
            mine = ours(t, s, average=avg, sample_weight=w, zero_division=0.0, **extra)
            ref = theirs(t, pred, average=avg, sample_weight=w, zero_division=0.0, **extra)
            _same(mine, ref)
            # columns named by labels
            names = np.array([f"c{j:02d}" for j in range(c)])[::-1]
            mine = ours(names[t], s, labels=names, average=avg, sample_weight=w,
                        zero_division=1.0, **extra)
            ref = theirs(names[t], names[pred], labels=names, average=avg,
                         sample_weight=w, zero_division=1.0, **extra)
            _same(mine, ref)


def test_scores_binary_default_average(rng):
    s = rng.standard_normal((64, 2)).astype(np.float32)
    t = rng.integers(0, 2, 64)
    assert M.f1_score(t, s) == pytest.approx(sk.f1_score(t, s.argmax(1)), abs=1e-15)


def test_scores_bad_columns(rng):
    s = rng.standard_normal((10, 3))
    t = rng.integers(0, 3, 10)
    with pytest.raises(ValueError, match="labels"):
        M.f1_score(t, s, labels=[0, 1], average="macro")
    with pytest.raises(ValueError, match="labels"):
        M.confusion_matrix(t, s, labels=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="y_true"):
        M.f1_score(t + 5, s, average="macro")
    with pytest.raises(ValueError, match="y_true"):
        M.f1_score(np.array(["a"] * 10), s, average="macro")


# ------------------------------------------------------------------ multilabel

def _multilabel(rng, n, k):
    yt = (rng.random((n, k)) < 0.4).astype(np.int64)
    prob = np.clip(yt * 0.5 + rng.random((n, k)) * 0.6, 0, 1)
    return yt, prob


@pytest.mark.parametrize("name", list(SETWISE))
@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted", "samples"])
@pytest.mark.parametrize("zero_division", ZD)
def test_multilabel(rng, name, average, zero_division):
    ours, theirs, extra = SETWISE[name]
    for n, k in ((1, 2), (20, 3), (50, 6)):
        yt, prob = _multilabel(rng, n, k)
        for w in (None, rng.random(n)):
            for th in (None, 0.3):
                ind = (prob > (0.5 if th is None else th)).astype(np.int64)
                mine, err_m, ill_m = _run(ours, yt, prob, average=average,
                                          sample_weight=w, zero_division=zero_division,
                                          threshold=th, **extra)
                ref, err_r, ill_r = _run(theirs, yt, ind, average=average,
                                         sample_weight=w, zero_division=zero_division,
                                         **extra)
                assert (err_m is None) == (err_r is None), (err_m, err_r)
                if err_r is None:
                    _same(mine, ref)
                    assert ill_m == ill_r
            # indicator y_pred, bool and int
            check(ours, theirs, yt.astype(bool), (prob > 0.5), average=average,
                  sample_weight=w, zero_division=zero_division, **extra)
            if average != "samples":
                check(ours, theirs, yt, (prob > 0.5).astype(np.int8), labels=[k - 1, 0],
                      average=average, sample_weight=w, zero_division=zero_division,
                      **extra)


def test_multilabel_errors(rng):
    yt, prob = _multilabel(rng, 10, 3)
    with pytest.raises(ValueError, match="average"):
        M.f1_score(yt, prob)                                 # binary on multilabel
    with pytest.raises(ValueError, match="labels"):
        M.f1_score(yt, prob, labels=[3], average="macro")
    with pytest.raises(ValueError, match="y_true"):
        M.f1_score(yt * 2, prob, average="macro")           # multiclass-multioutput
    with pytest.raises(ValueError, match="y_pred"):
        M.f1_score(yt, prob[:, :2], average="macro")
    with pytest.raises(ValueError):
        M.confusion_matrix(yt, yt)
    with pytest.raises(ValueError, match="threshold"):
        M.f1_score(yt[:, 0], yt[:, 1], threshold=0.5)
    with pytest.raises(ValueError, match="samples"):
        M.f1_score(yt[:, 0], yt[:, 1], average="samples")


def test_multilabel_ignore_index(rng):
    yt, prob = _multilabel(rng, 40, 4)
    masked = yt.copy()
    drop = rng.random(yt.shape) < 0.2
    masked[drop] = -1
    ref_true, ref_pred = yt.copy(), (prob > 0.5).astype(int)
    ref_true[drop] = 0
    ref_pred[drop] = 0
    for average in ("micro", "macro", "samples", None):
        _same(M.f1_score(masked, prob, average=average, ignore_index=-1, zero_division=0),
              sk.f1_score(ref_true, ref_pred, average=average, zero_division=0))
    assert M.accuracy(masked, prob, ignore_index=-1) == sk.accuracy_score(ref_true,
                                                                        ref_pred)


# ------------------------------------------------------------------ accuracy

@pytest.mark.parametrize("normalize", [True, False])
def test_accuracy(rng, normalize):
    for kind in KINDS:
        t, p = _labels(rng, int(rng.integers(1, 60)), 4, kind)
        for w in (None, rng.random(t.shape[0])):
            check(M.accuracy, sk.accuracy_score, t, p, normalize=normalize,
                  sample_weight=w)
    yt, prob = _multilabel(rng, 30, 4)
    for w in (None, rng.random(30)):
        check(M.accuracy_score, sk.accuracy_score, yt, (prob > 0.5).astype(int),
              normalize=normalize, sample_weight=w)
        s = rng.standard_normal((30, 5))
        t = rng.integers(0, 5, 30)
        _same(M.accuracy(t, s, normalize=normalize, sample_weight=w),
              sk.accuracy_score(t, s.argmax(1), normalize=normalize, sample_weight=w))


# ------------------------------------------------------------------ confusion matrix

@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_confusion_matrix(rng, normalize):
    for kind in KINDS:
        t, p = _labels(rng, int(rng.integers(2, 60)), 4, kind)
        for w in (None, rng.random(t.shape[0])):
            check(M.confusion_matrix, sk.confusion_matrix, t, p, sample_weight=w,
                  normalize=normalize)
            labels = np.unique(t)[::-1]
            check(M.confusion_matrix, sk.confusion_matrix, t, p, labels=labels[:2],
                  sample_weight=w, normalize=normalize)
    t, p = _labels(rng, 50, 4, "int64")
    for labels in ([3, 0, 9], [2], [0, 1, 2, 3, 4, 5], [7, 8]):
        check(M.confusion_matrix, sk.confusion_matrix, t, p, labels=labels,
              normalize=normalize, sample_weight=rng.random(50))
        check(M.confusion_matrix, sk.confusion_matrix, t, p, labels=labels,
              normalize=normalize)
    s = rng.standard_normal((50, 6)).astype(np.float32)
    t = rng.integers(0, 6, 50)
    _same(M.confusion_matrix(t, s, normalize=normalize),
          sk.confusion_matrix(t, s.argmax(1), normalize=normalize))
    _same(M.confusion_matrix(t, s, labels=np.arange(6), normalize=normalize),
          sk.confusion_matrix(t, s.argmax(1), labels=np.arange(6), normalize=normalize))


def test_confusion_matrix_dtype_and_errors(rng):
    t, p = _labels(rng, 30, 3, "int64")
    assert M.confusion_matrix(t, p).dtype == np.int64
    assert M.confusion_matrix(t, p, sample_weight=np.ones(30)).dtype == np.float64
    with pytest.raises(ValueError, match="normalize"):
        M.confusion_matrix(t, p, normalize="rows")
    with pytest.raises(ValueError, match="label"):
        M.confusion_matrix(t, p, labels=[])
    with pytest.raises(ValueError, match="y_true"):
        M.confusion_matrix(t, p, labels=[11, 12])


def test_from_logits_confusion(rng):
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((200, 7)).astype(dtype)
        t = rng.integers(0, 7, 200).astype(np.int32)
        w = rng.random(200)
        cm = M.from_logits_confusion(x, t, sample_weight=w)
        assert cm.dtype == np.float64 and cm.shape == (7, 7)
        _same(cm, sk.confusion_matrix(t, x.argmax(1), labels=np.arange(7), sample_weight=w))
        t2 = t.copy()
        t2[::3] = -100
        keep = t2 != -100
        _same(M.from_logits_confusion(x, t2, n_classes=7, ignore_index=-100),
              sk.confusion_matrix(t[keep], x.argmax(1)[keep], labels=np.arange(7)))
    with pytest.raises(ValueError, match="n_classes"):
        M.from_logits_confusion(x, t, n_classes=6)
    with pytest.raises(ValueError, match="target"):
        M.from_logits_confusion(x, t + 1)
    with pytest.raises(ValueError, match="logits"):
        M.from_logits_confusion(x[0], t[:1])
    with pytest.raises(ValueError, match="sample_weight"):
        M.from_logits_confusion(x, t, sample_weight=-w)


# ------------------------------------------------------------------ top-k

@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("normalize", [True, False])
def test_top_k(rng, k, normalize):
    for c in (3, 4, 6):
        n = int(rng.integers(c, 80))
        for ties in (False, True):
            s = (rng.integers(0, 3, (n, c)).astype(float) if ties
                 else rng.standard_normal((n, c)))
            t = np.concatenate([np.arange(c), rng.integers(0, c, n - c)])
            for w in (None, rng.random(n)):
                check(M.top_k_accuracy, sk.top_k_accuracy_score, t, s, k=k,
                      normalize=normalize, sample_weight=w)
                names = np.array(["a", "b", "c", "d", "e", "f"][:c])
                check(M.top_k_accuracy_score, sk.top_k_accuracy_score, names[t], s, k=k,
                      normalize=normalize, sample_weight=w, labels=names)
                check(M.top_k_accuracy, sk.top_k_accuracy_score, t * 3 + 1, s, k=k,
                      normalize=normalize, sample_weight=w)
    # binary with positive-class scores
    t = rng.integers(0, 2, 40)
    for s in (rng.random(40), rng.standard_normal(40)):
        check(M.top_k_accuracy, sk.top_k_accuracy_score, t, s, k=k, normalize=normalize)


def test_top_k_partial_classes_and_errors(rng):
    s = rng.standard_normal((20, 5))
    t = rng.integers(0, 3, 20)                 # not every class in this batch
    ranks = (-s).argsort(1, kind="stable")[:, :2]
    assert M.top_k_accuracy(t, s) == np.mean((ranks == t[:, None]).any(1))
    with pytest.raises(ValueError, match="k"):
        M.top_k_accuracy(t, s, k=0)
    with pytest.raises(ValueError, match="labels"):
        M.top_k_accuracy(t, s, labels=[0, 1, 2])
    with pytest.raises(ValueError, match="ordered"):
        M.top_k_accuracy(t, s, labels=[4, 3, 2, 1, 0])
    with pytest.raises(ValueError, match="samples"):
        M.top_k_accuracy(t[:5], s)
    t2 = t.copy()
    t2[:4] = -1
    assert M.top_k_accuracy(t2, s, ignore_index=-1, k=3) == pytest.approx(
        sk.top_k_accuracy_score(t[4:], s[4:], k=3, labels=np.arange(5)))


# ------------------------------------------------------------------ ignore_index

@pytest.mark.parametrize("average", ["micro", "macro", "weighted", None])
def test_ignore_index_drops_samples(rng, average):
    t, p = _labels(rng, 80, 4, "int64")
    s = rng.standard_normal((80, 4))
    w = rng.random(80)
    t2 = t.copy()
    t2[rng.random(80) < 0.3] = -100
    keep = t2 != -100
    _same(M.f1_score(t2, p, average=average, sample_weight=w, ignore_index=-100),
          sk.f1_score(t[keep], p[keep], average=average, sample_weight=w[keep]))
    _same(M.precision_recall_fscore_support(t2, s, average=average, ignore_index=-100),
          sk.precision_recall_fscore_support(t[keep], s.argmax(1)[keep], average=average))
    _same(M.confusion_matrix(t2, p, ignore_index=-100),
          sk.confusion_matrix(t[keep], p[keep]))
    _same(M.accuracy(t2, p, ignore_index=-100, sample_weight=w),
          sk.accuracy_score(t[keep], p[keep], sample_weight=w[keep]))


# ------------------------------------------------------------------ bad input

def test_bad_input(rng):
    t, p = _labels(rng, 20, 3, "int64")
    with pytest.raises(ValueError, match="average"):
        M.f1_score(t, p, average="mean")
    with pytest.raises(ValueError, match="samples"):
        M.f1_score(t, p[:10], average="macro")
    with pytest.raises(ValueError, match="sample_weight"):
        M.f1_score(t, p, average="macro", sample_weight=-np.ones(20))
    with pytest.raises(ValueError, match="sample_weight"):
        M.accuracy(t, p, sample_weight=np.full(20, np.nan))
    with pytest.raises(ValueError, match="sample_weight"):
        M.accuracy(t, p, sample_weight=np.ones(19))
    with pytest.raises(ValueError, match="zero_division"):
        M.f1_score(t, p, average="macro", zero_division=0.5)
    with pytest.raises(ValueError, match="beta"):
        M.fbeta_score(t, p, beta=-1, average="macro")
    with pytest.raises(ValueError, match="y_pred"):
        M.f1_score(t, p + 0.5, average="macro")               # continuous
    with pytest.raises(ValueError, match="string and number"):
        M.f1_score(t, p.astype(str), average="macro")
    with pytest.raises(ValueError, match="y_true"):
        M.accuracy(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="y_true"):
        M.accuracy(None, p)


def test_returns_python_float(rng):
    t, p = _labels(rng, 30, 3, "int64")
    assert type(M.f1_score(t, p, average="macro")) is float
    assert type(M.accuracy(t, p)) is float
    assert isinstance(M.f1_score(t, p, average=None), np.ndarray)


# ----------------------------------------------------- the compiled pass over scores

def _special_scores(rng, n, k, dtype):
    """Few distinct values (ties), NaN rows, -inf rows, maxima at chunk ends."""
    x = rng.integers(-3, 3, (n, k)).astype(dtype)
    x[1] = -np.inf
    x[2, k - 1] = np.nan
    x[3, :] = np.nan
    x[4, k // 2] = np.nan
    x[4, k - 1] = 50
    x[5, k - 1] = 50
    if k > 512:
        x[6, 511] = 60
        x[7, 512] = 60
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [2, 7, 33, 513, 1100])
def test_argmax_counts_kernel(k, dtype, rng):
    """The kernel's argmax is np.argmax's (ties low, first NaN wins) and its counts are
    bincounts of it, for any thread count; strided rows are read in place."""
    from fastloss._cpu import _kernels
    n = 300
    x = _special_scores(rng, n, k, dtype)
    t = rng.integers(0, k, n)
    t[::7] = -1
    w = rng.random(n)
    with np.errstate(invalid="ignore"):
        p = np.argmax(x, axis=1)
    keep = t >= 0
    cm = np.bincount(t[keep] * k + p[keep], minlength=k * k).reshape(k, k)
    predn = np.bincount(p[keep], minlength=k)
    for nt in (1, 2, 3):
        out = _kernels.argmax_counts(x, t, None, True, nt)
        assert out.dtype == np.int64            # exact counts, no conversion pass
        assert np.array_equal(out[:k * k].reshape(k, k), cm)
        assert np.array_equal(out[k * k:], predn)
        out = _kernels.argmax_counts(x, t, w, True, nt)
        assert out.dtype == np.float64
        np.testing.assert_allclose(
            out[:k * k].reshape(k, k),
            np.bincount(t[keep] * k + p[keep], w[keep], minlength=k * k).reshape(k, k),
            rtol=1e-13)
        assert np.array_equal(out[k * k:], predn)
        out = _kernels.argmax_counts(x, t, w, False, nt)
        hit = keep & (t == p)
        np.testing.assert_allclose(out[:k], np.bincount(t[hit], w[hit], minlength=k),
                                   rtol=1e-13)
        np.testing.assert_allclose(out[k:2 * k], np.bincount(p[keep], w[keep], minlength=k),
                                   rtol=1e-13)
        np.testing.assert_allclose(out[2 * k:3 * k],
                                   np.bincount(t[keep], w[keep], minlength=k), rtol=1e-13)
        assert np.array_equal(out[3 * k:], predn)
    # strided rows (a column slice, every other row) give the same counts as a copy
    wide = np.concatenate([x, x[:, :3] + 100], axis=1)[::2, :k]
    out = _kernels.argmax_counts(wide, t[::2].copy(), None, True, 2)
    ref = _kernels.argmax_counts(np.ascontiguousarray(wide), t[::2].copy(), None, True, 2)
    assert np.array_equal(out, ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_metrics_from_scores_compiled_and_fallback_agree(dtype, rng):
    """Scores the compiled pass reads (float32/float64 rows) and those it leaves to NumPy
    (float16, integers, Fortran order) give the same metrics as sklearn on the argmax."""
    n, k = 500, 40
    x = _special_scores(rng, n, k, dtype)
    x[3] = 0            # no NaN row here: sklearn's argmax path is compared
    x[2, k - 1] = 1
    x[4, k // 2] = 1
    y = rng.integers(0, k, n)
    y[::9] = -1
    w = rng.random(n)
    keep = y != -1
    pred = np.argmax(x, axis=1)
    want_f1 = sk.f1_score(y[keep], pred[keep], average="macro", sample_weight=w[keep],
                           labels=np.arange(k), zero_division=0)
    want_cm = sk.confusion_matrix(y[keep], pred[keep], labels=np.arange(k))
    want_acc = sk.accuracy_score(y[keep], pred[keep], sample_weight=w[keep])
    ints = np.where(np.isfinite(x), x, -10).astype(np.int64)   # same argmax as x
    swapped = x.astype(x.dtype.newbyteorder())
    for scores in (x, np.asfortranarray(x), ints, swapped):
        f1 = M.f1_score(y, scores, average="macro", sample_weight=w, ignore_index=-1,
                        labels=np.arange(k), zero_division=0)
        assert f1 == pytest.approx(want_f1, rel=1e-12)
        cm = M.confusion_matrix(y, scores, ignore_index=-1, labels=np.arange(k))
        assert cm.dtype == want_cm.dtype and np.array_equal(cm, want_cm)
        acc = M.accuracy(y, scores, sample_weight=w, ignore_index=-1)
        assert acc == pytest.approx(want_acc, rel=1e-12)
    fc = M.from_logits_confusion(x, y, sample_weight=w, ignore_index=-1)
    ref = np.bincount(y[keep] * k + pred[keep], weights=w[keep], minlength=k * k)
    np.testing.assert_allclose(fc, ref.reshape(k, k), rtol=1e-12)
    assert fc.dtype == np.float64
    fc16 = M.from_logits_confusion(x.astype(np.float16), y, ignore_index=-1)
    assert np.array_equal(fc16, np.bincount(y[keep] * k + pred[keep],
                                            minlength=k * k).reshape(k, k))
