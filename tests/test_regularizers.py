"""fastloss.regularizers: every penalty and option against the NumPy reference, finite
differences, closed-form proximal maps and their definition, PyTorch and scikit-learn,
the CUDA kernels (under Numba's simulator), frozen parts, containers and bad input."""
import math
import sys

import numpy as np
import pytest

from fastloss import regularizers as reg
from fastloss.reference import regularizers as ref

DTYPES = (np.float32, np.float64)
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def assert_close(actual, expected, dtype, what):
    """|a - e| <= rtol * (|e| + max|e|), NaN where NaN (array or scalar)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    assert np.array_equal(np.isnan(a), np.isnan(e)), f"{what}: NaN positions differ"
    ok = ~np.isnan(e)
    a, e = a[ok], e[ok]
    if e.size == 0:
        return
    rtol = RTOL[np.dtype(dtype)]
    scale = np.max(np.abs(e))
    err = np.abs(a - e)
    bad = err > rtol * (np.abs(e) + scale)
    assert not bad.any(), f"{what}: max error {err.max():.3g} (scale {scale:.3g})"


# ----------------------------------------------------------------------- cases ----

SHAPES = {"W": (6, 5), "b": (4,), "conv": (3, 2, 2, 2)}


def _draw(rng, shape, dtype):
    """Values away from 0 (|w| in [0.05, 2]): no kink within a finite-difference step."""
    v = rng.uniform(0.05, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return np.asarray(v, dtype=dtype)


def make_params(rng, dtype, kind):
    arrays = {k: _draw(rng, s, dtype) for k, s in SHAPES.items()}
    if kind == "dict":
        return arrays
    if kind == "list":
        return list(arrays.values())
    if kind == "tuple":
        return tuple(arrays.values())
    return arrays["W"]


def items(params):
    """(key, array) pairs of a container, in order."""
    if isinstance(params, dict):
        return list(params.items())
    if isinstance(params, (list, tuple)):
        return list(enumerate(params))
    return [(None, params)]


def make_reference(params, rng):
    """Pre-trained values for l2_sp: every array but the second ("b", a new parameter)."""
    pre = [(k, None if j == 1 else np.asarray(a) + rng.normal(0, 0.3, np.shape(a)).astype(a.dtype))
           for j, (k, a) in enumerate(items(params))]
    if isinstance(params, dict):
        return {k: v for k, v in pre if v is not None}
    if isinstance(params, (list, tuple)):
        return [v for _, v in pre]
    return pre[0][1]


# name, id, args after params (a function of params and rng), keyword options
CASES = [
    ("l1", "l1", lambda p, r: (0.37,), {}),
    ("l2", "l2", lambda p, r: (0.37,), {}),
    ("elastic_net", "enet", lambda p, r: (0.37, 0.3), {}),
    ("elastic_net", "enet-l1", lambda p, r: (0.37, 1.0), {}),
    ("elastic_net", "enet-l2", lambda p, r: (0.37, 0.0), {}),
    ("group_lasso", "rows", lambda p, r: (0.37, 1), {}),
    ("group_lasso", "cols", lambda p, r: (0.37, 0), {}),
    ("group_lasso", "rows-weighted", lambda p, r: (0.37, 1), {"weighted": True}),
    ("group_lasso", "cols-weighted", lambda p, r: (0.37, 0), {"weighted": True}),
    ("l2_sp", "l2sp", lambda p, r: (make_reference(p, r), 0.37, 0.11), {}),
]
CASE_IDS = [c[1] for c in CASES]


def reference_parts(name, args, opts, params, masks=None):
    """Per array: (value, grad) of the NumPy reference, and a prox function of it."""
    out = []
    arrays = items(params)
    if name == "l2_sp":
        pre = args[0]
        if isinstance(params, dict):
            w0s = [pre.get(k) for k, _ in arrays]
        elif isinstance(params, (list, tuple)):
            w0s = list(pre)
        else:
            w0s = [pre]
    for j, (k, a) in enumerate(arrays):
        m = None if masks is None else masks[j]
        if name == "l1":
            out.append((ref.l1(a, args[0], m), lambda a, s, m=m: ref.l1_prox(a, args[0], s, m)))
        elif name == "l2":
            out.append((ref.l2(a, args[0], m), lambda a, s, m=m: ref.l2_prox(a, args[0], s, m)))
        elif name == "elastic_net":
            out.append((ref.elastic_net(a, *args, m),
                        lambda a, s, m=m: ref.elastic_net_prox(a, *args, s, m)))
        elif name == "group_lasso":
            w = opts.get("weighted", False)
            out.append((ref.group_lasso(a, args[0], args[1], m, w),
                        lambda a, s, m=m, w=w: ref.group_lasso_prox(a, args[0], args[1], s, m, w)))
        else:
            w0 = w0s[j]
            out.append((ref.l2_sp(a, w0, args[1], args[2], m),
                        lambda a, s, m=m, w0=w0: ref.l2_sp_prox(a, w0, args[1], args[2], s, m)))
    return out


def check_grads(grads, params, expected, dtype, what):
    assert type(grads) is type(params) or (not isinstance(params, (dict, list, tuple)))
    gi = items(grads)
    assert [k for k, _ in gi] == [k for k, _ in items(params)], f"{what}: keys differ"
    for (k, g), (_, a), e in zip(gi, items(params), expected):
        assert isinstance(g, np.ndarray) and g.dtype == dtype and g.shape == a.shape
        assert_close(g, e, dtype, f"{what} grad {k}")


# ------------------------------------------------------- agreement: reference ----

@pytest.mark.parametrize("kind", ["array", "list", "tuple", "dict"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,cid,make_args,opts", CASES, ids=CASE_IDS)
def test_value_and_grad_agree_with_reference(name, cid, make_args, opts, dtype, kind, rng):
    params = make_params(rng, dtype, kind)
    args = make_args(params, rng)
    r = getattr(reg, name)
    v, grads = r.value_and_grad(params, *args, **opts)
    parts = reference_parts(name, args, opts, params)
    assert isinstance(v, float)
    assert_close(v, sum(p[0][0] for p in parts), dtype, f"{cid} value")
    check_grads(grads, params, [p[0][1] for p in parts], np.dtype(dtype), cid)
    assert r(params, *args, **opts) == v
    g2 = r.grad(params, *args, **opts)
    for (_, a), (_, b) in zip(items(g2), items(grads)):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("kind", ["array", "list", "dict"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,cid,make_args,opts", CASES, ids=CASE_IDS)
def test_prox_agrees_with_reference(name, cid, make_args, opts, dtype, kind, rng):
    params = make_params(rng, dtype, kind)
    args = make_args(params, rng)
    step = 0.9
    before = [np.array(a) for _, a in items(params)]
    parts = reference_parts(name, args, opts, params)
    expected = [p[1](b, step) for p, b in zip(parts, before)]
    ids = [id(a) for _, a in items(params)]
    out = getattr(reg, name).prox(params, *args, step, **opts)
    assert out is params
    assert [id(a) for _, a in items(params)] == ids          # updated in place
    for (k, a), e in zip(items(params), expected):
        assert a.dtype == dtype
        assert_close(a, e, dtype, f"{cid} prox {k}")


def test_backend_numpy_is_the_reference(rng):
    params = make_params(rng, np.float64, "dict")
    v, g = reg.elastic_net.value_and_grad(params, 0.2, 0.5, backend="numpy")
    e = [ref.elastic_net(a, 0.2, 0.5) for a in params.values()]
    assert v == pytest.approx(sum(x[0] for x in e), rel=1e-15)
    for a, (_, ge) in zip(g.values(), e):
        assert np.array_equal(a, ge)


@pytest.mark.parametrize("name,cid,make_args,opts", CASES, ids=CASE_IDS)
def test_every_simd_level(name, cid, make_args, opts, simd, rng):
    """The kernels of every instruction-set level (the CPU's) agree with the reference."""
    params = make_params(rng, np.float32, "dict")
    params["big"] = _draw(rng, (40, 37), np.float32)    # vector bodies and remainders
    args = make_args(params, rng)
    v, g = getattr(reg, name).value_and_grad(params, *args, **opts)
    parts = reference_parts(name, args, opts, params)
    assert_close(v, sum(p[0][0] for p in parts), np.float32, cid)
    check_grads(g, params, [p[0][1] for p in parts], np.dtype(np.float32), cid)


# ----------------------------------------------------------- finite differences ----

def _central_differences(f, w, h=1e-6):
    g = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        wp, wm = w.copy(), w.copy()
        wp[i] += h
        wm[i] -= h
        g[i] = (f(wp) - f(wm)) / (2 * h)
    return g


@pytest.mark.parametrize("name,cid,make_args,opts", CASES, ids=CASE_IDS)
def test_gradient_matches_finite_differences(name, cid, make_args, opts, rng):
    params = make_params(rng, np.float64, "list")
    args = make_args(params, rng)
    _, grads = getattr(reg, name).value_and_grad(params, *args, **opts)
    for j, a in enumerate(params):
        def f(w, j=j):
            p = list(params)
            p[j] = w
            return sum(x[0][0] for x in reference_parts(name, args, opts, p))
        fd = _central_differences(f, a)
        np.testing.assert_allclose(grads[j], fd, rtol=1e-6, atol=1e-7 * np.abs(fd).max(),
                                   err_msg=f"{cid} array {j}")


# --------------------------------------------------------------- proximal maps ----

def _closed_form(name, args, opts, w, w0, step):
    """The proximal maps, written out (independently of the reference module)."""
    if name == "l1":
        lam = step * args[0]
        return np.sign(w) * np.maximum(np.abs(w) - lam, 0)
    if name == "l2":
        return w / (1 + step * args[0])
    if name == "elastic_net":
        a, r = args
        return np.sign(w) * np.maximum(np.abs(w) - step * a * r, 0) / (1 + step * a * (1 - r))
    if name == "group_lasso":
        s, axis = args
        w2 = w.reshape(w.shape[0], -1) if w.ndim else w.reshape(1, 1)
        if opts.get("weighted"):
            s = s * math.sqrt(w2.shape[axis])
        out = np.empty_like(w2)
        groups = range(w2.shape[0]) if axis == 1 else range(w2.shape[1])
        for gi in groups:
            sl = (gi, slice(None)) if axis == 1 else (slice(None), gi)
            nrm = math.sqrt(float(np.sum(w2[sl] ** 2)))
            out[sl] = w2[sl] * (max(0.0, 1 - step * s / nrm) if nrm > 0 else 0.0)
        return out.reshape(w.shape)
    _, alpha, beta = args
    if w0 is None:
        return w / (1 + step * beta)
    return (w + step * alpha * w0) / (1 + step * alpha)


def _penalty(name, args, opts, v, w0):
    """The penalty of one array, written out (for the prox's definition)."""
    if name == "l1":
        return args[0] * np.sum(np.abs(v))
    if name == "l2":
        return 0.5 * args[0] * np.sum(v * v)
    if name == "elastic_net":
        a, r = args
        return a * r * np.sum(np.abs(v)) + 0.5 * a * (1 - r) * np.sum(v * v)
    if name == "group_lasso":
        s, axis = args
        v2 = v.reshape(v.shape[0], -1)
        if opts.get("weighted"):
            s = s * math.sqrt(v2.shape[axis])
        return s * np.sum(np.sqrt(np.sum(v2 * v2, axis=axis)))
    _, alpha, beta = args
    if w0 is None:
        return 0.5 * beta * np.sum(v * v)
    return 0.5 * alpha * np.sum((v - w0) ** 2)


def _w0s(name, args, params):
    if name != "l2_sp":
        return [None] * len(params)
    return list(args[0])


@pytest.mark.parametrize("name,cid,make_args,opts", CASES, ids=CASE_IDS)
def test_prox_matches_closed_form(name, cid, make_args, opts, rng):
    params = make_params(rng, np.float64, "list")
    # some entries and groups small enough to be thresholded to 0
    params[0][0] *= 0.01
    params[0][:, 1] *= 0.01
    args = make_args(params, rng)
    step = 1.3
    expected = [_closed_form(name, args, opts, a.copy(), w0, step)
                for a, w0 in zip(params, _w0s(name, args, params))]
    getattr(reg, name).prox(params, *args, step, **opts)
    for j, (a, e) in enumerate(zip(params, expected)):
        assert_close(a, e, np.float64, f"{cid} array {j}")


@pytest.mark.parametrize("name,cid,make_args,opts", CASES, ids=CASE_IDS)
def test_prox_minimizes_its_objective(name, cid, make_args, opts, rng):
    """prox(w) minimizes F(v) = ||v - w||^2 / (2 step) + P(v); F is (1/step)-strongly
    convex, so F(v* + d) >= F(v*) + ||d||^2 / (2 step) for every d."""
    params = [_draw(rng, (3, 4), np.float64), _draw(rng, (5,), np.float64)]
    params[0][1] *= 0.05
    args = make_args(params, rng)
    if name == "l2_sp":
        args = ([params[0] + rng.normal(0, 0.5, (3, 4)), None],) + args[1:]
    step = 0.7
    w = [a.copy() for a in params]
    getattr(reg, name).prox(params, *args, step, **opts)
    for a, w_, w0 in zip(params, w, _w0s(name, args, params)):
        def F(v, w_=w_, w0=w0):
            return np.sum((v - w_) ** 2) / (2 * step) + _penalty(name, args, opts, v, w0)
        f0 = F(a)
        for scale in (1e-4, 1e-2, 1e-1, 1.0):
            for _ in range(20):
                d = rng.standard_normal(a.shape) * scale
                assert F(a + d) >= f0 + np.sum(d * d) / (2 * step) - 1e-10 * (1 + abs(f0)), \
                    f"{cid}: a perturbation of size {scale} lowers the objective"


def test_l1_prox_subgradient_condition(rng):
    """v = prox(w): (w - v) / step is in strength * d|v| (sign(v), or [-1, 1] at 0)."""
    w = rng.normal(0, 1, 200)
    v = w.copy()
    s, step = 0.4, 1.5
    reg.l1.prox(v, s, step)
    u = (w - v) / step
    nz = v != 0
    np.testing.assert_allclose(u[nz], s * np.sign(v[nz]), rtol=1e-12)
    assert np.all(np.abs(u[~nz]) <= s * (1 + 1e-12))
    assert (~nz).sum() > 20     # many entries thresholded to exactly 0


def test_group_lasso_prox_zeros_small_groups(rng):
    w = rng.normal(0, 1, (8, 6))
    w[2] *= 1e-3
    v = w.copy()
    reg.group_lasso.prox(v, 1.0, 1, 0.5)
    assert np.all(v[2] == 0)
    norms = np.linalg.norm(w, axis=1)
    for i in range(8):
        if norms[i] > 0.5:
            np.testing.assert_allclose(v[i], w[i] * (1 - 0.5 / norms[i]), rtol=1e-13)


# ---------------------------------------------------------------------- frozen ----

def _frozen_case(rng, dtype):
    params = make_params(rng, dtype, "dict")
    mask = rng.random(SHAPES["W"]) < 0.4
    return params, mask


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,cid,make_args,opts", CASES, ids=CASE_IDS)
def test_frozen_masks_and_names(name, cid, make_args, opts, dtype, rng):
    params, mask = _frozen_case(rng, dtype)
    mask[0, 0] = True
    frozen = {"W": mask, "conv": True}
    masks = [mask, None, np.ones(SHAPES["conv"], bool)]
    args = make_args(params, rng)
    r = getattr(reg, name)
    v, g = r.value_and_grad(params, *args, frozen=frozen, **opts)
    parts = reference_parts(name, args, opts, params, masks)
    assert_close(v, sum(p[0][0] for p in parts), dtype, f"{cid} value")
    check_grads(g, params, [p[0][1] for p in parts], np.dtype(dtype), cid)
    assert np.all(g["W"][mask] == 0) and np.all(g["conv"] == 0)       # exactly zero
    # the value is the penalty of the trainable parts alone
    if name != "group_lasso":      # (there, groups mix frozen and trainable elements)
        sub = {"W": np.where(mask, 0, params["W"]).astype(dtype), "b": params["b"]}
        a2 = args if name != "l2_sp" else ({"W": np.where(mask, 0, args[0]["W"])},) + args[1:]
        assert_close(v, r(sub, *a2, **opts), dtype, f"{cid} value of the trainable part")
    # prox: frozen values untouched, bit for bit, a NaN included
    params["W"][0, 0] = np.nan
    before = {k: a.copy() for k, a in params.items()}
    expected = [p[1](b, 0.8) for p, b in zip(parts, before.values())]
    r.prox(params, *args, 0.8, frozen=frozen, **opts)
    assert np.array_equal(params["W"][mask].view(np.uint8), before["W"][mask].view(np.uint8))
    assert np.array_equal(params["conv"], before["conv"])
    for (k, a), e in zip(params.items(), expected):
        assert_close(a, e, dtype, f"{cid} prox {k}")


@pytest.mark.parametrize("name,cid,make_args,opts", CASES[:5] + CASES[-1:],
                         ids=CASE_IDS[:5] + CASE_IDS[-1:])
def test_frozen_nan_propagates_as_zero_weight(name, cid, make_args, opts, rng):
    """A NaN in a frozen element adds 0 * NaN: the value and that gradient are NaN (as the
    losses' zero weights); the other gradients are unaffected."""
    params, mask = _frozen_case(rng, np.float64)
    args = make_args(params, rng)
    mask[0, 0] = True
    params["W"][0, 0] = np.nan
    v, g = getattr(reg, name).value_and_grad(params, *args, frozen={"W": mask}, **opts)
    parts = reference_parts(name, args, opts, params, [mask, None, None])
    assert math.isnan(v) and math.isnan(sum(p[0][0] for p in parts))
    assert np.isnan(g["W"][0, 0]) and np.isfinite(g["W"].ravel()[1:]).all()
    assert np.all(g["W"][mask].ravel()[1:] == 0)


@pytest.mark.parametrize("how", ["names", "indices", "mask-list", "bool-dict", "broadcast"])
def test_frozen_forms(how, rng):
    params = make_params(rng, np.float64, "dict")
    plist = list(params.values())
    full = reg.l2.value_and_grad(params, 0.5)[0]
    if how == "names":
        v, g = reg.l2.value_and_grad(params, 0.5, frozen={"W", "conv"})
        assert np.all(g["W"] == 0) and np.all(g["conv"] == 0)
        assert v == pytest.approx(0.25 * np.sum(params["b"] ** 2), rel=1e-14)
        assert isinstance(g["W"], np.ndarray) and g["W"].shape == SHAPES["W"]
    elif how == "indices":
        v, g = reg.l2.value_and_grad(plist, 0.5, frozen={0, 2})
        assert np.all(g[0] == 0) and np.all(g[2] == 0)
        assert v == pytest.approx(0.25 * np.sum(plist[1] ** 2), rel=1e-14)
    elif how == "mask-list":
        m = rng.random(SHAPES["b"]) < 0.5
        v, g = reg.l2.value_and_grad(plist, 0.5, frozen=[None, m, True])
        assert np.all(g[2] == 0) and np.all(g[1][m] == 0)
        np.testing.assert_allclose(g[1][~m], 0.5 * plist[1][~m], rtol=1e-15)
        assert v == pytest.approx(0.25 * (np.sum(plist[0] ** 2) + np.sum(plist[1][~m] ** 2)),
                                  rel=1e-14)
    elif how == "bool-dict":
        v, g = reg.l2.value_and_grad(params, 0.5, frozen={"W": False, "b": True})
        assert np.all(g["b"] == 0) and not np.any(g["W"] == 0)
        assert v == pytest.approx(full - 0.25 * np.sum(params["b"] ** 2), rel=1e-14)
    else:
        # a mask (6, 1) freezes whole rows of W (6, 5); a single array takes a mask
        m = np.array([True, False, True, False, False, False])[:, None]
        v, g = reg.l1.value_and_grad(params["W"], 2.0, frozen=m)
        assert np.all(g[[0, 2]] == 0)
        np.testing.assert_array_equal(g[[1, 3, 4, 5]], 2.0 * np.sign(params["W"][[1, 3, 4, 5]]))
        assert v == pytest.approx(2.0 * np.abs(params["W"][[1, 3, 4, 5]]).sum(), rel=1e-14)
        w = params["W"].copy()
        reg.l1.prox(params["W"], 2.0, 0.1, frozen=m)
        assert np.array_equal(params["W"][[0, 2]], w[[0, 2]])


# ------------------------------------------------------------ per-array values ----

def test_per_array_strengths(rng):
    params = make_params(rng, np.float64, "dict")
    v, g = reg.l2.value_and_grad(params, {"W": 0.5, "conv": 2.0})       # b: no penalty
    assert v == pytest.approx(0.25 * np.sum(params["W"] ** 2) + np.sum(params["conv"] ** 2),
                              rel=1e-14)
    assert np.all(g["b"] == 0)
    np.testing.assert_allclose(g["conv"], 2.0 * params["conv"], rtol=1e-15)
    plist = list(params.values())
    v2, g2 = reg.l2.value_and_grad(plist, [0.5, 0.0, 2.0])
    assert v2 == v
    v3, _ = reg.elastic_net.value_and_grad(params, {"W": 1.0, "b": 1.0, "conv": 1.0},
                                           {"W": 1.0, "b": 0.0, "conv": 0.5})
    e = (np.abs(params["W"]).sum() + 0.5 * np.sum(params["b"] ** 2) +
         0.5 * np.abs(params["conv"]).sum() + 0.25 * np.sum(params["conv"] ** 2))
    assert v3 == pytest.approx(e, rel=1e-14)
    # per-array strengths in prox
    q = [a.copy() for a in plist]
    reg.l2.prox(q, [0.5, 0.0, 2.0], 1.0)
    np.testing.assert_allclose(q[0], plist[0] / 1.5, rtol=1e-15)
    assert np.array_equal(q[1], plist[1])
    np.testing.assert_allclose(q[2], plist[2] / 3.0, rtol=1e-15)


def test_l2_sp_new_parameters_and_extra_reference_names(rng):
    params = make_params(rng, np.float64, "dict")
    w0 = params["W"] + 0.1
    pre = {"W": w0, "fc.weight": np.zeros(3)}      # a replaced head: ignored
    v, g = reg.l2_sp.value_and_grad(params, pre, 2.0, 0.5)
    e = (np.sum((params["W"] - w0) ** 2) +
         0.25 * (np.sum(params["b"] ** 2) + np.sum(params["conv"] ** 2)))
    assert v == pytest.approx(e, rel=1e-13)
    np.testing.assert_allclose(g["W"], 2.0 * (params["W"] - w0), rtol=1e-14)
    np.testing.assert_allclose(g["b"], 0.5 * params["b"], rtol=1e-15)
    # at the pre-trained point the first term and its gradient vanish
    v, g = reg.l2_sp.value_and_grad({"W": w0.copy()}, {"W": w0}, 2.0, 0.5)
    assert v == 0.0 and np.all(g["W"] == 0)
    # a float64 reference for float32 parameters is cast
    p32 = {"W": params["W"].astype(np.float32)}
    v32, g32 = reg.l2_sp.value_and_grad(p32, {"W": w0}, 2.0, 0.5)
    assert g32["W"].dtype == np.float32
    assert v32 == pytest.approx(np.sum((p32["W"] - w0.astype(np.float32)).astype(np.float64) ** 2),
                                rel=1e-5)


# ------------------------------------------------------------------ containers ----

def test_containers_and_layouts(rng):
    w = _draw(rng, (7, 9), np.float64)
    v, g = reg.l1.value_and_grad(w, 0.3)
    assert isinstance(g, np.ndarray) and g.shape == w.shape
    # non-contiguous and Fortran-ordered inputs; read-only for value_and_grad
    wt = np.asfortranarray(w)
    v2, g2 = reg.l1.value_and_grad(wt, 0.3)
    assert v2 == pytest.approx(v, rel=1e-15) and np.array_equal(g2, g)
    ro = w.copy()
    ro.flags.writeable = False
    assert reg.l2(ro, 0.3) == pytest.approx(0.15 * np.sum(w ** 2), rel=1e-14)
    # prox on a strided view writes back
    big = _draw(rng, (8, 10), np.float64)
    view = big[::2, 1::3]
    expected = view / 1.5
    untouched = big[1::2].copy()
    reg.l2.prox(view, 1.0, 0.5)
    np.testing.assert_allclose(big[::2, 1::3], expected, rtol=1e-15)
    assert np.array_equal(big[1::2], untouched)
    # tuple params keep their type; 0-d, empty and python-number arrays
    t = (np.array(2.0), np.zeros((0, 3)), np.ones((3, 0)))
    v, g = reg.group_lasso.value_and_grad(t, 1.5, 0)
    assert isinstance(g, tuple) and v == pytest.approx(3.0)
    assert g[0] == pytest.approx(1.5) and g[1].shape == (0, 3) and g[2].shape == (3, 0)
    v, g = reg.l2.value_and_grad({}, 1.0)
    assert v == 0.0 and g == {}
    assert reg.l1([1.5, -2.0], 1.0) == pytest.approx(3.5)


def test_group_conventions_for_1d_and_nd(rng):
    """A 1-D array (n,) is the column (n, 1): one group with axis=0, one per element
    (an l1 penalty) with axis=1; N-D arrays are (n0, n1 * ... * nk)."""
    b = _draw(rng, (6,), np.float64)
    assert reg.group_lasso(b, 1.0, 0) == pytest.approx(np.linalg.norm(b), rel=1e-14)
    assert reg.group_lasso(b, 1.0, 1) == pytest.approx(np.abs(b).sum(), rel=1e-14)
    c = _draw(rng, (4, 3, 2, 2), np.float64)
    filters = np.linalg.norm(c.reshape(4, -1), axis=1).sum()
    assert reg.group_lasso(c, 1.0, 1) == pytest.approx(filters, rel=1e-14)
    cols = np.linalg.norm(c.reshape(4, -1), axis=0).sum()
    assert reg.group_lasso(c, 1.0, 0) == pytest.approx(cols, rel=1e-14)
    # zero groups: value 0, gradient 0 (no NaN)
    z = np.zeros((3, 4))
    z[1] = 1.0
    v, g = reg.group_lasso.value_and_grad(z, 1.0, 1)
    assert v == pytest.approx(2.0) and np.all(g[[0, 2]] == 0) and np.allclose(g[1], 0.5)
    v, g = reg.group_lasso.value_and_grad(z, 1.0, 0)
    assert v == pytest.approx(4.0) and np.allclose(g[1], 1.0) and np.all(g[[0, 2]] == 0)


def test_nan_propagates(rng):
    w = _draw(rng, (5, 4), np.float64)
    w[2, 3] = np.nan
    for r, args in ((reg.l1, (1.0,)), (reg.l2, (1.0,)), (reg.elastic_net, (1.0, 0.5))):
        v, g = r.value_and_grad(w, *args)
        assert math.isnan(v) and np.isnan(g[2, 3]) and np.isfinite(np.delete(g.ravel(), 11)).all()
    v, g = reg.group_lasso.value_and_grad(w, 1.0, 1)
    assert math.isnan(v) and np.isnan(g[2]).all() and np.isfinite(g[[0, 1, 3, 4]]).all()


def test_value_independent_of_threads(rng):
    params = {"W": _draw(rng, (300, 257), np.float32), "v": _draw(rng, (70000,), np.float32)}
    for r, args in ((reg.l1, (0.3,)), (reg.l2, (0.3,)), (reg.group_lasso, (0.3, 1)),
                    (reg.group_lasso, (0.3, 0))):
        v1, g1 = r.value_and_grad(params, *args, n_threads=1)
        v2, g2 = r.value_and_grad(params, *args, n_threads=2)
        assert v1 == v2
        assert all(np.array_equal(g1[k], g2[k]) for k in params)


def test_keras_and_weight_decay_conventions(rng):
    """l2(2k) is Keras' L2(k) = k sum w^2; with plain SGD the l2 gradient is weight decay
    with the same coefficient: w - lr (g + wd w) = w - lr g - lr wd w."""
    w = _draw(rng, (5, 3), np.float64)
    k = 0.01
    v, g = reg.l2.value_and_grad(w, 2 * k)
    assert v == pytest.approx(k * np.sum(w ** 2), rel=1e-14)
    np.testing.assert_allclose(g, 2 * k * w, rtol=1e-15)
    lr, wd = 0.1, 1e-2
    gl = rng.standard_normal(w.shape)
    _, g = reg.l2.value_and_grad(w, wd)
    np.testing.assert_allclose(w - lr * (gl + g), w - lr * gl - lr * wd * w, rtol=1e-14)


# ------------------------------------------------------------------- PyTorch ----

@pytest.mark.parametrize("name,cid,make_args,opts", CASES, ids=CASE_IDS)
def test_agrees_with_torch_autograd(name, cid, make_args, opts, rng):
    torch = pytest.importorskip("torch")
    params = make_params(rng, np.float64, "list")
    args = make_args(params, rng)
    ts = [torch.tensor(a, requires_grad=True) for a in params]

    def penalty(t, j):
        if name == "l1":
            return args[0] * t.abs().sum()
        if name == "l2":
            return 0.5 * args[0] * (t ** 2).sum()
        if name == "elastic_net":
            a, r = args
            return a * r * t.abs().sum() + 0.5 * a * (1 - r) * (t ** 2).sum()
        if name == "group_lasso":
            s, axis = args
            t2 = t.reshape(t.shape[0], -1)
            if opts.get("weighted"):
                s = s * math.sqrt(t2.shape[axis])
            return s * torch.linalg.vector_norm(t2, dim=axis).sum()
        pre, alpha, beta = args
        if pre[j] is None:
            return 0.5 * beta * (t ** 2).sum()
        return 0.5 * alpha * ((t - torch.tensor(pre[j])) ** 2).sum()

    total = sum(penalty(t, j) for j, t in enumerate(ts))
    total.backward()
    v, g = getattr(reg, name).value_and_grad(params, *args, **opts)
    assert_close(v, total.item(), np.float64, f"{cid} value vs torch")
    for j, t in enumerate(ts):
        assert_close(g[j], t.grad.numpy(), np.float64, f"{cid} grad {j} vs torch")


def test_elastic_net_parametrization_matches_scikit_learn(rng):
    """At scikit-learn's ElasticNet solution w, the proximal-gradient fixed point holds:
    w = prox(w - step * X^T (X w - y) / n) with fastloss's elastic_net(alpha, l1_ratio)."""
    sklearn_lm = pytest.importorskip("sklearn.linear_model")
    n, d = 80, 12
    X = rng.standard_normal((n, d))
    y = X @ np.where(rng.random(d) < 0.5, rng.normal(0, 2, d), 0.0) + rng.normal(0, 0.1, n)
    alpha, l1_ratio = 0.1, 0.7
    m = sklearn_lm.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=False, tol=1e-14,
                              max_iter=100000).fit(X, y)
    w = m.coef_.copy()
    assert (w == 0).any() and (w != 0).any()
    step = 0.5
    v = w - step * X.T @ (X @ w - y) / n
    reg.elastic_net.prox(v, alpha, l1_ratio, step)
    np.testing.assert_allclose(v, w, atol=1e-8)
    # and the stationarity condition on the nonzero coefficients
    _, g = reg.elastic_net.value_and_grad(w, alpha, l1_ratio)
    nz = w != 0
    np.testing.assert_allclose((X.T @ (X @ w - y) / n + g)[nz], 0, atol=1e-8)


# ----------------------------------------------------------------------- total ----

def test_total_adds_values_and_gradients(rng):
    import fastloss as fl
    X = rng.standard_normal((10, 4))
    W = rng.standard_normal((4, 3))
    Y = rng.standard_normal((10, 3))
    lv, lg = fl.mse_loss.value_and_grad(X @ W, Y, reduction="sum")
    loss = (lv, {"W": X.T @ lg})
    params = {"W": W, "b": np.ones(3)}
    v, g = reg.total(loss, reg.l2.value_and_grad(params, 1e-2),
                     reg.l1.value_and_grad({"W": W}, 0.1))
    assert isinstance(v, float)
    assert v == pytest.approx(float(lv) + 0.5e-2 * np.sum(W ** 2) + 1.5e-2 + 0.1 * np.abs(W).sum(),
                              rel=1e-12)
    np.testing.assert_allclose(g["W"], X.T @ lg + 1e-2 * W + 0.1 * np.sign(W), rtol=1e-13)
    np.testing.assert_allclose(g["b"], 1e-2 * np.ones(3))    # only the regularizer has b
    assert list(g) == ["W", "b"]
    # lists, None for zeros, a single array, in place
    gl = [np.ones(2), None]
    v, g = reg.total((1.0, gl), (2.0, [np.ones(2), np.full(3, 2.0)]))
    assert v == 3.0 and np.array_equal(g[0], [2, 2]) and np.array_equal(g[1], [2, 2, 2])
    a = np.ones(3)
    v, g = reg.total((np.float32(1.5), a), (0.5, np.ones(3)), inplace=True)
    assert g is a and np.array_equal(a, [2, 2, 2]) and v == 2.0
    with pytest.raises(ValueError, match="reg_value_and_grads\\[0\\]"):
        reg.total((0.0, {"W": np.ones(3)}), (0.0, {"W": np.ones(4)}))
    with pytest.raises(TypeError, match="reg_value_and_grads\\[0\\]"):
        reg.total((0.0, {"W": np.ones(3)}), (0.0, [np.ones(3)]))
    with pytest.raises(ValueError, match="reg_value_and_grads\\[1\\]"):
        reg.total((0.0, [np.ones(3)]), (0.0, [None]), (0.0, [None, None]))
    with pytest.raises(TypeError, match="loss_value_and_grad"):
        reg.total(1.0, (0.0, None))


# ------------------------------------------------------------------- bad input ----

def _bad(rng):
    return make_params(rng, np.float64, "dict")


@pytest.mark.parametrize("call,exc,match", [
    (lambda p: reg.l1(p, -1.0), ValueError, "strength"),
    (lambda p: reg.l1(p, float("nan")), ValueError, "strength"),
    (lambda p: reg.l2(p, float("inf")), ValueError, "strength"),
    (lambda p: reg.l2(p, {"W": -0.1}), ValueError, r"strength\['W'\]"),
    (lambda p: reg.l2(p, {"nope": 0.1}), ValueError, "strength"),
    (lambda p: reg.l2(p, [0.1, 0.2]), TypeError, "strength"),
    (lambda p: reg.l2(list(p.values()), [0.1, 0.2]), ValueError, "strength"),
    (lambda p: reg.l2(p, "0.1"), TypeError, "strength"),
    (lambda p: reg.elastic_net(p, -1.0, 0.5), ValueError, "alpha"),
    (lambda p: reg.elastic_net(p, 1.0, 1.5), ValueError, "l1_ratio"),
    (lambda p: reg.elastic_net(p, 1.0, -0.1), ValueError, "l1_ratio"),
    (lambda p: reg.elastic_net(p, 1.0, float("nan")), ValueError, "l1_ratio"),
    (lambda p: reg.group_lasso(p, 1.0, 2), ValueError, "axis"),
    (lambda p: reg.group_lasso(p, 1.0, True), ValueError, "axis"),
    (lambda p: reg.group_lasso(p, -1.0, 0), ValueError, "strength"),
    (lambda p: reg.l2_sp(p, {"W": np.zeros((6, 4))}, 1.0, 1.0), ValueError, r"reference.*'W'"),
    (lambda p: reg.l2_sp(p, {"W": np.zeros(5)}, 1.0, 1.0), ValueError, "params\\['W'\\]"),
    (lambda p: reg.l2_sp(p, None, -1.0, 1.0), ValueError, "alpha"),
    (lambda p: reg.l2_sp(p, None, 1.0, float("inf")), ValueError, "beta"),
    (lambda p: reg.l2_sp(list(p.values()), [None], 1.0, 1.0), ValueError, "reference"),
    (lambda p: reg.l2_sp(p, [None] * 3, 1.0, 1.0), TypeError, "reference"),
    (lambda p: reg.l2(p, 1.0, frozen={"nope"}), ValueError, "frozen"),
    (lambda p: reg.l2(p, 1.0, frozen={"nope": True}), ValueError, "frozen"),
    (lambda p: reg.l2(list(p.values()), 1.0, frozen={3}), ValueError, "frozen"),
    (lambda p: reg.l2(list(p.values()), 1.0, frozen=[-1]), ValueError, "frozen"),
    (lambda p: reg.l2(p, 1.0, frozen={"W": np.zeros((6, 5))}), TypeError, "frozen"),
    (lambda p: reg.l2(p, 1.0, frozen={"W": np.zeros((5, 6), bool)}), ValueError, "frozen"),
    (lambda p: reg.l2(p, 1.0, frozen="W"), TypeError, "frozen"),
    (lambda p: reg.l2({"W": np.arange(3)}, 1.0), TypeError, r"params\['W'\]"),
    (lambda p: reg.l2([np.zeros(3, np.complex128)], 1.0), TypeError, r"params\[0\]"),
    (lambda p: reg.l2(np.zeros(3, np.float16), 1.0), TypeError, "params"),
    (lambda p: reg.l2("w", 1.0), TypeError, "params"),
    (lambda p: reg.l1.prox(p, 1.0, 0.0), ValueError, "step"),
    (lambda p: reg.l1.prox(p, 1.0, -1.0), ValueError, "step"),
    (lambda p: reg.l1.prox(p, 1.0, float("nan")), ValueError, "step"),
    (lambda p: reg.l1.prox([1.0, 2.0], 1.0, 0.5), TypeError, r"params\[0\]"),
    (lambda p: reg.l1(p, 1.0, backend="gpu"), ValueError, "backend"),
    (lambda p: reg.l1(p, 1.0, n_threads=0), ValueError, "n_threads"),
    (lambda p: reg.group_lasso(p, 1.0, 0, weighted=1), TypeError, "weighted"),
])
def test_bad_input(call, exc, match, rng):
    with pytest.raises(exc, match=match):
        call(_bad(rng))


def test_prox_read_only_raises_naming_params(rng):
    p = _bad(rng)
    p["b"].flags.writeable = False
    before = p["W"].copy()
    with pytest.raises(ValueError, match=r"params\['b'\].*read-only"):
        reg.l1.prox(p, 1.0, 0.5)
    assert np.array_equal(p["W"], before)     # nothing ran


def test_errors_raise_before_any_kernel(rng):
    """A bad later array leaves the earlier ones untouched."""
    p = _bad(rng)
    before = {k: a.copy() for k, a in p.items()}
    p["conv"] = p["conv"].astype(np.int64)
    with pytest.raises(TypeError, match="conv"):
        reg.l2.prox(p, 1.0, 0.5)
    with pytest.raises(ValueError, match="reference"):
        reg.l2_sp.prox({"W": p["W"], "b": p["b"]}, {"b": np.zeros(7)}, 1.0, 1.0, 0.5)
    with pytest.raises(ValueError, match="frozen"):
        reg.l1.prox(p, 1.0, 0.5, frozen={"W": np.ones(7, bool)})
    assert np.array_equal(p["W"], before["W"]) and np.array_equal(p["b"], before["b"])


# ------------------------------------------------------------------------ CUDA ----

@pytest.fixture
def cuda_sim():
    """Numba CUDA (the simulator under the test run: tests/conftest.py); a short switch
    interval makes the simulator's launches faster."""
    cuda = pytest.importorskip("numba.cuda")
    before = sys.getswitchinterval()
    sys.setswitchinterval(5e-5)
    yield cuda
    sys.setswitchinterval(before)


def _small(rng, dtype):
    return {"W": _draw(rng, (5, 7), dtype), "b": _draw(rng, (4,), dtype),
            "k": _draw(rng, (3, 2, 2), dtype)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("masked", [False, True], ids=["plain", "frozen"])
@pytest.mark.parametrize("name,cid,make_args,opts", CASES, ids=CASE_IDS)
def test_cuda_value_grad_and_prox(name, cid, make_args, opts, masked, dtype, cuda_sim, rng):
    cuda = cuda_sim
    params = _small(rng, dtype)
    args = make_args(params, rng)
    dparams = {k: cuda.to_device(a) for k, a in params.items()}
    dargs = args
    if name == "l2_sp":      # the reference on the device too (a host one is copied)
        dargs = ({k: cuda.to_device(a) for k, a in args[0].items()},) + args[1:]
    frozen = masks = None
    if masked:
        m = rng.random((5, 7)) < 0.4
        frozen = {"W": cuda.to_device(m), "k": True}
        masks = [m, None, np.ones((3, 2, 2), bool)]
    r = getattr(reg, name)
    v, g = r.value_and_grad(dparams, *dargs, frozen=frozen, **opts)
    parts = reference_parts(name, args, opts, params, masks)
    assert isinstance(v, float)
    assert_close(v, sum(p[0][0] for p in parts), dtype, f"{cid} cuda value")
    for (k, gk), p in zip(g.items(), parts):
        assert not isinstance(gk, np.ndarray), "the gradient left the device"
        h = gk.copy_to_host()
        assert h.dtype == dtype and h.shape == params[k].shape
        assert_close(h, p[0][1], dtype, f"{cid} cuda grad {k}")
    if masked:
        assert np.all(g["W"].copy_to_host()[m] == 0) and np.all(g["k"].copy_to_host() == 0)
    out = r.prox(dparams, *dargs, 0.8, frozen=frozen, **opts)
    assert out is dparams
    for (k, a), p in zip(dparams.items(), parts):
        e = p[1](params[k], 0.8)
        assert_close(a.copy_to_host(), e, dtype, f"{cid} cuda prox {k}")
    if masked:
        assert np.array_equal(dparams["W"].copy_to_host()[m], params["W"][m])


def test_cuda_mixed_and_total(cuda_sim, rng):
    cuda = cuda_sim
    W = _draw(rng, (4, 6), np.float32)
    b = _draw(rng, (6,), np.float32)
    params = {"W": cuda.to_device(W), "b": b}            # one on the device, one on the host
    v, g = reg.l2.value_and_grad(params, 0.5, frozen={"W": rng.random((4, 6)) < 0.5})
    assert isinstance(g["b"], np.ndarray) and not isinstance(g["W"], np.ndarray)
    loss = (1.0, {"W": cuda.to_device(np.ones((4, 6), np.float32)), "b": np.ones(6, np.float32)})
    t, gt = reg.total(loss, (v, g))
    assert t == pytest.approx(1.0 + v)
    np.testing.assert_allclose(gt["W"].copy_to_host(), 1.0 + g["W"].copy_to_host(), rtol=1e-7)
    np.testing.assert_allclose(gt["b"], 1.0 + g["b"], rtol=1e-7)
    with pytest.raises(ValueError, match="backend"):
        reg.l2(params, 0.5, backend="cpu")
    with pytest.raises(ValueError, match="backend"):
        reg.l2({"b": b}, 0.5, backend="cuda")
    with pytest.raises(ValueError, match="strength"):
        reg.l2(params, -0.5)
    with pytest.raises(ValueError, match="reference"):
        reg.l2_sp({"W": params["W"]}, {"W": cuda.to_device(np.zeros((4, 5), np.float32))}, 1.0,
                  1.0)


def test_out_arrays(rng):
    params = make_params(rng, np.float32, "dict")
    out = {k: np.full_like(a, 7.0) for k, a in params.items()}
    v, g = reg.l1.value_and_grad(params, 0.5, out=out, frozen={"b"})
    assert g is out and np.all(out["b"] == 0)
    np.testing.assert_array_equal(out["W"], np.float32(0.5) * np.sign(params["W"]))
    assert v == reg.l1(params, 0.5, frozen={"b"})
    # the gradient written over the parameters themselves
    w = params["W"].copy()
    g = reg.group_lasso.grad({"W": params["W"]}, 2.0, 0, out={"W": params["W"]})
    assert g["W"] is params["W"]
    assert_close(params["W"], ref.group_lasso(w, 2.0, 0)[1], np.float32, "out=params")
    lst = [np.empty((6, 5)), np.empty(4)]
    reg.l2.value_and_grad([np.ones((6, 5)), np.ones(4)], 1.0, out=lst)
    assert np.all(lst[0] == 1) and np.all(lst[1] == 1)
    with pytest.raises(ValueError, match=r"out\['W'\]"):
        reg.l1.value_and_grad(params, 0.5, out={**out, "W": np.empty((5, 6), np.float32)})
    with pytest.raises(TypeError, match=r"out\['W'\]"):
        reg.l1.value_and_grad(params, 0.5, out={**out, "W": np.empty((6, 5))})
    with pytest.raises(ValueError, match="out"):
        reg.l1.value_and_grad(params, 0.5, out={"W": out["W"]})
    with pytest.raises(ValueError, match=r"out\['W'\]"):
        reg.l1.value_and_grad(params, 0.5, out={**out, "W": np.empty((6, 10), np.float32)[:, ::2]})
    with pytest.raises(ValueError, match="overlaps"):
        reg.l2_sp.value_and_grad({"W": params["W"]}, {"W": out["W"]}, 1.0, 1.0,
                                 out={"W": out["W"]})


def test_cuda_out_layouts_and_frozen_forms(cuda_sim, rng):
    cuda = cuda_sim
    W = _draw(rng, (4, 6), np.float64)
    dW = cuda.to_device(W)
    out = {"W": cuda.to_device(np.full((4, 6), 9.0))}
    v, g = reg.l1.value_and_grad({"W": dW}, 0.5, out=out)
    assert g is out and np.array_equal(out["W"].copy_to_host(), 0.5 * np.sign(W))
    v, g = reg.l1.value_and_grad({"W": dW}, 0.5, out=out, frozen={"W"})
    assert v == 0.0 and np.all(out["W"].copy_to_host() == 0)
    with pytest.raises(TypeError, match=r"out\['W'\]"):
        reg.l1.value_and_grad({"W": dW}, 0.5, out={"W": np.empty((4, 6))})
    # a Fortran-ordered device array: value_and_grad reads a contiguous copy; prox refuses
    dF = cuda.to_device(np.asfortranarray(W))
    v, g = reg.group_lasso.value_and_grad([dF], 1.0, 0)
    e = ref.group_lasso(W, 1.0, 0)
    assert_close(v, e[0], np.float64, "fortran value")
    assert_close(g[0].copy_to_host(), e[1], np.float64, "fortran grad")
    with pytest.raises(ValueError, match=r"params\[0\].*contiguous"):
        reg.l2.prox([dF], 1.0, 0.5)
    # frozen indices on list params, a broadcast device mask
    m = cuda.to_device(np.array([[True], [False], [False], [True]]))
    v, g = reg.l2.value_and_grad([dW, dW], 1.0, frozen=[m, True])
    keep = np.array([0, 1, 1, 0])[:, None]
    assert v == pytest.approx(0.5 * np.sum((keep * W) ** 2), rel=1e-13)
    assert np.array_equal(g[0].copy_to_host(), keep * W) and np.all(g[1].copy_to_host() == 0)


def test_out_may_not_overlap_another_parameter_or_out():
    p = {"a": np.arange(1, 5.0), "b": np.arange(10, 14.0)}
    with pytest.raises(ValueError, match=r"out\['a'\].*params\['b'\]"):
        reg.l2.grad(p, 1.0, out={"a": p["b"], "b": np.empty(4)})
    o = np.empty(4)
    with pytest.raises(ValueError, match=r"out\['b'\].*out\['a'\]"):
        reg.l2.grad(p, 1.0, out={"a": o, "b": o})
    w0 = {"a": np.zeros(4), "b": np.zeros(4)}
    with pytest.raises(ValueError, match=r"out.*reference"):
        reg.l2_sp.grad(p, w0, 1.0, 1.0, out={"a": w0["b"], "b": np.empty(4)})
    # each gradient over its own parameter, and views of one buffer that do not overlap
    g = reg.l2.grad(p, 2.0, out={"a": p["a"], "b": p["b"]})
    np.testing.assert_array_equal(g["b"], 2.0 * np.arange(10, 14.0))
    buf = np.empty(8)
    g = reg.l2.grad([np.arange(3.0), np.arange(3.0, 8.0)], 1.0, out=[buf[:3], buf[3:]])
    np.testing.assert_array_equal(buf, np.arange(8.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l2_sp_prox_with_an_overflowing_step_is_the_reference_weights(dtype):
    w = np.ones(5, dtype)
    w0 = np.linspace(-2, 2, 5).astype(dtype)
    reg.l2_sp.prox(w, w0, 1e300, 0.0, 1e300)   # step * alpha overflows: the limit is w0
    np.testing.assert_array_equal(w, w0)
    w = np.ones(5, dtype)
    reg.l2_sp.prox(w, w0, 3.0, 0.0, 0.5)       # (w + 1.5 w0) / 2.5
    np.testing.assert_allclose(w, (1 + 1.5 * w0.astype(float)) / 2.5,
                               rtol=1e-6 if dtype == np.float32 else 1e-15)
