"""Latency tables of a device explorer cannot drive, filled by its user.

``explorer lut export`` writes every distinct unit of a space as a package and a
manifest; the user measures each package on the device (Xcode's Core ML performance
report), fills ``latency_ms`` in, and ``explorer lut import MANIFEST --device NAME``
stores the units in ``<cache>/lut/device-NAME.json``. ``--backend lut:device:NAME``
then predicts a network as the sum of its units, calibrated (:func:`explorer.measure.lut.
calibrate`, on relative error) with the whole networks imported for that device with
``explorer latency import --device NAME`` -- only where the calibration's leave-one-out
error beats the plain sums' error on those networks. There is no measure-on-miss: a unit
missing from the table is an error telling the user to export and measure it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.errors import BackendError
from explorer.measure.cache import default_cache_dir
from explorer.measure.device import _cache, _named_specs, check_device, imported
from explorer.measure.lut import MIN_CALIBRATION, LatencyTable, calibrate
from explorer.measure.unitmanifest import read_manifest, unit_stem

if TYPE_CHECKING:
    from explorer.spec import NetworkSpec


def table_path(device: str, cache_dir: str | Path | None = None) -> Path:
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    return root / "lut" / f"device-{check_device(device)}.json"


class DeviceTable(LatencyTable):
    """Unit latencies measured by the user on ``device`` (threads do not apply)."""

    def __init__(self, device: str, cache_dir: str | Path | None = None) -> None:
        self.device = check_device(device)
        self.report: dict[str, Any] = {}
        super().__init__(table_path(device, cache_dir), f"device:{device}", threads=None)

    def measure(self, spec: NetworkSpec, save: bool = True) -> int:
        """Nothing can be measured here: a missing unit is an error saying what to do."""
        todo = self.missing(spec)
        if todo:
            more = f" (and {len(todo) - 1} more)" if len(todo) > 1 else ""
            raise BackendError(
                f"{spec.name}: unit {unit_stem(todo[0].key)} {todo[0].key}{more} is not in "
                f"the latency table of device {self.device!r}; export the space's units with "
                f"'explorer lut export --space FILE --format coreml --out DIR', measure them "
                f"on the device, then 'explorer lut import DIR/manifest.csv --device "
                f"{self.device}'")
        return 0


def import_manifest(path: str | Path, device: str,
                    cache_dir: str | Path | None = None) -> DeviceTable:
    """Check every row of a filled manifest, then add its units to the device's table."""
    check_device(device)
    entries = read_manifest(path)
    table = DeviceTable(device, cache_dir)
    table.entries.update(entries)
    table.save()
    return table


def _networks(table: DeviceTable, cache_dir: str | Path | None
              ) -> tuple[list[NetworkSpec], list[float], list[str]]:
    """Specs and latencies of the whole networks imported for the device that the table
    covers; the rest listed with the reason."""
    named = _named_specs()
    specs, real, skipped = [], [], []
    for row in imported(table.device, cache_dir):
        spec = named.get(row["model"])
        if spec is None:
            skipped.append(f"{row['model']} ({row['source']}): a hash, not a network to cut")
            continue
        spec = spec.replace(resolution=row["resolution"])
        missing = table.missing(spec)
        if missing:
            skipped.append(f"{row['model']} ({row['source']}): {len(missing)} unit(s) not "
                           "in the table")
            continue
        specs.append(spec)
        real.append(float(row["latency_ms"]))
    return specs, real, skipped


def calibration(table: DeviceTable, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """The calibration report: ``used`` says whether predictions apply it."""
    specs, real, skipped = _networks(table, cache_dir)
    report: dict[str, Any] = {"used": False, "networks": len(specs), "skipped": skipped}
    if len(specs) < MIN_CALIBRATION:
        return {**report, "summary": f"plain sums: {len(specs)} usable whole-network "
                f"latencies imported for {table.device!r}, {MIN_CALIBRATION} needed"}
    sums = np.array([table.sums(spec) for spec in specs])
    measured = np.array(real)
    return {**report, **calibrate(sums, measured, "imported networks"),
            "fitted_on": [s.hash for s in specs]}


#: (table file, imported files) stamp -> calibrated table; one device at a time is enough
_LOADED: dict[tuple, DeviceTable] = {}


def _stamp(path: Path, cache_dir: str | Path | None) -> tuple:
    """Changes whenever the table or any imported latency is rewritten."""
    files = sorted(_cache(cache_dir).dir.glob("*.json"))
    return (str(path), path.stat().st_mtime_ns,
            tuple((p.name, p.stat().st_ino, p.stat().st_mtime_ns) for p in files))


def load(device: str, cache_dir: str | Path | None = None) -> DeviceTable:
    """The device's table with its calibration applied where it helps (re-fitted only
    when the table or the imported latencies changed: a search predicts many networks)."""
    path = table_path(device, cache_dir)
    if not path.is_file():
        raise BackendError(
            f"no latency table for device {device!r} ({path}): export the units with "
            f"'explorer lut export --space FILE --format coreml --out DIR', measure them on "
            f"the device, then 'explorer lut import DIR/manifest.csv --device {device}'")
    stamp = _stamp(path, cache_dir)
    if stamp not in _LOADED:
        table = DeviceTable(device, cache_dir)
        table.report = calibration(table, cache_dir)
        table.calibration = table.report if table.report["used"] else None
        _LOADED.clear()
        _LOADED[stamp] = table
    return _LOADED[stamp]
