"""Benchmarks behind `explorer bench`; each writes JSON under results/bench/."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def environment(load_before: tuple[float, ...]) -> dict[str, Any]:
    """Where and under what load a benchmark ran: every result JSON carries this."""
    from explorer.machine import machine_info, versions

    return {"load_avg_before": list(load_before), "load_avg_after": list(os.getloadavg()),
            "machine": machine_info(), "versions": versions()}


def write_json(path: str | Path, result: dict[str, Any]) -> None:
    """Write a benchmark result atomically (never a half-written JSON)."""
    from explorer.files import atomic_write_text

    atomic_write_text(Path(path), json.dumps(result, indent=2, default=str) + "\n")
