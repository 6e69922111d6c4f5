"""``lut[:BACKEND]`` and ``lut:device:NAME``: latency predicted from a table of unit
latencies (:mod:`explorer.measure.lut`, :mod:`explorer.measure.devicelut`)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.errors import BackendError, ExplorerError
from explorer.measure.backends.base import Backend
from explorer.measure.device import check_device
from explorer.measure.devicelut import load
from explorer.measure.lut import LatencyTable, load_table

if TYPE_CHECKING:
    from explorer.candidate import Candidate
    from explorer.measure.timing import Protocol


class LutBackend(Backend):
    """``lut`` / ``lut:BACKEND``: the predictor, for fast search (specs only)."""

    cacheable = False  # a prediction is cheaper than a cache read of its inputs
    runs_models = False

    def __init__(self, base: str = "ort", table: str | Path | None = None) -> None:
        self.base = base
        self.table_file = table
        self.name = "lut" if base == "ort" else f"lut:{base}"

    def table(self, threads: int, cache_dir: Path) -> LatencyTable:
        return load_table(self.base, threads, cache_dir, self.table_file)

    def latency(self, candidate: Candidate, threads: int, protocol: Protocol,
                cache_dir: Path) -> dict[str, Any]:
        if candidate.spec is None:
            raise BackendError(f"backend {self.name!r} predicts spec-built models only; "
                               f"measure {candidate.name} with --backend {self.base}")
        table = self.table(threads, cache_dir)
        before = len(table.entries)
        ms = table.predict(candidate.spec)
        return {"latency_ms": ms, "latency_iqr_ms": None, "latency_cv": None,
                "samples": None, "lut_measured_units": len(table.entries) - before,
                "lut_calibrated": table.calibrated}


class DeviceLutBackend(LutBackend):
    """``lut:device:NAME``: sums of the units measured on the device, calibrated."""

    uses_threads = False
    machine_bound = False  # measured on the device, whichever host imported the table

    def __init__(self, device: str) -> None:
        try:
            check_device(device)
        except ExplorerError as exc:
            raise BackendError(str(exc)) from None
        super().__init__(f"device:{device}")
        self.device = device
        self.name = f"lut:device:{device}"

    def table(self, threads: int, cache_dir: Path) -> LatencyTable:
        return load(self.device, cache_dir)

    def latency(self, candidate: Candidate, threads: int, protocol: Protocol,
                cache_dir: Path) -> dict[str, Any]:
        row = super().latency(candidate, threads, protocol, cache_dir)
        return {**row, "lut_calibration": load(self.device, cache_dir).report["summary"]}
