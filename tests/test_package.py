"""The package around the kernels: import, configuration, command line, docs."""
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastloss as fl
from fastloss import _cpu
from fastloss._registry import TABLE, markdown_table

HERE = os.path.dirname(os.path.abspath(__file__))   # subprocesses run here: never the repo
README = os.path.join(HERE, os.pardir, "README.md")  # root, whose unbuilt fastloss/ would shadow


# subprocesses import the same fastloss as this process (installed, or an in-place build)
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [os.path.dirname(os.path.dirname(fl.__file__))] + os.environ.get("PYTHONPATH", "").split(os.pathsep))}


def _run(code, **env):
    e = dict(ENV)
    e.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=e, check=True, cwd=HERE).stdout


def test_import_is_light():
    out = _run("import sys, fastloss; "
               "print(sorted(m for m in ('torch', 'numba', 'matplotlib', 'cupy', "
               "'scipy', 'sklearn') if m in sys.modules))")
    heavy = eval(out)
    assert not {"torch", "numba", "matplotlib", "cupy", "scipy", "sklearn"} & set(heavy), heavy


def test_every_table_entry_is_public():
    for spec in TABLE:
        loss = getattr(fl, spec.name)
        assert isinstance(loss, fl.Loss) and spec.name in fl.__all__
        assert callable(loss.value_and_grad) and callable(loss.grad)
        assert spec.summary in loss.__doc__


def test_readme_loss_table_is_the_generated_one():
    text = open(README, encoding="utf-8").read()
    start = text.index("<!-- loss-table:start -->") + len("<!-- loss-table:start -->")
    end = text.index("<!-- loss-table:end -->")
    assert text[start:end].strip() == markdown_table().strip(), \
        "README's loss table is stale: paste fastloss._registry.markdown_table()"


def test_show_config_and_info():
    buf = io.StringIO()
    fl.show_config(file=buf)
    text = buf.getvalue()
    for key in ("fastloss:", "openmp:", "default_threads:", "simd:", "backends:"):
        assert key in text
    assert fl.__version__ in text
    out = subprocess.run([sys.executable, "-m", "fastloss", "info", "--json"], check=True,
                         capture_output=True, text=True, env=ENV, cwd=HERE).stdout
    cfg = json.loads(out)
    assert cfg["fastloss"] == fl.__version__
    assert cfg["simd"] in cfg["simd_supported"]
    assert cfg["default_threads"] >= 1


@pytest.mark.parametrize("level", _cpu.supported_simd_levels())
def test_fastloss_simd_environment_forces_a_path(level):
    out = _run("import fastloss; print(fastloss.simd_level())", FASTLOSS_SIMD=level)
    assert out.strip() == level


def test_fastloss_simd_environment_rejects_unknown():
    r = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", "import fastloss"],
                       capture_output=True, text=True, env={**ENV, "FASTLOSS_SIMD": "sse9"}, cwd=HERE)
    assert r.returncode != 0 and "FASTLOSS_SIMD" in r.stderr


def test_simd_paths_agree():
    """Every supported path gives the same numbers to rounding (a scalar path included)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 300)).astype(np.float32)
    t = rng.integers(0, 300, 200)
    before = _cpu.simd_level()
    results = {}
    try:
        for level in _cpu.supported_simd_levels():
            fl.set_simd(level)
            results[level] = fl.cross_entropy.value_and_grad(x, t)
    finally:
        fl.set_simd(before)
    v0, g0 = results["baseline"]
    for level, (v, g) in results.items():
        np.testing.assert_allclose(v, v0, rtol=1e-6)
        np.testing.assert_allclose(g, g0, rtol=1e-5, atol=1e-9)


def test_threads_resolution(monkeypatch):
    from fastloss._api import threads

    d = _cpu._kernels.max_threads()
    assert threads(None) == d
    assert threads(3) == 3
    assert threads(-1) == d
    if d > 1:
        assert threads(-2) == d - 1


def test_threadpoolctl_limits_the_default():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fastloss._api import threads

    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert threads(None) == 1
