"""The worker loop (one process, or many against one storage) and the spawned processes."""
from __future__ import annotations

import multiprocessing
import sys
import time
import warnings
from collections.abc import Callable

from explorer.errors import ExplorerError
from explorer.search._config import SearchConfig
from explorer.search._objective import Objective
from explorer.search._sampler import study_sampler
from explorer.search._storage import check_storage, quiet_optuna
from explorer.search._study import open_study, trial_counts

#: a worker whose first this-many trials all fail stops: the cause is the setup, not a spec
FAIL_FAST = 3


def run_worker(config: SearchConfig, on_trial: Callable[[int], None] | None = None) -> None:
    """Run trials until the study has ``config.trials`` done; safe to run in many
    processes (and on many machines) against one storage."""
    import optuna

    quiet_optuna()
    check_storage(config)
    study = open_study(config, create=False)
    study.sampler = study_sampler(config.sampler, config.seed)
    objective = Objective(config)
    while True:
        check_storage(config)
        optuna.storages.fail_stale_trials(study)
        done, running, waiting = trial_counts(study)
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
        from explorer.registry import resolve

        resolve(config.worker_init)()
    try:
        run_worker(config)
    except ExplorerError as exc:  # one line, like the CLI; the parent process reports too
        print(f"explorer search worker {index}: error: {exc}", file=sys.stderr)
        sys.exit(2)


def run_processes(config: SearchConfig, bar: Callable[[int], None]) -> None:
    """K spawned workers share the storage; this process shows progress, then finishes
    whatever a crashed worker left undone."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=worker_main, args=(config, i), daemon=True)
             for i in range(config.workers)]
    for p in procs:
        p.start()
    study = open_study(config, create=False)
    while any(p.is_alive() for p in procs):
        check_storage(config)
        bar(trial_counts(study)[0])
        time.sleep(1.0)
    for p in procs:
        p.join()
    run_worker(config, bar)
