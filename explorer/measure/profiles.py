"""Device profiles: a device cost model's parameters as data, and the ``model:`` backend.

A profile is a YAML file: the parameters of :mod:`explorer.measure.devicemodel`, the
deployment precision its features are counted at, the fit data's provenance (rows,
sources, the command that made it), the fit's own error figures and the explorer version
that wrote it. Shipped profiles live in the package (``explorer/data/devices/``); user
profiles in ``<cache folder>/devices/``. ``--backend model:NAME`` (or
``model:path/to/profile.yaml``; :mod:`explorer.measure.backends.model`) predicts a
candidate's latency from its cached operator features in well under a millisecond.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.errors import DataError
from explorer.files import atomic_write_text
from explorer.measure.cache import Cache, default_cache_dir
from explorer.measure.devicemodel import PARAMETERS, network_features
from explorer.measure.opcost import FEATURES_VERSION, PRECISIONS, opcost

if TYPE_CHECKING:
    from explorer.candidate import Candidate

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


@dataclass(frozen=True)
class Profile:
    name: str
    parameters: dict[str, float]
    device: str = ""
    precision: str = "fp16"
    explorer_version: str = ""
    features_version: int = FEATURES_VERSION
    fit: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    def predict(self, candidate: Candidate, cache_dir: str | Path | None = None,
                no_cache: bool = False) -> float:
        theta = np.array([self.parameters.get(p, 0.0) for p in PARAMETERS])
        return float(feature_row(candidate, self.precision, cache_dir, no_cache) @ theta)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "device": self.device, "precision": self.precision,
                "explorer_version": self.explorer_version,
                "features_version": self.features_version,
                "parameters": {p: float(self.parameters.get(p, 0.0)) for p in PARAMETERS},
                "fit": self.fit}


def feature_row(candidate: Candidate, precision: str, cache_dir: str | Path | None = None,
                no_cache: bool = False) -> np.ndarray:
    """The network's cost-model features, cached on their own: a search predicts from one
    small cache read instead of re-reading every operator."""
    cache = Cache("devicefeatures", Path(cache_dir) if cache_dir else default_cache_dir(),
                  enabled=not no_cache)
    key = {"key": candidate.key, "resolution": candidate.resolution, "precision": precision,
           "in_chans": candidate.in_chans, "version": FEATURES_VERSION, "terms": PARAMETERS}
    hit = cache.get(key)
    if (isinstance(hit, dict) and isinstance(hit.get("features"), list)
            and len(hit["features"]) == len(PARAMETERS)
            and all(isinstance(v, (int, float)) for v in hit["features"])):
        return np.array(hit["features"], dtype=float)
    row = network_features(opcost(candidate, precision, no_cache, cache_dir))
    cache.put(key, {"features": [float(v) for v in row]})
    return row


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise DataError(f"profile name {name!r} must be letters, digits, '_', '-' or '.'")
    return name


def shipped_dir() -> Path:
    return Path(str(resources.files("explorer") / "data" / "devices"))


def user_dir(cache_dir: str | Path | None = None) -> Path:
    return (Path(cache_dir) if cache_dir else default_cache_dir()) / "devices"


def parse(data: Any, where: str) -> Profile:
    """A validated profile from loaded YAML/JSON (one clear error naming ``where``)."""
    from explorer import __version__

    if not isinstance(data, dict):
        raise DataError(f"{where}: a device profile is a mapping with 'name' and 'parameters'")
    params = data.get("parameters")
    if not isinstance(params, dict):
        raise DataError(f"{where}: 'parameters' must be a mapping of {', '.join(PARAMETERS)}")
    unknown = sorted(set(map(str, params)) - set(PARAMETERS))
    if unknown:
        raise DataError(f"{where}: unknown parameter(s) {', '.join(unknown)}; a profile has "
                        f"{', '.join(PARAMETERS)}")
    values = {}
    for key in PARAMETERS:
        value = params.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                value >= 0 and value != float("inf")):
            raise DataError(f"{where}: parameter {key} must be a non-negative number, got "
                            f"{value!r}")
        values[key] = float(value)
    written_by = str(data.get("explorer_version", ""))
    if written_by and _version_tuple(written_by) > _version_tuple(__version__):
        raise DataError(f"{where}: fitted by explorer {written_by}, newer than this "
                        f"explorer {__version__}; upgrade explorer or re-fit the profile")
    features = data.get("features_version", FEATURES_VERSION)
    if features != FEATURES_VERSION:
        raise DataError(f"{where}: fitted on operator features version {features}, this "
                        f"explorer counts version {FEATURES_VERSION}; re-fit it with "
                        f"'explorer device fit'")
    precision = data.get("precision", "fp16")
    if precision not in PRECISIONS:
        raise DataError(f"{where}: precision {precision!r} is not one of "
                        f"{', '.join(PRECISIONS)}")
    fit = data.get("fit") or {}
    if not isinstance(fit, dict):
        raise DataError(f"{where}: 'fit' must be a mapping")
    return Profile(check_name(str(data.get("name", ""))), values, str(data.get("device", "")),
                   precision, written_by, features, fit, where)


def read(path: str | Path) -> Profile:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise DataError(f"device profile not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: not a readable YAML/JSON profile: "
                        f"{str(exc).splitlines()[0]}") from None
    return parse(data, str(path))


def write(profile: Profile, path: str | Path) -> Path:
    import yaml

    path = Path(path)
    atomic_write_text(path, yaml.safe_dump(profile.to_dict(), sort_keys=False))
    return path


def is_path(ref: str) -> bool:
    return ref.endswith((".yaml", ".yml", ".json")) or "/" in ref


def available(cache_dir: str | Path | None = None) -> dict[str, Path]:
    """Profile name -> file; a user profile shadows a shipped one of the same name."""
    found: dict[str, Path] = {}
    for folder in (shipped_dir(), user_dir(cache_dir)):
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found[path.stem] = path
    return found


def load(ref: str, cache_dir: str | Path | None = None) -> Profile:
    """A profile by name (user, then shipped) or by file path."""
    if is_path(ref):
        return read(ref)
    known = available(cache_dir)
    if ref not in known:
        raise DataError(f"unknown device profile {ref!r}; known: "
                        f"{', '.join(known) or 'none'} (fit one with 'explorer device fit')")
    return read(known[ref])
