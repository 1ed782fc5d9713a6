"""Quick side-by-side timing: fastloss value_and_grad vs PyTorch forward+backward, with the
machine's copy bandwidth measured in the same run.

    python bench/quick_compare.py [--threads 2]

Each fastloss kernel's effective bandwidth counts the bytes it must move: the input read
once, the target read once (class indices for cross_entropy), the gradient written once.
Times are the best of repeated runs.
"""
import argparse
import time

import numpy as np

import fastloss as fl
from fastloss import _cpu
from fastloss._cpu import _kernels


def best(f, repeat):
    f()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def copy_bandwidth(n_threads):
    src = np.ones(2**27, np.uint8)
    dst = np.empty_like(src)
    return 2 * src.nbytes / best(lambda: _kernels.copy(dst, src, n_threads), 15)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    try:
        import torch
        torch.set_num_threads(args.threads)
        F = torch.nn.functional
    except ImportError:
        torch = None
    bw = copy_bandwidth(args.threads)
    print(f"copy bandwidth ({args.threads} threads): {bw / 1e9:.1f} GB/s")
    print("| SIMD | dtype | loss | shape | fastloss ms | GB/s | % of copy | PyTorch ms | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    before = _cpu.simd_level()
    for level in _cpu.supported_simd_levels()[::-1]:
        fl.set_simd(level)
        for dt in (np.float32, np.float64):
            n, c = 8192, 1000
            x = rng.standard_normal((n, c)).astype(dt)
            t = rng.integers(0, c, n)
            y = rng.random(2**24).astype(dt)
            z = rng.standard_normal(2**24).astype(dt)
            cases = [
                ("cross_entropy", f"{n}x{c}", fl.cross_entropy, x, t, 2 * x.nbytes + t.nbytes,
                 None if torch is None else F.cross_entropy),
                ("binary_cross_entropy_with_logits", "2^24", fl.binary_cross_entropy_with_logits,
                 z, y, 3 * z.nbytes, None if torch is None else F.binary_cross_entropy_with_logits),
                ("mse_loss", "2^24", fl.mse_loss, z, y, 3 * z.nbytes,
                 None if torch is None else F.mse_loss),
            ]
            for name, shape, loss, a, b, nbytes, tfn in cases:
                out = np.empty_like(a)
                tf = best(lambda: loss.value_and_grad(a, b, out=out, n_threads=args.threads),
                          args.repeat)
                tt = float("nan")
                if tfn is not None and level == before:
                    at = torch.tensor(a, requires_grad=True)
                    bt = torch.tensor(b)

                    def run():
                        at.grad = None
                        tfn(at, bt).backward()

                    tt = best(run, max(3, args.repeat // 3))
                print(f"| {level} | {np.dtype(dt).name} | {name} | {shape} | {tf * 1e3:.2f} | "
                      f"{nbytes / tf / 1e9:.1f} | {100 * nbytes / tf / bw:.0f}% | "
                      f"{tt * 1e3:.1f} | {tt / tf:.1f}x |".replace("| nan |", "| - |")
                      .replace("| nanx |", "| - |"))
    fl.set_simd(before)


if __name__ == "__main__":
    main()
