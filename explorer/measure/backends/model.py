"""``model:PROFILE``: latency predicted by a device cost model (:mod:`explorer.measure.
profiles`) from a candidate's cached operator features."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.errors import BackendError, DataError
from explorer.measure.backends.base import Backend
from explorer.measure.profiles import Profile, is_path, load

if TYPE_CHECKING:
    from explorer.candidate import Candidate
    from explorer.measure.timing import Protocol


class ModelBackend(Backend):
    """``model:NAME``: latency predicted by a device profile from operator features."""

    uses_threads = False
    cacheable = False  # features are cached; a prediction costs well under a millisecond
    runs_models = False
    machine_bound = False  # predicts the device, whichever host runs explorer

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self.name = f"model:{ref}"
        self._profile: Profile | None = None

    def profile(self, cache_dir: str | Path | None = None) -> Profile:
        if self._profile is None:
            try:
                self._profile = load(self.ref, cache_dir)
            except DataError as exc:
                raise BackendError(f"backend {self.name!r}: {exc}") from None
        return self._profile

    def check(self) -> None:
        """A profile file is read now; a name is looked up at the first prediction, which
        knows the cache folder holding user profiles."""
        if is_path(self.ref):
            self.profile()

    def latency(self, candidate: Candidate, threads: int, protocol: Protocol,
                cache_dir: Path) -> dict[str, Any]:
        profile = self.profile(cache_dir)
        ms = profile.predict(candidate, cache_dir)
        return {"latency_ms": ms, "latency_iqr_ms": None, "latency_cv": None,
                "samples": None, "predicted": True, "profile": profile.name,
                "device": profile.device}
