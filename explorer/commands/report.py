"""explorer report: a Markdown report of a stored study."""
from __future__ import annotations

import argparse

from explorer.commands._common import add_command

HELP = """Write report.md for a study: setup (objective, budget and where it came from,
space), machine, backend and library versions, the Pareto figure (pareto.png, see
'explorer pareto'), the best feasible architectures with their specs, the Pareto set,
the reference models and the roadmap table (results/roadmap.csv when present).

examples:
  explorer report --study demo --storage results/search.db --out results/
  explorer report --study repvit-ort --top 10 --no-roadmap
  explorer report --study repvit-ort --budget-ref repvit_m1_0    (a second budget, measured)"""


def register(sub: argparse._SubParsersAction) -> None:
    from explorer.commands.pareto import add_study_args

    p = add_command(sub, "report", help="Markdown report of a study", description=HELP)
    add_study_args(p)
    p.add_argument("--top", type=int, default=5, help="best architectures listed (default 5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from explorer import report
    from explorer.commands._common import require_positive
    from explorer.commands.pareto import study_inputs

    require_positive(args.top, "--top")
    view, roadmap, budget, opts = study_inputs(args)
    written = report.write_report(view, args.out, roadmap, not args.no_references,
                                  args.top, budget=budget, **opts)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
