"""Device latency tables from exported units: the distinct units of a space, their export
and manifest, the manifest's import (every bad row refused, nothing stored), predictions
of lut:device:NAME (plain sums; calibrated on imported whole networks only where that
beats the sums) and device fit --imported."""
from __future__ import annotations

import csv
import json
import os
import random

import pytest
import yaml

from explorer import zoo
from explorer.candidate import from_spec, from_timm
from explorer.cli import main
from explorer.errors import BackendError, DataError, OutputError
from explorer.measure import devicelut
from explorer.measure.backends.registry import get_backend
from explorer.measure.latency import measure_latency
from explorer.measure.lut import units
from explorer.measure.spaceunits import space_units
from explorer.measure.unitexport import MANIFEST, export_units
from explorer.measure.unitmanifest import COLUMNS, manifest_row, write_manifest
from explorer.search_space import load_space, parse_space

TINY_SPACE = {"base": "repvit_m0_9", "resolution": 32, "widths": [[16, 24], 32, 64, 128],
              "depths": [1, [1, 2], 1, 1], "se": "none"}
#: zoo networks at 32 px: their units make the device table of the prediction tests
NETWORKS = ("repvit_m0_6", "repvit_m0_9", "repvit_m1_0", "repvit_m1_1", "repvit_m1_5",
            "repvit_m2_3")


def _spec(name: str):
    return zoo.get_spec(name).replace(resolution=32)


def unit_ms(key: str) -> float:
    """A made-up but deterministic device latency per unit."""
    return 0.01 + (sum(map(ord, key)) % 97) / 1000


def _filled_manifest(path, specs) -> dict[str, float]:
    """A manifest of every unit of ``specs`` with :func:`unit_ms` filled in."""
    rows = {u.key: {**manifest_row(u, "x.mlpackage"), "latency_ms": unit_ms(u.key)}
            for spec in specs for u in units(spec)}
    write_manifest(path, list(rows.values()))
    return {key: row["latency_ms"] for key, row in rows.items()}


def _sum(spec) -> float:
    return sum(unit_ms(u.key) for u in units(spec))


def _import_networks(tmp_path, cache, latency) -> None:
    """Import whole-network latencies ``latency(spec)`` for NETWORKS on device 'ph'."""
    path = tmp_path / "whole.csv"
    path.write_text("model,latency_ms,resolution\n" + "".join(
        f"{name},{latency(_spec(name))},32\n" for name in NETWORKS))
    assert main(["latency", "import", str(path), "--device", "ph", "--cache-dir", cache]) == 0


@pytest.fixture
def device(tmp_path):
    """Cache folder with device 'ph's unit table covering NETWORKS."""
    cache = str(tmp_path / "cache")
    _filled_manifest(tmp_path / "filled.csv", [_spec(n) for n in NETWORKS])
    devicelut.import_manifest(tmp_path / "filled.csv", "ph", cache)
    return cache


def _predict(spec, cache):
    return measure_latency(from_spec(spec), "lut:device:ph", cache_dir=cache)


# -- the distinct units of a space -------------------------------------------------------
@pytest.mark.parametrize("space", [parse_space(TINY_SPACE),
                                   load_space("search_spaces/mobilenetv3.yaml")],
                         ids=["tiny", "mobilenetv3"])
def test_space_units_hold_every_unit_of_sampled_networks(space):
    """Every unit of 150 random networks of the space is in the enumeration (MobileNetV3's
    space has a depth that changes a stage's output width: its boundary is read off the
    built network), and the enumeration builds far fewer networks than the space has."""
    found = space_units(space)
    rng = random.Random(3)
    for _ in range(150):
        spec = space.sample(rng)
        assert {u.key for u in units(spec)} <= set(found.found), spec
    assert found.networks_built < space.size or space.size < 10
    for key, (unit, spec) in found.found.items():  # each with a network that has it
        assert unit.key == key
        assert key in {u.key for u in units(spec)}


# -- export -----------------------------------------------------------------------------
def test_export_writes_one_package_per_distinct_unit_and_a_manifest(tmp_path, capsys):
    import onnxruntime as ort

    space_file = tmp_path / "tiny.yaml"
    space_file.write_text(yaml.safe_dump(TINY_SPACE))
    out = tmp_path / "units"
    assert main(["lut", "export", "--space", str(space_file), "--format", "onnx", "--out",
                 str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    expected = {u.key for values in ({"width_0": w0, "depth_1": d1} for w0 in (16, 24)
                                     for d1 in (1, 2))
                for u in units(parse_space(TINY_SPACE).build(values))}
    with (out / MANIFEST).open() as fh:
        rows = list(csv.DictReader(fh))
    assert summary["units"] == len(rows) == len(expected) == 12
    assert {r["key"] for r in rows} == expected and tuple(rows[0]) == COLUMNS
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, *(r["file"] for r in rows)])
    for row in rows:
        assert row["latency_ms"] == ""
        session = ort.InferenceSession(str(out / row["file"]))
        shape = [int(x) for x in row["input_shape"].split("x")]
        assert session.get_inputs()[0].shape == shape, row["unit"]


def test_export_refuses_a_used_folder_and_leaves_nothing_on_failure(tmp_path):
    space_file = tmp_path / "tiny.yaml"
    space_file.write_text(yaml.safe_dump(TINY_SPACE))
    used = tmp_path / "used"
    used.mkdir()
    (used / "mine.txt").write_text("keep")
    with pytest.raises(OutputError, match="not an empty folder"):
        export_units(space_file, "onnx", used)
    assert [p.name for p in used.iterdir()] == ["mine.txt"]
    with pytest.raises(BackendError, match="unknown export format"):
        export_units(space_file, "tflite", tmp_path / "new")
    with pytest.raises(OutputError, match="tiny.yaml is a file"):
        export_units(space_file, "onnx", space_file / "units")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if not os.access(locked, os.W_OK):  # root writes anywhere
        with pytest.raises(OutputError, match="no permission"):
            export_units(space_file, "onnx", locked / "units")
    locked.rmdir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml", "used"]


@pytest.mark.slow
def test_export_coreml_packages(tmp_path):
    space = {**TINY_SPACE, "widths": [16, 32, 64, 128], "depths": [1, 1, 1, 1]}
    space_file = tmp_path / "one.yaml"
    space_file.write_text(yaml.safe_dump(space))
    summary = export_units(space_file, "coreml", tmp_path / "units")
    with (tmp_path / "units" / MANIFEST).open() as fh:
        rows = list(csv.DictReader(fh))
    assert summary["units"] == len(rows) == 9
    assert all((tmp_path / "units" / r["file"] / "Manifest.json").is_file() for r in rows)


# -- import and prediction --------------------------------------------------------------
def test_import_then_predict_the_sum_of_units(tmp_path, device, capsys):
    table = devicelut.table_path("ph", device)
    data = json.loads(table.read_text())
    assert data["backend"] == "device:ph" and data["calibration"] is None
    for name in NETWORKS:
        row = _predict(_spec(name), device)
        assert row["latency_ms"] == pytest.approx(_sum(_spec(name)), rel=1e-12)
        assert row["lut_calibrated"] is False and "plain sums" in row["lut_calibration"]
        assert row["backend"] == "lut:device:ph" and row["threads"] is None
    manifest = tmp_path / "again.csv"
    _filled_manifest(manifest, [_spec("mobilenetv3_large_100")])  # a second import adds
    assert main(["lut", "import", str(manifest), "--device", "ph", "--cache-dir", device]) == 0
    assert "plain sums: 0 usable" in capsys.readouterr().out
    mbv3 = _spec("mobilenetv3_large_100")
    assert _predict(mbv3, device)["latency_ms"] == pytest.approx(_sum(mbv3))
    assert _predict(_spec("repvit_m0_9"), device)["latency_ms"] == pytest.approx(
        _sum(_spec("repvit_m0_9")))


def test_imported_whole_networks_calibrate_the_sums(tmp_path, device):
    """Whole networks 1.5x their unit sums plus 0.2 ms: the calibration learns it and is
    used; the leave-one-out error it is judged by is far below the plain sums' 33%+."""
    _import_networks(tmp_path, device, lambda spec: 1.5 * _sum(spec) + 0.2)
    report = devicelut.load("ph", device).report
    assert report["used"] and report["networks"] == len(NETWORKS)
    assert report["loo_mean_abs_pct_error"] < 2 < 30 < report["plain_mean_abs_pct_error"]
    for name in NETWORKS:
        row = _predict(_spec(name), device)
        assert row["lut_calibrated"] is True and row["lut_calibration"].startswith("calibrated")
        assert row["latency_ms"] == pytest.approx(1.5 * _sum(_spec(name)) + 0.2, rel=0.02)


def test_calibration_is_dropped_where_it_does_not_beat_the_sums(tmp_path, device):
    """Whole networks their unit sums +-5% in turn (no bias to learn): the fitted
    calibration predicts held-out networks worse than the plain sums, so predictions stay
    the plain sums, and the report says why."""
    sign = iter([1, -1] * len(NETWORKS))
    _import_networks(tmp_path, device, lambda spec: _sum(spec) * (1 + 0.05 * next(sign)))
    report = devicelut.load("ph", device).report
    assert report["used"] is False
    assert report["plain_mean_abs_pct_error"] == pytest.approx(5, abs=0.05)
    assert report["loo_mean_abs_pct_error"] > 5
    assert "does not beat" in report["summary"]
    spec = _spec("repvit_m1_1")
    assert _predict(spec, device)["latency_ms"] == pytest.approx(_sum(spec), rel=1e-12)


def test_a_missing_unit_names_it_and_says_how_to_measure_it(tmp_path, device):
    wider = _spec("repvit_m0_9").replace(resolution=64)
    with pytest.raises(BackendError, match=r"unit (stem|down|block_repvit|head)-[0-9a-f]{10} "
                                           r".*not in the latency table of device 'ph'.*"
                                           r"lut export.*lut import"):
        _predict(wider, device)
    with pytest.raises(BackendError, match="no latency table for device 'other'"):
        measure_latency(from_spec(wider), "lut:device:other", cache_dir=device)
    with pytest.raises(BackendError, match="spec-built models only"):
        measure_latency(from_timm("resnet18", 32), "lut:device:ph", cache_dir=device)
    with pytest.raises(BackendError, match="device name"):
        get_backend("lut:device:../x")


# -- bad manifests ----------------------------------------------------------------------
def _rows(tmp_path) -> list[dict]:
    path = tmp_path / "good.csv"
    _filled_manifest(path, [_spec("repvit_m0_9")])
    with path.open() as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("change, message", [
    (lambda r: r[1].update(key='["conv", 3]'), r"bad.csv:3: unknown unit key"),
    (lambda r: r[1].update(key="not json"), r"bad.csv:3: unknown unit key"),
    (lambda r: r[1].update(unit="head-0000000000"), r"bad.csv:3: unit .* does not match"),
    (lambda r: r[2].update(latency_ms=""), r"bad.csv:4: latency_ms is empty: measure "),
    (lambda r: r[2].update(latency_ms="0"), r"bad.csv:4: latency_ms must be positive"),
    (lambda r: r[2].update(latency_ms="-1"), r"bad.csv:4: latency_ms must be positive"),
    (lambda r: r[2].update(latency_ms="fast"), r"bad.csv:4: latency_ms must be a number"),
    (lambda r: r[2].update(latency_ms="nan"), r"bad.csv:4: latency_ms must be positive"),
    (lambda r: r[2].update(latency_ms="90000"), r"bad.csv:4: .*give milliseconds"),
    (lambda r: r.append(dict(r[0])), r"bad.csv:\d+: unit .* is already on line 2"),
    (lambda r: r.clear(), r"bad.csv: no rows"),
])
def test_a_bad_manifest_row_is_named_and_nothing_is_stored(tmp_path, capsys, change, message):
    rows = _rows(tmp_path)
    change(rows)
    bad = tmp_path / "bad.csv"
    write_manifest(bad, rows)
    cache = tmp_path / "cache"
    code = main(["lut", "import", str(bad), "--device", "ph", "--cache-dir", str(cache)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    import re

    assert re.search(message, err), err
    assert not devicelut.table_path("ph", cache).exists()


def test_bad_manifest_files(tmp_path):
    with pytest.raises(DataError, match="manifest not found"):
        devicelut.import_manifest(tmp_path / "none.csv", "ph", tmp_path)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("unit,latency_ms\nstem-0,1\n")
    with pytest.raises(DataError, match="column.*key.*missing"):
        devicelut.import_manifest(wrong, "ph", tmp_path)
    wrong.write_text("unit,key,latency_ms,speed\n")
    with pytest.raises(DataError, match="speed unknown"):
        devicelut.import_manifest(wrong, "ph", tmp_path)
    with pytest.raises(DataError, match="device name"):
        devicelut.import_manifest(wrong, "../x", tmp_path)


# -- device fit --imported --------------------------------------------------------------
def test_device_fit_on_imported_latencies(tmp_path, capsys):
    cache = str(tmp_path / "cache")
    path = tmp_path / "whole.csv"
    rows = [*((n, 0.5 + i / 4) for i, n in enumerate(NETWORKS)), ("mobilenetv3_large_100", 1.0),
            ("2", 0.81), ("step_3a", 0.65), ("0123456789abcdef", 1.2)]
    path.write_text("model,latency_ms,resolution\n"
                    + "".join(f"{m},{ms},32\n" for m, ms in rows))
    assert main(["latency", "import", str(path), "--device", "ph", "--cache-dir", cache]) == 0
    capsys.readouterr()
    assert main(["device", "fit", "--imported", "ph", "--name", "phone", "--json",
                 "--cache-dir", cache]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 9 and report["imported"]["rows"] == 9
    assert report["imported"]["skipped"][0].startswith("0123456789abcdef")
    assert {p["model"] for p in report["predictions"]} >= {"roadmap:3a", "roadmap:2",
                                                           "repvit_m0_9"}
    extra = tmp_path / "extra.csv"
    extra.write_text("model,latency_ms,resolution\nroadmap:5,0.96,32\n")
    assert main(["device", "fit", "--latencies", str(extra), "--imported", "ph", "--name",
                 "phone", "--json", "--cache-dir", cache]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 10
    code = main(["device", "fit", "--name", "phone", "--cache-dir", cache])
    assert code == 2 and "--imported DEVICE" in capsys.readouterr().err
    code = main(["device", "fit", "--imported", "nobody", "--name", "phone", "--cache-dir",
                 cache])
    assert code == 2 and "too few rows" in capsys.readouterr().err
