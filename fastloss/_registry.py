"""The loss table: one entry per loss, the single source of truth.

An entry names the loss, its array inputs and its parameters (in PyTorch's order, with
defaults and allowed values), the shapes and dtypes it takes, the domain of its targets,
its reference function, its preparation (validation into kernel arrays) and its
PyTorch equivalent.  The public callables (``fastloss.<name>``), the table-driven
tests, the benchmarks and the README's loss table are all generated from it.
"""
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

from . import _losses
from .reference import losses as ref


@dataclass(frozen=True)
class Param:
    """One loss parameter after the array inputs.

    kind: "array" (an optional array, checked by the loss's preparation), "float",
    "int".  Numbers are checked against [low, high] (ends open where said)."""

    name: str
    default: Any
    kind: str
    doc: str
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False

    def allowed(self):
        if self.kind == "array":
            return "array or None"
        if self.kind == "int":
            return "int"
        if self.low is None and self.high is None:
            return "float"
        lo = "(" if self.low_open else "["
        hi = ")" if self.high_open else "]"
        return f"{lo}{'-inf' if self.low is None else self.low}, " \
               f"{'inf' if self.high is None else self.high}{hi}"


@dataclass(frozen=True)
class LossSpec:
    name: str
    inputs: Tuple[str, ...]              # positional array arguments
    params: Tuple[Param, ...]            # then these, positional or keyword (not reduction)
    reduction_position: int              # index in params before which `reduction` sits
    prepare: Callable                    # (*inputs, *params, sample_weight) -> _losses.Call
    reference: Callable                  # (**Call.ref, reduction) -> (value, grad)
    shapes: str                          # the shapes it takes, for docs
    target_domain: str                   # valid targets, for docs
    torch: Optional[str]                 # the torch.nn.functional equivalent
    summary: str
    grad_wrt: Tuple[str, ...] = ("input",)
    reductions: Tuple[str, ...] = ("mean", "sum", "none")
    default_reduction: str = "mean"
    dtypes: Tuple[str, ...] = ("float32", "float64")

    def signature_params(self):
        """The parameters in signature order, `reduction` included (as a Param)."""
        red = Param("reduction", self.default_reduction, "choice",
                    "how per-sample values are combined: " + ", ".join(self.reductions))
        ps = list(self.params)
        ps.insert(self.reduction_position, red)
        return tuple(ps)


_WEIGHT_DOC = "class weights, shape (C,), finite and non-negative"

TABLE = (
    LossSpec(
        name="cross_entropy",
        inputs=("input", "target"),
        params=(
            Param("weight", None, "array", _WEIGHT_DOC),
            Param("ignore_index", -100, "int",
                  "class index whose samples count in neither the sum nor the mean"),
            Param("label_smoothing", 0.0, "float",
                  "mix the target with the uniform distribution by this amount", 0.0, 1.0),
        ),
        reduction_position=2,
        prepare=_losses.prepare_cross_entropy,
        reference=ref.cross_entropy,
        shapes="input (N, C) or (C,); target (N,) / () class indices of any integer dtype, "
               "or class probabilities of the input's shape",
        target_domain="class indices in [0, C) or ignore_index; probabilities unconstrained "
                      "(as PyTorch)",
        torch="torch.nn.functional.cross_entropy",
        summary="softmax cross-entropy from logits; one online log-sum-exp pass per row",
    ),
    LossSpec(
        name="binary_cross_entropy_with_logits",
        inputs=("input", "target"),
        params=(
            Param("weight", None, "array",
                  "element weights broadcastable to the input (rescale terms; not in the "
                  "mean's divisor, as PyTorch)"),
            Param("pos_weight", None, "array",
                  "weight of the positive term, broadcastable to the input (e.g. (C,) for "
                  "the last dimension)"),
        ),
        reduction_position=1,
        prepare=_losses.prepare_binary_cross_entropy_with_logits,
        reference=ref.binary_cross_entropy_with_logits,
        shapes="input any shape; target the input's shape",
        target_domain="targets in [0, 1]",
        torch="torch.nn.functional.binary_cross_entropy_with_logits",
        summary="sigmoid + binary cross-entropy, stable for logits of any magnitude",
    ),
    LossSpec(
        name="mse_loss",
        inputs=("input", "target"),
        params=(),
        reduction_position=0,
        prepare=_losses.prepare_mse_loss,
        reference=ref.mse_loss,
        shapes="input any shape; target the input's shape",
        target_domain="any real target",
        torch="torch.nn.functional.mse_loss",
        summary="squared error",
    ),
)

LOSSES = {spec.name: spec for spec in TABLE}


def markdown_table():
    """The README's loss table, generated from TABLE."""
    rows = ["| loss | options (defaults) | shapes | targets | PyTorch equivalent |",
            "|---|---|---|---|---|"]
    for s in TABLE:
        opts = ", ".join(f"`{p.name}={p.default!r}`" for p in s.signature_params())
        torch = f"`{s.torch}`" if s.torch else "none"
        rows.append(f"| `{s.name}` | {opts} | {s.shapes} | {s.target_domain} | {torch} |")
    return "\n".join(rows)
