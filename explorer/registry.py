"""One registry mechanism for everything looked up by name: metrics, proxies, latency
backends, edits and zoo models.

A :class:`Registry` maps names to objects (functions, classes, factories), or to
``"module:attribute"`` references imported on first use (:meth:`Registry.load`), so an
optional dependency only matters when its entry is asked for. Registering a name twice is
refused, so two providers can never silently shadow each other; looking up an unknown name
raises the registry's own typed error, suggesting the closest names and listing the known
ones.
"""
from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, ItemsView, Iterable, Iterator
from typing import Any, Generic, TypeVar

from explorer.errors import DuplicateNameError, ExplorerError

T = TypeVar("T")
_MISSING = object()


class Registry(Generic[T]):
    """Names -> objects. ``kind`` names the things held (``"metric"``, ``"zoo model"``) in
    error messages; ``error`` is the typed error an unknown name raises."""

    def __init__(self, kind: str, error: type[ExplorerError] = ExplorerError) -> None:
        self.kind = kind
        self.error = error
        self._items: dict[str, T] = {}

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name``; a name already taken is refused."""
        if name in self._items:
            raise DuplicateNameError(f"{self.kind} {name!r} is registered twice "
                                     f"({self._items[name]!r} and {obj!r})")
        self._items[name] = obj
        return obj

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""
        return lambda obj: self.add(name, obj)

    def get(self, name: str, default: Any = _MISSING) -> T:
        """The object called ``name``; unknown: ``default`` if given, else the registry's
        error with suggestions."""
        if name not in self._items:
            if default is not _MISSING:
                return default
            raise self.error(self.unknown(name))
        return self._items[name]

    def load(self, name: str) -> Any:
        """:meth:`get`, importing a ``"module:attribute"`` reference first."""
        obj = self.get(name)
        return resolve(obj) if isinstance(obj, str) else obj

    def unknown(self, name: str, choices: list[str] | None = None) -> str:
        """The message for an unknown ``name``: the closest names, then every choice."""
        choices = choices if choices is not None else self.names()
        return (f"unknown {self.kind} {name!r}{did_you_mean(name, choices)}; choose from "
                f"{', '.join(choices)}")

    def names(self) -> list[str]:
        return list(self._items)

    def items(self) -> ItemsView[str, T]:
        return self._items.items()

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __setitem__(self, name: str, obj: T) -> None:
        """Replace (or add) deliberately: for tests that swap a provider out. Registering
        goes through :meth:`add`, which refuses a taken name."""
        self._items[name] = obj

    def __delitem__(self, name: str) -> None:
        del self._items[name]


def resolve(ref: str) -> Any:
    """The object a ``"module:attribute"`` reference names (the module is imported)."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def did_you_mean(name: str, choices: Iterable[str], n: int = 3) -> str:
    """``"; did you mean a, b?"`` with the names closest to ``name``, or ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=n)
    return f"; did you mean {', '.join(close)}?" if close else ""
