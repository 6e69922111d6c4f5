"""The backends that run a model on this host, by name: what ``measure latency`` times
and what a latency table times its units on."""
from __future__ import annotations

from collections.abc import Callable

from explorer.errors import BackendError
from explorer.measure.backends.base import Backend
from explorer.measure.backends.coreml import CoreMLBackend
from explorer.measure.backends.cuda import CudaBackend
from explorer.measure.backends.ort import OrtBackend
from explorer.measure.backends.torch import TorchBackend, compiled
from explorer.registry import Registry

#: runtime name -> factory
RUNTIMES: Registry[Callable[[], Backend]] = Registry("latency backend", BackendError)
RUNTIMES.add("ort", OrtBackend)
RUNTIMES.add("torch", TorchBackend)
RUNTIMES.add("torch-compile", compiled)
RUNTIMES.add("cuda", CudaBackend)
RUNTIMES.add("coreml", CoreMLBackend)


def runtime(name: str) -> Backend:
    """The runtime called ``name`` (an unknown name lists the runtimes)."""
    return RUNTIMES.get(name)()
