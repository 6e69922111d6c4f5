"""explorer bench startup: the command line of :mod:`explorer.bench.startup`."""
from __future__ import annotations

import argparse

from explorer.bench import startup as bench
from explorer.bench import write_json
from explorer.commands._common import add_bench_out, add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "startup", help="CLI answer time (--help, --version, errors)",
                    description=bench.__doc__)
    p.add_argument("--repeats", type=int, default=5, help="runs per command (default 5)")
    add_bench_out(p, "startup")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from explorer.commands._common import require_positive
    from explorer.files import check_writable

    require_positive(args.repeats, "--repeats")
    check_writable(args.out, "--out")
    result = bench.run_bench(args.repeats)
    write_json(args.out, result)
    for argv, row in result["commands"].items():
        print(f"explorer {argv:<24} median {row['median_s']:.3f} s wall "
              f"({row['median_cpu_s']:.3f} s CPU), max {row['max_s']:.3f} s")
    print(f"target <= {bench.TARGET_S} s: {'met' if result['target_met'] else 'missed'}; heavy "
          f"modules imported building the parser: "
          f"{result['heavy_modules_imported_by_the_parser'] or 'none'}; wrote {args.out}")
    return 0
