"""The CPU backend: the Cython binding of the C kernels in csrc/.

``FASTLOSS_SIMD=avx512|avx2|baseline`` forces an instruction-set level at import (the
default is the best the CPU supports); :func:`set_simd` does the same at run time.
"""
import os
import warnings

from . import _kernels

ISA_LEVELS = _kernels.ISA_LEVELS


def set_simd(level):
    """Force the kernels' instruction-set level: "avx512", "avx2" or "baseline"."""
    _kernels.set_isa(level)


def simd_level():
    """The instruction-set level the kernels use now."""
    return _kernels.isa_active()


def supported_simd_levels():
    return tuple(level for level in ISA_LEVELS if _kernels.isa_supported(level))


_forced = os.environ.get("FASTLOSS_SIMD", "").strip().lower()
if _forced:
    try:
        set_simd(_forced)
    except ValueError as e:
        warnings.warn(f"FASTLOSS_SIMD={_forced!r} ignored: {e}", RuntimeWarning, stacklevel=2)
