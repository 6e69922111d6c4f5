"""Every latency backend by name: the runtimes (``ort``, ``torch``, ...) and the backends
named with a prefix and an argument (``lut:BACKEND``, ``lut:device:NAME``,
``device:NAME``, ``model:PROFILE``)."""
from __future__ import annotations

from collections.abc import Callable

from explorer.errors import BackendError
from explorer.measure.backends.base import Backend
from explorer.measure.backends.device import DeviceBackend
from explorer.measure.backends.lut import DeviceLutBackend, LutBackend
from explorer.measure.backends.model import ModelBackend
from explorer.measure.backends.runtimes import RUNTIMES, runtime
from explorer.registry import Registry

#: runtimes a latency table can time its units on (Core ML predicts on macOS only)
TABLE_RUNTIMES = tuple(name for name in RUNTIMES if name != "coreml")

#: prefix -> factory taking the text after ``PREFIX:``
PREFIXED: Registry[Callable[[str], Backend]] = Registry("backend prefix", BackendError)


@PREFIXED.register("lut")
def _lut(arg: str) -> Backend:
    """``lut`` (on ort), ``lut:BACKEND`` or ``lut:device:NAME``."""
    if arg.startswith("device:"):
        return DeviceLutBackend(arg.split(":", 1)[1])
    base = arg or "ort"
    if base not in TABLE_RUNTIMES:
        raise BackendError(f"unknown backend for the latency table: {base!r}; "
                           f"choose from ort, torch, cuda")
    return LutBackend(base)


PREFIXED.add("device", DeviceBackend)
PREFIXED.add("model", ModelBackend)


def backend_names() -> list[str]:
    return [*RUNTIMES, "lut", "lut:BACKEND", "lut:device:NAME", "device:NAME",
            "model:PROFILE"]


def get_backend(name: str) -> Backend:
    """The backend called ``name``; an unknown name lists the known ones."""
    kind, _, arg = name.partition(":")
    if kind == "lut" or (arg and kind in PREFIXED):
        return PREFIXED.get(kind)(arg)
    if name not in RUNTIMES:
        raise BackendError(RUNTIMES.unknown(name, backend_names()))
    return runtime(name)
