"""``coreml``: Core ML (packages written on any OS, predictions on macOS only)."""
from __future__ import annotations

import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.errors import BackendError
from explorer.export import coreml_model, require
from explorer.files import make_dir, safe_stem
from explorer.measure.backends.base import Backend

if TYPE_CHECKING:
    import torch
    from torch import nn

    from explorer.candidate import Candidate
    from explorer.measure.timing import Protocol


class CoreMLBackend(Backend):
    """Core ML: converts to an ML program on any OS and writes the .mlpackage; predictions
    (and so timings) only run on macOS."""

    name = "coreml"
    uses_threads = False

    def __init__(self, package_dir: Path | None = None) -> None:
        self.package_dir = package_dir

    def check(self) -> None:
        require("coremltools", "coremltools", "the 'coreml' backend")

    def load(self, module: nn.Module, example: torch.Tensor, threads: int,
             label: str) -> Callable[[], object]:
        model = coreml_model(module, example, label)
        folder = self.package_dir or Path(tempfile.gettempdir()) / "explorer-coreml"
        make_dir(folder)
        path = folder / f"{safe_stem(label)}.mlpackage"  # a model's name never leaves it
        model.save(str(path))
        if platform.system() != "Darwin":
            raise BackendError(
                f"backend 'coreml': Core ML runs predictions only on macOS; the package is "
                f"written to {path} - profile it on a device with Xcode's Core ML performance "
                f"report and bring the times back with 'explorer latency import'")
        feed = {"input": example.numpy()}
        return lambda: model.predict(feed)

    def latency(self, candidate: Candidate, threads: int, protocol: Protocol,
                cache_dir: Path) -> dict[str, Any]:
        self.package_dir = self.package_dir or cache_dir / "coreml"
        return super().latency(candidate, threads, protocol, cache_dir)
