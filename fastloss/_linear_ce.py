"""Fused linear cross-entropy on NumPy arrays: the loss of ``hidden @ weight.T + bias``
without the (N, V) logits ever existing.

    v = linear_cross_entropy(hidden, weight, target)
    v, (d_hidden, d_weight, d_bias) = linear_cross_entropy_value_and_grad(hidden, weight,
                                                                           target, bias)

For a language model's head the logits (tokens x vocabulary) are the largest tensor of a
training step; here they exist one chunk of rows at a time.  For each chunk of rows (of the
tokens whose target is not ``ignore_index``; ignored tokens cost nothing):

    logits = h_chunk @ W.T (+ b)                     NumPy matmul (BLAS), into one buffer
    fastloss.cross_entropy.value_and_grad(logits, t_chunk, reduction="sum", out=logits)
                                                     the fused kernel: value, and the
                                                     gradient G written over the logits
    dh_chunk = G @ W;  dW += G.T @ h_chunk;  db += G.sum(0)

and the mean's 1 / (number of tokens not ignored) is applied to the summed gradients at
the end.  ``dW += G.T @ h`` runs as one BLAS gemm with beta = 1 (SciPy's BLAS wrappers)
where SciPy is installed, so no (V, H) temporary is made; without SciPy one (V, H)
buffer is added in.

Semantics are those of ``torch.nn.functional.cross_entropy(hidden @ weight.T + bias,
target, ignore_index=..., label_smoothing=..., reduction=...)`` with fastloss's rules
(see fastloss.cross_entropy): a mean over nothing (no token, or every target ignored) is
0.0 with zero gradients, never NaN; "none" gives one value per token (0 where ignored) and
the gradients of their sum.

Precision: float32 and float64 inputs compute in their own dtype; float16 inputs compute
in float32 (the weight is converted to float32 once, an extra V x H x 4 bytes; each chunk
of hidden as it is used).  The value's sum and the bias gradient accumulate in float64,
the weight gradient in the compute dtype (float32 or float64) across chunks.  Gradients
and the value are returned in the input's dtype.

Chunk size: ``chunk_size=None`` takes as many rows as fit ``CHUNK_BYTES`` (64 MiB) of
chunk logits in the compute dtype, at least ``MIN_CHUNK_ROWS`` (256, so that huge
vocabularies still get matmuls of an efficient size), at most the number of rows.
Measured on the 2-core development machine (the PyTorch CPU path, N = 4096, H = 1024,
V = 32000, float32, one forward + backward, median of 6 interleaved runs; peak memory
beyond the inputs, the unfused PyTorch path needing 1578 MB):

    chunk rows (MiB of logits)   262 (32)   393 (48)   524 (64)   1048 (128)
    time                         4.81 s     4.69 s     4.61 s     4.43 s
    peak memory                  191 MB                225 MB     292 MB
    peak vs unfused PyTorch      12.1%                 14.2%      18.5%

64 MiB is the largest budget that keeps the step's peak under 15% of the unfused path
at this size; the time differs by a few per cent across the range.  Set chunk_size
smaller to save memory (the gradients themselves, V x H and N x H, are the floor), larger
for a little speed; below ~256 rows the matmuls lose efficiency (128 rows took ~1.3x the
time of 524 rows in a run on the loaded machine).
"""
import numpy as np

from . import _checks as ck
from . import _hostops

CHUNK_BYTES = 64 * 2**20
MIN_CHUNK_ROWS = 256
_HALF = np.dtype(np.float16)
_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
_REDUCTIONS = ("mean", "sum", "none")


def default_chunk_size(n_rows, vocab, itemsize=4):
    """Rows per chunk for chunk_size=None: CHUNK_BYTES of logits of `itemsize` bytes, at
    least MIN_CHUNK_ROWS, at most n_rows (and at least 1)."""
    rows = max(MIN_CHUNK_ROWS, CHUNK_BYTES // max(1, vocab * itemsize))
    return max(1, min(rows, n_rows))


# ------------------------------------------------------------------- checks ----

def _float_matrix(a, name, ndim, dims):
    if ck.is_device(a):
        raise TypeError(f"{name}: expected a NumPy array, got a GPU array "
                        f"({type(a).__name__}); use fastloss.torch.linear_cross_entropy "
                        "for PyTorch tensors")
    arr = ck.array(a)
    if arr.dtype.kind == "f" and arr.dtype.newbyteorder("=") in _DTYPES \
            and arr.dtype not in _DTYPES:
        arr = arr.astype(arr.dtype.newbyteorder("="))     # non-native byte order
    if arr.dtype not in _DTYPES:
        raise TypeError(f"{name}: expected a floating-point array (float16, float32 or "
                        f"float64), got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected shape {dims}, got {ck.shape_str(arr.shape)}")
    return arr


class _Args:
    """Validated arguments of one call."""

    __slots__ = ("hidden", "weight", "bias", "t64", "ignore_index", "label_smoothing",
                 "reduction", "chunk_size", "n_threads", "dtype", "ct", "n", "h", "v",
                 "rows", "count")


def _check(hidden, weight, target, bias, ignore_index, label_smoothing, reduction,
           chunk_size, n_threads):
    from ._api import threads
    a = _Args()
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"reduction: expected one of {', '.join(map(repr, _REDUCTIONS))}; "
                         f"got {reduction!r}")
    a.reduction = reduction
    a.ignore_index = ck.integer(ignore_index, "ignore_index")
    a.label_smoothing = ck.number(label_smoothing, "label_smoothing", 0.0, 1.0)
    a.n_threads = threads(n_threads)
    h = _float_matrix(hidden, "hidden", 2, "(N, H)")
    w = _float_matrix(weight, "weight", 2, "(V, H)")
    if w.dtype != h.dtype:
        raise TypeError(f"weight: dtype {w.dtype} does not match hidden's dtype {h.dtype}")
    if w.shape[1] != h.shape[1]:
        raise ValueError(f"weight: shape {ck.shape_str(w.shape)} does not match hidden "
                         f"{ck.shape_str(h.shape)}; expected (V, {h.shape[1]})")
    if w.shape[0] == 0:
        raise ValueError("weight: needs at least one class (V >= 1), got V = 0")
    a.n, a.h = h.shape
    a.v = w.shape[0]
    if bias is not None:
        b = _float_matrix(bias, "bias", 1, f"({a.v},)")
        if b.dtype != h.dtype:
            raise TypeError(f"bias: dtype {b.dtype} does not match hidden's dtype {h.dtype}")
        if b.shape != (a.v,):
            raise ValueError(f"bias: shape {ck.shape_str(b.shape)} does not match weight's "
                             f"{a.v} classes; expected ({a.v},)")
        bias = b
    if ck.is_device(target):
        raise TypeError(f"target: expected a NumPy array, got a GPU array "
                        f"({type(target).__name__})")
    t = ck.array(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"target: expected integer class indices, got dtype {t.dtype}")
    if t.shape != (a.n,):
        raise ValueError(f"target: shape {ck.shape_str(t.shape)} does not match hidden's "
                         f"{a.n} rows; expected ({a.n},)")
    t64 = _hostops.int64_targets(t, a.v)
    bad = _hostops.find_bad_class_index(t64, a.v, a.ignore_index)
    if bad >= 0:
        raise ValueError(f"target: class index {t64[bad]} at position {bad} is out of range "
                         f"for {a.v} classes (valid: 0 to {a.v - 1}, or ignore_index="
                         f"{a.ignore_index})")
    a.dtype = h.dtype
    a.ct = np.dtype(np.float32) if h.dtype == _HALF else h.dtype
    valid = t64 != a.ignore_index
    a.count = int(np.count_nonzero(valid))
    # the rows that are computed: all (a slice per chunk) or the ones not ignored
    a.rows = None if a.count == a.n else np.flatnonzero(valid)
    if chunk_size is None:
        a.chunk_size = default_chunk_size(a.count, a.v, a.ct.itemsize)
    else:
        a.chunk_size = ck.integer(chunk_size, "chunk_size", 1)
    a.hidden, a.weight, a.bias, a.t64 = h, w, bias, t64
    return a


# --------------------------------------------------------------- the chunks ----

def _gemm_accumulate():
    """dW += G.T @ h for C-contiguous arrays, without a (V, H) temporary: SciPy's BLAS gemm
    with beta = 1 on the Fortran-ordered transposes; None without SciPy."""
    try:
        from scipy.linalg import blas
    except ImportError:          # pragma: no cover - SciPy is optional
        return None
    gemms = {np.dtype(np.float32): blas.sgemm, np.dtype(np.float64): blas.dgemm}

    def acc(dW, G, hc):
        # dW.T (H, V) += hc.T (H, k) @ G (k, V); every operand Fortran-ordered: no copies
        r = gemms[dW.dtype](1.0, hc.T, G.T, beta=1.0, c=dW.T, trans_b=1, overwrite_c=1)
        if r.ctypes.data != dW.ctypes.data:           # pragma: no cover - a copy was made
            dW[...] = r.T
    return acc


_UNSET = object()
_ACC = _UNSET           # set on first use: importing SciPy keeps `import fastloss` light


def _accumulator():
    global _ACC
    if _ACC is _UNSET:
        _ACC = _gemm_accumulate()
    return _ACC


def _run(a, want_grad):
    """The value (and the gradients) of a checked call, chunk by chunk."""
    from . import cross_entropy
    n, v, ct = a.n, a.v, a.ct
    w = a.weight if a.weight.dtype == ct else a.weight.astype(ct)
    b = None if a.bias is None else a.bias.astype(ct, copy=False)
    none = a.reduction == "none"
    red = "none" if none else "sum"
    values = np.zeros(n, ct) if none else None
    total = 0.0
    if want_grad:
        dh = (np.empty if a.rows is None else np.zeros)((n, a.h), a.dtype)
        dW = np.zeros((v, a.h), ct)
        db = None if b is None else np.zeros(v, np.float64)
        tmp = None
    m = a.count
    cs = min(a.chunk_size, m)
    buf = np.empty((cs, v), ct) if m else None
    kw = dict(ignore_index=a.ignore_index, label_smoothing=a.label_smoothing,
              reduction=red, n_threads=a.n_threads)
    acc = _accumulator() if want_grad else None
    for s in range(0, m, max(cs, 1)):
        e = min(s + cs, m)
        if a.rows is None:
            idx = slice(s, e)
        else:
            idx = a.rows[s:e]
        hc = a.hidden[idx]
        if hc.dtype != ct or not hc.flags.c_contiguous:
            hc = np.ascontiguousarray(hc, dtype=ct)
        tc = a.t64[idx]
        lg = buf[:e - s]
        np.matmul(hc, w.T, out=lg)
        if b is not None:
            lg += b
        if want_grad:
            val, _ = cross_entropy.value_and_grad(lg, tc, out=lg, **kw)
        else:
            val = cross_entropy(lg, tc, **kw)
        if none:
            values[idx] = val
        else:
            total += float(val)
        if not want_grad:
            continue
        # lg now holds G = d(sum of the chunk's losses) / d logits
        if a.rows is None and dh.dtype == ct:
            np.matmul(lg, w, out=dh[idx])
        else:
            dh[idx] = lg @ w
        if acc is not None:
            acc(dW, lg, hc)
        else:                                           # no SciPy
            if tmp is None:
                tmp = np.empty_like(dW)
            np.matmul(lg.T, hc, out=tmp)
            dW += tmp
        if db is not None:
            db += lg.sum(axis=0, dtype=np.float64)
    if none:
        value = values.astype(a.dtype, copy=False)
        scale = 1.0
    elif a.reduction == "sum":
        value = a.dtype.type(total)
        scale = 1.0
    else:
        # a mean over nothing is 0.0 with zero gradients (fastloss's rule; torch: NaN)
        value = a.dtype.type(total / m if m else 0.0)
        scale = 1.0 / m if m else 0.0
    if not want_grad:
        return value
    if scale != 1.0:
        dh *= dh.dtype.type(scale)
        dW *= ct.type(scale)
        if db is not None:
            db *= scale
    dW = dW.astype(a.dtype, copy=False)
    db = None if db is None else db.astype(a.dtype)
    return value, (dh, dW, db)


# ---------------------------------------------------------------- the API ----

_DOC = """
Parameters
----------
hidden : array (N, H) of float16, float32 or float64
    The last hidden states, one row per token (reshape (B, T, H) to (B * T, H)).
weight : array (V, H) of hidden's dtype
    The output projection (a language model's head), one row per class.
target : integer array (N,)
    Class indices in [0, V), or ignore_index (such tokens count nowhere).
bias : array (V,) of hidden's dtype, or None
ignore_index : int, default -100
label_smoothing : float in [0, 1], default 0.0
reduction : "mean", "sum" or "none", default "mean"
    "mean" divides by the number of tokens not ignored (as torch's cross_entropy without
    class weights; 0.0 when there are none); "none" gives one value per token (0 where
    ignored) and the gradients of their sum.
chunk_size : int >= 1 or None
    Rows (tokens not ignored) per chunk; None: 64 MiB of chunk logits (at least 256 rows).
    Peak extra memory is about chunk_size x V x 4 bytes beyond the gradients.
n_threads : int or None (keyword-only)
    Threads of the fused cross-entropy kernel (as every fastloss loss); the matmuls use
    BLAS's own threads.

Bad arguments raise TypeError or ValueError naming the argument before anything is
computed.
"""


def linear_cross_entropy(hidden, weight, target, bias=None, ignore_index=-100,
                         label_smoothing=0.0, reduction="mean", chunk_size=None, *,
                         n_threads=None):
    a = _check(hidden, weight, target, bias, ignore_index, label_smoothing, reduction,
               chunk_size, n_threads)
    return _run(a, False)


def linear_cross_entropy_value_and_grad(hidden, weight, target, bias=None, ignore_index=-100,
                                        label_smoothing=0.0, reduction="mean",
                                        chunk_size=None, *, n_threads=None):
    a = _check(hidden, weight, target, bias, ignore_index, label_smoothing, reduction,
               chunk_size, n_threads)
    return _run(a, True)


linear_cross_entropy.__doc__ = (
    "Cross-entropy of the logits hidden @ weight.T + bias, computed in chunks of rows so "
    "that the (N, V) logits never exist; the value, as\n"
    "torch.nn.functional.cross_entropy(hidden @ weight.T + bias, target, ...).\n" + _DOC)
linear_cross_entropy_value_and_grad.__doc__ = (
    "Value and gradients of linear_cross_entropy: (value, (d_hidden, d_weight, d_bias)), "
    "d_bias None without a bias; each gradient of its input's shape and dtype.\n" + _DOC)

# as fastloss's losses: fl.linear_cross_entropy.value_and_grad(...)
linear_cross_entropy.value_and_grad = linear_cross_entropy_value_and_grad
