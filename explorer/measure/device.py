"""Latencies measured on devices explorer cannot drive (an iPhone via Xcode, a board).

``explorer export --format coreml`` writes the packages; the user profiles them (Xcode's
Core ML performance report) and writes a CSV; ``explorer latency import FILE.csv --device
NAME`` validates it and stores each row in the latency cache; ``--backend device:NAME``
then reads them like any other backend.

CSV columns: ``model`` (a zoo name, a roadmap step id like ``3a`` or ``step_3a``, or a
16-hex spec hash) and ``latency_ms`` are required; ``resolution`` (default: the model's,
224 for a hash) and ``note`` are optional.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.errors import DataError
from explorer.measure.backends.base import valid_row
from explorer.measure.cache import Cache, default_cache_dir

if TYPE_CHECKING:
    from explorer.candidate import Candidate
    from explorer.spec import NetworkSpec

REQUIRED = ("model", "latency_ms")
OPTIONAL = ("resolution", "note")
#: a batch-1 inference slower than this is a unit mistake (seconds or microseconds)
MAX_LATENCY_MS = 60_000.0
_HASH = re.compile(r"^[0-9a-f]{16}$")
_DEVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_device(name: str) -> str:
    if not _DEVICE.match(name or ""):
        raise DataError(f"device name {name!r} must be letters, digits, '_', '-' or '.'")
    return name


def _cache(cache_dir: str | Path | None) -> Cache:
    return Cache("device", Path(cache_dir) if cache_dir else default_cache_dir(),
                 validate=valid_row)


def _key(device: str, ident: str, resolution: int) -> dict[str, Any]:
    return {"device": device, "id": ident, "resolution": resolution}


def _named_specs() -> dict[str, NetworkSpec]:
    """Zoo models and roadmap steps by name."""
    from explorer import zoo
    from explorer.paper import roadmap_specs

    specs = {name: zoo.get_spec(name) for name in zoo.list_models()}
    for step, spec in roadmap_specs():  # 'explorer export --roadmap' writes step_<id>
        specs[step] = specs[f"step_{step}"] = spec
    return specs


def _row_id(model: str, resolution: int | None, named: dict[str, NetworkSpec],
            where: str) -> tuple[str, int]:
    """The cache identity of one row: a spec's deploy hash, or the hash as given."""
    if model in named:
        spec = named[model]
        if resolution is not None and resolution != spec.resolution:
            spec = spec.replace(resolution=resolution)
        return spec.deploy_hash, spec.resolution
    if _HASH.match(model):
        return model, resolution or 224
    raise DataError(f"{where}: unknown model {model!r}: use a zoo name, a roadmap step id "
                    f"or a 16-hex spec hash (see 'explorer measure --list')")


def positive(text: str, where: str, column: str, kind: type) -> Any:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {column} must be a number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise DataError(f"{where}: {column} must be positive and finite, got {text!r}")
    return value


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Validated rows of a device-latency CSV (all of them, or one clear error)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"latency file not found: {path}")
    try:
        rows = _read_rows(path)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable UTF-8 CSV file: {exc}") from None
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of :func:`read_csv`, each checked (line numbers in every error)."""
    with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: Excel writes a BOM
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        twice = sorted({c for c in columns if columns.count(c) > 1})
        if twice:  # DictReader would silently keep the last one
            raise DataError(f"{path}: column(s) {', '.join(twice)} appear more than once")
        unknown = sorted(set(columns) - set(REQUIRED) - set(OPTIONAL))
        if unknown:
            raise DataError(f"{path}: unknown column(s) {', '.join(unknown)}; expected "
                            f"{', '.join(REQUIRED)} and optionally {', '.join(OPTIONAL)}")
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
        named = _named_specs()
        rows, seen = [], {}
        for line, raw in enumerate(reader, start=2):
            where = f"{path}:{line}"
            if None in raw:  # DictReader files surplus cells under the key None
                raise DataError(f"{where}: more cells than the {len(columns)} columns")
            raw = {k.strip(): (v or "").strip() for k, v in raw.items()}
            model = raw["model"]
            if not model:
                raise DataError(f"{where}: empty model")
            ms = positive(raw["latency_ms"], where, "latency_ms", float)
            if ms > MAX_LATENCY_MS:
                raise DataError(f"{where}: latency_ms {raw['latency_ms']} is over "
                                f"{MAX_LATENCY_MS / 1000:g} s for one batch-1 inference; "
                                "give milliseconds")
            res = (positive(raw["resolution"], where, "resolution", int)
                   if raw.get("resolution") else None)
            ident, res = _row_id(model, res, named, where)
            if (ident, res) in seen:
                raise DataError(f"{where}: {model!r} at {res} px is already on line "
                                f"{seen[ident, res]}")
            seen[ident, res] = line
            rows.append({"model": model, "id": ident, "resolution": res, "latency_ms": ms,
                         "note": raw.get("note", ""), "source": f"{path.name}:{line}"})
    return rows


def import_latencies(path: str | Path, device: str,
                     cache_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Validate ``path`` completely, then store every row for ``device``."""
    check_device(device)
    rows = read_csv(path)
    cache = _cache(cache_dir)
    for row in rows:
        cache.put(_key(device, row["id"], row["resolution"]), row)
    return rows


def imported(device: str, cache_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Every row imported for ``device`` (as :func:`read_csv` made it), by model name."""
    check_device(device)
    rows = [entry["value"] for entry in _cache(cache_dir).entries()
            if isinstance(entry.get("key"), dict) and entry["key"].get("device") == device
            and isinstance(entry.get("value"), dict) and "latency_ms" in entry["value"]]
    return sorted(rows, key=lambda row: (str(row.get("model")), str(row.get("resolution"))))


def lookup(candidate: Candidate, device: str,
           cache_dir: str | Path | None = None) -> dict[str, Any] | None:
    """The imported row for ``candidate`` on ``device`` (by deploy hash, spec hash, name)."""
    cache = _cache(cache_dir)
    idents = [candidate.key, candidate.name]
    if candidate.spec is not None:
        idents.insert(1, candidate.spec.hash)
    for ident in idents:
        hit = cache.get(_key(device, ident, candidate.resolution))
        if hit is not None:
            return hit
    return None
