"""explorer bench lut: the command line of :mod:`explorer.bench.lut`."""
from __future__ import annotations

import argparse

from explorer.bench import lut as bench
from explorer.bench import write_json
from explorer.commands._common import add_bench_out, add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "lut", help="lut build + validate at 3 seeds on a fresh cache",
                    description=bench.__doc__)
    p.add_argument("--backend", default="ort", help="backend (default ort)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    p.add_argument("--seeds", default="11,12,13", help="validation seeds (default 11,12,13)")
    p.add_argument("--networks", type=int, default=30,
                   help="validation networks per seed (default 30)")
    p.add_argument("--cache-dir", default=None,
                   help="cache folder (default: a new, empty temporary one)")
    add_bench_out(p, "lut")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from explorer.commands._common import split_list
    from explorer.errors import ExplorerError
    from explorer.files import check_writable

    try:
        seeds = tuple(int(s) for s in split_list(args.seeds, "--seeds"))
    except ValueError:
        raise ExplorerError(f"--seeds must be comma-separated integers, got {args.seeds!r}") \
            from None
    if args.networks < 1:
        raise ExplorerError(f"--networks must be at least 1, got {args.networks}")
    check_writable(args.out, "--out")
    result = bench.run_bench(args.backend, args.threads, seeds=seeds,
                             networks=args.networks, cache_dir=args.cache_dir,
                             progress=sys.stderr.isatty())
    write_json(args.out, result)
    print(f"lut build: {result['build']['entries']} units; predictions use "
          f"{result['build']['summary']}")
    for seed, run_ in result["seeds"].items():
        for name, err in run_["by_predictor"].items():
            print(f"seed {seed} {name:<12} median |error| {err['median_abs_pct_error']:.1f}%, "
                  f"within 10%: {err['within_10pct']:.0%}, max {err['max_abs_pct_error']:.1f}%")
    print(f"targets (>= 95% within 10%, median <= 3% at every seed) met: "
          f"{result['targets_met_by_predictor']}; wrote {args.out}")
    return 0
