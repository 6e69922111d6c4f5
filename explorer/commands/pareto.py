"""explorer pareto: the accuracy-latency Pareto figure of a stored study."""
from __future__ import annotations

import argparse

from explorer.commands._common import add_budget_args, add_cache_dir, add_command

HELP = """Draw a study's trials (proxy vs latency), its feasible Pareto front, the latency
budget (the study's, labelled with its origin, or --budget-ms / --budget-ref), the roadmap
steps (from results/roadmap.csv when measured on the same backend, threads and proxy)
and the zoo's reference models (MobileNetV3-L, RepViT-M0.9..M2.3, measured with the
study's backend/threads/proxy; cached). Writes pareto.png/.svg.

examples:
  explorer pareto --study demo --storage results/search.db
  explorer pareto --study repvit-ort --budget-ms 15 --out results/figures --no-references
  explorer pareto --study repvit-ort --budget-ref mobilenetv3_large_100:1.2"""


def add_study_args(p: argparse.ArgumentParser) -> None:
    """Options shared with 'explorer report': which study, where it is, what to add."""
    p.add_argument("--study", required=True, metavar="NAME", help="study name")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="Optuna RDB URL or SQLite path (default sqlite:///results/search.db)")
    p.add_argument("--out", default="results", help="output folder (default: results)")
    p.add_argument("--roadmap", default=None, metavar="CSV",
                   help="roadmap table to show (default results/roadmap.csv if present)")
    p.add_argument("--no-roadmap", action="store_true", help="leave the roadmap out")
    p.add_argument("--no-references", action="store_true",
                   help="do not measure and draw the zoo reference models")
    add_budget_args(p, "budget line to draw (default: the study's budget)",
                    "budget line measured on the study's backend and threads")
    g = p.add_argument_group("measurement options (reference models; backend, threads and "
                             "proxy are the study's)")
    g.add_argument("--seed", type=int, default=0, help="proxy seed")
    g.add_argument("--no-cache", action="store_true", help="re-measure the references")
    add_cache_dir(g)


def study_inputs(args: argparse.Namespace) -> tuple:  # type: ignore[type-arg]
    """(study view, roadmap frame or None, budget, measure options) from the shared
    options; checks --out can be written before anything is measured."""
    from explorer import report
    from explorer.commands._common import require_positive
    from explorer.files import check_writable

    require_positive(args.budget_ms, "--budget-ms")
    view = report.load_study(args.study, args.storage)
    roadmap = None if args.no_roadmap else report.load_roadmap(args.roadmap, view.backend)
    check_writable(args.out, "--out", folder=True)
    opts = {"seed": args.seed, "no_cache": args.no_cache, "cache_dir": args.cache_dir}
    budget = report.study_budget(view, args.budget_ref, args.budget_ms,
                                 no_cache=args.no_cache, cache_dir=args.cache_dir)
    return view, roadmap, budget, opts


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "pareto", help="Pareto figure of a study", description=HELP)
    add_study_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from explorer import report

    view, roadmap, budget, opts = study_inputs(args)
    refs = None if args.no_references else report.study_references(view, **opts)
    written = report.pareto_figure(view, args.out, budget, roadmap, refs)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
