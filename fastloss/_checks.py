"""Argument checks shared by every loss.

Each check raises before any kernel runs, with a message that starts with the argument's
name, and returns the argument in the form the kernels take (C-contiguous, the input's
float dtype), copying only when it has to.
"""
import numbers
import operator

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
REDUCTIONS = {"none": 0, "sum": 1, "mean": 2, "batchmean": 3}
BACKENDS = ("auto", "cpu", "numpy", "cuda")


def shape_str(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def is_device(a):
    """Whether `a` is a GPU array: it carries __cuda_array_interface__ (CuPy, PyTorch CUDA
    tensors, Numba device arrays) or is a Numba device array (also the simulator's)."""
    return type(a) is not np.ndarray and (hasattr(a, "__cuda_array_interface__") or
                                          type(a).__module__.startswith("numba.cuda"))


def ops(a):
    """The module of kernels and array helpers for `a`'s side: fastloss._hostops for host
    arrays, fastloss.cuda._kernels (same names) for device arrays."""
    if type(a) is np.ndarray or not is_device(a):
        from . import _hostops
        return _hostops
    from .cuda import _kernels
    return _kernels


def array(a):
    """`a` itself when it is a NumPy or device array, else np.asarray(a)."""
    return a if type(a) is np.ndarray or is_device(a) else np.asarray(a)


def float_input(a, name):
    """An array of float32 or float64 (the dtype the loss computes in)."""
    arr = array(a)
    if arr.dtype not in FLOAT_DTYPES and arr.dtype.kind == "f" \
            and arr.dtype.newbyteorder("=") in FLOAT_DTYPES:
        arr = arr.astype(arr.dtype.newbyteorder("="))   # non-native byte order: convert
    if arr.dtype not in FLOAT_DTYPES:
        kind = arr.dtype.kind
        if kind == "f":
            raise TypeError(f"{name}: dtype {arr.dtype} is not supported; use float32 or "
                            "float64 (cast half precision to float32)")
        raise TypeError(f"{name}: expected a floating-point array (float32 or float64), "
                        f"got dtype {arr.dtype}")
    return arr


def real_array(a, name, dtype, shape):
    """A real-valued array (bool, int or float) of exactly `shape`, cast to `dtype`."""
    arr = array(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a real-valued array, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"{name}: shape {shape_str(arr.shape)} does not match the input's "
                         f"shape {shape_str(shape)}")
    if type(arr) is np.ndarray:
        return np.asarray(arr, dtype=dtype, order="C")
    return ops(arr).contiguous(arr, dtype)


def nonnegative_weights(a, name, dtype):
    """A real array of finite, non-negative weights, cast to `dtype` (not reshaped)."""
    arr = array(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a real-valued array, got dtype {arr.dtype}")
    if type(arr) is not np.ndarray:
        return _device_weights(arr, name, dtype)
    if arr.size:
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ValueError(f"{name}: weights must be finite (found NaN or inf)")
        if arr.min() < 0:
            raise ValueError(f"{name}: weights must be non-negative (found {arr.min()!r})")
    with np.errstate(over="ignore"):
        out = np.asarray(arr, dtype=dtype, order="C")
    if out.size and not np.isfinite(out).all():
        raise ValueError(f"{name}: weights overflow the input's dtype {dtype} "
                         f"(largest {arr.max()!r})")
    return out


def _device_weights(arr, name, dtype):
    """nonnegative_weights of a device array: the scans run on the device."""
    k = ops(arr)
    if arr.size:
        if arr.dtype.kind == "f" and k.find_nonfinite(arr) >= 0:
            raise ValueError(f"{name}: weights must be finite (found NaN or inf)")
        if k.find_outside(arr, 0.0, np.inf) >= 0:
            raise ValueError(f"{name}: weights must be non-negative (found "
                             f"{k.extreme(arr, 'min')!r})")
    out = k.contiguous(arr, dtype)
    if out.size and k.find_nonfinite(out) >= 0:
        raise ValueError(f"{name}: weights overflow the input's dtype {dtype} "
                         f"(largest {k.extreme(arr, 'max')!r})")
    return out


def sample_weight(sw, n, dtype, batched=True):
    """One weight per sample: shape (n,) for a batch, () for a single sample."""
    if sw is None:
        return None
    arr = nonnegative_weights(sw, "sample_weight", dtype)
    want = (n,) if batched else ()
    if arr.shape != want:
        raise ValueError(f"sample_weight: shape {shape_str(arr.shape)} does not match the "
                         f"number of samples; expected {shape_str(want)}")
    return arr.reshape(n if batched else 1)


def number(v, name, low=None, high=None, low_open=False, high_open=False):
    """A real scalar in the given (closed unless said open) interval, as a float."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(v).__name__}")
    f = float(v)
    bad = f != f
    if low is not None:
        bad = bad or (f <= low if low_open else f < low)
    if high is not None:
        bad = bad or (f >= high if high_open else f > high)
    if bad:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        rng = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
        raise ValueError(f"{name}: must lie in {rng}, got {v!r}")
    return f


def integer(v, name, low=-2**63, high=2**63 - 1):
    """An integer in [low, high] (by default, what an int64 holds)."""
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name}: expected an integer, got bool")
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(f"{name}: expected an integer, got {type(v).__name__}") from None
    if not low <= i <= high:
        raise ValueError(f"{name}: must lie in [{low}, {high}], got {i}")
    return i


def boolean(v, name):
    """A bool (Python or NumPy)."""
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {type(v).__name__}")
    return bool(v)


def choice(v, name, allowed):
    """One of the allowed values (strings, or numbers compared by value)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (str, numbers.Real)) \
            or v not in allowed:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, allowed))}; got {v!r}")
    return v


def reduction(r, allowed):
    if not isinstance(r, str) or r not in allowed:
        raise ValueError(f"reduction: expected one of {', '.join(map(repr, allowed))}; got {r!r}")
    return REDUCTIONS[r]


def backend(b):
    if not isinstance(b, str) or b not in BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(map(repr, BACKENDS))}; got {b!r}")
    return b


def out_array(out, shape, dtype, others, name="out"):
    """A preallocated gradient: the input's shape and dtype, C-contiguous, writable, and
    either the kernel's input array itself (others[0]) or disjoint from every array it
    reads (the rest of others)."""
    if not isinstance(out, np.ndarray):
        if is_device(out) and is_device(others[0]):
            from .cuda import _kernels
            return _kernels.out_array(out, shape, dtype, others, name)
        raise TypeError(f"{name}: expected a NumPy array, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"{name}: shape {shape_str(out.shape)} does not match the input's "
                         f"shape {shape_str(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{name}: dtype {out.dtype} does not match the input's dtype {dtype}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name}: must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError(f"{name}: is read-only")
    x = others[0]
    if out is not x and np.may_share_memory(out, x):
        # both are C-contiguous: the same start and size is the same memory
        same = (out.__array_interface__["data"][0] == x.__array_interface__["data"][0]
                and out.nbytes == x.nbytes)
        if not same:
            raise ValueError(f"{name}: overlaps the input without being the input itself")
    for a in others[1:]:
        if a is not None and np.may_share_memory(out, a):
            raise ValueError(f"{name}: overlaps another argument (target, weights or another "
                             "input); only its own input may be overwritten")
    return out
