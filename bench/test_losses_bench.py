"""Every loss x size x dtype, timed for each implementation in one pytest-benchmark group
(``{loss} {shape} {dtype}``): fastloss's value_and_grad into out=, the NumPy reference,
PyTorch forward+backward, scikit-learn's loss_gradient.  Each peer's first result is
checked against fastloss before it is timed (fastloss._bench.make_runner)."""
import functools

from fastloss import _bench

from conftest import PEAKS


@functools.lru_cache(maxsize=1)
def _case(key):
    """The case of a key, kept while its peers run (the parameters come in key order)."""
    return _bench.make_case(*key)


def _rounds(first_time):
    """pedantic rounds for a call that took `first_time` seconds (None: let
    pytest-benchmark calibrate)."""
    return None if first_time < 0.1 else max(1, min(5, int(2.0 / first_time)))


def test_value_and_grad(benchmark, case_key, peer, n_threads, copy_bandwidth):
    case = _case(case_key)
    runner = _bench.make_runner(peer, case, n_threads)   # raises if it disagrees
    benchmark.group = case.label
    benchmark.extra_info.update(peer=peer, bytes=case.nbytes, threads=n_threads,
                                agreement=max(runner.errors),
                                copy_bandwidth_gb_per_s=copy_bandwidth / 1e9)
    rounds = _rounds(runner.first_time)
    if rounds is None:
        benchmark(runner)
    else:
        benchmark.pedantic(runner, rounds=rounds, iterations=1)
    if benchmark.stats is not None:
        t = benchmark.stats.stats.min
        benchmark.extra_info["gb_per_s"] = case.nbytes / t / 1e9
        benchmark.extra_info["pct_of_copy"] = 100 * case.nbytes / t / copy_bandwidth
    if peer == "fastloss":
        plain, into = _bench.case_peaks(case, n_threads)
        benchmark.extra_info.update(peak_alloc=plain, peak_alloc_out=into)
        PEAKS.append((case.label, case.grad_nbytes, plain, into))
