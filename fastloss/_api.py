"""The Loss object: argument checks, reduction, dispatch to a backend.

Every public loss is a :class:`Loss` built from its entry in the loss table.  Its three
entry points have the exact signature of the table entry and are generated once from it,
with the checks of the scalar options as straight-line code, so that a small call costs a
few microseconds (see _generate):

    loss(input, target, ...)                       -> value
    loss.value_and_grad(input, target, ..., out=)  -> (value, grad), from one fused pass
    loss.grad(input, target, ..., out=)            -> grad

The layer knows nothing of SIMD or threads beyond the count it passes down.
"""
import numpy as np

from . import _checks as ck
from ._cpu import _kernels

VALUE, VALUE_AND_GRAD, GRAD = 0, 1, 2    # also the mode codes of the binding's fast paths
MAX_THREADS = 4096

_COMMON_DOC = """
Common keyword-only options
---------------------------
sample_weight : array of shape (N,) or None
    One finite, non-negative weight per sample.  With ``reduction="mean"`` the sum is
    divided by the total weight that applies.
backend : {"auto", "cpu", "cuda", "numpy"}
    "cpu" runs the compiled C kernels, "cuda" the Numba CUDA kernels (fastloss[cuda]),
    "numpy" the NumPy reference; "auto" is "cuda" for GPU arrays (anything with
    __cuda_array_interface__: PyTorch CUDA tensors, CuPy, Numba device arrays), whose
    results stay on the device, and "cpu" otherwise.  "cuda" with host arrays copies
    them to the device and the results back.
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


def _backend_code(backend):
    """1 for "numpy", 2 for "cuda" (the entry points test "auto"/"cpu", 0, first); raises
    for anything else."""
    return {"auto": 0, "cpu": 0, "numpy": 1, "cuda": 2}[ck.backend(backend)]


def _any_device(arrays):
    for a in arrays:
        if a.__class__ is not np.ndarray and ck.is_device(a):
            return True
    return False


def _device(spec, mode, out, inputs, params, red, sample_weight, backend, acc=False):
    """A call on the CUDA backend (fastloss.cuda, imported here, on first use)."""
    from .cuda import _call
    return _call.call(spec, mode, out, inputs, params, red, sample_weight, backend, acc)


def _no_accuracy(call):
    """Raises when return_accuracy=True meets a call whose kernel cannot count hits."""
    if call.acc is None:
        raise ValueError("return_accuracy: needs class-index targets (an integer target); "
                         "got class probabilities, whose predicted class has no single "
                         "right answer")


def with_accuracy(mode, result, accuracy):
    """The result of a call with return_accuracy=True: the accuracy appended, i.e.
    (value, accuracy), (value, grad, accuracy) or (grad, accuracy)."""
    if mode == VALUE_AND_GRAD:
        return result + (accuracy,)
    return result, accuracy


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


def _reference(spec, mode, out, inputs, params, reduction, red, sample_weight, acc=False):
    """A call on the NumPy reference (backend="numpy"), after the same checks."""
    if _any_device(inputs):
        raise ValueError("backend: 'numpy' takes host arrays, got a GPU array; use "
                         "backend='auto' or 'cuda'")
    call = spec.prepare(*inputs, *params, sample_weight)
    if acc:
        _no_accuracy(call)
        r = _reference(spec, mode, out, inputs, params, reduction, red, sample_weight)
        return with_accuracy(mode, r, spec.accuracy(**call.ref()))
    dtype = call.dtype
    if out is not None:
        out = _outs(out, call)
    shapes = (call.shape,) + tuple(s for _, s in call.more)
    value, g = spec.reference(**call.ref(), reduction=reduction)
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


def _compiled(spec, mode, out, inputs, params, red, sample_weight, nt, acc=False):
    """A call on the compiled kernels (the general path: any shape, option and layout);
    with acc, the kernel also marks the positions whose argmax is the target."""
    call = spec.prepare(*inputs, *params, sample_weight)
    if acc:
        _no_accuracy(call)
    dtype = call.dtype
    if out is not None:
        out = _outs(out, call)
    loss_out = np.empty(call.value_shape, dtype) if red == 0 else None
    if mode == VALUE:
        grad = None
    elif out is not None:
        grad = out
    elif call.more:
        grad = [np.empty(call.shape, dtype)]
        for _, shape in call.more:
            grad.append(np.empty(shape, dtype))
        grad = tuple(grad)
    else:
        grad = np.empty(call.shape, dtype)
    if acc:
        correct = np.empty(call.acc[0], np.uint8)
        v = call.cpu(red, loss_out, grad, nt, correct=correct)
    else:
        v = call.cpu(red, loss_out, grad, nt)
    value = loss_out[()] if red == 0 else dtype.type(v)
    r = value if mode == VALUE else (grad if mode == GRAD else (value, grad))
    return with_accuracy(mode, r, call.acc[1](correct)) if acc else r


def _check_source(p, ns):
    """Source lines that check scalar parameter `p` in place: a test of the common case
    (an exact float, int, bool or string already in range), else the full check of
    _checks, which converts the value or raises naming the argument."""
    v = p.name
    if p.kind == "array":
        return []
    if p.kind == "bool":
        return [f"    if {v} is not True and {v} is not False:",
                f"        {v} = _ck.boolean({v}, {v!r})"]
    if p.kind == "choice":
        ns[f"_choices_{v}"] = p.choices
        return [f"    if {v}.__class__ not in _PLAIN or {v} not in _choices_{v}:",
                f"        {v} = _ck.choice({v}, {v!r}, _choices_{v})"]
    if p.kind == "int":
        ns[f"_lo_{v}"] = -2**63 if p.low is None else p.low
        ns[f"_hi_{v}"] = 2**63 - 1 if p.high is None else p.high
        return [f"    if {v}.__class__ is not int or not _lo_{v} <= {v} <= _hi_{v}:",
                f"        {v} = _ck.integer({v}, {v!r}, _lo_{v}, _hi_{v})"]
    assert p.kind == "float", p
    ns[f"_args_{v}"] = (p.low, p.high, p.low_open, p.high_open)
    conds = []
    if p.low is not None:
        ns[f"_lo_{v}"] = p.low
        conds.append(f"_lo_{v} {'<' if p.low_open else '<='} {v}")
    if p.high is not None:
        ns[f"_hi_{v}"] = p.high
        conds.append(f"{v} {'<' if p.high_open else '<='} _hi_{v}")
    if not conds:
        conds.append(f"{v} == {v}")          # not NaN
    return [f"    if {v}.__class__ is not float or not ({' and '.join(conds)}):",
            f"        {v} = _ck.number({v}, {v!r}, *_args_{v})"]


def _generate(spec, mode):
    """An entry point with the loss's exact signature, its checks in straight-line code.

    In order, as every entry point checks them: reduction, backend, n_threads, then the
    scalar parameters of the table entry, then (in spec.prepare) the arrays.  The common
    case of each check is one type test and a comparison; anything else goes through the
    full check in _checks.  Then the call goes to the reference, to the loss's fast path
    (spec.fast: the common case whole, or None to decline) or to the general path."""
    sig = [f"{p.name}={p.default!r}" for p in spec.signature_params()]
    names = [p.name for p in spec.all_params()]
    kw = [f"{p.name}={p.default!r}" for p in spec.keyword_only]
    if spec.accuracy is not None:
        kw.append("return_accuracy=False")
    kw += ["sample_weight=None", "backend='auto'", "n_threads=None"]
    if mode != VALUE:
        kw.append("out=None")
    out = "out" if mode != VALUE else "None"
    inputs = ", ".join(spec.inputs)
    params = "".join(n + ", " for n in names)
    ns = {"_spec": spec, "_ck": ck, "_REDS": {r: ck.REDUCTIONS[r] for r in spec.reductions},
          "_ALLOWED": spec.reductions, "_CPU": frozenset(("auto", "cpu")),
          "_PLAIN": frozenset((str, int, float)), "_backend_code": _backend_code,
          "_ndarray": np.ndarray, "_any_device": _any_device, "_device": _device,
          "_max_threads": _kernels.max_threads, "_threads": threads,
          "_reference": _reference, "_compiled": _compiled, "_fast": spec.fast}
    lines = [f"def {spec.name}({inputs}, {', '.join(sig + ['*'] + kw)}):",
             "    _red = _REDS.get(reduction) if reduction.__class__ is str else None",
             "    if _red is None:",
             "        _red = _ck.reduction(reduction, _ALLOWED)",
             "    _be = 0 if backend.__class__ is str and backend in _CPU else "
             "_backend_code(backend)",
             "    _nt = _max_threads() if n_threads is None else _threads(n_threads)"]
    for p in spec.all_params():
        lines += _check_source(p, ns)
    first = spec.inputs[0]
    if spec.accuracy is not None:
        # the accuracy of the same pass: the general paths, each told to count hits
        lines += ["    if return_accuracy is not False and "
                  "_ck.boolean(return_accuracy, 'return_accuracy'):",
                  "        if _be == 1:",
                  f"            return _reference(_spec, {mode}, {out}, ({inputs},), "
                  f"({params}), reduction, _red, sample_weight, True)",
                  f"        if _be == 2 or ({first}.__class__ is not _ndarray and "
                  f"_any_device(({inputs},))):",
                  f"            return _device(_spec, {mode}, {out}, ({inputs},), ({params}), "
                  "_red, sample_weight, backend, True)",
                  f"        return _compiled(_spec, {mode}, {out}, ({inputs},), ({params}), "
                  "_red, sample_weight, _nt, True)"]
    lines += ["    if _be == 1:",
              f"        return _reference(_spec, {mode}, {out}, ({inputs},), ({params}), "
              "reduction, _red, sample_weight)",
              f"    if _be == 2 or ({first}.__class__ is not _ndarray and "
              f"_any_device(({inputs},))):",
              f"        return _device(_spec, {mode}, {out}, ({inputs},), ({params}), _red, "
              "sample_weight, backend)"]
    if spec.fast is not None:
        lines += [f"    _r = _fast({mode}, {out}, {inputs}, {params}sample_weight, _red, _nt)",
                  "    if _r is not None:",
                  "        return _r"]
    lines.append(f"    return _compiled(_spec, {mode}, {out}, ({inputs},), ({params}), _red, "
                 "sample_weight, _nt)")
    exec(compile("\n".join(lines) + "\n", f"<fastloss.{spec.name}>", "exec"), ns)
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
    if spec.accuracy is not None:
        lines += ["return_accuracy : bool, default False (keyword-only)",
                  "    also return the accuracy of the same pass (a float): the fraction of "
                  "the positions not ignored, weighted by sample_weight, whose argmax over the "
                  "classes (ties to the lowest class; a NaN logit counts as wrong) is the "
                  "target, 0.0 when none counts; appended to the result: (value, accuracy), "
                  "(value, grad, accuracy), (grad, accuracy).  Class-index targets only."]
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
