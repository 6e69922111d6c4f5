"""explorer bench: benchmarks that check the speed and quality targets and write JSON
(results/bench/<name>.json by default; every file records the machine, its load and the
library versions, so numbers from different runs can be compared honestly).

examples:
  explorer bench latency --backend ort --repeats 5      # zoo latency vs the paper's ratios
  explorer bench proxy                                  # seconds of every zero-cost proxy
  explorer bench search --trials 100 --seed 2           # TPE vs random; trials per minute
  explorer bench device                                 # iphone12 profile vs the paper
  explorer bench counts                                 # analytic counts == fvcore, exactly
  explorer bench lut                                    # predictor on a fresh cache, 3 seeds
  explorer bench scale                                  # 1,000-trial lut study; MO vs random
  explorer bench cost                                   # per-candidate build/fuse/export/time
  explorer bench startup                                # CLI answer time
  explorer bench latency --models repvit_m0_9 --repeats 2 --out /tmp/quick.json"""
from __future__ import annotations

import argparse
import importlib

from explorer.commands._common import add_command

BENCHMARKS = ["latency", "proxy", "search", "device", "counts", "lut", "scale", "startup",
              "cost"]


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "bench", help="benchmarks (JSON under results/bench/)",
                    description=__doc__)
    bench_sub = p.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    for name in BENCHMARKS:
        importlib.import_module(f"explorer.commands.bench_{name}").register(bench_sub)
