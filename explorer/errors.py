"""Typed errors, all in one place (as Optuna does).

Every error a user can cause derives from :class:`ExplorerError`; the CLI turns
exactly these into one clear message and a non-zero exit, so anything else that
escapes is a bug and keeps its traceback.
"""
from __future__ import annotations


class ExplorerError(Exception):
    """Base class for errors caused by user input or the environment."""


class SpecError(ExplorerError, ValueError):
    """An architecture spec is malformed or impossible; the message names the field."""


class EditError(ExplorerError, ValueError):
    """A design edit cannot apply to a spec; the message names the failed precondition."""


class UnknownModelError(ExplorerError, KeyError):
    """A model name is neither in the zoo nor in timm."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want plain text
        return str(self.args[0]) if self.args else ""


class BackendError(ExplorerError, RuntimeError):
    """A latency/export backend is unknown, unavailable, or failed on a model."""


class MissingDependencyError(BackendError):
    """An optional package is not installed; the message says what to install."""


class ProxyError(ExplorerError, RuntimeError):
    """An accuracy proxy failed or produced a non-finite value."""


class DataError(ExplorerError, ValueError):
    """A dataset, reference table or latency file is missing or malformed."""


class SearchSpaceError(ExplorerError, ValueError):
    """A search-space file is invalid; the message names file, key and value."""


class StorageError(ExplorerError, RuntimeError):
    """A study storage URL is malformed or unreachable."""


class EmptyStudyError(ExplorerError):
    """A study has no completed, measured trial to plot or report."""


class OutputError(ExplorerError, OSError):
    """An output or cache folder cannot be created or a result file cannot be written."""


class TooLargeError(ExplorerError, ValueError):
    """A network or dataset would need more memory than the machine has; the message
    gives the estimate (see explorer/footprint.py)."""


class BudgetError(ExplorerError, ValueError):
    """A latency budget is not positive, or below anything the search space can reach."""


class DuplicateNameError(ExplorerError, ValueError):
    """A name was registered twice in one registry (a programming error, met at import)."""
