"""The objective: a trial becomes a spec, the spec a measured row (or an identical earlier
trial's), the row user attributes, a latency constraint and the objective value(s)."""
from __future__ import annotations

import math
import os
import socket
import sys
import time
from typing import Any

from explorer.errors import ExplorerError
from explorer.search._config import METRICS, SearchConfig
from explorer.spec import NetworkSpec

#: user attributes copied from a measured trial to a later trial with the same spec
MEASURED = ("params", "macs", "flops", "latency_ms", "latency_iqr_ms", "latency_cv", "backend",
            "threads", "fingerprint", "lut_measured_units", "proxy", "proxy_name",
            "proxy_seconds",
            *(f"seconds_{m}" for m in METRICS))


def shape_columns(spec: NetworkSpec) -> dict[str, Any]:
    """Human-readable columns: stage widths and depths, SE count, resolution."""
    widths = [s.width for s in spec.stages]
    return {"widths": "-".join(map(str, widths)), "depths": "-".join(map(str, spec.depths)),
            "se_blocks": sum(b.se for _, _, b in spec.iter_blocks()),
            "resolution": spec.resolution}


def set_latency_constraint(trial: Any, excess_ms: float) -> None:
    """Store ``latency - budget`` (<= 0: feasible) as the trial's one constraint, in the
    list form (system attribute ``constraints``) that Optuna's samplers and
    ``trial.constraints`` read and that optuna-dashboard shows: the per-name form
    ``trial.set_constraint`` writes is invisible to the dashboard (0.21 reads only the
    list), where every trial would then look feasible. One form only, so a violation is
    never counted twice."""
    trial.storage.set_trial_system_attr(trial._trial_id, "constraints", [float(excess_ms)])


class Objective:
    """Callable objective: spec from the trial, measurement (or a copy of an identical
    earlier trial's), user attributes, constraint, objective value(s)."""

    def __init__(self, config: SearchConfig) -> None:
        self.config = config
        self._seen: dict[str, dict[str, Any]] = {}
        self.completed = 0
        self.errors: list[str] = []

    def __call__(self, trial: Any) -> float | tuple[float, float]:
        cfg = self.config
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        trial.set_user_attr("sampler_seed", getattr(trial.study.sampler, "trial_seed", None))
        spec = cfg.space.suggest(trial)
        attrs = {"spec_hash": spec.hash, "spec": spec.to_json(indent=None), **shape_columns(spec)}
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        row, twin = self._known(trial, spec.hash)
        if row is None:
            try:
                row = self._measure(spec)
            except Exception as exc:  # recorded on the trial; optimize(catch=...) goes on
                error = f"{type(exc).__name__}: {exc}"
                trial.set_user_attr("error", error)
                self.errors.append(error)
                from tqdm import tqdm

                tqdm.write(f"trial {trial.number} failed: {error}", file=sys.stderr)
                raise
        else:
            trial.set_user_attr("duplicate_of", twin)
        self._seen[spec.hash] = {**row, "number": twin if twin is not None else trial.number}
        for key in MEASURED:
            if key in row and not (twin is not None and key.startswith("seconds_")):
                trial.set_user_attr(key, row[key])
        latency, proxy = float(row["latency_ms"]), float(row["proxy"])
        feasible = cfg.budget_ms is None or latency <= cfg.budget_ms
        trial.set_user_attr("feasible", feasible)
        if cfg.budget_ms is not None:
            set_latency_constraint(trial, latency - cfg.budget_ms)
        self.completed += 1
        return (proxy, latency) if cfg.objective == "multi" else proxy

    def _known(self, trial: Any, spec_hash: str) -> tuple[dict[str, Any] | None, int | None]:
        """An identical spec measured before, here or by another worker: reuse it."""
        if spec_hash in self._seen:
            row = self._seen[spec_hash]
            return row, row["number"]
        from optuna.trial import TrialState

        for t in trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if t.user_attrs.get("spec_hash") == spec_hash and "latency_ms" in t.user_attrs:
                return {k: t.user_attrs[k] for k in MEASURED if k in t.user_attrs}, t.number
        return None, None

    def _measure(self, spec: NetworkSpec) -> dict[str, Any]:
        """Each metric in turn (one candidate: the model is built once), timed, so the
        trials frame shows where a trial's seconds go."""
        from explorer.candidate import from_spec
        from explorer.measure import measure

        candidate, row = from_spec(spec), {}
        for metric in self.config.metrics:
            start = time.perf_counter()
            row.update(measure(candidate, [metric], **self.config.options))
            row[f"seconds_{metric}"] = round(time.perf_counter() - start, 4)
        for key in ("latency_ms", "proxy"):
            if not isinstance(row.get(key), (int, float)) or not math.isfinite(row[key]):
                raise ExplorerError(f"metric {key} gave {row.get(key)!r}")
        return row
