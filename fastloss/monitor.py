"""Training-loss monitor: history, smoothed curves, early stopping and diagnoses.

    from fastloss.monitor import TrainingMonitor

    mon = TrainingMonitor()                        # defaults work on ordinary runs
    for epoch in range(100):
        for step, batch in ...:
            mon.log_train(step, loss, lr=lr)       # floats; any metrics as keywords
        mon.log_val(epoch, val_loss, acc=acc)      # once per evaluation
        if mon.should_stop:
            break
    mon.best                                       # BestPoint(step, loss, metrics)
    mon.diagnoses                                  # [Diagnosis(kind, step, evidence, advice)]
    print(mon.report()); mon.plot("run.png"); mon.save("run.json")

The monitor takes plain numbers (Python or NumPy floats, or anything with ``__float__``
such as a one-element tensor) and knows nothing of any training framework.

Smoothing
---------
The training loss is smoothed with an exponential moving average,
``s_t = smoothing * s_(t-1) + (1 - smoothing) * x_t`` with ``s_0 = 0``, divided by
``1 - smoothing**t`` (``t``: the number of finite losses so far) so that it is unbiased from
the first step.  The validation loss is smoothed the same way with ``val_smoothing`` per
evaluation.  Non-finite losses are kept in the history but do not enter the averages.

Rules
-----
Each rule reports a :class:`Diagnosis` once per episode: when its condition first holds it
is appended to ``diagnoses`` and the rule becomes *active*; it is reported again only after
it has cleared (the clearing condition below) and then holds again.

``non_finite``
    A NaN or infinite loss, training or validation.  Clears at the next finite loss.
``diverging``
    Checked after ``diverge_warmup`` (10) finite training losses: the smoothed training
    loss rises above ``best + margin``, ``best`` its lowest value so far and
    ``margin = max((diverge_factor - 1) * |best|, 4 * noise)`` (``diverge_factor`` 1.5,
    i.e. 1.5 times the best for positive losses; ``noise``: the standard deviation of the
    smoothed loss implied by the oscillation window's fluctuation, so that a noisy run is
    not taken for a diverging one).  Clears when it falls back below ``best + margin / 2``.
``oscillating``
    Over the last ``osc_window`` (20) finite training losses, the fluctuation
    ``sigma = rms(second differences) / sqrt(6)`` (the noise standard deviation for white
    noise; a linear trend and smooth curvature do not contribute) exceeds
    ``osc_threshold`` (0.25) times the window's mean level.  Clears when the ratio falls
    below half of ``osc_threshold``.
``plateau``
    No validation loss has improved on the reference best by more than
    ``min_delta`` (1e-3, relative: an improvement must bring the loss below
    ``ref - min_delta * |ref|``) for ``patience`` (5) evaluations.  Not reported at an
    evaluation where ``overfitting`` holds, nor while ``underfitting`` is active.  Clears
    at the next such improvement.
``overfitting``
    At least ``patience`` evaluations since the lowest validation loss, and over the last
    ``patience + 1`` evaluations: the least-squares line through the validation losses
    rises (slope t statistic > 2) and ends above the best by more than ``overfit_rise``
    (0.02, relative to ``|best|``); the training losses logged meanwhile fall (slope t
    statistic < -2, by more than ``min_delta`` relative); and the generalization gap
    (smoothed validation minus smoothed training loss) grew.  Clears at a new lowest
    validation loss.
``underfitting``
    After ``underfit_warmup`` (5) evaluations: the smoothed training loss has fallen by
    less than ``underfit_drop`` (0.1, i.e. 10 %) from its initial value (the mean of the
    first five finite training losses) and the smoothed validation loss is within
    ``underfit_gap`` (0.1, relative) of the smoothed training loss.  Clears when either
    stops being true.

The validation rules (plateau, overfitting, underfitting) need ``log_val``; overfitting and
underfitting also need training losses.

Stopping
--------
``should_stop`` is True once a ``non_finite`` or ``diverging`` diagnosis has been made (it
stays True), or while a ``plateau`` or ``overfitting`` episode is active (they become active
``patience`` evaluations without improvement; a new best validation loss ends them).
``underfitting`` and ``oscillating`` never stop a run.  ``best`` is the evaluation with the
lowest finite validation loss (its step, loss and metrics), to restore at the end.
"""
from __future__ import annotations

import csv
import json
import math
import numbers
from collections import deque
from dataclasses import dataclass, field, asdict

import numpy as np

__all__ = ["TrainingMonitor", "Diagnosis", "BestPoint", "Curve", "KINDS"]

KINDS = ("non_finite", "diverging", "oscillating", "plateau", "overfitting", "underfitting")

ADVICE = {
    "non_finite": "The loss is NaN or infinite: stop, restore the best checkpoint, and lower "
                  "the learning rate, clip gradients or check the data and the loss inputs.",
    "diverging": "The training loss is climbing away from its best: stop, restore the best "
                 "checkpoint and lower the learning rate (or add warm-up or gradient "
                 "clipping).",
    "oscillating": "The training loss fluctuates strongly around its trend, the sign of a "
                   "learning rate that is too high: lower it (or increase the batch size).",
    "plateau": "The validation loss has stopped improving: lower the learning rate "
               "(by 10x, say), or stop training.",
    "overfitting": "The validation loss is rising while the training loss falls: stop at the "
                   "best epoch, regularize more (weight decay, dropout, augmentation), or "
                   "get more data.",
    "underfitting": "Both losses are high and flat: increase the model's capacity, raise the "
                    "learning rate or train longer, and check the inputs and labels.",
}

_RESERVED = frozenset({"phase", "step", "loss", "smoothed", "train_step"})
_STOPPING = ("non_finite", "diverging")


# --------------------------------------------------------------------------- data classes
@dataclass
class Diagnosis:
    """One finding: its ``kind``, the ``step`` where it was found (a training step for
    ``diverging`` and ``oscillating``, the step or epoch passed to ``log_val`` for the
    validation rules, either for ``non_finite``), ``evidence`` (numbers), ``advice`` (one
    sentence) and the ``phase`` ("train" or "val") whose log found it."""
    kind: str
    step: float
    evidence: dict = field(default_factory=dict)
    advice: str = ""
    phase: str = "train"

    def __str__(self):
        ev = ", ".join(f"{k}={_fmt(v)}" for k, v in self.evidence.items())
        return f"{self.kind} at {self.phase} step {_fmt(self.step)} ({ev}): {self.advice}"


@dataclass
class BestPoint:
    """The evaluation with the lowest validation loss."""
    step: float
    loss: float
    metrics: dict = field(default_factory=dict)


@dataclass
class Curve:
    """One phase's history as arrays: ``step``, raw ``loss``, ``smoothed`` loss (NaN where
    the loss was not finite) and ``metrics`` (name -> array, NaN where not logged)."""
    step: np.ndarray
    loss: np.ndarray
    smoothed: np.ndarray
    metrics: dict

    def __len__(self):
        return len(self.step)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


# --------------------------------------------------------------------------- validation
def _as_float(value, name):
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (str, bytes)) or \
            isinstance(value, (complex, np.complexfloating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if isinstance(value, numbers.Real):
        return float(value)
    if not hasattr(type(value), "__float__"):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a real number (a single value), got "
                        f"{type(value).__name__}: {e}") from None


def _as_step(value, name="step"):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if isinstance(value, numbers.Integral):
        return int(value)
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return int(v) if v.is_integer() else v


def _check_fraction(value, name, lo=0.0, hi=1.0, lo_open=True, hi_open=True):
    v = _as_float(value, name)
    ok_lo = v > lo if lo_open else v >= lo
    ok_hi = v < hi if hi_open else v <= hi
    if not (math.isfinite(v) and ok_lo and ok_hi):
        lb = "(" if lo_open else "["
        rb = ")" if hi_open else "]"
        raise ValueError(f"{name} must be in {lb}{lo}, {hi}{rb}, got {value!r}")
    return v


def _check_int(value, name, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_positive(value, name):
    v = _as_float(value, name)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


class _EMA:
    """Bias-corrected exponential moving average."""
    __slots__ = ("beta", "raw", "n")

    def __init__(self, beta):
        self.beta, self.raw, self.n = beta, 0.0, 0

    def update(self, x):
        self.n += 1
        self.raw = self.beta * self.raw + (1.0 - self.beta) * x
        return self.value

    @property
    def value(self):
        if self.n == 0:
            return math.nan
        return self.raw / (1.0 - self.beta ** self.n)


# --------------------------------------------------------------------------- the monitor
class TrainingMonitor:
    """Watch training and validation losses, keep their history and diagnose the run.

    Parameters (keyword-only; the rules are described in the module docstring)
    ----------
    smoothing : float in (0, 1), default 0.9
        EMA factor of the training loss (per logged step; bias-corrected).
    val_smoothing : float in (0, 1), default 0.6
        EMA factor of the validation loss (per evaluation).
    patience : int >= 1, default 5
        Evaluations without improvement before ``plateau``; the window of ``overfitting``.
    min_delta : float >= 0, default 1e-3
        Relative improvement of the validation loss that counts for ``plateau``; relative
        fall of the smoothed training loss that counts as "still falling".
    diverge_factor : float > 1, default 1.5
        ``diverging`` when the smoothed training loss exceeds
        ``best + (diverge_factor - 1) * |best|``.
    diverge_warmup : int >= 1, default 10
        Finite training losses before ``diverging`` is checked.
    osc_window : int >= 4, default 20
        Training losses in the ``oscillating`` window.
    osc_threshold : float > 0, default 0.25
        Fluctuation over mean level above which the loss is ``oscillating``.
    overfit_rise : float >= 0, default 0.02
        Relative rise of the validation trend above its best needed for ``overfitting``.
    underfit_warmup : int >= 1, default 5
        Evaluations before ``underfitting`` is checked.
    underfit_drop : float in (0, 1), default 0.1
        Minimum relative fall of the training loss from its initial value; less is
        ``underfitting`` (with the gap condition).
    underfit_gap : float >= 0, default 0.1
        ``|val - train| / |train|`` (smoothed) at most this for ``underfitting``.
    """

    _DEFAULTS = dict(smoothing=0.9, val_smoothing=0.6, patience=5, min_delta=1e-3,
                     diverge_factor=1.5, diverge_warmup=10, osc_window=20,
                     osc_threshold=0.25, overfit_rise=0.02, underfit_warmup=5,
                     underfit_drop=0.1, underfit_gap=0.1)

    def __init__(self, *, smoothing=0.9, val_smoothing=0.6, patience=5, min_delta=1e-3,
                 diverge_factor=1.5, diverge_warmup=10, osc_window=20, osc_threshold=0.25,
                 overfit_rise=0.02, underfit_warmup=5, underfit_drop=0.1, underfit_gap=0.1):
        self.config = dict(
            smoothing=_check_fraction(smoothing, "smoothing"),
            val_smoothing=_check_fraction(val_smoothing, "val_smoothing"),
            patience=_check_int(patience, "patience", 1),
            min_delta=_check_positive(min_delta, "min_delta"),
            diverge_factor=_check_positive(diverge_factor, "diverge_factor"),
            diverge_warmup=_check_int(diverge_warmup, "diverge_warmup", 1),
            osc_window=_check_int(osc_window, "osc_window", 4),
            osc_threshold=_check_positive(osc_threshold, "osc_threshold"),
            overfit_rise=_check_positive(overfit_rise, "overfit_rise"),
            underfit_warmup=_check_int(underfit_warmup, "underfit_warmup", 1),
            underfit_drop=_check_fraction(underfit_drop, "underfit_drop"),
            underfit_gap=_check_positive(underfit_gap, "underfit_gap"),
        )
        if self.config["diverge_factor"] <= 1.0:
            raise ValueError(f"diverge_factor must be > 1, got {diverge_factor!r}")
        if self.config["osc_threshold"] <= 0.0:
            raise ValueError(f"osc_threshold must be > 0, got {osc_threshold!r}")
        self._reset()

    def _reset(self):
        c = self.config
        self.records = []             # every logged point, in order (dicts)
        self.diagnoses = []
        self._active = {k: False for k in KINDS}
        self._stopped_by = None       # first non_finite / diverging diagnosis
        self._train_ema = _EMA(c["smoothing"])
        self._val_ema = _EMA(c["val_smoothing"])
        self._last_step = {"train": None, "val": None}
        self._train_finite = []       # first five finite training losses
        self._train_best = math.inf   # lowest smoothed training loss
        self._train_best_step = None
        self._window = deque(maxlen=c["osc_window"])
        self._best = None             # BestPoint
        self._best_index = -1         # index of the best among val evaluations
        self._ref = math.inf          # plateau reference
        self._ref_index = -1
        self._evals = []              # per evaluation: (val, val_s, train_s, step)
        self._evals_ntrain = []       # finite training losses logged before each evaluation
        self._train_values = []       # every finite training loss

    # ------------------------------------------------------------------ logging
    def log_train(self, step, loss, **metrics):
        """Record the training loss (and any metrics) at ``step``; steps strictly increase."""
        rec = self._record("train", step, loss, metrics)
        x = rec["loss"]
        c = self.config
        if not self._finite(rec):
            return
        s = self._train_ema.update(x)
        rec["smoothed"] = s
        if len(self._train_finite) < 5:
            self._train_finite.append(x)
        self._train_values.append(x)
        # oscillating: the fluctuation over the window (also the noise scale of diverging)
        self._window.append(x)
        sigma = level = math.nan
        if len(self._window) >= 4:
            y = np.fromiter(self._window, float, len(self._window))
            d2 = np.diff(y, 2)
            sigma = math.sqrt(float(np.mean(d2 * d2)) / 6.0)
            level = float(np.mean(y))
        # diverging
        if s < self._train_best:
            self._train_best, self._train_best_step = s, rec["step"]
        if self._train_ema.n >= c["diverge_warmup"]:
            b = self._train_best
            beta = c["smoothing"]
            ema_noise = sigma * math.sqrt((1 - beta) / (1 + beta)) if sigma == sigma else 0.0
            margin = max((c["diverge_factor"] - 1.0) * abs(b), 4.0 * ema_noise)
            if s > b + margin:
                self._report("diverging", rec, smoothed=s, best_smoothed=b,
                             best_step=self._train_best_step, threshold=b + margin,
                             ratio=s / b if b else math.inf)
            elif s < b + 0.5 * margin:
                self._active["diverging"] = False
        if len(self._window) == c["osc_window"]:
            ratio = sigma / abs(level) if level else math.inf
            if ratio > c["osc_threshold"]:
                slope, _, _ = _trend(y)
                self._report("oscillating", rec, sigma=sigma, level=level, ratio=ratio,
                             trend_decrease=-slope * (len(y) - 1), window=len(y))
            elif ratio < 0.5 * c["osc_threshold"]:
                self._active["oscillating"] = False

    def _finite(self, rec):
        """False (after diagnosing non_finite) for a NaN or inf loss; else clears that
        episode and returns True."""
        if not math.isfinite(rec["loss"]):
            rec["smoothed"] = math.nan
            self._non_finite(rec)
            return False
        self._active["non_finite"] = False
        return True

    def log_val(self, epoch_or_step, loss, **metrics):
        """Record a validation loss (and any metrics) at a step or epoch; strictly increasing."""
        rec = self._record("val", epoch_or_step, loss, metrics, step_name="epoch_or_step")
        rec["train_step"] = self._last_step["train"]
        x = rec["loss"]
        c = self.config
        if not self._finite(rec):
            return
        vs = self._val_ema.update(x)
        rec["smoothed"] = vs
        ts = self._train_ema.value
        self._evals.append((x, vs, ts, rec["step"]))
        self._evals_ntrain.append(len(self._train_values))
        k = len(self._evals) - 1
        if self._best is None or x < self._best.loss:
            self._best = BestPoint(rec["step"], x, dict(rec["metrics"]))
            self._best_index = k
            self._active["overfitting"] = False
        if x < self._ref - c["min_delta"] * abs(self._ref) or self._ref_index < 0:
            self._ref, self._ref_index = x, k
            self._active["plateau"] = False

        p = c["patience"]
        over = self._check_overfitting(rec, k)
        self._check_underfitting(rec, k)
        if (k - self._ref_index >= p and not over and not self._active["underfitting"]):
            self._report("plateau", rec, best_loss=self._ref,
                         best_step=self._evals[self._ref_index][3],
                         evals_since_improvement=k - self._ref_index, val_loss=x,
                         min_delta=c["min_delta"])

    def _check_overfitting(self, rec, k):
        c = self.config
        p = c["patience"]
        if k - self._best_index < p or k < p:
            return False
        win = self._evals[k - p:]
        ts0, ts1 = win[0][2], win[-1][2]
        if not (math.isfinite(ts0) and math.isfinite(ts1)):
            return False
        v_slope, v_t, v_end = _trend([e[0] for e in win])
        # the training losses logged over the same evaluations
        y = self._train_values[self._evals_ntrain[k - p]:self._evals_ntrain[k]]
        if len(y) < 3:
            return False
        t_slope, t_t, _ = _trend(y)
        train_fall = -t_slope * (len(y) - 1)
        best = self._best.loss
        rise = v_end - best
        gap0, gap1 = win[0][1] - ts0, win[-1][1] - ts1
        if (v_slope > 0 and v_t > 2.0 and rise > c["overfit_rise"] * abs(best)
                and t_t < -2.0 and train_fall > c["min_delta"] * abs(ts0)
                and gap1 > gap0):
            self._report("overfitting", rec, best_step=self._best.step, best_loss=best,
                         val_loss=rec["loss"], val_smoothed=win[-1][1], train_smoothed=ts1,
                         gap=gap1, gap_change=gap1 - gap0, train_change=ts1 - ts0,
                         val_rise=rise, evals_since_best=k - self._best_index)
            return True
        return False

    def _check_underfitting(self, rec, k):
        c = self.config
        ts, vs = self._evals[k][2], self._evals[k][1]
        if k + 1 < c["underfit_warmup"] or not self._train_finite or not math.isfinite(ts):
            return
        init = float(np.mean(self._train_finite))
        drop = (init - ts) / abs(init) if init else math.inf
        gap = abs(vs - ts) / abs(ts) if ts else math.inf
        if drop < c["underfit_drop"] and gap <= c["underfit_gap"]:
            self._report("underfitting", rec, initial_train=init, train_smoothed=ts,
                         val_smoothed=vs, train_drop=drop, relative_gap=gap,
                         evaluations=k + 1)
        else:
            self._active["underfitting"] = False

    def _record(self, phase, step, loss, metrics, step_name="step"):
        step = _as_step(step, step_name)
        last = self._last_step[phase]
        if last is not None and step <= last:
            raise ValueError(f"{step_name} must increase strictly from one {phase} log to "
                             f"the next: got {step} after {last}")
        x = _as_float(loss, "loss")
        m = {}
        for name, value in metrics.items():
            if name in _RESERVED:
                raise ValueError(f"metric name {name!r} is reserved "
                                 f"(reserved: {sorted(_RESERVED)})")
            m[name] = _as_float(value, name)
        self._last_step[phase] = step
        rec = {"phase": phase, "step": step, "loss": x, "metrics": m}
        self.records.append(rec)
        return rec

    def _non_finite(self, rec):
        self._report("non_finite", rec, loss=rec["loss"],
                     last_finite_loss=self._last_finite(rec["phase"]))

    def _last_finite(self, phase):
        for r in reversed(self.records):
            if r["phase"] == phase and math.isfinite(r["loss"]):
                return r["loss"]
        return math.nan

    def _report(self, kind, rec, **evidence):
        if self._active[kind]:
            return None
        self._active[kind] = True
        ev = {k: (float(v) if not isinstance(v, int) or isinstance(v, bool) else v)
              for k, v in evidence.items() if v is not None}
        d = Diagnosis(kind, rec["step"], ev, ADVICE[kind], rec["phase"])
        self.diagnoses.append(d)
        if kind in _STOPPING and self._stopped_by is None:
            self._stopped_by = d
        return d

    # ------------------------------------------------------------------ views
    @property
    def best(self):
        """BestPoint(step, loss, metrics) of the lowest finite validation loss, or None."""
        return self._best

    @property
    def should_stop(self):
        """True once non_finite or diverging was diagnosed, or while a plateau or
        overfitting episode is active (see the module docstring)."""
        return self.stop_reason is not None

    @property
    def stop_reason(self):
        """The Diagnosis behind ``should_stop``, or None."""
        if self._stopped_by is not None:
            return self._stopped_by
        for kind in ("overfitting", "plateau"):
            if self._active[kind]:
                return next(d for d in reversed(self.diagnoses) if d.kind == kind)
        return None

    @property
    def train(self):
        """The training history as a :class:`Curve`."""
        return self._curve("train")

    @property
    def val(self):
        """The validation history as a :class:`Curve`."""
        return self._curve("val")

    def _metric_names(self, phase=None):
        names = {}
        for r in self.records:
            if phase is None or r["phase"] == phase:
                for n in r["metrics"]:
                    names.setdefault(n, None)
        return list(names)

    def _curve(self, phase):
        rs = [r for r in self.records if r["phase"] == phase]
        step = np.array([r["step"] for r in rs], dtype=float)
        loss = np.array([r["loss"] for r in rs], dtype=float)
        sm = np.array([r["smoothed"] for r in rs], dtype=float)
        metrics = {n: np.array([r["metrics"].get(n, math.nan) for r in rs], dtype=float)
                   for n in self._metric_names(phase)}
        return Curve(step, loss, sm, metrics)

    def __repr__(self):
        n_t = sum(r["phase"] == "train" for r in self.records)
        return (f"TrainingMonitor({n_t} train, {len(self.records) - n_t} val points, "
                f"{len(self.diagnoses)} diagnoses, should_stop={self.should_stop})")

    # ------------------------------------------------------------------ report
    def report(self):
        """A short text summary: best point, last values, diagnoses with their advice."""
        lines = ["Training monitor report"]
        tr, va = self.train, self.val
        if self._best is not None:
            m = "".join(f", {k}={_fmt(v)}" for k, v in self._best.metrics.items())
            lines.append(f"  best validation: loss={_fmt(self._best.loss)} at step "
                         f"{_fmt(self._best.step)}{m}")
        else:
            lines.append("  best validation: none logged")
        for name, cur in (("train", tr), ("val", va)):
            if len(cur):
                lines.append(f"  last {name}: loss={_fmt(float(cur.loss[-1]))} "
                             f"(smoothed {_fmt(float(cur.smoothed[-1]))}) at step "
                             f"{_fmt(self._fmt_step(cur.step[-1]))}, {len(cur)} points")
        if self.diagnoses:
            lines.append(f"  diagnoses ({len(self.diagnoses)}):")
            for d in self.diagnoses:
                ev = ", ".join(f"{k}={_fmt(v)}" for k, v in d.evidence.items())
                lines.append(f"  - {d.kind} at {d.phase} step {_fmt(d.step)}: {ev}")
                lines.append(f"    advice: {d.advice}")
        else:
            lines.append("  diagnoses: none")
        r = self.stop_reason
        lines.append(f"  should stop: {'yes (' + r.kind + ')' if r else 'no'}")
        return "\n".join(lines)

    @staticmethod
    def _fmt_step(v):
        v = float(v)
        return int(v) if v.is_integer() else v

    # ------------------------------------------------------------------ persistence
    def to_dict(self):
        """The full state as JSON-ready data: config, history, diagnoses."""
        return {
            "format": "fastloss.monitor/1",
            "config": dict(self.config),
            "history": [
                {"phase": r["phase"], "step": r["step"], "loss": _enc(r["loss"]),
                 "metrics": {k: _enc(v) for k, v in r["metrics"].items()}}
                for r in self.records],
            "diagnoses": [
                {**asdict(d), "evidence": {k: _enc(v) for k, v in d.evidence.items()}}
                for d in self.diagnoses],
        }

    @classmethod
    def from_dict(cls, data):
        """Rebuild a monitor from :meth:`to_dict`'s output (the history is replayed)."""
        if not isinstance(data, dict) or "config" not in data or "history" not in data:
            raise ValueError("data must be a dict with 'config' and 'history' "
                             "(TrainingMonitor.to_dict's output)")
        mon = cls(**data["config"])
        for r in data["history"]:
            mon._replay(r["phase"], r["step"], _dec(r["loss"]),
                        {k: _dec(v) for k, v in r.get("metrics", {}).items()})
        if "diagnoses" in data:
            mon.diagnoses = [
                Diagnosis(d["kind"], d["step"], {k: _dec(v) for k, v in d["evidence"].items()},
                          d["advice"], d.get("phase", "train"))
                for d in data["diagnoses"]]
            if mon._stopped_by is not None:
                mon._stopped_by = next((d for d in mon.diagnoses if d.kind in _STOPPING),
                                       mon._stopped_by)
        return mon

    def _replay(self, phase, step, loss, metrics):
        if phase == "train":
            self.log_train(step, loss, **metrics)
        elif phase == "val":
            self.log_val(step, loss, **metrics)
        else:
            raise ValueError(f"phase must be 'train' or 'val', got {phase!r}")

    def save(self, path):
        """Write the full state (config, history, diagnoses) to a JSON file."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1, allow_nan=False)
        return path

    @classmethod
    def load(cls, path):
        """Read a monitor written by :meth:`save`."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def to_csv(self, path):
        """Write the history, one row per logged point: phase, step, loss, metrics
        (an empty cell where a metric was not logged)."""
        names = self._metric_names()
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["phase", "step", "loss"] + names)
            for r in self.records:
                w.writerow([r["phase"], repr(r["step"]), repr(r["loss"])] +
                           [repr(r["metrics"][n]) if n in r["metrics"] else ""
                            for n in names])
        return path

    @classmethod
    def from_csv(cls, path, **config):
        """Rebuild a monitor from :meth:`to_csv`'s file by replaying it with ``config``
        (keyword parameters as for the constructor)."""
        mon = cls(**config)
        with open(path, newline="", encoding="utf-8") as f:
            rd = csv.reader(f)
            header = next(rd, None)
            if header is None or header[:3] != ["phase", "step", "loss"]:
                raise ValueError(f"{path}: the CSV must start with columns phase, step, loss")
            names = header[3:]
            for i, row in enumerate(rd, start=2):
                if not row:
                    continue
                try:
                    step = float(row[1])
                    step = int(step) if step.is_integer() and "." not in row[1] \
                        and "e" not in row[1].lower() else step
                    loss = float(row[2])
                    metrics = {n: float(v) for n, v in zip(names, row[3:]) if v != ""}
                except (ValueError, IndexError) as e:
                    raise ValueError(f"{path}: line {i} is not a history row: {e}") from None
                mon._replay(row[0], step, loss, metrics)
        return mon

    # ------------------------------------------------------------------ plot
    def plot(self, path, *, logy=None, title=None, dpi=100):
        """Write a PNG: losses (raw and smoothed) on top, metrics below, each diagnosis
        marked by a vertical line and its kind.  ``logy=None`` uses a log scale when the
        finite losses are positive and span more than a factor of 20.  Needs matplotlib
        (``pip install fastloss[plot]``)."""
        try:
            from matplotlib.figure import Figure
            from matplotlib.backends.backend_agg import FigureCanvasAgg
        except ImportError as e:
            raise ImportError("TrainingMonitor.plot needs matplotlib; install the plot extra: "
                              "pip install fastloss[plot]") from e
        tr, va = self.train, self.val
        # validation points are drawn at the training step they were logged after
        vrecs = [r for r in self.records if r["phase"] == "val"]
        use_train_axis = len(tr) > 0 and all(r.get("train_step") is not None for r in vrecs)
        vx = (np.array([r["train_step"] for r in vrecs], dtype=float) if use_train_axis
              else va.step)

        fig = Figure(figsize=(9, 7), dpi=dpi)
        FigureCanvasAgg(fig)
        ax, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})

        def finite(a):
            a = np.array(a, dtype=float)
            a[~np.isfinite(a)] = np.nan
            return a

        if len(tr):
            ax.plot(tr.step, finite(tr.loss), color="C0", alpha=0.3, lw=0.8,
                    label="train (raw)")
            ax.plot(tr.step, finite(tr.smoothed), color="C0", lw=1.8, label="train (smoothed)")
        if len(va):
            ax.plot(vx, finite(va.loss), "o", color="C1", ms=3, alpha=0.5, label="val (raw)")
            ax.plot(vx, finite(va.smoothed), color="C1", lw=1.8, label="val (smoothed)")
        if self._best is not None:
            bx = vx[list(va.step).index(float(self._best.step))]
            ax.plot([bx], [self._best.loss], "*", color="C3", ms=12, label="best val")
        allv = np.concatenate([finite(tr.loss), finite(va.loss)])
        allv = allv[np.isfinite(allv)]
        if logy is None:
            logy = allv.size > 0 and allv.min() > 0 and allv.max() / allv.min() > 20
        if logy:
            ax.set_yscale("log")
        ax.set_ylabel("loss")
        ax.set_title(title or "training monitor")

        n_metrics = 0
        for i, (name, vals) in enumerate(tr.metrics.items()):
            ax2.plot(tr.step, finite(vals), lw=1.2, label=f"train {name}", color=f"C{i % 10}")
            n_metrics += 1
        for i, (name, vals) in enumerate(va.metrics.items()):
            ax2.plot(vx, finite(vals), "o-", ms=3, lw=1.2, label=f"val {name}",
                     color=f"C{(i + len(tr.metrics)) % 10}")
            n_metrics += 1
        if n_metrics:
            ax2.legend(loc="best", fontsize=8)
        else:
            ax2.text(0.5, 0.5, "no metrics logged", ha="center", va="center",
                     transform=ax2.transAxes, color="0.5")
        ax2.set_ylabel("metrics")
        ax2.set_xlabel("training step" if use_train_axis or not len(va) else "step")

        vstep_to_x = dict(zip(va.step.tolist(), vx.tolist()))
        for d in self.diagnoses:
            x = float(d.step)
            if d.phase == "val":
                x = vstep_to_x.get(x, x)
            for a in (ax, ax2):
                a.axvline(x, color="C3", ls="--", lw=1, alpha=0.8)
            ax.text(x, 0.98, f" {d.kind}", transform=ax.get_xaxis_transform(), rotation=90,
                    va="top", ha="left", fontsize=8, color="C3")
        ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, format="png")
        return path


def _trend(y):
    """Least-squares line through y at 0, 1, ...: (slope, its t statistic, value at the end)."""
    y = np.asarray(y, dtype=float)
    n = y.size
    t = np.arange(n, dtype=float) - (n - 1) / 2.0
    sxx = float(t @ t)
    slope = float(t @ y) / sxx
    mean = float(y.mean())
    resid = y - mean - slope * t
    dof = max(n - 2, 1)
    se = math.sqrt(float(resid @ resid) / dof / sxx)
    tstat = slope / se if se > 0 else (math.copysign(math.inf, slope) if slope else 0.0)
    return slope, tstat, mean + slope * t[-1]


def _enc(v):
    """A float for JSON: non-finite values as the strings 'nan', 'inf', '-inf'."""
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _dec(v):
    if isinstance(v, str):
        return float(v)
    return v
