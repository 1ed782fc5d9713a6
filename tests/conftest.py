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
