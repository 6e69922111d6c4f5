"""explorer bench cost: what one candidate costs on a real runtime (default ort), by step.

For every zoo model: build (the training-form module), fuse (the deployed form), export
(ONNX export plus the runtime's session), timing (the protocol's runs) -- measured at one
thread, then for the same candidate at a second thread count, where the export is not
repeated (the ONNX is kept per deployed module; only the session is made anew). Build and
fuse are paid once per candidate, so the second measurement shows them as ~0 too.
"""
from __future__ import annotations

import os
import statistics
from typing import Any

from explorer.bench import environment

STEPS = ("build", "fuse", "export", "time", "total")


def run_bench(models: list[str], backend: str = "ort", threads: tuple[int, int] = (1, 2),
              progress: bool = True) -> dict[str, Any]:
    from tqdm import tqdm

    from explorer.candidate import resolve
    from explorer.measure.backends.base import measure_with
    from explorer.measure.backends.registry import get_backend

    load_before = os.getloadavg()
    rows = {}
    for name in tqdm(models, desc="cost", disable=not progress):
        candidate = resolve(name)
        rows[name] = {}
        for t in threads:
            row = measure_with(candidate, get_backend(backend), t, no_cache=True)
            rows[name][f"threads_{t}"] = {**{k: round(row["seconds"][k], 3) for k in STEPS},
                                          "latency_ms": row["latency_ms"],
                                          "cpu_share": row.get("cpu_share")}
    first, second = (f"threads_{t}" for t in threads)
    return {"backend": backend, "threads": list(threads), "models": rows,
            "median_seconds": {label: {k: statistics.median(r[label][k] for r in rows.values())
                                       for k in STEPS} for label in (first, second)},
            **environment(load_before)}
