"""The backend interface and the one cached measuring path every backend goes through.

A :class:`Backend` loads a candidate's *deployed* module into a runtime and returns a runner
(one inference that times itself with the protocol's clock);
:func:`explorer.measure.timing.time_runner` applies the shared protocol. Backends that do
not time anything here (``lut`` predicts, ``device:NAME`` looks up imported numbers,
``model:PROFILE`` predicts from a cost model) override :meth:`Backend.latency` instead.
:func:`measure_with` wraps any backend in the disk cache.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from explorer.build import count_batch_norms
from explorer.errors import BackendError
from explorer.export import example_input
from explorer.machine import fingerprint, machine_tag, versions
from explorer.measure.cache import Cache, default_cache_dir, finite_number
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

    def load(self, module: nn.Module, example: torch.Tensor, threads: int,
             label: str) -> Callable[[], object]:
        """Prepare ``module`` (export, load) and return one untimed inference."""
        raise NotImplementedError

    def runner(self, module: nn.Module, example: torch.Tensor, threads: int, label: str,
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

    def latency(self, candidate: Candidate, threads: int, protocol: Protocol,
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
            "latency_cv": timing.cv, "samples": timing.samples, "stable": timing.stable,
            "cpu_share": timing.cpu_share}


def check_threads(threads: int) -> int:
    cores = os.cpu_count() or 1
    if not isinstance(threads, int) or threads < 1:
        raise BackendError(f"--threads must be a positive integer, got {threads!r}")
    if threads > cores:
        raise BackendError(f"--threads {threads} is more than this machine's {cores} cores")
    return threads


def cache_key(candidate: Candidate, backend: Backend, threads: int | None,
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


def measure_with(candidate: Candidate, impl: Backend, threads: int = 1,
                 no_cache: bool = False, cache_dir: str | Path | None = None,
                 protocol: Protocol = Protocol()) -> dict[str, Any]:
    """Latency row of ``candidate`` on the backend ``impl``: from the cache when the same
    model was measured under the same conditions, else measured (and stored atomically)."""
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
