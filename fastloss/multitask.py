"""Combining the losses of several tasks into one training objective.

    from fastloss import multitask as mt

    v1, g1 = fl.mse_loss.value_and_grad(depth, depth_t)
    v2, g2 = fl.cross_entropy.value_and_grad(seg, seg_t)
    tasks = {"depth": (v1, {"depth": g1, "seg": None}),       # None: not touched by the task
             "seg": (v2, {"depth": None, "seg": g2})}
    total, grad = mt.weighted_sum(tasks, {"depth": 1.0, "seg": 0.5})   # fixed weights

    uw = mt.UncertaintyWeighting(2)               # learned weights (Kendall et al. 2018)
    total, grad, g_s = uw.combine(tasks)
    uw.log_vars -= lr * g_s                       # or step it with your optimizer

    dwa = mt.DynamicWeightAverage(2)              # weights from the loss trend (Liu et al. 2019)
    total, grad = dwa.combine(tasks)
    dwa.update(mean_epoch_losses)                 # at the end of every epoch

Each task contributes a ``(value, grad)`` pair, as returned by a loss's ``value_and_grad``
(or computed by your framework). ``grad`` is an array, a tuple / list of arrays, or a dict
of named arrays (a model's parameter gradients), nested as deep as you like; every task's
gradient must have the same structure, and ``None`` stands for zeros (a task that does not
touch a parameter). The gradients are only multiplied by Python floats and added, so any
array type with ``*`` and ``+`` works (NumPy, PyTorch tensors on any device, CuPy) and
stays what it is: no gradient is copied to the host, and a float32 gradient stays float32.
Scalar quantities are read as Python floats (a device scalar is copied to the host) and
computed in float64: values, weights, log-variances.

This module uses NumPy and the standard library only.

References
----------
A. Kendall, Y. Gal, R. Cipolla. Multi-Task Learning Using Uncertainty to Weigh Losses for
Scene Geometry and Semantics. CVPR 2018 (arXiv:1705.07115).

S. Liu, E. Johns, A. J. Davison. End-to-End Multi-Task Learning with Attention. CVPR 2019
(arXiv:1803.10704).
"""
import math
import numbers
import operator
from collections.abc import Mapping

import numpy as np

__all__ = ["weighted_sum", "UncertaintyWeighting", "DynamicWeightAverage"]


# --------------------------------------------------------------------------- checks

def _n_tasks(n_tasks):
    if isinstance(n_tasks, (bool, np.bool_)):
        raise TypeError(f"n_tasks: expected a positive integer, got {n_tasks!r}")
    try:
        n = operator.index(n_tasks)
    except TypeError:
        raise TypeError(f"n_tasks: expected a positive integer, got "
                        f"{type(n_tasks).__name__} {n_tasks!r}") from None
    if n < 1:
        raise ValueError(f"n_tasks: must be at least 1, got {n}")
    return n


def _real(x, name):
    """A real scalar (Python or NumPy number, 0-d array or tensor) as a Python float."""
    try:
        return _scalar(x)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{name}: {e}") from None


def _float_vector(x, name, n, what):
    """A float64 array of shape (n,) from a sequence or array of real numbers."""
    if isinstance(x, (str, bytes, Mapping)) or not hasattr(x, "__iter__"):
        raise TypeError(f"{name}: expected a sequence of {n} {what}, got "
                        f"{type(x).__name__}")
    if isinstance(x, np.ndarray):
        if x.ndim != 1:
            raise ValueError(f"{name}: expected a sequence of {n} {what}, got an array of "
                             f"shape {x.shape}")
        if x.dtype.kind not in "iuf":
            raise TypeError(f"{name}: expected real numbers, got dtype {x.dtype}")
        arr = x.astype(np.float64)
    else:
        vals = []
        for i, v in enumerate(x):
            try:
                vals.append(_scalar(v))
            except (TypeError, ValueError) as e:
                raise type(e)(f"{name}: entry {i}: {e}") from None
        arr = np.array(vals, dtype=np.float64)
    if arr.shape[0] != n:
        raise ValueError(f"{name}: expected {n} {what} (one per task), got {arr.shape[0]}")
    return arr


def _scalar(v):
    """A scalar (Python number, NumPy scalar, 0-d array or tensor) as a Python float; the
    message says what was wrong, the caller prefixes the argument's name."""
    if v is None or isinstance(v, (str, bytes, bool, np.bool_)):
        raise TypeError(f"expected a real number, got {type(v).__name__} {v!r}")
    ndim = getattr(v, "ndim", 0)
    if ndim != 0:
        raise ValueError(f"expected a scalar, got an array of shape "
                         f"{tuple(getattr(v, 'shape', ()))}")
    if isinstance(v, complex) or getattr(getattr(v, "dtype", None), "kind", "f") == "c":
        raise TypeError(f"expected a real number, got {type(v).__name__} {v!r}")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise TypeError(f"expected a real number, got {type(v).__name__}") from None


def _finite_losses(x, name, n):
    arr = _float_vector(x, name, n, "losses")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{name}: the loss of task {bad[0]} is {arr[bad[0]]}; losses must "
                         "be finite")
    return arr


def _task(label):
    return f"task {label!r}" if not isinstance(label, int) else f"task {label}"


def _key(k):
    return f"[{k!r}]"


# ------------------------------------------------------------------ gradient trees

def _kind(node):
    if isinstance(node, Mapping):
        return "mapping"
    if isinstance(node, (tuple, list)):
        return "sequence"
    return "leaf"


def _describe(node):
    kind = _kind(node)
    if kind == "mapping":
        return f"a {type(node).__name__} with keys {sorted(map(str, node))}"
    if kind == "sequence":
        return f"a {type(node).__name__} of length {len(node)}"
    shape = getattr(node, "shape", None)
    if shape is not None:
        return f"an array of shape {tuple(shape)}"
    return f"a {type(node).__name__}"


def _check_tree(nodes, path):
    """Raise a ValueError unless the gradients `nodes` (a list of (task label, node)) have
    one structure; a None node matches anything (it is zero)."""
    present = [(lab, n) for lab, n in nodes if n is not None]
    if not present:
        return
    ref_lab, ref = present[0]
    kind = _kind(ref)
    for lab, n in present:
        if kind == "leaf" and _kind(n) == "leaf":
            if isinstance(n, (str, bytes)) or not (
                    isinstance(n, numbers.Number) or hasattr(n, "shape")):
                raise TypeError(f"values_and_grads: {_task(lab)} has a {type(n).__name__} "
                                f"at {path}; a gradient leaf must be an array, a number "
                                "or None")
        if n is ref:
            continue
        if _kind(n) != kind:
            raise ValueError(f"values_and_grads: {_task(lab)} has {_describe(n)} at {path} "
                             f"where {_task(ref_lab)} has {_describe(ref)}; every task's "
                             "gradient must have the same structure (None stands for zeros)")
        if kind == "mapping":
            if set(n) != set(ref):
                missing = [k for k in ref if k not in n]
                extra = [k for k in n if k not in ref]
                raise ValueError(f"values_and_grads: the gradient of {_task(lab)} has keys "
                                 f"{list(n)} at {path} where {_task(ref_lab)} has {list(ref)} "
                                 f"(missing {missing}, extra {extra}); use None for a "
                                 "parameter a task does not touch")
        elif kind == "sequence":
            if len(n) != len(ref):
                raise ValueError(f"values_and_grads: {_task(lab)} has {_describe(n)} at "
                                 f"{path} where {_task(ref_lab)} has {_describe(ref)}")
        else:
            s_ref, s_n = getattr(ref, "shape", ()), getattr(n, "shape", ())
            if tuple(s_ref) != tuple(s_n):
                raise ValueError(f"values_and_grads: {_task(lab)} has a gradient of shape "
                                 f"{tuple(s_n)} at {path} where {_task(ref_lab)} has "
                                 f"{tuple(s_ref)}")
    if kind == "mapping":
        for k in ref:
            _check_tree([(lab, None if n is None else n[k]) for lab, n in nodes],
                        path + _key(k))
    elif kind == "sequence":
        for i in range(len(ref)):
            _check_tree([(lab, None if n is None else n[i]) for lab, n in nodes],
                        f"{path}[{i}]")


def _rebuild(ref, items):
    """A container of `ref`'s type holding `items` (key-value pairs for a mapping)."""
    cls = type(ref)
    if isinstance(ref, Mapping):
        if cls is dict:
            return dict(items)
        try:
            return cls(items)
        except TypeError:
            return dict(items)
    if cls in (tuple, list):
        return cls(items)
    if isinstance(ref, tuple) and hasattr(ref, "_fields"):   # a namedtuple
        return cls(*items)
    try:
        return cls(items)
    except TypeError:
        return tuple(items) if isinstance(ref, tuple) else list(items)


def _combine_tree(nodes):
    """sum_i w_i * node_i over the (weight, node) pairs `nodes` (already checked)."""
    present = [(w, n) for w, n in nodes if n is not None]
    if not present:
        return None
    ref = present[0][1]
    kind = _kind(ref)
    if kind == "mapping":
        return _rebuild(ref, [(k, _combine_tree([(w, None if n is None else n[k])
                                                 for w, n in nodes])) for k in ref])
    if kind == "sequence":
        return _rebuild(ref, [_combine_tree([(w, None if n is None else n[i])
                                             for w, n in nodes]) for i in range(len(ref))])
    acc = None
    for w, n in present:
        term = n * w            # w is a Python float: the leaf keeps its dtype and device
        acc = term if acc is None else acc + term
    return acc


def _parse_tasks(values_and_grads):
    """(labels, values as Python floats, grads, is_mapping), every pair checked."""
    name = "values_and_grads"
    if isinstance(values_and_grads, Mapping):
        labels = list(values_and_grads)
        pairs = [values_and_grads[k] for k in labels]
        is_mapping = True
    elif isinstance(values_and_grads, (str, bytes)) or not hasattr(values_and_grads,
                                                                   "__iter__"):
        raise TypeError(f"{name}: expected a sequence of (value, grad) pairs or a dict "
                        f"name -> (value, grad), got {type(values_and_grads).__name__}")
    else:
        pairs = list(values_and_grads)
        labels = list(range(len(pairs)))
        is_mapping = False
    if not pairs:
        raise ValueError(f"{name}: no tasks given")
    values, grads = [], []
    for lab, pair in zip(labels, pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            what = (f"a {type(pair).__name__} of length {len(pair)}"
                    if isinstance(pair, (tuple, list)) else type(pair).__name__)
            raise TypeError(f"{name}: {_task(lab)}: expected a (value, grad) pair, got "
                            f"{what}")
        try:
            values.append(_scalar(pair[0]))
        except (TypeError, ValueError) as e:
            raise type(e)(f"{name}: {_task(lab)}: the value: {e}") from None
        grads.append(pair[1])
    _check_tree(list(zip(labels, grads)), "grad")
    return labels, values, grads, is_mapping


def _parse_weights(weights, labels, is_mapping):
    """A float64 array of finite, non-negative weights, one per task, in task order."""
    n = len(labels)
    if isinstance(weights, Mapping):
        if not is_mapping:
            raise TypeError("weights: a dict of weights needs values_and_grads to be a "
                            "dict of tasks too; give a sequence of weights in task order")
        if set(weights) != set(labels):
            missing = [k for k in labels if k not in weights]
            extra = [k for k in weights if k not in labels]
            raise ValueError(f"weights: its keys {list(weights)} do not match the tasks "
                             f"{labels} (missing {missing}, extra {extra})")
        w = np.empty(n)
        for i, k in enumerate(labels):
            w[i] = _real(weights[k], f"weights[{k!r}]")
    else:
        w = _float_vector(weights, "weights", n, "weights")
    for i in range(n):
        if not math.isfinite(w[i]) or w[i] < 0:
            raise ValueError(f"weights: the weight of {_task(labels[i])} is {w[i]}; weights "
                             "must be finite and non-negative")
    return w


def _weighted(values, grads, w):
    total = 0.0
    for v, wi in zip(values, w):
        total += float(wi) * v
    return total, _combine_tree([(float(wi), g) for wi, g in zip(w, grads)])


def weighted_sum(values_and_grads, weights):
    """The weighted sum of several tasks' losses and of their gradients.

    ``total = sum_i w_i * value_i`` and ``grad = sum_i w_i * grad_i``, leaf by leaf.

    Parameters
    ----------
    values_and_grads : sequence of (value, grad) pairs, or dict name -> (value, grad)
        One pair per task, e.g. from ``fastloss.mse_loss.value_and_grad(x, t)``. ``value``
        is a scalar (Python or NumPy number, 0-d array or tensor). ``grad`` is an array, a
        tuple / list of arrays or a dict of named arrays (nested containers too); every
        task's ``grad`` must have the same structure and leaf shapes. A ``None`` leaf (or
        sub-structure) is zero: the task does not touch that parameter.
    weights : sequence of float, or dict name -> float
        One finite, non-negative weight per task, in task order; a dict (with the tasks'
        names as keys) when ``values_and_grads`` is a dict.

    Returns
    -------
    total : float
        The weighted sum of the values, accumulated in float64. NaN or inf in a value
        propagates to ``total``.
    grad
        The weighted sum of the gradients in the tasks' container structure (the first
        task's container types). Each leaf is computed as ``leaf * w`` (``w`` a Python
        float) and summed with ``+``: NumPy, PyTorch and CuPy arrays stay on their device
        and keep their dtype (float32 stays float32; leaves of different dtypes promote as
        ``+`` does). A leaf that is None in every task stays None. The inputs are not
        modified.

    Raises
    ------
    ValueError, TypeError
        Before anything is computed, naming the argument: ``values_and_grads`` that is
        empty, not made of pairs, has a non-scalar value or gradients of different
        structures or shapes (the message names the tasks and the position); ``weights``
        of the wrong count or keys, negative, NaN or infinite.
    """
    labels, values, grads, is_mapping = _parse_tasks(values_and_grads)
    w = _parse_weights(weights, labels, is_mapping)
    return _weighted(values, grads, w)


# ------------------------------------------------------------ uncertainty weighting

class UncertaintyWeighting:
    r"""Task weights learned as homoscedastic uncertainties (Kendall, Gal, Cipolla 2018).

    Each task ``i`` has a learnable log-variance ``s_i = log sigma_i^2`` (``log_vars``)
    and the objective is

        total = sum_i ( exp(-s_i) * L_i + s_i ).

    A task with a high loss is given a high variance and so a low weight ``exp(-s_i)``; the
    ``+ s_i`` term stops the variances from growing without bound. Learning ``s`` rather
    than ``sigma`` keeps the weight positive and the objective free of divisions by zero
    (the paper's choice).

    Derivatives: ``d total / d L_i = exp(-s_i)`` (``weights``: multiply task ``i``'s
    gradient by it to get the total's gradient with respect to the model's parameters) and
    ``d total / d s_i = 1 - exp(-s_i) * L_i`` (``grad_log_vars``). For a fixed
    ``L_i > 0`` the total is convex in ``s_i`` with its minimum at ``s_i* = log L_i``,
    where the weight is ``exp(-s_i*) = 1 / L_i`` and the task contributes
    ``1 + log L_i``. (For ``L_i <= 0`` there is no minimum: ``s_i`` decreases without
    bound; use losses that are positive, e.g. leave out constants that make a negative
    log-likelihood negative.)

    Where the paper's factors 1/2 go: its Gaussian likelihood for a regression task gives
    ``1 / (2 sigma^2) L + log sigma``, which with ``s = log sigma^2`` is
    ``(exp(-s) L + s) / 2``: one half of the implemented term. A constant factor moves
    neither the minimizer (``s* = log L`` in both) nor the direction of any gradient; it
    only halves the objective and all its gradients, i.e. it halves the learning rate. To
    get the paper's regression form exactly, multiply ``total``, ``weights`` and
    ``grad_log_vars`` by 0.5 (or, equivalently for plain SGD, halve the learning rate of
    the model and of ``log_vars``). The paper's classification form (softmax with a
    temperature, approximated) is ``1 / sigma^2 L + log sigma = exp(-s) L + s / 2``: it
    differs from the implemented term by the factor on ``s`` and has its minimum at
    ``s* = log(2 L)`` (weight ``1 / (2 L)``). It equals ``(exp(-s) (2 L) + s) / 2``, so
    passing ``2 L_i`` for a classification task and multiplying that task's results by 0.5
    reproduces it. The implemented form drops the common 1/2 and uses the same
    ``exp(-s) L + s`` for every task, as most implementations of the method do.

    Parameters
    ----------
    n_tasks : int
        The number of tasks, at least 1.
    init_log_var : float or sequence of float
        The initial ``s`` (0.0: every weight starts at 1); one value for all tasks or one
        per task, finite.

    Attributes
    ----------
    log_vars : ndarray of float64, shape (n_tasks,)
        ``s``, to be stepped by your optimizer with ``grad_log_vars``, e.g.
        ``uw.log_vars -= lr * g`` or through ``torch.from_numpy(uw.log_vars)``, which
        shares its memory. Assigning replaces it by a float64 copy of the new values.
    """

    def __init__(self, n_tasks, init_log_var=0.0):
        n = _n_tasks(n_tasks)
        if not hasattr(init_log_var, "__iter__") or getattr(init_log_var, "ndim", 1) == 0:
            s = np.full(n, _real(init_log_var, "init_log_var"))
        else:
            s = _float_vector(init_log_var, "init_log_var", n, "log-variances")
        if not np.isfinite(s).all():
            raise ValueError(f"init_log_var: must be finite, got {s.tolist()}")
        self._n = n
        self._log_vars = s

    @property
    def n_tasks(self):
        return self._n

    @property
    def log_vars(self):
        return self._log_vars

    @log_vars.setter
    def log_vars(self, value):
        if value is self._log_vars:          # an in-place update (uw.log_vars -= ...)
            return
        arr = np.array(value, dtype=np.float64)
        if arr.shape != (self._n,):
            raise ValueError(f"log_vars: expected shape ({self._n},), got {arr.shape}")
        self._log_vars = arr

    def _s(self):
        s = self._log_vars
        if s.shape != (self._n,) or not np.isfinite(s).all():
            raise ValueError(f"log_vars: must be {self._n} finite values, got {s.tolist()}")
        return s

    def value_and_grad(self, losses):
        """The total and its derivatives.

        Parameters
        ----------
        losses : sequence of n_tasks finite real scalars (Python numbers, NumPy scalars,
            0-d arrays or tensors), or a 1-D array.

        Returns
        -------
        total : float
            ``sum_i (exp(-s_i) L_i + s_i)``.
        weights : ndarray of float64, shape (n_tasks,)
            ``exp(-s)`` = d total / d L: task ``i``'s gradient times ``weights[i]``, summed
            over tasks, is the total's gradient with respect to the model's parameters.
        grad_log_vars : ndarray of float64, shape (n_tasks,)
            ``1 - exp(-s) * L`` = d total / d s.
        """
        L = _finite_losses(losses, "losses", self._n)
        s = self._s()
        return self._evaluate(L, s)

    @staticmethod
    def _evaluate(L, s):
        w = np.exp(-s)
        total = float(np.sum(w * L + s))
        return total, w, 1.0 - w * L

    def __call__(self, losses):
        """The total ``sum_i (exp(-s_i) L_i + s_i)`` as a float."""
        return self.value_and_grad(losses)[0]

    def combine(self, values_and_grads):
        """The total, the combined gradient and the gradient in ``log_vars``.

        ``values_and_grads`` is as for :func:`weighted_sum` (n_tasks pairs, or a dict of
        them, in task order). Returns ``(total, grad, grad_log_vars)`` where ``grad`` is
        ``weighted_sum(values_and_grads, exp(-s))[1]``, the total's gradient with respect to
        whatever the tasks' gradients are taken in.
        """
        labels, values, grads, _ = _parse_tasks(values_and_grads)
        if len(labels) != self._n:
            raise ValueError(f"values_and_grads: expected {self._n} tasks, got "
                             f"{len(labels)}")
        for lab, v in zip(labels, values):
            if not math.isfinite(v):
                raise ValueError(f"values_and_grads: the value of {_task(lab)} is {v}; "
                                 "losses must be finite")
        s = self._s()
        total, w, g_s = self._evaluate(np.array(values, dtype=np.float64), s)
        return total, _weighted(values, grads, w)[1], g_s

    def state_dict(self):
        """``{"n_tasks": int, "log_vars": float64 array}`` (a copy)."""
        return {"n_tasks": self._n, "log_vars": self._log_vars.copy()}

    def load_state_dict(self, state_dict):
        """Restore ``log_vars`` from :meth:`state_dict`'s output (in place: arrays sharing
        ``log_vars``'s memory see the restored values)."""
        if not isinstance(state_dict, Mapping) or "log_vars" not in state_dict:
            raise ValueError("state_dict: expected a dict with the key 'log_vars'")
        n = state_dict.get("n_tasks", self._n)
        if n != self._n:
            raise ValueError(f"state_dict: it is for {n} tasks, this object has {self._n}")
        s = _float_vector(state_dict["log_vars"], "state_dict['log_vars']", self._n,
                          "log-variances")
        if not np.isfinite(s).all():
            raise ValueError(f"state_dict['log_vars']: must be finite, got {s.tolist()}")
        if self._log_vars.shape == (self._n,) and self._log_vars.flags.writeable:
            self._log_vars[...] = s
        else:
            self._log_vars = s

    def __repr__(self):
        return f"UncertaintyWeighting(n_tasks={self._n}, log_vars={self._log_vars.tolist()})"


# ----------------------------------------------------------- dynamic weight average

class DynamicWeightAverage:
    """Task weights from the rate at which each task's loss falls (Liu, Johns, Davison 2019).

    With ``L_k(t)`` the average loss of task ``k`` over epoch ``t``, the weights of epoch
    ``t`` are

        r_k = L_k(t-1) / L_k(t-2),     w_k = K exp(r_k / T) / sum_j exp(r_j / T),

    ``K`` the number of tasks and ``T`` the temperature: a task whose loss falls slowly
    (``r_k`` near or above 1) gets a larger weight than one whose loss falls fast, and the
    weights always sum to ``K``. For the first two epochs (fewer than two recorded epochs)
    every weight is 1. A large ``T`` makes the weights nearly equal, a small one gives
    almost all of the ``K`` to the task with the largest ratio. The softmax is computed
    with the largest ``r_k / T`` subtracted, so it neither overflows nor underflows to
    0 / 0 for any ``T > 0``.

    Call :meth:`update` at the end of every epoch with that epoch's average task losses;
    use :attr:`weights`, :meth:`__call__` or :meth:`combine` during the next epoch.

    Parameters
    ----------
    n_tasks : int
        ``K``, at least 1.
    temperature : float
        ``T > 0``, finite (2.0, the paper's value).
    """

    def __init__(self, n_tasks, temperature=2.0):
        n = _n_tasks(n_tasks)
        T = _real(temperature, "temperature")
        if not (math.isfinite(T) and T > 0):
            raise ValueError(f"temperature: must be finite and positive, got {T}")
        self._n = n
        self._T = T
        self._history = []

    @property
    def n_tasks(self):
        return self._n

    @property
    def temperature(self):
        return self._T

    @property
    def history(self):
        """The recorded epoch losses, oldest first: a list of float64 arrays (copies)."""
        return [h.copy() for h in self._history]

    def update(self, epoch_losses):
        """Record one epoch's average task losses (n_tasks positive finite numbers)."""
        L = _float_vector(epoch_losses, "epoch_losses", self._n, "losses")
        bad = np.flatnonzero(~(np.isfinite(L) & (L > 0)))
        if bad.size:
            raise ValueError(f"epoch_losses: the loss of task {bad[0]} is {L[bad[0]]}; "
                             "epoch losses must be positive and finite (their ratios "
                             "set the weights)")
        self._history.append(L)

    @property
    def weights(self):
        """The current weights, a float64 array of shape (n_tasks,) summing to n_tasks."""
        if len(self._history) < 2:
            return np.ones(self._n)
        z = self._history[-1] / self._history[-2] / self._T
        e = np.exp(z - z.max())
        return self._n * e / e.sum()

    def __call__(self, losses):
        """``sum_k w_k L_k`` with the current weights, a float; ``losses`` must be finite."""
        L = _finite_losses(losses, "losses", self._n)
        return float(np.dot(self.weights, L))

    def combine(self, values_and_grads):
        """``weighted_sum(values_and_grads, self.weights)``: ``(total, grad)``."""
        labels, values, grads, _ = _parse_tasks(values_and_grads)
        if len(labels) != self._n:
            raise ValueError(f"values_and_grads: expected {self._n} tasks, got "
                             f"{len(labels)}")
        return _weighted(values, grads, self.weights)

    def state_dict(self):
        """``{"n_tasks": int, "temperature": float, "history": float64 array (epochs,
        n_tasks)}``."""
        hist = (np.array(self._history, dtype=np.float64) if self._history
                else np.zeros((0, self._n)))
        return {"n_tasks": self._n, "temperature": self._T, "history": hist}

    def load_state_dict(self, state_dict):
        """Restore the temperature and history from :meth:`state_dict`'s output."""
        if not isinstance(state_dict, Mapping) or "history" not in state_dict:
            raise ValueError("state_dict: expected a dict with the key 'history'")
        n = state_dict.get("n_tasks", self._n)
        if n != self._n:
            raise ValueError(f"state_dict: it is for {n} tasks, this object has {self._n}")
        T = _real(state_dict.get("temperature", self._T), "state_dict['temperature']")
        if not (math.isfinite(T) and T > 0):
            raise ValueError(f"state_dict['temperature']: must be finite and positive, "
                             f"got {T}")
        hist = np.array(state_dict["history"], dtype=np.float64)
        if hist.size == 0:
            hist = hist.reshape(0, self._n)
        if hist.ndim != 2 or hist.shape[1] != self._n:
            raise ValueError(f"state_dict['history']: expected shape (epochs, {self._n}), "
                             f"got {hist.shape}")
        if not (np.isfinite(hist) & (hist > 0)).all():
            raise ValueError("state_dict['history']: epoch losses must be positive and "
                             "finite")
        self._T = T
        self._history = [row.copy() for row in hist]

    def __repr__(self):
        return (f"DynamicWeightAverage(n_tasks={self._n}, temperature={self._T}, "
                f"epochs={len(self._history)})")
