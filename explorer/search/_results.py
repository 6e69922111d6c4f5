"""Results: a stored study as tables (trials, best, Pareto front, fastest), the spec of any
trial, and a JSON summary."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from explorer.budget import Budget
from explorer.errors import ExplorerError, StorageError
from explorer.pareto import pareto_front
from explorer.search._objective import MEASURED
from explorer.search._storage import (
    describe,
    is_storage,
    open_storage,
    quiet_optuna,
    sqlite_file,
    storage_url,
)
from explorer.search._study import trial_counts
from explorer.spec import NetworkSpec


@dataclass
class SearchResult:
    """A finished (or loaded) study with tables for people and notebooks."""

    study: Any
    budget_ms: float | None
    objective: str
    floor_ms: float | None = None
    elapsed_s: float = 0.0
    new_trials: int = 0

    @property
    def budget(self) -> Budget | None:
        """The budget with its origin, as the study stored it."""
        stored = Budget.from_attrs(self.study.user_attrs)
        return stored or (None if self.budget_ms is None else Budget(self.budget_ms))

    def trials_frame(self) -> pd.DataFrame:
        """One row per trial: state, proxy, latency, feasibility, size, shape, Optuna
        params (``p_*``), spec hash and error, if any."""
        rows = []
        for t in self.study.get_trials(deepcopy=False):
            a = t.user_attrs
            row = {"trial": t.number, "state": t.state.name, "proxy": a.get("proxy"),
                   "proxy_name": a.get("proxy_name"),
                   "latency_ms": a.get("latency_ms"), "latency_iqr_ms": a.get("latency_iqr_ms"),
                   "feasible": a.get("feasible"), "params": a.get("params"),
                   "macs": a.get("macs"), "flops": a.get("flops"), "widths": a.get("widths"),
                   "depths": a.get("depths"),
                   "se_blocks": a.get("se_blocks"), "resolution": a.get("resolution"),
                   "backend": a.get("backend"), "spec_hash": a.get("spec_hash"),
                   "duplicate_of": a.get("duplicate_of"), "error": a.get("error"),
                   **{k: a.get(k) for k in MEASURED if k.startswith("seconds_")}}
            row.update({f"p_{k}": v for k, v in t.params.items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def _complete(self) -> pd.DataFrame:
        df = self.trials_frame()
        if df.empty:
            return df
        df = df[(df.state == "COMPLETE") & df.latency_ms.notna() & df.proxy.notna()]
        return df.drop_duplicates("spec_hash")

    def best(self, n: int = 5) -> pd.DataFrame:
        """The ``n`` best feasible architectures by proxy (empty if none is feasible)."""
        df = self._complete()
        if df.empty:
            return df
        df = df[df.feasible.astype(bool)]
        return df.sort_values(["proxy", "latency_ms"], ascending=[False, True]).head(n)

    def pareto(self) -> pd.DataFrame:
        """Feasible trials no other feasible trial beats on both proxy and latency,
        fastest first."""
        df = self._complete()
        if df.empty:
            return df
        return pareto_front(df[df.feasible.astype(bool)], "latency_ms", "proxy")

    def fastest(self) -> pd.Series | None:
        """The fastest measured trial, feasible or not (what to report when none is)."""
        df = self._complete()
        return None if df.empty else df.sort_values("latency_ms").iloc[0]

    def spec(self, number: int) -> NetworkSpec:
        return spec_of(self.study, number)

    @property
    def n_done(self) -> int:
        return trial_counts(self.study)[0]


def spec_of(study: Any, number: int) -> NetworkSpec:
    """Rebuild the exact spec a trial measured."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    if not trials:
        raise ExplorerError(f"study {study.study_name!r} has no trial {number} "
                            f"(it has {len(study.trials)} trials)")
    text = trials[0].user_attrs.get("spec")
    if not text:
        raise ExplorerError(f"trial {number} of study {study.study_name!r} stored no spec "
                            f"(state {trials[0].state.name})")
    return dataclasses.replace(NetworkSpec.from_json(text),
                               name=f"{study.study_name}-trial{number}")


def load_result(storage: str | Any | None, study: str) -> SearchResult:
    """Open an existing study for tables and exports (``storage``: a URL, a path or an
    Optuna storage object)."""
    import optuna

    quiet_optuna()
    path = None if is_storage(storage) else sqlite_file(storage_url(storage))
    if path is not None and not path.is_file():  # reading must not create an empty database
        raise StorageError(f"no study database at {path}: run 'explorer search' first, or "
                           "point --storage at the study's database")
    st = open_storage(storage)
    try:
        s = optuna.load_study(study_name=study, storage=st)
    except KeyError:
        names = [x.study_name for x in optuna.get_all_study_summaries(st)]
        where = describe(st if is_storage(st) else storage_url(storage))
        raise ExplorerError(f"no study {study!r} in {where}; "
                            f"studies there: {', '.join(names) or 'none'}") from None
    return SearchResult(s, s.user_attrs.get("budget_ms"), s.user_attrs.get("objective",
                                                                           "proxy"))


def trial_spec(storage: str | None, study: str, trial_number: int) -> NetworkSpec:
    """The spec of trial ``trial_number`` of a stored study (for ``explorer export``)."""
    return load_result(storage, study).spec(trial_number)


def trial_candidate(storage: str | None, study: str, trial_number: int | None) -> Any:
    """A :class:`~explorer.candidate.Candidate` for a stored trial (``explorer export``)."""
    from explorer.candidate import from_spec

    if trial_number is None:
        raise ExplorerError("--study needs --trial N (see 'explorer search --study NAME "
                            "--show' for the best trials)")
    return from_spec(trial_spec(storage, study, trial_number), source="search")


def trial_failure(storage: str | None, study: str, trial_number: int) -> str | None:
    """The error a stored trial failed with (its spec was never measured), else None."""
    trials = [t for t in load_result(storage, study).study.get_trials(deepcopy=False)
              if t.number == trial_number]
    if not trials or trials[0].state.name != "FAIL":
        return None
    return str(trials[0].user_attrs.get("error", "no error recorded"))


def summary(result: SearchResult) -> dict[str, Any]:
    """Plain numbers for JSON: counts, best feasible, fastest."""
    best = result.best(1)
    fastest = result.fastest()
    return {"trials_done": result.n_done, "budget_ms": result.budget_ms,
            "feasible": int(result._complete().feasible.astype(bool).sum())
            if not result._complete().empty else 0,
            "best_proxy": None if best.empty else float(best.proxy.iloc[0]),
            "best_latency_ms": None if best.empty else float(best.latency_ms.iloc[0]),
            "fastest_latency_ms": None if fastest is None else float(fastest.latency_ms)}
