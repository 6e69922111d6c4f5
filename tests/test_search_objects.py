"""The search API takes Optuna objects as Optuna's own API does: a sampler instance and a
storage instance (in-memory or RDB), besides names and URLs."""
from __future__ import annotations

import optuna
import pytest
from optuna.storages import InMemoryStorage, RDBStorage
from optuna.trial import TrialState

from explorer.errors import ExplorerError, StorageError
from explorer.search import load_result
from explorer.search_space import parse_space
from tests.test_search import SPACE, _floor, _search, fake_metrics  # noqa: F401 - fixture


@pytest.fixture
def space():
    return parse_space(SPACE, "test-space")


class Recording(optuna.samplers.RandomSampler):
    """A seeded random sampler that counts the parameters it drew."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed=seed)
        self.drawn = 0

    def sample_independent(self, study, trial, name, dist):
        self.drawn += 1
        return super().sample_independent(study, trial, name, dist)


def test_sampler_and_in_memory_storage_objects_are_used_as_given(space, tmp_path):
    budget = 3 * _floor(space)
    memory, sampler = InMemoryStorage(), Recording(seed=3)
    result = _search(space, tmp_path, budget, 5, storage=memory, sampler=sampler)
    stored = optuna.load_study(study_name="t", storage=memory).get_trials()
    assert len(stored) == 5 and all(t.state == TrialState.COMPLETE for t in stored)
    assert sampler.drawn >= 5 * len(space.dims)  # every parameter came from our sampler
    assert all(t.user_attrs["sampler_seed"] is None for t in stored)  # not re-seeded
    assert result.n_done == 5 and not result.trials_frame().empty
    again = _search(space, tmp_path, budget, 5, storage=InMemoryStorage(),
                    sampler=Recording(seed=3))
    assert ([t.params for t in again.study.get_trials()] == [t.params for t in stored])


def test_rdb_storage_object_and_its_url_read_the_same_study(space, tmp_path):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    _search(space, tmp_path, 3 * _floor(space), 3, storage=RDBStorage(url))
    by_url = load_result(url, "t")
    by_object = load_result(RDBStorage(url), "t")
    assert by_url.n_done == by_object.n_done == 3
    with pytest.raises(ExplorerError, match="no study 'nope' in sqlite:///"):
        load_result(RDBStorage(url), "nope")


def test_rdb_storage_object_serves_spawned_workers(space, tmp_path, monkeypatch):
    from tests import search_fakes

    monkeypatch.setenv(search_fakes.SLEEP, "0.3")  # so that both workers get trials
    storage = RDBStorage(f"sqlite:///{tmp_path / 'w.db'}")
    result = _search(space, tmp_path, 3 * _floor(space), 6, storage=storage, workers=2,
                     worker_init="tests.search_fakes:install")
    done = [t for t in result.study.get_trials() if t.state == TrialState.COMPLETE]
    assert 6 <= len(done) <= 7 and len({t.user_attrs["worker"] for t in done}) >= 2


def test_wrong_objects_are_refused_with_one_clear_error(space, tmp_path):
    with pytest.raises(ExplorerError, match="sampler must be one of tpe, random, nsga2 or "
                                            "an Optuna BaseSampler, not int"):
        _search(space, tmp_path, 1.0, 2, sampler=42)
    with pytest.raises(StorageError, match="storage must be an RDB URL.*not int"):
        _search(space, tmp_path, 1.0, 2, storage=42)
    with pytest.raises(StorageError, match="InMemoryStorage lives in this process only"):
        _search(space, tmp_path, 1.0, 2, storage=InMemoryStorage(), workers=2)
