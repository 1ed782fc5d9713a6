"""The PyTorch drop-in, ``fastloss.torch``, against ``torch.nn.functional`` on CPU tensors:
forward + backward of every loss both have, at the sizes of the other suites (the cases of
fastloss/_bench.py: same inputs, same options), beside fastloss's own NumPy-level
``value_and_grad`` on the same memory, so that the autograd wrapper's overhead shows.

Peers, all on the same data (tensors made with torch.from_numpy share the case's arrays):

- ``fastloss.torch``: ``fastloss.torch.<loss>(...)`` then ``.backward()`` on leaves with
  ``requires_grad`` (``.grad`` reset to None before each call);
- ``torch``: the same with ``torch.nn.functional.<loss>``;
- ``fastloss``: ``fastloss.<loss>.value_and_grad`` into a preallocated ``out=`` (the CPU
  kernel as in bench/RESULTS.md);
- ``fastloss-newgrad``: ``value_and_grad`` allocating its gradient, as an autograd
  function must.

Each peer's first result is checked against fastloss's value and gradients before it is
timed (the tolerance of fastloss/_bench.py), so no comparison times another computation.

    pytest bench/test_torch_dropin_bench.py          # pytest-benchmark, one group per case
    FASTLOSS_BENCH_SIZES=tiny pytest bench --benchmark-disable -q      # the CI smoke run
    python bench/test_torch_dropin_bench.py [--sizes medium] [--losses a,b] [--repeat 7]
                                             # one run, interleaved rounds: a table of ratios

Environment (pytest): FASTLOSS_BENCH_SIZES, FASTLOSS_BENCH_LOSSES, FASTLOSS_BENCH_THREADS as
in bench/conftest.py; FASTLOSS_BENCH_DTYPES (default float32 here).  Threads: fastloss.torch
is called as torch.nn.functional is, without its keyword-only n_threads, so with OpenMP's
default count (OMP_NUM_THREADS; another count, FASTLOSS_BENCH_THREADS or the script's
--threads, goes through threadpoolctl); torch.set_num_threads gets the same count.

The script's target (issue 8): the drop-in keeps the CPU kernel's speed-up over PyTorch
less at most 10% for the autograd wrapper, i.e. "kept" = kernel time / drop-in time
>= 90% (x torch of the drop-in over x torch of the kernel, measured in the same run).
"""
import math
import os
import statistics
import sys
import time

import numpy as np
import pytest

from fastloss import _bench

if __name__ != "__main__":
    torch = pytest.importorskip("torch")
else:
    import torch

import fastloss  # noqa: E402
import fastloss.torch as FT  # noqa: E402

PEERS = ("fastloss.torch", "torch", "fastloss", "fastloss-newgrad")


def dropin_losses():
    """(losses torch.nn.functional and fastloss.torch both have, losses fastloss.torch
    lacks), in table order."""
    from fastloss._registry import TABLE

    both, missing = [], []
    for spec in TABLE:
        if not (spec.torch or "").startswith("torch.nn.functional."):
            continue
        name = spec.torch.rpartition(".")[2]
        (both if callable(getattr(FT, name, None)) else missing).append(name)
    return both, missing


def _threads():
    from fastloss._api import threads

    return threads(None)


# ---------------------------------------------------------------------- peers ----

def _autograd_call(fn, case):
    """forward + backward of `fn` on tensors over the case's arrays: (call, result)."""
    return _bench.autograd_call(fn, case)


def _newgrad_call(case, n_threads):
    vg = getattr(fastloss, case.loss).value_and_grad
    args, kw = case.inputs, case.kwargs

    def result(r):
        return float(r[0]), r[1] if isinstance(r[1], tuple) else (r[1],)

    return lambda: vg(*args, **kw, n_threads=n_threads), result


def _torch_name(case):
    return case.spec.torch.rpartition(".")[2]


def make_runner(peer, case, n_threads):
    """`peer` ready to run `case`, after a first call whose value and gradients must agree
    with fastloss's (raises fastloss._bench.Disagreement); its `first_time` is a second
    call's."""
    if peer == "fastloss":
        runner = _bench.make_runner("fastloss", case, n_threads)
        t0 = time.perf_counter()
        runner()
        runner.first_time = time.perf_counter() - t0
        return runner
    if peer == "fastloss.torch":
        call, result = _autograd_call(getattr(FT, _torch_name(case)), case)
    elif peer == "torch":
        call, result = _autograd_call(getattr(torch.nn.functional, _torch_name(case)), case)
    elif peer == "fastloss-newgrad":
        call, result = _newgrad_call(case, n_threads)
    else:
        raise ValueError(f"unknown peer {peer!r}; expected one of {PEERS}")
    runner = _bench.Runner(peer, case, call, result)
    got = result(call())
    # the time of a second call: a first one may pay one-time costs (fastloss.torch's
    # first custom-op call imports torch._dynamo, seconds)
    t0 = time.perf_counter()
    call()
    runner.first_time = time.perf_counter() - t0
    runner.errors = _bench.errors(case, got)
    tol = _bench.tolerance(case.dtype)
    if not max(runner.errors) <= tol:
        raise _bench.Disagreement(
            f"{case.label}: {peer} disagrees with fastloss (relative difference "
            f"{runner.errors[0]:.2g} in the value, {runner.errors[1]:.2g} in the gradient; "
            f"tolerance {tol:g})")
    return runner


# ------------------------------------------------------------ pytest-benchmark ----

def _selection():
    from conftest import _env_list

    both, _ = dropin_losses()
    losses = [n for n in _env_list("FASTLOSS_BENCH_LOSSES", both, both + _table_names())
              if n in both]
    sizes = _env_list("FASTLOSS_BENCH_SIZES", _bench.DEFAULT_SIZES, _bench.SIZES)
    dtypes = _env_list("FASTLOSS_BENCH_DTYPES", ("float32",), _bench.DTYPES)
    return _bench.case_keys(losses, sizes, dtypes)


def _table_names():
    from fastloss._registry import TABLE

    return [s.name for s in TABLE]


_CACHE = {}


def _case(key):
    """The case of a key, kept while its peers run (the parameters come in key order)."""
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = _bench.make_case(*key)
    return _CACHE[key]


def _rounds(first_time):
    return None if first_time < 0.1 else max(1, min(5, int(2.0 / first_time)))


if __name__ != "__main__":
    KEYS = _selection()

    @pytest.fixture(scope="module")
    def dropin_threads():
        """OpenMP's default count, or FASTLOSS_BENCH_THREADS (through threadpoolctl, the
        only way to reach fastloss.torch's default), for fastloss and torch alike."""
        import contextlib

        want = int(os.environ.get("FASTLOSS_BENCH_THREADS") or _threads())
        limit = contextlib.nullcontext()
        if want != _threads():
            threadpoolctl = pytest.importorskip("threadpoolctl")
            limit = threadpoolctl.threadpool_limits(limits=want, user_api="openmp")
        before = torch.get_num_threads()
        with limit:
            assert _threads() == want, "threadpoolctl did not reach fastloss's OpenMP"
            torch.set_num_threads(want)
            yield want
        torch.set_num_threads(before)

    @pytest.mark.parametrize("dropin_key,peer", [
        pytest.param(key, peer, id=f"{key[0]}-{key[1]}-{key[2]}-{peer}")
        for key in KEYS for peer in PEERS])
    def test_dropin_forward_backward(benchmark, dropin_key, peer, dropin_threads):
        case = _case(dropin_key)
        runner = make_runner(peer, case, dropin_threads)    # raises if it disagrees
        benchmark.group = f"drop-in {case.label}"
        benchmark.extra_info.update(peer=peer, bytes=case.nbytes, threads=dropin_threads,
                                    agreement=max(runner.errors))
        rounds = _rounds(runner.first_time)
        if rounds is None:
            benchmark(runner)
        else:
            benchmark.pedantic(runner, rounds=rounds, iterations=1)


# ---------------------------------------------------------------- script mode ----

def _per_call(runner):
    """Seconds a call, from a few calls (the first call is often slow)."""
    if runner.first_time >= 0.05:
        return runner.first_time
    t0 = time.perf_counter()
    calls = 0
    while calls < 1000 and time.perf_counter() - t0 < 0.02:
        runner()
        calls += 1
    return (time.perf_counter() - t0) / calls


def measure(case, n_threads, repeat, min_time=2e-3):
    """Interleaved rounds over the peers (a slow spell of a shared machine hits them all):
    per peer, each round's seconds a call (a round loops enough calls to last
    `min_time`)."""
    runners = {p: make_runner(p, case, n_threads) for p in PEERS}
    number = {p: max(1, math.ceil(min_time / max(_per_call(r), 1e-8)))
              for p, r in runners.items()}
    samples = {p: [] for p in runners}
    for _ in range(repeat):
        for p, r in runners.items():
            n = number[p]
            t0 = time.perf_counter()
            for _ in range(n):
                r()
            samples[p].append((time.perf_counter() - t0) / n)
    agreement = max(max(r.errors) for r in runners.values())
    return samples, agreement


def _t(s):
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def report(keys, repeat, stream=sys.stdout):
    """Time every case; print a Markdown table; return its rows."""
    n_threads = _threads()
    torch.set_num_threads(n_threads)
    info = _bench.machine()
    load0 = info["load_average"][0] if info.get("load_average") else float("nan")
    rows = []
    for i, key in enumerate(keys):
        case = _bench.make_case(*key)
        print(f"[{i + 1}/{len(keys)}] {case.label}", file=sys.stderr, flush=True)
        samples, agreement = measure(case, n_threads, repeat)
        best = {p: min(s) for p, s in samples.items()}
        med = {p: statistics.median(s) for p, s in samples.items()}
        rows.append(dict(loss=case.loss, shape=case.shape, dtype=case.dtype.name,
                         best=best, median=med, agreement=agreement))
        del case, samples
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    _, missing = dropin_losses()
    out = [f"fastloss {fastloss.__version__} | torch {torch.__version__} | "
           f"{info.get('cpu') or info.get('platform')} | SIMD {info['simd']} | "
           f"{n_threads} threads | {os.cpu_count()} CPUs | best of {repeat} interleaved "
           f"rounds | load {load0:.1f} before, {load1:.1f} after", "",
           "| loss | shape | dtype | fastloss.torch | torch F | x torch | kernel (out=) "
           "| kernel x torch | kept | kept (median) | vs new-grad value_and_grad |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        b, m = r["best"], r["median"]
        out.append(
            f"| {r['loss']} | {r['shape']} | {r['dtype']} | {_t(b['fastloss.torch'])} | "
            f"{_t(b['torch'])} | {b['torch'] / b['fastloss.torch']:.2f}x | "
            f"{_t(b['fastloss'])} | {b['torch'] / b['fastloss']:.2f}x | "
            f"{100 * b['fastloss'] / b['fastloss.torch']:.0f}% | "
            f"{100 * m['fastloss'] / m['fastloss.torch']:.0f}% | "
            f"{b['fastloss.torch'] / b['fastloss-newgrad']:.2f}x ({_t(b['fastloss-newgrad'])}) |")
    out += ["",
            "fastloss.torch, torch F: forward + backward through autograd (best time a "
            "call); x torch: torch F's time over fastloss.torch's; kernel (out=): "
            "fastloss.<loss>.value_and_grad into a preallocated gradient, and kernel x "
            "torch its speed-up over torch F in the same run; kept: kernel time over "
            "fastloss.torch time = (x torch) / (kernel x torch), the share of the kernel's "
            "speed-up the drop-in keeps (target >= 90%), from the best times and from the "
            "medians; vs new-grad: fastloss.torch's time over value_and_grad allocating its "
            "gradient (in brackets), the wrapper's cost beyond the allocation."]
    if missing:
        out += ["", "torch.nn.functional losses fastloss.torch lacks: " + ", ".join(missing)]
    print("\n".join(out), file=stream)
    return rows


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="medium",
                    help=f"comma-separated among {', '.join(_bench.SIZES)} (default medium)")
    ap.add_argument("--dtypes", default="float32")
    ap.add_argument("--losses", default="", help="comma-separated (default: every drop-in)")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None,
                    help="OpenMP threads of fastloss and torch (default: OpenMP's default; "
                         "other counts through threadpoolctl)")
    a = ap.parse_args(argv)
    both, _ = dropin_losses()
    losses = [s.strip() for s in a.losses.split(",") if s.strip()] or both
    bad = [n for n in losses if n not in both]
    sizes = [s.strip() for s in a.sizes.split(",") if s.strip()]
    dtypes = [s.strip() for s in a.dtypes.split(",") if s.strip()]
    if bad:
        ap.error(f"--losses: {', '.join(bad)} not among {', '.join(both)}")
    if set(sizes) - set(_bench.SIZES) or set(dtypes) - set(_bench.DTYPES):
        ap.error(f"--sizes among {_bench.SIZES}, --dtypes among {_bench.DTYPES}")
    if a.repeat < 1:
        ap.error("--repeat: at least 1")
    keys = _bench.case_keys(losses, sizes, dtypes)
    if not keys:
        ap.error("no case in this selection")
    if a.threads is None or a.threads == _threads():
        report(keys, a.repeat)
        return 0
    if a.threads < 1:
        ap.error("--threads: at least 1")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        ap.error("--threads needs threadpoolctl (pip install threadpoolctl), or set "
                 "OMP_NUM_THREADS instead")
    with threadpool_limits(limits=a.threads, user_api="openmp"):
        assert _threads() == a.threads, "threadpoolctl did not reach fastloss's OpenMP"
        report(keys, a.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
