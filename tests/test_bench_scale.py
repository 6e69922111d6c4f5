"""explorer bench scale on a tiny space (few trials, quick timing): every part of the
report is there and adds up."""
from __future__ import annotations

import json

import pytest
import yaml

from explorer.cli import main
from explorer.measure import lut
from explorer.measure.timing import QUICK

TINY_SPACE = {"base": "repvit_m0_9", "resolution": 32, "widths": [[16, 24], 32, 64, 128],
              "depths": [1, [1, 2], 1, 1], "se": ["none", "all"]}


@pytest.mark.slow
def test_bench_scale_reports_cost_and_hypervolume(tmp_path, monkeypatch):
    from explorer.bench import scale

    monkeypatch.setattr(lut, "UNIT_PROTOCOL", QUICK)
    monkeypatch.setattr(scale, "SAMPLING_SIZES", (5, 10))
    space = tmp_path / "tiny.yaml"
    space.write_text(yaml.safe_dump(TINY_SPACE))
    out = tmp_path / "scale.json"
    assert main(["bench", "scale", "--space", str(space), "--trials", "12", "--mo-trials",
                 "6", "--cache-dir", str(tmp_path / "c"), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    table, c, mo = result["table_fill"], result["constrained_tpe"], result["multi_objective"]
    assert table["space_units"] > 0 and table["measured"] == table["space_units"]
    assert c["trials"] == 12 and c["trials_per_minute"] > 0
    assert set(c["median_seconds_per_metric"]) == {"params", "latency", "proxy"}
    assert list(c["per_100_trials"]) == ["0-11"]
    assert c["seconds_inside_trials"] >= c["seconds_in_metrics"] > 0
    assert set(c["optuna_sampling_seconds_per_trial"]["tpe"]) == {"5", "10"}
    assert set(mo["per_seed"]) == {"0", "1", "2"} and mo["trials"] == 6
    assert all(0 <= v <= 1 for s in mo["per_seed"].values() for v in s.values())
    assert mo["tpe_beats_random"] == (mo["median"]["tpe"] > mo["median"]["random"])
    assert "load_avg_before" in result
