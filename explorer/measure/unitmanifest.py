"""The unit manifest: the CSV ``explorer lut export`` writes beside the unit packages and
the user fills in with each package's latency measured on the device.

Columns: ``unit`` (a short file-safe name: the unit's group and a digest of its key),
``key`` (the unit's configuration, :attr:`explorer.measure.lut.Unit.key`), ``file`` (the
package), ``input_shape`` (batch 1, NCHW) and ``latency_ms`` (empty until measured);
an optional ``note`` column is kept for the user. Reading checks every row and stops at
the first bad one, naming file:line, so a table is never built from half a manifest.
"""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.errors import DataError
from explorer.measure.device import MAX_LATENCY_MS, positive

if TYPE_CHECKING:
    from explorer.measure.lut import Unit

COLUMNS = ("unit", "key", "file", "input_shape", "latency_ms")
REQUIRED = ("unit", "key", "latency_ms")
OPTIONAL = ("file", "input_shape", "note")
#: what a unit key's first field can be (the unit kinds :func:`explorer.measure.lut.units` makes)
KINDS = ("stem", "down", "block", "head")


def unit_stem(key: str) -> str:
    """A short, stable, file-safe name for the unit with ``key`` (e.g. ``down-3f9a0c12de``):
    the same unit gets the same name in every export, whichever space it came from."""
    config = json.loads(key)
    kind = f"block_{config[1]}" if config[0] == "block" else config[0]
    return f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def manifest_row(unit: Unit, file: str) -> dict[str, Any]:
    """The manifest row of ``unit`` exported as ``file``; latency left for the user."""
    shape = f"1x{unit.channels}x{unit.resolution}x{unit.resolution}"
    return {"unit": unit_stem(unit.key), "key": unit.key, "file": file, "input_shape": shape,
            "latency_ms": ""}


def write_manifest(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _canonical_key(text: str, where: str) -> str:
    """The key as :class:`~explorer.measure.lut.Unit` writes it, or one error naming it."""
    try:
        config = json.loads(text)
    except ValueError:
        config = None
    ok = (isinstance(config, list) and len(config) >= 3 and config[0] in KINDS
          and all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                  for v in config[-2:]))
    if not ok:
        raise DataError(f"{where}: unknown unit key {text!r}: not a key written by "
                        "'explorer lut export'")
    return json.dumps(config)


def read_manifest(path: str | Path) -> dict[str, dict[str, Any]]:
    """Unit key -> {ms, source} for every row of a filled manifest (all rows or one error)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"manifest not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return _read(csv.DictReader(fh), path)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable UTF-8 CSV file: {exc}") from None


def _read(reader: csv.DictReader, path: Path) -> dict[str, dict[str, Any]]:
    columns = [c.strip() for c in (reader.fieldnames or [])]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    unknown = sorted(set(columns) - set(REQUIRED) - set(OPTIONAL))
    missing = [c for c in REQUIRED if c not in columns]
    for problem, names in (("appear(s) more than once", twice), ("unknown", unknown),
                           ("missing", missing)):
        if names:
            raise DataError(f"{path}: column(s) {', '.join(names)} {problem}; a manifest "
                            f"has {', '.join(REQUIRED)} and optionally {', '.join(OPTIONAL)}")
    entries: dict[str, dict[str, Any]] = {}
    lines: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        where = f"{path}:{line}"
        if None in raw:  # DictReader files surplus cells under the key None
            raise DataError(f"{where}: more cells than the {len(columns)} columns")
        cell = {k.strip(): (v or "").strip() for k, v in raw.items()}
        key = _canonical_key(cell["key"], where)
        if cell["unit"] != unit_stem(key):
            raise DataError(f"{where}: unit {cell['unit']!r} does not match its key (it "
                            f"should read {unit_stem(key)!r}); was the row edited?")
        if key in lines:
            raise DataError(f"{where}: unit {cell['unit']} is already on line {lines[key]}")
        if not cell["latency_ms"]:
            package = cell.get("file") or cell["unit"]
            raise DataError(f"{where}: latency_ms is empty: measure {package} on the device "
                            "and fill it in")
        ms = positive(cell["latency_ms"], where, "latency_ms", float)
        if ms > MAX_LATENCY_MS:
            raise DataError(f"{where}: latency_ms {cell['latency_ms']} is over "
                            f"{MAX_LATENCY_MS / 1000:g} s for one unit; give milliseconds")
        lines[key] = line
        entries[key] = {"ms": ms, "iqr_ms": None, "source": f"{path.name}:{line}"}
    if not entries:
        raise DataError(f"{path}: no rows")
    return entries
