"""Where a measurement was taken: library versions and a machine fingerprint.

Every latency/proxy row records these, and cache keys include them, so numbers from
different machines or library versions are never mixed up.
"""
from __future__ import annotations

import hashlib
import os
import platform
from functools import lru_cache
from importlib import metadata

_PACKAGES = ("torch", "onnxruntime", "onnx", "coremltools", "timm", "fvcore", "optuna")


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """Installed versions of the libraries that affect measurements."""
    out = {"python": platform.python_version()}
    for pkg in _PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "missing"
    return out


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@lru_cache(maxsize=1)
def machine_info() -> dict[str, str | int]:
    """Human-readable description plus a short stable fingerprint of this machine."""
    info: dict[str, str | int] = {
        "system": platform.system(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cores": os.cpu_count() or 1,
    }
    canon = "|".join(f"{k}={info[k]}" for k in sorted(info))
    info["fingerprint"] = hashlib.sha256(canon.encode()).hexdigest()[:12]
    return info


def fingerprint() -> str:
    return str(machine_info()["fingerprint"])
