"""`python -m fastloss bench` and the benchmark cases (fastloss/_bench.py): the report's
fields and arithmetic, option errors, and the honesty of the comparison (every peer takes
the cases' inputs and computes what fastloss computes).  No timing is asserted."""
import json
import math

import numpy as np
import pytest

import fastloss as fl
from fastloss import _bench
from fastloss.__main__ import main
from fastloss._registry import TABLE
from test_package import _run as run_python

NAMES = [s.name for s in TABLE]


@pytest.fixture(scope="module")
def quick_report():
    """One in-process run of `bench --quick --losses cross_entropy --sizes tiny --json`."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["bench", "--quick", "--losses", "cross_entropy", "--sizes", "tiny", "--json"])
    return rc, json.loads(out.getvalue()), err.getvalue()


def test_json_report(quick_report):
    rc, report, err = quick_report
    assert rc == 0
    assert report["machine"]["fastloss"] == fl.__version__
    assert report["machine"]["simd"] == fl.simd_level()
    assert report["threads"] >= 1 and report["repeat"] == 3
    bw = report["copy_bandwidth_gb_per_s"]
    assert bw > 0 and bw == max(report["copy_bandwidth_probes_gb_per_s"])
    (row,) = report["rows"]            # --quick: float32 only
    assert (row["loss"], row["size"], row["shape"], row["dtype"]) == \
        ("cross_entropy", "tiny", "64x10", "float32")
    assert row["bytes"] == 2 * 64 * 10 * 4 + 64 * 8    # logits, int64 targets, gradient
    assert set(row["seconds"]) == set(_bench.peers_of("cross_entropy"))
    assert {"fastloss", "numpy"} <= set(row["seconds"])
    assert all(0 < s < 10 for s in row["seconds"].values())
    t = row["seconds"]["fastloss"]
    assert set(row["speedup"]) == set(row["seconds"]) - {"fastloss"}
    for peer, sp in row["speedup"].items():
        assert sp == pytest.approx(row["seconds"][peer] / t, rel=1e-12)
    assert row["gb_per_s"] == pytest.approx(row["bytes"] / t / 1e9, rel=1e-12)
    assert row["pct_of_copy"] == pytest.approx(100 * row["gb_per_s"] / bw, rel=1e-12)
    assert 0 <= row["peak_alloc_out"] < 64 * 1024
    assert row["grad_bytes"] == 64 * 10 * 4 <= row["peak_alloc"] < row["grad_bytes"] + 64 * 1024
    assert all(e <= _bench.TOL32 for e in row["agreement"].values())
    # the progress bar went to stderr: its steps count up to the total
    steps = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("[")]
    assert steps[-1].split()[1] == f"{len(steps)}/{len(steps)}"


def test_table_and_plot(quick_report, tmp_path):
    report = quick_report[1]
    text = _bench.table(report)
    head, _, cols, _, row = text.splitlines()[:5]
    assert f"SIMD {fl.simd_level()}" in head and "copy bandwidth" in head
    assert cols.split(" | ")[3:6] == ["fastloss", "GB/s", "% copy"]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:3] == ["cross_entropy", "64x10", "float32"]
    for k, peer in enumerate(("numpy", "torch", "sklearn")):
        sp = report["rows"][0]["speedup"].get(peer)
        assert cells[6 + k] == ("" if sp is None else f"{sp:.1f}x")
    pytest.importorskip("matplotlib")
    path = tmp_path / "bench.png"
    _bench.plot(report, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


@pytest.mark.parametrize("argv, message", [
    (["--losses", "cross_entropy,nope"], "--losses: 'nope' is not one of"),
    (["--sizes", "huge"], "--sizes: 'huge' is not one of tiny, small, medium, large"),
    (["--dtypes", "float16"], "--dtypes: 'float16' is not one of float32, float64"),
    (["--threads", "0"], "--threads: must be at least 1, got 0"),
    (["--repeat", "0"], "--repeat: must be at least 1, got 0"),
    (["--simd", "sse9"], "--simd: 'sse9' is not one of"),
    (["--losses", "mse_loss", "--sizes", "large"], "no case: large does not apply to mse_loss"),
    (["--threads", "two"], "argument --threads: invalid int value: 'two'"),
])
def test_bad_option(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", *argv])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("usage: python -m fastloss bench")


def test_plot_without_matplotlib(monkeypatch, capsys):
    monkeypatch.setattr(_bench, "_matplotlib", lambda: None)
    with pytest.raises(SystemExit):
        main(["bench", "--quick", "--plot", "x.png"])
    assert "--plot needs matplotlib: pip install 'fastloss[bench]'" in capsys.readouterr().err


def test_imports_stay_light():
    """`import fastloss` does not import the benchmarks; they import no peer until used."""
    code = ("import sys, fastloss; a = 'fastloss._bench' in sys.modules; "
            "import fastloss._bench; heavy = [m for m in ('torch', 'sklearn', 'matplotlib') "
            "if m in sys.modules]; print(a, heavy)")
    out = run_python(code)   # outside the source tree: the installed package
    assert out.strip() == "False []"


def test_every_loss_has_cases():
    keys = _bench.case_keys(sizes=_bench.SIZES)
    assert {k[0] for k in keys} == set(NAMES)
    assert _bench.shape_of("cross_entropy", "medium") == (8192, 1000)
    assert _bench.shape_of("cross_entropy", "large") == (2048, 32000)
    assert math.prod(_bench.shape_of("mse_loss", "medium")) == 2**24
    assert math.prod(_bench.shape_of("cosine_embedding_loss", "medium")) * 2 == 2**24
    large = {k[0] for k in keys if k[1] == "large"}
    assert large == {"cross_entropy", "nll_loss"} | {
        s.name for s in TABLE if s.name.endswith(("cross_entropy", "focal_loss"))
        and s.name not in ("binary_cross_entropy", "sigmoid_focal_loss")}


@pytest.mark.parametrize("name, size, expect", [
    ("cross_entropy", "tiny", 64 * 10 * 4 * 2 + 64 * 8),
    ("nll_loss", "tiny", 64 * 10 * 4 + 64 * 8 + 64 * 4),   # reads the target entries only
    ("triplet_margin_loss", "tiny", 6 * 64 * 10 * 4),
    ("gaussian_nll_loss", "tiny", 5 * 64 * 10 * 4),        # 3 inputs, 2 gradients
    ("margin_ranking_loss", "tiny", 5 * 64 * 10 * 4),
    ("dice_loss", "tiny", 2 * 4 * 10 * 4 * 4 * 4 + 4 * 4 * 4 * 8),
])
def test_kernel_bytes(name, size, expect):
    case = _bench.make_case(name, size, "float32")
    assert case.nbytes == expect
    assert case.grad_nbytes == sum(a.nbytes for a in case.grad_inputs())


@pytest.mark.parametrize("dtype", _bench.DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_every_peer_computes_what_fastloss_computes(name, dtype):
    """The benchmark's honesty: each peer takes the case's inputs and agrees with
    fastloss, value and gradients, after undoing its own scale (scikit-learn's half
    losses) or constant; the numpy peer is the reference itself."""
    case = _bench.make_case(name, "tiny", dtype)
    for a in case.inputs:
        assert a.flags.c_contiguous and a.dtype in (np.dtype(dtype), np.int64)
    v, g = getattr(fl, name).value_and_grad(*case.inputs, **case.kwargs, backend="numpy")
    assert np.isfinite(v) and all(np.isfinite(x).all() for x in (g if isinstance(g, tuple) else (g,)))
    for peer in _bench.peers_of(name):
        runner = _bench.make_runner(peer, case, 1)
        ev, eg = runner.errors
        assert ev <= _bench.tolerance(dtype) and eg <= _bench.tolerance(dtype), (peer, ev, eg)


def test_a_disagreeing_peer_is_refused():
    case = _bench.make_case("mse_loss", "tiny", "float64")
    v, g = case.reference()
    case._reference = (v * 1.001, g)
    with pytest.raises(_bench.Disagreement, match="numpy disagrees with fastloss"):
        _bench.make_runner("numpy", case, 1)
    case._reference = (v, (g[0] * 2,))
    with pytest.raises(_bench.Disagreement, match="in the gradient"):
        _bench.make_runner("numpy", case, 1)


def test_sklearn_scale_is_checked(monkeypatch):
    """scikit-learn's HalfSquaredError is half the squared error: without the factor 2 the
    peer is refused."""
    pytest.importorskip("sklearn")
    monkeypatch.setitem(_bench.SKLEARN, "mse_loss", _bench._sk_simple("HalfSquaredError"))
    with pytest.raises(_bench.Disagreement, match="sklearn disagrees"):
        _bench.make_runner("sklearn", _bench.make_case("mse_loss", "tiny", "float32"), 1)


def test_best_time_and_peak_alloc():
    calls = []
    t = _bench.best_time(lambda: calls.append(1), repeat=3, spend=0.01)
    assert 0 < t < 1e-3 and len(calls) > 3
    assert _bench.peak_alloc(lambda: np.empty(2**20, np.uint8)) >= 2**20
