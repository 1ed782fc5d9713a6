"""Table entries and preparations of the margin losses (see fastloss._registry).

Beyond PyTorch: targets that PyTorch silently folds into a formula (a +-1 target that is
neither, a multilabel target outside [0, 1]) raise; inputs that PyTorch would broadcast
against each other must have the same shape; NaN propagates to the value and gradient
(PyTorch's comparisons drop it in multi_margin_loss and in the clamps' gradients);
soft_margin_loss is computed as softplus, exact where PyTorch's log1p(exp(.)) overflows.
"""
import numpy as np

from .. import _checks as ck
from .. import _losses as L
from .._spec import LossSpec, Param
from ..reference import margin as ref


# ------------------------------------------------------------------ checks ----

def _pm1(t, name="target"):
    """Raise unless every value of the (cast, C-contiguous) target is 1 or -1."""
    k = ck.ops(t)
    bad = k.find_not_in(t, -1.0, 1.0)
    if bad >= 0:
        raise ValueError(f"{name}: values must be 1 or -1; found {k.item(t, bad)!r} at "
                         f"flat position {bad}")


def _second_input(a, name, x, first):
    """A further differentiable input: float, the first input's dtype and shape (no
    broadcasting)."""
    y = ck.float_input(a, name)
    if y.dtype != x.dtype:
        raise TypeError(f"{name}: dtype {y.dtype} does not match {first}'s dtype {x.dtype}")
    if y.shape != x.shape:
        raise ValueError(f"{name}: shape {ck.shape_str(y.shape)} does not match {first}'s "
                         f"shape {ck.shape_str(x.shape)} (no broadcasting)")
    return y


def _row_input(a, name, what):
    """An input of shape (N, D) or (D,): (x, n, d, batched)."""
    x = ck.float_input(a, name)
    if x.ndim not in (1, 2):
        raise ValueError(f"{name}: expected shape {what}, got {ck.shape_str(x.shape)}")
    batched = x.ndim == 2
    n, d = x.shape if batched else (1, x.shape[0])
    return x, n, d, batched


def _row_target(target, x, n, batched, first):
    """One +-1 target per row: shape (N,) for (N, D) inputs, () for (D,)."""
    want = (n,) if batched else ()
    t = ck.real_array(target, "target", x.dtype, np.shape(target))
    if t.shape != want:
        raise ValueError(f"target: one value per row of {first} {ck.shape_str(x.shape)} "
                         f"needs shape {ck.shape_str(want)}, got {ck.shape_str(t.shape)}")
    _pm1(t)
    return t


# --------------------------------------------------------- element-wise ops ----

def prepare_soft_margin_loss(input, target, sample_weight):
    x, t, n, m, sw = L._elementwise(input, target, sample_weight)
    _pm1(t)
    return L.ew_call("soft_margin_loss", x, t, sw, (),
                     lambda: dict(input=x, target=t, sample_weight=sw))


def prepare_hinge_embedding_loss(input, target, margin, sample_weight):
    x, t, n, m, sw = L._elementwise(input, target, sample_weight)
    _pm1(t)
    return L.ew_call("hinge_embedding_loss", x, t, sw, (margin,),
                     lambda: dict(input=x, target=t, margin=margin, sample_weight=sw))


def prepare_margin_ranking_loss(input1, input2, target, margin, sample_weight):
    x = ck.float_input(input1, "input1")
    y = _second_input(input2, "input2", x, "input1")
    t = ck.real_array(target, "target", x.dtype, x.shape)
    _pm1(t)
    n, _ = L._rows(x.shape)
    sw = ck.sample_weight(sample_weight, n, x.dtype, batched=x.ndim >= 1)
    return L.ew_call("margin_ranking_loss", x, t, sw, (margin,),
                     lambda: dict(input1=x, input2=y, target=t, margin=margin,
                                  sample_weight=sw), y=y)


# -------------------------------------------------------------- row-wise ops ----

def prepare_multi_margin_loss(input, target, p, margin, weight, sample_weight):
    x, n, c, batched = _row_input(input, "input", "(N, C) or (C,)")
    if c == 0:
        raise ValueError("input: needs at least one class (C >= 1), got C = 0")
    t = ck.array(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"target: expected integer class indices, got dtype {t.dtype}")
    # PyTorch's rule: at most 1-D with one index per row; "none" takes the target's shape
    if t.ndim > 1 or t.size != n:
        raise ValueError(f"target: class indices for input {ck.shape_str(x.shape)} must have "
                         f"shape ({n},){'' if batched else ' or ()'}, got "
                         f"{ck.shape_str(t.shape)}")
    t64 = L.int64_targets(t, c).reshape(n)
    k = ck.ops(t64)
    bad = k.find_bad_class_index(t64, c, 0)   # 0 is a valid class: nothing ignored
    if bad >= 0:
        raise ValueError(f"target: class index {k.item(t64, bad)} at position {bad} is out of range "
                         f"for {c} classes (valid: 0 to {c - 1})")
    w = L._class_weight(weight, c, x.dtype)
    sw = ck.sample_weight(sample_weight, n, x.dtype, batched)
    return L.row_call("multi_margin_loss", x, n, c, sw, (p, margin),
                      lambda: dict(input=x, target=t64.reshape(t.shape), p=p, margin=margin,
                                   weight=w, sample_weight=sw),
                      target=t64, class_w=w, value_shape=t.shape)


def prepare_multilabel_soft_margin_loss(input, target, weight, sample_weight):
    x, n, c, batched = _row_input(input, "input", "(N, C) or (C,)")
    if c == 0:
        raise ValueError("input: needs at least one class (C >= 1), got C = 0")
    t = ck.real_array(target, "target", x.dtype, x.shape)
    k = ck.ops(t)
    bad = k.find_outside(t, 0.0, 1.0)
    if bad >= 0:
        raise ValueError(f"target: values must lie in [0, 1]; found {k.item(t, bad)!r} at "
                         f"flat position {bad}")
    sw = ck.sample_weight(sample_weight, n, x.dtype, batched)

    def ref_kw(w_ref=None):
        return lambda: dict(input=x, target=t, weight=w_ref, sample_weight=sw)

    value_shape = (n,) if batched else ()
    if weight is None:
        return L.row_call("multilabel_soft_margin_loss", x, n, c, sw, (), ref_kw(), t=t,
                          value_shape=value_shape)
    # PyTorch multiplies the element losses by `weight`, broadcast: any weight that
    # broadcasts to the input's shape (without enlarging it) is accepted
    w_ref = ck.nonnegative_weights(weight, "weight", x.dtype)
    try:
        if np.broadcast_shapes(w_ref.shape, x.shape) != x.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"weight: shape {ck.shape_str(w_ref.shape)} does not broadcast to "
                         f"the input's shape {ck.shape_str(x.shape)}") from None
    if not batched or w_ref.ndim < 2 or w_ref.shape[0] == 1:
        # one weight per class (PyTorch documents (C,)): the row-wise op's class weights
        per_class = w_ref.reshape(w_ref.shape[-1:] if w_ref.ndim else ())
        cw = k.broadcast_copy(per_class, (c,))
        return L.row_call("multilabel_soft_margin_loss", x, n, c, sw, (), ref_kw(w_ref), t=t,
                          class_w=cw, value_shape=value_shape)
    # a weight per row or per element: BCE with logits over the (N, C) elements with that
    # weight; the per-row value is the row's sum of the weighted terms over C
    w, layout = L._aux_layout(w_ref, x.shape, n, c, x.dtype, "weight")
    xk = k.contiguous(x).reshape(n, c)
    tk = t.reshape(n, c)

    def bce(wk, red, loss_out, grad, nt):
        return k.binary_cross_entropy_with_logits(xk, tk, wk, layout, None, 0, sw, red,
                                                  loss_out, grad, nt)

    def cpu(red, loss_out, grad, nt):
        if red == 2:   # the mean of the row values is the mean of the N * C terms
            return bce(w, red, None, grad, nt)
        wc = k.divided(w, c)
        if red == 1:
            return bce(wc, red, None, grad, nt)
        per = k.empty((n, c), x.dtype)
        bce(wc, red, per, grad, nt)
        k.sum_middle(per.reshape(n, c, 1), loss_out.reshape(n, 1))
        return 0.0

    return L.Call(xk, x.shape, value_shape, cpu, ref_kw(w_ref), (tk, w, sw))


def prepare_cosine_embedding_loss(input1, input2, target, margin, sample_weight):
    x, n, d, batched = _row_input(input1, "input1", "(N, D) or (D,)")
    y = _second_input(input2, "input2", x, "input1")
    t = _row_target(target, x, n, batched, "input1")
    sw = ck.sample_weight(sample_weight, n, x.dtype, batched)
    return L.row_call("cosine_embedding_loss", x, n, d, sw, (margin,),
                      lambda: dict(input1=x, input2=y, target=t, margin=margin,
                                   sample_weight=sw),
                      x2=y, rt=t.reshape(n), value_shape=(n,) if batched else ())


def prepare_triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                sample_weight):
    a, n, d, batched = _row_input(anchor, "anchor", "(N, D) or (D,)")
    pos = _second_input(positive, "positive", a, "anchor")
    neg = _second_input(negative, "negative", a, "anchor")
    sw = ck.sample_weight(sample_weight, n, a.dtype, batched)
    return L.row_call("triplet_margin_loss", a, n, d, sw, (margin, p, eps, float(swap)),
                      lambda: dict(anchor=a, positive=pos, negative=neg, margin=margin, p=p,
                                   eps=eps, swap=swap, sample_weight=sw),
                      x2=pos, x3=neg, value_shape=(n,) if batched else ())


# ------------------------------------------------------------------- table ----

_PM1 = "targets 1 or -1 (anything else raises)"
_SAME = "(no broadcasting between the inputs)"

SPECS = (
    LossSpec(
        name="multi_margin_loss",
        inputs=("input", "target"),
        params=(
            Param("p", 1, "choice", "the hinge's power: 1 or 2", choices=(1, 2)),
            Param("margin", 1.0, "float", "the margin (any real)"),
            Param("weight", None, "array",
                  "class weights, shape (C,): the row's value is scaled by w[target] (not in "
                  "the mean's divisor, as PyTorch)"),
        ),
        reduction_position=3,
        prepare=prepare_multi_margin_loss,
        reference=ref.multi_margin_loss,
        shapes="input (N, C) or (C,); target (N,) (or () / (1,) for (C,)) class indices of "
               "any integer dtype",
        target_domain="class indices in [0, C) (no ignore_index, as PyTorch)",
        torch="torch.nn.functional.multi_margin_loss",
        summary="multi-class hinge: sum over j != y of w_y max(0, margin - x_y + x_j)^p / C; "
                "gradient 0 at the hinge's kink (PyTorch's); NaN propagates",
    ),
    LossSpec(
        name="multilabel_soft_margin_loss",
        inputs=("input", "target"),
        params=(
            Param("weight", None, "array",
                  "weights multiplying the element terms, broadcastable to the input (e.g. "
                  "(C,) per class, as PyTorch); not in the mean's divisor"),
        ),
        reduction_position=1,
        prepare=prepare_multilabel_soft_margin_loss,
        reference=ref.multilabel_soft_margin_loss,
        shapes="input (N, C) or (C,); target the input's shape",
        target_domain="targets in [0, 1]",
        torch="torch.nn.functional.multilabel_soft_margin_loss",
        summary="per row, the mean over classes of the sigmoid cross-entropy "
                "-[t log sigmoid(x) + (1 - t) log sigmoid(-x)]; stable for any logit",
    ),
    LossSpec(
        name="soft_margin_loss",
        inputs=("input", "target"),
        params=(),
        reduction_position=0,
        prepare=prepare_soft_margin_loss,
        reference=ref.soft_margin_loss,
        shapes="input any shape; target the input's shape",
        target_domain=_PM1,
        torch="torch.nn.functional.soft_margin_loss",
        summary="log(1 + exp(-t x)) computed as softplus(-t x): exact where PyTorch's "
                "log1p(exp(.)) overflows to inf",
    ),
    LossSpec(
        name="hinge_embedding_loss",
        inputs=("input", "target"),
        params=(Param("margin", 1.0, "float", "the margin (any real)"),),
        reduction_position=1,
        prepare=prepare_hinge_embedding_loss,
        reference=ref.hinge_embedding_loss,
        shapes="input any shape; target the input's shape",
        target_domain=_PM1,
        torch="torch.nn.functional.hinge_embedding_loss",
        summary="x where t = 1, max(0, margin - x) where t = -1; gradient -1 at "
                "margin - x = 0 (PyTorch's clamp_min)",
    ),
    LossSpec(
        name="margin_ranking_loss",
        inputs=("input1", "input2", "target"),
        params=(Param("margin", 0.0, "float", "the margin (any real)"),),
        reduction_position=1,
        prepare=prepare_margin_ranking_loss,
        reference=ref.margin_ranking_loss,
        shapes="input1, input2 and target of one shape, any " + _SAME,
        target_domain=_PM1,
        torch="torch.nn.functional.margin_ranking_loss",
        summary="max(0, -t (x1 - x2) + margin); the gradient passes at the kink "
                "(PyTorch's clamp_min)",
        grad_wrt=("input1", "input2"),
    ),
    LossSpec(
        name="cosine_embedding_loss",
        inputs=("input1", "input2", "target"),
        params=(Param("margin", 0.0, "float", "the margin, in [-1, 1]", -1.0, 1.0),),
        reduction_position=1,
        prepare=prepare_cosine_embedding_loss,
        reference=ref.cosine_embedding_loss,
        shapes="input1 and input2 (N, D) or (D,) " + _SAME + "; target (N,) or ()",
        target_domain=_PM1,
        torch="torch.nn.functional.cosine_embedding_loss",
        summary="1 - cos where t = 1, max(0, cos - margin) where t = -1, cos = x1.x2 / "
                "sqrt((|x1|^2 + e)(|x2|^2 + e)), e = 1e-12 rounded to float32 as PyTorch's",
        grad_wrt=("input1", "input2"),
    ),
    LossSpec(
        name="triplet_margin_loss",
        inputs=("anchor", "positive", "negative"),
        params=(
            Param("margin", 1.0, "float", "the margin, > 0 (as PyTorch)", 0.0, None,
                  low_open=True),
            Param("p", 2.0, "float", "the norm's degree, > 0 (inf for the max norm)", 0.0,
                  None, low_open=True),
            Param("eps", 1e-6, "float", "added to every difference a - b, >= 0", 0.0, None),
            Param("swap", False, "bool",
                  "use min(d(a, n), d(p, n)) as the negative distance"),
        ),
        reduction_position=4,
        prepare=prepare_triplet_margin_loss,
        reference=ref.triplet_margin_loss,
        shapes="anchor, positive, negative (N, D) or (D,) " + _SAME,
        target_domain="no target",
        torch="torch.nn.functional.triplet_margin_loss",
        summary="max(d(a, p) - d(a, n) + margin, 0), d(a, b) = ||a - b + eps||_p as "
                "torch.pairwise_distance; zero gradient where a distance is 0 (PyTorch's)",
        grad_wrt=("anchor", "positive", "negative"),
    ),
)
