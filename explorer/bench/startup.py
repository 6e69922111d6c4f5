"""explorer bench startup: how fast the CLI answers (target: <= 0.3 s wall).

Times fresh ``python -m explorer`` processes answering ``--help``, ``search --help``,
``--version`` and an argument error, several times each (median and worst wall time, and
the CPU seconds the process used: on a loaded shared machine the wall time also holds the
time spent waiting for a core, the CPU time does not), and lists
the heavy libraries (torch, numpy, pandas, optuna, scipy) that building the parser
imports -- none, so argparse answers before any of them loads.
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

from explorer.bench import environment

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
            subprocess.run([sys.executable, "-m", "explorer", *argv], capture_output=True,
                           check=False)  # an argument error exits 2, as it should
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
