"""explorer bench scale: the command line of :mod:`explorer.bench.scale`."""
from __future__ import annotations

import argparse

from explorer.bench import scale as bench
from explorer.bench import write_json
from explorer.commands._common import add_bench_out, add_cache_dir, add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "scale", help="a 1,000-trial lut study; sampling cost; MO "
                    "hypervolume TPE vs random", description=bench.__doc__)
    p.add_argument("--space", default="repvit", metavar="FILE",
                   help="search space (default: the shipped repvit)")
    p.add_argument("--trials", type=int, default=1000,
                   help="trials of the constrained TPE study (default 1000)")
    p.add_argument("--mo-trials", type=int, default=500,
                   help="trials per multi-objective run (default 500)")
    p.add_argument("--seed", type=int, default=0, help="constrained study's seed (default 0)")
    add_cache_dir(p)
    add_bench_out(p, "scale")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from explorer.commands._common import require_positive
    from explorer.files import check_writable

    require_positive(args.trials, "--trials")
    require_positive(args.mo_trials, "--mo-trials")
    check_writable(args.out, "--out")
    result = bench.run_bench(args.space, args.trials, args.mo_trials, args.seed,
                             cache_dir=args.cache_dir)
    write_json(args.out, result)
    c, mo = result["constrained_tpe"], result["multi_objective"]
    print(f"{c['trials']} constrained TPE trials in {c['minutes']:.1f} min "
          f"({c['trials_per_minute']:.0f}/min; target <= {bench.TARGET_MINUTES:g} min: "
          f"{'met' if c['target_met'] else 'missed'}); seconds per metric "
          f"{c['median_seconds_per_metric']}")
    print(f"TPE sampling s/trial by study size: "
          f"{c['optuna_sampling_seconds_per_trial']['tpe']}")
    print(f"MO hypervolume after {mo['trials']} trials, median of {len(mo['per_seed'])} "
          f"seeds: TPE {mo['median']['tpe']:.4f} vs random {mo['median']['random']:.4f}; "
          f"wrote {args.out}")
    return 0
