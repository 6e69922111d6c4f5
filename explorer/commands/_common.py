"""Argument groups and output helpers shared by subcommands."""
from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from explorer.candidate import Candidate


def add_command(sub: argparse._SubParsersAction, name: str, **kwargs: Any
                ) -> argparse.ArgumentParser:
    """A subcommand parser whose description keeps its line breaks, so the examples in
    every command's help read as written."""
    return sub.add_parser(name, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def add_cache_dir(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--cache-dir and --machine-tag, the same for every command that measures or reads
    measurements (the tag is part of the machine fingerprint in every cache key)."""
    p.add_argument("--cache-dir", default=None, help="cache folder (default "
                   "$EXPLORER_CACHE_DIR or ~/.cache/explorer)")
    p.add_argument("--machine-tag", default=None, metavar="TAG",
                   help="name this machine in the fingerprint that keys cached latencies "
                        "(default $EXPLORER_MACHINE_TAG): hosts with the same CPU that time "
                        "differently must not share cached rows")


def add_candidate_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    """--model (zoo) | --timm (any timm architecture) | --spec FILE, plus --resolution."""
    g = p.add_mutually_exclusive_group(required=required)
    g.add_argument("--model", metavar="NAME", help="a zoo model (see 'explorer measure --list')")
    g.add_argument("--timm", metavar="NAME", help="any timm architecture, built with "
                   "pretrained=False (e.g. efficientnet_b0)")
    g.add_argument("--spec", metavar="FILE", help="a JSON/YAML architecture spec")
    p.add_argument("--resolution", type=int, default=None, metavar="PX",
                   help="input resolution (default: the spec's, 224 for timm models)")


def add_budget_args(p: argparse.ArgumentParser, ms_help: str, ref_help: str) -> None:
    """--budget-ms MS | --budget-ref MODEL[:FACTOR] (see :mod:`explorer.budget`)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--budget-ms", type=float, default=None, metavar="MS", help=ms_help)
    g.add_argument("--budget-ref", default=None, metavar="MODEL[:FACTOR]",
                   help=f"{ref_help}: FACTOR (default 1) x the latency of MODEL (a zoo or timm "
                        "name, or a spec file)")


def candidate_from_args(args: argparse.Namespace) -> Candidate:
    from explorer.candidate import resolve

    if args.model:
        return resolve(args.model, "zoo", args.resolution)
    if args.timm:
        return resolve(args.timm, "timm", args.resolution)
    return resolve(args.spec, "spec", args.resolution)


def add_bench_out(p: argparse.ArgumentParser, name: str) -> None:
    """--out of a benchmark: its result JSON, committed under results/bench/."""
    path = f"results/bench/{name}.json"
    p.add_argument("--out", default=path, help=f"result JSON (default {path})")


def split_list(text: str, option: str | None = None) -> list[str]:
    """Items of a comma-separated option; with ``option`` named, an empty list is an
    error (``--metrics ""`` would otherwise quietly measure nothing)."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if option and not items:
        from explorer.errors import ExplorerError

        raise ExplorerError(f"{option} is empty; give a comma-separated list")
    return items


def require_positive(value: float | None, option: str) -> None:
    """A count, limit, step number or budget must be a positive finite number; refused
    before any work (``--top 0`` would print "no trial met the budget", ``--steps 0``
    would cache an untrained score)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        from explorer.errors import ExplorerError

        raise ExplorerError(f"{option} must be a positive number, got {value:g}")


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def print_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    """A plain-text table (pandas formatting, no index)."""
    import pandas as pd

    df = pd.DataFrame(rows)
    if columns:
        df = df[[c for c in columns if c in df.columns]]
    print(df.to_string(index=False))
