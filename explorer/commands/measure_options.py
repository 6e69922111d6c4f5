"""Options that metric providers read (backend, threads, proxy, ...), shared by every
command that measures. Each provider ignores the options it does not use."""
from __future__ import annotations

import argparse
from typing import Any


def add(p: argparse.ArgumentParser) -> None:
    """Register measurement options on a subcommand parser."""


def options(args: argparse.Namespace) -> dict[str, Any]:
    """The measurement keyword options from parsed arguments."""
    return {}
