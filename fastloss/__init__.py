"""fastloss: fast fused forward and backward passes of machine-learning losses.

    import fastloss as fl
    v = fl.cross_entropy(logits, target)                    # value, like torch.nn.functional
    v, g = fl.cross_entropy.value_and_grad(logits, target)  # value and gradient, one pass

Every loss is generated from the loss table (``fastloss._registry.TABLE``).  Importing
fastloss imports NumPy and the compiled kernels only; optional backends are imported when
they are used.
"""
from ._version import __version__
from ._api import Loss
from ._registry import LOSSES as _LOSSES
from ._info import show_config
from ._cpu import set_simd, simd_level

for _name, _spec in _LOSSES.items():
    globals()[_name] = Loss(_spec)
del _name, _spec

# submodules imported on first use, so that `import fastloss` stays light
_SUBMODULES = ("regularizers", "multitask", "adaptive", "metrics", "monitor")


def __getattr__(name):
    if name in _SUBMODULES:
        import importlib
        return importlib.import_module(f".{name}", __name__)
    if name == "total":
        from .regularizers import total
        return total
    if name == "linear_cross_entropy":
        from ._linear_ce import linear_cross_entropy
        return linear_cross_entropy
    raise AttributeError(f"module 'fastloss' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES) | {"total", "linear_cross_entropy"})


__all__ = ["Loss", "show_config", "set_simd", "simd_level", "__version__", "total",
           "linear_cross_entropy"] + \
    list(_LOSSES)
