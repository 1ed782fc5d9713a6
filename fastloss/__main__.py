"""Command line: ``python -m fastloss info``, ``bench`` and ``demo``."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastloss",
                                     description="fastloss: fast fused losses")
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="version, OpenMP, threads, SIMD level, backends")
    p_info.add_argument("--json", action="store_true", help="print the configuration as JSON")
    p_bench = sub.add_parser(
        "bench", help="time value_and_grad against NumPy, PyTorch and scikit-learn",
        description="Time fastloss's value_and_grad against the NumPy reference, PyTorch's "
                    "forward+backward and scikit-learn's losses on the same data, beside the "
                    "machine's copy bandwidth; peak memory of each call.")
    from . import _bench, _demo

    _bench.add_arguments(p_bench)
    p_demo = sub.add_parser(
        "demo", help="a fine-tuning run: noisy labels, learning rates, overfitting, L2-SP",
        description="Pre-train a small NumPy MLP on a synthetic task and fine-tune it on a "
                    "related one with few labels under several settings; print a table of "
                    "the results and the training monitor's diagnoses, and write its plots.")
    _demo.add_arguments(p_demo)
    args = parser.parse_args(argv)
    if args.command == "bench":
        return _bench.main(p_bench, args)
    if args.command == "demo":
        return _demo.main(p_demo, args)
    if args.command == "info":
        if args.json:
            import json

            from ._info import config

            print(json.dumps(config(), indent=2))
        else:
            from ._info import show_config

            show_config()
    return 0


if __name__ == "__main__":
    sys.exit(main())
