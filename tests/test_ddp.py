"""fastloss.torch under torch.nn.parallel.DistributedDataParallel: two processes on this
machine (gloo backend, loopback only) train a small float64 MLP with fastloss.torch losses,
and their gradients at every step and their weights after a few SGD steps are compared
with one process training on the whole batch with torch.nn.functional.

What it shows (the README's "Distributed training"):

- reduction="mean" gives each rank's own mean, and DDP averages the ranks' gradients: that
  is the global mean when every rank counts the same number of terms (cross_entropy without
  ignored targets, mse_loss on equal shards), and the average of the per-rank means, *not*
  the global token mean, when the ranks count different numbers of non-ignored targets;
- a rank whose targets are all ignored has a NaN mean (as PyTorch) but a zero gradient,
  which DDP's average still counts: the gradient is finite, (world_size - 1) / world_size
  times the average over the ranks that have targets (here half of rank 0's);
- reduction="sum" times world_size over the global count of non-ignored targets (an
  all_reduce of the count) is the global token mean exactly, also over gradient
  accumulation (two micro-batches a step, the first under no_sync(), one of them with
  every target ignored).

The workers are this file run as a script (``python test_ddp.py --worker DATA RESULT``)
with the torch.distributed environment variables: no pickling of a function by module
name, no dependence on the current directory, and the same fastloss as this process.
Both ranks run all scenarios in one launch; the data comes from this process (a seed
derived as the ``rng`` fixture's) through a file, the results go back through files.
"""
import os
import socket
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")

HERE = os.path.dirname(os.path.abspath(__file__))

WORLD = 2
STEPS = 3
LR = 0.1
D, H, C, R = 8, 16, 5, 3        # features, hidden units, classes, regression outputs
ROWS = 16                       # rows (tokens) per rank per step
SEGMENT = ROWS // 2             # one micro-batch of a rank in the accumulation scenario
IGNORE = -100
# ignored targets in each segment of SEGMENT rows of a step's global batch: (rank 0, first
# half), (rank 0, second half), (rank 1, first half), (rank 1, second half).  UNEQUAL:
# rank 0 counts 14 valid targets a step, rank 1 only 3, and rank 1's second micro-batch
# none; NO_VALID: rank 1 has no valid target at all
UNEQUAL = (0, 2, 5, SEGMENT)
NO_VALID = (0, 2, SEGMENT, SEGMENT)
LAUNCH_TIMEOUT_S = 120          # the whole launch (both ranks); init_process_group: 60 s

# name -> loss, recipe, micro-batches per step, ignored targets, the single-process
# computation DDP must reproduce ("global": the mean over the whole batch; "rank_mean":
# the average over the ranks of each rank's own mean)
SCENARIOS = {
    "ce_mean": dict(loss="cross_entropy", recipe="mean", micro=1, ignored=None,
                    expect="global"),
    "ce_ignore_mean": dict(loss="cross_entropy", recipe="mean", micro=1, ignored=UNEQUAL,
                           expect="rank_mean"),
    "ce_rank_without_valid_target_mean": dict(loss="cross_entropy", recipe="mean", micro=1,
                                              ignored=NO_VALID, expect="rank_mean"),
    "ce_ignore_sum_global_count": dict(loss="cross_entropy", recipe="sum_global", micro=1,
                                       ignored=UNEQUAL, expect="global"),
    "ce_ignore_accumulation_sum_global_count": dict(loss="cross_entropy", recipe="sum_global",
                                                    micro=2, ignored=UNEQUAL, expect="global"),
    "mse_mean": dict(loss="mse_loss", recipe="mean", micro=1, ignored=None, expect="global"),
}


def _mlp(params, n_out):
    model = torch.nn.Sequential(torch.nn.Linear(D, H), torch.nn.Tanh(),
                                torch.nn.Linear(H, n_out)).double()
    with torch.no_grad():
        for p, a in zip(model.parameters(), params):
            p.copy_(torch.from_numpy(a))
    return model


def _n_out(scenario):
    return R if SCENARIOS[scenario]["loss"] == "mse_loss" else C


def _params(data, scenario):
    return [data[f"{scenario}:p{i}"] for i in range(4)]


# ------------------------------------------------------------------- the data ----

def make_data(rng):
    """Inputs, targets and initial weights of every scenario; a step's global batch is
    WORLD * ROWS rows, rank r taking rows [r * ROWS, (r + 1) * ROWS)."""
    n = WORLD * ROWS
    data = {}
    for name, sc in SCENARIOS.items():
        n_out = _n_out(name)
        shapes = [(H, D), (H,), (n_out, H), (n_out,)]
        for i, shape in enumerate(shapes):
            data[f"{name}:p{i}"] = 0.5 * rng.standard_normal(shape)
        data[f"{name}:x"] = rng.standard_normal((STEPS, n, D))
        if sc["loss"] == "mse_loss":
            data[f"{name}:t"] = rng.standard_normal((STEPS, n, R))
            continue
        t = rng.integers(0, C, (STEPS, n))
        if sc["ignored"]:
            for s in range(STEPS):
                for k, count in enumerate(sc["ignored"]):
                    pos = rng.choice(SEGMENT, count, replace=False)
                    t[s, k * SEGMENT + pos] = IGNORE
        data[f"{name}:t"] = t
    return data


# -------------------------------------------------------------------- workers ----

def _worker(data_path, result_path):
    """One rank: every scenario, STEPS SGD steps each; writes each step's gradients (after
    DDP's allreduce), loss and count, and the final weights."""
    import datetime
    from contextlib import nullcontext

    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    import fastloss.torch as FL

    torch.set_num_threads(1)
    # a first custom-op call imports torch._dynamo (seconds on a busy machine): before the
    # rendezvous, so that no collective waits for it
    FL.cross_entropy(torch.zeros(1, 2, requires_grad=True), torch.zeros(1, dtype=torch.long))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    dist.init_process_group("gloo", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    data = dict(np.load(data_path))
    out = {}
    for name, sc in SCENARIOS.items():
        model = DDP(_mlp(_params(data, name), _n_out(name)))
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        mine = slice(rank * ROWS, (rank + 1) * ROWS)
        for s in range(STEPS):
            x = torch.from_numpy(data[f"{name}:x"][s, mine])
            t = torch.from_numpy(data[f"{name}:t"][s, mine])
            chunks = list(zip(x.chunk(sc["micro"]), t.chunk(sc["micro"])))
            opt.zero_grad(set_to_none=True)
            if sc["recipe"] == "sum_global":
                # the non-ignored targets of this step over every rank and micro-batch
                count = (t != IGNORE).sum()
                dist.all_reduce(count)
                out[f"{name}:count{s}"] = count.numpy()
                global_count = count.item()
            local = 0.0         # this rank's loss of the step (over its micro-batches)
            for j, (xc, tc) in enumerate(chunks):
                last = j == len(chunks) - 1
                with (nullcontext() if last else model.no_sync()):
                    y = model(xc)
                    if sc["loss"] == "mse_loss":
                        loss = FL.mse_loss(y, tc)
                    elif sc["recipe"] == "mean":
                        loss = FL.cross_entropy(y, tc, ignore_index=IGNORE)
                    else:
                        loss = (FL.cross_entropy(y, tc, ignore_index=IGNORE, reduction="sum")
                                * world / global_count)
                    loss.backward()
                    local += loss.item()
            out[f"{name}:loss{s}"] = np.float64(local)
            if sc["recipe"] == "sum_global":
                # what to log: the global token mean, the same on every rank
                logged = torch.tensor(local, dtype=torch.float64)
                dist.all_reduce(logged)
                out[f"{name}:logged{s}"] = (logged / world).numpy()
            for i, p in enumerate(model.parameters()):
                out[f"{name}:g{s}:{i}"] = p.grad.detach().numpy().copy()
            opt.step()
        for i, p in enumerate(model.parameters()):
            out[f"{name}:w{i}"] = p.detach().numpy().copy()
    dist.destroy_process_group()
    np.savez(result_path + ".tmp.npz", **out)
    os.replace(result_path + ".tmp.npz", result_path)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker_env(rank, port):
    import fastloss

    env = dict(os.environ)
    # the same fastloss as this process (installed, or an in-place build)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(fastloss.__file__))]
        + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
               WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank), OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if os.path.exists("/sys/class/net/lo"):
        env["GLOO_SOCKET_IFNAME"] = "lo"     # gloo's pairs on loopback, not the hostname's
    return env


def _launch_once(tmp, data_path, port):
    """Both ranks; (results or None, logs, retry): retry when the port was taken."""
    procs, logs = [], []
    for rank in range(WORLD):
        log = open(os.path.join(tmp, f"rank{rank}.log"), "w+")
        res = os.path.join(tmp, f"rank{rank}.npz")
        if os.path.exists(res):
            os.remove(res)
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                              data_path, res], cwd=HERE, env=_worker_env(rank, port),
                             stdout=log, stderr=subprocess.STDOUT)
        procs.append((p, log, res))
    deadline = time.monotonic() + LAUNCH_TIMEOUT_S
    timed_out = False
    try:
        while any(p.poll() is None for p, _, _ in procs):
            if any(p.poll() not in (None, 0) for p, _, _ in procs):
                break           # one rank failed: the other would wait for it
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.05)
    finally:
        for p, log, _ in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    for p, log, _ in procs:
        log.seek(0)
        logs.append(f"--- rank {len(logs)}, exit {p.returncode} ---\n{log.read()[-4000:]}")
        log.close()
    if not timed_out and all(p.returncode == 0 for p, _, _ in procs):
        return [dict(np.load(res)) for _, _, res in procs], logs, False
    text = "\n".join(logs).lower()
    retry = not timed_out and ("address already in use" in text or "eaddrinuse" in text)
    if timed_out:
        logs.append(f"timed out after {LAUNCH_TIMEOUT_S} s")
    return None, logs, retry


def launch(tmp, data):
    data_path = os.path.join(tmp, "data.npz")
    np.savez(data_path, **data)
    for _ in range(3):      # a port picked free can be taken before rank 0 binds it
        results, logs, retry = _launch_once(tmp, data_path, _free_port())
        if results is not None:
            return results
        if not retry:
            break
    pytest.fail("the DDP workers failed:\n" + "\n".join(logs))


# --------------------------------------------------------- the single process ----

def reference(data, name, mode):
    """One process, the whole batch, torch.nn.functional: each step's gradients, the
    final weights and each step's loss.  mode "global": the mean over the whole batch
    (PyTorch's mean over the non-ignored targets); "rank_mean": the average over the
    ranks of each rank's mean."""
    F = torch.nn.functional
    sc = SCENARIOS[name]
    model = _mlp(_params(data, name), _n_out(name))
    opt = torch.optim.SGD(model.parameters(), lr=LR)

    def loss_of(y, t):
        if sc["loss"] == "mse_loss":
            return F.mse_loss(y, t)
        return F.cross_entropy(y, t, ignore_index=IGNORE)

    grads, losses = [], []
    for s in range(STEPS):
        x = torch.from_numpy(data[f"{name}:x"][s])
        t = torch.from_numpy(data[f"{name}:t"][s])
        opt.zero_grad(set_to_none=True)
        y = model(x)
        if mode == "global":
            loss = loss_of(y, t)
        else:
            loss = sum(loss_of(y[r * ROWS:(r + 1) * ROWS], t[r * ROWS:(r + 1) * ROWS])
                       for r in range(WORLD)) / WORLD
        loss.backward()
        grads.append([p.grad.numpy().copy() for p in model.parameters()])
        losses.append(loss.item())
        opt.step()
    return grads, [p.detach().numpy().copy() for p in model.parameters()], losses


# ---------------------------------------------------------------------- tests ----

@pytest.fixture(scope="module")
def ddp(tmp_path_factory):
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_gloo_available()):
        pytest.skip("torch.distributed with the gloo backend is not available")
    import fastloss.torch  # noqa: F401  (fails here, not in two workers, if it is broken)
    from conftest import SEED

    # the rng fixture's convention (conftest.py), for a module-scoped fixture
    rng = np.random.default_rng([SEED, zlib.crc32(b"tests/test_ddp.py::ddp")])
    data = make_data(rng)
    return data, launch(str(tmp_path_factory.mktemp("ddp")), data)


RTOL, ATOL = 1e-10, 1e-13     # float64; the allreduce only reorders a sum of two


def _assert_ranks_match(results, name, grads, weights):
    for rank, res in enumerate(results):
        for s in range(STEPS):
            for i, g in enumerate(grads[s]):
                np.testing.assert_allclose(res[f"{name}:g{s}:{i}"], g, rtol=RTOL, atol=ATOL,
                                           err_msg=f"{name}: rank {rank}, step {s}, grad {i}")
        for i, w in enumerate(weights):
            np.testing.assert_allclose(res[f"{name}:w{i}"], w, rtol=RTOL, atol=ATOL,
                                       err_msg=f"{name}: rank {rank}, final weight {i}")


def _rel_diff(a, b):
    a = np.concatenate([g.ravel() for g in a])
    b = np.concatenate([g.ravel() for g in b])
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_ddp_matches_single_process(ddp, name):
    """Each scenario's gradients (every step, both ranks) and final weights are those of
    the single-process computation it must reproduce (SCENARIOS[name]["expect"])."""
    data, results = ddp
    grads, weights, _ = reference(data, name, SCENARIOS[name]["expect"])
    _assert_ranks_match(results, name, grads, weights)


def test_rank_mean_differs_from_the_global_token_mean(ddp):
    """With ignore_index and unequal valid-token counts per rank, DDP over reduction="mean"
    is not the global token mean (the case above proves what it is); the sum over the
    global count on the same kind of data is (test_ddp_matches_single_process)."""
    data, results = ddp
    name = "ce_ignore_mean"
    valid = [(data[f"{name}:t"][:, r * ROWS:(r + 1) * ROWS] != IGNORE).sum(axis=1)
             for r in range(WORLD)]
    assert all((valid[0] != valid[1]).tolist()), valid     # the premise: unequal counts
    g_global, w_global, _ = reference(data, name, "global")
    for s in range(STEPS):
        got = [results[0][f"{name}:g{s}:{i}"] for i in range(4)]
        assert _rel_diff(got, g_global[s]) > 0.05, f"step {s}"
    got = [results[0][f"{name}:w{i}"] for i in range(4)]
    assert _rel_diff(got, w_global) > 1e-3


def test_rank_without_valid_target(ddp):
    """reduction="mean" on a rank whose targets are all ignored: its loss is NaN (as
    PyTorch's), its gradient zero, and DDP's average still divides by the world size
    (test_ddp_matches_single_process: the average of the rank means); nothing NaN
    reaches the weights."""
    data, results = ddp
    name = "ce_rank_without_valid_target_mean"
    assert (data[f"{name}:t"][:, ROWS:] == IGNORE).all()
    for s in range(STEPS):
        assert np.isfinite(results[0][f"{name}:loss{s}"])
        assert np.isnan(results[1][f"{name}:loss{s}"])
    for res in results:
        assert all(np.isfinite(v).all() for k, v in res.items()
                   if k.startswith(f"{name}:g") or k.startswith(f"{name}:w"))


@pytest.mark.parametrize("name", ["ce_ignore_sum_global_count",
                                  "ce_ignore_accumulation_sum_global_count"])
def test_global_count_and_logged_mean(ddp, name):
    """The count the recipe divides by is every rank's (and micro-batch's) non-ignored
    targets (14 on rank 0 and 3 on rank 1 a step); the all-reduced loss over the world
    size is the global token mean, on every rank."""
    data, results = ddp
    expected = [(data[f"{name}:t"][s] != IGNORE).sum() for s in range(STEPS)]
    assert expected == [WORLD * ROWS - sum(UNEQUAL)] * STEPS
    _, _, means = reference(data, name, "global")
    for res in results:
        assert [int(res[f"{name}:count{s}"]) for s in range(STEPS)] == expected
        np.testing.assert_allclose([res[f"{name}:logged{s}"] for s in range(STEPS)], means,
                                   rtol=1e-12)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"usage: {sys.argv[0]} --worker DATA RESULT (run by pytest)")
