"""Bad input raises, before any kernel runs, an exception naming the argument."""
import numpy as np
import pytest

import fastloss as fl

import cases
from badinput import BACKEND, _OnBackend

X = np.random.default_rng(1).standard_normal((6, 4))
T = np.array([0, 1, 2, 3, 0, 1])
P = np.full((6, 4), 0.25)
B = np.random.default_rng(2).random((6, 4))

CE, BCE, MSE = map(_OnBackend, (fl.cross_entropy, fl.binary_cross_entropy_with_logits, fl.mse_loss))

BAD = [
    # cross_entropy: targets
    ("ce-index-high", lambda: CE(X, np.array([0, 1, 2, 4, 0, 1])), ValueError, "target"),
    ("ce-index-neg", lambda: CE(X, np.array([0, 1, -1, 3, 0, 1])), ValueError, "target"),
    ("ce-index-uint64", lambda: CE(X, np.full(6, 2**63 + 5, np.uint64)), ValueError, "target"),
    ("ce-ignore-not-default", lambda: CE(X, np.array([0, 1, -100, 3, 0, 1]), ignore_index=-1), ValueError, "target"),
    ("ce-target-shape", lambda: CE(X, T[:5]), ValueError, "target"),
    ("ce-target-2d-int", lambda: CE(X, T.reshape(3, 2)), ValueError, "target"),
    ("ce-target-bool", lambda: CE(X, T.astype(bool)), TypeError, "target"),
    ("ce-target-complex", lambda: CE(X, T.astype(complex)), TypeError, "target"),
    ("ce-prob-shape", lambda: CE(X, P[:, :3]), ValueError, "target"),
    ("ce-prob-ignore", lambda: CE(X, P, ignore_index=0), ValueError, "ignore_index"),
    ("ce-input-3d", lambda: CE(X.reshape(2, 3, 4), T), ValueError, "input"),
    ("ce-no-classes", lambda: CE(np.zeros((3, 0)), np.zeros(3, np.int64)), ValueError, "input"),
    # cross_entropy: options
    ("ce-weight-shape", lambda: CE(X, T, weight=np.ones(3)), ValueError, "weight"),
    ("ce-weight-negative", lambda: CE(X, T, weight=np.array([1, -1, 1, 1.0])), ValueError, "weight"),
    ("ce-weight-nan", lambda: CE(X, T, weight=np.array([1, np.nan, 1, 1.0])), ValueError, "weight"),
    ("ce-weight-inf", lambda: CE(X, T, weight=np.array([1, np.inf, 1, 1.0])), ValueError, "weight"),
    ("ce-ls-high", lambda: CE(X, T, label_smoothing=1.5), ValueError, "label_smoothing"),
    ("ce-ls-neg", lambda: CE(X, T, label_smoothing=-0.1), ValueError, "label_smoothing"),
    ("ce-ls-nan", lambda: CE(X, T, label_smoothing=float("nan")), ValueError, "label_smoothing"),
    ("ce-ls-str", lambda: CE(X, T, label_smoothing="0.1"), TypeError, "label_smoothing"),
    ("ce-z-loss-negative", lambda: CE(X, T, z_loss=-1e-4), ValueError, "z_loss"),
    ("ce-z-loss-inf", lambda: CE(X, T, z_loss=float("inf")), ValueError, "z_loss"),
    ("ce-z-loss-positional", lambda: CE(X, T, None, -100, "mean", 0.0, 1e-4), TypeError, "positional"),
    ("ce-ignore-float", lambda: CE(X, T, ignore_index=1.5), TypeError, "ignore_index"),
    ("ce-ignore-huge", lambda: CE(X, T, ignore_index=2**63), ValueError, "ignore_index"),
    ("ce-weight-overflow", lambda: CE(X.astype(np.float32), T, weight=np.array([1e300, 1, 1, 1])), ValueError, "weight"),
    ("ce-sw-shape", lambda: CE(X, T, sample_weight=np.ones(5)), ValueError, "sample_weight"),
    ("ce-sw-negative", lambda: CE(X, T, sample_weight=-np.ones(6)), ValueError, "sample_weight"),
    ("ce-sw-nan", lambda: CE(X, T, sample_weight=np.full(6, np.nan)), ValueError, "sample_weight"),
    # binary_cross_entropy_with_logits
    ("bce-target-shape", lambda: BCE(X, B[:, :3]), ValueError, "target"),
    ("bce-target-high", lambda: BCE(X, B + 1), ValueError, "target"),
    ("bce-target-neg", lambda: BCE(X, -B), ValueError, "target"),
    ("bce-target-complex", lambda: BCE(X, B.astype(complex)), TypeError, "target"),
    ("bce-weight-shape", lambda: BCE(X, B, weight=np.ones(3)), ValueError, "weight"),
    ("bce-weight-negative", lambda: BCE(X, B, weight=-np.ones(4)), ValueError, "weight"),
    ("bce-pos-weight-shape", lambda: BCE(X, B, pos_weight=np.ones(5)), ValueError, "pos_weight"),
    ("bce-pos-weight-negative", lambda: BCE(X, B, pos_weight=-np.ones(4)), ValueError, "pos_weight"),
    ("bce-pos-weight-nan", lambda: BCE(X, B, pos_weight=np.full(4, np.nan)), ValueError, "pos_weight"),
    ("bce-sw-shape", lambda: BCE(X, B, sample_weight=np.ones(4)), ValueError, "sample_weight"),
    # mse_loss
    ("mse-target-shape", lambda: MSE(X, X[:3]), ValueError, "target"),
    ("mse-target-str", lambda: MSE(X, np.array(["a"] * 24).reshape(6, 4)), TypeError, "target"),
    # input dtype
    ("input-int", lambda: CE(T.reshape(2, 3), np.array([0, 1])), TypeError, "input"),
    ("input-complex", lambda: MSE(X.astype(complex), X), TypeError, "input"),
    ("input-bool", lambda: BCE(X > 0, B), TypeError, "input"),
    ("input-half", lambda: MSE(X.astype(np.float16), X), TypeError, "input"),
    ("input-object", lambda: MSE(np.array([None, 1.0]), np.zeros(2)), TypeError, "input"),
    # common options
    ("reduction", lambda: CE(X, T, reduction="avg"), ValueError, "reduction"),
    ("reduction-array", lambda: CE(X, T, reduction=np.array(["mean"])), ValueError, "reduction"),
    ("backend-none", lambda: CE(X, T, backend=None), ValueError, "backend"),
    ("reduction-batchmean", lambda: MSE(X, X, reduction="batchmean"), ValueError, "reduction"),
    ("backend", lambda: CE(X, T, backend="gpu"), ValueError, "backend"),
    ("n-threads-zero", lambda: CE(X, T, n_threads=0), ValueError, "n_threads"),
    ("n-threads-float", lambda: CE(X, T, n_threads=1.5), TypeError, "n_threads"),
    ("n-threads-too-negative", lambda: CE(X, T, n_threads=-1000), ValueError, "n_threads"),
    ("n-threads-huge", lambda: CE(X, T, n_threads=2**31), ValueError, "n_threads"),
    ("unknown-kwarg", lambda: CE(X, T, smoothing=0.1), TypeError, "smoothing"),
    # out
    ("out-shape", lambda: CE.value_and_grad(X, T, out=np.empty((6, 3))), ValueError, "out"),
    ("out-dtype", lambda: CE.value_and_grad(X, T, out=np.empty((6, 4), np.float32)), TypeError, "out"),
    ("out-readonly", lambda: CE.value_and_grad(X, T, out=_readonly((6, 4))), ValueError, "out"),
    ("out-strided", lambda: CE.value_and_grad(X, T, out=np.empty((6, 8))[:, ::2]), ValueError, "out"),
    ("out-not-array", lambda: CE.value_and_grad(X, T, out=[[0.0] * 4] * 6), TypeError, "out"),
    ("out-overlaps-target", lambda: BCE.grad(X.copy(), _b := B.copy(), out=_b), ValueError, "out"),
    ("out-overlaps-input-shifted", lambda: _shifted_out(), ValueError, "out"),
]


def _readonly(shape):
    a = np.empty(shape)
    a.setflags(write=False)
    return a


def _shifted_out():
    buf = np.zeros(30)
    x = buf[:24].reshape(6, 4)
    x[...] = X
    return MSE.grad(x, X, out=buf[4:28].reshape(6, 4))


BAD = BAD + cases.BAD


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
@pytest.mark.parametrize("case,call,exc,name", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_naming_the_argument(case, call, exc, name, backend, monkeypatch):
    # every call runs under both backends: the checks come before either runs
    monkeypatch.setitem(BACKEND, "name", backend)
    with pytest.raises(exc) as info:
        call()
    assert name in str(info.value), f"message does not name {name!r}: {info.value}"


def test_backend_is_applied(monkeypatch):
    """The backend switch above reaches the loss, so both backends really are tested: with
    "numpy" the compiled kernel must not run, with "cpu" it must."""
    from fastloss import _hostops

    def kernel_ran(*args, **kwargs):
        raise AssertionError("the compiled kernel ran")

    monkeypatch.setattr(_hostops, "elementwise", kernel_ran)
    monkeypatch.setitem(BACKEND, "name", "numpy")
    assert MSE(X, X + 1) == pytest.approx(1.0)
    monkeypatch.setitem(BACKEND, "name", "cpu")
    with pytest.raises(AssertionError, match="compiled kernel ran"):
        MSE(X, X + 1)


def test_bad_input_writes_nothing():
    """A rejected call leaves out= untouched: validation runs before the kernel."""
    out = np.full((6, 4), 7.0)
    with pytest.raises(ValueError):
        CE.value_and_grad(X, np.array([0, 1, 2, 9, 0, 1]), out=out)
    assert (out == 7.0).all()


def test_simd_level_errors():
    with pytest.raises(ValueError, match="SIMD"):
        fl.set_simd("sse9")
