"""fastloss.metrics from (8192, 1000) float32 logits: f1_score(average="macro") and the
confusion matrix, against scikit-learn (np.argmax + its f1_score / confusion_matrix) and
against reading the logits once (np.sum, a copy).  Groups ``metrics f1 ...`` and
``metrics confusion ...``; each result is checked against scikit-learn before it is timed.

    pytest bench/test_metrics_bench.py                  # pytest-benchmark tables
    python bench/test_metrics_bench.py                  # the ratios, printed
"""
import time

import numpy as np
import pytest

N, C = 8192, 1000
SHAPE = f"({N}, {C}) float32"


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((N, C), dtype=np.float32)
    target = rng.integers(0, C, N)
    return logits, target


def runners(logits, target):
    """name -> (group, zero-argument callable)."""
    from fastloss import metrics as M

    out = {
        "fastloss f1_score": ("f1", lambda: M.f1_score(target, logits, average="macro",
                                                       zero_division=0.0)),
        "fastloss confusion_matrix": ("confusion", lambda: M.confusion_matrix(
            target, logits, labels=np.arange(C))),
        "fastloss from_logits_confusion": ("confusion", lambda: M.from_logits_confusion(
            logits, target)),
        "read once (np.sum)": ("read", lambda: np.sum(logits)),
        "read once (copy)": ("read", lambda: logits.copy()),
    }
    try:
        import sklearn.metrics as skm
    except ImportError:
        return out
    out["sklearn f1_score"] = ("f1", lambda: skm.f1_score(
        target, np.argmax(logits, axis=1), average="macro", zero_division=0.0))
    out["sklearn confusion_matrix"] = ("confusion", lambda: skm.confusion_matrix(
        target, np.argmax(logits, axis=1), labels=np.arange(C)))
    return out


def check_agreement(r):
    if "sklearn f1_score" in r:
        a, b = r["fastloss f1_score"][1](), r["sklearn f1_score"][1]()
        assert abs(a - b) <= 1e-12, (a, b)
        cm = r["sklearn confusion_matrix"][1]()
        assert np.array_equal(r["fastloss confusion_matrix"][1](), cm)
        assert np.array_equal(r["fastloss from_logits_confusion"][1](), cm)


@pytest.fixture(scope="module")
def metric_runners():
    r = runners(*make_data())
    check_agreement(r)
    return r


NAMES = ["fastloss f1_score", "sklearn f1_score", "fastloss confusion_matrix",
         "fastloss from_logits_confusion", "sklearn confusion_matrix",
         "read once (np.sum)", "read once (copy)"]


@pytest.mark.parametrize("name", NAMES)
def test_metrics(benchmark, metric_runners, name):
    if name not in metric_runners:
        pytest.skip("scikit-learn is not installed")
    group, fn = metric_runners[name]
    benchmark.group = f"metrics {SHAPE}"
    benchmark.extra_info.update(kind=group, bytes=N * C * 4)
    benchmark(fn)


def _best(fn, repeat=15):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    r = runners(*make_data())
    check_agreement(r)
    t = {name: _best(fn) for name, (_, fn) in r.items()}
    read = t["read once (np.sum)"]
    print(f"fastloss.metrics, logits {SHAPE} ({N * C * 4 / 1e6:.1f} MB), best of 15:")
    for name, sec in t.items():
        print(f"  {name:<32} {sec * 1e3:8.2f} ms   {sec / read:5.2f} x read (np.sum)")
    if "sklearn f1_score" in t:
        print(f"  f1_score: sklearn / fastloss = "
              f"{t['sklearn f1_score'] / t['fastloss f1_score']:.2f}x")
        print(f"  confusion_matrix: sklearn / fastloss = "
              f"{t['sklearn confusion_matrix'] / t['fastloss confusion_matrix']:.2f}x "
              f"(from_logits_confusion "
              f"{t['sklearn confusion_matrix'] / t['fastloss from_logits_confusion']:.2f}x)")


if __name__ == "__main__":
    main()
