"""Budgets relative to a reference model: parsing MODEL[:FACTOR], measuring the reference
on the study's backend, and one clear error for a reference that cannot be built or
measured."""
from __future__ import annotations

import pytest

from explorer.budget import Budget, BudgetRef, resolve_budget
from explorer.errors import BudgetError
from tests import search_fakes


@pytest.fixture
def fake_latency(monkeypatch):
    from explorer.measure import METRICS

    monkeypatch.setitem(METRICS, "latency", "tests.search_fakes:latency")


def _fake_ms(name: str) -> float:
    from explorer.candidate import resolve

    return search_fakes.latency(resolve(name))["latency_ms"]


@pytest.mark.parametrize("text, model, factor", [
    ("repvit_m0_9", "repvit_m0_9", 1.0), ("repvit_m0_9:1.1", "repvit_m0_9", 1.1),
    ("specs/my net.yaml:0.5", "specs/my net.yaml", 0.5),
    (" efficientnet_b0:2 ", "efficientnet_b0", 2),
])
def test_parse(text, model, factor):
    ref = BudgetRef.parse(text)
    assert (ref.model, ref.factor) == (model, factor)
    assert BudgetRef.parse(str(ref)) == ref


@pytest.mark.parametrize("text", ["", ":2", "repvit_m0_9:", "repvit_m0_9:0", "repvit_m0_9:-1",
                                  "repvit_m0_9:fast", "repvit_m0_9:nan", "repvit_m0_9:inf"])
def test_parse_refuses_bad_references(text):
    with pytest.raises(BudgetError, match="MODEL\\[:FACTOR\\]"):
        BudgetRef.parse(text)


def test_budget_attrs_round_trip_and_describe():
    budget = Budget(13.2, BudgetRef("repvit_m0_9", 1.1), 12.0)
    assert Budget.from_attrs(budget.attrs()) == budget
    assert budget.describe() == "13.2 ms = 1.1 x repvit_m0_9's latency (12 ms)"
    assert Budget(12.0, BudgetRef("repvit_m0_9"), 12.0).describe() == \
        "12 ms = repvit_m0_9's latency"
    plain = Budget(25.0)
    assert plain.attrs() == {"budget_ms": 25.0, "budget_ref": None, "budget_factor": None,
                             "budget_ref_ms": None}
    assert Budget.from_attrs(plain.attrs()) == plain and plain.describe() == "25 ms"
    assert Budget.from_attrs({"budget_ms": None}) is None


def test_resolve_measures_the_reference_with_the_given_options(fake_latency):
    ms = _fake_ms("repvit_m0_9")
    budget = resolve_budget("repvit_m0_9:1.5", backend="torch", threads=2)
    assert budget.ref == BudgetRef("repvit_m0_9", 1.5)
    assert budget.ref_ms == pytest.approx(ms) and budget.ms == pytest.approx(1.5 * ms)


def test_resolve_a_spec_file(fake_latency, tmp_path):
    from explorer import zoo

    path = tmp_path / "ref.json"
    path.write_text(zoo.get_spec("repvit_m1_0").to_json())
    assert resolve_budget(f"{path}:2").ms == pytest.approx(2 * _fake_ms("repvit_m1_0"))


def test_resolve_on_a_device_cost_model(tmp_path):
    """A backend that predicts (model:iphone12, no fakes): the reference's latency is
    exactly what that backend gives the model."""
    from explorer.candidate import resolve
    from explorer.measure import measure

    budget = resolve_budget("repvit_m0_9:1.1", backend="model:iphone12", cache_dir=str(tmp_path))
    direct = measure(resolve("repvit_m0_9"), ["latency"], backend="model:iphone12",
                     cache_dir=str(tmp_path))["latency_ms"]
    assert budget.ref_ms == pytest.approx(direct) and budget.ms == pytest.approx(1.1 * direct)
    assert 0.5 < budget.ref_ms < 2.0  # the paper's iPhone 12 figure for M0.9 is 0.87 ms


@pytest.mark.parametrize("ref, message", [
    ("repvit_m9_9", "cannot build the reference: 'repvit_m9_9' is not a zoo model"),
    ("missing.yaml", "cannot build the reference"),
    ("efficientnet_b0", "cannot measure the reference on backend lut: BackendError: backend "
                        "'lut' predicts spec-built models only"),
])
def test_a_reference_that_fails_is_one_clear_error(ref, message, tmp_path):
    with pytest.raises(BudgetError) as info:
        resolve_budget(ref, backend="lut", cache_dir=str(tmp_path))
    assert message in str(info.value) and str(info.value).startswith(f"--budget-ref {ref}:")


# -- a search with a reference budget ------------------------------------------------------
SPACE = {"base": "repvit_m0_9", "resolution": [64, 96],
         "widths": [[24, 48], [48, 96], {"low": 96, "high": 192, "step": 32}, [192, 384]],
         "depths": [[1, 2], [1, 2], {"low": 2, "high": 8, "step": 2}, [1, 2]]}


@pytest.fixture
def space(monkeypatch, tmp_path):
    """The test space on fake metrics; every latency measurement is logged by spec."""
    from explorer.measure import METRICS
    from explorer.search_space import parse_space

    for name in ("params", "macs", "latency", "proxy"):
        monkeypatch.setitem(METRICS, name, f"tests.search_fakes:{name}")
    monkeypatch.setenv(search_fakes.CALLS_FILE, str(tmp_path / "calls.txt"))
    return parse_space(SPACE, "test-space")


@pytest.fixture
def ref_file(space, tmp_path):
    """A spec-file reference: the space's smallest network (its latency is the floor)."""
    path = tmp_path / "smallest.json"
    path.write_text(space.smallest().to_json())
    return path


def _ref_measurements(space, tmp_path) -> int:
    calls = tmp_path / "calls.txt"
    lines = calls.read_text().splitlines() if calls.exists() else []
    return lines.count(space.smallest().deploy_hash)


def _search(space, tmp_path, trials, **kw):
    from explorer.search import run_search

    return run_search(space, None, trials, storage=str(tmp_path / "s.db"), progress=False,
                      backend="lut", **kw)


def test_search_stores_the_reference_and_resumes_with_its_number(space, ref_file, tmp_path):
    import optuna

    from explorer.candidate import from_spec

    floor = search_fakes.latency(from_spec(space.smallest()))["latency_ms"]
    result = _search(space, tmp_path, 6, budget_ref=f"{ref_file}:3", study="ref")
    attrs = result.study.user_attrs
    assert attrs["budget_ref"] == str(ref_file) and attrs["budget_factor"] == 3
    assert attrs["budget_ref_ms"] == pytest.approx(floor)
    assert attrs["budget_ms"] == pytest.approx(3 * floor) == result.budget_ms
    assert result.budget.describe() == \
        f"{3 * floor:.4g} ms = 3 x {ref_file}'s latency ({floor:.4g} ms)"
    trials = result.study.get_trials()
    assert {t.user_attrs["feasible"] for t in trials} == {True, False}
    assert all(t.constraints == {"0": pytest.approx(t.user_attrs["latency_ms"] - 3 * floor)}
               for t in trials)
    # resuming measures the reference no more: the study's stored number is the budget
    measured = _ref_measurements(space, tmp_path)
    optuna.load_study(study_name="ref", storage=f"sqlite:///{tmp_path / 's.db'}"
                      ).set_user_attr("budget_ref_ms", floor * 1.01)  # as if timed noisier
    resumed = _search(space, tmp_path, 8, budget_ref=f"{ref_file}:3", study="ref")
    assert resumed.n_done == 8 and resumed.budget_ms == pytest.approx(3 * floor)
    assert _ref_measurements(space, tmp_path) == measured + 1  # the floor check, only
    with pytest.raises(BudgetError, match=f"resume it with --budget-ref {ref_file}:3, or"):
        _search(space, tmp_path, 9, budget_ref=f"{ref_file}:2", study="ref")
    assert _ref_measurements(space, tmp_path) == measured + 1  # refused before measuring
    from explorer.search import run_search

    run_search(space, 3 * floor, 2, storage=str(tmp_path / "s.db"), progress=False,
               backend="lut", study="in-ms")
    with pytest.raises(BudgetError, match=f"resume it with --budget-ms {3 * floor:g}, or"):
        _search(space, tmp_path, 3, budget_ref=f"{ref_file}:3", study="in-ms")


def test_default_study_name_follows_the_reference_not_the_milliseconds(space, tmp_path):
    result = _search(space, tmp_path, 2, budget_ref="repvit_m0_9:1.5")
    assert result.study.study_name == "test-space-proxy-lut-repvit_m0_9x1.5"


@pytest.mark.parametrize("ref, needle", [
    ("repvit_m9_9", "cannot build the reference"),
    ("efficientnet_b0", "cannot measure the reference on backend lut"),  # fakes need specs
    ("repvit_m0_9:0", "MODEL[:FACTOR]"),
])
def test_a_failing_reference_stops_before_the_study_is_touched(space, tmp_path, ref, needle):
    import optuna

    from explorer.search import open_storage

    db = tmp_path / "s.db"
    with pytest.raises(BudgetError, match=needle.replace("[", "\\[")):
        _search(space, tmp_path, 2, budget_ref=ref, study="bad")
    assert not db.exists()  # not even an empty database
    _search(space, tmp_path, 1, budget_ref="repvit_m0_9", study="other")
    with pytest.raises(BudgetError):
        _search(space, tmp_path, 2, budget_ref=ref, study="bad")
    assert optuna.get_all_study_names(open_storage(str(db))) == ["other"]


def test_budget_ms_and_budget_ref_exclude_each_other(space, tmp_path):
    from explorer.search import run_search

    with pytest.raises(BudgetError, match="not both"):
        run_search(space, 5.0, 2, budget_ref="repvit_m0_9", storage=str(tmp_path / "s.db"))


def test_cli_search_show_pareto_with_a_budget_ref(space, ref_file, tmp_path, capsys):
    import yaml

    from explorer.cli import main

    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(SPACE))
    db = str(tmp_path / "cli.db")
    args = ["search", "--space", str(path), "--budget-ref", f"{ref_file}:3", "--trials", "5",
            "--backend", "lut", "--storage", db, "--study", "cli"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "latency <= " in out and f"= 3 x {ref_file}'s latency (" in out
    assert main(["search", "--study", "cli", "--storage", db, "--show"]) == 0
    assert f"= 3 x {ref_file}'s latency (" in capsys.readouterr().out
    measured = _ref_measurements(space, tmp_path)
    out_dir = tmp_path / "fig"
    for extra in ([], ["--budget-ref", f"{ref_file}:3"]):  # the study's own: its number
        assert main(["pareto", "--study", "cli", "--storage", db, "--out", str(out_dir),
                     "--no-references", "--no-roadmap", *extra]) == 0
        assert f"= 3 x {ref_file}'s latency (" in (out_dir / "pareto.svg").read_text()
    assert _ref_measurements(space, tmp_path) == measured
    assert main(args[:4] + ["repvit_m9_9"] + args[5:-1] + ["fails"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--budget-ref repvit_m9_9: cannot build the reference" in err
    assert len(err.splitlines()) == 1
    with pytest.raises(SystemExit):
        main(args + ["--budget-ms", "3"])
    assert "not allowed with argument" in capsys.readouterr().err
