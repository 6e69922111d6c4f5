"""explorer search: constrained architecture search with Optuna under a latency budget."""
from __future__ import annotations

import argparse
import sys

from explorer.commands._common import add_budget_args, add_command

HELP = """Search a space of architectures (search_spaces/*.yaml) under a latency budget.

The budget is --budget-ms MS, or --budget-ref MODEL[:FACTOR]: FACTOR (default 1) times
the latency of MODEL (a zoo or timm name, or a spec file) measured on the search's own
backend and threads before the study starts, so the same command asks the same relative
question on any machine ("as fast as RepViT-M0.9 here"). The study stores the reference,
the factor and the milliseconds; re-running continues with the stored number.

Objective 'proxy' (default) maximizes the accuracy proxy subject to latency <= budget
(infeasible trials still teach the TPE sampler); 'multi' maximizes the proxy and
minimizes latency together and reports the Pareto front. Every trial stores its spec,
so 'explorer export --study NAME --trial N' rebuilds and exports the exact model.

The study lives in --storage (default sqlite:///results/search.db; any Optuna RDB URL,
e.g. postgresql://user@host/db for workers on many machines). Re-running the same
command continues the study up to --trials; --workers K runs K local processes.

examples:
  explorer search --space search_spaces/repvit.yaml --budget-ref repvit_m0_9 --trials 40
  explorer search --space search_spaces/repvit.yaml --budget-ref mobilenetv3_large_100:1.1 \\
      --backend lut --trials 100
  explorer search --space search_spaces/repvit.yaml --budget-ms 20 --backend lut --trials 100
  explorer search --space search_spaces/repvit.yaml --budget-ms 20 --backend ort \\
      --trials 40 --workers 2 --study repvit-ort
  explorer search --space search_spaces/mobilenetv3.yaml --objective multi --backend lut
  explorer search --study repvit-ort --show        (tables of a stored study)"""

TABLE = ["trial", "proxy", "latency_ms", "params_M", "macs_M", "flops_M", "resolution",
         "widths", "depths", "se_blocks", "spec_hash"]


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "search", help="Optuna search under a latency budget",
                    description=HELP)
    p.add_argument("--space", metavar="FILE",
                   help="search-space YAML, or a shipped space's name (repvit, mobilenetv3)")
    add_budget_args(p, "latency budget in ms (a budget is required for --objective proxy)",
                    "latency budget measured on this search's backend before it starts")
    p.add_argument("--trials", type=int, default=50, help="total trials of the study "
                   "(default 50; a resumed study runs only the missing ones)")
    p.add_argument("--objective", choices=("proxy", "multi"), default="proxy",
                   help="proxy: max proxy s.t. latency <= budget; multi: Pareto front")
    p.add_argument("--sampler", choices=("tpe", "random", "nsga2"), default="tpe",
                   help="Optuna sampler (default tpe; all honour the budget constraint)")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="Optuna RDB URL or SQLite file path (default "
                        "sqlite:///results/search.db)")
    p.add_argument("--study", default=None, metavar="NAME",
                   help="study name (default: space-objective-backend-budget, the budget "
                        "named by its reference with --budget-ref)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes")
    p.add_argument("--metrics", default="params,macs,flops,latency,proxy",
                   help="what each trial measures (latency and proxy required; a spec's "
                        "params, macs and flops are arithmetic on the spec, about 1 ms)")
    p.add_argument("--top", type=int, default=5, help="rows of the best-architecture table")
    p.add_argument("--csv", metavar="FILE", help="also write every trial to this CSV")
    p.add_argument("--show", action="store_true",
                   help="print the tables of an existing --study and exit")
    from explorer.commands import measure_options

    measure_options.add(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from explorer.commands import measure_options
    from explorer.commands._common import require_positive, split_list
    from explorer.errors import ExplorerError
    from explorer.search import load_result, run_search

    require_positive(args.top, "--top")
    if args.csv:  # fail before the trials, not after them
        from explorer.files import check_writable

        check_writable(args.csv, "--csv")
    if args.show:
        if not args.study:
            raise ExplorerError("--show needs --study NAME")
        result = load_result(args.storage, args.study)
    else:
        if not args.space:
            raise ExplorerError("give --space FILE (see search_spaces/)")
        opts = measure_options.options(args)
        seed = opts.pop("seed")
        result = run_search(args.space, args.budget_ms, args.trials, args.objective,
                            sampler=args.sampler, seed=seed, storage=args.storage,
                            study=args.study, workers=args.workers, progress=True,
                            metrics=tuple(split_list(args.metrics, "--metrics")),
                            budget_ref=args.budget_ref, **opts)
        print(f"study {result.study.study_name}: {result.n_done} trials done "
              f"({result.new_trials} new, {result.elapsed_s:.0f} s)", file=sys.stderr)
    report(result, args.top)
    if args.csv:
        from pathlib import Path

        from explorer.files import atomic_write_text

        atomic_write_text(Path(args.csv), result.trials_frame().to_csv(index=False))
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0


def _table(df) -> str:  # type: ignore[no-untyped-def]
    df = df.assign(params_M=(df.params / 1e6).round(3), macs_M=(df.macs / 1e6).round(1),
                   flops_M=(df.flops / 1e6).round(1),
                   proxy=df.proxy.round(4), latency_ms=df.latency_ms.round(3))
    df = df[[c for c in TABLE if c in df.columns]]
    return df.dropna(axis=1, how="all").to_string(index=False)  # metrics not measured


def report(result, top: int = 5) -> None:  # type: ignore[no-untyped-def]
    """Best feasible architectures (and the Pareto set), or the fastest seen if none
    met the budget."""
    budget = (f"latency <= {result.budget.describe()}" if result.budget is not None
              else "no budget")
    best = result.best(top)
    if best.empty:
        fastest = result.fastest()
        if fastest is None:
            print(f"No trial completed yet ({budget}).")
        else:
            print(f"No trial met the budget ({budget}). Fastest candidate seen: trial "
                  f"{int(fastest.trial)} at {fastest.latency_ms:.3f} ms (proxy "
                  f"{fastest.proxy:.4f}, widths {fastest.widths}, depths {fastest.depths}).")
        return
    print(f"Best feasible architectures ({budget}, by proxy):")
    print(_table(best))
    if result.objective == "multi" or result.budget_ms is None:
        print("\nPareto front (feasible, fastest first):")
        print(_table(result.pareto()))
