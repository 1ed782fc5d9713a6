"""robust_loss (Barron 2019) against high-precision values, its named special cases,
continuity through alpha = 0 and 2, and PyTorch autograd of the textbook formula."""
import numpy as np
import pytest

import fastloss as fl

mp = pytest.importorskip("mpmath")

DTYPES = (np.float32, np.float64)
# float64: 1e-12 relative; float32: the kernel computes in float64 and rounds, so a few
# float32 ulp (the inputs are float32 values, so the truth is taken at those)
TOL = {np.float64: 1e-12, np.float32: 3e-6}


def _rho_mp(x, a, c):
    z2 = (x / c) ** 2
    b = abs(a - 2)
    return b / a * ((z2 / b + 1) ** (a / 2) - 1)


def _truth(x, a, c):
    """value, d/dx, d/dalpha, d/dscale with 80 digits (alpha = 0 taken as 1e-40: the
    function is analytic there)."""
    with mp.workdps(80):
        x, c = mp.mpf(x), mp.mpf(c)
        a = mp.mpf(a) if a != 0 else mp.mpf("1e-40")
        return (_rho_mp(x, a, c),
                mp.diff(lambda v: _rho_mp(v, a, c), x),
                mp.diff(lambda v: _rho_mp(x, v, c), a),
                mp.diff(lambda v: _rho_mp(x, a, v), c))


ALPHAS = [0.0, 1e-8, -1e-6, 1e-3, 0.3, 0.99, 1.0, 1.01, 1.5, 1.999, 2.0 - 1e-6, 2.0 + 1e-6,
          2.5, -2.0, -10.0, 4.0, 10.0, -15.0, -50.0]
RESIDUALS = [1e-4, 1e-2, 0.1, 0.3, 0.6, 0.9, 1.5, 3.0, 10.0, 1e3]


# the kernel in both dtypes, the reference (float64 inside) on float64 inputs
HP = [(np.float64, "cpu"), (np.float32, "cpu"), (np.float64, "numpy")]


@pytest.mark.parametrize("dtype,backend", HP, ids=[f"{np.dtype(d).name}-{b}" for d, b in HP])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_value_and_gradients_against_high_precision(alpha, dtype, backend):
    c = dtype(1.3)
    a = dtype(alpha)
    x = np.array(RESIDUALS, dtype)
    v, (gx, ga, gc) = fl.robust_loss.value_and_grad(x, a, c, reduction="none",
                                                    backend=backend)
    # alpha and scale as full arrays give the per-element gradients
    va, (gxa, gaa, gca) = fl.robust_loss.value_and_grad(
        x, np.full(x.shape, a), np.full(x.shape, c), reduction="none", backend=backend)
    np.testing.assert_array_equal(va, v)
    np.testing.assert_array_equal(gxa, gx)
    for i, xi in enumerate(x):
        t = _truth(float(xi), float(a), float(c))
        got = (v[i], gx[i], gaa[i], gca[i])
        for k, (g, tv) in enumerate(zip(got, t)):
            if k in (1, 3) and alpha == -50.0 and xi == 1e3:
                continue   # 1e-100: below what 80 digits resolve next to rho's 8e-4
            err = abs(mp.mpf(float(g)) - tv) / max(abs(tv), mp.mpf("1e-300"))
            assert err <= TOL[dtype], (alpha, float(xi), k, float(g), float(tv))
    # the broadcast gradients are the sums of the per-element ones
    np.testing.assert_allclose(ga, gaa.sum(dtype=np.float64), rtol=TOL[dtype] * 10)
    np.testing.assert_allclose(gc, gca.sum(dtype=np.float64), rtol=TOL[dtype] * 10)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_special_cases_are_the_named_losses(dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(200) * 3).astype(dtype)
    c = 0.7
    z = x.astype(np.float64) / dtype(c)
    named = {
        2.0: 0.5 * z * z,
        1.0: np.sqrt(z * z + 1) - 1,                 # pseudo-Huber / Charbonnier
        0.0: np.log1p(0.5 * z * z),                  # Cauchy
        -2.0: 2 * z * z / (z * z + 4),               # Geman-McClure
        -np.inf: -np.expm1(-0.5 * z * z),            # Welsch
        np.inf: np.expm1(0.5 * z * z),
    }
    for a, want in named.items():
        v = fl.robust_loss(x, a, c, reduction="none")
        np.testing.assert_allclose(v, want, rtol=TOL[dtype] * 10, atol=0, err_msg=str(a))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_continuous_through_zero_and_two(dtype):
    """Near alpha = 0 and 2 the value moves by O(d) (by O(d log d) at 2): no jump, and
    no loss of digits (the direct pow form loses 18% at alpha = 1e-6 in float32)."""
    x = np.array([0.01, 0.5, 1.0, 4.0, 30.0], dtype)
    for a0 in (0.0, 2.0):
        v0 = fl.robust_loss(x, a0, 1.0, reduction="none").astype(np.float64)
        for d in (1e-6, -1e-6, 1e-4, -1e-4):
            a = dtype(a0 + d)
            v = fl.robust_loss(x, a, 1.0, reduction="none").astype(np.float64)
            want = np.array([float(_truth(float(xi), float(a), 1.0)[0]) for xi in x])
            np.testing.assert_allclose(v, want, rtol=TOL[dtype])
            scale = 10 * abs(d) * (1 + abs(np.log(abs(d)))) * np.maximum(1, x.astype(float) ** 2)
            assert np.all(np.abs(v - v0) <= scale), (a0, d)


def test_alpha_two_gradient_is_the_log_singularity():
    x = np.array([0.0, 0.5, 2.0])
    _, (_, ga, _) = fl.robust_loss.value_and_grad(x, np.full(3, 2.0), 1.0, reduction="none")
    assert ga[0] == 0 and np.all(np.isposinf(ga[1:]))
    # approaching 2, d/dalpha grows like -log|alpha - 2| / 4 * x^2
    g = [fl.robust_loss.grad(x[1:], np.full(2, 2.0 - d), 1.0, reduction="none")[1]
         for d in (1e-4, 1e-8)]
    assert np.all(g[1] > g[0]) and np.all(g[0] > 0)


def test_agrees_with_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 3)) * 2
    alpha = np.array([-3.0, 0.4, 3.5])     # away from the special values: the textbook form
    scale = np.array([0.5, 1.0, 2.0])
    tx, ta, tc = (torch.tensor(a, requires_grad=True) for a in (x, alpha, scale))
    b = torch.abs(ta - 2)
    rho = b / ta * (((tx / tc) ** 2 / b + 1) ** (ta / 2) - 1)
    rho.mean().backward()
    v, (gx, ga, gc) = fl.robust_loss.value_and_grad(x, alpha, scale)
    np.testing.assert_allclose(v, rho.mean().item(), rtol=1e-12)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ga, ta.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(gc, tc.grad.numpy(), rtol=1e-10)


def test_large_alpha_tends_to_its_limits():
    x = np.array([0.3, 1.0, 2.0])
    for a, lim in ((1e8, np.expm1(x * x / 2)), (-1e8, -np.expm1(-x * x / 2))):
        np.testing.assert_allclose(fl.robust_loss(x, a, 1.0, reduction="none"), lim,
                                   rtol=1e-6)
