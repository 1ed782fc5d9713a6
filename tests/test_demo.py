"""The fine-tuning demo: ``python -m fastloss demo`` (its fast variant)."""
import os

import pytest

from fastloss import _demo
from test_package import _run

SETTINGS = ["ft-ce", "ft-ce-no-l2sp", "noisy-ce", "noisy-ce-no-l2sp", "noisy-focal",
            "noisy-gce", "lr-too-high", "long-all-layers"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    results = _demo.run(out=str(out), fast=True, seed=0, quiet=True)
    return out, {r["setting"]: r for r in results}


def test_every_setting_is_present_with_its_fields(demo):
    _, res = demo
    assert list(res) == SETTINGS
    for r in res.values():
        for key in ("val_loss", "accuracy", "f1", "diagnoses", "best_epoch", "epochs",
                    "monitor"):
            assert key in r
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["f1"] <= 1.0
        assert r["diagnoses"] == [d.kind for d in r["monitor"].diagnoses]


def test_too_high_learning_rate_is_diagnosed(demo):
    kinds = demo[1]["lr-too-high"]["diagnoses"]
    assert {"oscillating", "diverging"} & set(kinds), kinds


def test_long_run_overfits_and_names_an_earlier_best_epoch(demo):
    r = demo[1]["long-all-layers"]
    assert "overfitting" in r["diagnoses"]
    assert r["best_epoch"] == r["monitor"].best.step < r["epochs"]


def test_healthy_run_has_no_training_problem(demo):
    r = demo[1]["ft-ce"]
    assert not {"oscillating", "diverging", "overfitting", "non_finite"} & set(r["diagnoses"])
    assert r["accuracy"] > 0.8


def test_noise_robust_loss_beats_cross_entropy_under_noise(demo):
    res = demo[1]
    assert res["noisy-gce"]["val_loss"] < res["noisy-ce"]["val_loss"]


def test_plots_are_written(demo):
    pytest.importorskip("matplotlib")
    out, res = demo
    for name in SETTINGS:
        path = os.path.join(str(out), name + ".png")
        assert res[name]["plot"] == path
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_cli_runs(tmp_path):
    out = tmp_path / "tmp"
    text = _run("import sys, runpy; sys.argv = ['fastloss', 'demo', '--fast', '--quiet', "
                f"'--out', {str(out)!r}]; runpy.run_module('fastloss', run_name='__main__')")
    for name in SETTINGS:
        assert name in text
    assert "val loss" in text and "best epoch" in text
