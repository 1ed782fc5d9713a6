"""Regularizers: penalty terms for training and fine-tuning, with their gradients and
proximal operators, from compiled one-pass kernels.

    import fastloss as fl
    from fastloss import regularizers as reg

    params = {"W": W, "b": b}                              # a model's parameters
    v = reg.l2(params, 1e-4)                               # 0.5 * 1e-4 * sum of squares
    v, grads = reg.l2.value_and_grad(params, 1e-4)         # grads: {"W": ..., "b": ...}
    reg.l1.prox(params, 1e-3, lr)                          # soft-thresholding, in place
    v, g = reg.total((loss_value, {"W": dW}), reg.l2.value_and_grad(params, 1e-4))
                                                           # loss + penalty, gradients added

Penalties (the arguments after ``params``, in this order; ``step`` last in ``prox``):

    l1(params, strength)                 strength * sum |w|
    l2(params, strength)                 0.5 * strength * ||w||^2
    elastic_net(params, alpha, l1_ratio) alpha * l1_ratio * ||w||_1
                                           + 0.5 * alpha * (1 - l1_ratio) * ||w||^2
    group_lasso(params, strength, axis)  strength * sum over groups g of ||w_g||_2
    l2_sp(params, reference, alpha, beta)
                                         alpha / 2 * ||w - w0||^2 over parameters with a
                                         pre-trained value w0, beta / 2 * ||w||^2 over new ones

Each is an object: ``r(params, ...)`` gives the value, ``r.value_and_grad(params, ...)``
gives ``(value, grads)``, ``r.grad(params, ...)`` the gradients, and
``r.prox(params, ..., step)`` applies the proximal operator
``prox(v) = argmin_w ||w - v||^2 / (2 step) + penalty(w)`` in place and returns ``params``.

Parameters
----------
params
    One array, a list or tuple of arrays, or a dict of named arrays (a model's
    parameters): float32 or float64 NumPy arrays, or GPU arrays (anything with
    ``__cuda_array_interface__``: PyTorch CUDA tensors, CuPy arrays, Numba device
    arrays), which run on the CUDA kernels and whose gradients stay on the device.
    ``grads`` has the container shape of ``params`` (same keys or positions), each
    gradient of its array's shape and dtype.  The value is a Python float: each array's
    sum is taken in float64 in the same pass as its gradient (one pass over memory per
    array), and the arrays' sums are added in float64.
strength, alpha, beta, l1_ratio
    A number for every array, or per array: a dict name -> number for dict params (names
    left out get no penalty: strength, alpha and beta 0, and l1_ratio 0.5, scikit-learn's
    default; a name that is not a parameter is an error) or a list of one number per
    array for list params.  Strengths must be finite and non-negative, l1_ratio in [0, 1].
frozen : keyword-only
    Parts that are not trained: a set (or list) of names for dict params or of indices for
    list params (whole arrays), or a dict (list) of boolean masks per array, True marking a
    frozen element (a mask broadcasts to its array's shape; True / False freeze an array
    whole or not at all); for a single array, a mask.  Frozen elements add nothing to the
    value, get an exactly zero gradient and are left untouched by ``prox``.  As the
    losses' weights, a frozen element adds 0 * its term: a NaN or inf in a frozen element
    still makes the value and that gradient NaN (``prox`` keeps it as it is).  A mask costs
    one conversion of its array's size per call.
out : keyword-only, value_and_grad and grad
    Preallocated gradient arrays in the container shape of params (same keys or length),
    each of its parameter's shape and dtype, C-contiguous and writeable; an array may be
    its parameter itself (the gradient overwrites it).  Returned as the gradients.
n_threads : keyword-only
    As the losses' (OpenMP threads of the CPU kernels; the value does not depend on it).
backend : keyword-only
    "auto" (CPU kernels for host arrays, CUDA kernels for GPU arrays), "cpu", "cuda"
    (GPU arrays only) or "numpy" (the NumPy reference, fastloss.reference.regularizers).

Conventions
-----------
- l2 has the 0.5: its gradient is ``strength * w``.  Keras' ``L2(k)`` is ``k * sum(w**2)``
  without the 0.5, so ``l2(params, 2 * k)`` equals Keras' ``L2(k)``; PyTorch's
  ``weight_decay=wd`` of SGD adds ``wd * w`` to the gradient: ``l2(params, wd)``.
- Weight decay: for plain SGD, adding the l2 gradient ``strength * w`` is the same as
  weight decay with the same coefficient (``w -= lr * (g + wd * w)``).  For adaptive
  optimizers (Adam, RMSprop, Adagrad) it is not: the l2 gradient is divided by the
  adaptive scale along with the loss gradient, while decoupled weight decay (AdamW,
  Loshchilov & Hutter 2019) applies ``w -= lr * wd * w`` outside the adaptive scaling.
  For AdamW's behaviour, do not add l2 to the gradient; apply the decay in the update
  (with plain SGD, ``l2.prox(params, wd, lr)``, ``w / (1 + lr * wd)``, is the implicit
  form of the same decay).
- elastic_net has scikit-learn's parametrization (``ElasticNet(alpha, l1_ratio)``'s
  penalty): l1_ratio = 1 is ``l1(alpha)``, l1_ratio = 0 is ``l2(alpha)``.
- group_lasso: each array is viewed as 2-D, ``(n0, n1 * ... * nk)`` (a 1-D array ``(n,)``
  as the column ``(n, 1)``, a 0-d array as ``(1, 1)``), and its groups are the rows of that
  view for ``axis=1`` (group i is ``w[i, :]``, its norm taken along axis 1: for a Linear
  weight ``(out, in)``, one group per output unit; for a conv weight
  ``(out, in, kh, kw)``, one per filter) or its columns for ``axis=0`` (group j is
  ``w[:, j]``, the norm along axis 0: for a Linear weight, one group per input feature).
  ``axis`` is the axis the norm runs along, as in ``np.linalg.norm(w2d, axis=axis)``.
  So a 1-D array (a bias) is one group with ``axis=0`` and one group per element (an l1
  penalty) with ``axis=1``.  Groups are not scaled by the square root of their size
  unless ``weighted=True`` (keyword-only; Yuan & Lin's ``sqrt(p_g)`` with p_g the group's
  length, the same for every group of one array).  With a mask, a group's norm is that of
  its trainable elements.  The gradient at a zero group is 0 (the minimal subgradient).
  Cost: rows are one pass (each row's norm, then its gradient from cache); columns are two
  reads of the array (the column norms in float64, then a pass scaling each element by
  its column's factor) and a float64 buffer of one row.
- l2_sp (Li, Grandvalet, Davoine 2018, "Explicit inductive bias for transfer learning
  with convolutional networks"): ``reference`` holds the pre-trained values w0, in the
  container shape of params: a dict (names absent from it, or None, are new parameters,
  penalized with beta; names of reference that params lacks are ignored, e.g. a replaced
  head), a list of the same length (None for new parameters), or an array (or None).
  Each w0 must have its parameter's shape; it is cast to the parameter's dtype (keep it
  in that dtype, and on the same device, to avoid a copy per call).

Proximal operators (``prox``, in place, ``step > 0``): l1 soft-thresholds by
``step * strength``; l2 divides by ``1 + step * strength``; elastic_net soft-thresholds by
``step * alpha * l1_ratio`` then divides by ``1 + step * alpha * (1 - l1_ratio)``;
group_lasso scales each group by ``max(0, 1 - step * strength / ||w_g||)``; l2_sp maps w
to ``(w + step * alpha * w0) / (1 + step * alpha)`` (and the l2 prox with beta for new
parameters).  One pass over each array, written over it.  Arrays must be writeable
(read-only arrays raise naming ``params``); non-contiguous NumPy arrays are computed in
a contiguous copy and written back, GPU arrays must be C-contiguous.

``total(loss_value_and_grad, *reg_value_and_grads)`` adds the values and adds each
regularizer's gradients to the loss's where they refer to the same parameter (same key
or position; None stands for zeros).
"""
import math
import numbers
from collections.abc import Mapping

import numpy as np

from . import _checks as ck

__all__ = ["l1", "l2", "elastic_net", "group_lasso", "l2_sp", "total", "Regularizer"]

VALUE, VALUE_AND_GRAD, GRAD, PROX = 0, 1, 2, 3
FL_AUX_FULL, FL_AUX_COL = 1, 2
_SUM = 1
_BACKENDS = ("auto", "cpu", "cuda", "numpy")


# ------------------------------------------------------------------ containers ----

class _Tree:
    """params as a flat list of arrays: kind "array", "list", "tuple" or "dict"."""

    def __init__(self, params):
        if type(params) is np.ndarray:
            self.kind = "array"
            self.keys = [None]
            self.arrays = [params]
        elif isinstance(params, Mapping):
            self.kind = "dict"
            self.keys = list(params.keys())
            for k in self.keys:
                if not isinstance(k, str):
                    raise TypeError(f"params: dict keys must be parameter names (str), got "
                                    f"{type(k).__name__} {k!r}")
            self.arrays = [params[k] for k in self.keys]
        elif type(params) is list or type(params) is tuple or isinstance(params, (list, tuple)):
            self.kind = "list" if isinstance(params, list) else "tuple"
            self.keys = list(range(len(params)))
            self.arrays = list(params)
        elif params is None or isinstance(params, (str, bytes, set, frozenset)):
            raise TypeError(f"params: expected an array, a list or tuple of arrays or a dict "
                            f"of named arrays, got {type(params).__name__}")
        else:
            self.kind = "array"
            self.keys = [None]
            self.arrays = [params]
        self.params = params
        self._index = None

    @property
    def index(self):
        """key -> position"""
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.keys)}
        return self._index

    def __len__(self):
        return len(self.arrays)

    def label(self, i, name="params"):
        k = self.keys[i]
        return name if k is None else f"{name}[{k!r}]"

    def build(self, values):
        if self.kind == "dict":
            return dict(zip(self.keys, values))
        if self.kind == "list":
            return list(values)
        if self.kind == "tuple":
            return tuple(values)
        return values[0]


# ----------------------------------------------------------------------- checks ----

def _real(v, name):
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iuf":
        v = v.item()
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(v).__name__}")
    return float(v)


def _strength(v, name):
    if type(v) is float and 0.0 <= v < math.inf:
        return v
    f = _real(v, name)
    if not (math.isfinite(f) and f >= 0.0):
        raise ValueError(f"{name}: must be finite and non-negative, got {v!r}")
    return f


def _ratio(v, name):
    f = _real(v, name)
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"{name}: must lie in [0, 1], got {v!r}")
    return f


def _step(v):
    f = _real(v, "step")
    if not (math.isfinite(f) and f > 0.0):
        raise ValueError(f"step: must be finite and positive, got {v!r}")
    return f


def _axis(v):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or \
            int(v) not in (0, 1):
        raise ValueError(f"axis: must be 0 (groups are columns, the norm along axis 0) or 1 "
                         f"(groups are rows, the norm along axis 1), got {v!r}")
    return int(v)


def _per_array(value, name, tree, check, missing):
    """One checked number per array: a number for all, a dict name -> number (dict params;
    names left out get `missing`, or raise when it is None), or a list (list params)."""
    if type(value) is float or type(value) is int:
        return [check(value, name)] * len(tree)
    if isinstance(value, Mapping):
        if tree.kind != "dict":
            raise TypeError(f"{name}: a dict of per-array values needs dict params (got "
                            f"{tree.kind} params); give a number or a list")
        for k in value:
            if k not in tree.index:
                raise ValueError(f"{name}: {k!r} is not a parameter name (params has "
                                 f"{', '.join(map(repr, tree.keys)) or 'none'})")
        out = []
        for k in tree.keys:
            if k in value:
                out.append(check(value[k], f"{name}[{k!r}]"))
            elif missing is None:
                raise ValueError(f"{name}: no value for parameter {k!r}")
            else:
                out.append(missing)
        return out
    if isinstance(value, (list, tuple)):
        if tree.kind not in ("list", "tuple"):
            raise TypeError(f"{name}: a list of per-array values needs list params (got "
                            f"{tree.kind} params); give a number" +
                            (" or a dict" if tree.kind == "dict" else ""))
        if len(value) != len(tree):
            raise ValueError(f"{name}: {len(value)} values for {len(tree)} parameters")
        return [check(v, f"{name}[{i}]") for i, v in enumerate(value)]
    v = check(value, name)
    return [v] * len(tree)


def _is_mask_value(m):
    return m is None or isinstance(m, (bool, np.bool_)) or hasattr(m, "shape") or \
        hasattr(m, "__cuda_array_interface__")


def _frozen(frozen, tree):
    """Per array: None (trainable), True (frozen whole) or a boolean mask (unchecked)."""
    n = len(tree)
    out = [None] * n
    if frozen is None:
        return out
    if tree.kind == "array":
        if isinstance(frozen, (set, frozenset, list, tuple, Mapping)):
            raise TypeError("frozen: for a single array, give a boolean mask (True = frozen "
                            "element) or True / False")
        out[0] = frozen
        return out
    if isinstance(frozen, Mapping):
        if tree.kind != "dict":
            raise TypeError("frozen: a dict of masks needs dict params; for list params give "
                            "a set of indices or a list of masks")
        for k, m in frozen.items():
            if k not in tree.index:
                raise ValueError(f"frozen: {k!r} is not a parameter name (params has "
                                 f"{', '.join(map(repr, tree.keys)) or 'none'})")
            if not _is_mask_value(m):
                raise TypeError(f"frozen[{k!r}]: expected a boolean mask, True or False, got "
                                f"{type(m).__name__}")
            out[tree.index[k]] = m
        return out
    if isinstance(frozen, (str, bytes)):
        raise TypeError("frozen: expected a set of names, not a string (write {" +
                        repr(frozen) + "})")
    if not isinstance(frozen, (set, frozenset, list, tuple, range)):
        raise TypeError(f"frozen: expected a set of names or indices, or masks per array, "
                        f"got {type(frozen).__name__}")
    items = list(frozen)
    if tree.kind == "dict":
        for k in items:
            if not isinstance(k, str):
                raise TypeError(f"frozen: for dict params, give a set of names or a dict of "
                                f"masks, got a {type(k).__name__} entry")
            if k not in tree.index:
                raise ValueError(f"frozen: {k!r} is not a parameter name (params has "
                                 f"{', '.join(map(repr, tree.keys)) or 'none'})")
            out[tree.index[k]] = True
        return out
    # list params: indices (integers), or one mask (None, bool, array) per array
    if all(isinstance(i, numbers.Integral) and not isinstance(i, (bool, np.bool_))
           for i in items):
        for i in items:
            if not 0 <= int(i) < n:
                raise ValueError(f"frozen: index {i} is out of range for {n} parameters")
            out[int(i)] = True
        return out
    if isinstance(frozen, (set, frozenset)):
        raise TypeError("frozen: a set must hold parameter indices (integers)")
    if len(items) != n:
        raise ValueError(f"frozen: {len(items)} masks for {n} parameters (give one per "
                         "array, None for a trainable one, or a set of indices)")
    for i, m in enumerate(items):
        if not _is_mask_value(m):
            raise TypeError(f"frozen[{i}]: expected a boolean mask, True, False or None, got "
                            f"{type(m).__name__}")
    return items


def _host_mask(m, label, shape):
    """A host boolean mask checked against `shape`: None, True (all frozen) or the mask."""
    if m is None or m is False or (isinstance(m, np.bool_) and not m):
        return None
    if m is True or isinstance(m, np.bool_):
        return True
    if ck.is_device(m):
        raise TypeError(f"{label}: a GPU mask for a host array; give a NumPy mask")
    arr = np.asarray(m)
    if arr.dtype != np.bool_:
        raise TypeError(f"{label}: expected a boolean mask (True = frozen), got dtype "
                        f"{arr.dtype}")
    _broadcasts(arr.shape, shape, label)
    return arr


def _broadcasts(mshape, shape, label):
    try:
        ok = np.broadcast_shapes(tuple(mshape), tuple(shape)) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{label}: mask shape {ck.shape_str(tuple(mshape))} does not "
                         f"broadcast to its array's shape {ck.shape_str(tuple(shape))}")


def _device_mask(m, label, shape):
    if m is None or m is False or (isinstance(m, np.bool_) and not m):
        return None
    if m is True or isinstance(m, np.bool_):
        return True
    dt = getattr(m, "dtype", None)
    if dt is None or "bool" not in str(dt):
        raise TypeError(f"{label}: expected a boolean mask (True = frozen), got dtype {dt}")
    _broadcasts(tuple(m.shape), shape, label)
    return m


def _shape2d(shape):
    """The 2-D view of a shape (see group_lasso): (n0, n1 * ... * nk), (n,) -> (n, 1)."""
    if len(shape) == 2:
        return shape
    if len(shape) == 0:
        return (1, 1)
    return (shape[0], math.prod(shape[1:]))


# ------------------------------------------------------------------- host side ----

_KERNELS = None


def _cpu_kernels():
    global _KERNELS
    if _KERNELS is None:
        from ._cpu import _kernels
        _KERNELS = _kernels
    return _KERNELS


class _Host:
    """The CPU kernels and NumPy helpers for host arrays (cuda._ops_penalty.Runner is the
    device counterpart, with the same methods)."""

    def __init__(self, n_threads):
        self.k = _cpu_kernels()
        self.nt = n_threads
        self.total = 0.0

    def ew(self, op, x2, t2, w, wl, params, g2, coef):
        v = self.k.elementwise(self.k.EW_OPS[op], x2, t2, None, w, wl, None, params, _SUM,
                               None, g2, None, self.nt)
        if coef is not None:
            self.total += coef * v

    def row(self, op, x2, t2, params, g2, coef):
        v = self.k.rowwise(self.k.ROW_OPS[op], x2, 1, None, None, None, t2, None, None, None,
                           params, 0, 0, _SUM, None, g2, None, None, self.nt)
        if coef is not None:
            self.total += coef * v

    @staticmethod
    def keep(mask, shape, dtype):
        out = np.empty(shape, dtype)
        np.logical_not(mask, out=out)     # broadcasts; True -> 0.0, False -> 1.0
        return out

    @staticmethod
    def select(keep2, a2, b2):
        return np.where(keep2 != 0, b2, a2)

    @staticmethod
    def colsumsq(x2, keep2):
        """sum over rows of (keep x)^2 per column, in float64 (exact squares), a block of
        rows at a time."""
        n, m = x2.shape
        acc = np.zeros(m)
        if n == 0 or m == 0:
            return acc
        rows = max(1, 65536 // m)
        buf = np.empty((min(rows, n), m))
        for i in range(0, n, rows):
            c = x2[i:i + rows]
            b = buf[:c.shape[0]]
            if keep2 is None:
                np.multiply(c, c, out=b, dtype=np.float64)
            else:
                np.multiply(c, keep2[i:i + rows], out=b, dtype=np.float64)
                np.multiply(b, b, out=b)
            acc += b.sum(axis=0)
        return acc

    def col_factors(self, sq, lam, prox, coef, dtype):
        norms = np.sqrt(sq)
        if coef is not None:
            self.total += coef * float(norms.sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            if prox:
                f = np.where(norms > lam, 1.0 - lam / norms, 0.0)
                f = np.where(np.isnan(norms), np.nan, f)
            else:
                f = np.divide(lam, norms, out=np.zeros_like(norms), where=norms != 0)
        return f.astype(dtype)

    @staticmethod
    def col_or_one(keep2, f):
        return np.where(keep2 != 0, f[None, :], f.dtype.type(1))

    @staticmethod
    def empty(shape, dtype):
        return np.empty(shape, dtype)

    @staticmethod
    def zeros(shape, dtype):
        return np.zeros(shape, dtype)

    @staticmethod
    def fill_zero(a):
        a[...] = 0

    @staticmethod
    def public(a):
        return a

    def value(self):
        return self.total


# ------------------------------------------------------------------- one array ----

class _Job:
    """One parameter array of a call: its kernel form (2-D, C-contiguous), frozen mask and
    gradient (or, for prox, the array written in place)."""

    __slots__ = ("side", "_label", "orig", "x", "x2", "shape", "dtype", "mask", "g2",
                 "grad", "writeback", "_keep", "w0", "tree", "i")

    def __init__(self, side, label, orig, x, mask):
        self.side = side
        self._label = label              # params' name of the array (or None: from tree, i)
        self.tree = None
        self.i = 0
        self.orig = orig                 # the caller's array
        self.x = x                       # the checked array (host ndarray or device view)
        self.shape = tuple(x.shape)
        self.dtype = np.dtype(x.dtype)
        self.mask = mask                 # None, True or a boolean mask
        self.x2 = None
        self.g2 = None
        self.grad = None
        self.writeback = None
        self._keep = None
        self.w0 = None

    @property
    def label(self):
        if self._label is None:
            self._label = self.tree.label(self.i)
        return self._label

    def keep(self):
        """The trainable mask (1.0 / 0.0 in the array's dtype) in the 2-D view, or None."""
        if self.mask is None:
            return None
        if self._keep is None:
            self._keep = self.side.keep(self.mask, self.shape, self.dtype).reshape(
                self.x2.shape)
        return self._keep

    # value and gradient
    def ew(self, op, params, coef, t2=None):
        keep = self.keep()
        self.side.ew(op, self.x2, t2, keep, FL_AUX_FULL if keep is not None else 0, params,
                     self.g2, coef)

    def row(self, op, params, coef):
        self.side.row(op, self.x2, self.keep(), params, self.g2, coef)

    def cols(self, strength, coef):
        keep = self.keep()
        sq = self.side.colsumsq(self.x2, keep)
        f = self.side.col_factors(sq, strength, False, coef, self.dtype)
        if self.g2 is not None:
            if keep is None:
                self.side.ew("pen_cols", self.x2, None, f, FL_AUX_COL, (), self.g2, None)
            else:
                self.side.ew("pen_cols_m", self.x2, keep, f, FL_AUX_COL, (), self.g2, None)

    # proximal maps (g2 is x2: written in place)
    def prox_enet(self, lam, div):
        if lam == 0.0 and div == 1.0:
            return                       # the identity
        keep = self.keep()
        if keep is None:
            self.side.ew("prox_enet", self.x2, None, None, 0, (lam, div), self.x2, None)
        else:
            self.side.ew("prox_enet_m", self.x2, keep, None, 0, (lam, div), self.x2, None)

    def prox_l2sp(self, w0, a):
        """(w + a w0) / (1 + a) as w / (1 + a) + w0 / (1 + 1 / a), a = step * alpha (w0
        itself when a overflows, not inf / inf)."""
        if a == 0.0:
            return
        keep = self.keep()
        t2 = w0 if keep is None else self.side.select(keep, self.x2, w0)
        self.side.ew("prox_l2sp", self.x2, t2, None, 0, (1.0 / (1.0 + a), 1.0 / (1.0 + 1.0 / a)),
                     self.x2, None)

    def prox_rows(self, lam):
        self.side.row("group_lasso_prox", self.x2, self.keep(), (lam,), self.x2, None)

    def prox_cols(self, lam):
        keep = self.keep()
        sq = self.side.colsumsq(self.x2, keep)
        f = self.side.col_factors(sq, lam, True, None, self.dtype)
        if keep is None:
            self.side.ew("pen_cols", self.x2, None, f, FL_AUX_COL, (), self.x2, None)
        else:
            self.side.ew("prox_mul", self.x2, self.side.col_or_one(keep, f), None, 0, (),
                         self.x2, None)


# ---------------------------------------------------------------- regularizers ----

class Regularizer:
    """A penalty term: ``r(params, ...)`` for the value, ``r.value_and_grad(params, ...)``,
    ``r.grad(params, ...)`` and ``r.prox(params, ..., step)`` (in place).  See the module's
    documentation for the arguments."""

    #: names of the arguments after params, in order
    args = ()
    #: extra keyword-only options: name -> default
    options = {}

    def __init__(self):
        self.__name__ = self.name
        self.__qualname__ = self.name
        self._value = self._generate(VALUE)
        self.value_and_grad = self._generate(VALUE_AND_GRAD)
        self.grad = self._generate(GRAD)
        self.prox = self._generate(PROX)

    def __call__(self, *args, **kwargs):
        return self._value(*args, **kwargs)

    @property
    def __signature__(self):
        import inspect
        return inspect.signature(self._value)

    def __repr__(self):
        return f"<fastloss regularizer {self.name}>"

    def _generate(self, mode):
        """An entry point with the exact signature (as the losses')."""
        names = list(self.args)
        pos = ["params"] + names + (["step"] if mode == PROX else [])
        kw = ["frozen=None"] + [f"{k}={v!r}" for k, v in self.options.items()] + \
            ["n_threads=None", "backend='auto'"]
        has_out = mode in (VALUE_AND_GRAD, GRAD)
        if has_out:
            kw.append("out=None")
        fname = {VALUE: self.name, VALUE_AND_GRAD: "value_and_grad", GRAD: "grad",
                 PROX: "prox"}[mode]
        opts = ", ".join(f"{k!r}: {k}" for k in self.options)
        src = (f"def {fname}({', '.join(pos)}, *, {', '.join(kw)}):\n"
               f"    return _run(_reg, {mode}, params, ({''.join(n + ', ' for n in names)}), "
               f"{'step' if mode == PROX else 'None'}, frozen, {{{opts}}}, n_threads, "
               f"backend, {'out' if has_out else 'None'})\n")
        ns = {"_run": _run, "_reg": self}
        exec(compile(src, f"<fastloss.regularizers.{self.name}>", "exec"), ns)
        fn = ns[fname]
        fn.__module__ = __name__
        fn.__qualname__ = f"{self.name}.{fname}" if mode != VALUE else self.name
        fn.__doc__ = self._doc(mode)
        return fn

    def _doc(self, mode):
        what = {VALUE: "The value (a Python float) of", VALUE_AND_GRAD:
                "(value, grads) of", GRAD: "The gradients (params' container shape) of",
                PROX: "Apply, in place, the proximal operator (step > 0) of"}[mode]
        return f"{what} {self.name}: {self.formula}.\n\n{self.__doc__ or ''}"

    # per regularizer: check the arguments into per-array settings ...
    def resolve(self, tree, args, options):
        raise NotImplementedError

    # ... and run one array (job) with its settings
    def run_array(self, job, s, mode, step):
        raise NotImplementedError

    def reference(self, w, w0, s, mode, step, mask):
        raise NotImplementedError


class _OneStrength(Regularizer):
    """A regularizer of one non-negative strength (a number, or one per array)."""
    args = ("strength",)

    def resolve(self, tree, args, options):
        return _per_array(args[0], "strength", tree, _strength, 0.0)


class _L1(_OneStrength):
    """strength * sum |w|; gradient strength * sign(w) (the subgradient 0 at 0); prox:
    soft-thresholding by step * strength."""
    name = "l1"
    formula = "strength * sum |w|"

    def run_array(self, job, s, mode, step):
        if mode == PROX:
            job.prox_enet(step * s, 1.0)
        else:
            job.ew("pen_l1", (s,), s)

    def reference(self, w, w0, s, mode, step, mask):
        if mode == PROX:
            return _ref.l1_prox(w, s, step, mask)
        return _ref.l1(w, s, mask)


class _L2(_OneStrength):
    """0.5 * strength * ||w||^2 (with the 0.5: the gradient is strength * w; Keras' L2(k)
    equals l2(2 * k)); prox: w / (1 + step * strength).  See the module's documentation
    for its relation to (decoupled) weight decay."""
    name = "l2"
    formula = "0.5 * strength * ||w||^2"

    def run_array(self, job, s, mode, step):
        if mode == PROX:
            job.prox_enet(0.0, 1.0 + step * s)
        else:
            job.ew("pen_l2", (s,), 0.5 * s)

    def reference(self, w, w0, s, mode, step, mask):
        if mode == PROX:
            return _ref.l2_prox(w, s, step, mask)
        return _ref.l2(w, s, mask)


class _ElasticNet(Regularizer):
    """scikit-learn's ElasticNet penalty alpha * l1_ratio * ||w||_1 + 0.5 * alpha *
    (1 - l1_ratio) * ||w||^2; prox: soft-threshold by step * alpha * l1_ratio, then divide
    by 1 + step * alpha * (1 - l1_ratio)."""
    name = "elastic_net"
    args = ("alpha", "l1_ratio")
    formula = "alpha * l1_ratio * ||w||_1 + 0.5 * alpha * (1 - l1_ratio) * ||w||^2"

    def resolve(self, tree, args, options):
        alpha = _per_array(args[0], "alpha", tree, _strength, 0.0)
        ratio = _per_array(args[1], "l1_ratio", tree, _ratio, 0.5)
        return list(zip(alpha, ratio))

    def run_array(self, job, s, mode, step):
        a, r = s
        if mode == PROX:
            job.prox_enet(step * a * r, 1.0 + step * a * (1.0 - r))
        elif r == 1.0:
            job.ew("pen_l1", (a,), a)
        elif r == 0.0:
            job.ew("pen_l2", (a,), 0.5 * a)
        else:
            job.ew("pen_enet", (a * r, 0.5 * a * (1.0 - r), a * (1.0 - r)), 1.0)

    def reference(self, w, w0, s, mode, step, mask):
        if mode == PROX:
            return _ref.elastic_net_prox(w, s[0], s[1], step, mask)
        return _ref.elastic_net(w, s[0], s[1], mask)


class _GroupLasso(Regularizer):
    """strength * sum over groups of ||w_g||_2, the groups being the rows (axis=1) or the
    columns (axis=0) of each array viewed as 2-D (n0, n1 * ... * nk); gradient
    strength * w_g / ||w_g|| (0 for a zero group); prox: group soft-thresholding
    w_g * max(0, 1 - step * strength / ||w_g||).  weighted=True scales each group by
    sqrt(group length)."""
    name = "group_lasso"
    args = ("strength", "axis")
    options = {"weighted": False}
    formula = "strength * sum_g ||w_g||_2 (groups: rows for axis=1, columns for axis=0)"

    def resolve(self, tree, args, options):
        s = _per_array(args[0], "strength", tree, _strength, 0.0)
        axis = _axis(args[1])
        weighted = ck.boolean(options["weighted"], "weighted")
        return [(v, axis, weighted) for v in s]

    def run_array(self, job, s, mode, step):
        v, axis, weighted = s
        n, m = job.x2.shape
        if weighted:
            v = v * math.sqrt((n, m)[axis])
        if mode == PROX:
            if axis == 1:
                job.prox_rows(step * v)
            else:
                job.prox_cols(step * v)
        elif axis == 1:
            job.row("group_lasso", (v,), v)
        else:
            job.cols(v, v)

    def reference(self, w, w0, s, mode, step, mask):
        v, axis, weighted = s
        if mode == PROX:
            return _ref.group_lasso_prox(w, v, axis, step, mask, weighted)
        return _ref.group_lasso(w, v, axis, mask, weighted)


class _L2SP(Regularizer):
    """L2-SP (Li, Grandvalet, Davoine 2018): alpha / 2 * ||w - w0||^2 over the parameters
    with a pre-trained value w0 in `reference`, beta / 2 * ||w||^2 over the new ones;
    prox: (w + step * alpha * w0) / (1 + step * alpha), and the l2 prox with beta for the
    new ones."""
    name = "l2_sp"
    args = ("reference", "alpha", "beta")
    formula = "alpha / 2 * ||w - w0||^2 (pre-trained) + beta / 2 * ||w||^2 (new)"

    def resolve(self, tree, args, options):
        refs = _references(args[0], tree)
        alpha = _per_array(args[1], "alpha", tree, _strength, 0.0)
        beta = _per_array(args[2], "beta", tree, _strength, 0.0)
        return [(w0, a, b) for w0, a, b in zip(refs, alpha, beta)]

    def run_array(self, job, s, mode, step):
        _, a, b = s
        w0 = job.w0
        if w0 is None:
            if mode == PROX:
                job.prox_enet(0.0, 1.0 + step * b)
            else:
                job.ew("pen_l2", (b,), 0.5 * b)
        elif mode == PROX:
            job.prox_l2sp(w0, step * a)
        else:
            job.ew("pen_l2sp", (a,), 0.5 * a, t2=w0)

    def reference(self, w, w0, s, mode, step, mask):
        _, a, b = s
        if mode == PROX:
            return _ref.l2_sp_prox(w, w0, a, b, step, mask)
        return _ref.l2_sp(w, w0, a, b, mask)


def _references(reference, tree):
    """The pre-trained value of each parameter (unchecked), None for new ones."""
    if tree.kind == "dict":
        if reference is None:
            return [None] * len(tree)
        if not isinstance(reference, Mapping):
            raise TypeError(f"reference: for dict params, expected a dict of pre-trained "
                            f"arrays, got {type(reference).__name__}")
        return [reference.get(k) for k in tree.keys]
    if tree.kind in ("list", "tuple"):
        if reference is None:
            return [None] * len(tree)
        if not isinstance(reference, (list, tuple)):
            raise TypeError(f"reference: for list params, expected a list of pre-trained "
                            f"arrays (None for new parameters), got {type(reference).__name__}")
        if len(reference) != len(tree):
            raise ValueError(f"reference: {len(reference)} entries for {len(tree)} parameters "
                             "(give None for a new parameter)")
        return list(reference)
    if isinstance(reference, (Mapping, list, tuple)):
        raise TypeError(f"reference: for a single array, expected an array (or None), got "
                        f"{type(reference).__name__}")
    return [reference]


def _reference_array(w0, job, tree, i):
    """w0 checked against its parameter: real-valued, the parameter's shape, cast to its
    dtype, on its side, in the 2-D kernel form."""
    label = tree.label(i, "reference")
    plabel = tree.label(i, "params")
    dev = not isinstance(job.side, _Host) and job.side is not None
    if ck.is_device(w0):
        if not dev:
            raise TypeError(f"{label}: a GPU array for the host array {plabel}; give a NumPy "
                            "array")
        d = job.side.wrap(w0)
        dt = np.dtype(d.dtype)
    else:
        d = np.asarray(w0)
        dt = d.dtype
    if dt.kind not in "biuf":
        raise TypeError(f"{label}: expected a real-valued array, got dtype {dt}")
    if tuple(d.shape) != job.shape:
        raise ValueError(f"{label}: shape {ck.shape_str(tuple(d.shape))} does not match "
                         f"{plabel} of shape {ck.shape_str(job.shape)}")
    if dev:
        if not ck.is_device(w0):
            d = job.side.to_device(np.ascontiguousarray(d, dtype=job.dtype))
        else:
            d = job.side.contiguous(d, job.dtype)
        return d.reshape(job.x2.shape)
    return np.ascontiguousarray(d, dtype=job.dtype).reshape(job.x2.shape)


class _LazyReference:
    """fastloss.reference.regularizers, imported on first use (backend="numpy")."""

    def __getattr__(self, name):
        from .reference import regularizers
        return getattr(regularizers, name)


_ref = _LazyReference()



# ----------------------------------------------------------------------- driver ----

def _threads(n_threads):
    if n_threads is None:
        return _cpu_kernels().max_threads()
    from ._api import threads
    return threads(n_threads)


def _run(reg, mode, params, args, step, frozen, options, n_threads, backend, out=None):
    """Check everything, then run each array; see Regularizer."""
    tree = _Tree(params)
    settings = reg.resolve(tree, args, options)
    if mode == PROX:
        step = _step(step)
    masks = _frozen(frozen, tree)
    if not isinstance(backend, str) or backend not in _BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(map(repr, _BACKENDS))}; got "
                         f"{backend!r}")
    nt = _threads(n_threads)
    on_device = [type(a) is not np.ndarray and ck.is_device(a) for a in tree.arrays]
    devices = [i for i, d in enumerate(on_device) if d]
    if devices and backend in ("cpu", "numpy"):
        raise ValueError(f"backend: {backend!r} takes host arrays, got a GPU array "
                         f"({tree.label(devices[0])}); use backend='auto' or 'cuda'")
    if backend == "cuda" and len(devices) < len(tree):
        i = next(i for i in range(len(tree)) if i not in devices)
        raise ValueError(f"backend: 'cuda' takes GPU arrays (updated and returned on the "
                         f"device), got a host array ({tree.label(i)}); use 'auto' or 'cpu'")
    host = _Host(nt)
    dev = None
    if devices:
        from .cuda._ops_penalty import Runner
        dev = Runner(tree.arrays[devices[0]], len(devices))

    # checks of every array, before any kernel runs
    jobs = []
    for i, a in enumerate(tree.arrays):
        if on_device[i]:
            job = _device_job(dev, a, tree.label(i), masks[i], mode)
        else:
            job = _host_job(host, a, tree, i, masks[i], mode)
        jobs.append(job)
    if reg is l2_sp:
        for i, (job, s) in enumerate(zip(jobs, settings)):
            if s[0] is not None:
                job.w0 = _reference_array(s[0], job, tree, i)
    outs = None if out is None else _outs(out, tree, jobs)

    if backend == "numpy":
        return _run_reference(reg, mode, tree, jobs, settings, step, outs)

    for k, (job, s) in enumerate(zip(jobs, settings)):
        if job.mask is True or job.x2.size == 0:
            if mode in (VALUE_AND_GRAD, GRAD):
                if outs is None:
                    job.grad = job.side.zeros(job.shape, job.dtype)
                else:
                    job.grad = outs[k]
                    job.side.fill_zero(job.grad)
            continue
        if mode in (VALUE_AND_GRAD, GRAD):
            job.grad = job.side.empty(job.shape, job.dtype) if outs is None else outs[k]
            job.g2 = job.grad if len(job.shape) == 2 else job.grad.reshape(job.x2.shape)
        elif mode == PROX:
            job.g2 = job.x2
        reg.run_array(job, s, mode, step)
        if mode == PROX and job.writeback is not None:
            job.writeback(job.x2)
    if mode == PROX:
        return params
    grads = None
    if mode != VALUE:
        grads = out if out is not None else \
            tree.build([job.side.public(job.grad) for job in jobs])
        if mode == GRAD:
            return grads
    value = host.value() + (dev.value() if dev is not None else 0.0)
    return value if mode == VALUE else (value, grads)


def _outs(out, tree, jobs):
    """out= checked against params: the same container (keys or length), each array of its
    parameter's shape and dtype, C-contiguous, writeable, and the parameter itself or
    disjoint from it (and from its reference).  Returns the kernel arrays in params' order."""
    try:
        otree = _Tree(out)
    except TypeError:
        raise TypeError(f"out: expected gradient arrays in the container shape of params, "
                        f"got {type(out).__name__}") from None
    if otree.kind != tree.kind and not {otree.kind, tree.kind} <= {"list", "tuple"}:
        raise TypeError(f"out: a {type(out).__name__} for {tree.kind} params; give arrays in "
                        "the container shape of params")
    if tree.kind == "dict":
        if set(otree.keys) != set(tree.keys):
            raise ValueError(f"out: keys {sorted(otree.keys)} do not match params' "
                             f"{sorted(tree.keys)}")
        arrays = [out[k] for k in tree.keys]
    else:
        if len(otree) != len(tree):
            raise ValueError(f"out: {len(otree)} arrays for {len(tree)} parameters")
        arrays = otree.arrays
    res = []
    for i, (o, job) in enumerate(zip(arrays, jobs)):
        others = (job.x, job.w0)
        if type(job.side) is _Host:
            if type(o) is np.ndarray and o.shape == job.shape and o.dtype == job.dtype and \
                    o.flags.c_contiguous and o.flags.writeable and job.w0 is None and \
                    (o is job.x or not np.may_share_memory(o, job.x)):
                res.append(o)           # the common case, as ck.out_array accepts it
                continue
            label = tree.label(i, "out")
            if ck.is_device(o):
                raise TypeError(f"{label}: a GPU array for the host array {job.label}")
            ck.out_array(o, job.shape, job.dtype, others, label)
            res.append(o)
        else:
            label = tree.label(i, "out")
            if not ck.is_device(o):
                raise TypeError(f"{label}: a host array for the GPU array {job.label}")
            d = job.side.wrap(o)
            ck.out_array(d, job.shape, job.dtype, others, label)
            res.append(d)
    _disjoint_outs(res, jobs, tree)
    return res


def _span(a):
    """The bytes [lo, hi) a host array covers."""
    lo = a.__array_interface__["data"][0]
    extent = sum((n - 1) * abs(st) for n, st in zip(a.shape, a.strides) if n > 1)
    lo -= sum((n - 1) * -st for n, st in zip(a.shape, a.strides) if n > 1 and st < 0)
    return lo, lo + extent + a.itemsize


def _disjoint_outs(res, jobs, tree):
    """No out= array may overlap another parameter, its reference, or another out=
    array (its own parameter it may be): the kernels would read values already
    overwritten.  A sweep over the arrays' byte spans, sorted (host arrays)."""
    spans = []
    for i, (o, job) in enumerate(zip(res, jobs)):
        if type(o) is not np.ndarray or not o.size:
            continue
        spans.append(_span(o) + (i, "out", o))
        for what, a in (("param", job.x), ("reference", job.w0)):
            if type(a) is np.ndarray and a.size and a is not o:
                spans.append(_span(a) + (i, what, a))
    spans.sort(key=lambda e: e[0])
    active = []
    for lo, hi, i, what, a in spans:
        active = [e for e in active if e[1] > lo]
        for _, _, j, what2, b in active:
            if "out" not in (what, what2) or (what == what2 == "param"):
                continue
            if {what, what2} == {"out", "param"} and i == j:
                continue   # an out= array over (part of) its own parameter: checked above
            if np.may_share_memory(a, b):
                k, (m, kind) = (i, (j, what2)) if what == "out" else (j, (i, what))
                other = tree.label(m, "out") if kind == "out" else tree.label(m)
                if kind == "reference":
                    other += "'s reference"
                raise ValueError(f"{tree.label(k, 'out')}: overlaps {other}; an out= array "
                                 "may only be its own parameter")
        active.append((lo, hi, i, what, a))


def _host_job(host, a, tree, i, mask, mode):
    if type(a) is np.ndarray and a.dtype in ck.FLOAT_DTYPES and a.flags.c_contiguous and \
            mask is None and (mode != PROX or a.flags.writeable):
        # the common case: nothing to convert, nothing to check further
        job = _Job(host, None, a, a, None)
        job.x2 = a.reshape(_shape2d(a.shape))
        job.tree, job.i = tree, i
        return job
    label = tree.label(i)
    if mode == PROX:
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{label}: prox updates the parameters in place; expected a "
                            f"NumPy array (or a GPU array), got {type(a).__name__}")
        if not a.flags.writeable:
            raise ValueError(f"{label}: is read-only; prox updates the parameters in place")
    if type(a) is np.ndarray and a.dtype in ck.FLOAT_DTYPES:
        x = a
    else:
        x = ck.float_input(a, label)
        if type(x) is not np.ndarray:
            x = np.asarray(x)             # ndarray subclasses: a base-class view
    job = _Job(host, label, a, x,
               None if mask is None else _host_mask(mask, f"frozen for {label}", x.shape))
    job.tree, job.i = tree, i
    shape2 = _shape2d(job.shape)
    copied = not x.flags.c_contiguous
    job.x2 = (np.ascontiguousarray(x) if copied else x).reshape(shape2)
    if mode == PROX and (copied or (x is not a and not np.may_share_memory(x, a))):
        def writeback(x2, a=a, shape=job.shape):
            a[...] = x2.reshape(shape)
        job.writeback = writeback
    return job


def _device_job(dev, a, label, mask, mode):
    try:
        d = dev.wrap(a)
    except Exception as e:
        raise TypeError(f"{label}: cannot read this GPU array ({type(a).__name__}, dtype "
                        f"{getattr(a, 'dtype', '?')}): {e}") from None
    ck.float_input(d, label)
    if np.dtype(d.dtype) != np.dtype(d.dtype).newbyteorder("="):
        raise TypeError(f"{label}: GPU arrays must be in native byte order")
    job = _Job(dev, label, a, d, _device_mask(mask, f"frozen for {label}", tuple(d.shape)))
    shape2 = _shape2d(job.shape)
    if d.is_c_contiguous():
        job.x2 = d.reshape(shape2)
    elif mode == PROX:
        raise ValueError(f"{label}: prox updates GPU arrays in place and needs them "
                         "C-contiguous")
    else:
        job.x2 = dev.contiguous(d).reshape(shape2)
    return job


def _run_reference(reg, mode, tree, jobs, settings, step, outs=None):
    """backend="numpy": the NumPy reference on each array (float64), after the same checks."""
    value = 0.0
    grads = []
    for job, s in zip(jobs, settings):
        w = job.x
        w0 = None if job.w0 is None else job.w0.reshape(job.shape)
        mask = None if job.mask is None else \
            np.broadcast_to(True, job.shape) if job.mask is True else job.mask
        if mode == PROX:
            new = reg.reference(w, w0, s, PROX, step, mask)
            job.orig[...] = new.astype(job.dtype)
            continue
        v, g = reg.reference(w, w0, s, mode, step, mask)
        value += v
        g = np.asarray(g, dtype=job.dtype).reshape(job.shape)
        if outs is not None:
            outs[len(grads)][...] = g
            g = outs[len(grads)]
        grads.append(g)
    if mode == PROX:
        return tree.params
    if mode == VALUE:
        return value
    g = tree.build(grads)
    return g if mode == GRAD else (value, g)


# ------------------------------------------------------------------------ total ----

def total(loss_value_and_grad, *reg_value_and_grads, inplace=False):
    """Add a loss and its regularizers: values and gradients.

        v, grads = fl.total(loss.value_and_grad(...), reg.l2.value_and_grad(params, 1e-4),
                            reg.l1.value_and_grad(params, 1e-5))

    Each argument is a ``(value, grads)`` pair, as ``value_and_grad`` returns.  The value is
    the sum of the values (a Python float; a device scalar is copied to the host).  The
    gradients are added where they refer to the same parameter: the same key of a dict
    (keys only one side has are passed through), the same position of a list or tuple
    (of equal lengths), or two arrays; dicts, lists and tuples nest; None stands for zeros
    (a parameter a term does not touch).  The result has the loss's container shape (a
    dict with the loss's keys first, then the regularizers' others).  Arrays are added with
    ``+`` in new arrays, so NumPy, PyTorch (any device) and CuPy arrays stay what they are;
    with ``inplace=True`` the sums are written into the loss's gradient arrays instead
    (``+=``), saving an allocation per parameter.  Shapes must match (no broadcasting).
    """
    value, grads = _pair(loss_value_and_grad, "loss_value_and_grad")
    v = _scalar(value, "loss_value_and_grad[0]")
    inplace = ck.boolean(inplace, "inplace")
    for k, pair in enumerate(reg_value_and_grads):
        name = f"reg_value_and_grads[{k}]"
        rv, rg = _pair(pair, name)
        v += _scalar(rv, name + "[0]")
        grads = _add_tree(grads, rg, "loss_value_and_grad[1]", name + "[1]", inplace)
    return v, grads


def _pair(p, name):
    if not isinstance(p, tuple) or len(p) != 2:
        raise TypeError(f"{name}: expected a (value, grads) pair as value_and_grad returns, "
                        f"got {type(p).__name__}")
    return p


def _scalar(v, name):
    if hasattr(v, "copy_to_host"):          # a Numba device array
        v = v.copy_to_host()
    try:
        f = float(np.asarray(v).reshape(())) if isinstance(v, np.ndarray) else float(v)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a scalar value, got {type(v).__name__}") from None
    return f


def _add_tree(a, b, pa, pb, inplace):
    if b is None:
        return a
    if a is None:
        return b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out = {k: _add_tree(a[k], b.get(k), f"{pa}[{k!r}]", f"{pb}[{k!r}]", inplace)
               for k in a}
        for k in b:
            if k not in out:
                out[k] = b[k]
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            raise ValueError(f"{pb}: {len(b)} gradients where {pa} has {len(a)}")
        out = [_add_tree(x, y, f"{pa}[{i}]", f"{pb}[{i}]", inplace)
               for i, (x, y) in enumerate(zip(a, b))]
        return tuple(out) if isinstance(a, tuple) else out
    if isinstance(a, (Mapping, list, tuple)) or isinstance(b, (Mapping, list, tuple)):
        raise TypeError(f"{pb}: a {type(b).__name__} where {pa} is a {type(a).__name__}; "
                        "the gradients must have the same structure")
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{pb}: shape {ck.shape_str(tuple(b.shape))} does not match "
                         f"{pa}'s {ck.shape_str(tuple(a.shape))}")
    if type(a).__module__.startswith("numba.cuda") or type(b).__module__.startswith("numba"):
        from .cuda import _ops_penalty
        return _ops_penalty.add(a, b, inplace)
    if inplace:
        a += b
        return a
    return a + b


# ----------------------------------------------------------------- the objects ----

l1 = _L1()
l2 = _L2()
elastic_net = _ElasticNet()
group_lasso = _GroupLasso()
l2_sp = _L2SP()
