"""A stored study in optuna-dashboard (the optional extra ``explorer[dashboard]``).

optuna-dashboard already shows every trial of an explorer study with its user
attributes (spec, latency, proxy, ``feasible``); the search stores the latency
constraint in the form it reads (see :func:`explorer.search.set_latency_constraint`),
so infeasible trials show as such. This module only checks the study exists, then
serves the dashboard's WSGI app on the study's storage.
"""
from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from explorer.errors import ExplorerError, MissingDependencyError


class _QuietHandler(WSGIRequestHandler):
    """No access-log line per request (the page polls every few seconds)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def dashboard_app(study: str, storage: str | None = None) -> tuple[Any, int]:
    """optuna-dashboard's WSGI app on ``storage`` and the id of ``study`` in it; a
    missing database, study or package is one clear error."""
    try:
        import optuna_dashboard
    except ImportError:
        raise MissingDependencyError("explorer dashboard needs optuna-dashboard: "
                                     "pip install 'explorer[dashboard]'") from None
    from explorer.search import load_result, open_storage

    load_result(storage, study)  # no database or no such study: a clear error, not a page
    rdb = open_storage(storage)
    return optuna_dashboard.wsgi(rdb), rdb.get_study_id_from_name(study)


def serve(study: str, storage: str | None = None, host: str = "127.0.0.1", port: int = 8080,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the dashboard until interrupted; ``port`` 0 takes a free one. ``on_ready``
    gets the study's page URL once the server listens (default: print it)."""
    app, study_id = dashboard_app(study, storage)
    try:
        server = make_server(host, port, app, handler_class=_QuietHandler)
    except OSError as exc:
        raise ExplorerError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                            "choose another --port") from None
    url = f"http://{host}:{server.server_port}/dashboard/studies/{study_id}"
    (on_ready or (lambda u: print(f"optuna-dashboard for study {study!r}: {u}", flush=True)))(url)
    # requests are served on a thread, so Ctrl-C (always delivered to the main thread)
    # never lands inside one, where wsgiref would log it and carry on
    worker = threading.Thread(target=server.serve_forever, daemon=True)
    with server:
        worker.start()
        try:
            while worker.is_alive():
                worker.join(0.5)
        except KeyboardInterrupt:
            print("dashboard stopped", file=sys.stderr)
        finally:
            server.shutdown()
