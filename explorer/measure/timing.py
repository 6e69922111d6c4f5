"""The timing protocol shared by every measuring backend.

Warm up, then time runs in batches until the median stops moving (relative change below
``rel_tol`` between batches) or a time limit is hit, so a noisy machine gets more samples
instead of a wrong number. The runner times itself, which keeps one protocol for host and
device timing:

* ``thread_cpu`` -- CPU time of the calling thread. With one intra-op thread onnxruntime
  and PyTorch compute on the calling thread, so this is the inference's own cost and a
  busy machine's pre-emptions do not count (medians stay within about 1% at a load of
  4x the cores, where wall-clock medians double).
* ``wall`` -- elapsed time; needed for several threads (the work runs on pool threads).
* CUDA backends time with CUDA events.

``clock='auto'`` picks ``thread_cpu`` where it is valid, else ``wall``.

Every timing also records its ``cpu_share``: CPU seconds the process got per wall second
while the timed runs ran. An undisturbed single-threaded inference gets ~1.0 (``threads``
with several); another process competing for the core shows as a lower share, so a
caller can tell a disturbed measurement and retake it (:func:`disturbed`) instead of
averaging it in. (Contention it cannot see -- a neighbour on the *other* core sharing
caches and memory bandwidth -- slows even CPU-clock timings; medians and repeated rounds
are the guard there.)
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

#: one inference; returns its own duration in seconds
Runner = Callable[[], float]


@dataclass(frozen=True)
class Protocol:
    """How long and how often to time. The defaults suit 1-200 ms models on a shared CPU."""

    warmup_s: float = 0.2  # at least this long (and ``warmup_runs``) of untimed runs
    warmup_runs: int = 3
    min_samples: int = 20
    batch_s: float = 0.25  # each batch lasts about this long (and at least 5 runs)
    rel_tol: float = 0.01  # stop once the median moves less than this between batches
    max_s: float = 10.0  # ... or once this much time went into timed runs
    max_samples: int = 2000
    clock: str = "auto"  # auto | wall | thread_cpu (see the module docstring)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: clock name -> function returning seconds
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter,
                                          "thread_cpu": time.thread_time}


def timed(call: Callable[[], object], clock: str = "wall") -> Runner:
    """A runner timing ``call`` with ``clock``."""
    now = CLOCKS[clock]

    def run() -> float:
        start = now()
        call()
        return now() - start
    return run


#: few runs, for tests and quick looks
QUICK = Protocol(warmup_s=0.0, warmup_runs=2, min_samples=8, batch_s=0.02, rel_tol=0.05,
                 max_s=1.0, max_samples=200)


@dataclass(frozen=True)
class Timing:
    """Summary of timed runs, in milliseconds."""

    median_ms: float
    iqr_ms: float
    cv: float
    samples: int
    stable: bool  # the median settled within rel_tol before the time limit
    cpu_share: float | None = None  # process CPU s per wall s during the timed runs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(samples_s: list[float], stable: bool = True,
              cpu_share: float | None = None) -> Timing:
    """Median, interquartile range and coefficient of variation (std / mean)."""
    ms = [s * 1e3 for s in samples_s]
    if len(ms) >= 2:
        q1, _, q3 = statistics.quantiles(ms, n=4, method="inclusive")
        cv = statistics.stdev(ms) / statistics.fmean(ms)
    else:
        q1 = q3 = ms[0]
        cv = 0.0
    return Timing(statistics.median(ms), q3 - q1, cv, len(ms), stable, cpu_share)


def time_runner(run: Runner, protocol: Protocol = Protocol()) -> Timing:
    """Time ``run`` under ``protocol`` (see the module docstring)."""
    start = time.perf_counter()
    warm = [run() for _ in range(protocol.warmup_runs)]
    while time.perf_counter() - start < protocol.warmup_s:
        warm.append(run())
    per_run = max(statistics.median(warm), 1e-6)
    batch = max(5, int(protocol.batch_s / per_run))
    samples: list[float] = []
    previous: float | None = None
    began, cpu_began = time.perf_counter(), time.process_time()

    def done(stable: bool) -> Timing:
        wall = time.perf_counter() - began
        share = (time.process_time() - cpu_began) / wall if wall > 0 else None
        return summarize(samples, stable, share)

    while True:
        samples.extend(run() for _ in range(batch))
        median = statistics.median(samples)
        settled = previous is not None and abs(median - previous) <= protocol.rel_tol * previous
        if len(samples) >= protocol.min_samples and settled:
            return done(stable=True)
        if (time.perf_counter() - began >= protocol.max_s
                or len(samples) >= protocol.max_samples):
            return done(stable=False)
        previous = median


#: a measurement whose process got less CPU than this share of each thread's wall time
#: competed with another process for the core
UNDISTURBED_SHARE = 0.9


def disturbed(row: dict[str, Any]) -> bool:
    """Whether a latency row was timed while another process competed for its cores (its
    ``cpu_share`` below :data:`UNDISTURBED_SHARE` per thread). GPU timings and rows
    without a share (cached before it was recorded) are not judged."""
    share = row.get("cpu_share")
    if share is None or row.get("clock") == "cuda_events":
        return False
    return share < UNDISTURBED_SHARE * (row.get("threads") or 1)
