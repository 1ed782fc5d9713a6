"""Table entries and preparations of the binary losses (see fastloss._registry)."""
import numpy as np

from .. import _checks as ck
from .. import _losses as L
from .._spec import LossSpec, Param
from ..reference import binary as ref


def _in_unit_interval(a2d, name, what="values"):
    """Raise naming `name` when a value of a2d lies outside [0, 1] (NaN passes)."""
    k = ck.ops(a2d)
    bad = k.find_outside(a2d, 0.0, 1.0)
    if bad >= 0:
        raise ValueError(f"{name}: {what} must lie in [0, 1]; found {k.item(a2d, bad)!r} at "
                         f"flat position {bad}")


def prepare_binary_cross_entropy(input, target, weight, sample_weight):
    x, t, n, m, sw = L._elementwise(input, target, sample_weight)
    x = ck.ops(x).contiguous(x)   # checked here, read by the kernel without another copy
    _in_unit_interval(x.reshape(n, m), "input", "probabilities")
    _in_unit_interval(t.reshape(n, m), "target")
    w_ref = w = wl = None
    if weight is not None:
        w_ref, w, wl = L._aux_weight(weight, "weight", x.shape, n, m, x.dtype)
    return L.ew_call("binary_cross_entropy", x, t, sw, (),
                     lambda: dict(input=x, target=t, weight=w_ref, sample_weight=sw),
                     w=w, w_layout=wl or 0)


def prepare_kl_div(input, target, log_target, sample_weight):
    x, t, n, m, sw = L._elementwise(input, target, sample_weight)
    if not log_target:
        k = ck.ops(t)
        bad = k.find_outside(t.reshape(n, m), 0.0, np.inf)
        if bad >= 0:
            raise ValueError(f"target: probabilities must be >= 0 (log_target=False); found "
                             f"{k.item(t, bad)!r} at flat position {bad}")
    return L.ew_call("kl_div_log_target" if log_target else "kl_div", x, t, sw, (),
                     lambda: dict(input=x, target=t, log_target=log_target, sample_weight=sw))


def prepare_sigmoid_focal_loss(inputs, targets, alpha, gamma, sample_weight):
    x = ck.float_input(inputs, "inputs")
    t = ck.real_array(targets, "targets", x.dtype, x.shape)
    n, m = L._rows(x.shape)
    sw = ck.sample_weight(sample_weight, n, x.dtype, batched=x.ndim >= 1)
    _in_unit_interval(t.reshape(n, m), "targets")
    # alpha_t = A t + B (1 - t); alpha < 0 switches the weighting off (as torchvision)
    a, b = (alpha, 1.0 - alpha) if alpha >= 0 else (1.0, 1.0)
    op = "sigmoid_focal_loss_g2" if gamma == 2.0 else "sigmoid_focal_loss"
    return L.ew_call(op, x, t, sw, (a, b, gamma),
                     lambda: dict(inputs=x, targets=t, alpha=alpha, gamma=gamma,
                                  sample_weight=sw))


DICE_IDENTITY, DICE_SIGMOID, DICE_SOFTMAX = 0, 1, 2


def prepare_dice_loss(input, target, smooth, from_logits, weight, ignore_index, sample_weight):
    x = ck.float_input(input, "input")
    if x.ndim < 2:
        raise ValueError(f"input: expected shape (N, C) or (N, C, d1, ..., dk), got "
                         f"{ck.shape_str(x.shape)}")
    x, n, c, s, _ = L._class_input(x)
    if s == 0:
        raise ValueError(f"input: the positions d1..dk must not be empty, got shape "
                         f"{ck.shape_str(x.shape)}")
    dtype = x.dtype
    x = ck.ops(x).contiguous(x)
    xk = x.reshape(n, c * s)
    if not from_logits:
        _in_unit_interval(xk, "input", "probabilities (from_logits=False)")
    tt = ck.array(target)
    spatial = (n,) + x.shape[2:]
    t64 = tf = None
    if c >= 2 and tt.shape == spatial:
        if tt.dtype.kind not in "iu":
            raise TypeError(f"target: class indices of shape {ck.shape_str(spatial)} must be "
                            f"integers, got dtype {tt.dtype} (probabilities take the input's "
                            f"shape {ck.shape_str(x.shape)})")
        if c >= 2**31:
            raise ValueError(f"input: class-index targets take at most 2**31 - 1 classes, "
                             f"got C = {c}")
        t64 = L._class_targets(tt, x, n, c, s, ignore_index, True)
        target_ref = t64.reshape(spatial)
    else:
        if tt.shape != x.shape and not (c == 1 and tt.shape == spatial):
            want = (f"{ck.shape_str(x.shape)} or {ck.shape_str(spatial)}" if c == 1 else
                    f"{ck.shape_str(spatial)} (class indices) or {ck.shape_str(x.shape)} "
                    "(probabilities)")
            raise ValueError(f"target: expected shape {want} for input "
                             f"{ck.shape_str(x.shape)}, got {ck.shape_str(tt.shape)}")
        if ignore_index != -100:
            raise ValueError("ignore_index: applies to class-index targets only; leave it at "
                             "-100 with probability (or binary) targets")
        tf = ck.real_array(tt, "target", dtype, tt.shape).reshape(x.shape)
        _in_unit_interval(tf.reshape(n, c * s), "target")
        target_ref = tf
    w = L._class_weight(weight, c, dtype)
    if w is not None and not ck.ops(w).total(w) > 0:
        raise ValueError("weight: class weights must not all be zero (the loss divides by "
                         "their sum)")
    sw = ck.sample_weight(sample_weight, n, dtype)
    act = DICE_IDENTITY if not from_logits else (DICE_SIGMOID if c == 1 else DICE_SOFTMAX)
    return L.row_call("dice_loss", x, n, c, sw, (smooth, act),
                      lambda: dict(input=x, target=target_ref, smooth=smooth,
                                   from_logits=from_logits, weight=w,
                                   ignore_index=ignore_index, sample_weight=sw),
                      s=s, target=t64, t=tf, class_w=w, ignore_index=ignore_index,
                      denom=L.DEN_ROWS, value_shape=(n,))


SPECS = (
    LossSpec(
        name="binary_cross_entropy",
        inputs=("input", "target"),
        params=(
            Param("weight", None, "array",
                  "element weights broadcastable to the input (rescale terms; not in the "
                  "mean's divisor, as PyTorch)"),
        ),
        reduction_position=1,
        prepare=prepare_binary_cross_entropy,
        reference=ref.binary_cross_entropy,
        shapes="input any shape; target the input's shape",
        target_domain="input probabilities in [0, 1], targets in [0, 1] (NaN passes as data; "
                      "PyTorch rejects NaN input)",
        torch="torch.nn.functional.binary_cross_entropy",
        summary="binary cross-entropy of probabilities, each log clamped at -100 and the "
                "gradient's denominator at 1e-12 (as PyTorch)",
    ),
    LossSpec(
        name="kl_div",
        inputs=("input", "target"),
        params=(
            Param("log_target", False, "bool",
                  "the target holds log-probabilities: l = exp(t) (t - input)"),
        ),
        reduction_position=0,
        prepare=prepare_kl_div,
        reference=ref.kl_div,
        shapes="input any shape (log-probabilities); target the input's shape",
        target_domain="probabilities >= 0 (0 contributes 0), or any real log-probability "
                      "with log_target",
        torch="torch.nn.functional.kl_div",
        summary="Kullback-Leibler divergence t (log t - input) of log-probability inputs; "
                "'batchmean' divides the sum by the (weighted) batch size",
        reductions=("mean", "sum", "none", "batchmean"),
    ),
    LossSpec(
        name="sigmoid_focal_loss",
        inputs=("inputs", "targets"),
        params=(
            Param("alpha", 0.25, "float",
                  "weight of the positive class, alpha t + (1 - alpha)(1 - t); a negative "
                  "alpha switches the weighting off (as torchvision)"),
            Param("gamma", 2.0, "float",
                  "focusing exponent of (1 - p_t); the gradient stays finite for gamma < 1",
                  0.0, None),
        ),
        reduction_position=2,
        default_reduction="none",
        grad_wrt=("inputs",),
        prepare=prepare_sigmoid_focal_loss,
        reference=ref.sigmoid_focal_loss,
        shapes="inputs any shape (logits); targets the inputs' shape",
        target_domain="targets in [0, 1]",
        torch="torchvision.ops.sigmoid_focal_loss",
        summary="focal loss of sigmoid logits (RetinaNet): BCE-with-logits times "
                "(1 - p_t)^gamma, optionally alpha-weighted",
    ),
    LossSpec(
        name="dice_loss",
        inputs=("input", "target"),
        params=(
            Param("smooth", 1.0, "float",
                  "added to numerator and denominator of every class's Dice coefficient; "
                  "with 0, an empty class (no prediction, no target) counts as Dice 1", 0.0,
                  None),
            Param("from_logits", True, "bool",
                  "input holds logits (sigmoid for C = 1, softmax over C otherwise); False: "
                  "probabilities in [0, 1] as given"),
            Param("weight", None, "array",
                  "class weights, shape (C,), finite, non-negative, not all zero: the "
                  "sample's loss is their weighted mean over classes"),
            Param("ignore_index", -100, "int",
                  "class index (index targets) whose positions count in no sum"),
        ),
        reduction_position=4,
        prepare=prepare_dice_loss,
        reference=ref.dice_loss,
        shapes="input (N, C) or (N, C, d1, ..., dk); target (N, d1, ..., dk) class indices "
               "(C >= 2) or probabilities of the input's shape; for C = 1 also (N, d1, ..., "
               "dk) probabilities",
        target_domain="class indices in [0, C) or ignore_index; probabilities in [0, 1]",
        torch=None,
        summary="soft Dice loss for segmentation: per sample, the class-weighted mean of "
                "1 - (2 sum p t + smooth) / (sum p + sum t + smooth) over the positions",
    ),
)
