"""Several latency backends side by side (roadmap and SE table), tested with fake
backends registered as the latency metric: ``paperlike`` answers the paper's own iPhone 12
latency for every row (Kendall tau 1 against the paper), ``reverse`` its negation (tau -1),
any other name a constant. No network is built or timed."""
import json

import pandas as pd
import pytest

from explorer import backend_columns as bc
from explorer import report, roadmap
from explorer.cli import main
from explorer.errors import BackendError
from explorer.paper import CONTROL_STEPS, PAPER_STEPS, SE_TABLE

PAPER_MS = {f"roadmap_{s.id}": s.paper_latency_ms for s in PAPER_STEPS + CONTROL_STEPS} | {
    f"{r.model}+{r.edit}": r.paper_latency_ms for r in SE_TABLE}


CALLS: list[str] = []  # backends the fake was asked for, in order


def fake_latency(candidate, backend="ort", threads=1, **_):
    CALLS.append(backend)
    ms = PAPER_MS.get(candidate.name, 1.0)
    ms = {"paperlike": ms, "reverse": 10.0 - ms}.get(backend, 1.0)
    return {"latency_ms": ms, "latency_iqr_ms": 0.01, "backend": backend, "threads": threads}


@pytest.fixture(autouse=True)
def fake_backends(monkeypatch):
    from explorer.measure import METRICS
    from explorer.measure.backends.runtimes import RUNTIMES as BACKENDS

    monkeypatch.setitem(METRICS, "latency", f"{__name__}:fake_latency")
    CALLS.clear()
    for name in ("paperlike", "reverse"):  # known names, so the CLI's up-front check passes
        monkeypatch.setitem(BACKENDS, name, object)


def test_one_latency_column_per_backend_each_with_its_tau():
    df = roadmap.run_roadmap(metrics=["latency"], progress=False, backend="paperlike,reverse")
    assert bc.backends(df) == ["paperlike", "reverse"]
    assert "latency_ms" not in df and df["backend"].iloc[0] == "paperlike,reverse"
    assert list(df["latency_ms[paperlike]"]) == list(df["paper_latency_ms"])
    assert df["latency_rel[paperlike]"].tolist() == pytest.approx(df["paper_latency_rel"])
    agree = roadmap.agreement(df)
    assert agree["latency_vs_paper_latency[paperlike]"] == {"kendall_tau": 1.0, "n": 12}
    assert agree["latency_vs_paper_latency[reverse]"]["kendall_tau"] == pytest.approx(-1.0)
    assert "latency_vs_paper_latency" not in agree


def test_a_single_backend_keeps_the_plain_columns():
    df = roadmap.run_roadmap(metrics=["latency"], progress=False, backend="paperlike")
    assert bc.backends(df) == [None]
    assert {"latency_ms", "latency_rel", "backend"} <= set(df.columns)
    assert not [c for c in df.columns if c.endswith("]")]
    assert roadmap.agreement(df)["latency_vs_paper_latency"]["kendall_tau"] == 1.0


def test_cli_roadmap_table_json_and_figure_show_every_backend(tmp_path):
    assert main(["roadmap", "--metrics", "latency", "--backend", "paperlike,reverse",
                 "--plot", "--out", str(tmp_path)]) == 0
    md = (tmp_path / "roadmap.md").read_text()
    for text in ("paperlike ms (±IQR/2)", "reverse × step 0", "paper iPhone12 ms",
                 "Kendall tau, paperlike latency vs paper iPhone 12 latency: **1.00**",
                 "Kendall tau, reverse latency vs paper iPhone 12 latency: **-1.00**"):
        assert text in md
    saved = json.loads((tmp_path / "roadmap.json").read_text())
    assert set(saved["agreement"]) == {"latency_vs_paper_latency[paperlike]",
                                       "latency_vs_paper_latency[reverse]"}
    assert saved["rows"][2]["latency_ms[paperlike]"] == 0.81
    svg = (tmp_path / "roadmap.svg").read_text()
    assert "paperlike" in svg and "reverse" in svg and "paper iPhone 12" in svg
    # a report reads the first backend's latency from a multi-backend table
    csv = pd.read_csv(tmp_path / "roadmap.csv").assign(proxy=1.0)
    csv.to_csv(tmp_path / "roadmap.csv", index=False)
    loaded = report.load_roadmap(tmp_path / "roadmap.csv")
    assert loaded["latency_ms"].tolist() == csv["latency_ms[paperlike]"].tolist()
    assert loaded["backend"].iloc[0] == "paperlike" and "latency_ms[reverse]" not in loaded
    # ... or the study's own backend when the table has it (a model:PROFILE study)
    chosen = report.load_roadmap(tmp_path / "roadmap.csv", "reverse")
    assert chosen["latency_ms"].tolist() == csv["latency_ms[reverse]"].tolist()


def test_se_table_measures_the_papers_rows_on_every_backend(tmp_path):
    assert main(["roadmap", "--table", "se", "--metrics", "latency",
                 "--backend", "paperlike,reverse", "--out", str(tmp_path)]) == 0
    df = pd.read_csv(tmp_path / "se_table.csv")
    assert list(df["edit"]) == [r.edit for r in SE_TABLE]
    assert list(df["paper_top1"]) == [77.92, 78.75, 78.74, 81.86, 82.29, 82.29]
    assert df["latency_rel[paperlike]"].tolist() == pytest.approx(df["paper_latency_rel"])
    assert df["paper_latency_rel"].tolist() == pytest.approx(
        [1, 0.92 / 0.83, 0.87 / 0.83, 1, 1.58 / 1.48, 1.52 / 1.48])
    md = (tmp_path / "se_table.md").read_text()
    assert "| RepViT-M1.5 | SE in every block" in md and "paper × no SE" in md
    agree = json.loads((tmp_path / "se_table.json").read_text())["agreement"]
    assert agree["latency_vs_paper_latency[paperlike]"]["kendall_tau"] == pytest.approx(1.0)


@pytest.mark.parametrize("args, needle", [
    (["--backend", "ort,,torch"], "has an empty name"),
    (["--backend", "ort,torch,ort"], "lists ort more than once"),
    (["--backend", "paperlike,nope"], "unknown latency backend 'nope'"),
    (["--table", "se", "--ablate"], "--ablate: roadmap table only"),
    (["--table", "se", "--base", "repvit_m0_9", "--plot"], "--base, --plot: roadmap table"),
])
def test_bad_backend_lists_and_options_are_one_message(args, needle, tmp_path, capsys):
    assert main(["roadmap", "--metrics", "latency", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not CALLS and not list(tmp_path.iterdir())  # nothing measured, nothing written


def test_select_names_the_backends_it_has():
    df = pd.DataFrame({"step": ["0"], "latency_ms[a]": [1.0], "backend": ["a"]})
    with pytest.raises(BackendError, match="no columns for backend 'b'; it has a"):
        bc.select(df, "b")



def test_ablation_has_a_delta_per_backend():
    ab = roadmap.run_ablation(metrics=["latency"], progress=False, backend="paperlike,reverse")
    assert {"latency_ms_delta[paperlike]", "latency_ms_delta[reverse]"} <= set(ab.columns)
    assert ab["latency_ms_delta[reverse]"].iloc[0] == 0.0
    from explorer.tables import ablation_markdown

    md = ablation_markdown(ab)
    assert "Δ paperlike ms" in md and "Δ reverse ms" in md
