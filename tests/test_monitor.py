"""fastloss.monitor.TrainingMonitor: each diagnosis on a synthetic curve made to show it
(found, of the right kind, near the right step, with sensible evidence), no diagnosis on a
healthy run, early stopping, persistence, the plot, the report and bad input."""
import json
import math

import numpy as np
import pytest

from fastloss.monitor import KINDS, Diagnosis, TrainingMonitor

STEPS_PER_EPOCH = 50


def simulate(train_fn, val_fn, epochs=40, seed=0, noise=0.02, vnoise=0.01, metrics=False,
             **config):
    """Train loss train_fn(t) (t in epochs) per step, val loss val_fn(epoch) per epoch,
    each with multiplicative Gaussian noise."""
    rng = np.random.default_rng(seed)
    mon = TrainingMonitor(**config)
    step = 0
    for e in range(epochs):
        for _ in range(STEPS_PER_EPOCH):
            step += 1
            t = step / STEPS_PER_EPOCH
            extra = {"lr": 1e-3 * 0.99 ** e} if metrics else {}
            mon.log_train(step, train_fn(t) * (1 + noise * rng.standard_normal()), **extra)
        extra = {"acc": 0.5 + 0.01 * e} if metrics else {}
        mon.log_val(e, val_fn(e + 1) * (1 + vnoise * rng.standard_normal()), **extra)
    return mon


def healthy(seed=0, **kw):
    return simulate(lambda t: 0.2 + 2.0 * math.exp(-t / 12),
                    lambda e: 0.3 + 2.0 * math.exp(-e / 12), seed=seed, **kw)


def overfitting_run(seed=0, **kw):
    # train keeps falling; val falls, bottoms out at epoch ~16 and rises (a U)
    return simulate(lambda t: 0.1 + 2.0 * math.exp(-t / 6),
                    lambda e: 0.5 + 2.0 * math.exp(-e / 6) + 0.004 * max(0, e - 15) ** 2,
                    seed=seed, **kw)


def kinds(mon):
    return [d.kind for d in mon.diagnoses]


# --------------------------------------------------------------------------- healthy run
@pytest.mark.parametrize("seed", range(4))
def test_healthy_run_has_no_diagnosis(seed):
    mon = healthy(seed, metrics=True)
    assert mon.diagnoses == []
    assert not mon.should_stop and mon.stop_reason is None
    assert mon.best.step >= 35                       # still improving at the end
    assert len(mon.train) == 40 * STEPS_PER_EPOCH and len(mon.val) == 40


def test_smoothing_is_bias_corrected_ema():
    mon = TrainingMonitor(smoothing=0.9)
    xs = [4.0, 2.0, 3.0, 1.0]
    for i, x in enumerate(xs):
        mon.log_train(i, x)
    raw, expect = 0.0, []
    for n, x in enumerate(xs, start=1):
        raw = 0.9 * raw + 0.1 * x
        expect.append(raw / (1 - 0.9 ** n))
    np.testing.assert_allclose(mon.train.smoothed, expect, rtol=1e-12)
    assert mon.train.smoothed[0] == 4.0              # unbiased from the first step


# --------------------------------------------------------------------------- each rule
@pytest.mark.parametrize("phase", ["train", "val"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite(phase, bad):
    mon = TrainingMonitor()
    for s in range(1, 200):
        loss = bad if (phase == "train" and s == 120) else 1.0 / s ** 0.1
        mon.log_train(s, loss)
        if s % 20 == 0:
            mon.log_val(s, bad if (phase == "val" and s == 140) else 1.1 / s ** 0.1)
    assert kinds(mon) == ["non_finite"]              # once, although training went on
    d = mon.diagnoses[0]
    assert d.phase == phase and d.step == (120 if phase == "train" else 140)
    assert (math.isnan(d.evidence["loss"]) if math.isnan(bad) else d.evidence["loss"] == bad)
    assert math.isfinite(d.evidence["last_finite_loss"])
    assert mon.should_stop and mon.stop_reason is d
    if phase == "val":
        assert mon.best.step != 140 and math.isfinite(mon.best.loss)


def test_non_finite_reported_again_after_clearing():
    mon = TrainingMonitor()
    for s, x in enumerate([1.0, math.nan, math.nan, 0.9, 0.8, math.inf, 0.7], start=1):
        mon.log_train(s, x)
    assert [(d.kind, d.step) for d in mon.diagnoses] == [("non_finite", 2), ("non_finite", 6)]


@pytest.mark.parametrize("seed", range(3))
def test_diverging(seed):
    rng = np.random.default_rng(seed)
    mon = TrainingMonitor()
    for s in range(1, 601):
        base = 0.3 + 2 * math.exp(-s / 80)
        if s > 400:
            base *= math.exp((s - 400) / 25)       # blows up after step 400
        mon.log_train(s, base * (1 + 0.03 * rng.standard_normal()))
        if s % 50 == 0:
            mon.log_val(s, base * 1.1)
    assert kinds(mon)[0] == "diverging" and kinds(mon).count("diverging") == 1
    d = mon.diagnoses[0]
    assert 400 < d.step <= 440
    ev = d.evidence
    assert ev["smoothed"] > ev["threshold"] >= 1.5 * ev["best_smoothed"] * 0.999
    assert ev["ratio"] > 1.5 and 300 <= ev["best_step"] <= 410
    assert mon.should_stop and mon.stop_reason.kind == "diverging"


@pytest.mark.parametrize("seed", range(3))
def test_oscillating(seed):
    rng = np.random.default_rng(seed)
    mon = TrainingMonitor()
    for s in range(1, 601):
        base = 0.5 + 1.5 * math.exp(-s / 300)
        if s > 300:                                  # alternating +-50 % on a slow trend
            base *= 1 + 0.5 * (-1) ** s + 0.1 * rng.standard_normal()
        else:
            base *= 1 + 0.03 * rng.standard_normal()
        mon.log_train(s, base)
    assert kinds(mon) == ["oscillating"]
    d = mon.diagnoses[0]
    assert 300 < d.step <= 320
    assert d.evidence["ratio"] > 0.25 and d.evidence["sigma"] > 0.2
    assert d.evidence["window"] == 20 and 0.5 < d.evidence["level"] < 2
    assert "learning rate" in d.advice and "lower" in d.advice
    assert not mon.should_stop                       # oscillating alone does not stop


def test_oscillating_noisy_fluctuation_found():
    rng = np.random.default_rng(7)
    mon = TrainingMonitor(diverge_factor=10.0)
    for s in range(1, 501):
        mon.log_train(s, (1 - s / 2000) * (1 + (0.6 if s > 250 else 0.02) * rng.standard_normal()))
    assert kinds(mon) == ["oscillating"] and 250 < mon.diagnoses[0].step <= 275


@pytest.mark.parametrize("seed", range(3))
def test_plateau(seed):
    # both fall quickly and flatten from epoch ~12 on
    mon = simulate(lambda t: 0.5 + 1.5 * math.exp(-t / 2),
                   lambda e: 0.6 + 1.5 * math.exp(-e / 2), seed=seed, vnoise=0.003)
    assert kinds(mon)[0] == "plateau" and "overfitting" not in kinds(mon)
    assert "underfitting" not in kinds(mon)
    d = mon.diagnoses[0]
    assert 12 <= d.step <= 30
    assert d.evidence["evals_since_improvement"] == 5
    assert d.step - d.evidence["best_step"] == 5
    assert d.evidence["val_loss"] >= d.evidence["best_loss"] * (1 - 1e-3)
    assert "learning rate" in d.advice and "stop" in d.advice


@pytest.mark.parametrize("seed", range(4))
def test_overfitting(seed):
    mon = overfitting_run(seed)
    assert kinds(mon) == ["overfitting"]
    d = mon.diagnoses[0]
    assert 18 <= d.step <= 25                        # val bottoms out near epoch 16
    ev = d.evidence
    assert 13 <= ev["best_step"] <= 18 and ev["evals_since_best"] >= 5
    assert ev["gap_change"] > 0 and ev["train_change"] < 0
    assert ev["val_loss"] > ev["best_loss"] and ev["val_rise"] > 0.02 * ev["best_loss"]
    assert "best epoch" in d.advice and "regulariz" in d.advice
    assert mon.should_stop and mon.stop_reason is d
    assert mon.best.step == ev["best_step"]


@pytest.mark.parametrize("seed", range(3))
def test_underfitting(seed):
    mon = simulate(lambda t: 2.3, lambda e: 2.31, seed=seed, epochs=20)
    assert kinds(mon) == ["underfitting"]            # not also plateau
    d = mon.diagnoses[0]
    assert d.step == 4                               # the 5th evaluation (warm-up)
    ev = d.evidence
    assert abs(ev["train_drop"]) < 0.1 and ev["relative_gap"] < 0.1
    assert ev["initial_train"] == pytest.approx(2.3, rel=0.05)
    assert not mon.should_stop


def test_flat_but_low_after_a_fall_is_not_underfitting():
    mon = simulate(lambda t: 0.3 + 2 * math.exp(-t * 3), lambda e: 0.31 + 2 * math.exp(-e * 3),
                   epochs=12, vnoise=0.0)
    assert "underfitting" not in kinds(mon)


def test_reported_again_after_clearing():
    # a plateau, a clear improvement, a second plateau: two episodes
    mon = TrainingMonitor(patience=3)
    vals = [1.0, 0.8, 0.8, 0.8, 0.8, 0.8, 0.5, 0.5, 0.5, 0.5, 0.5]
    for e, v in enumerate(vals):
        mon.log_val(e, v)
    assert [(d.kind, d.step) for d in mon.diagnoses] == [("plateau", 4), ("plateau", 9)]
    assert mon.should_stop


# --------------------------------------------------------------------------- stopping, best
def test_should_stop_and_best():
    mon = TrainingMonitor(patience=2)
    mon.log_val(0, 1.0, acc=0.5)
    mon.log_val(1, 0.7, acc=0.6)
    assert not mon.should_stop
    mon.log_val(2, 0.75, acc=0.61)
    assert not mon.should_stop                       # 1 evaluation without improvement
    mon.log_val(3, 0.71, acc=0.62)
    assert mon.should_stop and mon.stop_reason.kind == "plateau"
    assert (mon.best.step, mon.best.loss, mon.best.metrics) == (1, 0.7, {"acc": 0.6})
    mon.log_val(4, 0.6, acc=0.7)                     # a new best ends the episode
    assert not mon.should_stop and mon.best.step == 4
    assert TrainingMonitor().best is None


# --------------------------------------------------------------------------- persistence
def _same(a, b):
    for phase in ("train", "val"):
        ca, cb = getattr(a, phase), getattr(b, phase)
        np.testing.assert_array_equal(ca.step, cb.step)
        np.testing.assert_array_equal(ca.loss, cb.loss)
        np.testing.assert_array_equal(ca.smoothed, cb.smoothed)
        assert ca.metrics.keys() == cb.metrics.keys()
        for k in ca.metrics:
            np.testing.assert_array_equal(ca.metrics[k], cb.metrics[k])
    assert a.best == b.best and a.should_stop == b.should_stop


def _with_nan(mon):
    mon.log_train(10 ** 6, math.nan)
    mon.log_val(10 ** 6, math.inf)
    return mon


def test_json_round_trip(tmp_path):
    mon = _with_nan(overfitting_run(metrics=True, patience=4, smoothing=0.8))
    p = mon.save(tmp_path / "run.json")
    text = p.read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    back = TrainingMonitor.load(p)
    assert back.config == mon.config and back.config["patience"] == 4
    _same(mon, back)
    assert len(back.diagnoses) == len(mon.diagnoses) >= 2
    for a, b in zip(mon.diagnoses, back.diagnoses):
        assert (a.kind, a.step, a.phase, a.advice) == (b.kind, b.step, b.phase, b.advice)
        for k, v in a.evidence.items():
            assert (math.isnan(v) and math.isnan(b.evidence[k])) or v == b.evidence[k]
    # the restored monitor carries on where the original stopped
    back.log_train(10 ** 6 + 1, 0.1)


def test_csv_round_trip(tmp_path):
    mon = _with_nan(overfitting_run(metrics=True))
    mon.log_train(10 ** 6 + 1, 0.2, extra=3.5)      # a metric logged once
    p = mon.to_csv(tmp_path / "run.csv")
    lines = p.read_text().splitlines()
    assert lines[0] == "phase,step,loss,lr,acc,extra"   # order of first appearance
    assert len(lines) == 1 + len(mon.records)
    assert lines[1].startswith("train,1,")
    back = TrainingMonitor.from_csv(p)
    _same(mon, back)
    assert [(d.kind, d.step) for d in back.diagnoses] == \
        [(d.kind, d.step) for d in mon.diagnoses]


def test_from_csv_rejects_other_files(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="phase, step, loss"):
        TrainingMonitor.from_csv(p)


# --------------------------------------------------------------------------- plot, report
def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    mon = _with_nan(overfitting_run(metrics=True))
    p = mon.plot(tmp_path / "run.png")
    data = p.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    # without validation, metrics or diagnoses it still works
    m2 = TrainingMonitor()
    m2.log_train(0, 1.0)
    assert m2.plot(tmp_path / "small.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_needs_matplotlib(tmp_path, monkeypatch):
    import builtins
    real = builtins.__import__

    def fake(name, *args, **kw):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real(name, *args, **kw)
    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=r"pip install fastloss\[plot\]"):
        healthy().plot(tmp_path / "x.png")


def test_report_mentions_each_diagnosis():
    mon = _with_nan(overfitting_run(metrics=True))
    text = mon.report()
    assert "best validation" in text and "last train" in text and "last val" in text
    for d in mon.diagnoses:
        assert d.kind in text and d.advice in text
    assert "should stop: yes (non_finite)" in text     # non_finite comes first
    assert "diagnoses: none" in healthy().report()


def test_diagnosis_is_a_dataclass():
    d = overfitting_run().diagnoses[0]
    assert isinstance(d, Diagnosis) and d.kind in KINDS
    assert all(isinstance(v, (int, float)) for v in d.evidence.values())
    assert "overfitting" in str(d)


def test_advice_is_one_sentence():
    from fastloss.monitor import ADVICE
    assert set(ADVICE) == set(KINDS)
    for text in ADVICE.values():
        assert text.endswith(".") and text.count(". ") == 0 and text[0].isupper()


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("loss", ["0.5", None, [0.5], np.ones(3), 1 + 2j, True])
def test_bad_loss_type(loss):
    mon = TrainingMonitor()
    with pytest.raises(TypeError, match="loss"):
        mon.log_train(0, loss)
    with pytest.raises(TypeError, match="loss"):
        mon.log_val(0, loss)
    assert mon.records == []


def test_loss_accepts_numpy_scalars():
    mon = TrainingMonitor()
    mon.log_train(np.int64(0), np.float32(0.5))
    mon.log_train(1, np.array(0.4))
    assert list(mon.train.loss) == [0.5, pytest.approx(0.4)]


def test_bad_metric():
    mon = TrainingMonitor()
    with pytest.raises(TypeError, match="acc"):
        mon.log_val(0, 1.0, acc="high")
    with pytest.raises(ValueError, match="reserved"):
        mon.log_train(0, 1.0, phase=3)


@pytest.mark.parametrize("steps", [(5, 3), (5, 5)])
def test_steps_must_increase(steps):
    mon = TrainingMonitor()
    mon.log_train(steps[0], 1.0)
    with pytest.raises(ValueError, match="step"):
        mon.log_train(steps[1], 1.0)
    mon.log_val(steps[0], 1.0)
    with pytest.raises(ValueError, match="epoch_or_step"):
        mon.log_val(steps[1], 1.0)
    assert len(mon.records) == 2


def test_bad_step_type():
    mon = TrainingMonitor()
    with pytest.raises(TypeError, match="step"):
        mon.log_train("1", 1.0)
    with pytest.raises(ValueError, match="step"):
        mon.log_train(math.nan, 1.0)


@pytest.mark.parametrize("kw, exc, name", [
    (dict(patience=-1), ValueError, "patience"),
    (dict(patience=0), ValueError, "patience"),
    (dict(patience=2.5), TypeError, "patience"),
    (dict(smoothing=0.0), ValueError, "smoothing"),
    (dict(smoothing=1.0), ValueError, "smoothing"),
    (dict(smoothing=1.5), ValueError, "smoothing"),
    (dict(smoothing="0.9"), TypeError, "smoothing"),
    (dict(val_smoothing=-0.1), ValueError, "val_smoothing"),
    (dict(min_delta=-1e-3), ValueError, "min_delta"),
    (dict(diverge_factor=1.0), ValueError, "diverge_factor"),
    (dict(osc_window=2), ValueError, "osc_window"),
    (dict(osc_threshold=0), ValueError, "osc_threshold"),
    (dict(underfit_drop=1.0), ValueError, "underfit_drop"),
])
def test_bad_parameters(kw, exc, name):
    with pytest.raises(exc, match=name):
        TrainingMonitor(**kw)


def test_unknown_parameter():
    with pytest.raises(TypeError, match="patients"):
        TrainingMonitor(patients=3)
