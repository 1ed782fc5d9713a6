"""The Loss object: argument checks, reduction, dispatch to a backend.

Every public loss is a :class:`Loss` built from its entry in the loss table.  Its three
entry points have the exact signature of the table entry (generated once, so calling one
costs a plain Python call, not a signature bind):

    loss(input, target, ...)                       -> value
    loss.value_and_grad(input, target, ..., out=)  -> (value, grad), from one fused pass
    loss.grad(input, target, ..., out=)            -> grad

The layer knows nothing of SIMD or threads beyond the count it passes down.
"""
import numpy as np

from . import _checks as ck
from ._cpu import _kernels

VALUE, VALUE_AND_GRAD, GRAD = 0, 1, 2
MAX_THREADS = 4096

_COMMON_DOC = """
Common keyword-only options
---------------------------
sample_weight : array of shape (N,) or None
    One finite, non-negative weight per sample.  With ``reduction="mean"`` the sum is
    divided by the total weight that applies.
backend : {"auto", "cpu", "numpy"}
    "cpu" runs the compiled kernels, "numpy" the NumPy reference; "auto" is "cpu".
n_threads : int or None
    None uses OpenMP's default count (OMP_NUM_THREADS, threadpoolctl); a negative count
    n means (default + 1 + n), as joblib's n_jobs.  Small inputs always run on one thread.
    The value is bitwise the same for any count.

Returns
-------
value : NumPy scalar of the input's dtype (reduction "mean"/"sum"), or an array of
    per-sample values (reduction "none").
``value_and_grad`` returns ``(value, grad)`` from one fused pass; ``grad`` returns the
gradient only.  The gradient is of the returned value (for "none": of the sum of the
per-sample values), has the input's shape and dtype, and is written into ``out=`` when
given (``out`` may be the input itself).  Losses with several differentiable inputs
return a tuple of gradients, one per input in argument order.

A mean over nothing (empty input, every target ignored, zero total weight) is 0.0 with a
zero gradient, never NaN.  NaN in the input propagates as NaN, also at zero weight.  Bad arguments raise
TypeError or ValueError naming the argument, before any kernel runs.
"""


def threads(n_threads):
    """The thread count for a call (see the n_threads option)."""
    if n_threads is None:
        return _kernels.max_threads()
    n = ck.integer(n_threads, "n_threads", -MAX_THREADS, MAX_THREADS)
    if n > 0:
        return n
    if n == 0:
        raise ValueError("n_threads: must not be 0; use None for the default, a positive "
                         "count, or a negative count as joblib's n_jobs")
    default = _kernels.max_threads()
    if default + 1 + n < 1:
        raise ValueError(f"n_threads: {n} leaves no thread (the default count is {default})")
    return default + 1 + n


def _check_params(spec, params):
    out = []
    for p, v in zip(spec.all_params(), params):
        if p.kind == "float":
            v = ck.number(v, p.name, p.low, p.high, p.low_open, p.high_open)
        elif p.kind == "int":
            v = ck.integer(v, p.name, -2**63 if p.low is None else p.low,
                           2**63 - 1 if p.high is None else p.high)
        elif p.kind == "bool":
            v = ck.boolean(v, p.name)
        elif p.kind == "choice":
            v = ck.choice(v, p.name, p.choices)
        out.append(v)
    return out


def _outs(out, call):
    """The checked out= of a call: an array, or a tuple of arrays for several inputs."""
    if not call.more:
        return ck.out_array(out, call.shape, call.dtype, (call.x,) + call.reads)
    diff = (call.x,) + tuple(a for a, _ in call.more)
    shapes = (call.shape,) + tuple(s for _, s in call.more)
    if not isinstance(out, tuple) or len(out) != len(diff):
        raise TypeError(f"out: expected a tuple of {len(diff)} arrays (one gradient per "
                        f"differentiable input), got {type(out).__name__}")
    for k, (o, shape) in enumerate(zip(out, shapes)):
        own = diff[k]
        others = tuple(d for j, d in enumerate(diff) if j != k) + tuple(out[:k]) + call.reads
        ck.out_array(o, shape, call.dtype, (own,) + others, f"out[{k}]")
    return out


def _run(spec, mode, out, inputs, params, reduction, sample_weight, backend, n_threads):
    red = ck.reduction(reduction, spec.reductions)
    be = ck.backend(backend)
    if be == "cuda":
        raise ValueError("backend: 'cuda' is not available in this version; use 'auto', "
                         "'cpu' or 'numpy'")
    nt = threads(n_threads)
    call = spec.prepare(*inputs, *_check_params(spec, params), sample_weight)
    dtype = call.dtype
    if out is not None:
        out = _outs(out, call)
    shapes = (call.shape,) + tuple(s for _, s in call.more)

    if be == "numpy":
        value, g = spec.reference(**call.ref, reduction=reduction)
        value = np.asarray(value, dtype=dtype)[()] if red == 0 else dtype.type(value)
        if mode == VALUE:
            return value
        gs = g if call.more else (g,)
        outs = (out if out is not None else (None,) * len(shapes)) if call.more else (out,)
        res = []
        for gk, ok, shape in zip(gs, outs, shapes):
            if ok is not None:
                ok[...] = gk
                res.append(ok)
            else:
                res.append(np.asarray(gk, dtype=dtype).reshape(shape))
        g = (out if out is not None else tuple(res)) if call.more else res[0]
        return g if mode == GRAD else (value, g)

    loss_out = np.empty(call.value_shape, dtype=dtype) if red == 0 else None
    grad = None
    if mode != VALUE:
        if out is not None:
            grad = out
        elif call.more:
            grad = tuple(np.empty(shape, dtype=dtype) for shape in shapes)
        else:
            grad = np.empty(call.shape, dtype=dtype)
    v = call.cpu(red, loss_out, grad, nt)
    value = loss_out[()] if red == 0 else dtype.type(v)
    if mode == VALUE:
        return value
    return grad if mode == GRAD else (value, grad)


def _generate(spec, mode):
    """Source of an entry point with the loss's exact signature."""
    sig = [f"{p.name}={p.default!r}" for p in spec.signature_params()]
    names = [p.name for p in spec.all_params()]
    kw = [f"{p.name}={p.default!r}" for p in spec.keyword_only]
    kw += ["sample_weight=None", "backend='auto'", "n_threads=None"]
    if mode != VALUE:
        kw.append("out=None")
    inputs = ", ".join(spec.inputs)
    src = (f"def {spec.name}({inputs}, {', '.join(sig + ['*'] + kw)}):\n"
           f"    return _run(_spec, {mode}, {'out' if mode != VALUE else 'None'}, "
           f"({inputs},), ({''.join(n + ', ' for n in names)}), reduction, sample_weight, "
           f"backend, n_threads)\n")
    ns = {"_run": _run, "_spec": spec}
    exec(compile(src, f"<fastloss.{spec.name}>", "exec"), ns)
    fn = ns[spec.name]
    fn.__module__ = "fastloss"
    return fn


def _docstring(spec):
    lines = [f"{spec.name}: {spec.summary}.", ""]
    if spec.torch:
        lines.append(f"Same arguments, defaults and semantics as ``{spec.torch}``.")
    lines += ["", f"Shapes: {spec.shapes}.", f"Targets: {spec.target_domain}.", "",
              "Parameters", "----------"]
    for name in spec.inputs:
        lines.append(f"{name} : array")
    for p in spec.signature_params() + tuple(spec.keyword_only):
        kw = " (keyword-only)" if p in spec.keyword_only else ""
        lines += [f"{p.name} : {p.allowed()}, default {p.default!r}{kw}", f"    {p.doc}"]
    if len(spec.grad_wrt) > 1:
        lines += ["", "Gradients: ``value_and_grad`` returns ``(value, (" +
                  ", ".join(f"d_{n}" for n in spec.grad_wrt) + "))`` and ``grad`` the "
                  "tuple, in argument order; ``out=`` takes a tuple of arrays likewise."]
    return "\n".join(lines) + "\n" + _COMMON_DOC


class Loss:
    """A loss function: call it for the value; ``value_and_grad`` and ``grad`` for the
    gradient.  Built from one entry of the loss table (``fastloss._registry``)."""

    def __init__(self, spec):
        self.spec = spec
        self.__name__ = spec.name
        self.__qualname__ = spec.name
        self.__doc__ = _docstring(spec)
        self._value = _generate(spec, VALUE)
        self.value_and_grad = _generate(spec, VALUE_AND_GRAD)
        self.grad = _generate(spec, GRAD)
        self._value.__doc__ = self.__doc__
        self.value_and_grad.__doc__ = ("Value and gradient of " + spec.name +
                                       " from one fused pass.\n\n" + self.__doc__)
        self.grad.__doc__ = "Gradient of " + spec.name + ".\n\n" + self.__doc__

    def __call__(self, *args, **kwargs):
        return self._value(*args, **kwargs)

    @property
    def __signature__(self):
        import inspect

        return inspect.signature(self._value)

    def __repr__(self):
        return f"<fastloss loss {self.spec.name}>"
