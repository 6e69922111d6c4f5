"""Device latency: backends behind one small interface, a registry by name, a disk cache.

A :class:`Backend` loads a candidate's *deployed* module into a runtime and returns a runner
(one inference that times itself with the protocol's clock);
:func:`explorer.measure.timing.time_runner` applies the shared protocol. Backends that do
not time anything here (``lut`` predicts, ``device:NAME`` looks up
imported numbers) override :meth:`Backend.latency` instead.

Registry: ``ort`` (default), ``torch``, ``torch-compile``, ``cuda``, ``coreml``, ``lut``
(``lut:BACKEND`` for a table built on another backend, ``lut:device:NAME`` for one
imported from a device), ``device:NAME`` (imported
measurements) and ``model:PROFILE`` (a device cost model's prediction).
"""
from __future__ import annotations

import copy
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch

from explorer.build import count_batch_norms
from explorer.errors import BackendError
from explorer.export import coreml_model, example_input, onnx_bytes, require
from explorer.machine import fingerprint, machine_tag, versions
from explorer.measure.cache import Cache, default_cache_dir, finite_number, make_dir, safe_stem
from explorer.measure.timing import Protocol, Runner, Timing, time_runner, timed

if TYPE_CHECKING:
    from torch import nn

    from explorer.candidate import Candidate

#: bump when the protocol or the row layout changes, so old cache entries are not reused
PROTOCOL_VERSION = 2


class Backend:
    """One way of running a model. Subclasses implement :meth:`load` (or :meth:`runner`
    when they time themselves) or, when they run nothing, override :meth:`latency`."""

    name = "base"
    uses_threads = True  # thread count matters (and is checked against the cores)
    cacheable = True  # rows go to the disk cache
    runs_models = True  # False: predicts or looks up instead of running
    same_thread = False  # with 1 thread, inference runs on the caller (thread_cpu valid)
    machine_bound = True  # numbers depend on the host running explorer (its fingerprint)

    def check(self) -> None:
        """Raise :class:`BackendError` early (before building anything) if unusable here."""

    def load(self, module: "nn.Module", example: torch.Tensor, threads: int,
             label: str) -> Callable[[], object]:
        """Prepare ``module`` (export, load) and return one untimed inference."""
        raise NotImplementedError

    def runner(self, module: "nn.Module", example: torch.Tensor, threads: int, label: str,
               clock: str = "wall") -> Runner:
        """One inference timed with ``clock``."""
        return timed(self.load(module, example, threads, label), clock)

    def clock_for(self, threads: int, protocol: Protocol) -> str:
        valid = self.same_thread and threads == 1
        if protocol.clock == "auto":
            return "thread_cpu" if valid else "wall"
        if protocol.clock == "thread_cpu" and not valid:
            raise BackendError(f"backend {self.name!r} with {threads} thread(s) cannot be "
                               f"timed with the thread CPU clock; use clock 'wall'")
        return protocol.clock

    def latency(self, candidate: "Candidate", threads: int, protocol: Protocol,
                cache_dir: Path) -> dict[str, Any]:
        """Measure ``candidate``: build, fuse, prepare, time; each step's seconds recorded."""
        t0 = time.perf_counter()
        candidate.model  # noqa: B018 - build (cached on the candidate)
        t1 = time.perf_counter()
        module = candidate.deployed
        t2 = time.perf_counter()
        clock = self.clock_for(threads, protocol)
        example = example_input(candidate)
        run = self.runner(module, example, threads, candidate.name, clock)
        t3 = time.perf_counter()
        timing = time_runner(run, protocol)
        t4 = time.perf_counter()
        return {**timing_row(timing), "clock": clock,
                # BNs the deployed form still runs (0: fully fused); the torch backends
                # pay for them, onnxruntime folds conv-BN pairs itself at load time
                "unfused_bn": count_batch_norms(module, example),
                "seconds": {"build": t1 - t0, "fuse": t2 - t1, "export": t3 - t2,
                            "time": t4 - t3, "total": t4 - t0}}


def timing_row(timing: Timing) -> dict[str, Any]:
    return {"latency_ms": timing.median_ms, "latency_iqr_ms": timing.iqr_ms,
            "latency_cv": timing.cv, "samples": timing.samples, "stable": timing.stable}


class OrtBackend(Backend):
    """ONNX Runtime, CPU provider, batch 1, sequential, explicit intra-op threads."""

    name = "ort"
    same_thread = True

    def check(self) -> None:
        require("onnxruntime", "onnxruntime", "the 'ort' backend")

    def load(self, module: "nn.Module", example: torch.Tensor, threads: int,
             label: str) -> Callable[[], object]:
        ort = require("onnxruntime", "onnxruntime", "the 'ort' backend")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        session = ort.InferenceSession(onnx_bytes(module, example, label), opts,
                                       providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: example.numpy()}
        return lambda: session.run(None, feed)


class TorchBackend(Backend):
    """Eager PyTorch on CPU (``compile=True``: through ``torch.compile``)."""

    name = "torch"
    same_thread = True

    def __init__(self, compile: bool = False) -> None:
        self.compile = compile
        if compile:
            self.name = "torch-compile"

    def load(self, module: "nn.Module", example: torch.Tensor, threads: int,
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

    def latency(self, candidate: "Candidate", threads: int, protocol: Protocol,
                cache_dir: Path) -> dict[str, Any]:
        before = torch.get_num_threads()  # torch's thread count is process-wide
        try:
            return super().latency(candidate, threads, protocol, cache_dir)
        finally:
            torch.set_num_threads(before)


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

    def runner(self, module: "nn.Module", example: torch.Tensor, threads: int, label: str,
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


class CoreMLBackend(Backend):
    """Core ML: converts to an ML program on any OS and writes the .mlpackage; predictions
    (and so timings) only run on macOS."""

    name = "coreml"
    uses_threads = False

    def __init__(self, package_dir: Path | None = None) -> None:
        self.package_dir = package_dir

    def check(self) -> None:
        require("coremltools", "coremltools", "the 'coreml' backend")

    def load(self, module: "nn.Module", example: torch.Tensor, threads: int,
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

    def latency(self, candidate: "Candidate", threads: int, protocol: Protocol,
                cache_dir: Path) -> dict[str, Any]:
        self.package_dir = self.package_dir or cache_dir / "coreml"
        return super().latency(candidate, threads, protocol, cache_dir)


#: name -> factory; ``lut[:BACKEND]`` and ``device:NAME`` are parsed in :func:`get_backend`
BACKENDS: dict[str, Callable[[], Backend]] = {
    "ort": OrtBackend,
    "torch": TorchBackend,
    "torch-compile": lambda: TorchBackend(compile=True),
    "cuda": CudaBackend,
    "coreml": CoreMLBackend,
}


def backend_names() -> list[str]:
    return [*BACKENDS, "lut", "lut:BACKEND", "lut:device:NAME", "device:NAME", "model:PROFILE"]


def get_backend(name: str) -> Backend:
    """The backend called ``name``; an unknown name lists the known ones."""
    kind, _, arg = name.partition(":")
    if kind == "model" and arg:
        from explorer.measure.profiles import ModelBackend

        return ModelBackend(arg)
    if kind == "device" and arg:
        from explorer.measure.device import DeviceBackend

        return DeviceBackend(arg)
    if kind == "lut" and arg.startswith("device:"):
        from explorer.measure.devicelut import DeviceLutBackend

        return DeviceLutBackend(arg.split(":", 1)[1])
    if kind == "lut":
        from explorer.measure.lut import LutBackend

        base = arg or "ort"
        if base not in BACKENDS or base in ("coreml",):
            raise BackendError(f"unknown backend for the latency table: {base!r}; "
                               f"choose from ort, torch, cuda")
        return LutBackend(base)
    if name not in BACKENDS:
        raise BackendError(f"unknown latency backend {name!r}; choose from "
                           f"{', '.join(backend_names())}")
    return BACKENDS[name]()


def check_threads(threads: int) -> int:
    cores = os.cpu_count() or 1
    if not isinstance(threads, int) or threads < 1:
        raise BackendError(f"--threads must be a positive integer, got {threads!r}")
    if threads > cores:
        raise BackendError(f"--threads {threads} is more than this machine's {cores} cores")
    return threads


def cache_key(candidate: "Candidate", backend: Backend, threads: int | None,
              protocol: Protocol) -> dict[str, Any]:
    """Everything a latency depends on: model, backend, threads, resolution, library
    versions, machine fingerprint (tag included), the timing protocol's settings and the
    clock they resolve to, and the row layout version."""
    return {"key": candidate.key, "backend": backend.name, "threads": threads,
            "resolution": candidate.resolution, "versions": versions(),
            "fingerprint": fingerprint(), "protocol": PROTOCOL_VERSION,
            "timing": protocol.to_dict(), "clock": backend.clock_for(threads or 1, protocol)}


def valid_row(value: Any) -> bool:
    """A cached latency row is usable only with a positive, finite ``latency_ms``."""
    return (isinstance(value, dict) and finite_number(value.get("latency_ms"))
            and value["latency_ms"] > 0)


def measure_latency(candidate: "Candidate", backend: str = "ort", threads: int = 1,
                    no_cache: bool = False, cache_dir: str | Path | None = None,
                    protocol: Protocol = Protocol()) -> dict[str, Any]:
    """Latency row of ``candidate`` on ``backend``: from the cache when the same model was
    measured under the same conditions, else measured (and stored atomically)."""
    impl = get_backend(backend)
    impl.check()
    used_threads = check_threads(threads) if impl.uses_threads else None
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    cache = Cache("latency", root, enabled=not no_cache, validate=valid_row)
    key = cache_key(candidate, impl, used_threads, protocol)
    if impl.cacheable:
        hit = cache.get(key)
        if hit is not None:
            return {**hit, "cached": True}
    row = {"backend": impl.name, "threads": used_threads, "resolution": candidate.resolution,
           "versions": versions(), "fingerprint": fingerprint(), "machine_tag": machine_tag(),
           "load_avg": round(os.getloadavg()[0], 2),  # context for noisy shared machines
           **impl.latency(candidate, used_threads or 1, protocol, root)}
    if impl.cacheable:
        cache.put(key, row)
    return {**row, "cached": False}


def latency_metric(candidate: "Candidate", backend: str = "ort", threads: int = 1,
                   no_cache: bool = False, cache_dir: str | Path | None = None,
                   **_: object) -> dict[str, Any]:
    """The ``latency`` metric for :func:`explorer.measure.measure`."""
    return measure_latency(candidate, backend, threads, no_cache, cache_dir)
