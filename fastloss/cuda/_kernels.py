"""The CUDA backend's counterpart of the CPU binding (fastloss._cpu._kernels) and of the
host array helpers (fastloss._hostops): the same names and arguments, on Numba device
arrays.  The preparations of fastloss._losses and fastloss._groups take this module for
GPU inputs (see fastloss._checks.ops), so that one preparation serves both backends.

Validation scans run on the device and copy one index back; nothing else leaves it."""
import numpy as np
from numba import cuda, float64, int64

from . import _elementwise, _softmax
from ._runtime import EW_THREADS, RED_THREADS, block_sum, current, grid_for

FL_AUX_FULL = 1
_CPU = None


def _cpu():
    global _CPU
    if _CPU is None:
        from .._cpu import _kernels as cpu
        _CPU = ({v: k for k, v in cpu.EW_OPS.items()}, {v: k for k, v in cpu.ROW_OPS.items()})
    return _CPU


def max_threads():
    return 1


# ---------------------------------------------------------------- kernels ----

def cross_entropy(x, target, soft, class_w, sample_w, ignore_index, label_smoothing, red,
                  loss_out, grad, n_threads, s=1, z_loss=0.0, nll=False, correct=None):
    return _softmax.cross_entropy(x, target, soft, class_w, sample_w, ignore_index,
                                  label_smoothing, red, loss_out, grad, s, z_loss, nll,
                                  correct)


def binary_cross_entropy_with_logits(x, t, w, w_layout, pw, pw_layout, sample_w, red,
                                     loss_out, grad, n_threads):
    return _elementwise.run("binary_cross_entropy_with_logits", x, t, None, w, w_layout, pw,
                            pw_layout, sample_w, (), red, loss_out, grad, None, False)


def elementwise(op, x, t, y, w, w_layout, sample_w, params, red, loss_out, grad, grad2,
                n_threads, w_denom=False, grad3=None):
    return _elementwise.run(_cpu()[0][op], x, t, y, w, w_layout, None, 0, sample_w, params,
                            red, loss_out, grad, grad2, w_denom, grad3)


def rowwise(op, x, s, x2, x3, target, t, rt, class_w, sample_w, params, ignore_index, denom,
            red, loss_out, grad, grad2, grad3, n_threads):
    name = _cpu()[1][op]
    if name in _softmax.ROW_OPS:
        return _softmax.rowwise(name, x, target, class_w, sample_w, params, ignore_index,
                                denom, red, loss_out, grad)
    from . import _rows
    return _rows.run(name, x, s, x2, x3, target, t, rt, class_w, sample_w, params,
                     ignore_index, denom, red, loss_out, grad, grad2, grad3)


# ------------------------------------------------------------- validation ----

@cuda.jit
def _first_bad_class(t, c, ignore_index, out):
    for i in range(cuda.grid(1), t.size, cuda.gridDim.x * cuda.blockDim.x):
        y = t[i]
        if y != ignore_index and (y < 0 or y >= c):
            cuda.atomic.min(out, 0, i)


@cuda.jit
def _first_outside(a, lo, hi, opn, out):
    for i in range(cuda.grid(1), a.size, cuda.gridDim.x * cuda.blockDim.x):
        v = float64(a[i])
        if v < lo or v > hi or (opn and (v == lo or v == hi)):
            cuda.atomic.min(out, 0, i)


@cuda.jit
def _first_not_in(a, p, q, out):
    for i in range(cuda.grid(1), a.size, cuda.gridDim.x * cuda.blockDim.x):
        v = float64(a[i])
        if not (v == p or v == q):
            cuda.atomic.min(out, 0, i)


@cuda.jit
def _first_nonfinite(a, out):
    for i in range(cuda.grid(1), a.size, cuda.gridDim.x * cuda.blockDim.x):
        v = float64(a[i])
        if not (v - v == 0.0):
            cuda.atomic.min(out, 0, i)


def _scan(kernel, a, *args):
    """Run a first-index scan over the flat a; the index found, or -1."""
    ctx = current()
    flat = contiguous(a).reshape(a.size)
    if flat.size == 0:
        return -1
    out = cuda.to_device(np.array([np.iinfo(np.int64).max], np.int64), stream=ctx.stream)
    kernel[grid_for(flat.size), EW_THREADS, ctx.stream](flat, *args, out)
    i = int(out.copy_to_host(stream=ctx.stream)[0])
    return -1 if i == np.iinfo(np.int64).max else i


def find_bad_class_index(t, c, ignore_index):
    return _scan(_first_bad_class, t, c, ignore_index)


def find_outside(a, lo, hi, open=False):
    return _scan(_first_outside, a, float(lo), float(hi), bool(open))


def find_not_in(a, p, q):
    return _scan(_first_not_in, a, float(p), float(q))


def find_nonfinite(a):
    return _scan(_first_nonfinite, a)


def accuracy(correct, t64, ignore_index, sw, s):
    """fastloss._hostops.accuracy of device arrays: the hits, targets and weights (n
    bytes and 8 n bytes, against the n * C logits the kernel read) are copied back and
    counted on the host, whose float the call returns anyway."""
    from .. import _hostops
    st = current().stream
    return _hostops.accuracy(correct.copy_to_host(stream=st), t64.copy_to_host(stream=st),
                             ignore_index, None if sw is None else sw.copy_to_host(stream=st),
                             s)


# ---------------------------------------------------------- array helpers ----

def item(a, i):
    """Element i of the flat a, on the host (for an error message)."""
    return contiguous(a).reshape(a.size)[i]


_GATHER = {}


def _gather_kernel(nd):
    """out (flat, C order of `shape`) = src broadcast to `shape` (src of nd dimensions,
    any strides; a dimension of size 1 broadcasts)."""
    k = _GATHER.get(nd)
    if k is None:
        idx = ", ".join(f"(i{d} if src.shape[{d}] > 1 else 0)" for d in range(nd))
        lines = ["def gather(src, shape, out):",
                 "    for e in range(cuda.grid(1), out.size, cuda.gridDim.x * cuda.blockDim.x):",
                 "        r = e"]
        for d in reversed(range(nd)):
            lines += [f"        i{d} = r % shape[{d}]", f"        r = r // shape[{d}]"]
        lines.append(f"        out[e] = src[{idx}]" if nd else "        out[e] = src[()]")
        ns = {"cuda": cuda}
        exec("\n".join(lines), ns)
        k = _GATHER[nd] = cuda.jit(ns["gather"])
    return k


def broadcast_copy(a, shape, dtype=None):
    """A new C-contiguous device array of `shape` (and dtype) holding a broadcast to it."""
    ctx = current()
    dtype = np.dtype(dtype or a.dtype)
    shape = tuple(int(d) for d in shape)
    nd = len(shape)
    if a.ndim < nd:
        a = contiguous(a).reshape((1,) * (nd - a.ndim) + tuple(a.shape))
    out = ctx.empty(int(np.prod(shape, dtype=np.int64)), dtype)
    if out.size:
        shp = cuda.to_device(np.array(shape or (1,), np.int64), stream=ctx.stream)
        src = a if nd else a.reshape(())
        _gather_kernel(nd)[grid_for(out.size), EW_THREADS, ctx.stream](src, shp, out)
    return out.reshape(shape)


def contiguous(a, dtype=None):
    """a as a C-contiguous device array of `dtype` (a itself when it already is)."""
    if (dtype is None or np.dtype(dtype) == a.dtype) and a.is_c_contiguous():
        return a
    return broadcast_copy(a, a.shape, dtype)


def kernel_form(a, shape):
    return contiguous(a).reshape(shape)


def empty(shape, dtype):
    return current().empty(shape, dtype)


@cuda.jit
def _fill(out, v):
    for e in range(cuda.grid(1), out.size, cuda.gridDim.x * cuda.blockDim.x):
        out[e] = v


def full(shape, value, dtype):
    ctx = current()
    out = ctx.empty(int(np.prod(shape, dtype=np.int64)), dtype)
    if out.size:
        _fill[grid_for(out.size), EW_THREADS, ctx.stream](out, np.dtype(dtype).type(value))
    return out.reshape(shape)


@cuda.jit
def _divided(a, d, out):
    for e in range(cuda.grid(1), a.size, cuda.gridDim.x * cuda.blockDim.x):
        out[e] = a[e] / d


def divided(a, d):
    """a / d in a's dtype (a new array)."""
    ctx = current()
    flat = contiguous(a).reshape(a.size)
    out = ctx.empty(a.size, a.dtype)
    if a.size:
        _divided[grid_for(a.size), EW_THREADS, ctx.stream](flat, a.dtype.type(d), out)
    return out.reshape(a.shape)


@cuda.jit
def _sum_middle(a, out):
    """out[i, j] = sum_k a[i, k, j] in float64, one block per output element."""
    sh = cuda.shared.array(RED_THREADS, float64)
    A, K, B = a.shape
    for o in range(cuda.blockIdx.x, A * B, cuda.gridDim.x):
        i = o // B
        j = o - i * B
        acc = 0.0
        for k in range(cuda.threadIdx.x, K, cuda.blockDim.x):
            acc += float64(a[i, k, j])
        s = block_sum(acc, sh)
        if cuda.threadIdx.x == 0:
            out[i, j] = s


def sum_middle(a3, out2):
    """out2 (A, B) = a3 (A, K, B) summed over K in float64, in a fixed order."""
    ctx = current()
    A, _, B = a3.shape
    if A * B:
        _sum_middle[max(1, min(A * B, 65535)), RED_THREADS, ctx.stream](a3, out2)
    return out2


@cuda.jit
def _to_int64(t, out, bad):
    for i in range(cuda.grid(1), t.size, cuda.gridDim.x * cuda.blockDim.x):
        v = t[i]
        if v > 9223372036854775807:
            cuda.atomic.min(bad, 0, i)
        out[i] = int64(v)


def int64_targets(t, c):
    """Class targets of any integer dtype as C-contiguous int64 (t's shape); a uint64
    index beyond int64 raises rather than wrapping around."""
    if t.dtype == np.int64:
        return contiguous(t)
    flat = contiguous(t).reshape(t.size)
    if t.dtype.kind == "u" and t.dtype.itemsize == 8:
        ctx = current()
        out = ctx.empty(t.size, np.int64)
        bad = cuda.to_device(np.array([np.iinfo(np.int64).max], np.int64), stream=ctx.stream)
        if t.size:
            _to_int64[grid_for(t.size), EW_THREADS, ctx.stream](flat, out, bad)
        i = int(bad.copy_to_host(stream=ctx.stream)[0])
        if i != np.iinfo(np.int64).max:
            raise ValueError(f"target: class index {int(flat[i])} is out of range for {c} "
                             "classes")
        return out.reshape(t.shape)
    return contiguous(t, np.int64)


def total(a):
    """sum(a) as a Python float (a check's scalar, on the host)."""
    from ._reduce import array_sum
    return float(array_sum(contiguous(a).reshape(a.size)).copy_to_host()[0])


def extreme(a, which):
    """min or max of a as a host scalar, for an error message (which: 'min' or 'max')."""
    h = contiguous(a).copy_to_host()
    return h.min() if which == "min" else h.max()


def _span(a):
    """(first byte, end) of a device array's memory."""
    if hasattr(a, "__cuda_array_interface__"):
        p = a.__cuda_array_interface__["data"][0]
    else:   # the simulator's arrays hold a NumPy array
        p = a._ary.__array_interface__["data"][0]
    return p, p + a.size * a.dtype.itemsize


def out_array(out, shape, dtype, others, name="out"):
    """fastloss._checks.out_array for device arrays: the input's shape and dtype,
    C-contiguous, and the kernel's input itself (others[0]) or disjoint from every array
    the kernel reads."""
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"{name}: shape {tuple(out.shape)} does not match the input's shape "
                         f"{tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{name}: dtype {out.dtype} does not match the input's dtype {dtype}")
    if not out.is_c_contiguous():
        raise ValueError(f"{name}: must be C-contiguous")
    o0, o1 = _span(out)
    x = others[0]
    x0, x1 = _span(x)
    if o0 < x1 and x0 < o1 and (o0, o1) != (x0, x1):
        raise ValueError(f"{name}: overlaps the input without being the input itself")
    for a in others[1:]:
        if a is not None:
            a0, a1 = _span(a)
            if o0 < a1 and a0 < o1:
                raise ValueError(f"{name}: overlaps another argument (target, weights or "
                                 "another input); only its own input may be overwritten")
    return out
