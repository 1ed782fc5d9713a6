"""The first measurements' comparison (bench/RESULTS.md), now a selection of
``python -m fastloss bench``: cross_entropy (8192, 1000), binary_cross_entropy_with_logits
and mse_loss (2^24 elements), float32 and float64, fastloss at every SIMD level the CPU
supports, against the NumPy reference, PyTorch and scikit-learn on the same data.

    python bench/quick_compare.py [--threads 2] [--repeat 15] [--json] [--plot FILE.png]
"""
import sys

from fastloss.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--losses", "cross_entropy,binary_cross_entropy_with_logits,mse_loss",
                   "--sizes", "medium", "--simd", "all", *sys.argv[1:]]))
