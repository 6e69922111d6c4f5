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
    assert budget.describe() == "13.2 ms = 1.1 x repvit_m0_9 (12 ms)"
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
