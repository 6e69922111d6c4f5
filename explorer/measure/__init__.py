"""Measurements: one module per concern (complexity, latency, lut, proxy, cache).

:func:`measure` is the single entry point the CLI, the roadmap and the search use.
Metric providers are registered by name in :data:`METRICS` as ``"module:function"`` and
imported on first use, so a missing optional backend only matters when that metric is
asked for.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from explorer.errors import ExplorerError
from explorer.registry import Registry

if TYPE_CHECKING:
    from explorer.candidate import Candidate

#: metric name -> "module:function"; each function is ``fn(candidate, **options) -> dict``
#: and ignores options it does not use.
METRICS: Registry[str] = Registry("metric", ExplorerError)
METRICS.add("params", "explorer.measure.complexity:params_metric")
METRICS.add("macs", "explorer.measure.complexity:macs_metric")
METRICS.add("flops", "explorer.measure.complexity:flops_metric")
METRICS.add("proxy", "explorer.measure.proxy:proxy_metric")
METRICS.add("latency", "explorer.measure.latency:latency_metric")
METRICS.add("opcost", "explorer.measure.opcost:opcost_metric")


def metric_function(name: str) -> Callable[..., dict[str, Any]]:
    return METRICS.load(name)


def measure(candidate: Candidate, metrics: list[str] | tuple[str, ...] = ("params", "macs"),
            **options: Any) -> dict[str, Any]:
    """One flat row: ``name`` plus every requested metric's columns."""
    row: dict[str, Any] = {"name": candidate.name}
    if candidate.spec is not None:
        row["spec_hash"] = candidate.spec.hash
    for name in metrics:
        row.update(metric_function(name)(candidate, **options))
    return row
