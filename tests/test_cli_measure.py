import json
import subprocess
import sys

import pytest

from explorer.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_measure_zoo_json(capsys):
    code, out, _ = run_cli(capsys, "measure", "--model", "repvit_m0_9", "--metrics",
                           "params,macs", "--json")
    row = json.loads(out)
    assert code == 0
    assert row["params"] == 5067056 and row["params_train"] == 5489328
    assert isinstance(row["macs"], int) and round(row["macs"] / 1e9, 1) == 0.8
    assert isinstance(row["macs_train"], int)


def test_measure_timm_and_spec(capsys, tmp_path, tiny):
    code, out, _ = run_cli(capsys, "measure", "--timm", "mobilenetv3_small_050", "--json")
    assert code == 0 and json.loads(out)["params_train"] > 0
    path = tmp_path / "tiny.yaml"
    path.write_text(tiny.to_yaml())
    code, out, _ = run_cli(capsys, "measure", "--spec", str(path))
    assert code == 0 and "params" in out and "macs" in out


def test_flops_are_twice_the_macs_of_the_same_operators(capsys, tmp_path, tiny):
    path = tmp_path / "tiny.yaml"
    path.write_text(tiny.to_yaml())
    code, out, _ = run_cli(capsys, "measure", "--spec", str(path), "--metrics", "macs,flops",
                           "--json", "--cache-dir", str(tmp_path / "c"))
    row = json.loads(out)
    assert code == 0 and row["macs"] > 0
    assert row["flops"] == 2 * row["macs"] and row["flops_train"] == 2 * row["macs_train"]
    code, out, _ = run_cli(capsys, "measure", "--spec", str(path), "--metrics", "flops",
                           "--json", "--cache-dir", str(tmp_path / "c"))
    alone = json.loads(out)
    assert alone["flops"] == row["flops"] and "macs" not in alone
    assert alone["macs_uncounted_ops"] == row["macs_uncounted_ops"]  # fvcore's own list
    assert "aten::gelu" in alone["macs_uncounted_ops"]


@pytest.mark.parametrize("argv,needle", [
    (["measure", "--model", "nope"], "unknown zoo model"),
    (["measure", "--timm", "resnet_999"], "unknown timm model"),
    (["measure", "--spec", "missing.json"], "not found"),
    (["measure"], "give one of"),
    (["measure", "--model", "repvit_m0_9", "--metrics", "beauty"], "unknown metric"),
    (["measure", "--model", "repvit_m0_9", "--metrics", " , "], "--metrics is empty"),
    (["roadmap", "--edits", ""], "--edits is empty"),
    (["bench", "proxy", "--threads", "0", "--out", "unused.json"], "--threads must be a positive"),
    (["proxy", "score", "--model", "repvit_m0_9", "--proxies", ""], "--proxies is empty"),
])
def test_measure_errors_are_one_line(capsys, argv, needle):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_malformed_spec_file_exit_code(tmp_path, tiny):
    data = tiny.to_dict()
    data["stem"]["widths"][0] = -1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    proc = subprocess.run([sys.executable, "-m", "explorer.cli", "measure", "--spec", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "stem.widths[0]" in proc.stderr


@pytest.mark.parametrize("argv", [
    ["measure", "--model", "repvit_m0_9", "--metrics", "params", "--cache-dir", "{file}/c"],
    ["roadmap", "--metrics", "params", "--resolution", "64", "--out", "{file}/sub"],
    ["export", "--model", "repvit_m0_9", "--format", "onnx", "--out", "{file}/x.onnx"],
])
def test_unwritable_outputs_are_one_line(capsys, tmp_path, argv):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    code, _, err = run_cli(capsys, *[a.format(file=blocker) for a in argv])
    assert code == 2 and "Traceback" not in err
    assert f"{blocker} is a file, not a folder" in err.strip().splitlines()[-1]


def test_corrupt_cache_entries_are_misses(tmp_path):
    from explorer.measure.cache import Cache

    cache = Cache("x", tmp_path)
    cache.put({"k": 1}, {"v": 2})
    assert cache.get({"k": 1}) == {"v": 2}
    cache.path({"k": 1}).write_bytes(b"[1, 2]")
    assert cache.get({"k": 1}) is None
    cache.path({"k": 1}).write_bytes(b"\xff\xfe")
    assert cache.get({"k": 1}) is None


def test_interrupt_is_one_line_with_exit_130(capsys, monkeypatch):
    import explorer.commands.measure as command

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "run", interrupted)
    code, _, err = run_cli(capsys, "measure", "--model", "repvit_m0_9")
    assert code == 130 and "interrupted" in err and "re-running" in err
    assert len(err.strip().splitlines()) == 1


def test_module_entry_points_match_the_console_script():
    for entry in (["-m", "explorer"], ["-m", "explorer.cli"]):
        proc = subprocess.run([sys.executable, *entry, "measure", "--model", "nope"],
                              capture_output=True, text=True)
        assert proc.returncode == 2 and "unknown zoo model 'nope'" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "explorer", "--version"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("explorer ")
