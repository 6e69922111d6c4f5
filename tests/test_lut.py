"""Latency predictor: unit decomposition, table, measure-on-miss, calibration, CLI."""
from __future__ import annotations

import dataclasses
import json
import statistics

import pytest
import torch

from explorer import zoo
from explorer.candidate import from_spec
from explorer.cli import main
from explorer.errors import BackendError, DataError
from explorer.measure import lut
from explorer.measure.latency import measure_latency
from explorer.measure.timing import QUICK
from explorer.spec import BlockSpec
from tests.conftest import tiny_spec


def variant(width: int, se: bool, resolution: int = 32):
    """Tiny specs that differ in the last stage, so tables share most units."""
    spec = tiny_spec(resolution=resolution)
    last = spec.stages[1]
    blocks = (*last.blocks, BlockSpec("repvit", width, 3, 2.0, 1, se))
    stages = (spec.stages[0], dataclasses.replace(last, blocks=blocks))
    return dataclasses.replace(spec, stages=stages, name=f"v{width}{'se' if se else ''}")


@pytest.mark.parametrize("spec", [tiny_spec(resolution=32), tiny_spec("ir", "mbv3", "mbv3",
                                                                      resolution=36),
                                  zoo.get_spec("mobilenetv3_large_100")],
                         ids=["repvit", "mbv3-tiny", "mbv3-large"])
def test_units_match_the_built_network(spec):
    """Each unit exists at its path in the deployed network and receives exactly the
    shape the previous unit produces; together they are the whole network."""
    net = from_spec(spec).deployed
    parts = lut.units(spec)
    inp = torch.randn(1, spec.in_chans, spec.resolution, spec.resolution)
    x = inp
    with torch.no_grad():
        for unit in parts:
            assert x.shape[1:] == (unit.channels, unit.resolution, unit.resolution), unit.path
            x = lut._submodule(net, unit.path)(x)
        torch.testing.assert_close(x, net(inp))
    expected = 2 + sum(len(s.blocks) + (s.downsample is not None) for s in spec.stages)
    assert len(parts) == expected


def test_unit_keys_ignore_the_recipe_and_name():
    spec = tiny_spec(resolution=32)
    other = dataclasses.replace(spec, name="x",
                                recipe=dataclasses.replace(spec.recipe, distillation=True))
    assert [u.key for u in lut.units(spec)] == [u.key for u in lut.units(other)]
    repeated = lut.units(variant(32, True))  # one more block identical to the last one
    assert len(repeated) == len(lut.units(spec)) + 1
    assert {u.key for u in repeated} == {u.key for u in lut.units(spec)}
    assert {u.key for u in lut.units(variant(32, False))} > {u.key for u in lut.units(spec)}


def test_measure_on_miss_then_predict_from_the_table(tmp_path):
    table = lut.LatencyTable(tmp_path / "t.json", protocol=QUICK)  # explicit protocol
    spec = tiny_spec(resolution=32)
    assert table.missing(spec)
    first = table.predict(spec)
    assert first > 0 and not table.missing(spec)
    assert (tmp_path / "t.json").is_file()
    reloaded = lut.LatencyTable(tmp_path / "t.json")
    assert reloaded.predict(spec) == pytest.approx(first)
    added = reloaded.measure(variant(48, True))
    assert added == 2  # the new block, and the head that now sees 48 channels


@pytest.fixture
def quick_protocols(monkeypatch):
    monkeypatch.setattr(lut, "UNIT_PROTOCOL", QUICK)
    monkeypatch.setattr(lut, "NETWORK_PROTOCOL", QUICK)


def test_prediction_tracks_real_latency(tmp_path, quick_protocols):
    """Calibrated on three networks, the prediction for held-out ones is in a loose band
    (real timing on a shared machine: the tight figures come from 'lut validate')."""
    calib = [variant(w, se) for w, se in ((16, False), (64, True), (96, False))]
    held = [variant(48, True), variant(80, False)]
    table = lut.build_table(held, calib, cache_dir=tmp_path, path=tmp_path / "t.json",
                            progress=False)
    cal = table.calibration
    assert cal["networks"] == 3 and len(cal["scale"]) == len(lut.GROUPS)
    assert cal["used"] == (cal["loo_mean_abs_pct_error"] < cal["plain_mean_abs_pct_error"])
    result = lut.validate(table, [*held, calib[0]], cache_dir=tmp_path, progress=False)
    assert result["samples"] == 2 and result["excluded_calibration_networks"] == 1
    errors = [abs(row["error_pct"]) for row in result["rows"]]
    assert result["median_abs_pct_error"] == statistics.median(errors) < 60
    assert result["within_10pct"] == sum(e <= 10 for e in errors) / 2
    for row in result["rows"]:  # two interleaved rounds, the lower median is the truth
        assert len(row["round_medians_ms"]) == lut.ROUNDS == 2
        assert row["measured_ms"] == min(row["round_medians_ms"])
        assert row["error_pct"] == pytest.approx(
            100 * (row["predicted_ms"] - row["measured_ms"]) / row["measured_ms"])
    # the band can fail: a predictor 10x off (every scale and the offset) is caught
    table.calibration = {**cal, "used": True, "scale": [10 * s for s in cal["scale"]],
                         "offset": 10 * cal["offset"]}
    wrong = lut.validate(table, held, cache_dir=tmp_path, progress=False)
    assert [r["predicted_ms"] for r in wrong["rows"]] == pytest.approx(
        [10 * r["predicted_ms"] for r in result["rows"]])
    assert wrong["median_abs_pct_error"] > 100


def test_table_for_another_backend_is_rejected(tmp_path):
    lut.LatencyTable(tmp_path / "t.json", "ort", 1).save()
    with pytest.raises(DataError, match="table is for backend 'ort' with 1 thread"):
        lut.LatencyTable(tmp_path / "t.json", "torch", 1)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(DataError, match="not a latency table"):
        lut.LatencyTable(tmp_path / "bad.json")
    for junk in (b"{bad", b"\xff\xfe", b"[]"):
        (tmp_path / "bad.json").write_bytes(junk)
        with pytest.raises(DataError, match="not a latency table.*lut build"):
            lut.LatencyTable(tmp_path / "bad.json")


def test_lut_backend_in_measure(tmp_path):
    c = from_spec(tiny_spec(resolution=32))
    first = measure_latency(c, "lut", cache_dir=tmp_path, protocol=QUICK)
    assert first["backend"] == "lut" and first["lut_measured_units"] > 0
    again = measure_latency(c, "lut", cache_dir=tmp_path)
    assert again["lut_measured_units"] == 0
    assert again["latency_ms"] == pytest.approx(first["latency_ms"])
    from explorer.candidate import from_module

    with pytest.raises(BackendError, match="predicts spec-built models only"):
        measure_latency(from_module(torch.nn.Identity(), "id"), "lut", cache_dir=tmp_path)
    with pytest.raises(BackendError, match="unknown backend for the latency table"):
        measure_latency(c, "lut:coreml", cache_dir=tmp_path)


def test_sample_specs_is_seeded_and_alternates_spaces():
    spaces = lut.default_spaces()
    assert {p.name for p in spaces} >= {"repvit.yaml", "mobilenetv3.yaml"}
    a = lut.sample_specs(spaces, 4, seed=3)
    assert [s.hash for s in a] == [s.hash for s in lut.sample_specs(spaces, 4, seed=3)]
    assert [s.stages[0].blocks[0].kind for s in a[:2]] != [a[0].stages[0].blocks[0].kind] * 2
    with pytest.raises(DataError, match="no search space"):
        lut.sample_specs([], 2, 0)


def test_lut_cli_json(tmp_path, capsys, monkeypatch, quick_protocols):
    spec_file = tmp_path / "tiny.json"
    spec_file.write_text(tiny_spec(resolution=32).to_json())
    table = str(tmp_path / "t.json")
    calls = []

    def fake_samples(spaces, n, seed):
        calls.append((n, seed))
        return [variant(16 + 16 * ((i + seed) % 4), i % 2 == 0) for i in range(n)]
    monkeypatch.setattr(lut, "sample_specs", fake_samples)
    assert main(["lut", "build", "--spec", str(spec_file), "--samples", "0", "--calibration",
                 "3", "--table", table, "--cache-dir", str(tmp_path), "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["entries"] > 0 and built["calibration"]["networks"] == 3
    assert main(["lut", "validate", "--samples", "2", "--seed", "1", "--table", table,
                 "--cache-dir", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"median_abs_pct_error", "within_5pct", "within_10pct", "samples"} <= set(out)
    assert calls[-1] == (2, 1)
    assert main(["lut", "build", "--backend", "coreml", "--table", table]) == 2
    assert "not 'coreml'" in capsys.readouterr().err


def test_table_of_an_older_layout_is_rebuilt(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"version": 0, "backend": "ort", "threads": 1,
                                "entries": {"x": {"ms": 1.0}}}))
    assert lut.LatencyTable(path).entries == {}


def test_save_keeps_entries_written_by_another_process(tmp_path):
    path = tmp_path / "t.json"
    mine, theirs = lut.LatencyTable(path), lut.LatencyTable(path)
    theirs.entries["a"] = {"ms": 1.0}
    theirs.save()
    mine.entries["b"] = {"ms": 2.0}
    mine.save()
    assert set(lut.LatencyTable(path).entries) == {"a", "b"}
