"""explorer bench cost and bench startup: the reports hold what they promise."""
from __future__ import annotations

from tests.conftest import tiny_spec


def test_bench_cost_second_thread_count_pays_no_export(tmp_path, monkeypatch):
    from explorer.bench import cost
    from explorer.measure.backends import ort as ort_backend

    exports = []
    real = ort_backend.onnx_bytes
    monkeypatch.setattr(ort_backend, "onnx_bytes", lambda *a: exports.append(1) or real(*a))
    spec = tmp_path / "tiny.json"
    spec.write_text(tiny_spec(resolution=32).to_json())
    result = cost.run_bench([str(spec)], progress=False)
    one, two = result["models"][str(spec)].values()
    assert len(exports) == 1 and set(one) >= set(cost.STEPS)
    assert one["build"] > 0 and two["build"] == 0 and two["fuse"] == 0
    assert result["threads"] == [1, 2]  # (totals: timing at 2 threads varies with load)


def test_bench_startup_reports_every_command(monkeypatch):
    from explorer.bench import startup

    monkeypatch.setattr(startup, "COMMANDS", (["--version"],))
    result = startup.run_bench(repeats=1)
    row = result["commands"]["--version"]
    assert row["median_s"] > 0 and row["median_cpu_s"] > 0
    assert result["heavy_modules_imported_by_the_parser"] == []
    assert result["target_met"] == (row["median_s"] <= startup.TARGET_S)
