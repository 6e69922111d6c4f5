"""explorer dashboard: a stored study in optuna-dashboard."""
from __future__ import annotations

import argparse

from explorer.commands._common import add_command

HELP = """Serve optuna-dashboard on a study's storage and print the study's page URL
(trials, user attributes such as spec, latency_ms, proxy and feasible, the latency
constraint: latency - budget, <= 0 when feasible, and Optuna's plots). Needs the optional
extra: pip install 'explorer[dashboard]'. Stop it with Ctrl-C.

examples:
  explorer dashboard --study demo --storage results/search.db
  explorer dashboard --study repvit-ort --port 8081 --host 0.0.0.0   (reachable from others)"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "dashboard", help="optuna-dashboard on a study", description=HELP)
    p.add_argument("--study", required=True, metavar="NAME", help="study name")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="Optuna RDB URL or SQLite path (default sqlite:///results/search.db)")
    p.add_argument("--port", type=int, default=8080,
                   help="port to listen on (default 8080; 0 takes a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from explorer.dashboard import serve
    from explorer.errors import ExplorerError

    if not 0 <= args.port <= 65535:
        raise ExplorerError(f"--port must be 0..65535, got {args.port}")
    serve(args.study, args.storage, args.host, args.port)
    return 0
