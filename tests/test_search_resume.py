"""Search resume and parallel workers (issue 11): settings checked on resume, distinct
sampler seeds per trial, in-memory SQLite refused, a vanished database fails loudly."""
from __future__ import annotations

import multiprocessing
import os

import pytest

from explorer.cli import main
from explorer.errors import ExplorerError, StorageError
from explorer.measure import METRICS
from explorer.search import make_config, prepare, storage_url, worker_main
from explorer.search_space import parse_space
from tests import search_fakes
from tests.test_search import SPACE, _search

VANISH = "SEARCH_VANISH_DB"  # env var: the database file the fake latency deletes


@pytest.fixture(autouse=True)
def fake_metrics(monkeypatch):
    search_fakes.install_for_test(monkeypatch)


@pytest.fixture
def space():
    return parse_space(SPACE, "test-space")


def _params(result):
    return [t.params for t in sorted(result.study.trials, key=lambda t: t.number)]


def test_resume_with_other_settings_is_refused_naming_them(space, tmp_path):
    _search(space, tmp_path, 1e6, 2, sampler="random", proxy="default", threads=1)
    with pytest.raises(ExplorerError) as err:
        _search(space, tmp_path, 1e6, 4, sampler="random", proxy="synflow", threads=2)
    message = str(err.value)
    assert "proxy='fitted', not 'synflow'" in message and "threads=1, not 2" in message
    assert "\n" not in message
    wider = parse_space({**SPACE, "resolution": [64, 128]}, "test-space")
    with pytest.raises(ExplorerError, match="space_hash="):
        _search(wider, tmp_path, 1e6, 4, sampler="random")
    with pytest.raises(ExplorerError, match="metrics="):
        _search(space, tmp_path, 1e6, 4, sampler="random", metrics=("latency", "proxy"))
    with pytest.raises(ExplorerError, match="proxy_seed=0, not 5"):
        _search(space, tmp_path, 1e6, 4, sampler="random", seed=5)
    assert _search(space, tmp_path, 1e6, 4, sampler="random").new_trials == 2  # same: goes on


def test_resumed_trials_are_not_replays_and_runs_stay_reproducible(space, tmp_path):
    first = _params(_search(space, tmp_path, 1e6, 4, sampler="random"))
    resumed = _search(space, tmp_path, 1e6, 8, sampler="random")
    after = _params(resumed)
    assert after[:4] == first and after[4:] != first
    seeds = [t.user_attrs["sampler_seed"] for t in resumed.study.trials]
    assert len(set(seeds)) == 8
    again = _search(space, tmp_path, 1e6, 8, sampler="random", storage=str(tmp_path / "b.db"))
    assert _params(again) == after  # same seed, one process: the same trials


def test_separately_started_processes_propose_different_trials(space, tmp_path,
                                                              monkeypatch):
    monkeypatch.setenv(search_fakes.SLEEP, "0.3")  # so that both processes get trials
    config = make_config(space, 1e6, 6, sampler="random", storage=str(tmp_path / "p.db"),
                         study="p", worker_init="tests.search_fakes:install", backend="lut")
    study, _ = prepare(config)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=worker_main, args=(config, 0)) for _ in range(2)]  # same
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    done = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    assert len(done) >= 6 and len({t.user_attrs["worker"] for t in done}) == 2
    params = [tuple(sorted(t.params.items())) for t in done]
    assert len(set(params)) == len(params)
    assert not [t for t in done if "duplicate_of" in t.user_attrs]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///"])
def test_in_memory_sqlite_is_refused_in_one_line(space, url, capsys):
    with pytest.raises(StorageError, match="in-memory SQLite cannot hold a study"):
        storage_url(url)
    assert main(["search", "--space", "search_spaces/repvit.yaml", "--budget-ms", "5",
                 "--storage", url, "--backend", "lut"]) == 2
    err = capsys.readouterr().err
    assert "in-memory SQLite cannot hold a study" in err and len(err.splitlines()) == 1


def vanishing_latency(candidate, **kw):
    """The fake latency, deleting the study database at its third call."""
    calls = int(os.environ.get("SEARCH_VANISH_CALLS", "0")) + 1
    os.environ["SEARCH_VANISH_CALLS"] = str(calls)
    if calls == 3:
        os.unlink(os.environ[VANISH])
    return search_fakes.latency(candidate, **kw)


def test_a_database_deleted_during_the_search_fails_loudly(space, tmp_path, monkeypatch):
    db = tmp_path / "gone.db"
    monkeypatch.setenv(VANISH, str(db))
    monkeypatch.setenv("SEARCH_VANISH_CALLS", "0")
    monkeypatch.setitem(METRICS, "latency", f"{__name__}:vanishing_latency")
    with pytest.raises(StorageError, match="was deleted or replaced during the search"):
        _search(space, tmp_path, 1e6, 6, sampler="random", storage=str(db))


def test_threads_and_machine_are_checked_only_where_they_change_the_numbers(space):
    from explorer.machine import fingerprint
    from explorer.search._study import study_attrs as _study_attrs

    host = _study_attrs(make_config(space, 1e6, 2, backend="lut", threads=2))
    assert host["threads"] == 2 and host["fingerprint"] == fingerprint()
    phone = _study_attrs(make_config(space, 1e6, 2, backend="device:phone", threads=2))
    assert phone["threads"] is None and phone["fingerprint"] is None
