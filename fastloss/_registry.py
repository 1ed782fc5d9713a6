"""The loss table: one entry per loss, the single source of truth.

An entry names the loss, its array inputs and its parameters (in PyTorch's order, with
defaults and allowed values), the shapes and dtypes it takes, the domain of its targets,
its reference function, its preparation (validation into kernel arrays) and its
PyTorch equivalent.  The public callables (``fastloss.<name>``), the table-driven
tests, the benchmarks and the README's loss table are all generated from it.
"""
from . import _losses
from ._cpu import _kernels
from ._spec import LossSpec, Param
from ._groups import binary, margin, regression, softmax
from .reference import losses as ref


_WEIGHT_DOC = "class weights, shape (C,), finite and non-negative"

CORE = (
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
        keyword_only=(
            Param("z_loss", 0.0, "float",
                  "add z_loss * logsumexp(input)^2 per position, weighted as the "
                  "cross-entropy term (stabilizes large-vocabulary training)", 0.0,
                  float("inf"), high_open=True),
        ),
        reduction_position=2,
        prepare=_losses.prepare_cross_entropy,
        reference=ref.cross_entropy,
        fast=_kernels.cross_entropy_fast,
        accuracy=ref.cross_entropy_accuracy,
        shapes="input (N, C), (C,) or (N, C, d1, ..., dk); target (N,) / () / (N, d1, ..., "
               "dk) class indices of any integer dtype, or class probabilities of the "
               "input's shape",
        target_domain="class indices in [0, C) or ignore_index; probabilities unconstrained "
                      "(as PyTorch)",
        torch="torch.nn.functional.cross_entropy",
        summary="softmax cross-entropy from logits; one pass over memory, one exp per logit",
    ),
    LossSpec(
        name="nll_loss",
        inputs=("input", "target"),
        params=(
            Param("weight", None, "array", _WEIGHT_DOC),
            Param("ignore_index", -100, "int",
                  "class index whose samples count in neither the sum nor the mean"),
        ),
        reduction_position=2,
        prepare=_losses.prepare_nll_loss,
        reference=ref.nll_loss,
        fast=_kernels.nll_loss_fast,
        shapes="input (N, C), (C,) or (N, C, d1, ..., dk) of log-probabilities; target "
               "(N,) / () / (N, d1, ..., dk) class indices of any integer dtype",
        target_domain="class indices in [0, C) or ignore_index",
        torch="torch.nn.functional.nll_loss",
        summary="negative log-likelihood of log-probabilities (e.g. log_softmax output)",
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
        params=(
            Param("weight", None, "array",
                  "element weights of the input's shape; the mean divides by their sum "
                  "(as PyTorch)"),
        ),
        reduction_position=0,
        prepare=_losses.prepare_mse_loss,
        reference=ref.mse_loss,
        shapes="input any shape; target the input's shape",
        target_domain="any real target",
        torch="torch.nn.functional.mse_loss",
        summary="squared error",
    ),
)

TABLE = CORE + softmax.SPECS + binary.SPECS + margin.SPECS + regression.SPECS

LOSSES = {spec.name: spec for spec in TABLE}
assert len(LOSSES) == len(TABLE), "duplicate loss names in the table"


def markdown_table():
    """The README's loss table, generated from TABLE."""
    rows = ["| loss | computes | options (defaults) | shapes | targets | equivalent |",
            "|---|---|---|---|---|---|"]
    for s in TABLE:
        opts = ", ".join(f"`{p.name}={p.default!r}`" for p in s.signature_params())
        if s.keyword_only:
            opts += "; keyword-only " + ", ".join(f"`{p.name}={p.default!r}`"
                                                  for p in s.keyword_only)
        torch = f"`{s.torch}`" if s.torch else "none"
        rows.append(f"| `{s.name}` | {s.summary} | {opts} | {s.shapes} | {s.target_domain} "
                    f"| {torch} |")
    return "\n".join(rows)
