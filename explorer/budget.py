"""Latency budgets relative to a reference model (``--budget-ref MODEL[:FACTOR]``).

A budget in milliseconds means something only on the machine and backend that measured
it: "25 ms" admitted networks about as fast as RepViT-M0.9 on one machine and almost 3x
slower ones on another. A reference budget says "FACTOR x the latency of MODEL" (a zoo
or timm name, or a spec file), with MODEL measured like the study's trials (same
backend, threads, machine) in the same run, so the same command asks the same relative
question everywhere. The resolved budget travels with its origin (:meth:`Budget.attrs`
are stored on the study), so a resumed or re-plotted study uses the same number and can
say where it came from.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from explorer.errors import BudgetError

#: study attributes that record a budget and its origin
ATTRS = ("budget_ms", "budget_ref", "budget_factor", "budget_ref_ms")


@dataclass(frozen=True)
class BudgetRef:
    """``MODEL[:FACTOR]``: a zoo or timm name or a spec file, and a positive factor."""

    model: str
    factor: float = 1.0

    @classmethod
    def parse(cls, text: str) -> BudgetRef:
        """``repvit_m0_9``, ``repvit_m0_9:1.1``, ``my_net.yaml:0.5``."""
        model, sep, factor_text = text.strip().rpartition(":")
        if not sep:
            model, factor_text = factor_text, "1"
        try:
            factor = float(factor_text)
        except ValueError:
            factor = math.nan
        if not model or not math.isfinite(factor) or factor <= 0:
            raise BudgetError(f"--budget-ref {text!r}: expected MODEL[:FACTOR], a zoo or timm "
                              "name or a spec file and a positive factor (e.g. repvit_m0_9:1.1)")
        return cls(model, factor)

    def __str__(self) -> str:
        return self.model if self.factor == 1 else f"{self.model}:{self.factor:g}"

    @property
    def slug(self) -> str:
        """For default study names: ``repvit_m0_9x1.1``."""
        stem = self.model.rsplit("/", 1)[-1]
        return stem if self.factor == 1 else f"{stem}x{self.factor:g}"


@dataclass(frozen=True)
class Budget:
    """A latency budget in ms and, for a reference budget, where the number came from."""

    ms: float
    ref: BudgetRef | None = None
    ref_ms: float | None = None  # the reference's own latency on the study's backend

    def describe(self) -> str:
        """``25 ms``, ``12 ms = repvit_m0_9's latency`` or
        ``13.2 ms = 1.1 x repvit_m0_9's latency (12 ms)``."""
        if self.ref is None or self.ref_ms is None:
            return f"{self.ms:.4g} ms"
        if self.ref.factor == 1:
            return f"{self.ms:.4g} ms = {self.ref.model}'s latency"
        return (f"{self.ms:.4g} ms = {self.ref.factor:g} x {self.ref.model}'s latency "
                f"({self.ref_ms:.4g} ms)")

    def attrs(self) -> dict[str, Any]:
        """What a study stores (see :data:`ATTRS`)."""
        return {"budget_ms": self.ms,
                "budget_ref": None if self.ref is None else self.ref.model,
                "budget_factor": None if self.ref is None else self.ref.factor,
                "budget_ref_ms": self.ref_ms}

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> Budget | None:
        """The budget a study stored (None when it has none)."""
        if attrs.get("budget_ms") is None:
            return None
        ref = (BudgetRef(attrs["budget_ref"], float(attrs.get("budget_factor") or 1.0))
               if attrs.get("budget_ref") else None)
        return cls(float(attrs["budget_ms"]), ref, attrs.get("budget_ref_ms"))


def resolve_budget(ref: BudgetRef | str, **options: Any) -> Budget:
    """Build ``ref.model`` and measure its latency with ``options`` (backend, threads,
    cache_dir, ...: the study's). Anything that stops the reference from being built or
    measured is one :class:`BudgetError` naming the reference and the backend."""
    from explorer.candidate import resolve
    from explorer.measure import measure

    ref = BudgetRef.parse(ref) if isinstance(ref, str) else ref
    backend = options.get("backend", "ort")
    try:
        candidate = resolve(ref.model)
    except Exception as exc:  # unknown name, unreadable or invalid spec file, too large
        raise BudgetError(f"--budget-ref {ref}: cannot build the reference: {exc}") from None
    try:
        ref_ms = float(measure(candidate, ["latency"], **options)["latency_ms"])
    except Exception as exc:  # backend missing or failing on this model, predictor gaps
        raise BudgetError(f"--budget-ref {ref}: cannot measure the reference on backend "
                          f"{backend}: {type(exc).__name__}: {exc}") from None
    if not math.isfinite(ref_ms) or ref_ms <= 0:
        raise BudgetError(f"--budget-ref {ref}: backend {backend} gave {ref_ms} ms")
    return Budget(ref.factor * ref_ms, ref, ref_ms)
