"""Table entries and preparations of the regression losses (see fastloss._registry)."""
import math
import numpy as np

from .. import _checks as ck
from .. import _losses as L
from .._spec import LossSpec, Param
from ..reference import regression as ref

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _ew_ref(x, t, sw, **more):
    """The reference's keyword arguments, built when called (backend="numpy")."""
    return lambda: dict(input=x, target=t, sample_weight=sw, **more)


def _target_at_least(t, n, m, lo, what, strict=False):
    """Raise naming target when a value lies below lo (or at lo when strict); NaN passes."""
    if strict:
        # (lo, inf] for lo = 0: the smallest positive number of the dtype is the closed end
        lo = float(np.finfo(t.dtype).smallest_subnormal)
    t2 = t.reshape(n, m)
    k = ck.ops(t2)
    bad = k.find_outside(t2, lo, np.inf)
    if bad >= 0:
        raise ValueError(f"target: {what}; found {k.item(t2, bad)!r} at flat position {bad}")


def prepare_l1_loss(input, target, weight, sample_weight):
    x, t, n, m, sw = L._elementwise(input, target, sample_weight)
    w, wl = L.same_shape_weight(weight, x.shape, x.dtype)
    return L.ew_call("l1_loss", x, t, sw, (), _ew_ref(x, t, sw, weight=w),
                     w=None if w is None else w.reshape(n, m), w_layout=wl, w_denom=True)


def prepare_huber_loss(input, target, delta, weight, sample_weight):
    # torch 2.13 divides a weighted mean by the element count, not by the weights' sum
    x, t, n, m, sw = L._elementwise(input, target, sample_weight)
    w, wl = L.same_shape_weight(weight, x.shape, x.dtype)
    return L.ew_call("huber_loss", x, t, sw, (delta, 0.5 * delta),
                     _ew_ref(x, t, sw, weight=w, delta=delta),
                     w=None if w is None else w.reshape(n, m), w_layout=wl, w_denom=False)


def prepare_smooth_l1_loss(input, target, beta, sample_weight):
    x, t, n, m, sw = L._elementwise(input, target, sample_weight)
    r = _ew_ref(x, t, sw, beta=beta)
    if beta == 0.0:   # exactly l1_loss, as torch
        return L.ew_call("l1_loss", x, t, sw, (), r)
    return L.ew_call("smooth_l1_loss", x, t, sw, (beta, 0.5 * beta), r)


def prepare_log_cosh_loss(input, target, sample_weight):
    x, t, n, m, sw = L._elementwise(input, target, sample_weight)
    return L.ew_call("log_cosh_loss", x, t, sw, (), _ew_ref(x, t, sw))


def prepare_pinball_loss(input, target, quantile, sample_weight):
    x, t, n, m, sw = L._elementwise(input, target, sample_weight)
    return L.ew_call("pinball_loss", x, t, sw, (quantile, quantile - 1.0),
                     _ew_ref(x, t, sw, quantile=quantile))


def prepare_poisson_nll_loss(input, target, log_input, full, eps, sample_weight):
    x, t, n, m, sw = L._elementwise(input, target, sample_weight)
    _target_at_least(t, n, m, 0.0, "Poisson counts must be non-negative")
    op = ("poisson_nll_log" if log_input else "poisson_nll") + ("_full" if full else "")
    return L.ew_call(op, x, t, sw, (eps,),
                     _ew_ref(x, t, sw, log_input=log_input, full=full, eps=eps))


def _gaussian_var(var, x):
    """var as torch.nn.functional.gaussian_nll_loss takes it: a float (here also a 0-d
    array) for every element, or an array of the input's shape, of the input's shape
    without its last dimension, or of the input's shape with one dimension of size 1.
    Returns (var for the reference: a float or the cast array; var materialized in the
    input's shape for the kernel; the shape of var's gradient; the shape, of the input's
    dimension count, that var broadcasts from).  x: the checked input (its shape, dtype
    and side, host or device)."""
    shape, dtype, K = x.shape, x.dtype, ck.ops(x)
    if isinstance(var, (bool, np.bool_)):
        raise TypeError("var: expected a float or a real-valued array, got bool")
    arr = ck.array(var)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"var: expected a float or a real-valued array, got dtype {arr.dtype}")
    vshape = arr.shape
    if arr.ndim and vshape != shape:
        if vshape == shape[:-1]:
            vshape = vshape + (1,)
        elif not (len(vshape) == len(shape)
                  and sum(v for s, v in zip(shape, vshape) if s != v) == 1
                  and np.broadcast_shapes(vshape, shape) == shape):
            raise ValueError(f"var: shape {ck.shape_str(arr.shape)} is not the input's shape "
                             f"{ck.shape_str(shape)}, that shape without its last dimension, "
                             f"or that shape with one dimension of size 1 (as PyTorch)")
    with np.errstate(over="ignore"):
        v = ck.ops(arr).contiguous(arr, dtype)
    kv = ck.ops(v)
    bad = kv.find_outside(v.reshape(v.size), float(np.finfo(dtype).smallest_subnormal),
                          np.inf)
    if bad >= 0:
        orig = kv.item(arr, bad)
        why = f" (underflows {dtype})" if orig > 0 else ""
        raise ValueError(f"var: variances must be positive; found {orig!r}{why} at flat "
                         f"position {bad}")
    if vshape == shape:
        return v, v, shape, shape
    if not arr.ndim:
        fv = float(kv.item(v, 0))
        return fv, K.full(shape, fv, dtype), (), (1,) * len(shape)
    return v, K.broadcast_copy(v.reshape(vshape), shape), arr.shape, vshape


def prepare_gaussian_nll_loss(input, target, var, full, eps, sample_weight):
    x, t, n, m, sw = L._elementwise(input, target, sample_weight)
    v_ref, v_full, vshape, bshape = _gaussian_var(var, x)
    call = L.ew_call("gaussian_nll_loss", x, t, sw, (eps, _HALF_LOG_2PI if full else 0.0),
                     _ew_ref(x, t, sw, var=v_ref, full=full, eps=eps), y=v_full)
    if vshape == x.shape:
        return call
    # var broadcasts: the kernel writes the gradient of the materialized var, summed here
    # (in float64) over the broadcast dimension into var's own shape; var broadcasts along
    # one dimension k (PyTorch's rule), or along all of them when it is a scalar
    kernel = call.cpu
    vk = call.more[0][0]
    K = ck.ops(x)
    axes = [k for k, (a, b) in enumerate(zip(bshape, x.shape)) if a != b]
    k0, k1 = (axes[0], axes[-1] + 1) if axes else (0, 0)
    A, B = math.prod(x.shape[:k0]), math.prod(x.shape[k1:])
    mid = (A, x.size // (A * B) if A * B else 0, B)

    def cpu(red, loss_out, grad, nt):
        if grad is None:
            return kernel(red, loss_out, None, nt)
        g_in, g_var = grad
        g_full = K.empty(x.shape, x.dtype)
        value = kernel(red, loss_out, (g_in, g_full), nt)
        K.sum_middle(g_full.reshape(mid), g_var.reshape(A, B))
        return value

    call.cpu = cpu
    call.more = ((vk, vshape),)
    return call


def prepare_tweedie_deviance_loss(input, target, power, sample_weight):
    p = power
    if not math.isfinite(p) or 0.0 < p < 1.0:
        raise ValueError(f"power: must be <= 0 or >= 1 (no Tweedie distribution has "
                         f"0 < power < 1), and finite; got {power!r}")
    x, t, n, m, sw = L._elementwise(input, target, sample_weight)
    if p >= 2.0:
        _target_at_least(t, n, m, 0.0, f"must be positive for power {p} >= 2", strict=True)
    elif p >= 1.0:
        _target_at_least(t, n, m, 0.0, f"must be non-negative for power {p} in [1, 2)")
    r = _ew_ref(x, t, sw, power=p)
    special = {0.0: "tweedie_normal", 1.0: "tweedie_poisson", 2.0: "tweedie_gamma"}
    if p in special:
        return L.ew_call(special[p], x, t, sw, (), r)
    return L.ew_call("tweedie_deviance_loss", x, t, sw,
                     (1.0 - p, 2.0 - p, 1.0 / (1.0 - p), 1.0 / (2.0 - p)), r)


def _robust_param(a, name, x, positive):
    """alpha or scale of robust_loss: a float or a real array broadcastable to the input.
    Returns (its public shape, its values materialized in the input's shape for the
    kernel).  scale must be positive and finite; NaN propagates (as NaN in the data)."""
    shape, dtype = x.shape, x.dtype
    if isinstance(a, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a float or a real-valued array, got bool")
    arr = ck.array(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a float or a real-valued array, got dtype "
                        f"{arr.dtype}")
    L.check_broadcasts(arr, shape, name)
    K = ck.ops(arr)
    with np.errstate(over="ignore"):
        v = K.contiguous(arr, dtype)
    kv = ck.ops(v)
    if positive and v.size:
        fi = np.finfo(dtype)
        bad = kv.find_outside(v.reshape(v.size), float(fi.smallest_subnormal), float(fi.max))
        if bad >= 0:
            orig = kv.item(arr, bad)
            why = f" (outside {dtype}'s range)" if 0 < orig < np.inf else ""
            raise ValueError(f"{name}: must be positive and finite; found {orig!r}{why} at "
                             f"flat position {bad}")
    if v.shape == shape:
        return arr.shape, v
    if not math.prod(shape):
        return arr.shape, kv.empty(shape, dtype)
    return arr.shape, kv.broadcast_copy(v, shape)


def _sum_to(K, g, shape, out):
    """out (of `shape`, broadcastable to g's) = g summed over the dimensions `shape` was
    broadcast along, in float64 (one pass per run of such dimensions; the partial sums
    between runs kept in float64)."""
    full = g.shape
    b = (1,) * (len(full) - len(shape)) + tuple(shape)
    cur, cur_shape = g, list(full)
    k = 0
    while k < len(full):
        if b[k] == 1 and full[k] != 1:
            j = k
            while j < len(full) and b[j] == 1 and full[j] != 1:
                j += 1
            A, M = math.prod(cur_shape[:k]), math.prod(cur_shape[k:j])
            B = math.prod(cur_shape[j:])
            cur_shape = cur_shape[:k] + [1] * (j - k) + cur_shape[j:]
            last = not any(b[i] == 1 and full[i] != 1 for i in range(j, len(full)))
            dst = out.reshape(A, B) if last else K.empty((A, B), np.float64)
            K.sum_middle(cur.reshape(A, M, B), dst)
            cur = dst
            k = j
        else:
            k += 1
    if cur is g:   # nothing to sum: the shapes differ by leading ones only
        out.reshape(g.shape)[...] = g
    return out


def prepare_robust_loss(input, alpha, scale, sample_weight):
    x = ck.float_input(input, "input")
    n, m = L._rows(x.shape)
    sw = None if sample_weight is None else ck.sample_weight(sample_weight, n, x.dtype,
                                                             batched=x.ndim >= 1)
    ashape, a_full = _robust_param(alpha, "alpha", x, False)
    cshape, c_full = _robust_param(scale, "scale", x, True)
    ref = lambda: dict(input=x, alpha=np.asarray(alpha, dtype=x.dtype),   # noqa: E731
                       scale=np.asarray(scale, dtype=x.dtype), sample_weight=sw)
    call = L.ew_call("robust_loss", x, a_full, sw, (), ref, y=c_full, t_grad=True)
    if ashape == x.shape and cshape == x.shape:
        return call
    # alpha or scale broadcast: their gradients are written in the input's shape and
    # summed (in float64) into their own shapes
    kernel = call.cpu
    K = ck.ops(x)

    def cpu(red, loss_out, grad, nt):
        if grad is None:
            return kernel(red, loss_out, None, nt)
        g_x, g_a, g_c = grad
        fa = g_a if ashape == x.shape else K.empty(x.shape, x.dtype)
        fc = g_c if cshape == x.shape else K.empty(x.shape, x.dtype)
        # (an empty input has no gradient to write: its broadcast sums come out 0)
        value = kernel(red, loss_out, (g_x, fa, fc) if x.size else None, nt)
        if fa is not g_a:
            _sum_to(K, fa, ashape, g_a)
        if fc is not g_c:
            _sum_to(K, fc, cshape, g_c)
        return value

    call.cpu = cpu
    call.more = ((call.more[0][0], ashape), (call.more[1][0], cshape))
    return call


_SAME_SHAPE_WEIGHT = Param("weight", None, "array",
                           "element weights of the input's shape; the mean divides by their "
                           "sum (as PyTorch)")
_HUBER_WEIGHT = Param("weight", None, "array",
                      "element weights of the input's shape; the mean divides by the "
                      "element count, not by the weights' sum (as PyTorch 2.13's huber_loss)")
_ANY_SHAPE = "input any shape; target the input's shape"


def _residual_spec(name, prepare, reference, summary, params=(), reduction_position=0,
                   torch=None, **more):
    """A loss of (input, target) of any shape with any real target."""
    return LossSpec(name=name, inputs=("input", "target"), params=params,
                    reduction_position=reduction_position, prepare=prepare,
                    reference=reference, shapes=more.pop("shapes", _ANY_SHAPE),
                    target_domain=more.pop("target_domain", "any real target"),
                    torch=torch, summary=summary, **more)


SPECS = (
    _residual_spec(
        "l1_loss", prepare_l1_loss, ref.l1_loss,
        "absolute error; gradient sign(input - target), 0 at a tie",
        params=(_SAME_SHAPE_WEIGHT,), torch="torch.nn.functional.l1_loss"),
    _residual_spec(
        "huber_loss", prepare_huber_loss, ref.huber_loss,
        "r^2 / 2 for |r| < delta, delta (|r| - delta / 2) beyond; gradient "
        "clamp(r, -delta, delta)",
        params=(Param("delta", 1.0, "float",
                      "where the quadratic part (|r| < delta) turns into delta-scaled L1",
                      0.0, None, low_open=True),
                _HUBER_WEIGHT),
        torch="torch.nn.functional.huber_loss"),
    _residual_spec(
        "smooth_l1_loss", prepare_smooth_l1_loss, ref.smooth_l1_loss,
        "r^2 / (2 beta) for |r| < beta, |r| - beta / 2 beyond (huber_loss / beta)",
        params=(Param("beta", 1.0, "float",
                      "where the quadratic part (|r| < beta) turns into L1; 0 is l1_loss",
                      0.0, None),),
        torch="torch.nn.functional.smooth_l1_loss"),
    _residual_spec(
        "log_cosh_loss", prepare_log_cosh_loss, ref.log_cosh_loss,
        "log(cosh(input - target)) without overflow or cancellation (|r| - log 2 for large "
        "|r|); gradient tanh(input - target)"),
    _residual_spec(
        "pinball_loss", prepare_pinball_loss, ref.pinball_loss,
        "quantile (pinball) loss max(q (t - x), (q - 1)(t - x)), as scikit-learn's "
        "PinballLoss; gradient -q where t >= x (a tie included), 1 - q where t < x",
        params=(Param("quantile", 0.5, "float", "the quantile level to estimate",
                      0.0, 1.0, low_open=True, high_open=True),),
        reduction_position=1),
    _residual_spec(
        "poisson_nll_loss", prepare_poisson_nll_loss, ref.poisson_nll_loss,
        "Poisson negative log-likelihood of a log-rate (or rate) input",
        params=(Param("log_input", True, "bool",
                      "input is log(rate): exp(input) - target * input; else the rate: "
                      "input - target * log(input + eps)"),
                Param("full", False, "bool",
                      "add Stirling's term t log t - t + log(2 pi t) / 2 where target > 1"),
                Param("eps", 1e-8, "float", "added to the rate inside the log "
                      "(log_input=False)", 0.0, None, low_open=True)),
        reduction_position=3, torch="torch.nn.functional.poisson_nll_loss",
        target_domain="non-negative counts (any non-negative real, as PyTorch)"),
    LossSpec(
        name="gaussian_nll_loss",
        inputs=("input", "target", "var"),
        params=(Param("full", False, "bool", "add the constant log(2 pi) / 2"),
                Param("eps", 1e-6, "float", "var is clamped below at eps (the gradient "
                      "is not masked, as PyTorch)", 0.0, None, low_open=True)),
        reduction_position=2,
        prepare=prepare_gaussian_nll_loss,
        reference=ref.gaussian_nll_loss,
        shapes="input any shape; target the input's shape; var a positive float (or 0-d "
               "array), or an array of the input's shape, of that shape without its last "
               "dimension, or of that shape with one dimension of size 1 (as PyTorch); "
               "d_var has var's shape",
        target_domain="any real target; var > 0 (PyTorch also takes 0)",
        torch="torch.nn.functional.gaussian_nll_loss",
        summary="Gaussian negative log-likelihood (log v + (input - target)^2 / v) / 2, "
                "v = max(var, eps); differentiable in input and var",
        grad_wrt=("input", "var"),
    ),
    _residual_spec(
        "tweedie_deviance_loss", prepare_tweedie_deviance_loss, ref.tweedie_deviance_loss,
        "half Tweedie deviance of mu = exp(input), 0 at input = log(target): "
        "scikit-learn's HalfTweedieLoss(power) plus its constant_to_optimal_zero",
        params=(Param("power", 1.5, "float",
                      "Tweedie power p: <= 0 or >= 1; 0 normal, 1 Poisson, 2 gamma, 3 "
                      "inverse Gaussian"),),
        reduction_position=1,
        shapes="input (raw prediction, log of the mean) any shape; target the input's "
               "shape",
        target_domain="any real for power <= 0, >= 0 for 1 <= power < 2, > 0 for "
                      "power >= 2 (as scikit-learn)"),
    LossSpec(
        name="robust_loss",
        inputs=("input", "alpha", "scale"),
        params=(),
        reduction_position=0,
        prepare=prepare_robust_loss,
        reference=ref.robust_loss,
        shapes="input (the residual) any shape; alpha and scale floats or arrays "
               "broadcastable to the input (e.g. (D,) per channel); d_alpha and d_scale "
               "have their shapes",
        target_domain="alpha any real or +-inf (0 Cauchy, 1 pseudo-Huber, 2 L2, -2 "
                      "Geman-McClure, -inf Welsch); scale > 0",
        torch=None,
        summary="Barron's general robust loss of the residual: L2, pseudo-Huber, Cauchy, "
                "Geman-McClure and Welsch at alpha = 2, 1, 0, -2, -inf and every shape "
                "between, exact at those; differentiable in input, alpha and scale",
        grad_wrt=("input", "alpha", "scale"),
    ),
)
