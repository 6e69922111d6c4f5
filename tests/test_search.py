"""Constrained search with fake (spec-derived, instant) metrics: trials, attributes,
constraints, duplicates, resume, failures, budgets, storage errors, CLI."""
from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from explorer.cli import main
from explorer.errors import BudgetError, ExplorerError, StorageError
from explorer.search import load_result, run_search, trial_spec
from explorer.search_space import parse_space
from explorer.spec import NetworkSpec
from tests import search_fakes

SPACE = {"base": "repvit_m0_9", "resolution": [64, 96],
         "widths": [[24, 48], [48, 96], {"low": 96, "high": 192, "step": 32}, [192, 384]],
         "depths": [[1, 2], [1, 2], {"low": 2, "high": 8, "step": 2}, [1, 2]],
         "se": ["none", "alternate", "all"]}


@pytest.fixture(autouse=True)
def fake_metrics(monkeypatch, tmp_path):
    from explorer.measure import METRICS

    for name in ("params", "macs", "latency", "proxy"):
        monkeypatch.setitem(METRICS, name, f"tests.search_fakes:{name}")
    monkeypatch.setenv(search_fakes.CALLS_FILE, str(tmp_path / "calls.txt"))


@pytest.fixture
def space():
    return parse_space(SPACE, "test-space")


def _floor(space):
    from explorer.candidate import from_spec

    return search_fakes.latency(from_spec(space.smallest()))["latency_ms"]


def _search(space, tmp_path, budget, trials, **kw):
    kw.setdefault("storage", str(tmp_path / "s.db"))
    kw.setdefault("study", "t")
    return run_search(space, budget, trials, progress=False, backend="lut", **kw)


def test_constrained_search_stores_everything(space, tmp_path):
    budget = 3 * _floor(space)
    result = _search(space, tmp_path, budget, 14)
    trials = result.study.get_trials()
    assert len(trials) == 14 and all(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:
        a = t.user_attrs
        spec = NetworkSpec.from_json(a["spec"])
        assert spec.hash == a["spec_hash"] == space.build(t.params).hash
        assert {"params", "macs", "flops", "latency_ms", "latency_iqr_ms", "backend", "proxy",
                "proxy_name", "feasible"} <= set(a)
        assert a["flops"] == 2 * a["macs"]
        assert a["backend"] == "lut"
        # the list form: Optuna reads it as constraint "0", optuna-dashboard shows it
        assert t.system_attrs["constraints"] == [pytest.approx(a["latency_ms"] - budget)]
        assert t.constraints == {"0": pytest.approx(a["latency_ms"] - budget)}
        assert a["feasible"] == (a["latency_ms"] <= budget)
        assert t.value == a["proxy"]
    infeasible = [t for t in trials if not t.user_attrs["feasible"]]
    assert infeasible, "the budget should cut the space"
    best = result.best()
    assert not best.empty and best.feasible.all() and (best.latency_ms <= budget).all()
    assert list(best.proxy) == sorted(best.proxy, reverse=True)
    feasible = [t.value for t in trials if t.user_attrs["feasible"]]
    assert best.proxy.iloc[0] == max(feasible)
    assert result.study.best_trial.value == max(feasible)
    assert trial_spec(str(tmp_path / "s.db"), "t", best.trial.iloc[0]).hash == \
        best.spec_hash.iloc[0]


def test_resume_continues_to_total_and_keeps_trials(space, tmp_path):
    budget = 3 * _floor(space)
    first = _search(space, tmp_path, budget, 5)
    before = {t.number: t.user_attrs["spec_hash"] for t in first.study.get_trials()}
    second = _search(space, tmp_path, budget, 9)
    after = {t.number: t.user_attrs["spec_hash"] for t in second.study.get_trials()}
    assert len(after) == 9 and second.new_trials == 4
    assert all(after[n] == h for n, h in before.items())
    assert _search(space, tmp_path, budget, 9).new_trials == 0
    with pytest.raises(Exception, match="budget_ms"):
        _search(space, tmp_path, budget * 2, 10)  # same study, other budget


def test_identical_specs_are_measured_once(tmp_path):
    tiny = parse_space({"base": "repvit_m0_9", "resolution": [64, 96], "se": "none",
                        "depths": [1, 1, 2, 1]})
    result = _search(tiny, tmp_path, 1e6, 8, sampler="random")
    df = result.trials_frame()
    assert df.spec_hash.nunique() == 2 and df.duplicate_of.notna().sum() == 6
    calls = (tmp_path / "calls.txt").read_text().split()
    assert len(calls) == 2 + 1  # + the budget check's smallest network


def test_crashing_trial_is_recorded_and_study_goes_on(tmp_path):
    crashy = parse_space({"base": "repvit_m0_9", "resolution": [64, 999],
                          "depths": [1, 1, [2, 4, 6], 1]})
    result = _search(crashy, tmp_path, 1e6, 10, sampler="random")
    df = result.trials_frame()
    failed = df[df.state == "FAIL"]
    assert len(df) == 10 and len(failed) > 0 and (df.state == "COMPLETE").any()
    assert failed.error.str.contains("RuntimeError: boom").all()
    assert (failed.p_resolution == 999).all()


def test_setup_errors_stop_the_search_early(space, tmp_path, capsys):
    always = parse_space({"base": "repvit_m0_9", "resolution": [999],
                          "depths": [1, 1, [2, 4], 1]})
    with pytest.raises(ExplorerError, match="first 3 trials all failed.*RuntimeError: boom"):
        _search(always, tmp_path, None, 10, objective="multi")
    err = capsys.readouterr().err
    assert "trial 0 failed: RuntimeError: boom" in err and "Traceback" not in err
    for bad in ({"metrics": ("latency", "proxy", "nosuch")}, {"proxy": "nosuch"}):
        with pytest.raises(ExplorerError, match="unknown (metric|proxy) 'nosuch'"):
            _search(space, tmp_path, 1e6, 3, study="fresh", **bad)
    assert load_result(str(tmp_path / "s.db"), "t").n_done == 3  # "fresh" never created
    with pytest.raises(ExplorerError, match="no study 'fresh'"):
        load_result(str(tmp_path / "s.db"), "fresh")


def test_budget_errors(space, tmp_path):
    for bad in (0, -1, float("nan")):
        with pytest.raises(BudgetError, match="positive"):
            _search(space, tmp_path, bad, 3)
    with pytest.raises(BudgetError, match="below anything the space can reach"):
        _search(space, tmp_path, _floor(space) / 2, 3)
    with pytest.raises(BudgetError, match="needs --budget-ms or --budget-ref"):
        _search(space, tmp_path, None, 3)


def test_no_feasible_trial_reports_fastest(space, tmp_path, capsys):
    from explorer.commands.search import report

    floor = _floor(space)
    result = _search(space, tmp_path, floor * 1.0001, 4, sampler="random", seed=3)
    assert result.best().empty  # only the very smallest network fits
    report(result)
    out = capsys.readouterr().out
    assert "No trial met the budget" in out and "Fastest candidate seen: trial" in out


def test_multi_objective_pareto(space, tmp_path):
    result = _search(space, tmp_path, None, 12, objective="multi", sampler="random")
    assert len(result.study.directions) == 2
    front = result.pareto()
    assert len(front) >= 1
    assert list(front.latency_ms) == sorted(front.latency_ms)
    assert list(front.proxy) == sorted(front.proxy)  # slower must mean better on the front
    df = result._complete()
    for _, row in front.iterrows():  # nothing dominates a front member
        assert not ((df.latency_ms < row.latency_ms) & (df.proxy > row.proxy)).any()


@pytest.mark.parametrize("url, needle", [
    ("nosuchdb://x/y", "cannot open study storage nosuchdb://x/y"),
    ("postgresql://u:secret@127.0.0.1:1/db",
     "cannot open study storage postgresql+psycopg2://u:***@127.0.0.1:1/db: "
     "(psycopg2.OperationalError) connection to server"),
])
def test_bad_storage(space, url, needle):
    with pytest.raises(StorageError) as err:
        run_search(space, 1e6, 2, storage=url, progress=False, backend="lut")
    assert needle in str(err.value) and "secret" not in str(err.value)


def test_reading_a_missing_database_creates_nothing(tmp_path):
    missing = tmp_path / "none" / "search.db"
    with pytest.raises(StorageError, match=f"no study database at {missing}"):
        load_result(str(missing), "t")
    assert not missing.exists()


def test_two_local_workers_share_sqlite(space, tmp_path, monkeypatch):
    monkeypatch.setenv(search_fakes.SLEEP, "0.3")  # so that both workers get trials
    result = _search(space, tmp_path, 3 * _floor(space), 10, workers=2,
                     worker_init="tests.search_fakes:install")
    trials = result.study.get_trials()
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert 10 <= len(done) <= 11 and not [t for t in trials if t.state == TrialState.RUNNING]
    assert len({t.user_attrs["worker"] for t in done}) >= 2  # both processes ran trials


def test_cli_search_and_show(space, tmp_path, capsys):
    path = tmp_path / "space.yaml"
    import yaml

    path.write_text(yaml.safe_dump(SPACE))
    db = str(tmp_path / "cli.db")
    budget = f"{8 * _floor(space):.4f}"
    csv = tmp_path / "trials.csv"
    args = ["search", "--space", str(path), "--budget-ms", budget, "--trials", "6",
            "--backend", "lut", "--storage", db, "--study", "cli", "--csv", str(csv)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Best feasible architectures" in out and "spec_hash" in out
    assert len(csv.read_text().splitlines()) == 7
    assert main(["search", "--study", "cli", "--storage", db, "--show"]) == 0
    assert "Best feasible" in capsys.readouterr().out
    assert main(args[:4] + ["-1"] + args[5:]) == 2
    assert "budget must be a positive number" in capsys.readouterr().err
    assert main(["search", "--study", "nope", "--storage", db, "--show"]) == 2
    assert "no study 'nope'" in capsys.readouterr().err
    blocker = tmp_path / "afile"
    blocker.write_text("")
    assert main(args[:-1] + [str(blocker / "t.csv"), "--study", "csv-check"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    with pytest.raises(ExplorerError, match="no study 'csv-check'"):  # failed before trials
        load_result(db, "csv-check")
    assert optuna.load_study(study_name="cli", storage=f"sqlite:///{db}").user_attrs[
        "budget_ms"] == float(budget)


def test_export_a_trial(space, tmp_path, capsys):
    db = str(tmp_path / "s.db")
    result = _search(space, tmp_path, 1e6, 2, sampler="random")
    number = int(result.best(1).trial.iloc[0])
    out = tmp_path / "exports"
    args = ["export", "--study", "t", "--storage", db, "--format", "onnx", "--out", str(out)]
    assert main(args + ["--trial", str(number)]) == 0
    written = list(out.glob("*.onnx"))
    assert len(written) == 1 and f"trial{number}" in written[0].name
    assert main(args) == 2 and "--study needs --trial" in capsys.readouterr().err
    assert main(args + ["--trial", "99"]) == 2
    assert "has no trial 99" in capsys.readouterr().err


def test_metrics_choice(space, tmp_path):
    result = _search(space, tmp_path, 1e6, 2, metrics=("latency", "proxy"))
    attrs = result.study.trials[0].user_attrs
    assert "latency_ms" in attrs and "macs" not in attrs and "seconds_macs" not in attrs
    with pytest.raises(Exception, match="needs the metrics latency and proxy"):
        _search(space, tmp_path, 1e6, 2, metrics=("params", "latency"))


def test_nsga2_sampler_runs_constrained(space, tmp_path):
    result = _search(space, tmp_path, 3 * _floor(space), 4, sampler="nsga2")
    assert all(len(t.constraints) == 1 for t in result.study.trials)
