"""GPU benchmark: fastloss's CUDA kernels against PyTorch eager forward+backward and
torch.compile, with the device's copy bandwidth measured in the same run.

    python bench/gpu_compare.py [--quick] [--json FILE]

Needs a CUDA GPU, torch with CUDA and numba-cuda (pip install "fastloss[cuda]").  Cases
(issue 5): cross_entropy 8192 x 32000 and 16384 x 128256 in float32 and bfloat16,
binary_cross_entropy_with_logits and mse_loss over 2^28 elements, and a 64 x 10
cross_entropy for the launch overhead.  Each kernel's effective bandwidth counts the bytes
it must move (read every input once, write the gradient once) and is reported as a
percentage of the copy bandwidth.  The first call's time (compile or cache load) is
reported apart from the steady state (median of the timed repeats, CUDA events).

The drop-in section (issue 8; --no-dropin skips it) times ``fastloss.torch`` against
``torch.nn.functional`` on the same CUDA tensors, forward + backward through autograd on
the same cases, beside fastloss's own ``value_and_grad``: "kept" is value_and_grad's time
over the drop-in's (the share of the kernel's speed the autograd wrapper keeps).  Each
drop-in's first value and gradient are checked against PyTorch's first."""
import argparse
import json
import time

import torch
import torch.nn.functional as F

import fastloss as fl


def _events(fn, repeat):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) / 1e3)
    times.sort()
    return times[len(times) // 2]


def copy_bandwidth(nbytes=1 << 30, repeat=20):
    src = torch.empty(nbytes // 4, dtype=torch.float32, device="cuda")
    dst = torch.empty_like(src)
    return 2 * nbytes / _events(lambda: dst.copy_(src), repeat)


def _cases(quick):
    ce = [(8192, 32000)] + ([] if quick else [(16384, 128256)])
    n_ew = 1 << (24 if quick else 28)
    for n, c in ce:
        for dt in (torch.float32, torch.bfloat16):
            yield "cross_entropy", (n, c), dt
    yield "binary_cross_entropy_with_logits", (n_ew,), torch.float32
    yield "mse_loss", (n_ew,), torch.float32
    yield "cross_entropy", (64, 10), torch.float32


def _data(name, shape, dt):
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(shape, device="cuda", generator=g).to(dt)
    if name == "cross_entropy":
        t = torch.randint(0, shape[1], shape[:1], device="cuda", generator=g)
        moved = x.numel() * x.element_size() * 2 + t.numel() * 8
    else:
        t = torch.rand(shape, device="cuda", generator=g).to(dt)
        moved = x.numel() * x.element_size() * 3
    return x, t, moved


def run(quick=False, repeat=20):
    bw = copy_bandwidth()
    rows = []
    for name, shape, dt in _cases(quick):
        x, t, moved = _data(name, shape, dt)
        ours = getattr(fl, name)
        ref = getattr(F, name)
        t0 = time.perf_counter()
        ours.value_and_grad(x, t)
        torch.cuda.synchronize()
        first = time.perf_counter() - t0
        t_fl = _events(lambda: ours.value_and_grad(x, t), repeat)

        xr = x.detach().requires_grad_(True)

        def eager():
            xr.grad = None
            ref(xr, t).backward()

        compiled = torch.compile(lambda a, b: ref(a, b))

        def comp():
            xr.grad = None
            compiled(xr, t).backward()

        t_eager = _events(eager, repeat)
        t_comp = _events(comp, repeat)
        rows.append(dict(loss=name, shape=list(shape), dtype=str(dt).replace("torch.", ""),
                         first_call_s=first, fastloss_s=t_fl, eager_s=t_eager,
                         compile_s=t_comp, pct_of_copy=100 * moved / t_fl / bw,
                         vs_eager=t_eager / t_fl, vs_compile=t_comp / t_fl))
    return dict(device=torch.cuda.get_device_name(), copy_GBps=bw / 1e9, rows=rows)


def _agree(a, b, dt):
    """Relative difference of two results (value, gradient), over the larger magnitude."""
    tol = 3e-2 if dt == torch.bfloat16 else 2e-3
    errs = []
    for u, v in zip(a, b):
        u, v = u.detach().double(), v.detach().double()
        scale = max(float(u.abs().max()), float(v.abs().max()), 1e-30)
        errs.append(float((u - v).abs().max()) / scale)
    return max(errs), tol


def dropin(copy_bw, quick=False, repeat=20):
    """fastloss.torch against torch.nn.functional, forward + backward through autograd on
    the same CUDA tensors, and fastloss's value_and_grad on them; `copy_bw` (bytes per
    second) for the drop-in's % of copy.  A row with "error" where a case fails (the other
    cases still run)."""
    import fastloss.torch as FT

    rows = []
    for name, shape, dt in _cases(quick):
        row = dict(loss=name, shape=list(shape), dtype=str(dt).replace("torch.", ""))
        rows.append(row)
        try:
            x, t, moved = _data(name, shape, dt)
            ours, ref = getattr(FT, name), getattr(F, name)
            xa = x.detach().clone().requires_grad_(True)
            xb = x.detach().clone().requires_grad_(True)

            def fwd_bwd(fn, xr):
                xr.grad = None
                v = fn(xr, t)
                v.backward()
                return v

            t0 = time.perf_counter()
            va = fwd_bwd(ours, xa)
            torch.cuda.synchronize()
            row["first_call_s"] = time.perf_counter() - t0
            vb = fwd_bwd(ref, xb)
            err, tol = _agree((va, xa.grad), (vb, xb.grad), dt)
            row["agreement"] = err
            if not err <= tol:
                raise AssertionError(f"fastloss.torch disagrees with torch.nn.functional: "
                                     f"relative difference {err:.2g} (tolerance {tol:g})")
            vg = getattr(fl, name).value_and_grad
            row["dropin_s"] = _events(lambda: fwd_bwd(ours, xa), repeat)
            row["eager_s"] = _events(lambda: fwd_bwd(ref, xb), repeat)
            row["value_and_grad_s"] = _events(lambda: vg(x, t), repeat)
            row["vs_eager"] = row["eager_s"] / row["dropin_s"]
            row["kept"] = row["value_and_grad_s"] / row["dropin_s"]
            row["pct_of_copy"] = 100 * moved / row["dropin_s"] / copy_bw
        except Exception as e:   # report and go on: one failing case must not hide the rest
            row["error"] = f"{type(e).__name__}: {e}"
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller cases")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--no-dropin", action="store_true",
                    help="skip the fastloss.torch drop-in section")
    a = ap.parse_args()
    res = run(a.quick)
    if not a.no_dropin:
        res["dropin"] = dropin(res["copy_GBps"] * 1e9, a.quick)
    print(f"{res['device']}: copy {res['copy_GBps']:.0f} GB/s")
    print("| loss | shape | dtype | first call | fastloss | % of copy | eager fwd+bwd | "
          "x eager | torch.compile | x compile |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in res["rows"]:
        print(f"| {r['loss']} | {'x'.join(map(str, r['shape']))} | {r['dtype']} | "
              f"{r['first_call_s']:.2f} s | {r['fastloss_s'] * 1e3:.3f} ms | "
              f"{r['pct_of_copy']:.0f}% | {r['eager_s'] * 1e3:.3f} ms | {r['vs_eager']:.2f} | "
              f"{r['compile_s'] * 1e3:.3f} ms | {r['vs_compile']:.2f} |")
    if "dropin" in res:
        print()
        print("fastloss.torch drop-in vs torch.nn.functional, forward+backward on the same "
              "CUDA tensors (kept: value_and_grad time / drop-in time)")
        print("| loss | shape | dtype | first call | fastloss.torch | % of copy | eager F | "
              "x eager | value_and_grad | kept |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in res["dropin"]:
            head = f"| {r['loss']} | {'x'.join(map(str, r['shape']))} | {r['dtype']} |"
            if "error" in r:
                print(f"{head} {r['error']} | | | | | | |")
                continue
            print(f"{head} {r['first_call_s']:.2f} s | {r['dropin_s'] * 1e3:.3f} ms | "
                  f"{r['pct_of_copy']:.0f}% | {r['eager_s'] * 1e3:.3f} ms | {r['vs_eager']:.2f} | "
                  f"{r['value_and_grad_s'] * 1e3:.3f} ms | {100 * r['kept']:.0f}% |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
