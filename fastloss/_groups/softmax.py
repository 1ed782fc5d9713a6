"""Table entries and preparations of the softmax losses (see fastloss._registry).

Every loss here takes logits (N, C) or one unbatched row (C,) and integer class targets
(N,) / () of any integer dtype; rows whose target is ``ignore_index`` have value 0 and a
zero gradient and count in no mean.  Each runs on a row-wise op of csrc/ops_softmax.h.
"""
import math

import numpy as np

from .. import _checks as ck
from .. import _losses as L
from .._spec import LossSpec, Param
from ..reference import softmax as ref


def _rows(input, target, ignore_index, sample_weight):
    """Logits (N, C) or (C,), their class targets (int64, range-checked) and sample weights."""
    x, n, c, _, batched = L._class_input(input)
    if x.ndim > 2:
        raise ValueError(f"input: expected shape (C,) or (N, C), got {ck.shape_str(x.shape)}")
    t = ck.array(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"target: expected integer class indices, got dtype {t.dtype}")
    t64 = L._class_targets(t, x, n, c, 1, ignore_index, batched)
    sw = ck.sample_weight(sample_weight, n, x.dtype, batched)
    def ref_kw():   # the reference's arguments, built for backend="numpy" only
        return dict(input=x, target=t64.reshape(t.shape), ignore_index=ignore_index,
                    sample_weight=L._reference_sample_weight(sw, batched))

    return x, n, c, batched, t64, sw, ref_kw


def _finite(v, name):
    if not math.isfinite(v):
        raise ValueError(f"{name}: must be finite, got {v!r}")


def _class_weight(w, name, c, dtype):
    """L._class_weight, its messages naming the argument `name` (alpha for the focal loss)."""
    try:
        return L._class_weight(w, c, dtype)
    except (TypeError, ValueError) as e:
        msg = str(e)
        if name == "weight" or not msg.startswith("weight"):
            raise
        raise type(e)(name + msg[len("weight"):]) from None


def _call(op, input, target, ignore_index, sample_weight, params, options, weight=None,
          weight_name=None, denom=L.DEN_VALID):
    """The row-wise Call of `op`; `weight` (class weights (C,) or None, the argument
    `weight_name` of the loss) goes to the kernel as class_w and to the reference."""
    x, n, c, batched, t64, sw, ref_kw = _rows(input, target, ignore_index, sample_weight)
    w = None
    if weight_name is not None:
        w = _class_weight(weight, weight_name, c, x.dtype)
        options = {**options, weight_name: w}
    return L.row_call(op, x, n, c, sw, params, lambda: {**ref_kw(), **options}, target=t64,
                      class_w=w, ignore_index=ignore_index, denom=denom,
                      value_shape=(n,) if batched else ())


def prepare_softmax_focal_loss(input, target, gamma, alpha, ignore_index, sample_weight):
    _finite(gamma, "gamma")
    return _call("softmax_focal_loss", input, target, ignore_index, sample_weight, (gamma,),
                 dict(gamma=gamma), weight=alpha, weight_name="alpha")


def prepare_poly1_cross_entropy(input, target, epsilon, weight, ignore_index,
                                label_smoothing, sample_weight):
    _finite(epsilon, "epsilon")
    return _call("poly1_cross_entropy", input, target, ignore_index, sample_weight,
                 (epsilon, label_smoothing),
                 dict(epsilon=epsilon, label_smoothing=label_smoothing),
                 weight=weight, weight_name="weight", denom=L.DEN_CLASS_W)


def prepare_generalized_cross_entropy(input, target, q, ignore_index, sample_weight):
    return _call("generalized_cross_entropy", input, target, ignore_index, sample_weight,
                 (q,), dict(q=q))


def prepare_symmetric_cross_entropy(input, target, alpha, beta, A, ignore_index,
                                    sample_weight):
    for v, name in ((alpha, "alpha"), (beta, "beta"), (A, "A")):
        _finite(v, name)
    return _call("symmetric_cross_entropy", input, target, ignore_index, sample_weight,
                 (alpha, beta, A), dict(alpha=alpha, beta=beta, A=A))


def prepare_bootstrapped_cross_entropy(input, target, beta, mode, ignore_index,
                                       sample_weight):
    return _call("bootstrapped_cross_entropy", input, target, ignore_index, sample_weight,
                 (beta, 1.0 if mode == "hard" else 0.0), dict(beta=beta, mode=mode))


_IGNORE = Param("ignore_index", -100, "int",
                "class index whose samples count in neither the sum nor the mean")


def _spec(name, params, prepare, reference, summary, after=()):
    """A table entry of this group: (input, target, *params, ignore_index, reduction, and
    the loss's options after reduction), logits and class-index targets."""
    return LossSpec(
        name=name,
        inputs=("input", "target"),
        params=params + (_IGNORE,) + after,
        reduction_position=len(params) + 1,
        prepare=prepare,
        reference=reference,
        shapes="input (N, C) or (C,) logits; target (N,) / () class indices of any integer "
               "dtype",
        target_domain="class indices in [0, C) or ignore_index",
        torch=None,
        summary=summary,
    )


_MEAN = "; mean over the summed sample weight of the rows not ignored"

SPECS = (
    _spec("softmax_focal_loss", (
        Param("gamma", 2.0, "float", "focusing exponent of (1 - p_y)^gamma; 0 gives "
              "cross_entropy", 0.0, None),
        Param("alpha", None, "array",
              "per-class weights alpha_y, shape (C,), finite and non-negative: they rescale "
              "terms and are not in the mean's divisor"),
    ), prepare_softmax_focal_loss, ref.softmax_focal_loss,
        "multi-class focal loss -alpha_y (1 - p_y)^gamma log p_y (Lin et al. 2017)" + _MEAN +
        "; finite gradient for any gamma >= 0, also as p_y -> 1"),
    _spec("poly1_cross_entropy", (
        Param("epsilon", 1.0, "float", "weight of the Poly-1 term epsilon (1 - p_t); 0 gives "
              "cross_entropy", -1.0, None),
        Param("weight", None, "array",
              "class weights (C,), finite and non-negative: w_y multiplies both terms and "
              "the mean divides by the summed w_y (cross_entropy's rule)"),
    ), prepare_poly1_cross_entropy, ref.poly1_cross_entropy,
        "Poly-1 cross-entropy CE + epsilon (1 - p_t) (Leng et al. 2022), p_t the probability "
        "of the (smoothed) target",
        after=(Param("label_smoothing", 0.0, "float",
                     "smooth the target (both terms) with the uniform distribution by this "
                     "amount, as cross_entropy", 0.0, 1.0),)),
    _spec("generalized_cross_entropy", (
        Param("q", 0.7, "float", "exponent q in (0, 1]: q = 1 is 1 - p_y (MAE on "
              "probabilities), q -> 0 tends to cross_entropy", 0.0, 1.0, low_open=True),
    ), prepare_generalized_cross_entropy, ref.generalized_cross_entropy,
        "generalized cross-entropy (1 - p_y^q) / q (Zhang & Sabuncu 2018), robust to label "
        "noise" + _MEAN),
    _spec("symmetric_cross_entropy", (
        Param("alpha", 0.1, "float", "weight of the cross-entropy term", 0.0, None),
        Param("beta", 1.0, "float", "weight of the reverse cross-entropy term", 0.0, None),
        Param("A", -4.0, "float", "log 0 in the reverse cross-entropy -sum_c p_c log t_c = "
              "-A (1 - p_y); A < 0", None, 0.0, high_open=True),
    ), prepare_symmetric_cross_entropy, ref.symmetric_cross_entropy,
        "symmetric cross-entropy alpha CE + beta RCE (Wang et al. 2019), RCE = -A (1 - p_y)" +
        _MEAN),
    _spec("bootstrapped_cross_entropy", (
        Param("beta", 0.95, "float", "weight of the given label in the target mix "
              "beta onehot(y) + (1 - beta) z", 0.0, 1.0),
        Param("mode", "soft", "choice", "z = p (\"soft\") or onehot(argmax p) (\"hard\", the "
              "first maximum on ties)", choices=("soft", "hard")),
    ), prepare_bootstrapped_cross_entropy, ref.bootstrapped_cross_entropy,
        "bootstrapped cross-entropy -sum_c t'_c log p_c (Reed et al. 2014) with the target mix "
        "t' held constant: the gradient is p - t' (a stop-gradient through t', the paper's and "
        "common practice), in soft mode not the derivative of the value" + _MEAN),
)
