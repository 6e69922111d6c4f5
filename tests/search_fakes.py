"""Fast, deterministic stand-ins for the metrics a search measures (computed from the
spec, no torch), registered into METRICS by the search tests and their worker processes."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from explorer.measure import METRICS

CALLS_FILE = "SEARCH_FAKES_CALLS"  # env var: append one line per latency measurement
SLEEP = "SEARCH_FAKES_SLEEP"  # env var: seconds each latency measurement takes
HANG = "SEARCH_FAKES_HANG"  # env var: a file holding a pid whose measurements never end


def _work(candidate: Any) -> float:
    """A MACs-like count from the spec: width^2 x pixels per block."""
    spec = candidate.spec
    pixels = (spec.resolution / 4) ** 2
    total, prev = 0.0, spec.stem.widths[-1]
    for stage in spec.stages:
        if stage.downsample is not None:
            pixels /= 4
            total += prev * stage.downsample.width * pixels * 3
            prev = stage.downsample.width
        for block in stage.blocks:
            total += prev * block.width * pixels * (2 + block.se)
            prev = block.width
    return total


def params(candidate: Any, **_: Any) -> dict[str, Any]:
    return {"params": int(sum(b.width ** 2 for _, _, b in candidate.spec.iter_blocks()))}


def macs(candidate: Any, **_: Any) -> dict[str, Any]:
    return {"macs": int(_work(candidate))}


def latency(candidate: Any, backend: str = "ort", threads: int = 1, **_: Any) -> dict[str, Any]:
    if os.environ.get(CALLS_FILE):
        with open(os.environ[CALLS_FILE], "a") as fh:
            fh.write(candidate.spec.deploy_hash + "\n")
    time.sleep(float(os.environ.get(SLEEP, "0")))
    while _hangs():  # a worker a test is about to kill stays inside its trial
        time.sleep(0.05)
    ms = _work(candidate) / 2e8
    return {"latency_ms": ms, "latency_iqr_ms": ms / 50, "latency_cv": 0.01,
            "backend": backend, "threads": threads}


def _hangs() -> bool:
    path = os.environ.get(HANG)
    try:
        return bool(path) and int(Path(path).read_text().strip() or 0) == os.getpid()
    except (OSError, ValueError):
        return False


def proxy(candidate: Any, proxy: str = "default", **_: Any) -> dict[str, Any]:
    spec = candidate.spec
    value = math.log(_work(candidate)) + 0.3 * sum(b.se for _, _, b in spec.iter_blocks()) ** 0.5
    if spec.resolution == 999:  # never in a space: lets a test make one trial crash
        raise RuntimeError("boom")
    return {"proxy": value, "proxy_name": proxy, "proxy_seconds": 0.0}


def install() -> None:
    """Point METRICS at this module (call in each worker process too)."""
    for name in ("params", "macs", "latency", "proxy"):
        METRICS[name] = f"{__name__}:{name}"


def install_for_test(monkeypatch: Any) -> None:
    """Like :func:`install`, undone after the test."""
    for name in ("params", "macs", "latency", "proxy"):
        monkeypatch.setitem(METRICS, name, f"{__name__}:{name}")
