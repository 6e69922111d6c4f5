"""explorer dashboard: optuna-dashboard serves a study, over HTTP on loopback, with the
latency constraint of every trial (feasibility visible) and its user attributes; a
missing study or a missing optional package is one clear error."""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from explorer.cli import main
from explorer.search import run_search
from explorer.search_space import parse_space
from tests import search_fakes

ROOT = Path(__file__).resolve().parent.parent
SPACE = {"base": "repvit_m0_9", "resolution": [64, 96],
         "widths": [[24, 48], [48, 96], [96, 192], [192, 384]],
         "depths": [[1, 2], [1, 2], [2, 6], [1, 2]]}


@pytest.fixture
def study_db(monkeypatch, tmp_path):
    """A 6-trial study on fake metrics whose budget some trials miss."""
    from explorer.candidate import from_spec
    from explorer.measure import METRICS

    for name in ("params", "macs", "latency", "proxy"):
        monkeypatch.setitem(METRICS, name, f"tests.search_fakes:{name}")
    space = parse_space(SPACE, "dash-space")
    floor = search_fakes.latency(from_spec(space.smallest()))["latency_ms"]
    db = tmp_path / "s.db"
    result = run_search(space, 2 * floor, 6, storage=str(db), study="dash", progress=False,
                        backend="lut", sampler="random")
    return db, 2 * floor, result


def _first_line(proc: subprocess.Popen, timeout_s: float = 60) -> str:
    """The server's first stdout line (its URL), or fail with what it printed."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout_s):
        proc.kill()
        pytest.fail(f"no URL printed in {timeout_s} s")
    line = proc.stdout.readline()
    if not line:
        pytest.fail(f"dashboard exited {proc.wait()}: {proc.stderr.read()}")
    return line


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_dashboard_serves_the_study_with_its_constraints(study_db):
    db, budget, result = study_db
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "explorer", "dashboard", "--study", "dash",
                             "--storage", str(db), "--port", "0"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _first_line(proc)
        url = line.split()[-1]
        assert url.startswith("http://127.0.0.1:") and "/dashboard/studies/" in url
        base, study_id = url.split("/dashboard/studies/")
        studies = _get(f"{base}/api/studies")["study_summaries"]
        assert [s["study_name"] for s in studies] == ["dash"]
        assert studies[0]["study_id"] == int(study_id)
        detail = _get(f"{base}/api/studies/{study_id}")
        trials = {t["number"]: t for t in detail["trials"]}
        assert len(trials) == 6
        feasible = set()
        for stored in result.study.get_trials():
            shown = trials[stored.number]
            latency = stored.user_attrs["latency_ms"]
            assert shown["constraints"] == [pytest.approx(latency - budget)]
            attrs = {a["key"]: a["value"] for a in shown["user_attrs"]}
            assert attrs["feasible"] == str(latency <= budget)
            feasible.add(latency <= budget)
        assert feasible == {True, False}, "the budget should cut the study"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read()


def test_dashboard_unknown_study_is_one_clear_error(study_db, capsys):
    db = study_db[0]
    assert main(["dashboard", "--study", "nope", "--storage", str(db), "--port", "0"]) == 2
    assert "no study 'nope'" in capsys.readouterr().err


def test_dashboard_without_the_extra_says_what_to_install(study_db, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)  # import fails
    start = time.perf_counter()
    assert main(["dashboard", "--study", "dash", "--storage", str(study_db[0])]) == 2
    err = capsys.readouterr().err
    assert "pip install 'explorer[dashboard]'" in err and err.count("\n") == 1
    assert time.perf_counter() - start < 30
