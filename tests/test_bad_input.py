"""Bad arguments and files end in one clear line and a non-zero exit, before any long
work starts and without leaving folders or files behind (issue 11's list)."""
from __future__ import annotations

import json

import pytest

from explorer.cli import main
from explorer.measure import lut
from tests import search_fakes
from tests.conftest import tiny_spec


def fails(capsys, *argv: object) -> str:
    """Run the CLI, expect exit 2 and exactly one stderr line; return that line."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]  # not progress bars
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def no_long_work(monkeypatch):
    """Any measurement or benchmark starting is a test failure: checks come first."""
    def started(*_, **__):
        raise AssertionError("the long work started before the arguments were checked")

    monkeypatch.setattr(lut, "build_table", started)
    monkeypatch.setattr("explorer.bench.proxy.run_bench", started)
    monkeypatch.setattr("explorer.bench.search.run_bench", started)
    monkeypatch.setattr("explorer.bench.latency.run_bench", started)
    monkeypatch.setattr("explorer.roadmap.run_roadmap", started)


@pytest.fixture
def blocker(tmp_path):
    """A file standing where an output folder would have to be created."""
    path = tmp_path / "a_file"
    path.write_text("not a folder")
    return path


def test_failed_roadmap_leaves_no_empty_out_folder(tmp_path, capsys):
    out = tmp_path / "new" / "results"
    assert "unknown metric" in fails(capsys, "roadmap", "--metrics", "params,bogus",
                                     "--out", out)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("argv, needle", [
    (["lut", "build", "--calibration", "-3", "--cache-dir", "{tmp}/c"],
     "--calibration must be at least 3 networks, got -3"),
    (["lut", "build", "--table", "{tmp}", "--cache-dir", "{tmp}/c"],
     "is a folder; give a file name"),
    (["lut", "build", "--table", "{blocker}/t.json", "--cache-dir", "{tmp}/c"],
     "is a file, not a folder"),
    (["bench", "proxy", "--out", "{blocker}/x/proxy.json"], "is a file, not a folder"),
    (["bench", "latency", "--out", "{tmp}"], "is a folder"),
    (["bench", "search", "--out", "{blocker}/search.json"], "is a file, not a folder"),
    (["bench", "search", "--trials", "0"], "--trials must be a positive number, got 0"),
    (["roadmap", "--out", "{blocker}/results"], "is a file, not a folder"),
])
def test_arguments_refused_before_the_long_work(tmp_path, capsys, blocker, no_long_work,
                                                argv, needle):
    argv = [a.format(tmp=tmp_path, blocker=blocker) for a in argv]
    err = fails(capsys, *argv)
    assert needle in err and "--workers" not in err


def test_search_csv_that_is_a_folder_is_refused_before_the_trials(tmp_path, capsys,
                                                                  monkeypatch):
    search_fakes.install_for_test(monkeypatch)
    db = tmp_path / "s.db"
    err = fails(capsys, "search", "--space", "search_spaces/repvit.yaml", "--budget-ms", 1,
                "--trials", 1, "--storage", db, "--csv", tmp_path)
    assert "is a folder; give a file name" in err and not db.exists()
    err = fails(capsys, "search", "--show", "--study", "x", "--storage", db, "--csv", tmp_path)
    assert "is a folder; give a file name" in err


def test_lut_validate_needs_an_existing_table(tmp_path, capsys):
    table = tmp_path / "missing.json"
    assert "no latency table at" in fails(capsys, "lut", "validate", "--table", table,
                                          "--samples", 1, "--cache-dir", tmp_path / "c")
    assert not table.exists()


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(tiny_spec(resolution=32).to_json())
    return path


@pytest.mark.parametrize("steps", [0, -5])
def test_training_proxy_refuses_no_steps(tmp_path, capsys, spec_file, steps):
    data = tmp_path / "data"
    for cls in ("a", "b"):
        (data / cls).mkdir(parents=True)
    err = fails(capsys, "proxy", "score", "--spec", spec_file, "--proxies", "train",
                "--data", data, "--steps", steps, "--cache-dir", tmp_path / "c")
    assert f"steps must be a positive integer, got {steps}" in err
    assert not (tmp_path / "c" / "proxy").exists()  # nothing cached


@pytest.fixture
def reference(tmp_path, spec_file):
    def write(rows: str) -> str:
        path = tmp_path / "ref.csv"
        path.write_text("model,img_size,top1\n" + rows)
        return str(path)
    return write


@pytest.mark.parametrize("rows, needle", [
    ("tiny.json,32,60\ntiny.json,big,61\n", "img_size 'big' of data row 2 (tiny.json)"),
    ("tiny.json,32,7740\n", "top1 '7740' of data row 1"),
    ("tiny.json,32,-5\ntiny.json,32,-6\n", "is not a top-1 percentage in [0, 100] (1 more"),
    ("tiny.json,0,60\n", "is not a whole number of pixels >= 32"),
])
def test_reference_table_cells_are_checked(capsys, reference, rows, needle):
    assert needle in fails(capsys, "proxy", "validate", "--reference", reference(rows),
                           "--proxies", "params")


@pytest.mark.parametrize("limit", [0, -2])
def test_validate_limit_must_be_positive(capsys, reference, limit):
    err = fails(capsys, "proxy", "validate", "--reference", reference("tiny.json,32,60\n"),
                "--proxies", "params", "--limit", limit)
    assert f"--limit must be a positive number, got {limit}" in err


def test_validate_out_folder_gets_the_files_inside(tmp_path, capsys, reference):
    ref = reference("tiny.json,32,60\ntiny.json,,61\n")
    folder = tmp_path / "check"
    assert main(["proxy", "validate", "--reference", ref, "--proxies", "params",
                 "--cache-dir", str(tmp_path / "c"), "--out", f"{folder}/"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["proxy_validation.json",
                                                        "proxy_validation.md"]
    assert not (tmp_path / "check.json").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--reference", "{tmp}/missing.csv"], "--reference is read only with --rebuild"),
    (["--features", ""], "--features is empty"),
    (["--alpha", "1e308"], "shrinks every coefficient to 0"),
    (["--alpha", "inf"], "--alpha must be a positive ridge strength, got inf"),
])
def test_proxy_fit_options_are_not_silently_ignored(tmp_path, capsys, argv, needle):
    out = tmp_path / "fit"
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert needle in fails(capsys, "proxy", "fit", "--out", out, *argv)
    assert not (out / "proxy_fit_coefficients.json").exists()


def test_proxy_fit_alpha_that_still_ranks_is_fine(tmp_path, capsys):
    assert main(["proxy", "fit", "--out", str(tmp_path), "--alpha", "50", "--json"]) == 0
    assert any(json.loads(capsys.readouterr().out)["coef"].values())


@pytest.fixture
def huge_width_spec(tmp_path):
    spec = tiny_spec(resolution=32)
    blocks = spec.stages[1].blocks
    wide = spec.replace(stages=(spec.stages[0], spec.stages[1].__class__(
        (blocks[0].__class__(**{**blocks[0].__dict__, "width": 10**9}),),
        spec.stages[1].downsample)))
    path = tmp_path / "wide.json"
    path.write_text(wide.to_json())
    return path


@pytest.mark.parametrize("argv, needle", [
    (["measure", "--model", "repvit_m0_9", "--resolution", "100000"],
     "repvit_m0_9 at 100000 px needs about"),
    (["measure", "--timm", "resnet18", "--resolution", "100000"],
     "resnet18 at 100000 px needs about"),
    (["measure", "--spec", "{wide}"], "at 32 px needs about"),
    (["measure", "--timm", "resnet18", "--resolution", "0"],
     "resolution must be a whole number of at least 32 px, got 0"),
    (["measure", "--timm", "resnet18", "--resolution", "-5"], "got -5"),
    (["proxy", "score", "--model", "repvit_m0_9", "--proxies", "train", "--data", "{tmp}",
      "--train-resolution", "100000"], "the 'train' proxy's images"),
])
def test_what_cannot_fit_in_memory_is_refused_with_the_estimate(tmp_path, capsys,
                                                                 huge_width_spec, argv,
                                                                 needle):
    argv = [a.format(tmp=tmp_path, wide=huge_width_spec) for a in argv]
    err = fails(capsys, *argv, "--metrics" if argv[0] == "measure" else "--seed",
                "params" if argv[0] == "measure" else 0)
    assert needle in err
    assert "GB at batch 1" in err or "resolution must be" in err


def test_space_whose_largest_network_cannot_fit_is_refused(tmp_path, capsys, monkeypatch):
    search_fakes.install_for_test(monkeypatch)
    space = tmp_path / "big.yaml"
    space.write_text("base: repvit_m0_9\nresolution: [224, 100000]\n")
    err = fails(capsys, "search", "--space", space, "--budget-ms", 1, "--trials", 1,
                "--storage", tmp_path / "s.db")
    assert "its largest network (resolution 100000, stage widths 48/96/192/384) needs" in err


@pytest.mark.parametrize("name", ["mobilenetv3_large_100", "repvit_m0_9", "repvit_m2_3"])
@pytest.mark.parametrize("resolution", [64, 160])
def test_memory_estimate_is_close_to_the_built_network(name, resolution):
    """Weights + every leaf layer's output of the real module, against the estimate from
    the spec alone (which keeps ACTIVATION_COPIES per layer instead of each leaf)."""
    from explorer import footprint, zoo
    from explorer.build import build

    spec = zoo.get_spec(name).replace(resolution=resolution)
    actual = footprint.module_bytes(build(spec), resolution)
    assert 0.7 < footprint.spec_bytes(spec) / actual < 1.4


def test_memory_limit_can_be_set(monkeypatch):
    from explorer import footprint
    from explorer.errors import TooLargeError

    monkeypatch.setenv("EXPLORER_MEMORY_LIMIT_GB", "0.001")
    with pytest.raises(TooLargeError, match="more than the 0.0 GB"):
        footprint.check_fits(2 * 2**20, "x")
    footprint.check_fits(2**19, "x")
