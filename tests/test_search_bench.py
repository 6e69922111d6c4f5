"""explorer bench search, on fake metrics: both samplers at equal budgets, hypervolume."""
from __future__ import annotations

import json

import pytest

from explorer.bench.search import hypervolume, run_bench
from tests import search_fakes


def test_hypervolume_normalised():
    assert hypervolume([], (0.0, 1.0), 10.0) == 0.0
    assert hypervolume([(1.0, 0.0)], (0.0, 1.0), 10.0) == pytest.approx(1.0)
    assert hypervolume([(1.0, 5.0)], (0.0, 1.0), 10.0) == pytest.approx(0.5)
    assert hypervolume([(1.0, 5.0), (0.5, 2.0)], (0.0, 1.0), 10.0) == pytest.approx(0.5 + 0.15)
    assert hypervolume([(1.0, 11.0)], (0.0, 1.0), 10.0) == 0.0  # infeasible adds nothing


def test_bench_search_compares_samplers(monkeypatch, tmp_path):
    search_fakes.install_for_test(monkeypatch)
    report = run_bench("search_spaces/repvit.yaml", 6, 2, 0, None,
                       {"cache_dir": str(tmp_path)})
    assert set(report["samplers"]) == {"tpe", "random"}
    for row in report["samplers"].values():
        assert row["trials"] == 6 and 0.0 <= row["hypervolume"] <= 1.0
        assert row["trials_per_minute"] > 0
    assert report["measured_latency_run"]["trials"] == 2
    assert isinstance(report["throughput"]["target_met"], bool)
    json.dumps(report, default=str)


def test_bench_search_budget_ref_sets_both_runs_budgets(monkeypatch, tmp_path):
    from explorer.candidate import resolve

    search_fakes.install_for_test(monkeypatch)
    ref_ms = search_fakes.latency(resolve("repvit_m1_0"))["latency_ms"]
    db = tmp_path / "bench.db"
    report = run_bench("search_spaces/repvit.yaml", 3, 1, 0, None, {"cache_dir": str(tmp_path)},
                       storage=str(db), budget_ref="repvit_m1_0:1.5")
    assert report["budget_ms"] == pytest.approx(1.5 * ref_ms)
    import optuna

    for summary in optuna.get_all_study_summaries(f"sqlite:///{db}"):  # origin stored too
        attrs = summary.user_attrs
        assert (attrs["budget_ref"], attrs["budget_factor"]) == ("repvit_m1_0", 1.5), summary
        assert attrs["budget_ms"] == pytest.approx(1.5 * attrs["budget_ref_ms"])
    assert report["budget_rule"].endswith(f"= 1.5 x repvit_m1_0's latency ({ref_ms:.4g} ms) "
                                          "on lut")
    ort = report["measured_latency_run"]
    assert ort["budget_ms"] == pytest.approx(1.5 * ref_ms)
    assert ort["budget_rule"].endswith(" on ort")


def test_bench_search_bad_budget_ref_fails_before_any_study(monkeypatch, tmp_path):
    from explorer.errors import BudgetError

    search_fakes.install_for_test(monkeypatch)
    db = tmp_path / "bench.db"
    with pytest.raises(BudgetError, match="--budget-ref repvit_m9_9: cannot build"):
        run_bench("search_spaces/repvit.yaml", 3, 1, 0, None, {"cache_dir": str(tmp_path)},
                  storage=str(db), budget_ref="repvit_m9_9")
    assert not db.exists()
