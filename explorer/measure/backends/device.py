"""``device:NAME``: latencies measured on a device explorer cannot drive and imported with
``explorer latency import`` (:mod:`explorer.measure.device`)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.errors import BackendError, ExplorerError
from explorer.measure.backends.base import Backend
from explorer.measure.device import check_device, lookup

if TYPE_CHECKING:
    from explorer.candidate import Candidate
    from explorer.measure.timing import Protocol


class DeviceBackend(Backend):
    """``device:NAME``: latencies imported with ``explorer latency import``."""

    uses_threads = False
    cacheable = False  # the imported rows are the cache
    runs_models = False
    machine_bound = False  # measured on the device, whichever host imported them

    def __init__(self, device: str) -> None:
        try:
            self.device = check_device(device)
        except ExplorerError as exc:
            raise BackendError(str(exc)) from None
        self.name = f"device:{device}"

    def latency(self, candidate: Candidate, threads: int, protocol: Protocol,
                cache_dir: Path) -> dict[str, Any]:
        row = lookup(candidate, self.device, cache_dir)
        if row is None:
            raise BackendError(
                f"no imported latency for {candidate.name} (deploy hash {candidate.key}, "
                f"{candidate.resolution} px) on device {self.device!r}; export it with "
                f"'explorer export --format coreml', profile it, then 'explorer latency "
                f"import FILE.csv --device {self.device}'")
        return {"latency_ms": row["latency_ms"], "latency_iqr_ms": None, "latency_cv": None,
                "samples": None, "source": row["source"], "versions": None,
                "fingerprint": None}
