"""fastloss.regularizers against NumPy and PyTorch (CPU): l2 and l1 value_and_grad over a
10-million-parameter float32 model (a dict of five arrays), each peer computing the same
value and gradients, its first result checked against fastloss's before it is timed.

    pytest bench/test_regularizers_bench.py               # pytest-benchmark groups
    python bench/test_regularizers_bench.py [--threads N] [--repeat R]
                                                          # a table: median times, ratios,
                                                          # effective bandwidth

Bytes moved per call: every parameter read once and every gradient written once,
2 * 4 * 1e7 = 80 MB (write-allocate traffic not counted, as in the losses' benchmarks);
the effective bandwidth is that over the median time, also as a percentage of the
extension's multi-threaded copy measured in the same run.  Every peer allocates its
gradients on each call, as value_and_grad does."""
import os
import statistics
import time

import numpy as np
import pytest

from fastloss import regularizers as reg

SHAPES = {"embedding": (20000, 256), "fc1.weight": (1024, 2048), "fc2.weight": (2048, 1024),
          "head.weight": (1024, 669), "head.bias": (640,)}
N_PARAMS = sum(int(np.prod(s)) for s in SHAPES.values())
assert N_PARAMS == 10_000_000
STRENGTH = 1e-4
PENALTIES = ("l2", "l1")
NBYTES = 2 * 4 * N_PARAMS


def make_model(seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s, dtype=np.float32) for k, s in SHAPES.items()}


# ---------------------------------------------------------------------- peers ----
# Each peer's factory takes (penalty, params, n_threads, out): out=False allocates the
# gradients on every call (value_and_grad's default), out=True writes them into arrays
# allocated once (value_and_grad's out=; NumPy's and PyTorch's out=; autograd's .grad
# buffers zeroed and accumulated into, as optimizer.zero_grad(set_to_none=False)).

def fastloss_fn(penalty, params, n_threads, out):
    r = getattr(reg, penalty)
    if not out:
        return lambda: r.value_and_grad(params, STRENGTH, n_threads=n_threads)
    g = {k: np.empty_like(w) for k, w in params.items()}
    return lambda: r.value_and_grad(params, STRENGTH, n_threads=n_threads, out=g)


def numpy_fn(penalty, params, n_threads, out):
    """What one writes in NumPy: a float64 sum (as fastloss; BLAS sdot for l2) and the
    gradient arrays."""
    s = STRENGTH
    gs = {k: np.empty_like(w) for k, w in params.items()}
    if penalty == "l2":
        def run():
            v = 0.0
            for w in params.values():
                f = w.ravel()
                v += float(np.dot(f, f))
            if out:
                return 0.5 * s * v, {k: np.multiply(w, s, out=gs[k]) for k, w in params.items()}
            return 0.5 * s * v, {k: s * w for k, w in params.items()}
    else:
        def run():
            v = sum(float(np.abs(w).sum(dtype=np.float64)) for w in params.values())
            if out:
                g = {}
                for k, w in params.items():
                    np.sign(w, out=gs[k])
                    gs[k] *= s
                    g[k] = gs[k]
                return s * v, g
            return s * v, {k: s * np.sign(w) for k, w in params.items()}
    return run


def torch_autograd_fn(penalty, params, n_threads, out):
    """PyTorch's usual way: the penalty in the graph, backward for the gradients."""
    import torch
    torch.set_num_threads(n_threads)
    ts = {k: torch.from_numpy(w).requires_grad_(True) for k, w in params.items()}
    s = STRENGTH

    def run():
        for t in ts.values():
            if out and t.grad is not None:
                t.grad.zero_()
            else:
                t.grad = None
        if penalty == "l2":
            v = 0.5 * s * sum((t * t).sum(dtype=torch.float64) for t in ts.values())
        else:
            v = s * sum(t.abs().sum(dtype=torch.float64) for t in ts.values())
        v.backward()
        return v.item(), {k: t.grad for k, t in ts.items()}
    return run


def torch_manual_fn(penalty, params, n_threads, out):
    """PyTorch without autograd: value and gradient written out (the fastest torch way)."""
    import torch
    torch.set_num_threads(n_threads)
    ts = {k: torch.from_numpy(w) for k, w in params.items()}
    gs = {k: torch.empty_like(t) for k, t in ts.items()}
    s = STRENGTH

    def run():
        if penalty == "l2":
            v = 0.5 * s * sum(float(torch.dot(t.view(-1), t.view(-1))) for t in ts.values())
            if out:
                return v, {k: torch.mul(t, s, out=gs[k]) for k, t in ts.items()}
            return v, {k: t * s for k, t in ts.items()}
        v = s * sum(float(t.abs().sum(dtype=torch.float64)) for t in ts.values())
        if out:
            return v, {k: torch.sign(t, out=gs[k]).mul_(s) for k, t in ts.items()}
        return v, {k: torch.sign(t) * s for k, t in ts.items()}
    return run


PEERS = {"fastloss": fastloss_fn, "numpy": numpy_fn, "torch-autograd": torch_autograd_fn,
         "torch": torch_manual_fn}


def available_peers():
    out = ["fastloss", "numpy"]
    try:
        import torch  # noqa: F401
        out += ["torch-autograd", "torch"]
    except ImportError:
        pass
    return out


def make_runner(penalty, peer, params, n_threads, out=False):
    """The peer's call, after checking its first result against fastloss's."""
    run = PEERS[peer](penalty, params, n_threads, out)
    run()
    v, g = run()          # (autograd's .grad buffers: a second call checks the zeroing)
    ve, ge = getattr(reg, penalty).value_and_grad(params, STRENGTH)
    assert abs(v - ve) <= 1e-4 * abs(ve), f"{peer} {penalty}: value {v} != {ve}"
    for k in params:
        np.testing.assert_allclose(np.asarray(g[k]), ge[k], rtol=1e-6, atol=1e-12,
                                   err_msg=f"{peer} {penalty} {k}")
    return run


def _threads():
    from fastloss._cpu import _kernels
    return int(os.environ.get("FASTLOSS_BENCH_THREADS") or _kernels.max_threads())


# ------------------------------------------------------------- pytest-benchmark ----

@pytest.fixture(scope="module")
def model():
    return make_model()


@pytest.mark.parametrize("peer", ["fastloss", "numpy", "torch-autograd", "torch"])
@pytest.mark.parametrize("mode", ["alloc", "out"])
@pytest.mark.parametrize("penalty", PENALTIES)
def test_regularizer_value_and_grad(benchmark, penalty, mode, peer, model, copy_bandwidth):
    if peer not in available_peers():
        pytest.skip(f"{peer} is not installed")
    n_threads = _threads()
    run = make_runner(penalty, peer, model, n_threads, mode == "out")
    benchmark.group = (f"regularizer {penalty} value_and_grad, 1e7 float32 parameters, "
                       f"{'gradients into out=' if mode == 'out' else 'new gradients'}")
    benchmark.extra_info.update(peer=peer, mode=mode, bytes=NBYTES, threads=n_threads,
                                copy_bandwidth_gb_per_s=copy_bandwidth / 1e9)
    benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1)
    if benchmark.stats is not None:
        t = benchmark.stats.stats.median
        benchmark.extra_info["gb_per_s"] = NBYTES / t / 1e9
        benchmark.extra_info["pct_of_copy"] = 100 * NBYTES / t / copy_bandwidth


# ---------------------------------------------------------------- script mode ----

def report(n_threads=None, repeat=15):
    """Median (and best) times over interleaved rounds, ratios to fastloss and effective
    bandwidth; prints a table and returns its rows."""
    from fastloss import _bench
    n_threads = n_threads or _threads()
    params = make_model()
    copy_bw = _bench.copy_bandwidth(n_threads)
    timed = []
    for mode in ("out", "alloc"):
        for penalty in PENALTIES:
            runners = {peer: make_runner(penalty, peer, params, n_threads, mode == "out")
                       for peer in available_peers()}
            # interleaved rounds, so that a slow spell of the machine hits every peer
            samples = {peer: [] for peer in runners}
            for _ in range(repeat):
                for peer, run in runners.items():
                    t0 = time.perf_counter()
                    run()
                    samples[peer].append(time.perf_counter() - t0)
            timed.append((mode, penalty, samples))
    # the copy bandwidth before and after (a shared machine: the better of the two)
    copy_bw = max(copy_bw, _bench.copy_bandwidth(n_threads))
    rows = []
    for mode, penalty, samples in timed:
        times = {peer: statistics.median(ts) for peer, ts in samples.items()}
        for peer, t in times.items():
            best = min(samples[peer])
            rows.append((mode, penalty, peer, t, t / times["fastloss"], NBYTES / t / 1e9,
                         100 * NBYTES / t / copy_bw, best, best / min(samples["fastloss"]),
                         NBYTES / best / 1e9))
    print(f"value_and_grad over {N_PARAMS:,} float32 parameters ({len(SHAPES)} arrays), "
          f"{n_threads} threads, median of {repeat}; copy bandwidth {copy_bw / 1e9:.1f} GB/s; "
          f"{NBYTES / 1e6:.0f} MB moved per call (read w, write the gradient)")
    print(f"{'gradients':<10} {'penalty':<8} {'peer':<15} {'median':>10} {'vs fastloss':>12} "
          f"{'GB/s':>7} {'% of copy':>10} {'best':>10} {'vs fastloss':>12} {'GB/s':>7}")
    for mode, penalty, peer, t, ratio, gbs, pct, best, bratio, bgbs in rows:
        print(f"{mode:<10} {penalty:<8} {peer:<15} {t * 1e3:>8.2f}ms {ratio:>11.2f}x "
              f"{gbs:>7.1f} {pct:>9.0f}% {best * 1e3:>8.2f}ms {bratio:>11.2f}x {bgbs:>7.1f}")
    return rows


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=15)
    a = ap.parse_args()
    report(a.threads, a.repeat)
