"""Measurements: one module per concern (complexity, latency, lut, proxy, cache).

:func:`measure` is the single entry point the CLI, the roadmap and the search use.
Metric providers are looked up by name in :data:`METRICS` and imported lazily, so a
missing optional backend only matters when that metric is asked for.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable

from explorer.errors import ExplorerError

if TYPE_CHECKING:
    from explorer.candidate import Candidate

#: metric name -> "module:function"; each function is ``fn(candidate, **options) -> dict``
#: and ignores options it does not use.
METRICS: dict[str, str] = {
    "params": "explorer.measure.complexity:params_metric",
    "macs": "explorer.measure.complexity:macs_metric",
    "flops": "explorer.measure.complexity:flops_metric",
    "proxy": "explorer.measure.proxy:proxy_metric",
    "latency": "explorer.measure.latency:latency_metric",
    "opcost": "explorer.measure.opcost:opcost_metric",
}


def metric_function(name: str) -> Callable[..., dict[str, Any]]:
    if name not in METRICS:
        raise ExplorerError(f"unknown metric {name!r}; choose from {', '.join(METRICS)}")
    module, func = METRICS[name].split(":")
    return getattr(importlib.import_module(module), func)


def measure(candidate: Candidate, metrics: list[str] | tuple[str, ...] = ("params", "macs"),
            **options: Any) -> dict[str, Any]:
    """One flat row: ``name`` plus every requested metric's columns."""
    row: dict[str, Any] = {"name": candidate.name}
    if candidate.spec is not None:
        row["spec_hash"] = candidate.spec.hash
    for name in metrics:
        row.update(metric_function(name)(candidate, **options))
    return row
