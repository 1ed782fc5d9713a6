"""The loss table's record types: a loss (LossSpec) and its parameters (Param)."""
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple


@dataclass(frozen=True)
class Param:
    """One loss parameter after the array inputs.

    kind: "array" (an optional array, checked by the loss's preparation), "float", "int",
    "bool", or "choice" (one of the strings in `choices`).  Numbers are checked against
    [low, high] (ends open where said)."""

    name: str
    default: Any
    kind: str
    doc: str
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    choices: Tuple[Any, ...] = ()

    def allowed(self):
        if self.kind == "array":
            return "array or None"
        if self.kind in ("int", "bool"):
            return self.kind
        if self.kind == "choice":
            return "one of " + ", ".join(map(repr, self.choices))
        if self.low is None and self.high is None:
            return "float"
        lo = "(" if self.low_open else "["
        hi = ")" if self.high_open else "]"
        return f"{lo}{'-inf' if self.low is None else self.low}, " \
               f"{'inf' if self.high is None else self.high}{hi}"


@dataclass(frozen=True)
class LossSpec:
    """One loss.  `inputs` are the positional array arguments; `grad_wrt` the ones it is
    differentiable in, in argument order: with one, ``value_and_grad`` returns
    ``(value, grad)``; with several, ``(value, (grad_1, grad_2, ...))``.

    `prepare(*inputs, *params, sample_weight)` validates and returns a _losses.Call;
    `reference(**call.ref, reduction=)` returns ``(value, grad)`` (a tuple of gradients
    for several inputs)."""

    name: str
    inputs: Tuple[str, ...]              # positional array arguments
    params: Tuple[Param, ...]            # then these, positional or keyword (not reduction)
    reduction_position: int              # index in params before which `reduction` sits
    prepare: Callable                    # (*inputs, *params, sample_weight) -> _losses.Call
    reference: Callable                  # (**Call.ref, reduction) -> (value, grad)
    shapes: str                          # the shapes it takes, for docs
    target_domain: str                   # valid targets, for docs
    torch: Optional[str]                 # the torch.nn.functional (or other) equivalent
    summary: str
    grad_wrt: Tuple[str, ...] = ("input",)
    reductions: Tuple[str, ...] = ("mean", "sum", "none")
    default_reduction: str = "mean"
    keyword_only: Tuple[Param, ...] = ()  # extra options PyTorch lacks: after the `*`
    # optional: the common case whole on the CPU, called as
    # fast(mode, out, *inputs, *params, sample_weight, reduction code, n_threads) after
    # the scalar checks; returns the result, or None to leave the call to the general path
    # (which raises any error: the fast path declines whatever it does not take)
    fast: Optional[Callable] = None
    # optional: the NumPy reference of the accuracy the loss's kernel can report from the
    # same pass, called as accuracy(**Call.ref) -> float; its presence gives the entry
    # points the keyword-only option return_accuracy=False
    accuracy: Optional[Callable] = None

    def signature_params(self):
        """The positional-or-keyword parameters in signature order, `reduction` included
        (as a Param)."""
        red = Param("reduction", self.default_reduction, "choice",
                    "how per-sample values are combined: " + ", ".join(self.reductions),
                    choices=self.reductions)
        ps = list(self.params)
        ps.insert(self.reduction_position, red)
        return tuple(ps)

    def all_params(self):
        """Every loss parameter in the order `prepare` takes them: params, keyword_only."""
        return tuple(self.params) + tuple(self.keyword_only)
