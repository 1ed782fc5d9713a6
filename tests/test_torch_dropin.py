"""fastloss.torch, the PyTorch drop-in: functions and nn.Modules against torch.nn.functional
and torch.nn (values and every gradient through autograd, every case and reduction),
signatures, gradcheck, opcheck, torch.compile, dtypes, layouts, the zero-copy path,
errors, and a short training run that must end with PyTorch's weights."""
import inspect
import itertools
import pickle
import warnings

import numpy as np
import pytest

import fastloss as fl
from fastloss._registry import LOSSES, TABLE

from cases import CASES, SMALL
from test_losses import assert_close

torch = pytest.importorskip("torch")
F = torch.nn.functional
FT = pytest.importorskip("fastloss.torch")

DTYPES = (np.float32, np.float64)
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)

TORCH_NAMED = [s.name for s in TABLE if s.torch and s.torch.startswith("torch.nn.functional.")]
FASTLOSS_ONLY = [s.name for s in TABLE if s.name not in TORCH_NAMED]
# targets that are class indices (int64 for PyTorch)
INDEX_TARGETS = {"cross_entropy", "nll_loss", "multi_margin_loss", "softmax_focal_loss",
                 "poly1_cross_entropy", "generalized_cross_entropy", "symmetric_cross_entropy",
                 "bootstrapped_cross_entropy", "dice_loss"}
RESIDUAL = {"mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "log_cosh_loss",
            "pinball_loss", "gaussian_nll_loss"}
FASTLOSS_ONLY_OPTIONS = ("sample_weight", "z_loss")
MAX_ELEMENTS = 20000        # larger cases are left to the kernel tests (time)
# documented differences: PyTorch overflows where fastloss is exact
TORCH_OVERFLOWS = {("soft_margin_loss", "logits1e4"), ("soft_margin_loss", "exp-overflow-range")}


# ------------------------------------------------------------------- helpers ----

@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """PyTorch's intra-op threads spin against each other on a loaded 2-core machine
    (100x slower small ops); the comparisons need no threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tensor(name, pos, a, dtype, translate):
    """A torch copy of a case argument.  translate=True gives what PyTorch takes: class
    indices as int64, other integer or bool arrays in the input's float dtype."""
    if a is None or (isinstance(a, float) and not isinstance(a, np.floating)):
        return a                                   # None, or a Python float var
    arr = np.array(a)
    if translate or arr.dtype in (np.uint16, np.uint32, np.uint64):
        if arr.dtype.kind in "iu" and name in INDEX_TARGETS and pos == 1:
            arr = arr.astype(np.int64)
        elif arr.dtype.kind in "biuf" and translate:
            arr = arr.astype(dtype)     # PyTorch would promote a wider target's dtype
    return torch.from_numpy(arr)


def _prepare(name, args, kw, dtype, translate, target_grad=False):
    """Torch tensors for a case: (inputs, kwargs, leaves that require grad, by name)."""
    spec = LOSSES[name]
    ins = [_tensor(name, k, a, dtype, translate) for k, a in enumerate(args)]
    leaves = {}
    for k, n in enumerate(spec.inputs):
        grad = n in spec.grad_wrt or (target_grad and n == "target" and name in RESIDUAL)
        if grad and isinstance(ins[k], torch.Tensor) and ins[k].is_floating_point():
            ins[k].requires_grad_(True)
            leaves[n] = ins[k]
    tkw = {k: (_tensor(name, -1, v, dtype, translate) if isinstance(v, (np.ndarray, np.generic))
               else v) for k, v in kw.items()}
    return ins, tkw, leaves


def _run(fn, ins, tkw, leaves):
    """Value (NumPy) and the gradients of its sum, by name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*ins, **tkw)
    if leaves:
        for t in leaves.values():
            t.grad = None
        out.sum().backward()
    return out.detach(), {n: (None if t.grad is None else t.grad.numpy())
                          for n, t in leaves.items()}


def _cases(name, dtype, rng, small=True):
    for cid, args, kw in CASES[name](dtype, rng):
        if small and sum(np.size(a) for a in args) > MAX_ELEMENTS:
            continue
        yield cid, args, kw


def _empty_mean(cid):
    """Cases whose mean runs over nothing (fastloss 0.0, PyTorch NaN)."""
    return any(s in cid for s in ("empty", "ignored", "zero-weight", "zero-sw", "no-positions"))


# ---------------------------------------------- against torch.nn.functional ----

def _value_scale(name, ins, kw, red):
    """The size of the terms that cancel inside one value: the triplet loss is
    d(a, p) - d(a, n) + margin, whose float32 rounding is relative to the distances (the
    inputs are rounded to float32 before they are subtracted), not to the difference."""
    if name != "triplet_margin_loss":
        return 0.0
    p = kw.get("p", 2.0)
    a, pos, neg = (t.detach().to(torch.float64) for t in ins[:3])
    size = (torch.pairwise_distance(a, pos, p=p) + torch.pairwise_distance(a, neg, p=p)
            + abs(kw.get("margin", 1.0)))
    if red == "none" or size.numel() == 0:
        return float(size.max()) if size.numel() else 0.0
    return float(size.sum() if red == "sum" else size.mean())

@pytest.mark.parametrize("name", TORCH_NAMED)
@dtypes
def test_matches_torch_functional(name, dtype, rng):
    """Every case of the loss without fastloss-only options, every reduction: value,
    dtype, shape and every gradient (the residual losses' target too) as PyTorch's."""
    spec = LOSSES[name]
    ours, theirs = getattr(FT, name), getattr(F, name)
    compared = 0
    for cid, args, kw in _cases(name, dtype, rng):
        if kw.get("sample_weight") is not None or kw.get("z_loss", 0.0) != 0.0:
            continue
        kw = {k: v for k, v in kw.items() if k not in FASTLOSS_ONLY_OPTIONS}
        for red, tgrad in itertools.product(spec.reductions, (False, True)):
            if tgrad and name not in RESIDUAL:
                continue
            tkw = dict(kw, reduction=red)
            # PyTorch in float64 on the same values: fastloss sums in float64 too
            ins_t, kw_t, leaves_t = _prepare(name, args, tkw, np.float64, True, tgrad)
            vt, gt = _run(theirs, ins_t, kw_t, leaves_t)
            ins, kw_o, leaves = _prepare(name, args, tkw, dtype, True, tgrad)
            v, g = _run(ours, ins, kw_o, leaves)
            what = f"{name} {cid} {red}"
            if name == "multi_margin_loss" and ins[0].numel() == 0 and red != "none":
                # PyTorch returns uninitialized memory for an empty batch; fastloss NaN
                # for the mean, 0 for the sum
                assert v.dtype == ins[0].dtype and v.shape == vt.shape
                assert v.isnan() if red == "mean" else v.item() == 0.0
                continue
            if (name, cid) in TORCH_OVERFLOWS and vt.isinf().any():
                # PyTorch's log1p(exp(-t x)) overflows to inf; fastloss's softplus is exact
                assert torch.isfinite(v).all(), what
                continue
            assert v.dtype == ins[0].dtype and v.shape == vt.shape, what
            assert_close(v.numpy(), vt.numpy(), dtype, what + " value",
                         _value_scale(name, ins_t, kw_t, red))
            assert set(g) == set(gt)
            for n in g:
                if gt[n] is None:
                    assert g[n] is None or not g[n].any(), what
                    continue
                assert g[n] is not None and g[n].dtype == dtype, f"{what} d_{n}"
                assert_close(g[n], gt[n], dtype, f"{what} d_{n}")
            compared += 1
    assert compared > 10, compared


@pytest.mark.parametrize("name", [s.name for s in TABLE])
@dtypes
def test_matches_fastloss_value_and_grad(name, dtype, rng):
    """Every case (fastloss-only options included), every reduction: the value and
    gradients through autograd are fastloss's value_and_grad on the NumPy arrays,
    bitwise, except a mean over nothing of a PyTorch-named loss (NaN, as PyTorch)."""
    spec = LOSSES[name]
    loss = getattr(fl, name)
    ours = getattr(FT, name)
    for cid, args, kw in _cases(name, dtype, rng):
        for red in spec.reductions:
            v_np, g_np = loss.value_and_grad(*args, **kw, reduction=red)
            g_np = dict(zip(spec.grad_wrt, g_np if len(spec.grad_wrt) > 1 else (g_np,)))
            ins, tkw, leaves = _prepare(name, args, kw, dtype, False)
            v, g = _run(ours, ins, dict(tkw, reduction=red), leaves)
            what = f"{name} {cid} {red}"
            assert v.dtype == torch.from_numpy(np.asarray(v_np)).dtype, what
            assert v.shape == np.shape(v_np), what
            nothing = (name in TORCH_NAMED and red in ("mean", "batchmean") and v_np == 0
                       and v.isnan())
            if nothing:
                assert _empty_mean(cid), what       # only where a mean can run over nothing
                for n, gn in g.items():    # PyTorch's: NaN, or 0 at ignored targets
                    assert np.all(np.isnan(gn) | (gn == 0)), what
                continue
            np.testing.assert_array_equal(v.numpy(), v_np, err_msg=what)
            for n, gn in g.items():
                if red == "none" and gn.shape != ins[0].shape:
                    # a broadcast var / alpha / scale: expanded for the per-element values,
                    # its gradient summed back by autograd (in another order)
                    assert_close(gn, g_np[n], dtype, f"{what} d_{n}")
                else:
                    np.testing.assert_array_equal(gn, g_np[n], err_msg=f"{what} d_{n}")


def test_mean_over_nothing_is_nan_as_pytorch():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    ignored = torch.full((4,), -100)
    for fn in (FT.cross_entropy, F.cross_entropy):
        x.grad = None
        v = fn(x, ignored)
        v.backward()
        assert v.isnan() and torch.equal(x.grad, torch.zeros_like(x))
    # targets not ignored whose weights are 0: NaN at those rows, 0 at the ignored one
    t = torch.tensor([0, 1, -100, 1])
    w = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    x.grad = None
    v = FT.cross_entropy(x, t, weight=w)
    v.backward()
    assert v.isnan()
    assert x.grad[[0, 1, 3]].isnan().all()
    assert torch.equal(x.grad[2], torch.zeros(3, dtype=x.dtype))
    # an element-wise mean with zero total weight, and an empty batch
    y = torch.randn(4, 3, dtype=torch.float64)
    x.grad = None
    v = FT.mse_loss(x, y, weight=torch.zeros(4, 3, dtype=torch.float64))
    v.backward()
    assert v.isnan() and x.grad.isnan().all()
    assert FT.l1_loss(x[:0], y[:0]).isnan()
    # a genuine mean of 0 stays 0
    assert FT.mse_loss(x, x.detach()).item() == 0.0
    # fastloss-only losses keep fastloss's 0.0
    assert FT.softmax_focal_loss(x, ignored).item() == 0.0


# ------------------------------------------- fastloss-only against torch formulas ----

@pytest.mark.parametrize("name", ["softmax_focal_loss", "poly1_cross_entropy",
                                  "generalized_cross_entropy", "symmetric_cross_entropy",
                                  "bootstrapped_cross_entropy"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_family_matches_torch_formula(name, reduction, rng):
    from test_softmax import torch_value_and_grad as ref

    x = rng.standard_normal((9, 5)) * 2
    t = rng.integers(0, 5, 9)
    t[2] = -100
    sw = 0.5 + rng.random(9)
    w = 0.5 + rng.random(5)
    opts = {"softmax_focal_loss": {"gamma": 1.5, "alpha": w},
            "poly1_cross_entropy": {"epsilon": 2.0, "weight": w, "label_smoothing": 0.1},
            "generalized_cross_entropy": {"q": 0.4},
            "symmetric_cross_entropy": {"alpha": 0.5, "beta": 2.0, "A": -3.0},
            "bootstrapped_cross_entropy": {"beta": 0.8, "mode": "hard"}}[name]
    vt, gt = ref(name, x, t, reduction, sample_weight=sw, **opts)
    xt = torch.tensor(x, requires_grad=True)
    topts = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in opts.items()}
    v = getattr(FT, name)(xt, torch.tensor(t), reduction=reduction,
                          sample_weight=torch.tensor(sw), **topts)
    v.sum().backward()
    assert_close(v.detach().numpy(), vt, np.float64, "value")
    assert_close(xt.grad.numpy(), gt, np.float64, "grad")


def _autograd(fn, *arrays):
    leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    out.sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in leaves]


def _reduce(per, reduction):
    return {"none": per, "sum": per.sum(), "mean": per.mean()}[reduction]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_fastloss_only_match_torch_formulas(reduction, rng):
    from test_binary import torchvision_sigmoid_focal_loss

    x = rng.standard_normal((6, 4)) * 2
    y = rng.standard_normal((6, 4)) * 2
    soft = rng.random((6, 4))
    counts = rng.poisson(2.0, (6, 4)) + 0.5
    p = 1.5
    formulas = [
        ("log_cosh_loss", (x, y), {},
         lambda a, b: _reduce(torch.log(torch.cosh(a - b)), reduction)),
        ("pinball_loss", (x, y), {"quantile": 0.3},
         lambda a, b: _reduce(torch.maximum(0.3 * (b - a), (0.3 - 1) * (b - a)), reduction)),
        ("sigmoid_focal_loss", (x, soft), {"alpha": 0.4, "gamma": 1.5},
         lambda a, b: torchvision_sigmoid_focal_loss(a, b, 0.4, 1.5, reduction)),
        # half Tweedie deviance of mu = exp(input), zero at input = log(target)
        ("tweedie_deviance_loss", (x, counts), {"power": p},
         lambda a, b: _reduce(b ** (2 - p) / ((1 - p) * (2 - p)) - b * torch.exp(a) ** (1 - p)
                              / (1 - p) + torch.exp(a) ** (2 - p) / (2 - p), reduction)),
    ]
    for name, (a, b), opts, formula in formulas:
        leaf = torch.tensor(a, requires_grad=True)
        target = torch.tensor(b, requires_grad=name in RESIDUAL)
        v = getattr(FT, name)(leaf, target, reduction=reduction, **opts)
        v.sum().backward()
        vt, (ga, gb) = _autograd(formula, a, b)
        assert_close(v.detach().numpy(), vt, np.float64, f"{name} value")
        assert_close(leaf.grad.numpy(), ga, np.float64, f"{name} d_input")
        if name in RESIDUAL:
            assert_close(target.grad.numpy(), gb, np.float64, f"{name} d_target")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_robust_loss_matches_torch_formula_all_three_gradients(reduction, rng):
    x = rng.standard_normal((7, 3)) * 2
    alpha = np.array([-3.0, 0.4, 3.5])      # away from the special values
    scale = np.array([0.5, 1.0, 2.0])

    def rho(tx, ta, tc):
        b = torch.abs(ta - 2)
        return _reduce(b / ta * (((tx / tc) ** 2 / b + 1) ** (ta / 2) - 1), reduction)

    vt, gt = _autograd(rho, x, alpha, scale)
    leaves = [torch.tensor(a, requires_grad=True) for a in (x, alpha, scale)]
    v = FT.robust_loss(*leaves, reduction=reduction)
    v.sum().backward()
    assert_close(v.detach().numpy(), vt, np.float64, "value")
    for leaf, g, n in zip(leaves, gt, ("input", "alpha", "scale")):
        assert_close(leaf.grad.numpy(), g, np.float64, f"d_{n}")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_dice_loss_matches_torch_formula(reduction, rng):
    from test_binary import torch_dice_loss

    x = rng.standard_normal((3, 4, 5)) * 2
    y = rng.integers(0, 4, (3, 5))
    y[0, 1] = -100
    w = 0.5 + rng.random(4)
    vt, (gt,) = _autograd(lambda z: torch_dice_loss(z, y, smooth=0.5, weight=w,
                                                    reduction=reduction), x)
    xt = torch.tensor(x, requires_grad=True)
    v = FT.dice_loss(xt, torch.tensor(y), smooth=0.5, weight=torch.tensor(w),
                     reduction=reduction)
    v.sum().backward()
    assert_close(v.detach().numpy(), vt, np.float64, "value")
    assert_close(xt.grad.numpy(), gt, np.float64, "grad")


# ------------------------------------------------------------------- modules ----

def _module_configs(name, rng, dtype=torch.float64):
    w = lambda *s: torch.tensor(0.5 + rng.random(s), dtype=dtype)   # noqa: E731
    return {
        "cross_entropy": [{}, {"weight": w(5), "ignore_index": 1, "label_smoothing": 0.2,
                               "reduction": "sum"}, {"reduction": "none"}],
        "nll_loss": [{}, {"weight": w(5), "ignore_index": 2, "reduction": "none"}],
        "binary_cross_entropy_with_logits": [{}, {"weight": w(5), "pos_weight": w(5),
                                                  "reduction": "sum"}],
        "mse_loss": [{}, {"reduction": "none"}, {"size_average": False}],
        "binary_cross_entropy": [{"weight": w(5)}, {"reduction": "none"}],
        "kl_div": [{"reduction": "batchmean"}, {"log_target": True, "reduction": "sum"}],
        "multi_margin_loss": [{}, {"p": 2, "margin": 0.5, "weight": w(5), "reduction": "none"}],
        "multilabel_soft_margin_loss": [{}, {"weight": w(5), "reduction": "none"}],
        "soft_margin_loss": [{}, {"reduction": "sum"}],
        "hinge_embedding_loss": [{}, {"margin": 0.5, "reduction": "none"}],
        "margin_ranking_loss": [{}, {"margin": 0.3, "reduce": False}],
        "cosine_embedding_loss": [{}, {"margin": 0.2, "reduction": "none"}],
        "triplet_margin_loss": [{}, {"margin": 2.0, "p": 1.0, "swap": True,
                                     "reduction": "none"}],
        "l1_loss": [{}, {"reduction": "none"}],
        "huber_loss": [{}, {"delta": 0.5, "reduction": "sum"}],
        "smooth_l1_loss": [{}, {"beta": 0.5, "reduction": "none"}],
        "poisson_nll_loss": [{}, {"log_input": False, "full": True, "eps": 1e-3}],
        "gaussian_nll_loss": [{}, {"full": True, "eps": 1e-3, "reduction": "none"}],
    }[name]


def _module_inputs(name, rng):
    n, c = 6, 5
    x = rng.standard_normal((n, c))
    r = {
        "cross_entropy": (x, rng.integers(0, c, n)),
        "nll_loss": (np.log(rng.dirichlet(np.ones(c), n)), rng.integers(0, c, n)),
        "binary_cross_entropy_with_logits": (x, rng.random((n, c))),
        "mse_loss": (x, rng.standard_normal((n, c))),
        "binary_cross_entropy": (0.05 + 0.9 * rng.random((n, c)), rng.random((n, c))),
        "kl_div": (np.log(rng.dirichlet(np.ones(c), n)), rng.dirichlet(np.ones(c), n)),
        "multi_margin_loss": (x, rng.integers(0, c, n)),
        "multilabel_soft_margin_loss": (x, rng.random((n, c))),
        "soft_margin_loss": (x, rng.choice([-1.0, 1.0], (n, c))),
        "hinge_embedding_loss": (x, rng.choice([-1.0, 1.0], (n, c))),
        "margin_ranking_loss": (x, rng.standard_normal((n, c)), rng.choice([-1.0, 1.0], (n, c))),
        "cosine_embedding_loss": (x, rng.standard_normal((n, c)), rng.choice([-1.0, 1.0], n)),
        "triplet_margin_loss": (x, rng.standard_normal((n, c)), rng.standard_normal((n, c))),
        "l1_loss": (x, rng.standard_normal((n, c))),
        "huber_loss": (x * 2, rng.standard_normal((n, c))),
        "smooth_l1_loss": (x * 2, rng.standard_normal((n, c))),
        "poisson_nll_loss": (0.2 + rng.random((n, c)), rng.poisson(2.0, (n, c)).astype(float)),
        "gaussian_nll_loss": (x, rng.standard_normal((n, c)), 0.5 + rng.random((n, 1))),
    }[name]
    return [torch.from_numpy(a) for a in r]


@pytest.mark.parametrize("name", TORCH_NAMED)
def test_modules_match_torch_nn(name, rng):
    cls_name = FT._class_name(LOSSES[name])
    ours_cls, theirs_cls = getattr(FT, cls_name), getattr(torch.nn, cls_name)
    assert issubclass(ours_cls, theirs_cls)
    spec = LOSSES[name]
    for cfg in _module_configs(name, rng):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours, theirs = ours_cls(**cfg), theirs_cls(**cfg)
        assert ours.reduction == theirs.reduction
        assert dict(ours.named_buffers()).keys() == dict(theirs.named_buffers()).keys()
        sd, sdt = ours.state_dict(), theirs.state_dict()
        assert sd.keys() == sdt.keys() and all(torch.equal(sd[k], sdt[k]) for k in sd)
        results = []
        for m in (ours, theirs):
            ins = [a.clone() for a in _module_inputs(name, np.random.default_rng(7))]
            for k, n in enumerate(spec.inputs):
                if n in spec.grad_wrt:
                    ins[k].requires_grad_(True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = m(*ins)
            out.sum().backward()
            results.append((out.detach().numpy(),
                            [ins[k].grad.numpy() for k, n in enumerate(spec.inputs)
                             if n in spec.grad_wrt]))
        (v, g), (vt, gt) = results
        assert_close(v, vt, np.float64, f"{cls_name}({cfg}) value")
        for a, b in zip(g, gt):
            assert_close(a, b, np.float64, f"{cls_name}({cfg}) grad")
        # the state_dict loads across the two; the module pickles
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours_cls(**cfg).load_state_dict(theirs.state_dict())
            theirs_cls(**cfg).load_state_dict(ours.state_dict())
        again = pickle.loads(pickle.dumps(ours))
        assert type(again) is ours_cls and again.reduction == ours.reduction


def test_module_extras_and_fastloss_only_modules(rng):
    x = torch.tensor(rng.standard_normal((6, 5)), requires_grad=True)
    t = torch.tensor(rng.integers(0, 5, 6))
    sw = torch.tensor(0.5 + rng.random(6))
    m = FT.CrossEntropyLoss(label_smoothing=0.1, z_loss=1e-2)
    assert m.z_loss == 1e-2
    expected = FT.cross_entropy(x, t, label_smoothing=0.1, z_loss=1e-2, sample_weight=sw)
    assert torch.equal(m(x, t, sample_weight=sw), expected)
    alpha = torch.tensor(0.5 + rng.random(5))
    focal = FT.SoftmaxFocalLoss(gamma=1.5, alpha=alpha, reduction="sum")
    assert isinstance(focal, torch.nn.Module)
    assert list(focal.state_dict()) == ["alpha"] and torch.equal(focal.alpha, alpha)
    assert torch.equal(focal(x, t), FT.softmax_focal_loss(x, t, 1.5, alpha, reduction="sum"))
    assert FT.SigmoidFocalLoss().reduction == "none"
    poly = FT.Poly1CrossEntropyLoss(epsilon=2.0, weight=alpha)
    assert list(poly.state_dict()) == ["weight"]
    assert torch.equal(poly(x, t), FT.poly1_cross_entropy(x, t, 2.0, alpha))
    r = FT.RobustLoss(reduction="sum")
    a = torch.tensor([1.0, 0.5, 1.5, 0.0, -2.0], dtype=torch.float64, requires_grad=True)
    r(x, a, 1.5).backward()
    v, (_, ga, _) = fl.robust_loss.value_and_grad(x.detach().numpy(), a.detach().numpy(), 1.5,
                                                  reduction="sum")
    assert r(x, a, 1.5).item() == v
    np.testing.assert_array_equal(a.grad.numpy(), ga)
    for name in FASTLOSS_ONLY:
        cls = getattr(FT, FT._class_name(LOSSES[name]))
        params = list(inspect.signature(cls.__init__).parameters)[1:]
        assert params == [p.name for p in LOSSES[name].signature_params()] + \
            [p.name for p in LOSSES[name].keyword_only] + ["n_threads"]
        assert list(inspect.signature(cls.forward).parameters)[1:] == \
            list(LOSSES[name].inputs) + ["sample_weight"]


# ---------------------------------------------------------------- signatures ----

TORCHVISION_SIGMOID_FOCAL = "(inputs, targets, alpha=0.25, gamma=2, reduction='none')"


@pytest.mark.parametrize("name", [s.name for s in TABLE])
def test_signature_is_torchs(name):
    """Positional-or-keyword parameters: names, order, defaults of torch.nn.functional
    (size_average / reduce included) or torchvision; the rest keyword-only."""
    ours = inspect.signature(getattr(FT, name)).parameters.values()
    head = [(p.name, p.default) for p in ours if p.kind is not p.KEYWORD_ONLY]
    extras = [p.name for p in ours if p.kind is p.KEYWORD_ONLY]
    spec = LOSSES[name]
    assert extras == [p.name for p in spec.keyword_only] + ["sample_weight", "n_threads"]
    if name in TORCH_NAMED:
        theirs = [(p.name, p.default) for p in
                  inspect.signature(getattr(F, name)).parameters.values()]
    elif name == "sigmoid_focal_loss":
        theirs = [("inputs", inspect.Parameter.empty), ("targets", inspect.Parameter.empty),
                  ("alpha", 0.25), ("gamma", 2), ("reduction", "none")]
    else:
        theirs = [(n, inspect.Parameter.empty) for n in spec.inputs] + \
            [(p.name, p.default) for p in spec.signature_params()]
    assert [n for n, _ in head] == [n for n, _ in theirs]
    for (n, d), (_, dt) in zip(head, theirs):
        assert (d is inspect.Parameter.empty) == (dt is inspect.Parameter.empty), n
        assert d == dt and type(d) in (type(dt), float if type(dt) is int else type(dt)), \
            f"{name}.{n}: default {d!r}, torch {dt!r}"


@pytest.mark.parametrize("name", TORCH_NAMED)
def test_module_signatures_are_torch_nns(name):
    cls_name = FT._class_name(LOSSES[name])
    ours, theirs = getattr(FT, cls_name), getattr(torch.nn, cls_name)
    o = list(inspect.signature(ours.__init__).parameters.values())
    t = list(inspect.signature(theirs.__init__).parameters.values())
    assert [(p.name, p.default, p.kind) for p in o[:len(t)]] == \
        [(p.name, p.default, p.kind) for p in t]
    assert all(p.kind is p.KEYWORD_ONLY for p in o[len(t):])
    fo = list(inspect.signature(ours.forward).parameters.values())
    ft = list(inspect.signature(theirs.forward).parameters.values())
    assert [p.name for p in fo[:len(ft)]] == [p.name for p in ft]
    assert [p.name for p in fo[len(ft):]] == ["sample_weight"]


def test_legacy_size_average_and_reduce(rng):
    x = torch.tensor(rng.standard_normal((5, 4)))
    y = torch.tensor(rng.standard_normal((5, 4)))
    for sa, red in itertools.product([None, True, False], [None, True, False]):
        if sa is None and red is None:
            continue
        with pytest.warns(UserWarning, match="size_average and reduce"):
            v = FT.mse_loss(x, y, size_average=sa, reduce=red)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vt = F.mse_loss(x, y, size_average=sa, reduce=red)
        assert v.shape == vt.shape
        assert_close(v.numpy(), vt.numpy(), np.float64, f"size_average={sa} reduce={red}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = FT.cross_entropy(x, torch.tensor([0, 1, 2, 3, 0]), None, sa, -100, red)
            vt = F.cross_entropy(x, torch.tensor([0, 1, 2, 3, 0]), None, sa, -100, red)
        assert_close(v.numpy(), vt.numpy(), np.float64, f"ce size_average={sa} reduce={red}")


# ------------------------------------------------------------------ gradcheck ----

def _gradcheck_case(name, rng):
    args, kw = next(iter(SMALL[name](rng)))
    if name == "bootstrapped_cross_entropy":
        kw = dict(kw, mode="hard")     # soft mode's gradient holds the target mix constant
    return args, kw


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")
@pytest.mark.parametrize("name", [s.name for s in TABLE])
def test_gradcheck(name, rng):
    """torch.autograd.gradcheck (float64, backward AD) for every differentiable input, the
    residual losses' target included, every reduction."""
    spec = LOSSES[name]
    args, kw = _gradcheck_case(name, rng)
    for red in spec.reductions:
        ins, tkw, leaves = _prepare(name, args, dict(kw, reduction=red), np.float64, False,
                                    target_grad=True)
        order = [n for n in spec.inputs if n in leaves]
        fixed = {n: a for n, a in zip(spec.inputs, ins) if n not in leaves}
        fn = getattr(FT, name)

        def f(*diff):
            d = dict(zip(order, diff))
            return fn(*[d.get(n, fixed.get(n)) for n in spec.inputs], **tkw)

        assert torch.autograd.gradcheck(f, [leaves[n] for n in order], eps=1e-6, atol=1e-6,
                                        rtol=1e-4), f"{name} {red}"


def test_gradcheck_broadcast_var_none(rng):
    """reduction="none" with a var of one dimension less (and of size 1): d_var sums the
    per-element gradients scaled by each incoming gradient."""
    x = torch.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    y = torch.tensor(rng.standard_normal((4, 3)))
    for vshape in [(4,), (4, 1), (1, 3), ()]:
        var = torch.tensor(0.5 + rng.random(vshape), requires_grad=True)
        assert torch.autograd.gradcheck(
            lambda a, v: FT.gaussian_nll_loss(a, y, v, reduction="none"), [x, var])
    scale = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, s: FT.robust_loss(a, 1.3, s, reduction="none"), [x, scale])


def test_double_backward_raises(rng):
    x = torch.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    t = torch.tensor([0, 1, 2, 1])
    (g,) = torch.autograd.grad(FT.cross_entropy(x, t), x, create_graph=True)
    with pytest.raises(RuntimeError, match="double backward"):
        g.sum().backward()
    (g,) = torch.autograd.grad(FT.cross_entropy(x, t), x)     # first order is fine
    assert torch.allclose(g, torch.autograd.grad(F.cross_entropy(x, t), x)[0])


# ----------------------------------------------- opcheck, fake, torch.compile ----

def _op_args(name, args, kw, red, grad):
    """The arguments of fastloss::<name> for a case: inputs, parameters, reduction,
    sample_weight, n_threads (PyTorch float defaults for Python-number inputs)."""
    spec = LOSSES[name]
    ins, tkw, _ = _prepare(name, args, kw, np.float64, False)
    if not grad:
        ins = [a.detach() if isinstance(a, torch.Tensor) else a for a in ins]
    ins = [a if isinstance(a, torch.Tensor) else torch.tensor(float(a), dtype=ins[0].dtype)
           for a in ins]
    pars = [tkw.get(p.name, p.default) for p in spec.all_params()]
    return tuple(ins) + tuple(pars) + (red, tkw.get("sample_weight"), None)


OPCHECK_FULL = ["cross_entropy", "gaussian_nll_loss", "triplet_margin_loss", "robust_loss",
                "dice_loss", "binary_cross_entropy_with_logits"]


@pytest.mark.parametrize("name", [s.name for s in TABLE])
def test_opcheck(name, rng):
    """torch.library.opcheck of both ops of every loss (schema, autograd registration,
    fake tensor against the real outputs); AOT dispatch with dynamic shapes for some."""
    fast = ("test_schema", "test_autograd_registration", "test_faketensor")
    utils = fast + (("test_aot_dispatch_dynamic",) if name in OPCHECK_FULL else ())
    value_op, vg_op = getattr(FT, name)._fastloss_ops
    for k, (args, kw) in enumerate(SMALL[name](rng)):
        if k >= 2:
            break
        for red in LOSSES[name].reductions:
            for op in (value_op, vg_op):
                a = _op_args(name, args, kw, red, op is vg_op)
                torch.library.opcheck(op, a, test_utils=utils if red == "none" else fast)


def test_torch_compile_fullgraph(rng):
    """One aot_eager compile of a step with five losses (values and gradients as eager
    and as PyTorch), then the default inductor backend on cross_entropy."""
    x = torch.tensor(rng.standard_normal((8, 5)), requires_grad=True)
    x2 = torch.tensor(rng.standard_normal((8, 5)), requires_grad=True)
    t = torch.tensor(rng.integers(0, 5, 8))
    y = torch.tensor(rng.random((8, 5)))
    var = torch.tensor(0.5 + rng.random((8, 1)), requires_grad=True)
    s = torch.tensor(rng.choice([-1.0, 1.0], (8, 5)))

    def step(lib, x, x2, var):
        return (lib.cross_entropy(x, t, label_smoothing=0.1)
                + lib.mse_loss(x, y) * 2
                + lib.binary_cross_entropy_with_logits(x, y, reduction="sum")
                + lib.gaussian_nll_loss(x, y, var)
                + lib.margin_ranking_loss(x, x2, s, margin=0.2)
                + lib.cross_entropy(x, t, reduction="none").sum()
                + lib.kl_div(torch.log_softmax(x, 1), y)       # warns (outside the graph)
                + lib.l1_loss(x, y[0], size_average=False))    # legacy args, broadcast target

    def grads(fn):
        for a in (x, x2, var):
            a.grad = None
        v = fn(x, x2, var)
        v.backward()
        return v.detach(), [a.grad.clone() for a in (x, x2, var)]

    compiled = torch.compile(lambda *a: step(FT, *a), fullgraph=True, backend="aot_eager")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v, g = grads(compiled)
        ve, ge = grads(lambda *a: step(FT, *a))
        vt, gt = grads(lambda *a: step(F, *a))
    assert torch.equal(v, ve) and all(torch.equal(a, b) for a, b in zip(g, ge))
    assert_close(v.numpy(), vt.numpy(), np.float64, "value")
    for a, b in zip(g, gt):
        assert_close(a.numpy(), b.numpy(), np.float64, "grad")
    # the value-only op under no_grad (evaluation)
    ev = torch.compile(lambda a: step(FT, a, x2, var), fullgraph=True, backend="aot_eager")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert torch.equal(ev(x), step(FT, x, x2, var))
    # the default backend (inductor), once
    ce = torch.compile(lambda a: FT.cross_entropy(a, t) * 3, fullgraph=True)
    x.grad = None
    out = ce(x)
    out.backward()
    xe = x.detach().clone().requires_grad_(True)
    (F.cross_entropy(xe, t) * 3).backward()
    assert_close(out.detach().numpy(), (F.cross_entropy(xe, t) * 3).detach().numpy(),
                 np.float64, "inductor value")
    assert_close(x.grad.numpy(), xe.grad.numpy(), np.float64, "inductor grad")


# ------------------------------------------------- value-only path, zero copy ----

class _Spy:
    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, *args, **kw):
        self.calls.append((args, kw))
        return self.fn(*args, **kw)


def test_no_gradient_computed_without_requires_grad(monkeypatch, rng):
    loss = fl.cross_entropy
    vg, value = _Spy(loss.value_and_grad), _Spy(loss._value)
    monkeypatch.setattr(loss, "value_and_grad", vg)
    monkeypatch.setattr(loss, "_value", value)
    x = torch.tensor(rng.standard_normal((6, 4)), dtype=torch.float32)
    t = torch.tensor(rng.integers(0, 4, 6))
    out = FT.cross_entropy(x, t)
    assert out.grad_fn is None and len(value.calls) == 1 and not vg.calls
    x.requires_grad_(True)
    with torch.no_grad():
        out = FT.cross_entropy(x, t)
    assert out.grad_fn is None and len(value.calls) == 2 and not vg.calls
    with torch.inference_mode():
        FT.cross_entropy(x, t)
    assert len(value.calls) == 3 and not vg.calls
    out = FT.cross_entropy(x, t)
    assert out.grad_fn is not None and len(vg.calls) == 1 and len(value.calls) == 3
    out.backward()                       # the backward reuses the saved gradient
    assert len(vg.calls) == 1 and len(value.calls) == 3
    assert_close(out.detach().numpy(), F.cross_entropy(x.detach(), t).numpy(), np.float32, "v")


def test_cpu_tensors_reach_the_kernel_without_a_copy(monkeypatch, rng):
    vg = _Spy(fl.mse_loss.value_and_grad)
    monkeypatch.setattr(fl.mse_loss, "value_and_grad", vg)
    base = torch.tensor(rng.standard_normal((7, 6)), dtype=torch.float32)
    y = torch.tensor(rng.standard_normal((6, 7)), dtype=torch.float32)
    for x, yy in [(base, y.t().contiguous()), (base.t(), y), (base[:, ::2], y.t()[:, ::2])]:
        xr = x.clone().requires_grad_(True)
        leaf = x.detach().requires_grad_(True)
        out = FT.mse_loss(leaf, yy)
        (args, _) = vg.calls[-1]
        assert np.shares_memory(args[0], x.numpy()) and np.shares_memory(args[1], yy.numpy())
        out.backward()
        vt = F.mse_loss(xr, yy)
        vt.backward()
        assert_close(out.detach().numpy(), vt.detach().numpy(), np.float32, "value")
        assert_close(leaf.grad.numpy(), xr.grad.numpy(), np.float32, "grad")
    # the gradient handed to autograd is the kernel's array, not a copy
    x = base.clone().requires_grad_(True)
    FT.mse_loss(x, y.t(), reduction="sum").backward()
    assert x.grad.shape == x.shape and x.grad.is_contiguous()


def test_non_contiguous_inputs_give_the_contiguous_results(rng):
    logits_t = torch.tensor(rng.standard_normal((5, 9)))          # (C, N) storage
    t = torch.tensor(rng.integers(0, 5, 9))
    w = torch.tensor(0.5 + rng.random(10))[::2]                     # strided weight
    for x in (logits_t.t(), torch.tensor(rng.standard_normal((9, 10)))[:, ::2]):
        assert not x.is_contiguous()
        a = x.clone().requires_grad_(True)
        b = x.contiguous().requires_grad_(True)
        va = FT.cross_entropy(a, t, weight=w, label_smoothing=0.1)
        vb = FT.cross_entropy(b, t, weight=w.contiguous(), label_smoothing=0.1)
        va.backward()
        vb.backward()
        assert_close(va.detach().numpy(), vb.detach().numpy(), np.float64, "value")
        assert_close(a.grad.numpy(), b.grad.numpy(), np.float64, "grad")
        vt = F.cross_entropy(x, t, weight=w, label_smoothing=0.1)
        assert_close(va.detach().numpy(), vt.numpy(), np.float64, "vs torch")


# --------------------------------------------------------------- half dtypes ----

@pytest.mark.parametrize("half", [torch.bfloat16, torch.float16], ids=str)
def test_half_precision_computes_in_float32(half, rng):
    """bf16/fp16 in: value and gradients in that dtype, equal to the float32 computation
    on the same (exactly widened) values rounded once, and close to PyTorch's float32."""
    n, c = 16, 7
    x = torch.tensor(rng.standard_normal((n, c)) * 2).to(half)
    x2 = torch.tensor(rng.standard_normal((n, c))).to(half)
    t = torch.tensor(rng.integers(0, c, n))
    y = torch.tensor(rng.random((n, c))).to(half)
    var = torch.tensor(0.5 + rng.random((n, c))).to(half)
    calls = [("cross_entropy", (x, t), {"label_smoothing": 0.1}),
             ("mse_loss", (x, y), {}),
             ("binary_cross_entropy_with_logits", (x, y), {"pos_weight":
                                                          torch.ones(c, dtype=half) * 2}),
             ("gaussian_nll_loss", (x, y, var), {"reduction": "none"}),
             ("triplet_margin_loss", (x, x2, y), {}),
             ("softmax_focal_loss", (x, t), {"gamma": 1.5})]
    tol = 2.0 ** -7 if half is torch.bfloat16 else 2.0 ** -10
    for name, args, kw in calls:
        spec = LOSSES[name]
        diff = [k for k, n_ in enumerate(spec.inputs) if n_ in spec.grad_wrt]
        results = []
        for conv in (lambda a: a, lambda a: a.float() if a.is_floating_point() else a):
            ins = [conv(a).detach().clone() for a in args]
            for k in diff:
                ins[k].requires_grad_(True)
            kk = {k: conv(v) for k, v in kw.items() if isinstance(v, torch.Tensor)}
            v = getattr(FT, name)(*ins, **{**kw, **kk})
            v.sum().backward()
            results.append((v.detach(), [ins[k].grad for k in diff]))
        (v, g), (v32, g32) = results
        assert v.dtype == half and all(gk.dtype == half for gk in g), name
        assert torch.equal(v, v32.to(half)), name
        assert all(torch.equal(a, b.to(half)) for a, b in zip(g, g32)), name
        if name in TORCH_NAMED:
            ins = [a.float().detach().clone() if a.is_floating_point() else a for a in args]
            for k in diff:
                ins[k].requires_grad_(True)
            kk = {k: (v_.float() if isinstance(v_, torch.Tensor) else v_) for k, v_ in kw.items()}
            vt = getattr(F, name)(*ins, **kk)
            vt.sum().backward()
            vt = vt.detach()
            np.testing.assert_allclose(v.float().numpy(), vt.numpy(), rtol=2 * tol,
                                       atol=2 * tol * float(vt.abs().max()))
            for k, gk in zip(diff, g):
                gt = ins[k].grad
                np.testing.assert_allclose(gk.float().numpy(), gt.numpy(), rtol=2 * tol,
                                           atol=2 * tol * float(gt.abs().max()))


def test_integer_targets_of_any_dtype(rng):
    x = torch.tensor(rng.standard_normal((6, 4)), requires_grad=True)
    t = rng.integers(0, 4, 6)
    ref = FT.cross_entropy(x, torch.tensor(t))
    for dt in (np.int8, np.int16, np.int32, np.uint8):
        assert torch.equal(FT.cross_entropy(x, torch.tensor(t.astype(dt))), ref)
    assert ref.dtype == torch.float64 and ref.shape == ()


# -------------------------------------------------------------------- errors ----

def test_bad_arguments_raise_naming_them(rng):
    x = torch.tensor(rng.standard_normal((6, 4)))
    t = torch.tensor(rng.integers(0, 4, 6))
    y = torch.tensor(rng.standard_normal((6, 4)))
    w = torch.ones(4, dtype=torch.float64)
    cases = [
        (lambda: FT.cross_entropy(x, t.to("meta")), ValueError, "target"),
        (lambda: FT.cross_entropy(x, t, weight=w.to("meta")), ValueError, "weight"),
        (lambda: FT.mse_loss(x, y, weight=y.to("meta")), ValueError, "weight"),
        (lambda: FT.cross_entropy(x.numpy(), t), TypeError, "input"),
        (lambda: FT.cross_entropy(x, t.numpy()), TypeError, "target"),
        (lambda: FT.cross_entropy(x, t, weight=w.numpy()), TypeError, "weight"),
        (lambda: FT.cross_entropy(x, t, reduction="avg"), ValueError, "reduction"),
        (lambda: FT.kl_div(x, y, reduction="batchsum"), ValueError, "reduction"),
        (lambda: FT.cross_entropy(x, t, label_smoothing=1.5), ValueError, "label_smoothing"),
        (lambda: FT.cross_entropy(x, t, label_smoothing="0.1"), TypeError, "label_smoothing"),
        (lambda: FT.cross_entropy(x, t + 4), ValueError, "target"),
        (lambda: FT.cross_entropy(x, t, sample_weight=torch.ones(5, dtype=x.dtype)),
         ValueError, "sample_weight"),
        (lambda: FT.multi_margin_loss(x, t, p=3), ValueError, "p"),
        (lambda: FT.soft_margin_loss(x, y), ValueError, "target"),
        (lambda: FT.triplet_margin_loss(x, y, y[:, :3]), ValueError, "negative"),
        (lambda: FT.gaussian_nll_loss(x, y, -1.0), ValueError, "var"),
        (lambda: FT.cross_entropy(x, t, n_threads="2"), TypeError, "n_threads"),
    ]
    for k, (call, exc, arg) in enumerate(cases):
        with pytest.raises(exc, match=arg):
            call()


def test_requires_grad_on_what_fastloss_does_not_differentiate_raises(rng):
    x = torch.tensor(rng.standard_normal((6, 4)), requires_grad=True)
    t = torch.tensor(rng.integers(0, 4, 6))
    p = torch.tensor(rng.random((6, 4)), requires_grad=True)
    w = torch.ones(4, dtype=torch.float64, requires_grad=True)
    with pytest.raises(NotImplementedError, match="weight"):
        FT.cross_entropy(x, t, weight=w)
    with pytest.raises(NotImplementedError, match="target"):
        FT.cross_entropy(x, p)
    with pytest.raises(NotImplementedError, match="target"):
        FT.binary_cross_entropy_with_logits(x, p)
    with pytest.raises(NotImplementedError, match="pos_weight"):
        FT.binary_cross_entropy_with_logits(x, p.detach(), pos_weight=w)
    with pytest.raises(NotImplementedError, match="sample_weight"):
        FT.mse_loss(x, p.detach(), sample_weight=torch.ones(6, dtype=x.dtype,
                                                              requires_grad=True))
    with torch.no_grad():                       # no graph: nothing to refuse
        FT.cross_entropy(x, t, weight=w)
    # fine when detached
    FT.cross_entropy(x, t, weight=w.detach()).backward()
    # a residual loss's target gets -d/d input, as PyTorch's autograd
    for name in ("mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"):
        a, b = x.detach().clone().requires_grad_(True), p.detach().clone().requires_grad_(True)
        getattr(FT, name)(a, b).backward()
        at, bt = x.detach().clone().requires_grad_(True), p.detach().clone().requires_grad_(True)
        getattr(F, name)(at, bt).backward()
        assert_close(b.grad.numpy(), bt.grad.numpy(), np.float64, name)
        b.grad = None
        getattr(FT, name)(x.detach(), b, reduction="none").sum().backward()
        assert_close(b.grad.numpy(), -torch.autograd.grad(
            getattr(F, name)(at, bt.detach(), reduction="none").sum(), at)[0].numpy(),
            np.float64, name + " target only")


def test_target_broadcast_warns_as_torch(rng):
    x = torch.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    y = torch.tensor(rng.standard_normal(4))
    with pytest.warns(UserWarning, match="target size"):
        v = FT.mse_loss(x, y)
    with pytest.warns(UserWarning, match="target size"):
        vt = F.mse_loss(x, y)
    assert_close(v.detach().numpy(), vt.detach().numpy(), np.float64, "value")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="target"):
        FT.l1_loss(x[:, :1], y)          # PyTorch would enlarge the input to (5, 4)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="target"):
        FT.huber_loss(x, y[:3])          # not broadcastable


# ------------------------------------------------------------------ training ----

@pytest.mark.parametrize("name", ["cross_entropy", "mse_loss"])
def test_training_ends_with_pytorchs_weights(name):
    """A two-layer MLP in float64, 300 SGD steps from the same seed: fastloss.torch and
    torch.nn.functional end with the same weights to rounding."""
    rng = np.random.default_rng(1234)
    n, d, h, c = 64, 10, 16, 5
    xs = torch.tensor(rng.standard_normal((n, d)))
    ys = torch.tensor(rng.integers(0, c, n)) if name == "cross_entropy" else \
        torch.tensor(rng.standard_normal((n, c)))
    finals = []
    for lib in (FT, F):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.Tanh(),
                                    torch.nn.Linear(h, c)).double()
        initial = [p.detach().numpy().copy() for p in model.parameters()]
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for step in range(300):
            idx = slice((step * 16) % n, (step * 16) % n + 16)
            opt.zero_grad()
            loss = getattr(lib, name)(model(xs[idx]), ys[idx])
            loss.backward()
            opt.step()
        finals.append([p.detach().numpy().copy() for p in model.parameters()])
        assert max(np.abs(a - b).max() for a, b in zip(finals[-1], initial)) > 0.1
    for a, b in zip(*finals):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------- CUDA ----

@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensors(rng):
    x = torch.tensor(rng.standard_normal((64, 10)), dtype=torch.float32, device="cuda",
                     requires_grad=True)
    t = torch.tensor(rng.integers(0, 10, 64), device="cuda")
    v = FT.cross_entropy(x, t, label_smoothing=0.1)
    assert v.device == x.device and v.dtype == x.dtype and v.shape == ()
    v.backward()
    xc = x.detach().cpu().requires_grad_(True)
    vc = F.cross_entropy(xc, t.cpu(), label_smoothing=0.1)
    vc.backward()
    assert_close(v.detach().cpu().numpy(), vc.detach().numpy(), np.float32, "value")
    assert_close(x.grad.cpu().numpy(), xc.grad.numpy(), np.float32, "grad")
    xb = x.detach().to(torch.bfloat16).requires_grad_(True)
    vb = FT.mse_loss(xb, torch.zeros_like(xb))
    vb.backward()
    assert vb.dtype == torch.bfloat16 and xb.grad.dtype == torch.bfloat16
    assert FT.cross_entropy(x, torch.full_like(t, -100)).isnan()
    with pytest.raises(ValueError, match="target"):
        FT.cross_entropy(x, t.cpu())


def test_saved_gradient_handed_out_safely():
    """backward() of a scalar loss hands autograd the saved gradient itself (no multiply
    by 1): retained graphs, in-place zeroed .grad, accumulation, sums and scalings of
    losses must still see the right gradient."""
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 5, (6,))
    xr = x.detach().clone().requires_grad_(True)
    F.cross_entropy(xr, t).backward()
    want = xr.grad
    loss = FT.cross_entropy(x, t)
    loss.backward(retain_graph=True)
    torch.testing.assert_close(x.grad, want, rtol=1e-12, atol=0)
    x.grad.zero_()
    loss.backward(retain_graph=True)
    torch.testing.assert_close(x.grad, want, rtol=1e-12, atol=0)
    loss.backward()
    torch.testing.assert_close(x.grad, 2 * want, rtol=1e-12, atol=0)
    x.grad = None
    (FT.cross_entropy(x, t) + FT.cross_entropy(x, t)).backward()
    torch.testing.assert_close(x.grad, 2 * want, rtol=1e-12, atol=0)
    x.grad = None
    (3.0 * FT.cross_entropy(x, t)).backward()
    torch.testing.assert_close(x.grad, 3 * want, rtol=1e-12, atol=0)
    y = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    yt = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    FT.mse_loss(y, yt).backward()
    torch.testing.assert_close(yt.grad, -y.grad, rtol=0, atol=0)
    torch.testing.assert_close(y.grad, 2 * (y - yt).detach() / y.numel(), rtol=1e-12, atol=0)
