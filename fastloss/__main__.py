"""Command line: ``python -m fastloss info``."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastloss",
                                     description="fastloss: fast fused losses")
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="version, OpenMP, threads, SIMD level, backends")
    p_info.add_argument("--json", action="store_true", help="print the configuration as JSON")
    args = parser.parse_args(argv)
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
