"""explorer bench startup: how fast the CLI answers (target: <= 0.3 s wall).

Times fresh ``python -m explorer`` processes answering ``--help``, ``search --help``,
``--version`` and an argument error, several times each (median and worst wall time, and
the CPU seconds the process used: on a loaded shared machine the wall time also holds the
time spent waiting for a core, the CPU time does not), and lists
the heavy libraries (torch, numpy, pandas, optuna, scipy) that building the parser
imports -- none, so argparse answers before any of them loads.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

from explorer.bench import environment, write_json
from explorer.commands._common import add_command

TARGET_S = 0.3
COMMANDS = (["--help"], ["search", "--help"], ["--version"], ["measure", "--no-such-flag"])
HEAVY = ("torch", "numpy", "pandas", "optuna", "scipy")


def run_bench(repeats: int = 5) -> dict[str, Any]:
    load_before = os.getloadavg()
    rows = {}
    for argv in COMMANDS:
        seconds, cpu = [], []
        for _ in range(repeats):
            before = _children_cpu()
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "explorer", *argv], capture_output=True)
            seconds.append(time.perf_counter() - start)
            cpu.append(_children_cpu() - before)
        rows[" ".join(argv)] = {"median_s": statistics.median(seconds), "max_s": max(seconds),
                                "median_cpu_s": statistics.median(cpu),
                                "target_met": statistics.median(seconds) <= TARGET_S}
    code = ("import sys, explorer.cli as c; c.build_parser(); "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    return {"commands": rows, "repeats": repeats, "target_s": TARGET_S,
            "heavy_modules_imported_by_the_parser": [m for m in heavy.split(",") if m],
            "target_met": all(r["target_met"] for r in rows.values()),
            **environment(load_before)}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "startup", help="CLI answer time (--help, --version, errors)",
                    description=__doc__)
    p.add_argument("--repeats", type=int, default=5, help="runs per command (default 5)")
    p.add_argument("--out", default="results/bench/startup.json",
                   help="result JSON (default results/bench/startup.json)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from explorer.commands._common import require_positive
    from explorer.files import check_writable

    require_positive(args.repeats, "--repeats")
    check_writable(args.out, "--out")
    result = run_bench(args.repeats)
    write_json(args.out, result)
    for argv, row in result["commands"].items():
        print(f"explorer {argv:<24} median {row['median_s']:.3f} s wall "
              f"({row['median_cpu_s']:.3f} s CPU), max {row['max_s']:.3f} s")
    print(f"target <= {TARGET_S} s: {'met' if result['target_met'] else 'missed'}; heavy "
          f"modules imported building the parser: "
          f"{result['heavy_modules_imported_by_the_parser'] or 'none'}; wrote {args.out}")
    return 0
