"""Figures: the Pareto front computation and that both figures draw every series from
hand-made frames (the shapes roadmap/search produce), written atomically as PNG + SVG."""
from __future__ import annotations

import pandas as pd
import pytest

from explorer import plots


def trials_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "latency_ms": [1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 2.5],
        "proxy": [0.10, 0.30, 0.20, 0.25, 0.50, 0.90, float("nan")],
        "feasible": [True, True, True, True, True, False, True],
        "backend": "ort", "threads": 1, "proxy_name": "fitted",
    })


def roadmap_frame() -> pd.DataFrame:
    nan = float("nan")
    return pd.DataFrame({
        "step": ["0", "1", "2", "3-ctrl"],
        "edit": ["gelu", "align_recipe", "split_mixers", "expansion_2+widths"],
        "on_path": [True, True, True, False],
        "params": [5.4e6, 5.4e6, 3.9e6, 6.1e6], "macs": [2.2e8, 2.2e8, 1.7e8, 4.2e8],
        "latency_ms": [2.0, 2.0, 1.5, 3.0], "latency_rel": [1.0, 1.0, 0.75, 1.5],
        "proxy": [0.2, 0.2, 0.15, 0.3], "proxy_name": "fitted",
        "backend": "ort", "threads": 1,
        "paper_latency_ms": [1.01, 1.01, 0.81, 0.91],
        "paper_latency_rel": [1.0, 1.0, 0.8, 0.9],
        "paper_top1": [nan, 71.5, 68.3, 73.0],
        "paper_params": [5.4e6, nan, nan, nan], "paper_macs": [219e6, nan, nan, nan],
    })


def references_frame() -> pd.DataFrame:
    return pd.DataFrame({"name": ["mobilenetv3_large_100", "repvit_m0_9"],
                         "latency_ms": [2.0, 4.5], "proxy": [0.2, 0.6]})


def test_pareto_front_keeps_only_non_dominated_rows_sorted_by_latency():
    front = plots.pareto_front(trials_frame())
    assert list(front["latency_ms"]) == [1.0, 2.0, 4.0, 5.0]
    assert list(front["proxy"]) == [0.10, 0.30, 0.50, 0.90]  # (2.0, 0.2), (3.0, 0.25) dominated


def test_pareto_front_of_empty_or_all_nan_frame_is_empty():
    assert plots.pareto_front(pd.DataFrame({"latency_ms": [], "proxy": []})).empty
    assert plots.pareto_front(pd.DataFrame({"latency_ms": [1.0], "proxy": [None]})).empty


def test_short_names():
    assert plots.short_name("repvit_m0_9") == "RepViT-M0.9"
    assert plots.short_name("repvit_m2_3") == "RepViT-M2.3"
    assert plots.short_name("mobilenetv3_large_100") == "MobileNetV3-L"
    assert plots.short_name("my_net") == "my_net"


def _assert_written(paths, tmp_path, stem):
    assert [p.name for p in paths] == [f"{stem}.png", f"{stem}.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths), \
        "no temp files left behind"
    return paths[1].read_text()


def test_plot_pareto_draws_every_series(tmp_path):
    paths = plots.plot_pareto(trials_frame(), tmp_path, budget_ms=4.5, roadmap=roadmap_frame(),
                              references=references_frame(), title_info="study demo")
    svg = _assert_written(paths, tmp_path, "pareto")
    for text in ("infeasible trials (1)", "feasible trials (5)", "Pareto front (3)",
                 "latency budget 4.5 ms", "roadmap steps", "RepViT-M0.9", "MobileNetV3-L",
                 "backend ort, 1 thread(s), study demo", "latency (ms", "fitted"):
        assert text in svg, text
    assert "3-ctrl" not in svg  # the off-path control is not part of the trajectory
    assert ">0/1<" in svg and ">2<" in svg  # steps 0 and 1 are the same model: one label


def test_plot_pareto_without_feasibility_or_extras(tmp_path):
    trials = trials_frame().drop(columns=["feasible", "backend", "threads"])
    svg = _assert_written(plots.plot_pareto(trials, tmp_path, stem="p"), tmp_path, "p")
    assert "feasible trials (6)" in svg and "budget" not in svg and "backend" not in svg


def test_plot_pareto_svg_is_reproducible(tmp_path):
    a = plots.plot_pareto(trials_frame(), tmp_path / "a")[1].read_text()
    b = plots.plot_pareto(trials_frame(), tmp_path / "b")[1].read_text()
    assert a == b


def test_plot_roadmap_shows_ours_beside_the_paper(tmp_path):
    svg = _assert_written(plots.plot_roadmap(roadmap_frame(), tmp_path), tmp_path, "roadmap")
    for text in ("Latency relative to step 0", "paper ImageNet top-1", "params (M)",
                 "MACs (G)", "3-ctrl", "iPhone 12", "backend ort"):
        assert text in svg, text


def test_plot_roadmap_without_measured_latency_or_proxy(tmp_path):
    df = roadmap_frame().drop(columns=["latency_ms", "latency_rel", "proxy", "proxy_name"])
    _assert_written(plots.plot_roadmap(df, tmp_path), tmp_path, "roadmap")


def test_failed_save_leaves_no_partial_file(tmp_path, monkeypatch):
    import matplotlib.figure

    def boom(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", boom)
    with pytest.raises(OSError):
        plots.plot_pareto(trials_frame(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_plot_pareto_uses_a_log_axis_for_wide_latency_ranges(tmp_path):
    narrow = plots.plot_pareto(trials_frame(), tmp_path / "n")[1].read_text()
    refs = pd.DataFrame({"name": ["repvit_m2_3"], "latency_ms": [500.0], "proxy": [0.9]})
    wide = plots.plot_pareto(trials_frame(), tmp_path / "w", references=refs)[1].read_text()
    assert "log scale" in wide and "log scale" not in narrow
