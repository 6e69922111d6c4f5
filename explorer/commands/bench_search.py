"""explorer bench search: the command line of :mod:`explorer.bench.search`."""
from __future__ import annotations

import argparse

from explorer.bench import search as bench
from explorer.bench import write_json
from explorer.commands._common import (
    add_bench_out,
    add_budget_args,
    add_cache_dir,
    add_command,
    require_positive,
    split_list,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "search", help="constrained TPE vs random search; trials/minute",
                    description=bench.__doc__)
    p.add_argument("--space", default="repvit", metavar="FILE",
                   help="search-space YAML, or a shipped space's name (default: repvit)")
    p.add_argument("--trials", type=int, default=100,
                   help="trials per sampler with the predictor (default 100)")
    p.add_argument("--ort-trials", type=int, default=8,
                   help="trials of the measured-latency (ort) run (default 8)")
    add_budget_args(p, "budget on the predictor (default: the base network's latency)",
                    "both runs' budget, measured on each run's backend")
    p.add_argument("--metrics", default="params,latency,proxy",
                   help="what the predictor runs measure per trial (default "
                        "params,latency,proxy)")
    p.add_argument("--seed", type=int, default=0, help="sampler and proxy seed (default 0)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    add_cache_dir(p)
    p.add_argument("--storage", default=None, metavar="URL",
                   help="keep the benchmark's studies here (default: a temporary file)")
    add_bench_out(p, "search")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from explorer.files import check_writable

    require_positive(args.trials, "--trials")
    require_positive(args.ort_trials, "--ort-trials")
    check_writable(args.out, "--out")  # before the benchmark, so its results are not lost
    options = {"threads": args.threads, "cache_dir": args.cache_dir}
    metrics = tuple(split_list(args.metrics, "--metrics"))
    report = bench.run_bench(args.space, args.trials, args.ort_trials, args.seed,
                             args.budget_ms, options, metrics, args.storage, args.budget_ref)
    write_json(args.out, report)
    s, t = report["samplers"], report["throughput"]
    for name, row in s.items():
        print(f"{name:>6}: best feasible proxy {row['best_feasible_proxy']}, hypervolume "
              f"{row['hypervolume']}, {row['feasible']}/{row['trials']} feasible, "
              f"{row['trials_per_minute']} trials/min")
    print(f"throughput: lut {t['lut_trials_per_minute']} trials/min, ort "
          f"{t['ort_trials_per_minute']} trials/min; target met: {t['target_met']}")
    print(f"wrote {args.out}")
    return 0
