"""The entry point: check the arguments, the budget against the space, then run the
workers and return the result."""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

from explorer.budget import Budget, BudgetRef
from explorer.errors import BudgetError, ExplorerError
from explorer.search._config import METRICS, OBJECTIVES, SearchConfig
from explorer.search._objective import shape_columns
from explorer.search._progress import ProgressBar
from explorer.search._results import SearchResult
from explorer.search._sampler import check_sampler
from explorer.search._storage import check_storage, check_storage_ref, file_id, quiet_optuna
from explorer.search._study import open_study, resolve_study_budget, trial_counts
from explorer.search._worker import run_processes, run_worker
from explorer.search_space import SearchSpace, load_space


def default_study_name(space: SearchSpace, budget_ms: float | None, objective: str,
                       backend: str, budget_ref: BudgetRef | None = None) -> str:
    """``space-objective-backend-budget``; a reference budget is named by its reference
    (``repvit_m0_9x1.1``), not by the milliseconds it resolves to on this machine."""
    stem = Path(space.source).stem if space.source != "<space>" else space.base_ref
    budget = (budget_ref.slug if budget_ref is not None
              else "nobudget" if budget_ms is None else f"{budget_ms:g}ms")
    return f"{stem}-{objective}-{backend}-{budget}"


def check_budget(config: SearchConfig) -> float | None:
    """Reject budgets no network of the space can meet: <= 0, or below the latency of the
    space's smallest network. Returns that latency (None without a budget)."""
    if config.budget_ms is None:
        if config.objective == "proxy":
            raise BudgetError("the constrained objective needs --budget-ms or --budget-ref "
                              "(or use --objective multi for a budget-free Pareto front)")
        return None
    if not math.isfinite(config.budget_ms) or config.budget_ms <= 0:
        raise BudgetError(f"latency budget must be a positive number of ms, got "
                          f"{config.budget_ms}")
    from explorer.candidate import from_spec
    from explorer.measure import measure

    smallest = config.space.smallest()
    floor = float(measure(from_spec(smallest), ["latency"], **config.options)["latency_ms"])
    if floor > config.budget_ms:
        shape = ", ".join(f"{k} {v}" for k, v in shape_columns(smallest).items())
        raise BudgetError(f"budget {config.budget_ms:g} ms is below anything the space can "
                          f"reach: its smallest network ({shape}) takes {floor:.3g} ms on "
                          f"backend {config.backend}")
    return floor


def _check_names(metrics: tuple[str, ...], proxy: str) -> None:
    """Unknown metric or proxy names fail here, once, instead of failing every trial
    (failed trials count as done, so they would also use up the study)."""
    from explorer.measure import metric_function
    from explorer.measure.proxy import proxy_class

    for metric in metrics:
        metric_function(metric)
    proxy_class(proxy)


def make_config(space: SearchSpace | str | Path, budget_ms: float | None, trials: int,
                objective: str = "proxy", *, sampler: str | Any = "tpe", seed: int = 0,
                storage: str | Any | None = None, study: str | None = None, workers: int = 1,
                heartbeat_s: int = 10, worker_init: str | None = None,
                metrics: tuple[str, ...] = METRICS,
                budget_ref: str | BudgetRef | Budget | None = None,
                **options: Any) -> SearchConfig:
    """Check the arguments and bundle them (see :func:`run_search`); a ``budget_ref``
    is resolved here (:func:`~explorer.search._study.resolve_study_budget`)."""
    if not isinstance(space, SearchSpace):
        space = load_space(space)
    if objective not in OBJECTIVES:
        raise ExplorerError(f"unknown objective {objective!r}; choose from "
                            f"{', '.join(OBJECTIVES)}")
    sampler = check_sampler(sampler)
    if trials < 1 or workers < 1:
        raise ExplorerError(f"--trials and --workers must be >= 1, got {trials} and {workers}")
    missing = {"latency", "proxy"} - set(metrics)
    if missing:
        raise ExplorerError(f"a search needs the metrics latency and proxy; add "
                            f"{', '.join(sorted(missing))}")
    if budget_ref is not None and budget_ms is not None:
        raise BudgetError("give a budget in ms or a reference (--budget-ms or --budget-ref), "
                          "not both")
    resolved = budget_ref if isinstance(budget_ref, Budget) else None
    ref = (resolved.ref if resolved is not None
           else BudgetRef.parse(budget_ref) if isinstance(budget_ref, str) else budget_ref)
    options = {"backend": "ort", "seed": seed, **options}
    _check_names(metrics, options.get("proxy", "default"))
    name = study or default_study_name(space, budget_ms, objective, options["backend"], ref)
    storage = check_storage_ref(storage, workers)
    ref_ms = None
    if ref is not None:
        budget = resolved or resolve_study_budget(ref, storage, name, options)
        budget_ms, ref_ms = budget.ms, budget.ref_ms
    return SearchConfig(space, budget_ms, trials, name, storage, objective, sampler, seed,
                        workers, heartbeat_s, options, worker_init, tuple(metrics),
                        budget_ref=ref, budget_ref_ms=ref_ms)


def prepare(config: SearchConfig) -> tuple[Any, float | None]:
    """Check the budget against the space, then create (or reopen) the study."""
    quiet_optuna()
    floor = check_budget(config)
    return open_study(config, create=True), floor


def run_search(space: SearchSpace | str | Path, budget_ms: float | None, trials: int,
               objective: str = "proxy", *, sampler: str | Any = "tpe", seed: int = 0,
               storage: str | Any | None = None, study: str | None = None, workers: int = 1,
               heartbeat_s: int = 10, progress: bool = True, worker_init: str | None = None,
               metrics: tuple[str, ...] = METRICS,
               budget_ref: str | BudgetRef | Budget | None = None,
               **options: Any) -> SearchResult:
    """Run (or continue) a search and return its :class:`SearchResult`.

    ``space`` is a :class:`SearchSpace` or a YAML path; ``options`` are the measurement
    options (backend, threads, proxy, no_cache, cache_dir); ``seed`` seeds the proxy and
    the sampler (trial n with a seed derived from ``seed`` and n). Re-running with the
    same ``study`` and ``storage`` continues up to ``trials``. ``workers`` > 1 spawns processes.
    As in Optuna's own API, ``sampler`` may be an ``optuna.samplers.BaseSampler`` and
    ``storage`` an ``optuna.storages.BaseStorage`` instead of a name or URL.
    ``metrics`` must include latency and proxy (a spec's params, MACs and FLOPs are
    arithmetic on the spec, :mod:`explorer.measure.analytic`: about a millisecond).
    ``budget_ref`` (``"MODEL[:FACTOR]"``, instead of ``budget_ms``) sets the budget to
    FACTOR x MODEL's latency measured with the same options (see :mod:`explorer.budget`);
    the study stores both, and a resumed study keeps the number it stored. A
    :class:`~explorer.budget.Budget` already resolved with these options is used as
    given (``bench search`` measures each backend's reference once, up front)."""
    config = make_config(space, budget_ms, trials, objective, sampler=sampler, seed=seed,
                         storage=storage, study=study, workers=workers,
                         heartbeat_s=heartbeat_s, worker_init=worker_init, metrics=metrics,
                         budget_ref=budget_ref, **options)
    result_study, floor = prepare(config)
    config = dataclasses.replace(config, storage_id=file_id(config.storage))
    name = config.study
    start = time.perf_counter()
    done_before = trial_counts(result_study)[0]
    with ProgressBar(trials, done_before, progress, name) as bar:
        if workers == 1:
            run_worker(config, bar)
        else:
            run_processes(config, bar)
    check_storage(config)
    elapsed = time.perf_counter() - start
    return SearchResult(result_study, config.budget_ms, objective, floor, elapsed,
                        trial_counts(result_study)[0] - done_before)
