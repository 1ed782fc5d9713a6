"""fastloss.multitask: weighted sums of task losses and gradients, uncertainty weighting
(Kendall et al. 2018) and dynamic weight average (Liu et al. 2019), against hand-written
NumPy formulas, finite differences and (where installed) PyTorch autograd."""
import copy
import math
import os
import subprocess
import sys
import warnings
from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import fastloss as fl
from fastloss import multitask as mt


def _tasks(rng, k, shape=(4, 3), dtype=np.float64):
    """k random (value, array grad) pairs, values as NumPy scalars of `dtype`."""
    return [(dtype(rng.uniform(0.1, 3.0)), rng.standard_normal(shape).astype(dtype))
            for _ in range(k)]


def _snapshot(tree):
    return copy.deepcopy(tree)


def _assert_tree_equal(a, b):
    assert type(a) is type(b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_tree_equal(a[k], b[k])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_tree_equal(x, y)
    elif a is None:
        assert b is None
    else:
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------- weighted_sum

def test_weighted_sum_arrays_match_numpy(rng):
    tasks = _tasks(rng, 4)
    w = rng.uniform(0.0, 2.0, 4)
    before = _snapshot(tasks)
    total, grad = mt.weighted_sum(tasks, w)
    values = np.array([float(v) for v, _ in tasks])
    stack = np.stack([g for _, g in tasks])
    assert type(total) is float
    assert total == pytest.approx(float(np.dot(w, values)), rel=1e-14)
    np.testing.assert_allclose(grad, np.tensordot(w, stack, axes=1), rtol=1e-13, atol=1e-15)
    assert grad.shape == (4, 3) and grad.dtype == np.float64
    for (v0, g0), (v1, g1) in zip(before, tasks):     # inputs untouched
        assert v0 == v1
        np.testing.assert_array_equal(g0, g1)
    assert all(grad is not g for _, g in tasks)


def test_weighted_sum_tuple_and_list_grads(rng):
    w = [0.3, 1.7, 0.0]
    for container in (tuple, list):
        tasks = [(rng.uniform(), container([rng.standard_normal((5,)),
                                            rng.standard_normal((2, 3))]))
                 for _ in range(3)]
        total, grad = mt.weighted_sum(tasks, w)
        assert type(grad) is container and len(grad) == 2
        for j, shape in enumerate([(5,), (2, 3)]):
            expect = sum(w[i] * tasks[i][1][j] for i in range(3))
            assert grad[j].shape == shape
            np.testing.assert_allclose(grad[j], expect, rtol=1e-14, atol=1e-15)
        assert total == pytest.approx(sum(w[i] * tasks[i][0] for i in range(3)), rel=1e-14)


def test_weighted_sum_namedtuple_and_nested(rng):
    Pair = namedtuple("Pair", "weight bias")
    tasks = [(1.0, {"layer": Pair(rng.standard_normal(3), rng.standard_normal(1)),
                    "head": [rng.standard_normal(2)]}) for _ in range(2)]
    _, grad = mt.weighted_sum(tasks, [2.0, 0.5])
    assert isinstance(grad["layer"], Pair) and isinstance(grad["head"], list)
    np.testing.assert_allclose(grad["layer"].bias,
                               2.0 * tasks[0][1]["layer"].bias + 0.5 * tasks[1][1]["layer"].bias)
    np.testing.assert_allclose(grad["head"][0],
                               2.0 * tasks[0][1]["head"][0] + 0.5 * tasks[1][1]["head"][0])


def test_weighted_sum_dict_grads_and_dict_tasks(rng):
    def params():
        return {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    tasks = {"depth": (0.7, params()), "seg": (1.9, params()), "normal": (0.2, params())}
    wd = {"seg": 0.25, "normal": 3.0, "depth": 1.5}          # keys in another order
    total, grad = mt.weighted_sum(tasks, wd)
    assert list(grad) == ["w", "b"]
    for key in ("w", "b"):
        expect = sum(wd[t] * tasks[t][1][key] for t in tasks)
        np.testing.assert_allclose(grad[key], expect, rtol=1e-14, atol=1e-15)
    assert total == pytest.approx(1.5 * 0.7 + 0.25 * 1.9 + 3.0 * 0.2, rel=1e-14)
    # a sequence of weights in the dict's order gives the same
    total2, grad2 = mt.weighted_sum(tasks, [wd[t] for t in tasks])
    assert total2 == total
    _assert_tree_equal(grad2, grad)
    # an OrderedDict comes back as one
    od = {t: (v, OrderedDict(g)) for t, (v, g) in tasks.items()}
    assert type(mt.weighted_sum(od, wd)[1]) is OrderedDict


def test_weighted_sum_none_leaves_are_zero(rng):
    a, b, c = (rng.standard_normal(4) for _ in range(3))
    tasks = [(1.0, {"shared": a, "head1": b, "head2": None}),
             (2.0, {"shared": c, "head1": None, "head2": None}),
             (3.0, None)]                         # a task that touches no parameter
    total, grad = mt.weighted_sum(tasks, [0.5, 2.0, 1.0])
    np.testing.assert_allclose(grad["shared"], 0.5 * a + 2.0 * c, rtol=1e-15)
    np.testing.assert_allclose(grad["head1"], 0.5 * b, rtol=1e-15)
    assert grad["head2"] is None                  # None in every task stays None
    assert total == pytest.approx(0.5 + 4.0 + 3.0)
    # the None may come first
    _, g = mt.weighted_sum([(0.0, (None, a)), (0.0, (b, c))], [1.0, 3.0])
    np.testing.assert_allclose(g[0], 3.0 * b)
    np.testing.assert_allclose(g[1], a + 3.0 * c)


def test_weighted_sum_float32_stays_float32(rng):
    tasks = _tasks(rng, 3, dtype=np.float32)
    w = np.array([0.1, 0.7, 2.3])                 # float64 weights must not promote
    total, grad = mt.weighted_sum(tasks, w)
    assert grad.dtype == np.float32
    assert type(total) is float
    expect = sum(float(w[i]) * float(tasks[i][0]) for i in range(3))   # float64 sum
    assert total == pytest.approx(expect, rel=1e-15)
    ref = sum(w[i] * tasks[i][1].astype(np.float64) for i in range(3))
    np.testing.assert_allclose(grad, ref, rtol=1e-6, atol=1e-6)
    _, g = mt.weighted_sum([(1.0, (t[1],)) for t in tasks], [np.float64(0.5)] * 3)
    assert g[0].dtype == np.float32


def test_weighted_sum_torch_tensors_stay_tensors():
    torch = pytest.importorskip("torch")
    g1 = torch.randn(3, 2, dtype=torch.float32)
    g2 = torch.randn(3, 2, dtype=torch.float32)
    total, grad = mt.weighted_sum([(torch.tensor(0.5), g1), (torch.tensor(2.0), g2)],
                                  [2.0, 0.25])
    assert isinstance(grad, torch.Tensor) and grad.dtype == torch.float32
    assert type(total) is float and total == pytest.approx(1.5)
    np.testing.assert_allclose(grad.numpy(), 2.0 * g1.numpy() + 0.25 * g2.numpy(),
                               rtol=1e-6)


def test_weighted_sum_of_real_losses_matches_finite_differences(rng):
    x = rng.standard_normal(7)
    t = x + rng.choice([-1.0, 1.0], 7) * rng.uniform(0.2, 1.0, 7)   # |x - t| >= 0.2
    w1, w2 = rng.uniform(0.1, 2.0, 2)
    total, grad = mt.weighted_sum([fl.mse_loss.value_and_grad(x, t),
                                   fl.l1_loss.value_and_grad(x, t)], [w1, w2])

    def f(z):                                   # w1 * mse + w2 * l1, written out
        return w1 * np.mean((z - t) ** 2) + w2 * np.mean(np.abs(z - t))

    assert total == pytest.approx(f(x), rel=1e-13)
    h = 1e-6
    fd = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        fd[i] = (f(x + e) - f(x - e)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("tasks, where", [
    ([(1.0, np.zeros(2)), (1.0, (np.zeros(2),))], "task 1"),
    ([(1.0, (np.zeros(2), np.zeros(1))), (1.0, (np.zeros(2),))], "task 1"),
    ([(1.0, {"a": np.zeros(2)}), (1.0, (np.zeros(2),))], "task 1"),
    ([(1.0, {"a": np.zeros(2)}), (1.0, {"b": np.zeros(2)})], "task 1"),
    ([(1.0, {"a": np.zeros(2)}), (1.0, {"a": np.zeros(2), "b": None})], "task 1"),
    ([(1.0, np.zeros(2)), (1.0, np.zeros(2)), (1.0, np.zeros(3))], "task 2"),
    ([(1.0, np.zeros(2)), (1.0, np.zeros((1, 2)))], "task 1"),        # no broadcasting
    ([(1.0, [{"a": np.zeros(2)}]), (1.0, [{"a": np.zeros((2, 2))}])], r"grad\[0\]\['a'\]"),
])
def test_weighted_sum_mismatched_structure_raises(tasks, where):
    with pytest.raises(ValueError, match="^values_and_grads") as info:
        mt.weighted_sum(tasks, [1.0] * len(tasks))
    assert info.match(where)


def test_weighted_sum_mismatch_names_the_task():
    tasks = {"depth": (1.0, {"w": np.zeros(2)}), "seg": (1.0, [np.zeros(2)])}
    with pytest.raises(ValueError, match="values_and_grads.*'seg'"):
        mt.weighted_sum(tasks, {"depth": 1.0, "seg": 1.0})


@pytest.mark.parametrize("weights", [
    [1.0, -0.5], [1.0, np.nan], [np.inf, 1.0], [-np.inf, 1.0], [1.0], [1.0, 2.0, 3.0], [],
    np.ones((2, 1)),
])
def test_weighted_sum_bad_weights_raise(weights):
    tasks = [(1.0, np.zeros(2)), (2.0, np.ones(2))]
    with pytest.raises(ValueError, match="^weights"):
        mt.weighted_sum(tasks, weights)


def test_weighted_sum_bad_weight_types_and_keys_raise():
    tasks = [(1.0, np.zeros(2)), (2.0, np.ones(2))]
    for weights in (1.0, "ab", [1.0, "x"], [1.0, None], [1.0, 1j], {0: 1.0, 1: 1.0}):
        with pytest.raises(TypeError, match="^weights"):
            mt.weighted_sum(tasks, weights)
    named = {"a": (1.0, np.zeros(2)), "b": (2.0, np.ones(2))}
    for weights in ({"a": 1.0}, {"a": 1.0, "c": 1.0}, {"a": 1.0, "b": 1.0, "c": 1.0},
                    {"a": 1.0, "b": -1.0}, {"a": float("nan"), "b": 1.0}):
        with pytest.raises(ValueError, match="^weights"):
            mt.weighted_sum(named, weights)


def test_weighted_sum_bad_values_and_grads_raise():
    g = np.zeros(2)
    with pytest.raises(ValueError, match="^values_and_grads: no tasks"):
        mt.weighted_sum([], [])
    with pytest.raises(TypeError, match="^values_and_grads.*task 1.*pair"):
        mt.weighted_sum([(1.0, g), (1.0, g, g)], [1.0, 1.0])
    with pytest.raises(TypeError, match="^values_and_grads.*pair"):
        mt.weighted_sum((1.0, g), [1.0, 1.0])           # one pair, not a list of pairs
    with pytest.raises(ValueError, match="^values_and_grads.*task 0.*scalar"):
        mt.weighted_sum([(np.ones(3), g)], [1.0])       # reduction="none" values
    with pytest.raises(TypeError, match="^values_and_grads.*task 0"):
        mt.weighted_sum([("1.0", g)], [1.0])
    with pytest.raises(TypeError, match="^values_and_grads"):
        mt.weighted_sum(3.0, [1.0])
    with pytest.raises(TypeError, match="^values_and_grads.*task 1"):
        mt.weighted_sum([(1.0, g), (1.0, "grad")], [1.0, 1.0])


def test_weighted_sum_nan_value_propagates():
    total, _ = mt.weighted_sum([(float("nan"), np.zeros(1)), (1.0, np.zeros(1))], [1.0, 1.0])
    assert math.isnan(total)


# ------------------------------------------------------------ UncertaintyWeighting

def _uw_total(s, L):
    """Kendall et al.'s objective as implemented: sum_i exp(-s_i) L_i + s_i, written out."""
    return sum(math.exp(-si) * Li + si for si, Li in zip(s, L))


def test_uncertainty_value_matches_formula(rng):
    s = rng.uniform(-2, 2, 4)
    L = rng.uniform(0.05, 5.0, 4)
    uw = mt.UncertaintyWeighting(4, init_log_var=s)
    total, w, g = uw.value_and_grad(L)
    assert type(total) is float
    assert total == pytest.approx(_uw_total(s, L), rel=1e-14)
    assert uw(L) == total
    assert w.dtype == np.float64 and w.shape == (4,) and g.shape == (4,)


def test_uncertainty_grad_log_vars_matches_finite_differences(rng):
    s = rng.uniform(-3, 3, 5)
    L = rng.uniform(0.01, 10.0, 5)
    uw = mt.UncertaintyWeighting(5, init_log_var=s)
    _, _, g = uw.value_and_grad(L)
    h = 1e-6
    for i in range(5):
        sp, sm = s.copy(), s.copy()
        sp[i] += h
        sm[i] -= h
        fd = (_uw_total(sp, L) - _uw_total(sm, L)) / (2 * h)
        assert g[i] == pytest.approx(fd, rel=1e-6, abs=1e-7)


def test_uncertainty_weights_match_finite_differences_in_losses(rng):
    s = rng.uniform(-3, 3, 5)
    L = rng.uniform(0.01, 10.0, 5)
    uw = mt.UncertaintyWeighting(5, init_log_var=s)
    _, w, _ = uw.value_and_grad(L)
    h = 1e-6
    for i in range(5):
        Lp, Lm = L.copy(), L.copy()
        Lp[i] += h
        Lm[i] -= h
        fd = (_uw_total(s, Lp) - _uw_total(s, Lm)) / (2 * h)
        assert w[i] == pytest.approx(fd, rel=1e-6)


def test_uncertainty_gradient_descent_converges_to_log_loss():
    L = np.array([0.1, 1.0, 5.0, 20.0])
    uw = mt.UncertaintyWeighting(4)
    for _ in range(600):
        uw.log_vars -= 0.1 * uw.value_and_grad(L)[2]
    np.testing.assert_allclose(uw.log_vars, np.log(L), atol=1e-8)
    _, w, g = uw.value_and_grad(L)
    np.testing.assert_allclose(w, 1.0 / L, rtol=1e-7)
    np.testing.assert_allclose(g, 0.0, atol=1e-8)
    assert np.all(np.diff(w) < 0)          # higher loss -> higher variance -> lower weight


def test_uncertainty_noisier_task_gets_smaller_weight(rng):
    """Two linear regressions trained jointly with learned weights: s_i tends to the log of
    each task's mean squared residual, i.e. log sigma_i^2 of its noise."""
    n = 4000
    x = rng.standard_normal(n)
    sigma = {"clean": 0.1, "noisy": 1.0}
    y = {"clean": 2.0 * x + sigma["clean"] * rng.standard_normal(n),
         "noisy": -1.0 * x + sigma["noisy"] * rng.standard_normal(n)}
    theta = {"clean": 0.0, "noisy": 0.0}
    uw = mt.UncertaintyWeighting(2)
    for _ in range(3000):
        tasks = {}
        for k in theta:
            v, d_pred = fl.mse_loss.value_and_grad(theta[k] * x, y[k])
            grad = {j: None for j in theta}          # a task touches only its parameter
            grad[k] = np.array([np.dot(d_pred, x)])
            tasks[k] = (v, grad)
        _, grads, g_s = uw.combine(tasks)
        for k in theta:
            theta[k] -= 0.004 * grads[k][0]
        uw.log_vars -= 0.05 * g_s
    final = [np.mean((theta[k] * x - y[k]) ** 2) for k in ("clean", "noisy")]
    np.testing.assert_allclose(uw.log_vars, np.log(final), atol=1e-6)
    np.testing.assert_allclose(np.exp(uw.log_vars), [0.01, 1.0], rtol=0.15)
    w = uw.value_and_grad(final)[1]
    assert w[1] < w[0] / 10                   # the noisy task gets the small weight


def test_uncertainty_combine_matches_hand_computation(rng):
    s = rng.uniform(-1, 1, 3)
    uw = mt.UncertaintyWeighting(3, init_log_var=list(s))
    tasks = [(rng.uniform(0.1, 2), {"w": rng.standard_normal(4), "b": rng.standard_normal(1)})
             for _ in range(3)]
    total, grads, g_s = uw.combine(tasks)
    L = np.array([v for v, _ in tasks])
    assert total == pytest.approx(_uw_total(s, L), rel=1e-14)
    for key in ("w", "b"):
        expect = sum(math.exp(-s[i]) * tasks[i][1][key] for i in range(3))
        np.testing.assert_allclose(grads[key], expect, rtol=1e-14)
    np.testing.assert_allclose(g_s, [1 - math.exp(-s[i]) * L[i] for i in range(3)],
                               rtol=1e-13, atol=1e-15)
    named = {f"t{i}": tasks[i] for i in range(3)}
    total2, grads2, g_s2 = uw.combine(named)
    assert total2 == total
    _assert_tree_equal(grads2, grads)
    np.testing.assert_array_equal(g_s2, g_s)


def test_uncertainty_paper_forms_from_the_implemented_one(rng):
    """The docstring's recipes: 0.5 * total is the paper's regression form
    (exp(-s) L + s) / 2 = L / (2 sigma^2) + log sigma, and 0.5 * total at 2 L is its
    classification form exp(-s) L + s / 2 = L / sigma^2 + log sigma."""
    sigma = rng.uniform(0.2, 3.0, 3)
    L = rng.uniform(0.1, 4.0, 3)
    uw = mt.UncertaintyWeighting(3, init_log_var=np.log(sigma ** 2))
    regression = sum(L / (2 * sigma ** 2) + np.log(sigma))
    classification = sum(L / sigma ** 2 + np.log(sigma))
    assert 0.5 * uw(L) == pytest.approx(regression, rel=1e-13)
    assert 0.5 * uw(2 * L) == pytest.approx(classification, rel=1e-13)


def test_uncertainty_matches_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    s0 = rng.uniform(-2, 2, 4)
    L0 = rng.uniform(0.05, 5.0, 4)
    s = torch.tensor(s0, dtype=torch.float64, requires_grad=True)
    L = torch.tensor(L0, dtype=torch.float64, requires_grad=True)
    total = (torch.exp(-s) * L + s).sum()
    total.backward()
    uw = mt.UncertaintyWeighting(4, init_log_var=s0)
    v, w, g = uw.value_and_grad(L0)
    assert v == pytest.approx(total.item(), rel=1e-14)
    np.testing.assert_allclose(g, s.grad.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(w, L.grad.numpy(), rtol=1e-13)
    # losses given as 0-d tensors
    assert uw([torch.tensor(x) for x in L0]) == pytest.approx(v, rel=1e-15)


def test_uncertainty_init_and_log_vars():
    uw = mt.UncertaintyWeighting(3)
    assert uw.log_vars.dtype == np.float64 and uw.log_vars.shape == (3,)
    np.testing.assert_array_equal(uw.log_vars, 0.0)
    np.testing.assert_array_equal(mt.UncertaintyWeighting(2, 0.5).log_vars, [0.5, 0.5])
    np.testing.assert_array_equal(mt.UncertaintyWeighting(2, (1, -1)).log_vars, [1.0, -1.0])
    uw.log_vars = [1.0, 2.0, 3.0]
    assert uw.log_vars.dtype == np.float64
    np.testing.assert_allclose(uw.value_and_grad([1.0, 1.0, 1.0])[1], np.exp(-np.arange(1, 4)))
    with pytest.raises(ValueError, match="^log_vars"):
        uw.log_vars = [1.0, 2.0]
    uw.log_vars[1] = np.nan                       # e.g. a diverged optimizer step
    with pytest.raises(ValueError, match="^log_vars"):
        uw([1.0, 1.0, 1.0])


@pytest.mark.parametrize("n_tasks, error", [(0, ValueError), (-2, ValueError),
                                            (2.5, TypeError), (True, TypeError),
                                            ("3", TypeError), (None, TypeError)])
def test_uncertainty_bad_n_tasks_raises(n_tasks, error):
    with pytest.raises(error, match="^n_tasks"):
        mt.UncertaintyWeighting(n_tasks)
    with pytest.raises(error, match="^n_tasks"):
        mt.DynamicWeightAverage(n_tasks)


def test_uncertainty_bad_input_raises():
    for init in ([0.0, 1.0], [0.0, 1.0, 2.0, 3.0], float("nan"), [0.0, float("inf"), 0.0]):
        with pytest.raises(ValueError, match="^init_log_var"):
            mt.UncertaintyWeighting(3, init_log_var=init)
    with pytest.raises(TypeError, match="^init_log_var"):
        mt.UncertaintyWeighting(3, init_log_var="zero")
    uw = mt.UncertaintyWeighting(3)
    for losses in ([1.0, 2.0], [1.0, 2.0, 3.0, 4.0], np.ones((3, 1))):
        with pytest.raises(ValueError, match="^losses"):
            uw.value_and_grad(losses)
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="^losses.*task 1"):
            uw([1.0, bad, 2.0])
    with pytest.raises(TypeError, match="^losses"):
        uw(1.0)
    with pytest.raises(TypeError, match="^losses"):
        uw([1.0, None, 2.0])
    with pytest.raises(ValueError, match="^values_and_grads: expected 3 tasks, got 2"):
        uw.combine([(1.0, np.zeros(1))] * 2)
    with pytest.raises(ValueError, match="^values_and_grads.*task 2"):
        uw.combine([(1.0, np.zeros(1)), (1.0, np.zeros(1)), (np.nan, np.zeros(1))])


def test_uncertainty_state_dict_round_trip():
    uw = mt.UncertaintyWeighting(3, init_log_var=[0.1, -0.2, 0.3])
    state = uw.state_dict()
    uw.log_vars -= 1.0                          # the state is a copy
    np.testing.assert_array_equal(state["log_vars"], [0.1, -0.2, 0.3])
    other = mt.UncertaintyWeighting(3)
    arr = other.log_vars
    other.load_state_dict(state)
    assert other.log_vars is arr               # restored in place
    np.testing.assert_array_equal(other.log_vars, [0.1, -0.2, 0.3])
    assert other([1.0, 2.0, 3.0]) == pytest.approx(_uw_total([0.1, -0.2, 0.3], [1, 2, 3]))
    with pytest.raises(ValueError, match="^state_dict"):
        mt.UncertaintyWeighting(2).load_state_dict(state)
    with pytest.raises(ValueError, match="^state_dict"):
        other.load_state_dict({"n_tasks": 3})
    with pytest.raises(ValueError, match="^state_dict"):
        other.load_state_dict({"n_tasks": 3, "log_vars": [0.0, np.nan, 0.0]})


# ------------------------------------------------------------ DynamicWeightAverage

def _dwa(prev2, prev1, T):
    """Liu et al.'s weights, written out: K exp(r_k / T) / sum_j exp(r_j / T)."""
    r = [a / b for a, b in zip(prev1, prev2)]
    e = [math.exp(x / T) for x in r]
    return [len(r) * x / sum(e) for x in e]


def test_dwa_first_two_epochs_are_equal_weights():
    dwa = mt.DynamicWeightAverage(3)
    np.testing.assert_array_equal(dwa.weights, [1.0, 1.0, 1.0])
    assert dwa.weights.dtype == np.float64
    dwa.update([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(dwa.weights, [1.0, 1.0, 1.0])
    dwa.update([0.5, 2.0, 3.3])
    assert not np.allclose(dwa.weights, 1.0)


def test_dwa_weights_match_formula():
    dwa = mt.DynamicWeightAverage(3, temperature=2.0)
    dwa.update([9.0, 9.0, 9.0])                 # older epochs do not matter
    dwa.update([2.0, 1.0, 4.0])
    dwa.update([1.0, 0.9, 4.4])
    expect = _dwa([2.0, 1.0, 4.0], [1.0, 0.9, 4.4], 2.0)
    np.testing.assert_allclose(dwa.weights, expect, rtol=1e-14)
    dwa5 = mt.DynamicWeightAverage(3, temperature=0.5)
    dwa5.update([2.0, 1.0, 4.0])
    dwa5.update([1.0, 0.9, 4.4])
    np.testing.assert_allclose(dwa5.weights, _dwa([2.0, 1.0, 4.0], [1.0, 0.9, 4.4], 0.5),
                               rtol=1e-14)


def test_dwa_stalled_task_gets_larger_weight():
    epochs = 8
    fast = [1.0 * 0.5 ** e for e in range(epochs)]         # task A halves every epoch
    stall = [1.0 * 0.99 ** e for e in range(epochs)]       # task B barely moves
    dwa = mt.DynamicWeightAverage(2)
    for e in range(epochs):
        dwa.update([fast[e], stall[e]])
        if e >= 1:
            w = dwa.weights
            assert w[1] > w[0]
            assert w.sum() == pytest.approx(2.0, rel=1e-15)


def test_dwa_weights_sum_to_k(rng):
    for k in (1, 2, 5, 11):
        dwa = mt.DynamicWeightAverage(k, temperature=rng.uniform(0.1, 5.0))
        for _ in range(4):
            dwa.update(rng.uniform(0.01, 10.0, k))
            assert dwa.weights.sum() == pytest.approx(k, rel=1e-14)
            # a softmax: non-negative; a weight may underflow to exactly 0 when its
            # loss ratio / temperature is hundreds below the largest
            assert np.all(np.isfinite(dwa.weights)) and np.all(dwa.weights >= 0)


def test_dwa_temperature_limits():
    prev2, prev1 = [1.0, 1.0, 1.0], [0.2, 1.0, 3.0]        # ratios 0.2, 1, 3
    hot = mt.DynamicWeightAverage(3, temperature=1e6)
    hot.update(prev2)
    hot.update(prev1)
    np.testing.assert_allclose(hot.weights, 1.0, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # no overflow, no 0 / 0
        cold = mt.DynamicWeightAverage(3, temperature=1e-3)   # r / T up to 3000
        cold.update(prev2)
        cold.update(prev1)
        w = cold.weights
    assert np.all(np.isfinite(w))
    assert w[2] == pytest.approx(3.0, rel=1e-12) and w[0] < 1e-12 and w[1] < 1e-12
    mild = mt.DynamicWeightAverage(3, temperature=1.0)
    mild.update(prev2)
    mild.update(prev1)
    assert cold.weights.max() > mild.weights.max() > hot.weights.max()


def test_dwa_call_and_combine(rng):
    dwa = mt.DynamicWeightAverage(3)
    dwa.update([1.0, 1.0, 1.0])
    dwa.update([0.5, 1.0, 0.8])
    w = _dwa([1.0, 1.0, 1.0], [0.5, 1.0, 0.8], 2.0)
    L = rng.uniform(0.1, 2.0, 3)
    assert dwa(L) == pytest.approx(sum(w[i] * L[i] for i in range(3)), rel=1e-14)
    tasks = [(L[i], (rng.standard_normal(3), None)) for i in range(3)]
    total, grad = dwa.combine(tasks)
    assert total == pytest.approx(sum(w[i] * L[i] for i in range(3)), rel=1e-14)
    # a sum of terms of both signs: its rounding is relative to the terms, not the result
    terms = np.array([w[i] * tasks[i][1][0] for i in range(3)])
    np.testing.assert_allclose(grad[0], terms.sum(axis=0), rtol=1e-14,
                               atol=4e-16 * np.abs(terms).sum(axis=0).max())
    assert grad[1] is None
    with pytest.raises(ValueError, match="^values_and_grads.*3 tasks"):
        dwa.combine(tasks[:2])


def test_dwa_history_is_a_copy():
    dwa = mt.DynamicWeightAverage(2)
    losses = np.array([1.0, 2.0])
    dwa.update(losses)
    losses[0] = 100.0
    h = dwa.history
    assert len(h) == 1 and h[0].dtype == np.float64
    np.testing.assert_array_equal(h[0], [1.0, 2.0])
    h[0][1] = -5.0
    np.testing.assert_array_equal(dwa.history[0], [1.0, 2.0])


def test_dwa_state_dict_round_trip():
    dwa = mt.DynamicWeightAverage(2, temperature=1.5)
    for L in ([1.0, 1.0], [0.6, 0.9], [0.4, 0.85]):
        dwa.update(L)
    state = dwa.state_dict()
    other = mt.DynamicWeightAverage(2)
    other.load_state_dict(state)
    assert other.temperature == 1.5
    np.testing.assert_array_equal(other.weights, dwa.weights)
    np.testing.assert_allclose(other.weights, _dwa([0.6, 0.9], [0.4, 0.85], 1.5), rtol=1e-14)
    assert len(other.history) == 3
    empty = mt.DynamicWeightAverage(2).state_dict()
    assert empty["history"].shape == (0, 2)
    other.load_state_dict(empty)
    np.testing.assert_array_equal(other.weights, [1.0, 1.0])
    with pytest.raises(ValueError, match="^state_dict"):
        mt.DynamicWeightAverage(3).load_state_dict(state)
    with pytest.raises(ValueError, match="^state_dict"):
        other.load_state_dict({"n_tasks": 2, "temperature": 2.0, "history": [[1.0, 0.0]]})
    with pytest.raises(ValueError, match="^state_dict"):
        other.load_state_dict({"n_tasks": 2, "temperature": 0.0, "history": [[1.0, 1.0]]})


def test_dwa_bad_input_raises():
    for T in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="^temperature"):
            mt.DynamicWeightAverage(2, temperature=T)
    for T in ("2", None, [2.0]):
        with pytest.raises((TypeError, ValueError), match="^temperature"):
            mt.DynamicWeightAverage(2, temperature=T)
    dwa = mt.DynamicWeightAverage(3)
    for losses in ([1.0, 0.0, 1.0], [1.0, -2.0, 1.0], [1.0, np.nan, 1.0], [1.0, np.inf, 1.0]):
        with pytest.raises(ValueError, match="^epoch_losses.*task 1"):
            dwa.update(losses)
    for losses in ([1.0, 1.0], [1.0] * 4, np.ones((3, 1))):
        with pytest.raises(ValueError, match="^epoch_losses"):
            dwa.update(losses)
    with pytest.raises(TypeError, match="^epoch_losses"):
        dwa.update(1.0)
    assert dwa.history == []                     # nothing recorded by a failed update
    with pytest.raises(ValueError, match="^losses"):
        dwa([1.0, 2.0])
    with pytest.raises(ValueError, match="^losses.*task 0"):
        dwa([np.nan, 2.0, 1.0])


def test_importing_multitask_is_light():
    code = ("import sys, fastloss.multitask; "
            "print(sorted(m for m in ('torch', 'numba', 'cupy', 'scipy') if m in sys.modules))")
    root = os.path.dirname(os.path.dirname(fl.__file__))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [root] + os.environ.get("PYTHONPATH", "").split(os.pathsep))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, cwd=os.path.dirname(__file__)).stdout
    assert out.strip() == "[]"
