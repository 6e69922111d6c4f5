"""Study storage: RDB URLs (a bare path is a SQLite file), SQLite pragmas, heartbeats, and
Optuna storage objects passed in as they are."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.errors import StorageError
from explorer.files import make_dir

if TYPE_CHECKING:
    from explorer.search._config import SearchConfig

DEFAULT_STORAGE = "sqlite:///results/search.db"


def storage_url(ref: str | None) -> str:
    """An RDB URL; a bare path means a SQLite file (its folder is created). In-memory
    SQLite is refused: every connection (and worker) would see its own empty database."""
    url = ref or DEFAULT_STORAGE
    if "://" not in url:
        url = f"sqlite:///{url}"
    if url.startswith("sqlite:") and sqlite_file(url) is None:
        raise StorageError(f"storage {url}: in-memory SQLite cannot hold a study (each "
                           "connection sees its own empty database); give a file, e.g. "
                           "--storage results/search.db")
    if sqlite_file(url) is not None:
        make_dir(sqlite_file(url).parent)
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql" + _postgres_driver() + url[url.index("://"):]
    return url


def sqlite_file(url: str | None) -> Path | None:
    """The database file of a SQLite URL (None for other databases, in-memory ones and
    storage objects without a URL)."""
    url = url or ""
    path = url[len("sqlite:///"):].split("?", 1)[0] if url.startswith("sqlite:///") else ""
    if path and path != ":memory:" and not path.startswith("file::memory:"):
        return Path(path)
    return None


def file_id(storage: str | Any) -> tuple[int, int] | None:
    """(device, inode) of a SQLite study file (None for other storages or no file)."""
    path = sqlite_file(url_of(storage))
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return None if st is None else (st.st_dev, st.st_ino)


def check_storage(config: SearchConfig) -> None:
    """Fail loudly if the SQLite file the search started with was deleted or replaced:
    the trials written to it are gone, so reporting them as done would be a lie."""
    if config.storage_id is not None and file_id(config.storage) != config.storage_id:
        raise StorageError(f"the study database {sqlite_file(url_of(config.storage))} was "
                           "deleted or replaced during the search; its trials are lost "
                           f"(re-run to start study {config.study!r} afresh)")


def _postgres_driver() -> str:
    """SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; use psycopg2 (what the
    'postgres' extra installs) when only that one is present."""
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return "+psycopg2"
    return ""


def _redacted(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparsable: the raw text says what was given
        return url


def is_storage(ref: Any) -> bool:
    """Whether ``ref`` is an Optuna storage object (rather than a URL or a path)."""
    if ref is None or isinstance(ref, (str, Path)):
        return False
    from optuna.storages import BaseStorage

    return isinstance(ref, BaseStorage)


def check_storage_ref(ref: Any, workers: int) -> str | Any:
    """``ref`` as a search keeps it: an Optuna storage object as given, anything else as
    an RDB URL (:func:`storage_url`). An in-memory storage cannot serve worker processes."""
    if not is_storage(ref):
        if ref is not None and not isinstance(ref, (str, Path)):
            raise StorageError(f"storage must be an RDB URL, a file path or an Optuna "
                               f"storage object, not {type(ref).__name__}")
        return storage_url(None if ref is None else str(ref))
    from optuna.storages import InMemoryStorage

    if isinstance(ref, InMemoryStorage) and workers > 1:
        raise StorageError("an InMemoryStorage lives in this process only; workers > 1 "
                           "need an RDB storage (a URL or an RDBStorage object)")
    return ref


def url_of(storage: str | Any) -> str | None:
    """The URL of a storage: itself for a URL, an ``RDBStorage``'s own, else None."""
    return storage if isinstance(storage, str) else getattr(storage, "url", None)


def describe(storage: str | Any) -> str:
    """A storage for messages: its URL without the password, or its class."""
    url = url_of(storage)
    return _redacted(url) if url else type(storage).__name__


def open_storage(ref: str | Any | None, heartbeat_s: int = 10) -> Any:
    """An ``optuna.storages.RDBStorage`` with heartbeats (dead workers' trials are failed
    after 3 missed beats and re-queued up to 3 times); errors become :class:`StorageError`.
    An Optuna storage object is used as given."""
    if is_storage(ref):
        return ref
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    url = storage_url(ref)
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = RDBStorage(url, engine_kwargs=engine_kwargs,
                                 heartbeat_interval=heartbeat_s, grace_period=3 * heartbeat_s,
                                 heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(3))
        if url.startswith("sqlite"):
            _sqlite_wal(storage.engine)
        return storage
    except ImportError as exc:
        raise StorageError(f"storage {_redacted(url)}: the database driver is not installed "
                           f"({exc.__cause__ or exc}); for PostgreSQL: pip install "
                           f"psycopg2-binary") from None
    except Exception as exc:  # sqlalchemy ArgumentError / OperationalError / ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"cannot open study storage {_redacted(url)}: {first}") from None


def _sqlite_wal(engine: Any) -> None:
    """WAL journal + synchronous=NORMAL: a trial writes ~40 small transactions, and a
    full fsync each (the default) costs ~20 ms apiece on this disk. WAL stays durable
    across process crashes (what killed workers need); readers never block the writer."""
    from sqlalchemy import event

    def pragmas(conn: Any, _record: Any) -> None:
        cur = conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    event.listen(engine, "connect", pragmas)
    engine.dispose()  # pooled connections opened before the listener get replaced


def quiet_optuna() -> None:
    import optuna

    # ERROR: a failed trial is reported in one line by Objective, not with a traceback
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
