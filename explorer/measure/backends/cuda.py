"""``cuda``: PyTorch on the first GPU, timed with CUDA events."""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch

from explorer.errors import BackendError
from explorer.measure.backends.base import Backend

if TYPE_CHECKING:
    from torch import nn

    from explorer.measure.timing import Protocol, Runner


class CudaBackend(Backend):
    """PyTorch on the first GPU, timed with CUDA events after synchronising."""

    name = "cuda"
    uses_threads = False

    def check(self) -> None:
        if not torch.cuda.is_available():
            raise BackendError("backend 'cuda': no CUDA device (torch.cuda.is_available() "
                               "is False); use --backend ort or torch on this machine")

    def clock_for(self, threads: int, protocol: Protocol) -> str:
        return "cuda_events"

    def runner(self, module: nn.Module, example: torch.Tensor, threads: int, label: str,
               clock: str = "cuda_events") -> Runner:
        self.check()
        device = torch.device("cuda")
        module = copy.deepcopy(module).to(device)  # the candidate keeps its CPU module
        x = example.to(device)
        start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))

        def run() -> float:
            with torch.inference_mode():
                torch.cuda.synchronize()
                start.record()
                module(x)
                end.record()
                end.synchronize()
            return start.elapsed_time(end) / 1e3
        return run
