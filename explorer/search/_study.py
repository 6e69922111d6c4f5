"""Study bookkeeping: the settings a study stores and checks on resume, opening it, and
counting its trials."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from explorer.budget import ATTRS as BUDGET_ATTRS
from explorer.budget import Budget, BudgetRef, resolve_budget
from explorer.errors import BudgetError, ExplorerError
from explorer.search._config import SearchConfig
from explorer.search._storage import is_storage, open_storage, sqlite_file
from explorer.search_space import SearchSpace

#: study attributes a resume must match: everything that changes a trial's numbers
CHECKED = ("budget_ms", "budget_ref", "budget_factor", "objective", "backend", "space_dims",
           "space_hash", "metrics", "threads", "proxy", "proxy_config", "proxy_seed",
           "versions", "fingerprint")


def space_hash(space: SearchSpace) -> str:
    """Content hash of a space (base network and every dimension), not of its file."""
    dims = [dataclasses.asdict(space.dims[k]) for k in sorted(space.dims)]
    canon = json.dumps({"base": space.base.hash, "dims": dims}, sort_keys=True, default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def study_attrs(config: SearchConfig) -> dict[str, Any]:
    """The study's settings: informational ones (space file, base) and :data:`CHECKED`."""
    from explorer.machine import fingerprint, versions
    from explorer.measure.backends.registry import get_backend
    from explorer.measure.proxy import get_proxy

    opts = config.options
    backend = get_backend(config.backend)
    proxy = get_proxy(opts.get("proxy", "default"), **(opts.get("proxy_options") or {}))
    budget = (dict.fromkeys(BUDGET_ATTRS) if config.budget_ms is None else
              Budget(config.budget_ms, config.budget_ref, config.budget_ref_ms).attrs())
    return {**budget, "objective": config.objective,
            "backend": config.backend, "space": config.space.source,
            "space_base": config.space.base_ref, "space_dims": sorted(config.space.dims),
            "space_hash": space_hash(config.space), "metrics": sorted(config.metrics),
            "threads": opts.get("threads", 1) if backend.uses_threads else None,
            "proxy": proxy.name,
            "proxy_config": json.loads(json.dumps(proxy.config(), default=str)),
            "proxy_seed": opts.get("seed", config.seed), "versions": versions(),
            "fingerprint": fingerprint() if backend.machine_bound else None}


def _stored_attrs(storage: str | Any, study: str) -> dict[str, Any]:
    """The user attributes of a stored study ({} when there is none), creating nothing:
    a missing SQLite file stays missing."""
    import optuna

    path = None if is_storage(storage) else sqlite_file(storage)
    if path is not None and not path.is_file():
        return {}
    try:
        return optuna.load_study(study_name=study, storage=open_storage(storage)).user_attrs
    except KeyError:
        return {}


def resolve_study_budget(ref: BudgetRef, storage: str | Any, study: str,
                         options: dict[str, Any]) -> Budget:
    """The budget of a search with a reference: what the study stored when it was made
    with the same reference (a resumed study keeps its number), else the reference
    measured now with the search's options, before the study is created or touched. A
    study made under another budget is refused before anything is measured."""
    stored = Budget.from_attrs(_stored_attrs(storage, study))
    if stored is None:
        return resolve_budget(ref, **options)
    if stored.ref != ref:
        given = (f"--budget-ref {stored.ref}" if stored.ref is not None
                 else f"--budget-ms {stored.ms:g}")
        raise BudgetError(f"study {study!r} was made with the budget {stored.describe()} "
                          f"({given}), not --budget-ref {ref}: resume it with {given}, or "
                          "use another --study name")
    return stored


def open_study(config: SearchConfig, create: bool) -> Any:
    import optuna

    storage = open_storage(config.storage, config.heartbeat_s)
    directions = ["maximize", "minimize"] if config.objective == "multi" else ["maximize"]
    if not create:
        return optuna.load_study(study_name=config.study, storage=storage)
    study = optuna.create_study(study_name=config.study, storage=storage,
                                directions=directions, load_if_exists=True)
    if [d.name.lower() for d in study.directions] != directions:
        raise ExplorerError(f"study {config.study!r} was created with another objective; "
                            f"use another --study name")
    wanted = study_attrs(config)
    stored = study.user_attrs
    differ = [f"{key}={stored[key]!r}, not {wanted[key]!r}" for key in CHECKED
              if key in stored and stored[key] != wanted[key]]
    if differ:
        raise ExplorerError(f"study {config.study!r} was created with other settings "
                            f"({'; '.join(differ)}): its trials' numbers would not be "
                            "comparable; resume with the same options, or use another "
                            "--study name to start a new search")
    for key, value in wanted.items():
        if key not in stored:
            study.set_user_attr(key, value)
    return study


def trial_counts(study: Any) -> tuple[int, int, int]:
    """(done, running, waiting): done = completed trials plus trials that failed with a
    recorded error (heartbeat-failed ones are re-queued, so they do not count)."""
    from optuna.trial import TrialState

    done = running = waiting = 0
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL
                                              and "error" in t.user_attrs):
            done += 1
        elif t.state == TrialState.RUNNING:
            running += 1
        elif t.state == TrialState.WAITING:
            waiting += 1
    return done, running, waiting
