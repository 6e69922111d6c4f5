"""Export every distinct unit of a search space for a device explorer cannot drive.

nn-Meter's kernel-level idea without its device farm: instead of profiling whole
networks, the user profiles each unit configuration once (one Core ML package per unit,
in Xcode's performance report), fills the manifest with the times, and ``explorer lut
import`` turns it into a table that predicts any network of the space. The packages are
the deployed units cut out of a built network, exactly as ``lut build`` times them.
"""
from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from explorer.errors import BackendError, OutputError
from explorer.export import FORMATS
from explorer.files import check_writable, make_dir
from explorer.measure.lut import _progress, _submodule
from explorer.measure.spaceunits import SpaceUnits, space_units
from explorer.measure.unitmanifest import manifest_row, unit_stem, write_manifest

MANIFEST = "manifest.csv"


def check_out(out: Path) -> None:
    """``out`` must be a new or empty folder we can write in: explorer never mixes its
    packages with (or replaces) files that are already there."""
    if out.is_symlink() or (out.exists() and (not out.is_dir() or any(out.iterdir()))):
        raise OutputError(f"--out {out} already exists and is not an empty folder; give a "
                          "new folder for the unit packages")
    check_writable(out.parent, "--out", folder=True)


def export_units(space_file: str | Path, fmt: str, out: str | Path,
                 progress: bool = False) -> dict[str, Any]:
    """Write one ``fmt`` package per distinct unit of the space plus ``manifest.csv`` to
    ``out``, staged in a sibling folder and renamed at the end (nothing half-written)."""
    from explorer.search_space import load_space

    if fmt not in FORMATS:
        raise BackendError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    out = Path(out)
    check_out(out)
    space = load_space(space_file)
    found = space_units(space)
    make_dir(out.parent)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        rows = _write_packages(found, fmt, staging, progress)
        write_manifest(staging / MANIFEST, rows)
        if out.exists():
            out.rmdir()  # empty (checked above)
        staging.replace(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"space": str(space_file), "networks_in_space": space.size,
            "networks_built": found.networks_built, "units": len(found.found),
            "groups": found.groups(), "format": fmt, "out": str(out),
            "manifest": str(out / MANIFEST)}


def _write_packages(found: SpaceUnits, fmt: str, folder: Path,
                    progress: bool) -> list[dict[str, Any]]:
    """Each network holding a unit is built once; its units are cut out and exported."""
    from explorer.candidate import from_spec

    by_network: dict[str, list] = defaultdict(list)
    for unit, spec in found.found.values():
        by_network[spec.hash].append((unit, spec))
    suffix, write = FORMATS[fmt]
    rows = {}
    for pairs in _progress(list(by_network.values()), "unit export", progress):
        network = from_spec(pairs[0][1]).deployed
        for unit, _ in pairs:
            stem = unit_stem(unit.key)
            example = torch.randn(1, unit.channels, unit.resolution, unit.resolution,
                                  generator=torch.Generator().manual_seed(0))
            write(_submodule(network, unit.path), example, folder / f"{stem}{suffix}", stem)
            rows[unit.key] = manifest_row(unit, f"{stem}{suffix}")
    return [rows[key] for key in sorted(rows)]

