"""Build and run-time configuration: ``fastloss.show_config()``, ``python -m fastloss info``."""
import importlib.util
import os
import platform
import sys


def config():
    """The configuration as a dict (what show_config prints)."""
    from . import _cpu
    from ._cpu import _kernels
    from ._version import __version__
    import numpy as np

    def have(mod):
        try:
            return importlib.util.find_spec(mod) is not None
        except (ImportError, ValueError):
            return False

    return {
        "fastloss": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": f"{platform.system()} {platform.machine()}",
        "openmp": _kernels.openmp_enabled(),
        "default_threads": _kernels.max_threads(),
        "cpu_count": os.cpu_count(),
        "simd": _cpu.simd_level(),
        "simd_supported": list(_cpu.supported_simd_levels()),
        "simd_forced": os.environ.get("FASTLOSS_SIMD") or None,
        "backends": {
            "cpu": True,
            "numpy": True,
            "cuda": False,
        },
        "optional": {
            "torch": have("torch"),
            "numba": have("numba"),
            "numba_cuda": have("numba_cuda"),
            "cupy": have("cupy"),
            "threadpoolctl": have("threadpoolctl"),
        },
    }


def show_config(file=None):
    """Print the version, OpenMP, threads, SIMD level and available backends."""
    c = config()
    out = file or sys.stdout
    w = max(len(k) for k in c) + 1
    for k, v in c.items():
        if isinstance(v, dict):
            v = ", ".join(f"{name}={'yes' if ok else 'no'}" for name, ok in v.items())
        elif isinstance(v, list):
            v = ", ".join(v)
        elif isinstance(v, bool):
            v = "yes" if v else "no"
        print(f"{k + ':':<{w}} {v}", file=out)
