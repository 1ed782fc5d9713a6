"""Memory: value_and_grad allocates the gradient (and, for reduction="none", the
per-sample values) and nothing else; with out= it allocates nothing of an array's size.

Peaks are measured with tracemalloc, which sees NumPy's buffers.  The inputs are those of
the benchmarks at their "small" size (fastloss._bench): C-contiguous, the input's dtype,
int64 class targets, each input over 1 MiB and each target over 64 KiB in float32, so a
copy of any of them in the Python layer exceeds the slack."""
import numpy as np
import pytest

import fastloss as fl
from fastloss import _bench
from fastloss._registry import TABLE

SLACK = 64 * 1024   # Python objects of a call; far below any input's copy
DTYPES = ("float32", "float64")


def _grad_outs(case):
    outs = tuple(np.empty_like(a) for a in case.grad_inputs())
    return outs if len(outs) > 1 else outs[0]


def _values_nbytes(value):
    return np.asarray(value).nbytes if np.ndim(value) else 0


def test_tracemalloc_sees_numpy_buffers():
    """The measure has teeth: a hidden copy of an input is counted."""
    x = np.ones(2**20)
    assert _bench.peak_alloc(lambda: x.copy()) >= x.nbytes
    assert _bench.peak_alloc(lambda: float((x * 2).sum())) >= x.nbytes
    assert _bench.peak_alloc(lambda: float(x.sum())) < SLACK


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [s.name for s in TABLE])
def test_value_and_grad_allocates_only_its_outputs(name, dtype):
    case = _bench.make_case(name, "small", dtype)
    for arg, a in zip(case.spec.inputs, case.inputs):   # a copy of any would show
        assert a.nbytes > SLACK and a.flags.c_contiguous, f"{arg}: {a.nbytes} bytes"
        assert a.dtype in (np.dtype(dtype), np.int64), f"{arg}: {a.dtype}"
    vg = getattr(fl, name).value_and_grad
    out = _grad_outs(case)
    for reduction in ("default", "none"):
        kw = dict(case.kwargs)
        if reduction == "none":
            kw["reduction"] = "none"
        results = []

        def plain():
            results.append(vg(*case.inputs, **kw))

        def into():
            results.append(vg(*case.inputs, **kw, out=out))

        plain(), into()   # first calls may fill caches
        values = _values_nbytes(results[0][0])
        results.clear()
        peak = _bench.peak_alloc(plain)
        peak_out = _bench.peak_alloc(into)
        what = f"{name} ({dtype}, reduction={reduction}): value_and_grad"
        assert peak <= case.grad_nbytes + values + SLACK, (
            f"{what} allocated {peak} bytes; its gradient is {case.grad_nbytes} bytes, "
            f"its values {values}")
        assert peak_out <= values + SLACK, (
            f"{what} with out= allocated {peak_out} bytes; its values are {values} bytes")
        # the gradient returned is the one preallocated
        g = results[1][1]
        assert all(a is b for a, b in zip(g, out)) if isinstance(out, tuple) else g is out
