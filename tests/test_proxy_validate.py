"""`explorer proxy validate|score|list|fit` and the short-training proxy on generated data."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from explorer.candidate import from_spec
from explorer.cli import main
from explorer.errors import DataError
from explorer.measure.proxies import fitted
from explorer.measure.proxies.reference import load_reference, packaged_references
from explorer.measure.proxy import DEFAULT_PROXY, score
from tests.conftest import tiny_spec


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def reference(tmp_path):
    """Three tiny spec files of growing width (growing top-1) and one unknown model."""
    rows = []
    for i, width in enumerate((8, 12, 16)):
        spec = tiny_spec(resolution=32)
        spec = spec.replace(stem=spec.stem.__class__("early_conv", (width, 16), ("gelu", "none")))
        (tmp_path / f"s{i}.yaml").write_text(spec.to_yaml())
        rows.append(f"s{i}.yaml,32,{60 + i}")
    rows.append("no_such_model_xyz,224,70")
    path = tmp_path / "ref.csv"
    path.write_text("# a comment line\nmodel,img_size,top1\n" + "\n".join(rows) + "\n")
    return path


def test_validate_json_shape(capsys, reference, tmp_path):
    code, out, _ = run_cli(capsys, "proxy", "validate", "--reference", reference, "--proxies",
                           "grad_norm,params", "--json", "--cache-dir", tmp_path / "c",
                           "--out", tmp_path / "res")
    assert code == 0
    data = json.loads(out)
    assert data["default"] == DEFAULT_PROXY
    assert set(data["results"]) == {"params", "macs", "grad_norm"}
    for r in data["results"].values():
        assert set(r) == {"kendall_tau", "spearman", "n", "failed", "seconds_per_model"}
        assert r["n"] == 3
        assert [f["model"] for f in r["failed"]] == ["no_such_model_xyz"]
        assert "not a zoo model" in r["failed"][0]["error"]
    assert data["results"]["macs"]["kendall_tau"] == 1.0  # wider stem: more MACs
    saved = json.loads((tmp_path / "res.json").read_text())
    assert len(saved["scores"]) == 3
    md = (tmp_path / "res.md").read_text()
    assert "kendall_tau" in md and "- grad_norm on no_such_model_xyz" in md
    assert all(f"s{i}.yaml" in md for i in range(3))


def test_validate_default_and_limit(capsys, reference, tmp_path):
    code, out, _ = run_cli(capsys, "proxy", "validate", "--reference", reference, "--proxies",
                           "default", "--limit", "2", "--json", "--cache-dir", tmp_path)
    data = json.loads(out)
    assert code == 0 and DEFAULT_PROXY in data["results"]
    assert data["results"]["params"]["n"] == 2 and not data["results"]["params"]["failed"]


@pytest.mark.parametrize("content, message", [
    ("name,top1\na,1\n", "lacks column(s) model"),
    ("model,top1\n", "has no rows"),
    ("model,top1\nrepvit_m0_9,80,3,4\n", "cannot read reference table"),
    ("", "cannot read reference table"),
])
def test_bad_reference(capsys, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, _, err = run_cli(capsys, "proxy", "validate", "--reference", path)
    assert code == 2 and message in err and "Traceback" not in err


def test_missing_reference_and_unknown_proxy(capsys, tmp_path):
    code, _, err = run_cli(capsys, "proxy", "validate", "--reference", tmp_path / "x.csv")
    assert code == 2 and "not found" in err
    code, _, err = run_cli(capsys, "proxy", "validate", "--reference", "repvit-family",
                           "--proxies", "bogus")
    assert code == 2 and "unknown proxy 'bogus'" in err


def test_all_rows_failing_is_an_error(capsys, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("model,top1\nno_such_model_xyz,70\n")
    code, _, err = run_cli(capsys, "proxy", "validate", "--reference", path, "--proxies",
                           "params")
    assert code == 2 and "no row of" in err and "no_such_model_xyz" in err


def test_non_numeric_top1_is_a_row_failure(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("model,top1\nrepvit_m0_9,n/a\n")
    from explorer.measure.proxies.validation import validate

    result = validate(load_reference(path), ["params"], progress=False, cache_dir=tmp_path)
    assert result.failed["params"][0]["error"] == "top1 is missing or not a number"
    assert result.summary()["results"]["params"]["kendall_tau"] is None


def test_packaged_references_are_well_formed():
    names = packaged_references()
    assert {"timm-mobile-dev", "published-mobile", "repvit-family", "repvit-roadmap"} <= set(names)
    for name in names:
        df = load_reference(name)
        assert df["top1"].between(40, 90).all(), name


def test_list_and_score(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "proxy", "list")
    assert code == 0 and "synflow" in out and "(default)" in out
    spec = tmp_path / "t.yaml"
    spec.write_text(tiny_spec(resolution=32).to_yaml())
    code, out, _ = run_cli(capsys, "proxy", "score", "--spec", spec, "--proxies",
                           "zen,naswot", "--json", "--cache-dir", tmp_path)
    scores = json.loads(out)["scores"]
    assert code == 0 and [s["proxy"] for s in scores] == ["zen", "naswot"]
    assert all(math.isfinite(s["value"]) for s in scores)


def _image_folder(root, classes=2, per_class=6, size=20):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = root / f"class{c}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 80, (size, size, 3)) + 150 * c
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i}.png")
    return root


def test_short_training_on_generated_images(tmp_path):
    data = _image_folder(tmp_path / "imgs")
    cand = from_spec(tiny_spec(resolution=32))
    r = score(cand, "train", seed=0, data=str(data), steps=3, batch=4, resolution=16)
    again = score(cand, "train", seed=0, data=str(data), steps=3, batch=4, resolution=16)
    assert r.value in (0.0, 50.0, 100.0) and r.value == again.value  # 2 held-out images
    assert r.extra["n_val"] == 2 and r.extra["n_train"] == 10
    assert math.isfinite(r.extra["val_loss"])


def test_short_training_errors(tmp_path, monkeypatch):
    cand = from_spec(tiny_spec(resolution=32))
    monkeypatch.delenv("EXPLORER_PROXY_DATA", raising=False)
    with pytest.raises(DataError, match="needs a dataset"):
        score(cand, "train")
    with pytest.raises(DataError, match="does not exist"):
        score(cand, "train", data=str(tmp_path / "missing"))
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(DataError, match="no images found"):
        score(cand, "train", data=str(tmp_path / "empty"))


@pytest.mark.parametrize("protocol", [2, 5])  # CIFAR-10's own files are protocol 2
def test_cifar10_batches(tmp_path, protocol):
    import pickle

    rng = np.random.default_rng(0)
    for name in ("data_batch_1", "test_batch"):
        batch = {b"batch_label": b"testing", b"data": rng.integers(0, 255, (6, 3072),
                                                                   dtype=np.uint8),
                 b"labels": [0, 1, 2, 0, 1, 2], b"filenames": [b"a.png"] * 6}
        (tmp_path / name).write_bytes(pickle.dumps(batch, protocol=protocol))
    r = score(from_spec(tiny_spec(resolution=32)), "train", data=str(tmp_path), steps=2,
              batch=4, resolution=16)
    assert r.extra["n_train"] == 6 and r.extra["n_val"] == 6


class _Payload:
    """A crafted 'batch': unpickling it with pickle.load would run a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("batch, message", [
    ("payload", "refused posix.system"),
    ({b"data": [1, 2], b"labels": [0]}, "is not a CIFAR-10 batch"),
    ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [42]}, "is not a CIFAR-10 batch")])
def test_cifar10_batch_that_runs_code_or_is_malformed_is_refused(tmp_path, capsys, batch,
                                                                 message):
    import pickle

    marker = tmp_path / "pwned"
    data = tmp_path / "cifar"
    data.mkdir()
    for name in ("data_batch_1", "test_batch"):
        (data / name).write_bytes(pickle.dumps(_Payload(marker) if batch == "payload"
                                               else batch, protocol=2))
    spec_file = tmp_path / "tiny.json"
    spec_file.write_text(tiny_spec(resolution=32).to_json())
    code, _, err = run_cli(capsys, "proxy", "score", "--spec", spec_file, "--proxies", "train",
                           "--data", data, "--steps", 1, "--cache-dir", tmp_path / "cache")
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err
    assert not marker.exists()


def test_fitted_model_round_trip_and_held_out():
    table = pd.DataFrame({"model": list("abcdef"), "top1": [60, 65, 70, 72, 75, 80],
                          "x": [1.0, 2, 3, 3.5, 4, 5], "z": [0.0, 1, 0, 1, 0, 1]})
    model = fitted.fit(table, ["x", "z"], alpha=0.1)
    assert model.predict({"x": 5.0, "z": 1.0}) > model.predict({"x": 1.0, "z": 1.0})
    assert fitted.RidgeModel(**json.loads(model.to_json())).predict({"x": 2, "z": 0}) == \
        pytest.approx(model.predict({"x": 2, "z": 0}))
    loo = fitted.held_out_predictions(table, ["x", "z"], 0.1)
    assert loo.shape == (6,) and not np.allclose(loo, [model.predict(r) for r in
                                                       table.to_dict("records")])
    assert fitted.family("tf_mobilenetv3_small_100") == "mobilenetv3"
    assert fitted.family("efficientvit_m0") == "efficientvit"


def test_shipped_coefficients_match_the_shipped_table():
    shipped = fitted.load_model()
    refit = fitted.fit(fitted.load_table(), shipped.features, shipped.alpha)
    assert shipped.features == fitted.DEFAULT_FEATURES
    assert np.allclose(refit.coef, shipped.coef) and refit.fitted_on == shipped.fitted_on


def test_fitted_proxy_holds_out_its_own_training_rows(tmp_path):
    spec = tiny_spec(resolution=32)
    plain = score(from_spec(spec), "fitted")
    named = score(from_spec(spec, name=fitted.load_model().fitted_on[0]), "fitted")
    assert not plain.extra["held_out"] and named.extra["held_out"]
    assert named.value != plain.value


def test_fitted_proxy_prefers_the_wider_network():
    from explorer.edits import set_widths

    narrow = tiny_spec(resolution=32)
    wide = set_widths(narrow, (32, 64))
    assert score(from_spec(wide), "fitted").value > score(from_spec(narrow), "fitted").value


def test_refit_writes_to_a_folder(tmp_path):
    fitted.load_table().to_csv(tmp_path / fitted.FIT_TABLE, index=False)
    summary = fitted.refit(features=["log_macs", "log_params"], alpha=2.0, out=tmp_path)
    saved = json.loads((tmp_path / fitted.COEFFICIENTS).read_text())
    assert saved["features"] == ["log_macs", "log_params"] and saved["alpha"] == 2.0
    table = fitted.load_table()
    assert summary["n"] == len(table)
    assert summary["tau_family_out"] == fitted.cross_validate(
        table, ["log_macs", "log_params"], 2.0)["tau_family_out"]
    # the shipped table: a changed fit or CV shows here
    assert summary["tau_family_out"] == pytest.approx(0.7395, abs=5e-4)


def test_refit_rejects_a_bad_alpha_before_writing(tmp_path):
    from explorer.errors import DataError

    shipped = fitted.resources.files("explorer.data") / fitted.COEFFICIENTS
    before = shipped.read_text()
    for alpha in (-1.0, 0.0, float("nan")):
        with pytest.raises(DataError, match="--alpha must be a positive"):
            fitted.refit(alpha=alpha)
    assert shipped.read_text() == before
    summary = fitted.refit(alpha=20.0, out=tmp_path)  # no table there: the shipped one
    assert summary["n"] == len(fitted.load_table()) and (tmp_path / fitted.COEFFICIENTS).is_file()
    assert shipped.read_text() == before


def test_select_matches_cross_validation_and_corrects_for_selection():
    from explorer.measure.proxies import selection

    table = fitted.load_table()
    result = selection.select(table, ["log_params", "log_macs", "log_depth"], (5.0, 1.0))
    winner = result["selected"]
    assert result["configs"] == 7 * 2 and result["n"] == len(table) == 79
    assert winner == {"features": ["log_params", "log_macs"], "alpha": 1.0}
    # the batched search scores a config exactly as fitted.cross_validate does
    assert result["apparent_tau_family_out"] == round(fitted.cross_validate(
        table, winner["features"], winner["alpha"])["tau_family_out"], 4) == 0.7408
    # nested: every outer fold re-ran the search, so the honest figure is lower
    assert result["selection_corrected_tau"] == 0.7252
    assert sum(result["outer_fold_winners"].values()) == result["families"] == 29


def test_select_tau_b_equals_scipy_with_ties():
    from scipy.stats import kendalltau

    from explorer.measure.proxies.selection import _taus

    rng = np.random.default_rng(0)
    y = np.round(rng.normal(size=30), 1)
    preds = np.stack([rng.normal(size=30), np.round(rng.normal(size=30)), y])
    assert _taus(preds, y) == pytest.approx([kendalltau(p, y).statistic for p in preds])


def test_fit_select_cli_writes_report_and_the_winner(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "proxy", "fit", "--select", "--features",
                           "log_macs,log_depth,log_width", "--alphas", "20,5", "--out", tmp_path,
                           "--report", tmp_path / "sel", "--json")
    data = json.loads(out)
    assert code == 0 and data["selected"] == {"features": list(fitted.DEFAULT_FEATURES),
                                               "alpha": fitted.DEFAULT_ALPHA}
    saved = json.loads((tmp_path / fitted.COEFFICIENTS).read_text())
    assert saved["coef"] == pytest.approx(fitted.load_model().coef)  # the shipped choice
    md = (tmp_path / "sel.md").read_text()
    assert "selection-corrected" in md and "--alphas 20,5" in md
    assert json.loads((tmp_path / "sel.json").read_text())["configs"] == 14


@pytest.mark.parametrize("argv, message", [
    (["--alpha", "3"], "--select chooses alpha itself"),
    (["--alphas", "a,b"], "--alphas must be numbers"),
    (["--alphas", "0,5"], "positive ridge strengths"),
    (["--features", "log_macs,bogus"], "fit table lacks columns bogus"),
])
def test_fit_select_bad_input(capsys, tmp_path, argv, message):
    code, _, err = run_cli(capsys, "proxy", "fit", "--select", "--out", tmp_path, *argv)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / fitted.COEFFICIENTS).exists()


def _fit_row(model):
    return fitted.load_table().set_index("model").loc[model].to_dict()


@pytest.mark.parametrize("model, twin", [
    ("tf_mobilenetv3_small_100", "mobilenetv3_small_100"),  # same network, other padding
    ("regnetx_004_tv", "regnetx_004"),  # torchvision's re-rounded widths (6% more params)
])
def test_twins_are_found_by_architecture_not_by_name(model, twin):
    table = fitted.load_table()
    renamed = table.assign(model=table["model"].replace(model, "some_other_name"))
    assert fitted.twins(_fit_row(model), renamed) == ["some_other_name"]
    assert twin not in fitted.twins(_fit_row(model), table)  # names play no part


def test_equal_size_is_not_a_twin():
    """mobilenetv4_conv_small and tf_mobilenetv3_large_minimal_100 agree in params, depth,
    head and depthwise share; their activation memory per pixel tells them apart."""
    assert fitted.twins(_fit_row("mobilenetv4_conv_small"), fitted.load_table()) == \
        ["mobilenetv4_conv_small"]


def test_fitted_proxy_holds_out_a_renamed_twin():
    """Regression: tf_efficientnet_b1 is efficientnet_b1 of the fit table under another
    name; the by-name rule scored it with coefficients that had seen it."""
    from explorer.candidate import from_timm
    from explorer.measure.proxies.features import cached_features

    candidate = from_timm("tf_efficientnet_b1", resolution=240)
    r = score(candidate, "fitted")
    assert r.extra == {"held_out": True, "twins_in_fit_table": ["efficientnet_b1"]}
    shipped, table = fitted.load_model(), fitted.load_table()
    refit = fitted.fit(table[table["model"] != "efficientnet_b1"], shipped.features,
                       shipped.alpha)
    feats = cached_features(candidate)
    assert r.value == pytest.approx(refit.predict(feats))
    assert r.value != pytest.approx(shipped.predict(feats), abs=1e-3)  # the in-sample answer
    assert fitted.Fitted().config()["held_out_by"] == "architecture"  # old cache entries unused


def test_validate_unseen_leaves_out_twins(capsys, tmp_path, reference):
    path = tmp_path / "with_twin.csv"
    path.write_text(reference.read_text() + "mobilenetv3_small_100,224,67.4\n")
    code, out, _ = run_cli(capsys, "proxy", "validate", "--reference", path, "--proxies",
                           "params", "--unseen", "--json", "--cache-dir", tmp_path / "c",
                           "--out", tmp_path / "res")
    data = json.loads(out)
    assert code == 0 and data["results"]["params"]["n"] == 3
    assert data["excluded_seen_by_fitted"] == {"mobilenetv3_small_100":
                                               ["tf_mobilenetv3_small_100"]}
    md = (tmp_path / "res.md").read_text()
    assert "--unseen" in md and "- mobilenetv3_small_100: twin of tf_mobilenetv3_small_100" in md
