"""What a search needs, in one picklable object (workers are spawned processes)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from explorer.budget import BudgetRef
from explorer.search._storage import DEFAULT_STORAGE
from explorer.search_space import SearchSpace

OBJECTIVES = ("proxy", "multi")
METRICS = ("params", "macs", "flops", "latency", "proxy")  # latency and proxy are required
@dataclass(frozen=True)
class SearchConfig:
    """Everything a worker process needs (picklable: workers are spawned)."""

    space: SearchSpace
    budget_ms: float | None
    trials: int
    study: str
    storage: str | Any = DEFAULT_STORAGE  # an RDB URL or an Optuna storage object
    objective: str = "proxy"
    sampler: str | Any = "tpe"  # a name in SAMPLERS or an Optuna sampler object
    seed: int = 0
    workers: int = 1
    heartbeat_s: int = 10
    options: dict[str, Any] = field(default_factory=dict)  # measurement options
    #: "module:function" each worker process calls first (e.g. to register a custom
    #: metric in METRICS: spawned workers do not inherit runtime registrations)
    worker_init: str | None = None
    metrics: tuple[str, ...] = METRICS  # what each trial measures
    #: (device, inode) of the SQLite file when the search began: a change means the
    #: database was deleted or replaced under the running search
    storage_id: tuple[int, int] | None = None
    #: where ``budget_ms`` came from: a reference model and factor, and its latency
    budget_ref: BudgetRef | None = None
    budget_ref_ms: float | None = None

    @property
    def backend(self) -> str:
        return self.options.get("backend", "ort")
