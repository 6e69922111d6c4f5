"""Options that metric providers read (backend, threads, proxy, ...), shared by every
command that measures (measure, roadmap, search). Each provider ignores what it does
not use, so one set of flags serves them all."""
from __future__ import annotations

import argparse
from typing import Any

from explorer.commands._common import add_cache_dir


def add(p: argparse.ArgumentParser, backend_default: str = "ort",
        several_backends: bool = False) -> None:
    """Register measurement options on a subcommand parser; ``several_backends`` for
    commands that put one latency column per backend side by side (roadmap)."""
    g = p.add_argument_group("measurement options")
    g.add_argument("--backend", default=backend_default,
                   help="latency backend: ort (default), torch, cuda, coreml, lut, "
                        "device:NAME (imported measurements), model:PROFILE (a device cost "
                        "model, e.g. model:iphone12; see 'explorer device list')"
                        + ("; several, comma-separated (ort,model:iphone12), side by side"
                           if several_backends else ""))
    g.add_argument("--threads", type=int, default=1,
                   help="intra-op threads for CPU backends (default 1: repeatable on a "
                        "shared machine)")
    g.add_argument("--proxy", default="default", help="accuracy proxy (default: the "
                   "validated default; see 'explorer proxy list')")
    g.add_argument("--seed", type=int, default=0, help="seed for proxies and sampling")
    g.add_argument("--no-cache", action="store_true", help="re-measure instead of reusing "
                   "cached results (fresh results still replace the cached ones)")
    add_cache_dir(g)


def options(args: argparse.Namespace) -> dict[str, Any]:
    """The measurement keyword options from parsed arguments."""
    names = ("backend", "threads", "proxy", "seed", "no_cache", "cache_dir")
    return {n: getattr(args, n) for n in names if hasattr(args, n)}
