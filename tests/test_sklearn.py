"""Agreement of the core losses with scikit-learn's losses (sklearn._loss), where it has
them: binomial (binary_cross_entropy_with_logits on 0/1 or soft targets) and multinomial
(cross_entropy).  The group test files compare the regression losses likewise."""
import numpy as np
import pytest

import fastloss as fl

from test_losses import assert_close

loss_mod = pytest.importorskip("sklearn._loss.loss")

DTYPES = (np.float32, np.float64)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_binomial(dtype, rng):
    n = 301
    raw = (rng.standard_normal(n) * 4).astype(dtype)
    for y in (rng.integers(0, 2, n).astype(dtype), rng.random(n).astype(dtype)):
        sw = rng.random(n).astype(dtype)
        sk = loss_mod.HalfBinomialLoss()
        l_sk, g_sk = sk.loss_gradient(y.astype(np.float64), raw.astype(np.float64))
        per, g = fl.binary_cross_entropy_with_logits.value_and_grad(raw, y, reduction="none")
        # both are log(1 + exp(raw)) - y raw, also for soft targets
        assert_close(per, l_sk, dtype, "per-sample value")
        assert_close(g, g_sk, dtype, "gradient")
        v = fl.binary_cross_entropy_with_logits(raw, y, sample_weight=sw)
        v_sk = sk(y.astype(np.float64), raw.astype(np.float64), sample_weight=sw.astype(np.float64))
        assert_close(v, v_sk, dtype, "weighted mean")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_multinomial(dtype, rng):
    n, c = 257, 7
    raw = (rng.standard_normal((n, c)) * 3).astype(dtype)
    y = rng.integers(0, c, n)
    sw = rng.random(n).astype(dtype)
    sk = loss_mod.HalfMultinomialLoss(n_classes=c)
    l_sk, g_sk = sk.loss_gradient(y.astype(np.float64), raw.astype(np.float64))
    per, g = fl.cross_entropy.value_and_grad(raw, y, reduction="none")
    assert_close(per, l_sk, dtype, "per-sample value")
    assert_close(g, g_sk, dtype, "gradient")
    v, g = fl.cross_entropy.value_and_grad(raw, y, sample_weight=sw, reduction="sum")
    l_sk, g_sk = sk.loss_gradient(y.astype(np.float64), raw.astype(np.float64),
                                  sample_weight=sw.astype(np.float64))
    assert_close(v, l_sk.sum(), dtype, "weighted sum")
    assert_close(g, g_sk, dtype, "weighted gradient")
