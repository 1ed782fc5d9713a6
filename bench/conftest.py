"""pytest-benchmark suites of fastloss: each loss at each size and dtype, side by side with
the NumPy reference, PyTorch and scikit-learn (see fastloss/_bench.py for the cases and
peers).  Not part of the test run:

    pytest bench                                         # every loss, tiny/medium/large
    FASTLOSS_BENCH_SIZES=tiny pytest bench --benchmark-disable    # a smoke run

Environment: FASTLOSS_BENCH_SIZES (tiny,small,medium,large; default tiny,medium,large),
FASTLOSS_BENCH_DTYPES (float32,float64), FASTLOSS_BENCH_LOSSES (comma-separated names;
default all), FASTLOSS_BENCH_THREADS (default: OpenMP's default count).
"""
import os

import pytest

from fastloss import _bench
from fastloss._cpu import _kernels


def _env_list(name, default, allowed):
    text = os.environ.get(name, "").strip()
    if not text:
        return tuple(default)
    items = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in items if s not in allowed]
    if bad:
        raise pytest.UsageError(f"{name}: {', '.join(bad)} not among {', '.join(allowed)}")
    return items


def _selection():
    from fastloss._registry import TABLE

    names = [s.name for s in TABLE]
    losses = _env_list("FASTLOSS_BENCH_LOSSES", names, names)
    sizes = _env_list("FASTLOSS_BENCH_SIZES", _bench.DEFAULT_SIZES, _bench.SIZES)
    dtypes = _env_list("FASTLOSS_BENCH_DTYPES", _bench.DTYPES, _bench.DTYPES)
    threads = int(os.environ.get("FASTLOSS_BENCH_THREADS") or _kernels.max_threads())
    return _bench.case_keys(losses, sizes, dtypes), threads


KEYS, THREADS = _selection()
PEAKS = []          # (case label, grad bytes, peak without out=, peak with out=)
BANDWIDTH = {}


def pytest_generate_tests(metafunc):
    """`case_key, peer`: every case of the selection with every peer available for it."""
    if "case_key" in metafunc.fixturenames:
        metafunc.parametrize("case_key,peer", [
            pytest.param(key, peer, id=f"{key[0]}-{key[1]}-{key[2]}-{peer}")
            for key in KEYS for peer in _bench.peers_of(key[0])])


@pytest.fixture(scope="session")
def n_threads():
    return THREADS


@pytest.fixture(scope="session")
def copy_bandwidth(n_threads):
    """Bytes per second of the extension's multi-threaded copy, measured once a session."""
    bw = _bench.copy_bandwidth(n_threads)
    BANDWIDTH["bytes_per_s"] = bw
    return bw


def pytest_report_header(config):
    from fastloss import _cpu

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"fastloss bench: {len(KEYS)} cases, {THREADS} threads, SIMD {_cpu.simd_level()}, "
            f"peers where installed: {', '.join(_bench.PEERS)}; load {load:.1f} on "
            f"{os.cpu_count()} CPUs")


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    if "bytes_per_s" in BANDWIDTH:
        tr.write_sep("-", "fastloss: machine")
        tr.write_line(f"copy bandwidth: {BANDWIDTH['bytes_per_s'] / 1e9:.1f} GB/s "
                      f"({THREADS} threads); each fastloss benchmark's extra_info has its "
                      "bytes, GB/s and % of it")
    if PEAKS:
        tr.write_sep("-", "fastloss: peak allocation of value_and_grad")
        tr.write_line(f"{'case':<55} {'gradient':>10} {'no out=':>10} {'out=':>10}")
        for label, grad, plain, into in PEAKS:
            tr.write_line(f"{label:<55} {grad:>10} {plain:>10} {into:>10}")
