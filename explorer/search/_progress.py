"""The progress bar a search shows while its workers run."""
from __future__ import annotations

from typing import Any


class ProgressBar:
    """A tqdm bar fed with the number of done trials (stderr; off when not wanted)."""

    def __init__(self, total: int, initial: int, enabled: bool, name: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, initial=min(initial, total), desc=f"search {name}",
                        unit="trial", disable=not enabled, leave=False)

    def __call__(self, done: int) -> None:
        self.bar.update(max(0, min(done, self.bar.total) - self.bar.n))

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.close()
