"""A real distributed study: a PostgreSQL server on loopback, two worker processes, one
killed (SIGKILL) in the middle of a trial. The study must still reach the requested
trial count with every completed trial intact and nothing left RUNNING."""
from __future__ import annotations

import glob
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from explorer.search import make_config, prepare, worker_main
from explorer.search_space import parse_space
from explorer.spec import NetworkSpec
from tests import search_fakes

pytestmark = pytest.mark.postgres

TRIALS = 12


def _pg_bin() -> Path | None:
    """Debian's versioned server binaries first (its PATH ones are wrappers)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """Start a throwaway server (trust auth, loopback only); as root, run it as the
    'postgres' user, which PostgreSQL requires."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL binaries (pg_ctl, initdb) not found; apt-get install "
                    "postgresql to run the distributed-search test")
    root = Path(tempfile.mkdtemp(prefix="explorer-pg-"))
    root.chmod(0o755)
    prefix: list[str] = []
    if os.geteuid() == 0:
        import pwd

        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()

    def pg(*cmd: str) -> None:
        done = subprocess.run(prefix + list(cmd), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{' '.join(cmd)} failed: {done.stderr or done.stdout}"

    pg(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    pg(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w",
       "start")
    try:
        pg(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
           "explorer")
        yield f"postgresql://postgres@127.0.0.1:{port}/explorer"
    finally:
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                 "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_one_killed(postgres_url, monkeypatch, tmp_path):
    search_fakes.install_for_test(monkeypatch)
    monkeypatch.setenv(search_fakes.SLEEP, "0.4")
    hang = tmp_path / "hang.pid"  # the victim's trials never finish: it dies inside one
    monkeypatch.setenv(search_fakes.HANG, str(hang))
    space = parse_space({"base": "repvit_m0_9", "resolution": [64, 96],
                         "widths": [[24, 48], [48, 96], [96, 192], [192, 384]],
                         "depths": [[1, 2], [1, 2], [2, 4, 6], [1, 2]]}, "pg-space")
    config = make_config(space, 1e6, TRIALS, backend="lut", storage=postgres_url,
                         study="pg", heartbeat_s=1, worker_init="tests.search_fakes:install")
    study, _ = prepare(config)
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=worker_main, args=(config, i)) for i in range(2)]
    for w in workers:
        w.start()
    victim = workers[0]
    hang.write_text(str(victim.pid))
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until the victim is measuring, then kill it
        running = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                   if t.user_attrs.get("worker", "").endswith(f":{victim.pid}")
                   and "spec_hash" in t.user_attrs]
        done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        if running and done >= 2:
            os.kill(victim.pid, signal.SIGKILL)
            killed_trial = running[0].number
            break
        time.sleep(0.05)
    else:
        pytest.fail("the victim worker never ran a trial")
    victim.join(10)
    workers[1].join(180)
    assert workers[1].exitcode == 0

    trials = study.get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert TRIALS <= len(complete) <= TRIALS + 1
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    stale = next(t for t in trials if t.number == killed_trial)
    assert stale.state == TrialState.FAIL and "error" not in stale.user_attrs
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed_trial]
    assert retried and retried[0].params == stale.params  # re-queued with the same params
    for t in complete:
        spec = NetworkSpec.from_json(t.user_attrs["spec"])
        assert spec.hash == t.user_attrs["spec_hash"] == space.build(t.params).hash
        assert {"latency_ms", "proxy", "params", "macs", "feasible"} <= set(t.user_attrs)
