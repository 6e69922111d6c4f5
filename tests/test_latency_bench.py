"""explorer bench latency: structure of the result (tiny models, quick protocol)."""
from __future__ import annotations

import json

import pytest

from explorer.bench import latency as bench
from explorer.cli import main
from explorer.measure.timing import QUICK
from tests.conftest import tiny_spec


@pytest.fixture
def tiny_files(tmp_path):
    paths = []
    for res in (32, 48):
        path = tmp_path / f"tiny{res}.json"
        path.write_text(tiny_spec(resolution=res).to_json())
        paths.append(str(path))
    return paths


def test_bench_rows_and_ratios(tiny_files, monkeypatch):
    monkeypatch.setattr(bench, "REFERENCE", tiny_files[0])
    monkeypatch.setattr(bench, "PAPER_MS", {tiny_files[0]: 1.0, tiny_files[1]: 2.0})
    result = bench.run_bench(tiny_files, repeats=2, protocol=QUICK, progress=False)
    small, large = (result["models"][p] for p in tiny_files)
    assert len(small["repeat_medians_ms"]) == 2 and small["ratio_vs_mbv3"] == 1.0
    assert large["paper_ratio_vs_mbv3"] == 2.0 and large["ratio_vs_mbv3"] > 1.0
    assert set(small["seconds_per_candidate"]) >= {"build", "fuse", "export", "time", "total"}
    assert result["cv_target_met"] == (result["max_cv_over_repeats"] < 0.03)


def test_bench_cli_writes_json_and_rejects_bad_input(tiny_files, tmp_path, capsys,
                                                     monkeypatch):
    monkeypatch.setattr(bench, "PROTOCOL", QUICK)
    out = tmp_path / "lat.json"
    argv = ["bench", "latency", "--models", ",".join(tiny_files), "--repeats", "1",
            "--out", str(out)]
    assert main(argv) == 0
    data = json.loads(out.read_text())
    assert set(data["models"]) == set(tiny_files) and data["backend"] == "ort"
    assert "wrote" in capsys.readouterr().out
    assert main([*argv[:-2], "--out", str(tmp_path / "x.json"), "--backend", "lut"]) == 2
    assert main([*argv[:4], "--repeats", "0"]) == 2
    assert not (tmp_path / "x.json").exists()
