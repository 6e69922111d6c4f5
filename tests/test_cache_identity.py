"""A cached number must never answer a different question: protocol, module content,
training form, machine, feature cache settings, malformed entries, table calibration,
and the suite's own cache folder (issue 11, "Cache identity")."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from explorer import machine
from explorer.candidate import from_module, from_spec
from explorer.cli import main
from explorer.errors import ExplorerError, OutputError
from explorer.measure import latency as L
from explorer.measure import measure
from explorer.measure.cache import Cache, default_cache_dir
from explorer.measure.lut import LatencyTable
from explorer.measure.proxies.features import FEATURES
from explorer.measure.proxy import cached_score
from explorer.measure.timing import QUICK
from tests.conftest import CACHE_DIR, tiny_spec

OTHER_QUICK = QUICK.__class__(**{**QUICK.to_dict(), "min_samples": 9})


def _rewrite_values(folder: Path, value: object) -> int:
    """Replace the value of every entry under ``folder`` (keys kept): a hand-edited cache."""
    paths = sorted(folder.glob("*.json"))
    for path in paths:
        entry = json.loads(path.read_text())
        path.write_text(json.dumps({"key": entry["key"], "value": value}))
    return len(paths)


def test_timing_protocol_is_part_of_the_latency_key(tmp_path):
    c = from_spec(tiny_spec(resolution=32))
    assert L.measure_latency(c, "torch", cache_dir=tmp_path, protocol=QUICK)["cached"] is False
    assert L.measure_latency(c, "torch", cache_dir=tmp_path, protocol=QUICK)["cached"] is True
    other = L.measure_latency(c, "torch", cache_dir=tmp_path, protocol=OTHER_QUICK)
    assert other["cached"] is False


def _conv(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 4))


def test_modules_are_keyed_by_content_not_by_name(tmp_path):
    a, b = from_module(_conv(0), "net", 32), from_module(_conv(1), "net", 32)
    wider = from_module(nn.Sequential(nn.Conv2d(3, 16, 3)), "net", 32)
    assert len({a.key, b.key, wider.key}) == 3  # other weights, other structure
    assert a.key == from_module(_conv(0), "other-name", 32).key  # same content
    assert a.key != from_module(_conv(0), "net", 48).key  # same module, other resolution
    assert L.measure_latency(a, "torch", cache_dir=tmp_path, protocol=QUICK)["cached"] is False
    assert L.measure_latency(b, "torch", cache_dir=tmp_path, protocol=QUICK)["cached"] is False


def test_proxy_cache_keys_on_the_training_form(tmp_path):
    plain, distilled = tiny_spec(), tiny_spec(distillation=True)
    assert plain.deploy_hash == distilled.deploy_hash and plain.hash != distilled.hash
    first = cached_score(from_spec(plain), "snip", cache_dir=str(tmp_path))
    second = cached_score(from_spec(distilled), "snip", cache_dir=str(tmp_path))
    fresh = cached_score(from_spec(distilled), "snip", no_cache=True, cache_dir=str(tmp_path))
    assert second.value == fresh.value != first.value  # the distillation head is scored


@pytest.fixture
def clean_tag(monkeypatch):
    monkeypatch.delenv(machine.TAG_ENV, raising=False)
    machine._hardware.cache_clear()
    yield
    machine._hardware.cache_clear()


def test_fingerprint_tells_apart_cpus_with_the_same_name(monkeypatch, clean_tag):
    base = machine.fingerprint()
    assert base == machine.fingerprint()  # stable within a host
    info = machine._cpuinfo()
    monkeypatch.setattr(machine, "_cpuinfo", lambda: {**info, "flags": "fpu sse2 avx512f"})
    machine._hardware.cache_clear()
    assert machine.fingerprint() != base
    monkeypatch.setattr(machine, "_cpuinfo", lambda: info)
    monkeypatch.setattr(machine, "_cache_sizes", lambda: "L3Unified=8192K")
    machine._hardware.cache_clear()
    assert machine.fingerprint() != base


def test_machine_tag_changes_the_fingerprint_and_is_in_each_row(tmp_path, monkeypatch,
                                                                 clean_tag, capsys):
    c = from_spec(tiny_spec(resolution=32))
    untagged = L.measure_latency(c, "torch", cache_dir=tmp_path, protocol=QUICK)
    monkeypatch.setenv(machine.TAG_ENV, "slow-epyc")
    tagged = L.measure_latency(c, "torch", cache_dir=tmp_path, protocol=QUICK)
    assert tagged["cached"] is False and tagged["machine_tag"] == "slow-epyc"
    assert tagged["fingerprint"] != untagged["fingerprint"] and untagged["machine_tag"] == ""
    monkeypatch.delenv(machine.TAG_ENV)
    args = ["measure", "--spec", str(_spec_file(tmp_path)), "--metrics", "latency",
            "--backend", "torch", "--cache-dir", str(tmp_path), "--json"]
    assert main([*args, "--machine-tag", "slow-epyc"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["machine_tag"] == "slow-epyc" and row["fingerprint"] == tagged["fingerprint"]
    assert main([*args, "--machine-tag", "../bad tag"]) == 2
    assert "machine tag '../bad tag'" in capsys.readouterr().err


def _spec_file(folder: Path) -> Path:
    path = folder / "tiny.json"
    path.write_text(tiny_spec(resolution=32).to_json())
    return path


def _module_candidate():
    """A candidate without a spec: its counts and features are traced and cached (a spec's
    are arithmetic on the spec, never cached)."""
    return from_module(from_spec(tiny_spec(resolution=32)).model, "tiny", 32)


def test_fitted_proxy_features_honour_cache_dir_and_no_cache(tmp_path, monkeypatch):
    home = tmp_path / "default"
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(home))
    c = _module_candidate()
    clean = cached_score(c, "fitted", cache_dir=str(tmp_path / "mine")).value
    assert list((tmp_path / "mine" / "features").glob("*.json"))
    assert not (home / "features").exists()
    assert _rewrite_values(tmp_path / "mine" / "features", dict.fromkeys(FEATURES, 1.0)) == 1
    fresh = cached_score(c, "fitted", no_cache=True, cache_dir=str(tmp_path / "mine"))
    assert fresh.value == pytest.approx(clean)  # --no-cache recomputed the features too


def test_malformed_entries_are_misses_and_remeasured(tmp_path):
    c = _module_candidate()
    row = measure(c, ["params"], cache_dir=str(tmp_path))
    assert _rewrite_values(tmp_path / "complexity", {}) == 1
    assert measure(c, ["params"], cache_dir=str(tmp_path))["params"] == row["params"]
    L.measure_latency(c, "torch", cache_dir=tmp_path, protocol=QUICK)
    for bad in ({"latency_ms": "abc"}, {"latency_ms": float("nan")}, {"latency_ms": -1}, []):
        assert _rewrite_values(tmp_path / "latency", bad) == 1
        again = L.measure_latency(c, "torch", cache_dir=tmp_path, protocol=QUICK)
        assert again["cached"] is False and 0 < again["latency_ms"] < 100
    cached_score(c, "params", cache_dir=str(tmp_path))
    assert _rewrite_values(tmp_path / "proxy", {"name": "params", "value": "x"}) == 1
    assert cached_score(c, "params", cache_dir=str(tmp_path)).value == row["params"]


def test_an_entry_stored_under_another_key_is_a_miss(tmp_path):
    cache = Cache("x", tmp_path)
    cache.put({"a": 1}, {"v": 1})
    path = cache.path({"a": 1})
    path.write_text(json.dumps({"key": {"a": 2}, "value": {"v": 2}}))
    assert cache.get({"a": 1}) is None


def test_save_keeps_the_calibration_another_process_wrote(tmp_path):
    path = tmp_path / "t.json"
    search = LatencyTable(path)  # opened before the build finished: no calibration
    search.entries["u1"] = {"ms": 1.0, "iqr_ms": 0.0}
    search.save()
    build = LatencyTable(path)
    build.calibration = {"scale": [1.0] * 5, "offset": 0.5}  # 'lut build' calibrates
    build.save()
    search.entries["u2"] = {"ms": 2.0, "iqr_ms": 0.0}  # the search measures a miss
    search.save()
    on_disk = LatencyTable(path)
    assert on_disk.calibration == {"scale": [1.0] * 5, "offset": 0.5}
    assert set(on_disk.entries) == {"u1", "u2"}
    search.calibration = {"scale": [2.0] * 5, "offset": 0.0}  # a newer fit wins
    search.save()
    assert LatencyTable(path).calibration["offset"] == 0.0


def test_the_suite_has_its_own_cache_folder(monkeypatch, capsys):
    assert default_cache_dir() == Path(CACHE_DIR) == Path(os.environ["EXPLORER_CACHE_DIR"])
    assert Path.home() / ".cache" not in Path(CACHE_DIR).parents
    monkeypatch.setenv("EXPLORER_CACHE_DIR", "")
    with pytest.raises(OutputError, match="EXPLORER_CACHE_DIR is set but empty"):
        default_cache_dir()
    assert main(["measure", "--model", "repvit_m0_9", "--metrics", "latency"]) == 2
    assert "EXPLORER_CACHE_DIR is set but empty" in capsys.readouterr().err


def test_bad_machine_tag_from_the_environment(monkeypatch, clean_tag):
    monkeypatch.setenv(machine.TAG_ENV, "a" * 65)
    with pytest.raises(ExplorerError, match="must be 1-64"):
        machine.fingerprint()


def test_fit_rebuild_features_honour_cache_dir_and_no_cache(tmp_path):
    import pandas as pd

    from explorer.cli import build_parser
    from explorer.measure.proxies.fitted import build_table

    ref = pd.DataFrame([{"model": "mobilenetv3_small_050", "top1": 57.9, "img_size": 64}])
    clean = build_table(ref, str(tmp_path), progress=False)[0].iloc[0]["log_macs"]
    assert _rewrite_values(tmp_path / "features", dict.fromkeys(FEATURES, 1.0)) == 1
    assert build_table(ref, str(tmp_path), progress=False)[0].iloc[0]["log_macs"] == 1.0
    fresh = build_table(ref, str(tmp_path), progress=False, no_cache=True)[0]
    assert fresh.iloc[0]["log_macs"] == clean
    args = build_parser().parse_args(["proxy", "fit", "--rebuild", "--cache-dir", "c",
                                      "--no-cache"])
    assert args.cache_dir == "c" and args.no_cache
