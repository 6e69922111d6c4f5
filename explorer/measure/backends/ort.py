"""``ort``: ONNX Runtime on the CPU (the default backend)."""
from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from explorer.export import onnx_bytes, require
from explorer.measure.backends.base import Backend

if TYPE_CHECKING:
    import torch
    from torch import nn


class OrtBackend(Backend):
    """ONNX Runtime, CPU provider, batch 1, sequential, explicit intra-op threads."""

    name = "ort"
    same_thread = True

    def check(self) -> None:
        require("onnxruntime", "onnxruntime", "the 'ort' backend")

    def load(self, module: nn.Module, example: torch.Tensor, threads: int,
             label: str) -> Callable[[], object]:
        ort = require("onnxruntime", "onnxruntime", "the 'ort' backend")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        session = ort.InferenceSession(exported(module, example, label), opts,
                                       providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: example.numpy()}
        return lambda: session.run(None, feed)


#: deployed module -> {input shape: ONNX bytes}; entries go with their module
_EXPORTED: weakref.WeakKeyDictionary[nn.Module, dict[tuple, bytes]] = \
    weakref.WeakKeyDictionary()


def exported(module: nn.Module, example: torch.Tensor, label: str) -> bytes:
    """ONNX of ``module`` at ``example``'s shape, exported once per module: a candidate
    keeps its deployed module, so measuring it again (at another thread count, say) loads
    the same bytes instead of paying the export (about as long as the timing) again."""
    shapes = _EXPORTED.setdefault(module, {})
    key = tuple(example.shape)
    if key not in shapes:
        shapes[key] = onnx_bytes(module, example, label)
    return shapes[key]
