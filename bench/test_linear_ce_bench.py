"""Fused linear cross-entropy against the unfused PyTorch path, CPU, float32: the time of
one forward + backward and its peak memory.

    pytest bench/test_linear_ce_bench.py          # sizes from FASTLOSS_BENCH_SIZES
    FASTLOSS_BENCH_SIZES=tiny pytest bench/test_linear_ce_bench.py --benchmark-disable
    python bench/test_linear_ce_bench.py [--size large] [--repeat 5] [--threads N]
                                         [--methods fastloss,torch,fastloss-numpy]

Methods, each computing the mean cross-entropy of hidden @ weight.T over N tokens and its
gradients with respect to hidden and weight (each call allocates its gradients, as a
training step after zero_grad(set_to_none=True)):

    fastloss        fastloss's PyTorch fused linear CE (fastloss._torch_linear_ce, exposed
                    as fastloss.torch.linear_cross_entropy), then .backward()
    torch           the unfused path: F.cross_entropy(h @ W.T, t), then .backward()
    fastloss-numpy  fastloss's NumPy linear_cross_entropy_value_and_grad (script only
                    unless FASTLOSS_BENCH_NUMPY=1; it is the same work on NumPy's BLAS)

The headline size ("large") is N = 4096 tokens, H = 1024, V = 32000: the unfused logits
are 4096 x 32000 x 4 B = 524 MB, and PyTorch holds three such tensors at once in the
backward (log-softmax output, its gradient, the logits' gradient).  Targets: peak memory
of fastloss at most 15% of PyTorch's, time at most 1.2x PyTorch's.

Peak memory: each method runs in a fresh subprocess (this file with --peak): inputs
allocated, one small warm-up call (64 tokens) so that one-time allocations (thread pools,
imports) are not counted, gradients dropped, the kernel's resident-set high-water mark
reset (``echo 5 > /proc/self/clear_refs``), then one forward + backward; the peak is
VmHWM minus VmRSS just before the call, i.e. the memory the call needed beyond its inputs,
gradients included (Linux only).  Every method's result is first checked against the
unfused float64 computation."""
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import pytest

SIZES = {"tiny": (64, 32, 500), "small": (512, 256, 8000),
         "medium": (2048, 512, 16000), "large": (4096, 1024, 32000)}
DEFAULT_SIZES = ("tiny", "medium", "large")
METHODS = ("fastloss", "torch", "fastloss-numpy")
PEAK_TARGET, TIME_TARGET = 0.15, 1.2


def make_inputs(size, seed=0):
    n, h, v = SIZES[size]
    rng = np.random.default_rng(seed)
    hidden = rng.standard_normal((n, h), dtype=np.float32)
    weight = rng.standard_normal((v, h), dtype=np.float32) * np.float32(h ** -0.5)
    target = rng.integers(0, v, n)
    return hidden, weight, target


def _threads(n_threads=None):
    from fastloss._cpu import _kernels
    return n_threads or int(os.environ.get("FASTLOSS_BENCH_THREADS") or
                            _kernels.max_threads())


def make_method(method, hidden, weight, target, n_threads):
    """A call of one forward + backward of `method` -> (value, d_hidden, d_weight)."""
    if method == "fastloss-numpy":
        from fastloss._linear_ce import linear_cross_entropy_value_and_grad

        def run():
            v, (dh, dw, _) = linear_cross_entropy_value_and_grad(hidden, weight, target,
                                                                 n_threads=n_threads)
            return float(v), dh, dw
        return run
    import torch
    torch.set_num_threads(n_threads)
    h = torch.from_numpy(hidden).requires_grad_(True)
    w = torch.from_numpy(weight).requires_grad_(True)
    t = torch.from_numpy(target)
    if method == "fastloss":
        from fastloss._torch_linear_ce import linear_cross_entropy

        def loss():
            return linear_cross_entropy(h, w, t, n_threads=n_threads)
    elif method == "torch":
        F = torch.nn.functional

        def loss():
            return F.cross_entropy(h @ w.T, t)
    else:
        raise ValueError(f"method: unknown {method!r}; expected one of {METHODS}")

    def run():
        h.grad = w.grad = None
        v = loss()
        v.backward()
        return float(v.detach()), h.grad.numpy(), w.grad.numpy()
    return run


def check(method, result, hidden, weight, target):
    """The result against the unfused float64 computation, G = (softmax - onehot) / N,
    made 512 rows at a time (the full float64 logits would take N x V x 8 bytes)."""
    v, dh, dw = result
    n = len(target)
    x, w = hidden.astype(np.float64), weight.astype(np.float64)
    dh_e = np.empty_like(x)
    dw_e = np.zeros_like(w)
    ve = 0.0
    for s in range(0, n, 512):
        z = x[s:s + 512] @ w.T
        z -= z.max(1, keepdims=True)
        lse = np.log(np.exp(z).sum(1))
        rows = np.arange(len(z))
        tt = target[s:s + 512]
        ve += float((lse - z[rows, tt]).sum())
        g = np.exp(z - lse[:, None])
        g[rows, tt] -= 1.0
        g /= n
        dh_e[s:s + 512] = g @ w
        dw_e += g.T @ x[s:s + 512]
    ve /= n
    assert abs(v - ve) <= 1e-5 * abs(ve), f"{method}: value {v} != {ve}"
    for got, want, what in ((dh, dh_e, "d_hidden"), (dw, dw_e, "d_weight")):
        err = np.abs(got - want).max()
        assert err <= 1e-4 * np.abs(want).max(), f"{method}: {what} off by {err:.3g}"


# ------------------------------------------------------------- peak memory ----

def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure_peak(method, size, n_threads):
    """(peak bytes beyond the inputs, resident bytes before the call): run in a fresh
    process (see the module's docstring)."""
    import gc
    hidden, weight, target = make_inputs(size)
    make_method(method, hidden[:64], weight, target[:64], n_threads)()   # warm-up
    run = make_method(method, hidden, weight, target, n_threads)
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = _status("VmRSS")
    run()
    return _status("VmHWM") - base, base


def peak_in_subprocess(method, size, n_threads):
    """measure_peak in a fresh Python process: a dict with peak and base bytes."""
    import fastloss
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastloss.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--peak", method,
                          "--size", size, "--threads", str(n_threads)],
                         capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"peak measurement of {method} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def peaks_supported():
    return os.path.exists("/proc/self/clear_refs") and os.access("/proc/self/clear_refs",
                                                                 os.W_OK)


# -------------------------------------------------------- pytest-benchmark ----

def _selected_sizes():
    text = os.environ.get("FASTLOSS_BENCH_SIZES", "").strip()
    sizes = [s.strip() for s in text.split(",") if s.strip()] if text else DEFAULT_SIZES
    bad = [s for s in sizes if s not in SIZES]
    if bad:
        raise pytest.UsageError(f"FASTLOSS_BENCH_SIZES: {', '.join(bad)} not among "
                                f"{', '.join(SIZES)}")
    return sizes


def _pytest_methods():
    out = ["fastloss", "torch"]
    if os.environ.get("FASTLOSS_BENCH_NUMPY"):
        out.append("fastloss-numpy")
    return out


@pytest.fixture(scope="module", params=_selected_sizes())
def size(request):
    return request.param


@pytest.fixture(scope="module")
def inputs(size):
    return make_inputs(size)


@pytest.mark.parametrize("method", _pytest_methods())
def test_linear_ce_time(benchmark, size, inputs, method):
    if method != "fastloss-numpy":
        pytest.importorskip("torch")
    n_threads = _threads()
    run = make_method(method, *inputs, n_threads)
    t0 = time.perf_counter()
    check(method, run(), *inputs)
    first = time.perf_counter() - t0
    n, h, v = SIZES[size]
    benchmark.group = f"linear cross-entropy fwd+bwd {n}x{h} @ {v}x{h} float32"
    benchmark.extra_info.update(method=method, threads=n_threads, size=size)
    rounds = max(3, min(10, int(20.0 / max(first, 1e-3))))
    benchmark.pedantic(run, rounds=rounds, iterations=1)


def test_linear_ce_peak_memory(size, record_property):
    """Peak memory of each method in its own process; the fused path needs less than the
    unfused one (beyond the tiny size, where the measurement is mostly noise)."""
    pytest.importorskip("torch")
    if not peaks_supported():
        pytest.skip("needs Linux's /proc/self/clear_refs")
    n_threads = _threads()
    peaks = {m: peak_in_subprocess(m, size, n_threads)["peak"] for m in ("fastloss", "torch")}
    ratio = peaks["fastloss"] / max(peaks["torch"], 1)
    record_property("peak_bytes", peaks)
    record_property("peak_ratio", ratio)
    print(f"\n{size}: peak beyond the inputs: fastloss {peaks['fastloss'] / 1e6:.1f} MB, "
          f"torch {peaks['torch'] / 1e6:.1f} MB, ratio {ratio:.3f}")
    if size != "tiny":
        assert peaks["fastloss"] < peaks["torch"]
    if size == "large":
        assert ratio <= PEAK_TARGET, f"fused peak {ratio:.1%} of PyTorch's"


# -------------------------------------------------------------- script mode ----

def _fmt(t):
    return f"{t:.2f}s" if t >= 1 else f"{t * 1e3:.1f}ms"


def report(size="large", repeat=5, n_threads=None, methods=METHODS):
    """Median (and best) times over interleaved rounds and each method's peak memory in
    its own process; prints a table and returns its rows."""
    n_threads = _threads(n_threads)
    hidden, weight, target = make_inputs(size)
    runners = {}
    for m in methods:
        runners[m] = make_method(m, hidden, weight, target, n_threads)
        check(m, runners[m](), hidden, weight, target)
    samples = {m: [] for m in methods}
    for _ in range(repeat):          # interleaved, so that a slow spell hits every method
        for m, run in runners.items():
            t0 = time.perf_counter()
            run()
            samples[m].append(time.perf_counter() - t0)
    del runners
    peaks = {}
    if peaks_supported():
        for m in methods:
            peaks[m] = peak_in_subprocess(m, size, n_threads)
    n, h, v = SIZES[size]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"linear cross-entropy forward+backward, hidden {n}x{h}, weight {v}x{h}, float32, "
          f"{n_threads} threads, median of {repeat} interleaved rounds; unfused logits "
          f"{n * v * 4 / 1e6:.0f} MB; load {load:.1f} on {os.cpu_count()} CPUs")
    ref = "torch" if "torch" in methods else methods[0]
    tref = statistics.median(samples[ref])
    pref = peaks.get(ref, {}).get("peak")
    print(f"{'method':<16} {'median':>9} {'best':>9} {'time vs torch':>14} "
          f"{'peak beyond inputs':>19} {'peak vs torch':>14} {'inputs RSS':>11}")
    rows = []
    for m in methods:
        t = statistics.median(samples[m])
        best = min(samples[m])
        pk = peaks.get(m, {}).get("peak")
        base = peaks.get(m, {}).get("base")
        pr = pk / pref if pk is not None and pref else float("nan")
        rows.append((m, t, best, t / tref, pk, pr, base))
        pk_s = f"{pk / 1e6:.1f} MB" if pk is not None else "n/a"
        base_s = f"{base / 1e6:.0f} MB" if base is not None else "n/a"
        print(f"{m:<16} {_fmt(t):>9} {_fmt(best):>9} {t / tref:>13.2f}x {pk_s:>19} "
              f"{pr:>13.1%} {base_s:>11}")
    if "fastloss" in methods and ref == "torch" and size == "large":
        t_ratio = statistics.median(samples["fastloss"]) / tref
        p_ratio = peaks.get("fastloss", {}).get("peak", float("nan")) / (pref or float("nan"))
        print(f"targets: peak <= {PEAK_TARGET:.0%} of torch: {p_ratio:.1%} "
              f"({'met' if p_ratio <= PEAK_TARGET else 'NOT met'}); time <= "
              f"{TIME_TARGET}x torch: {t_ratio:.2f}x "
              f"({'met' if t_ratio <= TIME_TARGET else 'NOT met'})")
    return rows


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="large", choices=list(SIZES))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--peak", choices=METHODS, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.peak:
        peak, base = measure_peak(a.peak, a.size, _threads(a.threads))
        print(json.dumps({"method": a.peak, "size": a.size, "peak": peak, "base": base}))
    else:
        ms = tuple(s.strip() for s in a.methods.split(",") if s.strip())
        bad = [m for m in ms if m not in METHODS]
        if bad:
            ap.error(f"--methods: {', '.join(bad)} not among {', '.join(METHODS)}")
        report(a.size, a.repeat, a.threads, ms)
