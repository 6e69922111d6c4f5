"""The sampler factory: TPE, random or NSGA-II by name, re-seeded per trial; or an
Optuna sampler object as given."""
from __future__ import annotations

import hashlib
from typing import Any

from explorer.errors import ExplorerError

SAMPLERS = ("tpe", "random", "nsga2")


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


def study_sampler(sampler: str | Any, seed: int) -> Any:
    """The sampler a worker runs: a name becomes a :func:`trial_seeded_sampler`; an Optuna
    sampler object is used as given (its own seeding applies)."""
    return trial_seeded_sampler(sampler, seed) if isinstance(sampler, str) else sampler


def check_sampler(sampler: str | Any) -> str | Any:
    """A sampler name from :data:`SAMPLERS` or an ``optuna.samplers.BaseSampler``."""
    if isinstance(sampler, str):
        if sampler not in SAMPLERS:
            raise ExplorerError(f"unknown sampler {sampler!r}; choose from "
                                f"{', '.join(SAMPLERS)}")
        return sampler
    from optuna.samplers import BaseSampler

    if not isinstance(sampler, BaseSampler):
        raise ExplorerError(f"sampler must be one of {', '.join(SAMPLERS)} or an Optuna "
                            f"BaseSampler, not {type(sampler).__name__}")
    return sampler
