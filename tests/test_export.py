"""Export of the deployed model: ONNX, TorchScript, Core ML packages (written on Linux)."""
from __future__ import annotations

import json
import platform

import numpy as np
import pytest
import torch

from explorer.candidate import from_spec
from explorer.cli import main
from explorer.errors import BackendError
from explorer.export import export
from explorer.measure.latency import measure_latency
from explorer.measure.timing import QUICK
from tests.conftest import randomize_bn, tiny_spec


def test_onnx_export_matches_the_deployed_model(tmp_path):
    import onnxruntime as ort

    c = from_spec(tiny_spec(resolution=32))
    randomize_bn(c.model)
    path = export(c, "onnx", tmp_path)
    assert path == tmp_path / "tiny.onnx"
    x = torch.randn(1, 3, 32, 32)
    got = ort.InferenceSession(str(path)).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        want = c.model(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_torchscript_export_to_a_named_file(tmp_path):
    c = from_spec(tiny_spec(resolution=32))
    path = export(c, "torchscript", tmp_path / "sub" / "net.pt")
    assert path.is_file() and torch.jit.load(str(path))(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    assert [p.name for p in path.parent.iterdir()] == ["net.pt"]  # no temp left behind


@pytest.mark.parametrize("family", ["ir", "repvit"])
def test_coreml_package_for_both_block_families(tmp_path, family):
    """MobileNetV3 blocks with hard-swish, SE and the mbv3 head; RepViT blocks with the
    downsampling unit and the classifier head."""
    spec = (tiny_spec("ir", "mbv3", "mbv3", resolution=32) if family == "ir"
            else tiny_spec(resolution=32))
    path = export(from_spec(spec, name=family), "coreml", tmp_path)
    assert path.name == f"{family}.mlpackage" and (path / "Manifest.json").is_file()


@pytest.mark.skipif(platform.system() == "Darwin", reason="Core ML predicts on macOS")
def test_coreml_backend_writes_package_then_says_it_cannot_time(tmp_path):
    cache = tmp_path / "cache"
    spec = tiny_spec(resolution=32)
    with pytest.raises(BackendError, match="only on macOS.*explorer latency import"):
        measure_latency(from_spec(spec), "coreml", cache_dir=cache, protocol=QUICK)
    assert (cache / "coreml" / "tiny.mlpackage" / "Manifest.json").is_file()
    assert not (cache / "latency").exists()
    with pytest.raises(BackendError, match="only on macOS"):  # a name is never a path
        measure_latency(from_spec(spec, name="../../escaped"), "coreml", cache_dir=cache,
                        protocol=QUICK)
    assert (cache / "coreml" / "_.._escaped.mlpackage").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


@pytest.mark.parametrize("name, stem", [("../../specescape", "_.._specescape"),
                                        ("/tmp/absolute", "_tmp_absolute"),
                                        ("study/with/slash-trial3", "study_with_slash-trial3"),
                                        ("..", "unnamed")])
def test_names_never_leave_the_out_folder(tmp_path, name, stem):
    out = tmp_path / "a" / "b"
    path = export(from_spec(tiny_spec(resolution=32), name=name), "torchscript", out)
    assert path == out / f"{stem}.pt" and path.is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["a"]
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b"]


def test_spec_name_field_is_sanitised_through_the_cli(tmp_path, capsys):
    spec_file = tmp_path / "evil.json"
    spec_file.write_text(tiny_spec(resolution=32).replace(name="../../specescape").to_json())
    out = tmp_path / "x" / "y"
    assert main(["export", "--spec", str(spec_file), "--format", "torchscript", "--out",
                 str(out)]) == 0
    assert [p.name for p in out.iterdir()] == ["_.._specescape.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.json", "x"]


@pytest.mark.parametrize("fmt, target", [("onnx", "keep.onnx"), ("torchscript", "keep.pt"),
                                         ("coreml", "keep.mlpackage")])
def test_export_never_deletes_an_existing_folder(tmp_path, capsys, fmt, target):
    spec_file = tmp_path / "tiny.json"
    spec_file.write_text(tiny_spec(resolution=32).to_json())
    user = tmp_path / target
    user.mkdir()
    (user / "thesis.tex").write_text("years of work")
    assert main(["export", "--spec", str(spec_file), "--format", fmt,
                 "--out", f"{user}/"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already exists and is not" in err
    assert (user / "thesis.tex").read_text() == "years of work"


def test_suffix_of_another_format_is_an_error(tmp_path):
    c = from_spec(tiny_spec(resolution=32))
    with pytest.raises(BackendError, match=r"ends in \.pt, but --format onnx writes \.onnx"):
        export(c, "onnx", tmp_path / "net.pt")
    assert list(tmp_path.iterdir()) == []
    assert export(c, "onnx", tmp_path / "v1.2").name == "tiny.onnx"  # dotted folder is fine


def test_export_failure_names_the_operator(tmp_path):
    from explorer.candidate import from_module

    class Odd(torch.nn.Module):
        def forward(self, x):
            return torch.linalg.svd(x[0, 0])[0]  # no ONNX mapping

    with pytest.raises(BackendError, match="ONNX export failed.*svd"):
        export(from_module(Odd(), "odd", resolution=32), "onnx", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_export_cli(tmp_path, capsys):
    spec_file = tmp_path / "tiny.json"
    spec_file.write_text(tiny_spec(resolution=32).to_json())
    out = tmp_path / "x.onnx"
    assert main(["export", "--spec", str(spec_file), "--format", "onnx", "--out", str(out),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"name": "tiny", "path": str(out)}]
    assert out.is_file()
    assert main(["export", "--format", "onnx", "--out", str(out)]) == 2
    assert "exactly one of" in capsys.readouterr().err


def test_optional_imports_are_quiet():
    import subprocess
    import sys

    code = "from explorer.export import require; require('coremltools', 'coremltools', 'x')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and "Failed to load" not in proc.stderr


def test_export_of_a_failed_trial_warns(tmp_path, capsys):
    import optuna
    from optuna.trial import TrialState, create_trial

    db = tmp_path / "s.db"
    study = optuna.create_study(study_name="demo", storage=f"sqlite:///{db}")
    spec_json = tiny_spec(resolution=32).to_json(indent=None)
    for state, attrs in ((TrialState.COMPLETE, {}), (TrialState.FAIL,
                                                     {"error": "RuntimeError: boom"})):
        study.add_trial(create_trial(state=state, value=1.0 if attrs == {} else None,
                                     user_attrs={"spec": spec_json, **attrs}))
    argv = ["export", "--study", "demo", "--storage", str(db), "--format", "torchscript",
            "--out", str(tmp_path / "out")]
    assert main(argv + ["--trial", "0"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main(argv + ["--trial", "1"]) == 0
    err = capsys.readouterr().err
    assert "warning: trial 1 of study 'demo' failed (RuntimeError: boom)" in err
    assert (tmp_path / "out" / "demo-trial1.pt").is_file()
