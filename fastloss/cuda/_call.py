"""A loss call on the CUDA backend (reached from fastloss._api for GPU arrays, or for
backend="cuda").

GPU arrays (anything with __cuda_array_interface__: PyTorch CUDA tensors, CuPy arrays,
Numba device arrays) are read in place through Numba views, on the caller's stream (see
_runtime.Context).  Results come back in the caller's kind of array, on the device: the
value as a 0-d array (or the per-sample values), the gradient of the input's shape.
bfloat16 and float16 PyTorch tensors are computed in float32 and their gradient and value
returned in their own dtype.  With backend="cuda", host arrays are copied to the device
and the results copied back (NumPy in, NumPy out)."""
import numpy as np

from .. import _checks as ck
from . import _runtime as rt

_HALF = ("torch.bfloat16", "torch.float16")


def _first_device(arrays):
    for a in arrays:
        if a is not None and ck.is_device(a):
            return a
    return None


def _low_precision(a):
    return rt.framework(a) == "torch" and str(a.dtype) in _HALF


class _Side:
    """How one call's arrays reach the kernels and its results the caller."""

    def __init__(self, ctx, host):
        self.ctx = ctx
        self.host = host            # host arrays in, host arrays out
        self.half = None            # the torch dtype of a bf16/fp16 input

    def device(self, a, is_input=False):
        """A Numba device array for argument a (None and Python scalars pass)."""
        if a is None or isinstance(a, (bool, int, float, np.generic)):
            return a
        if ck.is_device(a):
            if _low_precision(a):
                if is_input and self.half is None:
                    self.half = a.dtype
                a = a.float()
            return self.ctx.wrap(a)
        return self.ctx.to_device(np.asarray(a))

    def result(self, d, out=None):
        """The caller's array for device result d (copied into `out` when given)."""
        if d is None:
            return None
        if self.host:
            h = d.copy_to_host(stream=self.ctx.stream)
            if out is not None:
                out[...] = h
                return out
            return h
        r = self.ctx.public(d)
        if self.half is not None:
            r = r.to(self.half)
            if out is not None:
                out.copy_(r)
                return out
        return out if out is not None else r


def call(spec, mode, out, inputs, params, red, sample_weight, backend, acc=False):
    """Run `spec` on the CUDA backend; mode 0 value, 1 value and gradient, 2 gradient;
    with acc, the accuracy of the same pass appended (see fastloss._api.with_accuracy)."""
    first = _first_device(inputs)
    if backend == "cpu":
        raise ValueError(f"backend: 'cpu' takes host arrays, got a GPU array "
                         f"({type(first).__name__}); use backend='auto' or 'cuda'")
    if first is None and not rt.available():
        raise RuntimeError("backend: 'cuda' needs a CUDA device (none was found)")
    ctx = rt.Context(first)
    rt.set_current(ctx)
    side = _Side(ctx, first is None)
    dev_in = tuple(side.device(a, k == 0) for k, a in enumerate(inputs))
    kinds = [p.kind for p in spec.all_params()]
    dev_params = tuple(side.device(v) if kind == "array" else v
                       for v, kind in zip(params, kinds))
    c = spec.prepare(*dev_in, *dev_params, side.device(sample_weight))
    if acc:
        from .._api import _no_accuracy
        _no_accuracy(c)
    dtype = c.dtype
    if out is not None and side.host or side.half is not None:
        outs_user = out
        out = None                     # written from the device result at the end
    else:
        outs_user = None
    if out is not None:
        dev_out = tuple(side.device(o) for o in out) if c.more else side.device(out)
        from .._api import _outs
        _outs(dev_out, c)
        grad = dev_out
    elif mode == 0:
        grad = None
    else:
        shapes = (c.shape,) + tuple(s for _, s in c.more)
        gs = tuple(ctx.empty(s, dtype) for s in shapes)
        grad = gs if c.more else gs[0]
    loss_out = ctx.empty(c.value_shape, dtype) if red == 0 else None
    if acc:
        correct = ctx.empty(c.acc[0], np.uint8)
        v = c.cpu(red, loss_out, grad, 1, correct=correct)
    else:
        v = c.cpu(red, loss_out, grad, 1)
    value = side.result(loss_out if red == 0 else v)
    if side.host and red != 0:
        value = dtype.type(value[()])
    if mode == 0:
        return _with_acc(c, mode, value, correct) if acc else value
    if c.more:
        uo = outs_user if outs_user is not None else (None,) * len(grad)
        g = tuple(side.result(gk, ok) for gk, ok in zip(grad, uo))
    else:
        g = side.result(grad, outs_user)
    if out is not None:
        g = out
    r = g if mode == 2 else (value, g)
    return _with_acc(c, mode, r, correct) if acc else r


def _with_acc(c, mode, r, correct):
    from .._api import with_accuracy
    return with_accuracy(mode, r, c.acc[1](correct))
