"""The CUDA backend (fastloss.cuda): the table-driven agreement tests on GPU arrays.

In CI they run under Numba's simulator (tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1
unless FASTLOSS_TEST_GPU=1), on the small cases of the table, through the shared-memory
reductions; with FASTLOSS_TEST_GPU=1 on a machine with a GPU the same tests run on the
device, with Numba device arrays and, where installed, PyTorch CUDA tensors and CuPy
arrays (and the warp-shuffle reductions)."""
import os
import sys

import numpy as np
import pytest
from numba import cuda

import fastloss as fl
from fastloss._registry import LOSSES

from cases import CASES
from test_losses import DTYPES, _diff_positions, _grads, _sum_scale, assert_close

GPU = bool(os.environ.get("FASTLOSS_TEST_GPU"))
MAX_ELEMS = 100_000 if GPU else 150     # the simulator runs one Python thread per thread


def _kinds():
    kinds = ["numba"]
    if GPU:
        try:
            import torch
            if torch.cuda.is_available():
                kinds.append("torch")
        except ImportError:
            pass
        try:
            import cupy  # noqa: F401
            kinds.append("cupy")
        except ImportError:
            pass
    return kinds


KINDS = _kinds()


@pytest.fixture(autouse=True)
def _fast_simulator():
    """The simulator's scheduler polls its threads: a short switch interval makes a launch
    about 7 times faster."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(5e-5)
    yield
    sys.setswitchinterval(before)


def to_device(a, kind):
    if not isinstance(a, (np.ndarray, np.generic)):
        return a
    a = np.asarray(a)
    if kind == "torch":
        import torch
        return torch.as_tensor(a, device="cuda")
    if kind == "cupy":
        import cupy
        return cupy.asarray(a)
    return cuda.to_device(np.asarray(a, order="C"))


def to_host(a):
    if a is None or isinstance(a, (float, np.generic, np.ndarray)):
        return a
    if isinstance(a, tuple):
        return tuple(to_host(b) for b in a)
    if type(a).__module__.startswith("torch"):
        return a.detach().cpu().numpy()
    if type(a).__module__.startswith("cupy"):
        return a.get()
    return a.copy_to_host()


def _size(args, kw):
    arrays = [a for a in list(args) + list(kw.values()) if isinstance(a, np.ndarray)]
    return sum(a.size for a in arrays)


def _small_cases():
    params = []
    for name in LOSSES:
        for cid, args, kw in CASES[name](np.float64, np.random.default_rng(0)):
            if _size(args, kw) <= MAX_ELEMS:
                params.append((name, cid))
    return params


SMALL_CASES = _small_cases()


def _case(name, dtype, rng, cid):
    for c, args, kw in CASES[name](dtype, rng):
        if c == cid:
            return args, kw
    raise KeyError(cid)


def _check(name, cid, dtype, kind, rng, reductions):
    loss = getattr(fl, name)
    spec = LOSSES[name]
    args, kw = _case(name, dtype, rng, cid)
    dargs = tuple(to_device(a, kind) for a in args)
    dkw = {k: to_device(v, kind) for k, v in kw.items()}
    for reduction in reductions:
        v, g = loss.value_and_grad(*dargs, reduction=reduction, **dkw)
        vr, gr = loss.value_and_grad(*args, reduction=reduction, backend="numpy", **kw)
        assert not isinstance(v, (float, np.generic, np.ndarray)), "the value left the device"
        hv = to_host(v)
        assert hv.dtype == dtype
        assert_close(hv, vr, dtype, f"{name} {reduction} value",
                     _sum_scale(loss, args, kw, reduction, vr))
        for k, pos, gk, grk in zip(range(9), _diff_positions(spec), _grads(spec, g),
                                   _grads(spec, gr)):
            hg = to_host(gk)
            assert hg.dtype == dtype and hg.shape == np.shape(args[pos])
            assert_close(hg, grk, dtype, f"{name} {reduction} grad {k}")


# float64: every small case with reduction "none" (per-sample values and the gradient of
# their sum); float32: every fourth; both reductions "sum" and the loss's default ("mean"
# for most) on the first cases of each loss
F32_CASES = SMALL_CASES[::4]
REDUCED = [(n, c) for k, (n, c) in enumerate(SMALL_CASES)
           if k == 0 or SMALL_CASES[k - 1][0] != n or
           (k > 1 and SMALL_CASES[k - 2][0] != n) or (k > 2 and SMALL_CASES[k - 3][0] != n)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name,cid", SMALL_CASES, ids=[f"{n}-{c}" for n, c in SMALL_CASES])
def test_float64_agrees_with_reference(name, cid, kind, rng):
    """Value and gradients stay on the device and agree with the NumPy reference."""
    _check(name, cid, np.float64, kind, rng, ["none"])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name,cid", F32_CASES, ids=[f"{n}-{c}" for n, c in F32_CASES])
def test_float32_agrees_with_reference(name, cid, kind, rng):
    _check(name, cid, np.float32, kind, rng, ["none"])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name,cid", REDUCED, ids=[f"{n}-{c}" for n, c in REDUCED])
def test_reductions_agree_with_reference(name, cid, dtype, kind, rng):
    spec = LOSSES[name]
    _check(name, cid, dtype, kind, rng,
           sorted({"sum", spec.default_reduction} & set(spec.reductions)))


def _ce_data(rng, n=9, c=5):
    return rng.standard_normal((n, c)), rng.integers(0, c, n)


@pytest.mark.parametrize("kind", KINDS)
def test_host_arrays_with_backend_cuda_come_back_to_the_host(kind, rng):
    x, t = _ce_data(rng)
    v, g = fl.cross_entropy.value_and_grad(x, t, backend="cuda")
    vr, gr = fl.cross_entropy.value_and_grad(x, t, backend="numpy")
    assert isinstance(v, np.float64) and isinstance(g, np.ndarray)
    assert_close(v, vr, np.float64, "value")
    assert_close(g, gr, np.float64, "grad")


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_device_arrays_need_the_cuda_backend(backend, rng):
    x, t = _ce_data(rng)
    with pytest.raises(ValueError, match=f"backend: '{backend}' takes host arrays"):
        fl.cross_entropy(to_device(x, "numba"), to_device(t, "numba"), backend=backend)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_on_the_device_raises_before_any_kernel(kind, rng):
    x, t = _ce_data(rng)
    bad = t.copy()
    bad[4] = 7
    with pytest.raises(ValueError, match=r"target: class index 7 at flat position 4"):
        fl.cross_entropy(to_device(x, kind), to_device(bad, kind))
    with pytest.raises(ValueError, match="sample_weight: weights must be non-negative"):
        fl.cross_entropy(to_device(x, kind), to_device(t, kind),
                         sample_weight=to_device(-np.ones(len(t)), kind))
    p = rng.random(x.shape)
    p[2, 3] = 1.5
    with pytest.raises(ValueError, match="target: values must lie in"):
        fl.binary_cross_entropy_with_logits(to_device(x, kind), to_device(p, kind))
    with pytest.raises(TypeError, match="input: expected a floating-point array"):
        fl.mse_loss(to_device(t, kind), to_device(t, kind))


@pytest.mark.parametrize("kind", KINDS)
def test_value_is_the_same_on_every_run(kind, rng):
    """Partial sums of several blocks, combined in a fixed order: bitwise the same."""
    x = to_device(rng.standard_normal((40, 7)), kind)
    y = to_device(rng.standard_normal((40, 7)), kind)
    runs = {to_host(fl.mse_loss(x, y)).tobytes() for _ in range(3)}
    assert len(runs) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_out_on_the_device_and_in_place(kind, rng):
    x, t = _ce_data(rng)
    vr, gr = fl.cross_entropy.value_and_grad(x, t, backend="numpy")
    dx, dt = to_device(x, kind), to_device(t, kind)
    out = to_device(np.zeros_like(x), kind)
    v, g = fl.cross_entropy.value_and_grad(dx, dt, out=out)
    assert g is out
    assert_close(to_host(g), gr, np.float64, "out=")
    v, g = fl.cross_entropy.value_and_grad(dx, dt, out=dx)
    assert g is dx
    assert_close(to_host(dx), gr, np.float64, "out=input")
    with pytest.raises(ValueError, match="out: overlaps another argument"):
        fl.mse_loss.grad(dx, dx, out=dx)   # the input, but also the target
