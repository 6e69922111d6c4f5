"""Reports and the pareto/report commands over a real (SQLite) study whose metrics are
the search tests' fast fakes: content of report.md, figures, and clean failures."""
from __future__ import annotations

import pandas as pd
import pytest

from explorer import report
from explorer.cli import main
from explorer.errors import DataError, ExplorerError, StorageError
from explorer.search import run_search
from explorer.search_space import parse_space

SPACE = {"base": "repvit_m0_9", "resolution": [64, 96],
         "widths": [[24, 48], [48, 96], {"low": 96, "high": 192, "step": 32}, [192, 384]],
         "depths": [[1, 2], [1, 2], {"low": 2, "high": 8, "step": 2}, [1, 2]],
         "se": ["none", "alternate", "all"]}
BUDGET_MS = 0.15  # fakes give 0.03-0.3 ms on this space: some trials infeasible


@pytest.fixture(autouse=True)
def fake_metrics(monkeypatch):
    from explorer.measure import METRICS

    for name in ("params", "macs", "latency", "proxy"):
        monkeypatch.setitem(METRICS, name, f"tests.search_fakes:{name}")


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    """One small study ('demo', 16 trials) and one empty study ('empty')."""
    import optuna

    from explorer.search import open_storage

    db = str(tmp_path_factory.mktemp("study") / "s.db")
    with pytest.MonkeyPatch.context() as mp:
        from explorer.measure import METRICS

        for name in ("params", "macs", "latency", "proxy"):
            mp.setitem(METRICS, name, f"tests.search_fakes:{name}")
        run_search(parse_space(SPACE, "test-space"), BUDGET_MS, 16, storage=db, study="demo",
                   progress=False, backend="lut")
    optuna.create_study(study_name="empty", storage=open_storage(db))
    return db


def roadmap_frame(backend: str = "lut") -> pd.DataFrame:
    nan = float("nan")
    return pd.DataFrame({
        "step": ["0", "1", "3-ctrl"], "edit": ["gelu", "align_recipe", "expansion_2+widths"],
        "title": ["MobileNetV3-L baseline (GELU)", "Aligning training recipe", "Control"],
        "on_path": [True, True, False], "params": [5.4e6, 5.4e6, 6.1e6],
        "macs": [2.2e8, 2.2e8, 4.2e8], "latency_ms": [0.2, 0.2, 0.3],
        "latency_iqr_ms": [0.01, 0.01, 0.01], "latency_rel": [1.0, 1.0, 1.5],
        "proxy": [17.0, 17.0, 18.0], "proxy_name": "default", "backend": backend,
        "threads": 1, "paper_latency_ms": [1.01, 1.01, 0.91],
        "paper_latency_rel": [1.0, 1.0, 0.9], "paper_top1": [nan, 71.5, 73.0],
        "paper_params": [5.4e6, nan, nan], "paper_macs": [219e6, nan, nan]})


def test_load_study_carries_setup(storage):
    view = report.load_study("demo", storage)
    assert len(view.trials) == 16 and set(view.trials["state"]) == {"COMPLETE"}
    assert (view.backend, view.threads, view.proxy) == ("lut", 1, "default")
    assert not view.trials["feasible"].all() and view.trials["feasible"].any()


@pytest.mark.parametrize("study, storage_ref, error, needle", [
    ("nope", None, ExplorerError, "no study 'nope'"),
    ("empty", None, report.EmptyStudyError, "no completed trial"),
    ("demo", "mysql+nodriver://x/y", StorageError, "storage"),
])
def test_load_study_errors(storage, study, storage_ref, error, needle):
    with pytest.raises(error, match=needle):
        report.load_study(study, storage_ref or storage)


def test_write_report_has_every_section(storage, tmp_path):
    view = report.load_study("demo", storage)
    (tmp_path / "roadmap.png").write_bytes(b"png")  # as 'explorer roadmap --plot' leaves it
    paths = report.write_report(view, tmp_path, roadmap=roadmap_frame(), progress=False,
                                cache_dir=str(tmp_path / "cache"))
    assert [p.name for p in paths] == ["pareto.png", "pareto.svg", "report.md"]
    md = (tmp_path / "report.md").read_text()
    best = view.result.best(1)
    for text in ("# Search report: study `demo`", "latency budget: 0.15 ms",
                 "backend: `lut`, threads: 1", "machine:", "versions:",
                 "![pareto](pareto.png)", "## Best architectures", "## Pareto set",
                 "explorer export --study demo --trial", "```yaml", "stages:",
                 "## Reference models", "RepViT-M2.3", "MobileNetV3-L",
                 "## RepViT roadmap", "### Agreement with the paper", "![roadmap](roadmap.png)",
                 f"| {int(best.trial.iloc[0])} ", "FLOPs (M)"):
        assert text in md, text
    assert best.flops.iloc[0] == 2 * best.macs.iloc[0]
    assert "another backend" not in md
    svg = (tmp_path / "pareto.svg").read_text()
    assert "roadmap steps" in svg and "RepViT-M0.9" in svg and "latency budget 0.15 ms" in svg


def test_rows_from_another_setup_stay_off_the_plot(storage, tmp_path):
    view = report.load_study("demo", storage)
    other = roadmap_frame(backend="ort")
    report.pareto_figure(view, tmp_path, roadmap=other)
    assert "roadmap steps" not in (tmp_path / "pareto.svg").read_text()
    md = report.report_markdown(view, [], tmp_path, roadmap=other)
    assert "another backend" in md and "## RepViT roadmap" in md


def test_unmeasured_metrics_show_as_dashes(storage, tmp_path):
    view = report.load_study("demo", storage)
    view.trials = view.trials.drop(columns=["macs"])
    view.result.trials_frame = lambda: view.trials  # as if searched with --metrics w/o macs
    md = report.report_markdown(view, [], tmp_path)
    assert "| –" in md and "nan" not in md


def test_load_roadmap(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no results/roadmap.csv here: the default is optional
    assert report.load_roadmap() is None
    with pytest.raises(DataError, match="not found"):
        report.load_roadmap(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("step,params\n0,1\n")
    with pytest.raises(DataError, match="lacks columns"):
        report.load_roadmap(bad)
    good = tmp_path / "roadmap.csv"
    roadmap_frame().to_csv(good, index=False)
    df = report.load_roadmap(good)
    assert list(df["step"]) == ["0", "1", "3-ctrl"] and df["on_path"].dtype == bool


def test_cli_pareto_and_report(storage, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["pareto", "--study", "demo", "--storage", storage, "--out", str(out),
                 "--budget-ms", "0.1", "--no-references", "--no-roadmap"]) == 0
    assert "latency budget 0.1 ms" in (out / "pareto.svg").read_text()
    assert main(["report", "--study", "demo", "--storage", storage, "--out", str(out),
                 "--no-references", "--no-roadmap", "--top", "2"]) == 0
    md = (out / "report.md").read_text()
    assert "## Reference models" not in md and "## RepViT roadmap" not in md
    assert "wrote" in capsys.readouterr().out


def test_cli_pareto_and_report_with_a_budget_ref(storage, tmp_path):
    from explorer.candidate import resolve
    from tests import search_fakes

    ref_ms = search_fakes.latency(resolve("repvit_m0_9"))["latency_ms"]
    factor = float(f"{0.1 / ref_ms:.3g}")  # a budget of about 0.1 ms: some trials within
    drawn = f"{factor * ref_ms:.4g} ms = {factor:g} x repvit_m0_9's latency ({ref_ms:.4g} ms)"
    trials = report.load_study("demo", storage).trials
    within = int((trials.latency_ms <= factor * ref_ms).sum())
    assert 0 < within < int(trials.feasible.sum())  # fewer than the study's own budget
    out = tmp_path / "out"
    common = ["--study", "demo", "--storage", storage, "--out", str(out), "--no-references",
              "--no-roadmap", "--budget-ref", f"repvit_m0_9:{factor:g}"]
    assert main(["pareto", *common]) == 0
    svg = (out / "pareto.svg").read_text()
    assert f"latency budget {drawn}" in svg and f"feasible trials ({within})" in svg
    assert main(["report", *common]) == 0
    md = (out / "report.md").read_text()
    assert f"latency budget: {BUDGET_MS:g} ms" in md
    assert f"- budget drawn (given to this report): {drawn}; {within} of 16 measured" in md


def test_a_budget_ref_is_not_timed_beside_another_machines_trials(storage, tmp_path, capsys):
    import optuna

    from explorer.search import open_storage

    run_search(parse_space(SPACE, "test-space"), BUDGET_MS, 2, storage=storage,
               study="elsewhere", progress=False, backend="lut")
    optuna.load_study(study_name="elsewhere", storage=open_storage(storage)).set_user_attr(
        "fingerprint", "another-host")  # as a study timed on another host records it
    assert main(["pareto", "--study", "elsewhere", "--storage", storage, "--out",
                 str(tmp_path), "--budget-ref", "repvit_m0_9"]) == 2
    assert "was measured on another machine (fingerprint another-host" in \
        capsys.readouterr().err
    assert main(["pareto", "--study", "elsewhere", "--storage", storage, "--out",
                 str(tmp_path), "--budget-ms", "0.1", "--no-references", "--no-roadmap"]) == 0


def test_budget_ms_and_budget_ref_exclude_each_other(storage, capsys):
    with pytest.raises(SystemExit):
        main(["pareto", "--study", "demo", "--budget-ms", "1", "--budget-ref", "repvit_m0_9"])
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize("argv, needle", [
    (["pareto", "--study", "nope"], "no study 'nope'"),
    (["report", "--study", "empty"], "no completed trial"),
    (["pareto", "--study", "demo", "--roadmap", "missing.csv"], "not found"),
    (["report", "--study", "demo", "--top", "0"], "--top must be a positive number, got 0"),
    (["report", "--study", "demo", "--top", "-5"], "--top must be a positive number"),
    (["pareto", "--study", "demo", "--budget-ms", "-3"], "--budget-ms must be a positive"),
    (["pareto", "--study", "demo", "--budget-ms", "nan"], "got nan"),
    (["pareto", "--study", "demo", "--budget-ref", "repvit_m9_9"],
     "--budget-ref repvit_m9_9: cannot build the reference"),
    (["report", "--study", "demo", "--budget-ref", "efficientnet_b0"],
     "--budget-ref efficientnet_b0: cannot measure the reference on backend lut"),
    (["report", "--study", "demo", "--budget-ref", "repvit_m0_9:-1"], "MODEL[:FACTOR]"),
])
def test_cli_errors_are_one_line(storage, tmp_path, capsys, argv, needle):
    assert main(argv + ["--storage", storage, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "pareto.png").exists() and not (tmp_path / "report.md").exists()


def test_search_show_refuses_a_non_positive_top(storage, capsys):
    assert main(["search", "--show", "--study", "demo", "--storage", storage,
                 "--top", "-3"]) == 2
    err = capsys.readouterr()
    assert "--top must be a positive number" in err.err and "No trial met" not in err.out


def test_cli_bad_storage_url(tmp_path, capsys):
    assert main(["report", "--study", "x", "--storage", "nodb+weird://", "--out",
                 str(tmp_path)]) == 2
    assert "storage" in capsys.readouterr().err
