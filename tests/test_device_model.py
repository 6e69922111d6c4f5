"""Device cost model: a synthetic device's parameters are recovered, profiles round-trip,
the model: backend predicts in a tiny search, and bad input gets one clear error."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from explorer.cli import main
from explorer.errors import BackendError, DataError
from explorer.measure import devicemodel as dm
from explorer.measure.opcost import OpCost, trace_ops
from explorer.measure.profiles import Profile, load, write

TRUE = {"fixed_ms": 0.3, "conv_ms_per_gmac": 0.2, "dwconv_ms_per_gmac": 1.5,
        "matmul_ms_per_gmac": 0.8, "weight_ms_per_mb": 0.03, "act_ms_per_mb": 0.01,
        "move_ms_per_mb": 0.05, "op_ms": 0.004}


class _Attention(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.qkv = nn.Conv2d(c, 3 * c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(x).flatten(2).chunk(3, dim=1)
        a = (q.transpose(1, 2) @ k).softmax(-1)
        return (v @ a.transpose(1, 2)).reshape(b, c, h, w) + x


def _random_net(rng: np.random.Generator) -> tuple[nn.Module, int]:
    """A random stack of dense, depthwise, attention and pooling blocks."""
    c = int(rng.choice([8, 16, 24, 32]))
    layers: list[nn.Module] = [nn.Conv2d(3, c, 3, 2, 1), nn.ReLU()]
    for _ in range(int(rng.integers(2, 7))):
        kind = rng.choice(["dense", "dw", "attn", "wide", "norm"])
        if kind == "dense":
            layers += [nn.Conv2d(c, c, int(rng.choice([1, 3])), padding="same"), nn.ReLU()]
        elif kind == "dw":
            layers += [nn.Conv2d(c, c, int(rng.choice([3, 5])), padding="same", groups=c)]
        elif kind == "attn":
            layers.append(_Attention(c))
        elif kind == "norm":
            layers += [nn.GroupNorm(1, c), nn.MaxPool2d(3, 1, 1)]
        else:
            out = int(c * rng.choice([2, 4]))
            layers += [nn.Conv2d(c, out, 1), nn.Conv2d(out, c, 1)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, int(rng.choice([10, 100])))]
    return nn.Sequential(*layers).eval(), int(rng.choice([16, 24, 32]))


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(0)
    costs = []
    for i in range(60):
        net, res = _random_net(rng)
        costs.append(OpCost(f"net{i}", res, "fp16",
                            tuple(trace_ops(net, torch.randn(1, 3, res, res)))))
    x = np.array([dm.network_features(c) for c in costs])
    truth = np.array([TRUE[p] for p in dm.PARAMETERS])
    return costs, x, x @ truth


def test_fit_recovers_known_parameters_without_noise(synthetic):
    _, x, y = synthetic
    fit = dm.fit_parameters(x, y)
    for name, value in TRUE.items():
        assert fit.parameters[name] == pytest.approx(value, rel=0.02), name


def test_fit_with_noise_predicts_held_out_networks(synthetic):
    _, x, y = synthetic
    noisy = y * (1 + np.random.default_rng(1).normal(0, 0.02, len(y)))
    held = dm.held_out(x, noisy, np.ones(len(y)), [str(i % 10) for i in range(len(y))])
    assert np.median(np.abs(held / y - 1)) < 0.03
    fit = dm.fit_parameters(x, noisy)
    share = (x * np.array([TRUE[p] for p in dm.PARAMETERS])).sum(0) / y.sum()
    for name, part in zip(dm.PARAMETERS, share, strict=True):
        if part > 0.1:  # the terms that carry a tenth of the time are pinned by the data
            assert fit.parameters[name] == pytest.approx(TRUE[name], rel=0.25), name


def test_robust_loss_resists_one_outlier(synthetic):
    _, x, y = synthetic
    bad = y.copy()
    bad[0] *= 10  # a conversion outlier (an op that fell off the accelerator)
    fit = dm.fit_parameters(x, bad)
    theta = np.array([fit.parameters[p] for p in dm.PARAMETERS])
    assert np.median(np.abs((x @ theta)[1:] / y[1:] - 1)) < 0.02


def test_per_op_times_sum_to_the_prediction(synthetic):
    costs, _, _ = synthetic
    total = dm.predict_ms(TRUE, costs[3])
    assert sum(dm.op_times_ms(TRUE, costs[3])) + TRUE["fixed_ms"] == pytest.approx(total)


def test_too_few_rows_is_an_error():
    with pytest.raises(DataError, match="too few rows"):
        dm.fit_parameters(np.ones((3, len(dm.PARAMETERS))), np.ones(3))


def test_family_names():
    assert [dm.family_of(m) for m in ("mobileone_s2", "efficientformerv2_l", "repvit_m0_9",
                                      "roadmap:3a", "fastvit_sa12", "net.yaml")] == [
        "mobileone", "efficientformerv2", "repvit", "roadmap", "fastvit", "net"]


def test_profile_round_trip_and_checks(tmp_path):
    prof = Profile("toy", dict(TRUE), "a toy device", "fp16", "0.1.0",
                   fit={"rows": 3, "sources": ["made up"]})
    path = write(prof, tmp_path / "toy.yaml")
    again = load(str(path))
    assert again.parameters == prof.parameters and again.fit == prof.fit
    data = yaml.safe_load(path.read_text())
    for change, message in (({"explorer_version": "99.0.0"}, "newer than this explorer"),
                            ({"features_version": 0}, "re-fit"),
                            ({"parameters": {**TRUE, "fixed_ms": -1}}, "non-negative"),
                            ({"parameters": {**TRUE, "warp_ms": 1}}, "unknown parameter"),
                            ({"precision": "fp8"}, "precision"),
                            ({"name": "../x"}, "profile name")):
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**data, **change}))
        with pytest.raises(DataError, match=message):
            load(str(tmp_path / "bad.yaml"))
    (tmp_path / "broken.yaml").write_text("parameters: [1, 2\n")
    with pytest.raises(DataError, match="not a readable"):
        load(str(tmp_path / "broken.yaml"))
    with pytest.raises(DataError, match="unknown device profile 'nope'"):
        load("nope", tmp_path)


def test_shipped_iphone12_profile_is_valid_and_documented():
    prof = load("iphone12")
    assert prof.precision == "fp16" and prof.fit["rows"] >= 30
    assert prof.fit["lofo_median_abs_pct_error"] <= 10
    assert not any("repvit" in s.lower() and "m0" in s.lower() for s in prof.fit["sources"])
    import csv
    from importlib import resources

    fit_csv = resources.files("explorer") / "data" / "devices" / "iphone12_fit.csv"
    models = [r["model"] for r in csv.DictReader(fit_csv.open())]
    assert not [m for m in models if "repvit" in m or m.startswith("roadmap")]


def _user_profile(tmp_path) -> str:
    write(Profile("toy", dict(TRUE), "toy", "fp16", "0.1.0"), tmp_path / "devices" / "toy.yaml")
    return "model:toy"


def test_model_backend_measures_specs_and_timm(tmp_path, tiny):
    from explorer.candidate import from_spec, resolve
    from explorer.measure.latency import measure_latency

    backend = _user_profile(tmp_path)
    row = measure_latency(from_spec(tiny), backend, cache_dir=tmp_path)
    assert row["backend"] == "model:toy" and row["predicted"] and row["latency_ms"] > 0.3
    timm_row = measure_latency(resolve("mobilenetv3_small_050", "timm", 64), backend,
                               cache_dir=tmp_path)
    assert timm_row["latency_ms"] > 0.3
    with pytest.raises(BackendError, match="unknown device profile"):
        measure_latency(from_spec(tiny), "model:absent", cache_dir=tmp_path)


def test_model_backend_in_a_tiny_search(tmp_path):
    from explorer.search import run_search
    from explorer.search_space import parse_space

    space = parse_space({"base": "repvit_m0_9", "resolution": [32],
                         "widths": [[8, 16], [16, 32], [32, 48], [48, 64]],
                         "depths": [[1], [1], [1, 2], [1]], "se": ["none"]}, "tiny")
    backend = _user_profile(tmp_path)
    result = run_search(space, 5.0, 3, progress=False, backend=backend,
                        storage=str(tmp_path / "s.db"), study="m", cache_dir=tmp_path,
                        proxy="params")
    trials = result.study.get_trials()
    assert len(trials) == 3
    assert all(t.user_attrs["backend"] == "model:toy" and t.user_attrs["latency_ms"] > 0
               for t in trials)


def _csv(tmp_path, body: str) -> str:
    path = tmp_path / "lat.csv"
    path.write_text("model,latency_ms,resolution\n" + body)
    return str(path)


def test_cli_fit_validate_show_list(tmp_path, capsys):
    import json

    rows = "".join(f"{m},{ms},32\n" for m, ms in (
        ("repvit_m0_6", 0.6), ("repvit_m0_9", 0.9), ("repvit_m1_0", 1.0), ("repvit_m1_1", 1.1),
        ("repvit_m1_5", 1.5), ("repvit_m2_3", 2.3), ("mobilenetv3_large_100", 1.0),
        ("roadmap:2", 0.81), ("roadmap:3a", 0.65), ("roadmap:5", 0.96), ("roadmap:6", 0.77),
        ("mobilenetv2_100", 0.9), ("mobileone_s0", 0.7), ("efficientnet_b0", 1.6)))
    csv_path = _csv(tmp_path, rows)
    cache = str(tmp_path / "cache")
    assert main(["device", "fit", "--latencies", csv_path, "--name", "mine", "--json",
                 "--cache-dir", cache]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"parameters", "loo_median_abs_pct_error", "lofo_median_abs_pct_error",
            "within_10pct", "within_20pct", "rows"} <= set(report)
    assert report["rows"] == 14 and set(report["parameters"]) == set(dm.PARAMETERS)
    assert main(["device", "validate", "--profile", "mine", "--reference", csv_path,
                 "--json", "--cache-dir", cache]) == 0
    val = json.loads(capsys.readouterr().out)
    assert {"kendall_tau", "median_abs_pct_error", "macs_tau", "params_tau", "n",
            "failed"} <= set(val) and val["n"] == 14 and val["kendall_tau"] > 0.5
    assert main(["device", "list", "--cache-dir", cache]) == 0
    listed = capsys.readouterr().out
    assert "mine" in listed and "iphone12" in listed
    assert main(["device", "show", "mine", "--cache-dir", cache]) == 0
    assert "fixed_ms" in capsys.readouterr().out
    assert main(["profile", "--model", "repvit_m0_9", "--resolution", "32", "--device",
                 "mine", "--cache-dir", cache, "--json"]) == 0
    prof = json.loads(capsys.readouterr().out)
    assert sum(o["share_pct"] for o in prof["ops"]) + 100 * prof["fixed_ms"] / prof[
        "latency_ms"] == pytest.approx(100, abs=0.5)


def test_cli_validate_lists_unknown_models_and_goes_on(tmp_path, capsys):
    import json

    csv_path = _csv(tmp_path, "repvit_m0_9,0.9,32\nno_such_net,1.0,\nrepvit_m1_1,1.1,32\n"
                              "repvit_m1_5,1.5,32\n")
    assert main(["device", "validate", "--profile", "iphone12", "--reference", csv_path,
                 "--json", "--cache-dir", str(tmp_path)]) == 0
    val = json.loads(capsys.readouterr().out)
    assert val["n"] == 3 and val["failed"][0]["model"] == "no_such_net"
    assert val["failed"][0]["where"].endswith("lat.csv:3")


@pytest.mark.parametrize("body, message", [
    ("no_such_net,1.0,\n", "lat.csv:2: .*no_such_net"),
    ("repvit_m0_9,-1,\n", "lat.csv:2: latency_ms must be positive"),
    ("repvit_m0_9,fast,\n", "lat.csv:2: latency_ms must be a number"),
    ("repvit_m0_9,1.0,32\n", "too few rows"),
])
def test_cli_fit_errors(tmp_path, capsys, body, message):
    import re

    code = main(["device", "fit", "--latencies", _csv(tmp_path, body), "--name", "x",
                 "--cache-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and re.search(message, err) and "Traceback" not in err


def test_cli_profile_lists_unknown_operators(tmp_path, capsys):
    path = tmp_path / "odd.yaml"
    path.write_text("name: odd\nparameters: {fixed_ms: 0.1, op_ms: 0.01}\n")
    assert main(["profile", "--timm", "mobilenetv3_small_050", "--resolution", "32",
                 "--device", str(path), "--cache-dir", str(tmp_path), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "mobilenetv3_small_050 on odd" in out
    assert main(["profile", "--model", "repvit_m0_9", "--device", "nope",
                 "--cache-dir", str(tmp_path)]) == 2
    assert "unknown device profile 'nope'" in capsys.readouterr().err


def test_bench_device_records_a_shipped_profile_by_its_package_path(tmp_path):
    """The benchmark JSON is committed: a shipped profile is named inside the package, not
    by one checkout's absolute path; a user's profile keeps the path it was given."""
    from pathlib import Path

    import explorer
    from explorer.bench.device import _shown

    shipped = Path(explorer.__file__).parent / "data" / "devices" / "iphone12.yaml"
    assert _shown(shipped) == "explorer/data/devices/iphone12.yaml"
    assert _shown(tmp_path / "mine.yaml") == str(tmp_path / "mine.yaml")
