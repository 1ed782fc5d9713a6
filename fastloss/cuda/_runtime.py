"""The CUDA backend's runtime: numba-cuda, the frameworks' arrays, streams, launch sizes and
the block reductions every kernel uses.

Imported only when a GPU array arrives (or backend="cuda" is asked for): importing
fastloss never imports numba.  Under Numba's simulator (NUMBA_ENABLE_CUDASIM=1) the same
kernels run on the CPU with small blocks, through the shared-memory reductions; on a GPU
the reductions use warp shuffles.
"""
import threading

import numpy as np

try:
    import numba
    from numba import cuda
except ImportError as e:      # pragma: no cover - depends on the environment
    raise ImportError("fastloss: the CUDA backend needs the numba-cuda package; install it "
                      "with pip install 'fastloss[cuda]'") from e

SIMULATOR = bool(numba.config.ENABLE_CUDASIM)
# Warp shuffles on a GPU; the simulator has none and takes the shared-memory tree.
SHUFFLE = not SIMULATOR
WARP = 32

# Threads per block.  The simulator runs one Python thread per CUDA thread: small blocks
# keep it fast while still running every step of the reductions.
EW_THREADS = 8 if SIMULATOR else 256       # element-wise grid-stride kernels
ROW_THREADS = 8 if SIMULATOR else 256      # one block per row (softmax family)
RED_THREADS = 8 if SIMULATOR else 1024     # the second stage of a reduction
# Element-wise grids: at most this many blocks per multiprocessor (the simulator: 3
# blocks, so that the second reduction stage combines several partial sums).
BLOCKS_PER_SM = 8


def available():
    """Whether a CUDA device (or the simulator) can run the kernels."""
    try:
        return bool(cuda.is_available())
    except Exception:      # pragma: no cover - driver errors
        return False


_sm_count = None


def max_blocks():
    """The element-wise grid's size limit: a function of the device only, so that the
    partial sums, and so the value, are the same on every run."""
    global _sm_count
    if SIMULATOR:
        return 3
    if _sm_count is None:
        _sm_count = cuda.get_current_device().MULTIPROCESSOR_COUNT
    return BLOCKS_PER_SM * _sm_count


def grid_for(total, threads=None):
    threads = threads or EW_THREADS
    return max(1, min(max_blocks(), (total + threads - 1) // threads))


# ------------------------------------------------------------------ arrays ----

def framework(a):
    """'torch', 'cupy' or 'numba' (anything else with __cuda_array_interface__)."""
    mod = type(a).__module__.split(".")[0]
    if mod in ("torch", "cupy"):
        return mod
    return "numba"


class Context:
    """One call's device, stream and array factory, taken from its first GPU array:
    PyTorch's current stream for torch tensors, CuPy's current stream for CuPy arrays,
    the array's own stream (or the default stream) for Numba device arrays."""

    def __init__(self, first):
        self.kind = framework(first) if first is not None else "numba"
        self.torch_device = None
        if self.kind == "torch":
            import torch
            self.torch_device = first.device
            self.stream = cuda.external_stream(
                torch.cuda.current_stream(first.device).cuda_stream)
        elif self.kind == "cupy":
            import cupy
            self.stream = cuda.external_stream(cupy.cuda.get_current_stream().ptr)
        else:
            s = getattr(first, "stream", 0)
            self.stream = s if s else cuda.default_stream()

    # arrays the kernels read and write: Numba device arrays over the same memory
    def wrap(self, a):
        if _is_numba_array(a):
            return a
        if not SIMULATOR and cuda.is_cuda_array(a):
            return cuda.as_cuda_array(a, sync=False)
        raise TypeError(f"not a GPU array: {type(a).__name__}")

    def to_device(self, a):
        return cuda.to_device(np.asarray(a, order="C"), stream=self.stream)

    def empty(self, shape, dtype):
        """A new Numba device array on this call's stream."""
        return cuda.device_array(shape, dtype=np.dtype(dtype), stream=self.stream)

    def public(self, d):
        """The caller's kind of array over the memory of device array `d` (no copy)."""
        if self.kind == "torch":
            import torch
            return torch.as_tensor(d, device=self.torch_device)
        if self.kind == "cupy":
            import cupy
            return cupy.asarray(d)
        return d

    def synchronize(self):
        self.stream.synchronize()


def _is_numba_array(a):
    return type(a).__module__.startswith("numba.cuda")


_local = threading.local()


def current():
    """The context of the call in progress (see fastloss._api)."""
    c = getattr(_local, "ctx", None)
    if c is None:
        c = Context(None)
        _local.ctx = c
    return c


def set_current(ctx):
    _local.ctx = ctx


# ---------------------------------------------------------- block reductions ----
# Device functions shared by every kernel.  `sh` is a float64 shared array of the block's
# size (a power of two); every thread passes its value and gets the block's result.  The
# tree's order is fixed, so results are the same on every run.

@cuda.jit(device=True)
def _warp_sum(v):
    off = WARP // 2
    while off > 0:
        v += cuda.shfl_down_sync(0xFFFFFFFF, v, off)
        off //= 2
    return v


@cuda.jit(device=True)
def _warp_max(v):
    off = WARP // 2
    while off > 0:
        o = cuda.shfl_down_sync(0xFFFFFFFF, v, off)
        if o > v:
            v = o
        off //= 2
    return v


@cuda.jit(device=True)
def block_sum(v, sh):
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    if SHUFFLE and nt >= WARP:
        v = _warp_sum(v)
        if tid % WARP == 0:
            sh[tid // WARP] = v
        cuda.syncthreads()
        nw = nt // WARP
        if tid < WARP:
            v = sh[tid] if tid < nw else 0.0
            v = _warp_sum(v)
            if tid == 0:
                sh[0] = v
        cuda.syncthreads()
    else:
        sh[tid] = v
        cuda.syncthreads()
        s = nt // 2
        while s > 0:
            if tid < s:
                sh[tid] += sh[tid + s]
            cuda.syncthreads()
            s //= 2
    r = sh[0]
    cuda.syncthreads()
    return r


@cuda.jit(device=True)
def block_max(v, sh):
    """The block's maximum of float64 values (NaN never wins, as the CPU's max)."""
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    if SHUFFLE and nt >= WARP:
        v = _warp_max(v)
        if tid % WARP == 0:
            sh[tid // WARP] = v
        cuda.syncthreads()
        nw = nt // WARP
        if tid < WARP:
            v = sh[tid] if tid < nw else -np.inf
            v = _warp_max(v)
            if tid == 0:
                sh[0] = v
        cuda.syncthreads()
    else:
        sh[tid] = v
        cuda.syncthreads()
        s = nt // 2
        while s > 0:
            if tid < s and sh[tid + s] > sh[tid]:
                sh[tid] = sh[tid + s]
            cuda.syncthreads()
            s //= 2
    r = sh[0]
    cuda.syncthreads()
    return r


@cuda.jit(device=True)
def block_min_int(v, sh):
    """The block's minimum of int64 values (sh an int64 shared array)."""
    tid = cuda.threadIdx.x
    sh[tid] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tid < s and sh[tid + s] < sh[tid]:
            sh[tid] = sh[tid + s]
        cuda.syncthreads()
        s //= 2
    r = sh[0]
    cuda.syncthreads()
    return r
