"""Constrained architecture search with Optuna under a latency budget.

A trial asks the :class:`~explorer.search_space.SearchSpace` for a spec, measures it
through :func:`explorer.measure.measure` (params, MACs, latency, proxy; every metric
caches by spec) and reports, depending on the objective:

* ``proxy`` (constrained): maximize the accuracy proxy subject to
  ``latency - budget <= 0`` (a trial constraint, see :func:`set_latency_constraint`;
  the budget may be relative to a reference model, see :mod:`explorer.budget`) -- TPE
  then models infeasible trials instead of discarding them;
* ``multi``: maximize the proxy and minimize latency (a Pareto front), still
  constrained by the budget when one is given.

Every trial keeps what a later tool needs to rebuild and judge the model as user
attributes (spec JSON and hash, params, MACs, latency with backend and spread, proxy,
feasibility). Studies live in an Optuna RDB storage: a SQLite file under results/ by
default (with a busy timeout, so a few local workers share it without "database is
locked"), or any RDB URL such as PostgreSQL for many machines. Heartbeats fail the
trials of workers that died, and those trials are re-queued, so a study never keeps a
trial RUNNING forever and re-running the same command continues it up to N trials.

A study stores every setting that changes a trial's numbers (:data:`CHECKED`) and refuses
to continue under other ones, so one study never mixes proxies, thread counts, machines or
space definitions. Trial ``n`` is sampled with a seed derived from ``--seed`` and ``n``
(recorded as ``sampler_seed``): storage-assigned trial numbers are unique, so resumed
trials and trials of separately started processes draw different candidates, while a
single-process run stays reproducible.

The implementation lives in private modules, one concern each (as Optuna's does):
``_storage`` (URLs, SQLite pragmas, heartbeats), ``_sampler`` (the sampler factory),
``_objective``, ``_study`` (stored settings, resume checks), ``_worker`` (the worker loop
and spawned processes), ``_progress``, ``_results`` and ``_run`` (the entry point). The
public API is re-exported here; like Optuna's, it takes a sampler or storage *object*
(``optuna.samplers.BaseSampler``, ``optuna.storages.BaseStorage``) as well as a name or URL.
"""
from __future__ import annotations

from explorer.search._config import METRICS, OBJECTIVES, SearchConfig
from explorer.search._objective import MEASURED, Objective, set_latency_constraint
from explorer.search._results import (
    SearchResult,
    load_result,
    spec_of,
    summary,
    trial_candidate,
    trial_failure,
    trial_spec,
)
from explorer.search._run import check_budget, default_study_name, make_config, prepare, run_search
from explorer.search._sampler import SAMPLERS, make_sampler, trial_seed, trial_seeded_sampler
from explorer.search._storage import DEFAULT_STORAGE, check_storage, open_storage, storage_url
from explorer.search._study import CHECKED
from explorer.search._worker import FAIL_FAST, run_worker, worker_main

__all__ = [
    "CHECKED", "DEFAULT_STORAGE", "FAIL_FAST", "MEASURED", "METRICS", "OBJECTIVES",
    "SAMPLERS", "Objective", "SearchConfig", "SearchResult", "check_budget",
    "check_storage", "default_study_name", "load_result", "make_config", "make_sampler",
    "open_storage", "prepare", "run_search", "run_worker", "set_latency_constraint",
    "spec_of", "storage_url", "summary", "trial_candidate", "trial_failure", "trial_seed",
    "trial_seeded_sampler", "trial_spec", "worker_main",
]
