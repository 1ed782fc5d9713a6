"""Benchmark engine: one source of cases and peers for ``python -m fastloss bench`` and the
pytest-benchmark suites in ``bench/``.

A *case* is one loss at one size and dtype: realistic inputs built from the loss table, the
options shared with its peers, and the bytes a fused kernel must move (every input read
once, int64 class targets at 8 bytes a sample, every gradient written once).  A *peer* is an
implementation timed on the same data:

- ``fastloss``: ``value_and_grad`` into a preallocated ``out=``, with ``n_threads``;
- ``numpy``: the NumPy reference through the same API (``backend="numpy"``);
- ``torch``: the PyTorch equivalent named in the table, forward and backward on tensors
  sharing the case's memory (``requires_grad`` inputs, ``torch.set_num_threads``);
- ``sklearn``: scikit-learn's ``sklearn._loss`` object where it has the loss,
  ``loss_gradient`` into preallocated arrays plus the mean of the per-sample losses.

Every peer's first result is checked against fastloss (value and gradients, after undoing
the peer's own scale or constant), so a comparison never times a different computation.
This module imports NumPy and fastloss only; torch, scikit-learn and matplotlib are
imported when a peer or the plot needs them.
"""
import importlib
import importlib.util
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

PEERS = ("fastloss", "numpy", "torch", "sklearn")
SIZES = ("tiny", "small", "medium", "large")
DEFAULT_SIZES = ("tiny", "medium", "large")
DTYPES = ("float32", "float64")
QUICK_LOSSES = ("cross_entropy", "binary_cross_entropy_with_logits", "mse_loss", "huber_loss")
QUICK_SIZES = ("tiny", "medium")

# Input shapes per kind of loss and size.  "softmax": (N, C) logits and int64 targets (the
# softmax family also runs at the large-vocabulary size); "class": (N, C) scores of the
# other class losses; "elem": element-wise, 2^24 elements at the medium size; "row": (N, D)
# per input of the row losses (2^24 elements over all inputs at the medium size); "seg":
# (N, C, H, W) segmentation logits with (N, H, W) targets.  "small" is the moderate size
# of the memory check: each input over 1 MiB and each target over 64 KiB in float32.
_ROW_D = 256
SHAPES = {
    "tiny": {"softmax": (64, 10), "class": (64, 10), "elem": (64, 10), "row": (64, 10),
             "seg": (4, 10, 4, 4)},
    "small": {"softmax": (16384, 32), "class": (16384, 32), "elem": (1024, 512),
              "row": (32768, 16), "seg": (4, 4, 128, 128)},
    "medium": {"softmax": (8192, 1000), "class": (8192, 1000), "elem": (16384, 1024),
               "row": None, "seg": (16, 4, 512, 512)},
    "large": {"softmax": (2048, 32000)},
}
# float32 tolerance of the agreement check (float64: TOL64): relative to the value's and to
# the largest gradient entry's magnitude; wide enough for other summation orders, far too
# narrow for another scale or parametrization.
TOL32, TOL64 = 2e-3, 1e-7


# ------------------------------------------------------------------- inputs ----

def _normal(rng, shape, dtype, scale=1.0):
    x = rng.standard_normal(shape, dtype=dtype)
    if scale != 1.0:
        x *= dtype.type(scale)
    return x


def _uniform(rng, shape, dtype):
    return rng.random(shape, dtype=dtype)


def _bits(rng, shape, dtype):
    return (rng.random(shape, dtype=np.float32) < 0.5).astype(dtype)


def _pm1(rng, shape, dtype):
    return np.where(rng.random(shape, dtype=np.float32) < 0.5, -1, 1).astype(dtype)


def _classes(rng, n, c):
    return rng.integers(0, c, n, dtype=np.int64)


def _log_softmax(x):
    x -= x.max(axis=-1, keepdims=True)
    x -= np.log(np.exp(x).sum(axis=-1, keepdims=True))
    return x


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _logits_targets(rng, shape, dt):
    n, c = shape
    return _normal(rng, shape, dt, 2.0), _classes(rng, n, c)


def _poisson_log_rate(rng, shape, dt):
    x = _normal(rng, shape, dt, 0.5)
    return x, rng.poisson(np.exp(x)).astype(dt)


def _tweedie(rng, shape, dt):
    x = _normal(rng, shape, dt, 0.5)
    t = rng.gamma(2.0, 0.5 * np.exp(x)) * (rng.random(shape) < 0.7)   # zeros and amounts
    return x, t.astype(dt)


def _dice(rng, shape, dt):
    n, c, h, w = shape
    return _normal(rng, shape, dt, 2.0), rng.integers(0, c, (n, h, w), dtype=np.int64)


def _triplet(rng, shape, dt):
    a = _normal(rng, shape, dt)
    return a, a + _normal(rng, shape, dt, 0.5), _normal(rng, shape, dt)


def _regression(rng, shape, dt):
    return _normal(rng, shape, dt), _normal(rng, shape, dt)


# loss -> (kind, builder(rng, shape, dtype) -> the positional inputs, options).  The options
# are the ones every peer shares; the defaults stand otherwise.
_BUILDERS = {
    "cross_entropy": ("softmax", _logits_targets, {}),
    "nll_loss": ("softmax", lambda r, s, dt: (_log_softmax(_normal(r, s, dt, 2.0)),
                                              _classes(r, *s)), {}),
    "softmax_focal_loss": ("softmax", _logits_targets, {}),
    "poly1_cross_entropy": ("softmax", _logits_targets, {}),
    "generalized_cross_entropy": ("softmax", _logits_targets, {}),
    "symmetric_cross_entropy": ("softmax", _logits_targets, {}),
    "bootstrapped_cross_entropy": ("softmax", _logits_targets, {}),
    "multi_margin_loss": ("class", _logits_targets, {}),
    "multilabel_soft_margin_loss": ("class", lambda r, s, dt: (_normal(r, s, dt, 2.0),
                                                               _bits(r, s, dt)), {}),
    "dice_loss": ("seg", _dice, {}),
    "binary_cross_entropy_with_logits": ("elem", lambda r, s, dt: (_normal(r, s, dt, 2.0),
                                                                   _bits(r, s, dt)), {}),
    "binary_cross_entropy": ("elem", lambda r, s, dt: (_sigmoid(_normal(r, s, dt, 2.0)),
                                                       _bits(r, s, dt)), {}),
    "sigmoid_focal_loss": ("elem", lambda r, s, dt: (_normal(r, s, dt, 2.0), _bits(r, s, dt)),
                           {"reduction": "mean"}),
    "kl_div": ("elem", lambda r, s, dt: (_log_softmax(_normal(r, s, dt)),
                                         np.exp(_log_softmax(_normal(r, s, dt)))),
               {"reduction": "batchmean"}),
    "soft_margin_loss": ("elem", lambda r, s, dt: (_normal(r, s, dt, 2.0), _pm1(r, s, dt)), {}),
    "hinge_embedding_loss": ("elem", lambda r, s, dt: (np.abs(_normal(r, s, dt)),
                                                       _pm1(r, s, dt)), {}),
    "margin_ranking_loss": ("elem", lambda r, s, dt: (_normal(r, s, dt), _normal(r, s, dt),
                                                      _pm1(r, s, dt)), {}),
    "mse_loss": ("elem", _regression, {}),
    "l1_loss": ("elem", _regression, {}),
    "huber_loss": ("elem", _regression, {}),
    "smooth_l1_loss": ("elem", _regression, {}),
    "log_cosh_loss": ("elem", _regression, {}),
    "pinball_loss": ("elem", _regression, {"quantile": 0.9}),
    "poisson_nll_loss": ("elem", _poisson_log_rate, {}),
    "gaussian_nll_loss": ("elem", lambda r, s, dt: (_normal(r, s, dt), _normal(r, s, dt),
                                                    0.1 + _uniform(r, s, dt)), {}),
    "tweedie_deviance_loss": ("elem", _tweedie, {}),
    # alpha and scale per element (a kernel pass reads all three and writes three gradients)
    "robust_loss": ("elem", lambda r, s, dt: (_normal(r, s, dt), (_uniform(r, s, dt) * 4 - 2),
                                              0.5 + _uniform(r, s, dt)), {}),
    "cosine_embedding_loss": ("row", lambda r, s, dt: (_normal(r, s, dt), _normal(r, s, dt),
                                                       _pm1(r, s[0], dt)), {}),
    "triplet_margin_loss": ("row", _triplet, {}),
}


def _spec(loss):
    from ._registry import LOSSES

    if loss not in LOSSES:
        raise KeyError(loss)
    if loss not in _BUILDERS:
        raise KeyError(f"{loss}: no benchmark inputs; add it to fastloss._bench._BUILDERS")
    return LOSSES[loss]


def shape_of(loss, size):
    """The input shape of `loss` at `size`, or None where the size does not apply."""
    spec = _spec(loss)
    kind = _BUILDERS[loss][0]
    shape = SHAPES[size].get(kind)
    if kind == "row" and size == "medium":
        shape = (2**24 // (_ROW_D * len(spec.grad_wrt)), _ROW_D)
    return shape


@dataclass
class Case:
    """One loss at one size and dtype: its inputs, options and the bytes a kernel moves."""

    loss: str
    size: str
    dtype: np.dtype
    inputs: tuple
    kwargs: dict
    nbytes: int
    grad_nbytes: int
    _reference: tuple = field(default=None, repr=False)

    @property
    def spec(self):
        return _spec(self.loss)

    @property
    def shape(self):
        return "x".join(map(str, self.inputs[0].shape))

    @property
    def label(self):
        return f"{self.loss} {self.shape} {self.dtype.name}"

    def grad_inputs(self):
        return tuple(self.inputs[self.spec.inputs.index(n)] for n in self.spec.grad_wrt)

    def reference(self):
        """fastloss's (value, grads) on this case: what every peer is checked against."""
        if self._reference is None:
            import fastloss

            v, g = getattr(fastloss, self.loss).value_and_grad(*self.inputs, **self.kwargs)
            self._reference = (float(v), g if isinstance(g, tuple) else (g,))
        return self._reference


def kernel_bytes(loss, inputs):
    """Bytes a fused value-and-gradient pass must move: every input read once (class
    targets as given, int64: 8 bytes a sample) and every gradient written once.
    nll_loss reads only the target entries of its input (its gradient does not read it)."""
    spec = _spec(loss)
    grads = sum(inputs[spec.inputs.index(n)].nbytes for n in spec.grad_wrt)
    reads = sum(a.nbytes for a in inputs)
    if loss == "nll_loss":
        x, t = inputs
        reads = t.nbytes + t.size * x.itemsize
    return reads + grads, grads


def make_case(loss, size, dtype, seed=0):
    """Build the case of `loss` at `size` ("tiny", "small", "medium", "large") and `dtype`."""
    shape = shape_of(loss, size)
    if shape is None:
        raise ValueError(f"{loss}: no {size} size (the large vocabulary size is for the "
                         "softmax-family class losses)")
    dt = np.dtype(dtype)
    rng = np.random.default_rng([seed, SIZES.index(size), DTYPES.index(dt.name)])
    _, build, kwargs = _BUILDERS[loss]
    inputs = tuple(np.ascontiguousarray(a) for a in build(rng, shape, dt))
    nbytes, grad_nbytes = kernel_bytes(loss, inputs)
    return Case(loss, size, dt, inputs, dict(kwargs), nbytes, grad_nbytes)


def case_keys(losses=None, sizes=DEFAULT_SIZES, dtypes=DTYPES):
    """(loss, size, dtype) of every case that exists in the selection, in table order."""
    from ._registry import TABLE

    names = [s.name for s in TABLE] if losses is None else list(losses)
    return [(name, size, dt) for name in names for size in sizes for dt in dtypes
            if shape_of(name, size) is not None]


# -------------------------------------------------------------------- peers ----

def _importable(module):
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _param(case, name):
    """The value of option `name` in a case: its own or the loss's default."""
    if name in case.kwargs:
        return case.kwargs[name]
    return next(p.default for p in case.spec.all_params() if p.name == name)


def _sk_tweedie(case):
    from sklearn._loss import loss as sk

    obj = sk.HalfTweedieLoss(power=_param(case, "power"))
    # fastloss adds scikit-learn's constant_to_optimal_zero (0 at input = log(target))
    return obj, 1.0, float(np.mean(obj.constant_to_optimal_zero(case.inputs[1])))


def _sk_simple(name, scale=1.0, **params):
    """A scikit-learn loss whose mean, times `scale`, is the fastloss value; `params` map
    the scikit-learn parameter to a fastloss option (a string) or a number."""
    def make(case):
        from sklearn._loss import loss as sk

        kw = {k: _param(case, v) if isinstance(v, str) else v for k, v in params.items()}
        if name == "HalfMultinomialLoss":
            kw["n_classes"] = case.inputs[0].shape[1]
        s = scale(case) if callable(scale) else scale
        return getattr(sk, name)(**kw), s, 0.0
    return make


# loss -> make(case) -> (sklearn loss object, scale, constant): fastloss's value is
# scale * mean(loss_out) + constant, its gradient scale * gradient_out / (samples)
SKLEARN = {
    "cross_entropy": _sk_simple("HalfMultinomialLoss"),
    "binary_cross_entropy_with_logits": _sk_simple("HalfBinomialLoss"),
    "mse_loss": _sk_simple("HalfSquaredError", 2.0),
    "l1_loss": _sk_simple("AbsoluteError"),
    "huber_loss": _sk_simple("HuberLoss", delta="delta"),
    "smooth_l1_loss": _sk_simple("HuberLoss", lambda c: 1 / _param(c, "beta"), delta="beta"),
    "pinball_loss": _sk_simple("PinballLoss", quantile="quantile"),
    "poisson_nll_loss": _sk_simple("HalfPoissonLoss"),
    "tweedie_deviance_loss": _sk_tweedie,
}
# the cases above must use these options for scikit-learn's loss to be the same one
_SKLEARN_NEEDS = {"poisson_nll_loss": {"log_input": True, "full": False}}


def has_peer(peer, loss):
    """Whether `peer` can run `loss` here (without importing torch or scikit-learn)."""
    spec = _spec(loss)
    if peer in ("fastloss", "numpy"):
        return True
    if peer == "torch":
        return bool(spec.torch) and _importable(spec.torch.split(".")[0])
    if peer == "sklearn":
        return loss in SKLEARN and _importable("sklearn")
    raise ValueError(f"unknown peer {peer!r}; expected one of {PEERS}")


def peers_of(loss):
    return tuple(p for p in PEERS if has_peer(p, loss))


class Runner:
    """A peer ready to run a case: ``runner()`` runs it once; ``runner.result(ret)`` turns
    what a run returned into fastloss's (value, grads) for the agreement check."""

    def __init__(self, peer, case, call, result):
        self.peer, self.case, self.call, self.result = peer, case, call, result

    def __call__(self):
        return self.call()


def _fastloss_runner(case, n_threads):
    import fastloss

    vg = getattr(fastloss, case.loss).value_and_grad
    outs = tuple(np.empty_like(a) for a in case.grad_inputs())
    out = outs if len(outs) > 1 else outs[0]
    args, kw = case.inputs, case.kwargs
    return (lambda: vg(*args, **kw, out=out, n_threads=n_threads),
            lambda r: (float(r[0]), outs))


def _numpy_runner(case, n_threads):
    import fastloss

    vg = getattr(fastloss, case.loss).value_and_grad
    args, kw = case.inputs, case.kwargs
    return (lambda: vg(*args, **kw, backend="numpy"),
            lambda r: (float(r[0]), r[1] if isinstance(r[1], tuple) else (r[1],)))


def _torch_function(spec):
    module, _, name = spec.torch.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _torch_runner(case, n_threads):
    import torch

    torch.set_num_threads(n_threads)
    return autograd_call(_torch_function(case.spec), case)


def autograd_call(fn, case):
    """Forward + backward of the PyTorch-style loss `fn` on tensors over the case's arrays
    (no copy): (call, result), result(value) -> (value, gradients)."""
    import torch

    tensors = [torch.from_numpy(a) for a in case.inputs]
    leaves = [tensors[case.spec.inputs.index(n)].requires_grad_() for n in case.spec.grad_wrt]
    kw = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
          for k, v in case.kwargs.items()}

    def call():
        for leaf in leaves:
            leaf.grad = None
        v = fn(*tensors, **kw)
        v.backward()
        return v

    return call, lambda v: (float(v.item()), tuple(leaf.grad.numpy() for leaf in leaves))


def _sklearn_runner(case, n_threads):
    for k, want in _SKLEARN_NEEDS.get(case.loss, {}).items():
        if _param(case, k) != want:
            raise ValueError(f"{case.loss}: scikit-learn's loss needs {k}={want!r}")
    obj, scale, const = SKLEARN[case.loss](case)
    x, t = case.inputs
    raw = x if obj.is_multiclass else x.ravel()
    y = t.astype(x.dtype).ravel()   # class indices as floats for the multinomial loss
    loss_out = np.empty(y.shape, x.dtype)
    grad_out = np.empty_like(raw)

    def call():
        obj.loss_gradient(y, raw, loss_out=loss_out, gradient_out=grad_out, n_threads=n_threads)
        return loss_out.mean()

    return call, lambda m: (scale * float(m) + const,
                            ((scale / y.size) * grad_out.reshape(x.shape),))


_RUNNERS = {"fastloss": _fastloss_runner, "numpy": _numpy_runner, "torch": _torch_runner,
            "sklearn": _sklearn_runner}


def errors(case, got):
    """Relative differences (value, gradient) of `got` = (value, grads) from fastloss's
    result on the case; the gradient's is the largest entry difference over the largest
    entry of each gradient."""
    v0, g0 = case.reference()
    v1, g1 = got
    ev = abs(v1 - v0) / max(abs(v0), abs(v1), 1e-30) if v1 != v0 else 0.0
    eg = 0.0
    if len(g0) != len(g1):
        return ev, math.inf
    for a, b in zip(g0, g1):
        b = np.asarray(b)
        if a.shape != b.shape:
            return ev, math.inf
        scale = max(float(np.max(np.abs(a), initial=0.0)), 1e-30)
        diff = float(np.max(np.abs(a.astype(np.float64) - b), initial=0.0))
        eg = max(eg, diff / scale if diff else 0.0)
    return float(ev), eg


def tolerance(dtype):
    return TOL32 if np.dtype(dtype) == np.float32 else TOL64


class Disagreement(AssertionError):
    """A peer computed something else than fastloss on the same case."""


def make_runner(peer, case, n_threads):
    """A Runner of `peer` on `case`, after one run (the warm-up) whose value and gradients
    must agree with fastloss's; raises Disagreement otherwise.  Its `first_time` is that
    run's duration and `errors` the differences found."""
    call, result = _RUNNERS[peer](case, n_threads)
    runner = Runner(peer, case, call, result)
    t0 = time.perf_counter()
    got = result(call())
    runner.first_time = time.perf_counter() - t0
    runner.errors = errors(case, got)
    tol = tolerance(case.dtype)
    if not max(runner.errors) <= tol:
        raise Disagreement(f"{case.label}: {peer} disagrees with fastloss (relative "
                           f"difference {runner.errors[0]:.2g} in the value, "
                           f"{runner.errors[1]:.2g} in the gradient; tolerance {tol:g})")
    return runner


# ------------------------------------------------------------------- timing ----

def best_time(fn, repeat=5, first_time=None, min_time=2e-3, spend=0.25, budget=3.0):
    """Best (min) seconds per call of `fn`, after a warm-up call (`first_time`, when the
    caller made it).  A timing loops enough calls to last `min_time`; there are `repeat`
    timings, more for fast calls (up to `spend` seconds in all: the best of many gets past
    a busy machine's stalls), fewer for slow ones (about `budget` seconds, at least one)."""
    if first_time is None:
        t0 = time.perf_counter()
        fn()
        first_time = time.perf_counter() - t0
    per = first_time
    if first_time < 0.05:   # first calls are slow: calibrate on a few more
        t0 = time.perf_counter()
        calls = 0
        while calls < 1000 and time.perf_counter() - t0 < 0.01:
            fn()
            calls += 1
        per = (time.perf_counter() - t0) / calls
    number = max(1, math.ceil(min_time / max(per, 1e-8)))
    timing = per * number
    repeat = max(repeat, min(50, int(spend / timing)))
    repeat = max(1, min(repeat, int(budget / timing)))
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def copy_bandwidth(n_threads, nbytes=2**27, repeat=20):
    """Bytes per second of the extension's multi-threaded copy (in 1 MiB chunks): read
    `nbytes` and write `nbytes`, best of `repeat`.  Counted as 2 * nbytes / time; the
    write-allocate reads of the destination are not counted (as they are not counted for
    the kernels' gradients)."""
    from ._cpu import _kernels

    src = np.ones(nbytes, np.uint8)
    dst = np.empty_like(src)
    return 2 * nbytes / best_time(lambda: _kernels.copy(dst, src, n_threads), repeat)


def peak_alloc(fn):
    """Peak bytes allocated (traced by tracemalloc, NumPy's buffers included) while `fn()`
    runs, above what was allocated before; what it returns is counted."""
    import tracemalloc

    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        ret = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
        del ret
    finally:
        if not tracing:
            tracemalloc.stop()
    return peak


def case_peaks(case, n_threads=None):
    """Peak allocation of fastloss's value_and_grad on a case: (without out=, with out=)."""
    import fastloss

    vg = getattr(fastloss, case.loss).value_and_grad
    outs = tuple(np.empty_like(a) for a in case.grad_inputs())
    out = outs if len(outs) > 1 else outs[0]
    plain = lambda: vg(*case.inputs, **case.kwargs, n_threads=n_threads)  # noqa: E731
    into = lambda: vg(*case.inputs, **case.kwargs, out=out, n_threads=n_threads)  # noqa: E731
    plain(), into()   # warm-up: first-call caches are not the call's allocations
    return peak_alloc(plain), peak_alloc(into)


# ------------------------------------------------------------------ the run ----

def machine():
    """fastloss's configuration plus the CPU model and the load average (other work on
    the machine slows the multi-threaded peers most at the tiny size: their second
    thread waits for a core)."""
    from ._info import config

    info = config()
    info["load_average"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f
                               if line.startswith("model name"))
    except (OSError, StopIteration):
        import platform

        info["cpu"] = platform.processor() or None
    return info


class Progress:
    """A plain-text progress bar on stderr (one line per step when it is not a terminal)."""

    def __init__(self, total, stream=None, width=30):
        self.total, self.done, self.width = max(total, 1), 0, width
        self.stream = sys.stderr if stream is None else stream
        self.tty = getattr(self.stream, "isatty", lambda: False)()

    def step(self, what):
        self.done += 1
        fill = self.width * self.done // self.total
        line = f"[{'#' * fill}{'.' * (self.width - fill)}] {self.done}/{self.total} {what}"
        if self.tty:
            self.stream.write("\r" + line[:150].ljust(150))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def run_case(case, n_threads, repeat, levels=None, progress=None):
    """Time fastloss (at each SIMD level of `levels`, default the active one) and every
    other available peer on a case, and measure fastloss's peak allocation: one row of the
    report per level (times in seconds; speed-up = peer time / fastloss time)."""
    from . import _cpu

    active = _cpu.simd_level()
    levels = tuple(levels or (active,))
    agreement = {}

    def timed(peer, what):
        if progress:
            progress.step(f"{case.label}: {what}")
        runner = make_runner(peer, case, n_threads)
        agreement[peer] = max(agreement.get(peer, 0.0), *runner.errors)
        return best_time(runner, repeat, first_time=runner.first_time)

    ours = {}
    try:
        for level in levels:
            _cpu.set_simd(level)
            ours[level] = timed("fastloss", "fastloss" + (f" {level}" if len(levels) > 1 else ""))
    finally:
        _cpu.set_simd(active)
    theirs = {p: timed(p, p) for p in peers_of(case.loss) if p != "fastloss"}
    if progress:
        progress.step(f"{case.label}: peak memory")
    peak, peak_out = case_peaks(case, n_threads)
    return [{"loss": case.loss, "size": case.size, "shape": case.shape,
             "dtype": case.dtype.name, "simd": level, "bytes": case.nbytes,
             "grad_bytes": case.grad_nbytes, "seconds": {"fastloss": t, **theirs},
             "speedup": {p: s / t for p, s in theirs.items()},
             "gb_per_s": case.nbytes / t / 1e9, "agreement": agreement,
             "peak_alloc": peak, "peak_alloc_out": peak_out} for level, t in ours.items()]


def run(keys, n_threads, repeat=5, levels=None, copy_nbytes=2**27, progress=True,
        stream=None):
    """The comparison over `keys` (see case_keys): a dict with the machine, the copy
    bandwidth and one row per case (and SIMD level).  The copy bandwidth is measured
    before and after the cases, and the better of the two is the reference (the best
    time, as for the kernels): a busy machine slows either one."""
    info = machine()
    bar = None
    if progress:
        n = len(levels or (None,))
        bar = Progress(2 + sum(n + len(peers_of(k[0])) for k in keys), stream)
        bar.step("copy bandwidth")
    probes = [copy_bandwidth(n_threads, copy_nbytes)]
    rows = []
    for loss, size, dt in keys:
        case = make_case(loss, size, dt)
        rows += run_case(case, n_threads, repeat, levels, progress=bar)
        del case
    if bar:
        bar.step("copy bandwidth")
        bar.close()
    probes.append(copy_bandwidth(n_threads, copy_nbytes))
    bw = max(probes)
    for row in rows:
        row["pct_of_copy"] = 100 * row["gb_per_s"] * 1e9 / bw
    return {"machine": info, "threads": n_threads, "repeat": repeat,
            "copy_bandwidth_gb_per_s": bw / 1e9,
            "copy_bandwidth_probes_gb_per_s": [b / 1e9 for b in probes], "rows": rows}


# ------------------------------------------------------------------- output ----

def _human_bytes(n):
    for unit, div in (("M", 2**20), ("K", 2**10)):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(n)


def _human_time(s):
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def header(report):
    m = report["machine"]
    load = f" | load {m['load_average'][0]:.1f} on {m['cpu_count']} CPUs" \
        if m.get("load_average") else ""
    return (f"fastloss {m['fastloss']} | {m.get('cpu') or m['platform']} | SIMD {m['simd']} | "
            f"{report['threads']} threads | copy bandwidth "
            f"{report['copy_bandwidth_gb_per_s']:.1f} GB/s | best of {report['repeat']}{load}")


COLUMNS = ("loss", "shape", "dtype", "fastloss", "GB/s", "% copy", "x numpy", "x torch",
           "x sklearn", "alloc", "alloc out=")


def _label(r, simd):
    return f"{r['loss']} {r['shape']} {r['dtype']}" + (f" {r['simd']}" if simd else "")


def _several_levels(rows):
    return len({r["simd"] for r in rows}) > 1


def table(report):
    """The report as a Markdown table (blank where a peer is absent; a SIMD column when
    the rows are of several levels)."""
    simd = _several_levels(report["rows"])
    cols = COLUMNS[:3] + (("simd",) if simd else ()) + COLUMNS[3:]
    lines = [header(report), "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in report["rows"]:
        sp = [f"{r['speedup'][p]:.1f}x" if p in r["speedup"] else ""
              for p in ("numpy", "torch", "sklearn")]
        cells = [r["loss"], r["shape"], r["dtype"]] + ([r["simd"]] if simd else []) + [
            _human_time(r["seconds"]["fastloss"]), f"{r['gb_per_s']:.1f}",
            f"{r['pct_of_copy']:.0f}%", *sp, _human_bytes(r["peak_alloc"]),
            _human_bytes(r["peak_alloc_out"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "fastloss: value_and_grad into out= (best time a call); x peer: the peer's "
              "time over fastloss's (forward+backward for torch); alloc: peak bytes "
              "value_and_grad allocates without / with out=."]
    return "\n".join(lines)


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(report, path):
    """A PNG: speed-up over each peer (log scale) and % of copy bandwidth, one bar group
    per row."""
    plt = _matplotlib()
    if plt is None:
        raise RuntimeError("--plot needs matplotlib: pip install 'fastloss[bench]'")
    from matplotlib.ticker import FuncFormatter

    rows = report["rows"][::-1]   # the first row on top
    simd = _several_levels(rows)
    y = np.arange(len(rows))
    fig, (ax1, ax2) = plt.subplots(1, 2, sharey=True, figsize=(13, 1.6 + 0.32 * len(rows)),
                                   gridspec_kw={"width_ratios": [3, 2]})
    peers = [p for p in PEERS[1:] if any(p in r["speedup"] for r in rows)]
    h = 0.8 / max(len(peers), 1)
    for k, p in enumerate(peers):
        vals = [r["speedup"].get(p, np.nan) for r in rows]
        bars = ax1.barh(y + ((len(peers) - 1) / 2 - k) * h, vals, h, label=f"vs {p}")
        ax1.bar_label(bars, [f"{v:.1f}x" if v == v else "" for v in vals], fontsize=7,
                      padding=2)
    sp = [v for r in rows for v in r["speedup"].values()] or [1.0]
    ax1.set_xscale("log")
    ax1.set_xlim(min(0.5, 0.7 * min(sp)), 4 * max(2.0, max(sp)))   # room for the labels
    ax1.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax1.axvline(1.0, color="k", lw=0.8)
    ax1.set_xlabel("speed-up of fastloss: peer time / fastloss time (log scale)")
    ax1.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=len(peers), fontsize=8,
               frameon=False)
    ax1.set_yticks(y, [_label(r, simd) for r in rows], fontsize=8)
    pct = [r["pct_of_copy"] for r in rows]
    bars = ax2.barh(y, pct, 0.6, color="tab:purple")
    ax2.bar_label(bars, [f"{v:.0f}%" for v in pct], fontsize=7, padding=2)
    ax2.axvline(100, color="k", lw=0.8, ls="--")
    ax2.set_xlim(0, max(110, 1.15 * max(pct, default=0)))
    ax2.set_xlabel("fastloss: bytes moved / time, % of copy")
    fig.suptitle(header(report), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------- CLI ----

def add_arguments(p):
    p.add_argument("--quick", action="store_true",
                   help=f"a run under a minute: {', '.join(QUICK_LOSSES)} at sizes "
                        f"{' and '.join(QUICK_SIZES)}, float32, 3 repeats (--losses, "
                        "--sizes, --dtypes, --repeat override)")
    p.add_argument("--json", action="store_true",
                   help="print the machine, copy bandwidth and rows as JSON on stdout")
    p.add_argument("--plot", metavar="FILE.png", help="write a chart (needs matplotlib)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for fastloss, torch and scikit-learn (default: OpenMP's "
                        "default count)")
    p.add_argument("--losses", help="comma-separated loss names (default: every loss)")
    p.add_argument("--sizes", help="comma-separated from " + ", ".join(SIZES) +
                   " (default: tiny,medium,large; large is for the softmax family)")
    p.add_argument("--dtypes", help="comma-separated from float32, float64 (default: both)")
    p.add_argument("--repeat", type=int, default=None,
                   help="timings per peer, at least (default 5; fast calls take more, "
                        "calls over a second fewer)")
    p.add_argument("--simd", help="comma-separated SIMD levels to time fastloss at, or 'all' "
                                  "(default: the active level; the peers run once)")


def _choices(parser, text, allowed, option):
    items = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in items if s not in allowed]
    if bad or not items:
        parser.error(f"{option}: {', '.join(map(repr, bad)) or 'empty list'} is not one of "
                     f"{', '.join(allowed)}")
    return items


def selection(parser, args):
    """(keys, n_threads, repeat, levels) from parsed options; parser.error on a bad one."""
    from . import _cpu
    from ._cpu import _kernels
    from ._registry import TABLE

    names = [s.name for s in TABLE]
    losses = _choices(parser, args.losses, names, "--losses") if args.losses else \
        (list(QUICK_LOSSES) if args.quick else names)
    sizes = _choices(parser, args.sizes, SIZES, "--sizes") if args.sizes else \
        (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    dtypes = _choices(parser, args.dtypes, DTYPES, "--dtypes") if args.dtypes else \
        (("float32",) if args.quick else DTYPES)
    n_threads = _kernels.max_threads() if args.threads is None else args.threads
    if n_threads < 1:
        parser.error(f"--threads: must be at least 1, got {n_threads}")
    repeat = args.repeat if args.repeat is not None else (3 if args.quick else 5)
    if repeat < 1:
        parser.error(f"--repeat: must be at least 1, got {repeat}")
    supported = _cpu.supported_simd_levels()
    levels = None
    if args.simd:
        levels = supported if args.simd.strip() == "all" else \
            _choices(parser, args.simd, supported, "--simd")
    keys = case_keys(losses, sizes, dtypes)
    if not keys:
        parser.error(f"no case: {', '.join(sizes)} does not apply to {', '.join(losses)}")
    if args.plot and _matplotlib() is None:
        parser.error("--plot needs matplotlib: pip install 'fastloss[bench]' "
                     "(or pip install matplotlib)")
    return keys, n_threads, repeat, levels


def main(parser, args):
    """`python -m fastloss bench` with parsed `args`; errors go through `parser`."""
    keys, n_threads, repeat, levels = selection(parser, args)
    report = run(keys, n_threads, repeat, levels, copy_nbytes=2**26 if args.quick else 2**27)
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(table(report))
    if args.plot:
        plot(report, args.plot)
        print(f"wrote {os.path.abspath(args.plot)}", file=sys.stderr)
    return 0
