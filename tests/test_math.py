"""The elementary functions of csrc/fl_math.h against higher-precision references, over
the whole range (both signs, subnormals, the overflow and underflow thresholds, +-inf,
NaN), on every SIMD level.  The bounds asserted are the ones documented in fl_math.h."""
import numpy as np
import pytest

from fastloss._cpu import _kernels

LD = np.longdouble
HAVE_LD = np.finfo(LD).nmant > 52   # 80-bit x87 extended on x86-64 Linux

# bounds in ulp, as documented in fl_math.h
BOUND = {"exp": 1.0, "log": 1.0, "log1p": 1.5, "softplus": 2.0, "sigmoid": 3.0,
         "exp_nonpos": 1.0}
# exp_nonpos (x <= 0 only) gives 0 below -126.5 ln2 (float64: -1022.5 ln2)
FLUSH_BELOW = {np.float32: -126.5 * np.log(2.0), np.float64: -1022.5 * np.log(2.0)}


def reference(name, x):
    """The function in long double (float64 inputs) or float64 (float32 inputs)."""
    wide = LD if x.dtype == np.float64 else np.float64
    z = x.astype(wide)
    with np.errstate(all="ignore"):
        if name in ("exp", "exp_nonpos"):
            return np.exp(z)
        if name == "log":
            return np.log(z)
        if name == "log1p":
            return np.log1p(z)
        if name == "softplus":
            return np.logaddexp(wide(0), z)
        return np.exp(-np.logaddexp(wide(0), -z))


def ulp_error(y, ref, dtype):
    """|y - ref| in units of the last place of ref rounded to dtype (subnormal-aware)."""
    r = ref.astype(dtype)
    tiny = np.finfo(dtype).smallest_subnormal
    with np.errstate(all="ignore"):
        spacing = np.maximum(np.abs(np.spacing(np.abs(r))), tiny).astype(ref.dtype)
        err = np.abs(y.astype(ref.dtype) - ref) / spacing
    same = (y == r) | (np.isnan(y) & np.isnan(r))
    return np.where(same, 0.0, err)


def sample(dtype, rng):
    info = np.finfo(dtype)
    bits = np.uint32 if dtype == np.float32 else np.uint64
    raw = rng.integers(0, np.iinfo(bits).max, 200_000, dtype=bits, endpoint=True).view(dtype)
    raw = raw[np.isfinite(raw)]
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, 2.0,
                        info.tiny, info.smallest_subnormal, -info.smallest_subnormal, info.max,
                        -info.max, 1e-30, -1e-30, 1 - info.epsneg, 1 + info.eps], dtype)
    if dtype == np.float32:
        edges = [88.72283, 88.72284, 88.7, 89.0, -87.33655, -87.34, -103.97, -103.98, -104.0, -110.0]
    else:
        edges = [709.782712893384, 709.7827128933841, 709.79, -708.3964, -708.4, -745.133,
                 -745.1332191019412, -745.14, -800.0]
    edges = np.array(edges, dtype)
    near = np.concatenate([np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf)])
    uniform = np.concatenate([rng.uniform(-120, 120, 50_000), rng.uniform(-1, 1, 50_000),
                              rng.uniform(-1e-6, 1e-6, 10_000),
                              rng.uniform(-800, 800, 20_000)]).astype(dtype)
    return np.concatenate([raw, special, edges, near, uniform])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(_kernels.MATH_FUNCTIONS))
def test_elementary_function_accuracy(name, dtype, simd, rng):
    if dtype == np.float64 and not HAVE_LD:
        pytest.skip("no extended-precision long double to compare float64 with")
    x = sample(dtype, rng)
    if name in ("log", "log1p"):
        x = np.concatenate([x, np.abs(x)])
    if name == "exp_nonpos":
        x = np.concatenate([x[~(x > 0)], -np.abs(x[x > 0])])
    y = _kernels.math(name, x)
    ref = reference(name, x)
    if name == "exp_nonpos":
        # the flush: exactly 0 below the threshold (whose exact result is subnormal); in
        # a band of 1e-5 relative around it the rounding of x / ln2 decides
        cut = FLUSH_BELOW[dtype]
        low = x < cut * (1 + 1e-5)
        band = (x >= cut * (1 + 1e-5)) & (x < cut * (1 - 1e-5))
        assert low.sum() > 1000 and np.all(ref[low] < np.finfo(dtype).tiny)
        np.testing.assert_array_equal(y[low], 0, err_msg="exp_nonpos: flush to 0")
        low |= band & (y == 0)
        x, y, ref = x[~low], y[~low], ref[~low]
    with np.errstate(over="ignore"):
        r = ref.astype(dtype)
    # special values: exactly what the reference gives (NaN where NaN, same infinities)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(r), err_msg=f"{name}: NaN positions")
    inf = np.isinf(r)
    np.testing.assert_array_equal(y[inf], r[inf], err_msg=f"{name}: infinities")
    finite = np.isfinite(r)
    err = ulp_error(y[finite], ref[finite], dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= BOUND[name], (
        f"{name}({x[finite][worst]!r}) = {y[finite][worst]!r}, reference {ref[finite][worst]!r}: "
        f"{err[worst]:.2f} ulp > {BOUND[name]}")


def test_signs_of_zero():
    for dt in (np.float32, np.float64):
        z = np.array([-0.0], dt)
        assert np.signbit(_kernels.math("log1p", z))[0]
        assert _kernels.math("log", z)[0] == -np.inf
