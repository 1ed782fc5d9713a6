import os
import zlib

import numpy as np
import pytest

import fastloss
from fastloss import _cpu

SIMD_LEVELS = _cpu.supported_simd_levels()


@pytest.fixture(params=SIMD_LEVELS)
def simd(request):
    """Run a test under every instruction-set level this CPU supports."""
    before = _cpu.simd_level()
    _cpu.set_simd(request.param)
    yield request.param
    _cpu.set_simd(before)


# Fresh random inputs on every run; FASTLOSS_TEST_SEED=<n> replays a run.
SEED = int(os.environ.get("FASTLOSS_TEST_SEED") or np.random.SeedSequence().entropy % 2**32)


@pytest.fixture
def rng(request):
    return np.random.default_rng([SEED, zlib.crc32(request.node.nodeid.encode())])


def pytest_report_header(config):
    return (f"fastloss {fastloss.__version__} from {os.path.dirname(fastloss.__file__)}: "
            f"simd levels {', '.join(SIMD_LEVELS)}, active {_cpu.simd_level()}; "
            f"FASTLOSS_TEST_SEED={SEED}")


# The CUDA backend's tests run under Numba's simulator unless FASTLOSS_TEST_GPU=1 asks for
# a real device; the variable must be set before numba.cuda is first imported.
if not os.environ.get("FASTLOSS_TEST_GPU"):
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")


def _patch_simulator_shared_arrays():
    """Numba's simulator gives each kernel thread the shared array of a call site through
    a dict filled with get-then-set; two threads that arrive together can each create their
    own array, and a block reduction then loses a thread's value (rarely, under load).  The
    same lookup with dict.setdefault (atomic under the GIL) gives every thread one array."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        return
    try:
        from numba.cuda.simulator import kernelapi
    except ImportError:     # numba-cuda not installed: the CUDA tests are skipped
        return
    import sys
    import traceback
    import numpy as np
    from numba.core import types
    from numba.np import numpy_support

    shared = kernelapi.FakeCUDAShared
    if getattr(shared, "_fastloss_patched", False):
        return

    def array(self, shape, dtype, alignment=None):
        if alignment is not None:
            raise RuntimeError("Array alignment is not supported in cudasim")
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        if shape == 0:
            count = self._dynshared_size // dtype.itemsize
            return np.frombuffer(self._dynshared.data, dtype=dtype, count=count)
        caller = traceback.extract_stack(sys._getframe())[-2][0:2]
        res = self._allocations.get(caller)
        if res is None:
            res = self._allocations.setdefault(caller, np.empty(shape, dtype))
        return res

    shared.array = array
    shared._fastloss_patched = True


_patch_simulator_shared_arrays()
