"""Constrained architecture search with Optuna under a latency budget.

A trial asks the :class:`~explorer.search_space.SearchSpace` for a spec, measures it
through :func:`explorer.measure.measure` (params, MACs, latency, proxy; every metric
caches by spec) and reports, depending on the objective:

* ``proxy`` (constrained): maximize the accuracy proxy subject to
  ``latency - budget <= 0`` via ``trial.set_constraint`` -- TPE then models infeasible
  trials instead of discarding them;
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
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import socket
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from explorer.errors import BudgetError, ExplorerError, StorageError
from explorer.files import make_dir
from explorer.search_space import SearchSpace, load_space
from explorer.spec import NetworkSpec

OBJECTIVES = ("proxy", "multi")
SAMPLERS = ("tpe", "random", "nsga2")
DEFAULT_STORAGE = "sqlite:///results/search.db"
METRICS = ("params", "macs", "flops", "latency", "proxy")  # latency and proxy are required
#: a worker whose first this-many trials all fail stops: the cause is the setup, not a spec
FAIL_FAST = 3
#: user attributes copied from a measured trial to a later trial with the same spec
MEASURED = ("params", "macs", "flops", "latency_ms", "latency_iqr_ms", "latency_cv", "backend",
            "threads", "fingerprint", "lut_measured_units", "proxy", "proxy_name",
            "proxy_seconds",
            *(f"seconds_{m}" for m in METRICS))


@dataclass(frozen=True)
class SearchConfig:
    """Everything a worker process needs (picklable: workers are spawned)."""

    space: SearchSpace
    budget_ms: float | None
    trials: int
    study: str
    storage: str = DEFAULT_STORAGE
    objective: str = "proxy"
    sampler: str = "tpe"
    seed: int = 0
    workers: int = 1
    heartbeat_s: int = 10
    options: dict[str, Any] = field(default_factory=dict)  # measurement options
    #: "module:function" each worker process calls first (e.g. to register a custom
    #: metric in METRICS: spawned workers do not inherit runtime registrations)
    worker_init: str | None = None
    metrics: tuple[str, ...] = METRICS  # what each trial measures (drop macs/flops for speed)
    #: (device, inode) of the SQLite file when the search began: a change means the
    #: database was deleted or replaced under the running search
    storage_id: tuple[int, int] | None = None

    @property
    def backend(self) -> str:
        return self.options.get("backend", "ort")


# -- storage ---------------------------------------------------------------------------
def storage_url(ref: str | None) -> str:
    """An RDB URL; a bare path means a SQLite file (its folder is created). In-memory
    SQLite is refused: every connection (and worker) would see its own empty database."""
    url = ref or DEFAULT_STORAGE
    if "://" not in url:
        url = f"sqlite:///{url}"
    if url.startswith("sqlite:") and _sqlite_file(url) is None:
        raise StorageError(f"storage {url}: in-memory SQLite cannot hold a study (each "
                           "connection sees its own empty database); give a file, e.g. "
                           "--storage results/search.db")
    if _sqlite_file(url) is not None:
        make_dir(_sqlite_file(url).parent)
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql" + _postgres_driver() + url[url.index("://"):]
    return url


def _sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases and in-memory ones)."""
    path = url[len("sqlite:///"):].split("?", 1)[0] if url.startswith("sqlite:///") else ""
    if path and path != ":memory:" and not path.startswith("file::memory:"):
        return Path(path)
    return None


def _file_id(url: str) -> tuple[int, int] | None:
    """(device, inode) of a SQLite study file (None for other storages or no file)."""
    path = _sqlite_file(url)
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return None if st is None else (st.st_dev, st.st_ino)


def check_storage(config: SearchConfig) -> None:
    """Fail loudly if the SQLite file the search started with was deleted or replaced:
    the trials written to it are gone, so reporting them as done would be a lie."""
    if config.storage_id is not None and _file_id(config.storage) != config.storage_id:
        raise StorageError(f"the study database {_sqlite_file(config.storage)} was deleted "
                           "or replaced during the search; its trials are lost (re-run to "
                           f"start study {config.study!r} afresh)")


def _postgres_driver() -> str:
    """SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; use psycopg2 (what the
    'postgres' extra installs) when only that one is present."""
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return "+psycopg2"
    return ""


def _redacted(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparsable: the raw text says what was given
        return url


def open_storage(ref: str | None, heartbeat_s: int = 10) -> Any:
    """An ``optuna.storages.RDBStorage`` with heartbeats (dead workers' trials are failed
    after 3 missed beats and re-queued up to 3 times); errors become :class:`StorageError`."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    url = storage_url(ref)
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = RDBStorage(url, engine_kwargs=engine_kwargs,
                                 heartbeat_interval=heartbeat_s, grace_period=3 * heartbeat_s,
                                 heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(3))
        if url.startswith("sqlite"):
            _sqlite_wal(storage.engine)
        return storage
    except ImportError as exc:
        raise StorageError(f"storage {_redacted(url)}: the database driver is not installed "
                           f"({exc.__cause__ or exc}); for PostgreSQL: pip install "
                           f"psycopg2-binary") from None
    except Exception as exc:  # sqlalchemy ArgumentError / OperationalError / ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"cannot open study storage {_redacted(url)}: {first}") from None


def _sqlite_wal(engine: Any) -> None:
    """WAL journal + synchronous=NORMAL: a trial writes ~40 small transactions, and a
    full fsync each (the default) costs ~20 ms apiece on this disk. WAL stays durable
    across process crashes (what killed workers need); readers never block the writer."""
    from sqlalchemy import event

    def pragmas(conn: Any, _record: Any) -> None:
        cur = conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    event.listen(engine, "connect", pragmas)
    engine.dispose()  # pooled connections opened before the listener get replaced


def _quiet_optuna() -> None:
    import optuna

    # ERROR: a failed trial is reported in one line by Objective, not with a traceback
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def trial_seed(seed: int, number: int) -> int:
    """The sampler seed of trial ``number`` of a search seeded with ``seed``."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{number}".encode()).digest()[:4], "big")


def trial_seeded_sampler(kind: str, seed: int) -> Any:
    """A sampler that re-seeds itself for every trial from ``seed`` and the trial's
    number (see the module docstring); the seed in use is its ``trial_seed``."""
    import optuna

    class TrialSeeded(optuna.samplers.BaseSampler):
        def __init__(self) -> None:
            self.trial_seed = trial_seed(seed, 0)
            self.inner = make_sampler(kind, self.trial_seed)

        def before_trial(self, study: Any, trial: Any) -> None:
            self.trial_seed = trial_seed(seed, trial.number)
            self.inner = make_sampler(kind, self.trial_seed)
            self.inner.before_trial(study, trial)

        def infer_relative_search_space(self, study: Any, trial: Any) -> Any:
            return self.inner.infer_relative_search_space(study, trial)

        def sample_relative(self, study: Any, trial: Any, space: Any) -> Any:
            return self.inner.sample_relative(study, trial, space)

        def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
            return self.inner.sample_independent(study, trial, name, dist)

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            self.inner.after_trial(study, trial, state, values)

    return TrialSeeded()


def make_sampler(kind: str, seed: int) -> Any:
    """TPE (constraint-aware, multivariate, constant liar for parallel workers), random
    search (the benchmark's baseline) or NSGA-II (constraint-aware too)."""
    import optuna

    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True,
                                          n_startup_trials=10)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
    raise ExplorerError(f"unknown sampler {kind!r}; choose from {', '.join(SAMPLERS)}")


# -- the objective -----------------------------------------------------------------------
def _shape(spec: NetworkSpec) -> dict[str, Any]:
    """Human-readable columns: stage widths and depths, SE count, resolution."""
    widths = [s.blocks[-1].width if s.blocks else s.downsample.width for s in spec.stages]
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
        attrs = {"spec_hash": spec.hash, "spec": spec.to_json(indent=None), **_shape(spec)}
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


# -- study bookkeeping ---------------------------------------------------------------------
#: study attributes a resume must match: everything that changes a trial's numbers
CHECKED = ("budget_ms", "objective", "backend", "space_dims", "space_hash", "metrics",
           "threads", "proxy", "proxy_config", "proxy_seed", "versions", "fingerprint")


def _space_hash(space: SearchSpace) -> str:
    """Content hash of a space (base network and every dimension), not of its file."""
    dims = [dataclasses.asdict(space.dims[k]) for k in sorted(space.dims)]
    canon = json.dumps({"base": space.base.hash, "dims": dims}, sort_keys=True, default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def _study_attrs(config: SearchConfig) -> dict[str, Any]:
    """The study's settings: informational ones (space file, base) and :data:`CHECKED`."""
    from explorer.machine import fingerprint, versions
    from explorer.measure.backends.registry import get_backend
    from explorer.measure.proxy import get_proxy

    opts = config.options
    backend = get_backend(config.backend)
    proxy = get_proxy(opts.get("proxy", "default"), **(opts.get("proxy_options") or {}))
    return {"budget_ms": config.budget_ms, "objective": config.objective,
            "backend": config.backend, "space": config.space.source,
            "space_base": config.space.base_ref, "space_dims": sorted(config.space.dims),
            "space_hash": _space_hash(config.space), "metrics": sorted(config.metrics),
            "threads": opts.get("threads", 1) if backend.uses_threads else None,
            "proxy": proxy.name,
            "proxy_config": json.loads(json.dumps(proxy.config(), default=str)),
            "proxy_seed": opts.get("seed", config.seed), "versions": versions(),
            "fingerprint": fingerprint() if backend.machine_bound else None}


def _open_study(config: SearchConfig, create: bool) -> Any:
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
    wanted = _study_attrs(config)
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


def _counts(study: Any) -> tuple[int, int, int]:
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


def run_worker(config: SearchConfig, on_trial: Callable[[int], None] | None = None) -> None:
    """Run trials until the study has ``config.trials`` done; safe to run in many
    processes (and on many machines) against one storage."""
    import optuna

    _quiet_optuna()
    check_storage(config)
    study = _open_study(config, create=False)
    study.sampler = trial_seeded_sampler(config.sampler, config.seed)
    objective = Objective(config)
    while True:
        check_storage(config)
        optuna.storages.fail_stale_trials(study)
        done, running, waiting = _counts(study)
        if on_trial is not None:
            on_trial(done)
        if done >= config.trials:
            return
        if done + running >= config.trials and not waiting:
            time.sleep(0.5)  # the last trials are running elsewhere (or will go stale)
            continue
        study.optimize(objective, n_trials=1, catch=(Exception,), gc_after_trial=False)
        if not objective.completed and len(objective.errors) >= FAIL_FAST:
            raise ExplorerError(
                f"the first {FAIL_FAST} trials all failed, so the search stopped (first: "
                f"{objective.errors[0]}); they stay in study {config.study!r} and count "
                "toward --trials: after fixing the cause raise --trials or use a new --study")


def worker_main(config: SearchConfig, index: int) -> None:
    """Entry point of a worker process: ``worker_init`` hook, then :func:`run_worker`."""
    warnings.filterwarnings("ignore")
    if config.worker_init:
        import importlib

        module, func = config.worker_init.split(":")
        getattr(importlib.import_module(module), func)()
    try:
        run_worker(config)
    except ExplorerError as exc:  # one line, like the CLI; the parent process reports too
        print(f"explorer search worker {index}: error: {exc}", file=sys.stderr)
        sys.exit(2)


# -- entry point -----------------------------------------------------------------------------
def default_study_name(space: SearchSpace, budget_ms: float | None, objective: str,
                       backend: str) -> str:
    stem = Path(space.source).stem if space.source != "<space>" else space.base_ref
    budget = "nobudget" if budget_ms is None else f"{budget_ms:g}ms"
    return f"{stem}-{objective}-{backend}-{budget}"


def check_budget(config: SearchConfig) -> float | None:
    """Reject budgets no network of the space can meet: <= 0, or below the latency of the
    space's smallest network. Returns that latency (None without a budget)."""
    if config.budget_ms is None:
        if config.objective == "proxy":
            raise BudgetError("the constrained objective needs --budget-ms (or use "
                              "--objective multi for a budget-free Pareto front)")
        return None
    if not math.isfinite(config.budget_ms) or config.budget_ms <= 0:
        raise BudgetError(f"latency budget must be a positive number of ms, got "
                          f"{config.budget_ms}")
    from explorer.candidate import from_spec
    from explorer.measure import measure

    smallest = config.space.smallest()
    floor = float(measure(from_spec(smallest), ["latency"], **config.options)["latency_ms"])
    if floor > config.budget_ms:
        shape = ", ".join(f"{k} {v}" for k, v in _shape(smallest).items())
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
                objective: str = "proxy", *, sampler: str = "tpe", seed: int = 0,
                storage: str | None = None, study: str | None = None, workers: int = 1,
                heartbeat_s: int = 10, worker_init: str | None = None,
                metrics: tuple[str, ...] = METRICS, **options: Any) -> SearchConfig:
    """Check the arguments and bundle them (see :func:`run_search`)."""
    if not isinstance(space, SearchSpace):
        space = load_space(space)
    if objective not in OBJECTIVES:
        raise ExplorerError(f"unknown objective {objective!r}; choose from "
                            f"{', '.join(OBJECTIVES)}")
    if sampler not in SAMPLERS:
        raise ExplorerError(f"unknown sampler {sampler!r}; choose from {', '.join(SAMPLERS)}")
    if trials < 1 or workers < 1:
        raise ExplorerError(f"--trials and --workers must be >= 1, got {trials} and {workers}")
    missing = {"latency", "proxy"} - set(metrics)
    if missing:
        raise ExplorerError(f"a search needs the metrics latency and proxy; add "
                            f"{', '.join(sorted(missing))}")
    options = {"backend": "ort", "seed": seed, **options}
    _check_names(metrics, options.get("proxy", "default"))
    name = study or default_study_name(space, budget_ms, objective, options["backend"])
    return SearchConfig(space, budget_ms, trials, name, storage_url(storage), objective,
                        sampler, seed, workers, heartbeat_s, options, worker_init,
                        tuple(metrics))


def prepare(config: SearchConfig) -> tuple[Any, float | None]:
    """Check the budget against the space, then create (or reopen) the study."""
    _quiet_optuna()
    floor = check_budget(config)
    return _open_study(config, create=True), floor


def run_search(space: SearchSpace | str | Path, budget_ms: float | None, trials: int,
               objective: str = "proxy", *, sampler: str = "tpe", seed: int = 0,
               storage: str | None = None, study: str | None = None, workers: int = 1,
               heartbeat_s: int = 10, progress: bool = True, worker_init: str | None = None,
               metrics: tuple[str, ...] = METRICS, **options: Any) -> "SearchResult":
    """Run (or continue) a search and return its :class:`SearchResult`.

    ``space`` is a :class:`SearchSpace` or a YAML path; ``options`` are the measurement
    options (backend, threads, proxy, no_cache, cache_dir); ``seed`` seeds the proxy and
    the sampler (trial n with a seed derived from ``seed`` and n). Re-running with the
    same ``study`` and ``storage`` continues up to ``trials``. ``workers`` > 1 spawns processes.
    ``metrics`` must include latency and proxy; MACs (two fvcore traces) are the
    slowest part of a trial on the predictor, so leaving them out speeds a search up."""
    config = make_config(space, budget_ms, trials, objective, sampler=sampler, seed=seed,
                         storage=storage, study=study, workers=workers,
                         heartbeat_s=heartbeat_s, worker_init=worker_init, metrics=metrics,
                         **options)
    result_study, floor = prepare(config)
    config = dataclasses.replace(config, storage_id=_file_id(config.storage))
    name = config.study
    start = time.perf_counter()
    done_before = _counts(result_study)[0]
    with _progress(trials, done_before, progress, name) as bar:
        if workers == 1:
            run_worker(config, bar)
        else:
            _run_processes(config, bar)
    check_storage(config)
    elapsed = time.perf_counter() - start
    return SearchResult(result_study, budget_ms, objective, floor, elapsed,
                        _counts(result_study)[0] - done_before)


def _run_processes(config: SearchConfig, bar: Callable[[int], None]) -> None:
    """K spawned workers share the storage; this process shows progress, then finishes
    whatever a crashed worker left undone."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=worker_main, args=(config, i), daemon=True)
             for i in range(config.workers)]
    for p in procs:
        p.start()
    study = _open_study(config, create=False)
    while any(p.is_alive() for p in procs):
        check_storage(config)
        bar(_counts(study)[0])
        time.sleep(1.0)
    for p in procs:
        p.join()
    run_worker(config, bar)


class _progress:
    """A tqdm bar fed with the number of done trials (stderr; off when not wanted)."""

    def __init__(self, total: int, initial: int, enabled: bool, name: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, initial=min(initial, total), desc=f"search {name}",
                        unit="trial", disable=not enabled, leave=False)

    def __call__(self, done: int) -> None:
        self.bar.update(max(0, min(done, self.bar.total) - self.bar.n))

    def __enter__(self) -> "_progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.close()


# -- results -------------------------------------------------------------------------------
@dataclass
class SearchResult:
    """A finished (or loaded) study with tables for people and notebooks."""

    study: Any
    budget_ms: float | None
    objective: str
    floor_ms: float | None = None
    elapsed_s: float = 0.0
    new_trials: int = 0

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
        df = df[df.feasible.astype(bool)].sort_values(["latency_ms", "proxy"],
                                                       ascending=[True, False])
        best, keep = -math.inf, []
        for idx, proxy in zip(df.index, df.proxy):
            if proxy > best:
                keep.append(idx)
                best = proxy
        return df.loc[keep]

    def fastest(self) -> pd.Series | None:
        """The fastest measured trial, feasible or not (what to report when none is)."""
        df = self._complete()
        return None if df.empty else df.sort_values("latency_ms").iloc[0]

    def spec(self, number: int) -> NetworkSpec:
        return spec_of(self.study, number)

    @property
    def n_done(self) -> int:
        return _counts(self.study)[0]


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


def load_result(storage: str | None, study: str) -> SearchResult:
    """Open an existing study for tables and exports."""
    import optuna

    _quiet_optuna()
    path = _sqlite_file(storage_url(storage))
    if path is not None and not path.is_file():  # reading must not create an empty database
        raise StorageError(f"no study database at {path}: run 'explorer search' first, or "
                           "point --storage at the study's database")
    st = open_storage(storage)
    try:
        s = optuna.load_study(study_name=study, storage=st)
    except KeyError:
        names = [x.study_name for x in optuna.get_all_study_summaries(st)]
        raise ExplorerError(f"no study {study!r} in {_redacted(storage_url(storage))}; "
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

