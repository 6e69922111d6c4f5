"""Device latency of a candidate on a backend named by the user, through the disk cache.

The backends themselves (one small interface, one module per backend, a registry by
name) live in :mod:`explorer.measure.backends`: ``ort`` (default), ``torch``,
``torch-compile``, ``cuda``, ``coreml``, ``lut`` (``lut:BACKEND`` for a table built on
another backend, ``lut:device:NAME`` for one imported from a device), ``device:NAME``
(imported measurements) and ``model:PROFILE`` (a device cost model's prediction).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.measure.backends.base import measure_with
from explorer.measure.backends.registry import get_backend
from explorer.measure.timing import Protocol

if TYPE_CHECKING:
    from explorer.candidate import Candidate


def measure_latency(candidate: Candidate, backend: str = "ort", threads: int = 1,
                    no_cache: bool = False, cache_dir: str | Path | None = None,
                    protocol: Protocol = Protocol()) -> dict[str, Any]:
    """Latency row of ``candidate`` on ``backend``: from the cache when the same model was
    measured under the same conditions, else measured (and stored atomically)."""
    return measure_with(candidate, get_backend(backend), threads, no_cache, cache_dir,
                        protocol)


def latency_metric(candidate: Candidate, backend: str = "ort", threads: int = 1,
                   no_cache: bool = False, cache_dir: str | Path | None = None,
                   **_: object) -> dict[str, Any]:
    """The ``latency`` metric for :func:`explorer.measure.measure`."""
    return measure_latency(candidate, backend, threads, no_cache, cache_dir)
