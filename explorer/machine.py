"""Where a measurement was taken: library versions and a machine fingerprint.

Every latency/proxy row records these, and cache keys include them, so numbers from
different machines or library versions are never mixed up.

The fingerprint must tell apart hosts that time differently even when they report the
same CPU string (cloud VMs often say just "AMD EPYC"): it digests the CPU model line,
family/model/stepping, the instruction-set flags, the cache sizes, the core count, the
memory size and the OS, plus an optional user tag (``--machine-tag`` or
``$EXPLORER_MACHINE_TAG``) for hosts that are identical on paper but not in speed (the
same VM type on differently loaded hardware, a laptop on battery). Everything read is
static, so the fingerprint is the same on every run of one host.
"""
from __future__ import annotations

import hashlib
import os
import platform
import re
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from explorer.errors import ExplorerError

_PACKAGES = ("torch", "onnxruntime", "onnx", "coremltools", "timm", "fvcore", "optuna")
#: environment variable holding the machine tag (``--machine-tag`` sets it)
TAG_ENV = "EXPLORER_MACHINE_TAG"
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,63}$")


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


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if not line.strip():
                    if fields:
                        break
                    continue
                name, _, value = line.partition(":")
                fields.setdefault(name.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def _cache_sizes() -> str:
    """L1d/L1i/L2/L3 sizes of cpu0, e.g. ``L1Data=32K,L1Instruction=32K,L2Unified=512K``."""
    root = Path("/sys/devices/system/cpu/cpu0/cache")
    sizes = []
    for index in sorted(root.glob("index*")):
        try:
            level, kind, size = ((index / f).read_text().strip()
                                 for f in ("level", "type", "size"))
        except OSError:
            continue
        sizes.append(f"L{level}{kind}={size}")
    return ",".join(sizes)


def _memory() -> str:
    try:
        with open("/proc/meminfo") as fh:
            return fh.readline().split(":", 1)[1].strip()
    except (OSError, IndexError):
        return ""


def machine_tag() -> str:
    """The user's tag for this machine ('' when none); a malformed one is refused."""
    tag = os.environ.get(TAG_ENV, "")
    if tag and not _TAG.match(tag):
        raise ExplorerError(f"machine tag {tag!r} (--machine-tag / ${TAG_ENV}) must be 1-64 "
                            "letters, digits or _ . : @ + - , starting with a letter or digit")
    return tag


def set_machine_tag(tag: str | None) -> None:
    """Use ``tag`` for this process and the workers it spawns (None: leave as is)."""
    if tag is None:
        return
    os.environ[TAG_ENV] = tag
    machine_tag()  # refuse a malformed tag now, not inside the first measurement


@lru_cache(maxsize=1)
def _hardware() -> dict[str, str | int]:
    cpu = _cpuinfo()
    return {
        "system": platform.system(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_id": "/".join(cpu.get(k, "?") for k in ("vendor_id", "cpu family", "model",
                                                     "stepping")),
        "cpu_flags": hashlib.sha256(" ".join(sorted(cpu.get("flags", "").split())).encode()
                                    ).hexdigest()[:12],
        "caches": _cache_sizes(),
        "memory": _memory(),
        "cores": os.cpu_count() or 1,
    }


def machine_info() -> dict[str, str | int]:
    """Human-readable description plus a short stable fingerprint of this machine (the
    tag is read each time, so ``--machine-tag`` applies however early this was called)."""
    info: dict[str, str | int] = {**_hardware(), "tag": machine_tag()}
    canon = "|".join(f"{k}={info[k]}" for k in sorted(info))
    info["fingerprint"] = hashlib.sha256(canon.encode()).hexdigest()[:12]
    return info


def fingerprint() -> str:
    return str(machine_info()["fingerprint"])
