"""explorer latency import: validation, storage and the device:NAME backend."""
from __future__ import annotations

import json

import pytest

from explorer import zoo
from explorer.candidate import from_spec, resolve
from explorer.cli import main
from explorer.errors import BackendError, DataError
from explorer.measure.device import import_latencies
from explorer.measure.latency import measure_latency
from tests.conftest import tiny_spec


def write(tmp_path, text, name="lat.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_round_trip_by_name_and_hash(tmp_path):
    tiny = tiny_spec(resolution=32)
    path = write(tmp_path, "model,latency_ms,resolution,note\n"
                           "repvit_m0_9,0.9,,xcode\n"
                           f"{tiny.hash},0.25,32,\n")
    rows = import_latencies(path, "iphone12", tmp_path)
    assert [r["latency_ms"] for r in rows] == [0.9, 0.25]
    row = measure_latency(resolve("repvit_m0_9"), "device:iphone12", cache_dir=tmp_path)
    assert row["latency_ms"] == 0.9 and row["backend"] == "device:iphone12"
    assert row["threads"] is None and row["source"] == "lat.csv:2"
    renamed = from_spec(tiny, name="other")
    assert measure_latency(renamed, "device:iphone12", cache_dir=tmp_path)["latency_ms"] == 0.25
    # the recipe does not change the deployed model, so the imported number applies
    m09 = zoo.get_spec("repvit_m0_9")
    no_distill = from_spec(m09.replace(recipe=m09.recipe.__class__("deit-aligned", False)))
    assert measure_latency(no_distill, "device:iphone12", cache_dir=tmp_path)["latency_ms"] == 0.9


def test_missing_model_on_device_is_a_clear_error(tmp_path):
    import_latencies(write(tmp_path, "model,latency_ms\nrepvit_m0_9,0.9\n"), "ip", tmp_path)
    with pytest.raises(BackendError, match="no imported latency for repvit_m1_0.*'ip'"):
        measure_latency(resolve("repvit_m1_0"), "device:ip", cache_dir=tmp_path)
    with pytest.raises(BackendError, match="no imported latency"):  # other resolution
        measure_latency(resolve("repvit_m0_9", resolution=160), "device:ip",
                        cache_dir=tmp_path)


@pytest.mark.parametrize("text, message", [
    ("model,latency_ms,speed\nrepvit_m0_9,1\n", "unknown column.*speed"),
    ("model\nrepvit_m0_9\n", "missing column.*latency_ms"),
    ("model,latency_ms\nrepvit_m0_9,0\n", "lat.csv:2: latency_ms must be positive"),
    ("model,latency_ms\nrepvit_m0_9,-3\n", "must be positive"),
    ("model,latency_ms\nrepvit_m0_9,fast\n", "must be a number"),
    ("model,latency_ms\nrepvit_m0_9,nan\n", "must be positive"),
    ("model,latency_ms\nresnet50,1\n", "unknown model 'resnet50'"),
    ("model,latency_ms\nrepvit_m0_9,1\nrepvit_m0_9,2\n", "lat.csv:3.*already on line 2"),
    ("model,latency_ms,resolution\nrepvit_m0_9,1,0\n", "resolution must be positive"),
    ("model,latency_ms\n", "no rows"),
    ("model,latency_ms\nrepvit_m0_9,1,extra\n", "lat.csv:2: more cells than the 2 columns"),
    ("", "missing column"),
])
def test_bad_files_store_nothing(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        import_latencies(write(tmp_path, text), "ip", tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_undecodable_file_and_excel_bom(tmp_path):
    path = tmp_path / "lat.csv"
    path.write_bytes(b"\xff\xfemodel")
    with pytest.raises(DataError, match="lat.csv: not a readable UTF-8 CSV"):
        import_latencies(path, "ip", tmp_path / "cache")
    path.write_bytes(b"\xef\xbb\xbfmodel,latency_ms\r\nrepvit_m0_9,1.5\r\n")
    assert import_latencies(path, "ip", tmp_path / "cache")[0]["latency_ms"] == 1.5


def test_import_cli(tmp_path, capsys):
    path = write(tmp_path, "model,latency_ms\nmobilenetv3_large_100,1.01\n")
    assert main(["latency", "import", str(path), "--device", "iphone12", "--cache-dir",
                 str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["imported"] == 1 and out["rows"][0]["model"] == "mobilenetv3_large_100"
    assert main(["measure", "--model", "mobilenetv3_large_100", "--metrics", "latency",
                 "--backend", "device:iphone12", "--cache-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["latency_ms"] == 1.01
    assert main(["latency", "import", str(tmp_path / "none.csv"), "--device", "x"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["latency", "import", str(path), "--device", "bad name"]) == 2


@pytest.mark.parametrize("text, needle", [
    ("model,latency_ms,latency_ms\nrepvit_m0_9,0.9,870000\n",
     "column(s) latency_ms appear more than once"),
    ("model,latency_ms\nrepvit_m0_9,870000\n", "lat.csv:2: latency_ms 870000 is over 60 s"),
])
def test_repeated_column_and_implausible_latency_are_refused(tmp_path, capsys, text, needle):
    path = write(tmp_path, text)
    assert main(["latency", "import", str(path), "--device", "iphone12",
                 "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err
    assert not (tmp_path / "c").exists()  # nothing stored
