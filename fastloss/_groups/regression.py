"""Table entries and preparations of the regression losses (see fastloss._registry)."""
import numpy as np

from .. import _checks as ck
from .. import _losses as L
from .._spec import LossSpec, Param
from ..reference import regression as ref

def prepare_l1_loss(input, target, weight, sample_weight):
    x, t, n, m, sw = L._elementwise(input, target, sample_weight)
    w, wl = L.same_shape_weight(weight, x.shape, x.dtype)
    return L.ew_call("l1_loss", x, t, sw, (),
                     dict(input=x, target=t, weight=w, sample_weight=sw),
                     w=None if w is None else w.reshape(n, m), w_layout=wl, w_denom=True)


_SAME_SHAPE_WEIGHT = Param("weight", None, "array",
                           "element weights of the input's shape; the mean divides by their "
                           "sum (as PyTorch)")


SPECS = (
    LossSpec(
        name="l1_loss",
        inputs=("input", "target"),
        params=(_SAME_SHAPE_WEIGHT,),
        reduction_position=0,
        prepare=prepare_l1_loss,
        reference=ref.l1_loss,
        shapes="input any shape; target the input's shape",
        target_domain="any real target",
        torch="torch.nn.functional.l1_loss",
        summary="absolute error; gradient sign(input - target), 0 at a tie",
    ),
)
