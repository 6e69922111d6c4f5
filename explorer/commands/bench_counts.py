"""explorer bench counts: the command line of :mod:`explorer.bench.counts`."""
from __future__ import annotations

import argparse

from explorer.bench import counts as bench
from explorer.bench import write_json
from explorer.commands._common import add_bench_out, add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "counts", help="analytic params/MACs/features vs fvcore, exactly",
                    description=bench.__doc__)
    p.add_argument("--samples", type=int, default=200, metavar="N",
                   help="random specs per shipped space (default 200)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    add_bench_out(p, "counts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from explorer.errors import ExplorerError
    from explorer.files import check_writable

    if args.samples < 0:
        raise ExplorerError(f"--samples must be non-negative, got {args.samples}")
    check_writable(args.out, "--out")
    def checkpoint(partial: dict) -> None:  # a run cut short keeps what it checked
        write_json(args.out, partial)
        print(f"{partial['checked']}/{partial['specs']} specs checked, "
              f"{len(partial['mismatches'])} mismatch(es)", flush=True)

    result = bench.run_bench(args.samples, args.seed, progress=sys.stderr.isatty(),
                             checkpoint=checkpoint)
    write_json(args.out, result)
    print(f"{result['specs']} specs: {len(result['mismatches'])} mismatch(es); median "
          f"{result['median_seconds_analytic'] * 1e3:.2f} ms analytic vs "
          f"{result['median_seconds_traced']:.2f} s traced ({result['speedup']:,.0f}x); "
          f"wrote {args.out}")
    return 0 if result["exact"] else 1
