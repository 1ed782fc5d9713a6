"""``python -m fastloss demo``: a small fine-tuning run that needs no download.

A two-layer perceptron (``x @ W1 + b1 -> relu -> @ W2 + b2``), written with NumPy and
backpropagated by hand, is pre-trained on a synthetic source task and fine-tuned on a
related target task with few labels.  The settings compare what the documentation
discusses: cross-entropy against the focal loss and generalized cross-entropy under label
noise, a good learning rate against one too high, a run long enough to overfit, and
fine-tuning with and without L2-SP.  Each run is watched by a
:class:`fastloss.monitor.TrainingMonitor`, whose diagnoses and best epoch go in the table and
whose plot is written per setting.
"""
import math
import os
import sys
import time

import numpy as np

import fastloss as fl
from fastloss import metrics as M
from fastloss import regularizers as reg
from fastloss.monitor import TrainingMonitor

DIM = 20          # input features
N_CLASSES = 6
L2SP_ALPHA, L2SP_BETA = 0.2, 1e-4   # pull of the head toward its pre-trained values


# ---------------------------------------------------------------------------- data
class _Tasks:
    """Deterministic source and target tasks.

    Latent Gaussian class clusters in 20-D are passed through a fixed random nonlinear map
    (the "sensor").  The target task has the same classes with every cluster centre moved
    (a rotation of the latent space plus a shift), and only a few labels per class.
    """

    shift, angle = 0.3, 0.3

    def __init__(self, seed, n_source, n_target, n_val):
        rng = np.random.default_rng([seed, 1])
        self.means = rng.standard_normal((N_CLASSES, DIM)) * 1.1
        self.A = rng.standard_normal((DIM, DIM)) / math.sqrt(DIM)
        self.B = rng.standard_normal((DIM, DIM)) / math.sqrt(DIM)
        # target: a rotation of the latent space (random plane rotations) plus a shift
        q, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
        angle = self.angle
        R = np.eye(DIM)
        for i in range(0, DIM, 2):
            u, v = q[:, i], q[:, i + 1]
            R = R + (math.cos(angle) - 1) * (np.outer(u, u) + np.outer(v, v)) \
                + math.sin(angle) * (np.outer(v, u) - np.outer(u, v))
        self.target_means = self.means @ R.T + self.shift * rng.standard_normal((N_CLASSES, DIM))
        self.source = self._sample(rng, self.means, n_source)
        self.target = self._sample(rng, self.target_means, n_target)
        self.val = self._sample(rng, self.target_means, n_val)

    def _features(self, z):
        return (np.tanh(z @ self.A) + 0.5 * np.sin(z @ self.B)).astype(np.float32)

    def _sample(self, rng, means, per_class):
        y = np.repeat(np.arange(N_CLASSES), per_class)
        z = means[y] + rng.standard_normal((len(y), DIM))
        order = rng.permutation(len(y))
        return self._features(z[order]), y[order]


def _flip(y, rate, seed):
    """Replace a fraction ``rate`` of the labels by a different class, chosen at random."""
    rng = np.random.default_rng([seed, 2])
    y = y.copy()
    idx = rng.choice(len(y), int(round(rate * len(y))), replace=False)
    y[idx] = (y[idx] + rng.integers(1, N_CLASSES, len(idx))) % N_CLASSES
    return y


# ---------------------------------------------------------------------------- model
def _init(hidden, seed):
    rng = np.random.default_rng([seed, 3])
    return {"W1": (rng.standard_normal((DIM, hidden)) * math.sqrt(2.0 / DIM)).astype(np.float32),
            "b1": np.zeros(hidden, np.float32),
            "W2": (rng.standard_normal((hidden, N_CLASSES)) / math.sqrt(hidden)).astype(np.float32),
            "b2": np.zeros(N_CLASSES, np.float32)}


def _forward(p, x):
    h = np.maximum(x @ p["W1"] + p["b1"], 0.0)
    return h, h @ p["W2"] + p["b2"]


def _loss_fn(name):
    if name == "ce":
        return lambda z, y: fl.cross_entropy.value_and_grad(z, y)
    if name == "focal":
        return lambda z, y: fl.softmax_focal_loss.value_and_grad(z, y, gamma=2.0)
    if name == "gce":
        return lambda z, y: fl.generalized_cross_entropy.value_and_grad(z, y, q=0.7)
    raise ValueError(name)


def _backward(p, x, h, dz, frozen):
    g = {"W2": h.T @ dz, "b2": dz.sum(0)}
    if "W1" not in frozen or "b1" not in frozen:
        dh = (dz @ p["W2"].T) * (h > 0)
        g["W1"] = x.T @ dh
        g["b1"] = dh.sum(0)
    else:
        g["W1"] = np.zeros_like(p["W1"])
        g["b1"] = np.zeros_like(p["b1"])
    return g


def _evaluate(p, x, y, loss):
    _, z = _forward(p, x)
    v, _ = loss(z, y)
    ce = float(fl.cross_entropy(z, y))
    return float(v), ce, float(M.accuracy(y, z)), float(M.f1_score(y, z, average="macro"))


def _train(p, x, y, val, *, loss="ce", lr=0.05, momentum=0.9, epochs=50, batch=None,
           frozen=(), l2_sp=None, seed=0, monitor=None, tick=None):
    """Mini-batch SGD with momentum; returns the monitor (or None when not monitoring)."""
    lossf = _loss_fn(loss)
    frozen = set(frozen)
    rng = np.random.default_rng([seed, 4])
    vel = {k: np.zeros_like(w) for k, w in p.items()}
    n = len(y)
    batch = batch or n
    step = 0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            xb, yb = x[idx], y[idx]
            h, z = _forward(p, xb)
            v, dz = lossf(z, yb)
            g = _backward(p, xb, h, dz, frozen)
            if l2_sp is not None:
                ref, alpha, beta = l2_sp
                v, g = fl.total((float(v), g), reg.l2_sp.value_and_grad(
                    p, ref, alpha, beta, frozen=frozen))
            step += 1
            if monitor is not None:
                monitor.log_train(step, float(v))
            for k in p:
                if k in frozen:
                    continue
                vel[k] = momentum * vel[k] - lr * g[k]
                p[k] += vel[k]
        if monitor is not None:
            vloss, vce, acc, f1 = _evaluate(p, val[0], val[1], lossf)
            monitor.log_val(epoch, vloss, acc=acc, f1=f1)
        if tick is not None:
            tick()
    return monitor


# ---------------------------------------------------------------------------- settings
def _settings(fast):
    """(name, what it shows, training options) of every fine-tuning run."""
    e = 15 if fast else 20          # ordinary fine-tuning epochs (full batch: one step each)
    lr = 0.1
    ft = dict(frozen=("W1", "b1"), l2_sp=True)       # lower layer frozen, L2-SP on the head
    head = dict(frozen=("W1", "b1"))
    return [
        ("ft-ce", "CE, lr 0.1, L2-SP", dict(ft, loss="ce", lr=lr, epochs=e)),
        ("ft-ce-no-l2sp", "CE, lr 0.1, no L2-SP", dict(head, loss="ce", lr=lr, epochs=e)),
        ("noisy-ce", "30% noisy labels, CE, L2-SP", dict(ft, loss="ce", lr=lr, epochs=e,
                                                         noise=0.3)),
        ("noisy-ce-no-l2sp", "30% noisy labels, CE, no L2-SP",
         dict(head, loss="ce", lr=lr, epochs=e, noise=0.3)),
        ("noisy-focal", "30% noisy labels, focal (gamma 2), L2-SP",
         dict(ft, loss="focal", lr=lr, epochs=e, noise=0.3)),
        ("noisy-gce", "30% noisy labels, GCE (q 0.7), L2-SP",
         dict(ft, loss="gce", lr=lr, epochs=e, noise=0.3)),
        ("lr-too-high", "CE, lr 8.0, L2-SP", dict(ft, loss="ce", lr=8.0, epochs=e)),
        ("long-all-layers", f"CE, lr 0.3, all layers, no L2-SP, {8 * e} epochs",
         dict(loss="ce", lr=0.3, epochs=8 * e)),
    ]


class _Progress:
    def __init__(self, total, enabled, width=30):
        self.total, self.done, self.enabled, self.width = total, 0, enabled, width
        self.label = ""

    def set(self, label):
        self.label = label
        self._draw()

    def tick(self):
        self.done += 1
        if self.done % 5 == 0 or self.done == self.total:
            self._draw()

    def _draw(self):
        if not self.enabled:
            return
        k = int(self.width * self.done / max(self.total, 1))
        sys.stderr.write(f"\r[{'#' * k}{'.' * (self.width - k)}] {self.label:<40}")
        sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\r" + " " * (self.width + 44) + "\r")
            sys.stderr.flush()


def run(out=None, fast=False, seed=0, quiet=True):
    """Pre-train, then fine-tune under every setting; returns one dict per setting.

    Each dict has ``setting``, ``description``, ``val_loss`` (final validation
    cross-entropy), ``accuracy``, ``f1`` (macro), ``diagnoses`` (the monitor's kinds, in
    order), ``best_epoch`` (``monitor.best.step``), ``epochs``, ``plot`` (the PNG's path or
    None) and ``monitor``.  With ``out`` a directory, one PNG per setting is written there
    when matplotlib is installed.
    """
    if fast:
        tasks = _Tasks(seed, n_source=150, n_target=20, n_val=100)
        hidden, pre_epochs = 48, 15
    else:
        tasks = _Tasks(seed, n_source=600, n_target=20, n_val=300)
        hidden, pre_epochs = 64, 30
    settings = _settings(fast)
    total = pre_epochs + sum(o["epochs"] for _, _, o in settings)
    bar = _Progress(total, enabled=not quiet and sys.stderr.isatty())

    # pre-training on the source task
    bar.set(f"pre-training (setting 0/{len(settings)})")
    pre = _init(hidden, seed)
    _train(pre, *tasks.source, None, loss="ce", lr=0.05, epochs=pre_epochs, batch=64,
           seed=seed, tick=bar.tick)
    frozen_ref = {k: v.copy() for k, v in pre.items()}

    results = []
    for i, (name, desc, opts) in enumerate(settings, 1):
        bar.set(f"setting {i}/{len(settings)} {name}")
        opts = dict(opts)
        x, y = tasks.target
        noise = opts.pop("noise", 0.0)
        if noise:
            y = _flip(y, noise, seed)
        if opts.pop("l2_sp", False):
            opts["l2_sp"] = (frozen_ref, L2SP_ALPHA, L2SP_BETA)
        p = {k: v.copy() for k, v in pre.items()}
        mon = TrainingMonitor()
        _train(p, x, y, tasks.val, seed=seed, monitor=mon, tick=bar.tick, **opts)
        _, ce, acc, f1 = _evaluate(p, *tasks.val, _loss_fn("ce"))
        results.append(dict(setting=name, description=desc, val_loss=ce, accuracy=acc,
                            f1=f1, diagnoses=[d.kind for d in mon.diagnoses],
                            best_epoch=mon.best.step if mon.best is not None else None,
                            epochs=opts["epochs"], plot=None, monitor=mon))
    bar.close()

    if out is not None:
        _plots(results, out, quiet)
    return results


def _plots(results, out, quiet):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        if not quiet:
            print(f"matplotlib is not installed: no plots written (pip install fastloss[plot])")
        return
    os.makedirs(out, exist_ok=True)
    for r in results:
        path = os.path.join(out, f"{r['setting']}.png")
        r["monitor"].plot(path, title=f"{r['setting']}: {r['description']}")
        r["plot"] = path


def format_table(results):
    head = ("setting", "what", "val loss (CE)", "accuracy", "macro F1", "diagnoses",
            "best epoch")
    rows = [(r["setting"], r["description"], f"{r['val_loss']:.3f}", f"{r['accuracy']:.3f}",
             f"{r['f1']:.3f}", ", ".join(dict.fromkeys(r["diagnoses"])) or "-",
             f"{r['best_epoch']:g} / {r['epochs']}" if r["best_epoch"] is not None else "-")
            for r in results]
    w = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(n) for c, n in zip(cells, w)).rstrip()
    return "\n".join([line(head), line("-" * n for n in w)] + [line(r) for r in rows])


def add_arguments(parser):
    parser.add_argument("--out", default="fastloss-demo",
                        help="directory for the monitor's plots (default ./fastloss-demo)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")
    parser.add_argument("--fast", action="store_true", help="a smaller run (a few seconds)")


def main(parser, args):
    t0 = time.perf_counter()
    results = run(out=args.out, fast=args.fast, seed=args.seed, quiet=args.quiet)
    print(format_table(results))
    print(f"\n{len(results)} settings in {time.perf_counter() - t0:.1f} s", end="")
    if any(r["plot"] for r in results):
        print(f"; plots in {args.out}{os.sep}")
    else:
        print()
    return 0
