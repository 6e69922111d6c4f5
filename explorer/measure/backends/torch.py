"""``torch`` and ``torch-compile``: eager PyTorch on the CPU, optionally compiled."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from explorer.errors import BackendError
from explorer.measure.backends.base import Backend

if TYPE_CHECKING:
    from torch import nn

    from explorer.candidate import Candidate
    from explorer.measure.timing import Protocol


class TorchBackend(Backend):
    """Eager PyTorch on CPU (``compile=True``: through ``torch.compile``)."""

    name = "torch"
    same_thread = True

    def __init__(self, compile: bool = False) -> None:
        self.compile = compile
        if compile:
            self.name = "torch-compile"

    def load(self, module: nn.Module, example: torch.Tensor, threads: int,
             label: str) -> Callable[[], object]:
        torch.set_num_threads(threads)
        fn = module
        if self.compile:
            try:
                fn = torch.compile(module)
                with torch.inference_mode():
                    fn(example)
            except Exception as exc:  # noqa: BLE001 - inductor needs a compiler toolchain
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise BackendError(f"{label}: torch.compile failed: {first}") from exc

        def call() -> None:
            with torch.inference_mode():
                fn(example)
        return call

    def latency(self, candidate: Candidate, threads: int, protocol: Protocol,
                cache_dir: Path) -> dict[str, Any]:
        before = torch.get_num_threads()  # torch's thread count is process-wide
        try:
            return super().latency(candidate, threads, protocol, cache_dir)
        finally:
            torch.set_num_threads(before)


def compiled() -> TorchBackend:
    """``torch-compile``."""
    return TorchBackend(compile=True)
