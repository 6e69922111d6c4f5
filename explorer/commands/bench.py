"""explorer bench: benchmark commands that write JSON under results/bench/.

Each benchmark lives in ``explorer/bench/<name>.py`` with ``register(subparsers)``.
Speed targets are checked here, by commands, never by timed tests."""
from __future__ import annotations

import argparse
import importlib

BENCHMARKS = ["latency", "proxy", "search"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks (JSON under results/bench/)",
                       description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    bench_sub = p.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    for name in BENCHMARKS:
        importlib.import_module(f"explorer.bench.{name}").register(bench_sub)
