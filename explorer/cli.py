"""Command-line interface: a thin layer over the Python API.

Each subcommand lives in ``explorer/commands/<name>.py`` with ``register(subparsers)``;
this module only wires them up and turns :class:`ExplorerError` into one clear message
and exit status 2 (never a traceback for bad input).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

#: subcommand modules, in the order ``explorer --help`` lists them
COMMANDS = ["measure", "roadmap", "proxy", "latency", "lut", "export", "search", "pareto",
            "report", "dashboard", "device", "profile", "bench"]

EPILOG = """examples:
  explorer roadmap --plot                  # the paper's roadmap table + figure -> results/
  explorer measure --model repvit_m0_9 --metrics params,macs,latency,proxy --json
  explorer measure --timm efficientnet_b0 --backend torch --metrics latency
  explorer proxy validate --reference published-mobile --proxies default,params,naswot
  explorer lut build && explorer lut validate --samples 30 --json
  explorer search --space search_spaces/repvit.yaml --budget-ms 25 --backend lut --trials 100
  explorer pareto --study NAME && explorer report --study NAME
  explorer dashboard --study NAME              # the study in optuna-dashboard
  explorer export --model repvit_m0_9 --format coreml --out packages/
  explorer roadmap --backend ort,model:iphone12   # desktop CPU beside a predicted iPhone 12
  explorer profile --model repvit_m0_9 --device iphone12  # where the phone's time goes
run 'explorer COMMAND --help' for each command's options and examples."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="explorer", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Latency-aware architecture exploration: replay the RepViT roadmap, "
                    "measure any model on real runtimes, search under a latency budget.")
    from explorer import __version__

    parser.add_argument("--version", action="version", version=f"explorer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"explorer.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from explorer.errors import ExplorerError

    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from explorer.machine import set_machine_tag

        set_machine_tag(getattr(args, "machine_tag", None))
        if getattr(args, "cache_dir", None):  # refused up front, whether a metric uses it
            from explorer.files import check_writable

            check_writable(args.cache_dir, "--cache-dir", folder=True)
        return int(args.func(args) or 0)
    except ExplorerError as exc:
        print(f"explorer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"explorer {args.command}: interrupted; finished work is kept (studies, "
              "caches and result files are written whole), so re-running the same command "
              "continues", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
