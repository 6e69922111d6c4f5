"""explorer bench latency: the zoo on one backend, repeated and interleaved in one run.

Each model is built, fused and exported once (those seconds are the cost of one
candidate in a search), then every repeat times every model in turn under the standard
protocol, so slow drifts of a shared machine hit all models alike. Reported: each model's
median over repeats, the CV of its per-repeat medians (target under 3%), and its latency
ratio to MobileNetV3-L beside the paper's iPhone 12 ratio.
"""
from __future__ import annotations

import os
import statistics
import time
from typing import Any

from explorer.bench import environment
from explorer.measure.timing import Protocol
from explorer.paper import FAMILY_LATENCY_MS

#: the paper's iPhone 12 Core ML latencies (ms)
PAPER_MS = FAMILY_LATENCY_MS
REFERENCE = "mobilenetv3_large_100"
TARGET_CV = 0.03
PROTOCOL = Protocol()


def run_bench(models: list[str], backend: str = "ort", threads: int = 1, repeats: int = 5,
              protocol: Protocol | None = None, progress: bool = True) -> dict[str, Any]:
    from tqdm import tqdm

    from explorer.candidate import resolve
    from explorer.errors import BackendError
    from explorer.export import example_input
    from explorer.measure.backends.base import check_threads
    from explorer.measure.backends.registry import get_backend
    from explorer.measure.timing import time_runner

    protocol = protocol or PROTOCOL
    impl = get_backend(backend)
    if not impl.runs_models:
        raise BackendError(f"bench latency runs models itself; backend {backend!r} does "
                           f"not (use ort, torch, torch-compile or cuda)")
    impl.check()
    check_threads(threads)
    clock = impl.clock_for(threads, protocol)
    load_before = os.getloadavg()
    runners, seconds = {}, {}
    for name in tqdm(models, desc="prepare", disable=not progress, leave=False):
        t0 = time.perf_counter()
        candidate = resolve(name)
        candidate.model  # noqa: B018 - build
        t1 = time.perf_counter()
        module = candidate.deployed
        t2 = time.perf_counter()
        runners[name] = impl.runner(module, example_input(candidate), threads, name, clock)
        t3 = time.perf_counter()
        first = time_runner(runners[name], protocol)  # also the first repeat's warm-up
        t4 = time.perf_counter()
        seconds[name] = {"build": t1 - t0, "fuse": t2 - t1, "export": t3 - t2,
                         "time": t4 - t3, "total": t4 - t0, "samples": first.samples}
    medians: dict[str, list[float]] = {name: [] for name in models}
    bar = tqdm(total=repeats * len(models), desc="repeats", disable=not progress, leave=False)
    for _ in range(repeats):
        for name in models:
            medians[name].append(time_runner(runners[name], protocol).median_ms)
            bar.update()
    bar.close()
    rows = {}
    for name in models:
        m = medians[name]
        cv = statistics.stdev(m) / statistics.fmean(m) if len(m) > 1 else 0.0
        row: dict[str, Any] = {"median_ms": statistics.median(m), "cv_over_repeats": cv,
                               "repeat_medians_ms": m, "seconds_per_candidate": seconds[name]}
        if REFERENCE in medians:
            ratios = [a / b for a, b in zip(m, medians[REFERENCE], strict=True)]
            row["ratio_vs_mbv3"] = statistics.median(ratios)
            if name in PAPER_MS:
                row["paper_iphone12_ms"] = PAPER_MS[name]
                row["paper_ratio_vs_mbv3"] = PAPER_MS[name] / PAPER_MS[REFERENCE]
        rows[name] = row
    worst = max(r["cv_over_repeats"] for r in rows.values())
    return {"backend": impl.name, "threads": threads, "clock": clock, "repeats": repeats,
            "resolution": 224, "models": rows, "max_cv_over_repeats": worst,
            "target_cv": TARGET_CV, "cv_target_met": worst < TARGET_CV,
            "protocol": protocol.to_dict(), **environment(load_before)}
