"""explorer bench proxy: the command line of :mod:`explorer.bench.proxy`."""
from __future__ import annotations

import argparse

from explorer.bench import proxy as bench
from explorer.bench import write_json
from explorer.commands._common import add_bench_out, add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "proxy", help="seconds of every zero-cost proxy on a 5M-param model",
                    description=bench.__doc__)
    p.add_argument("--model", default="repvit_m0_9", help="zoo/timm model (default "
                   "repvit_m0_9, 5.1M params)")
    p.add_argument("--repeats", type=int, default=3, help="repeats (default 3)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    add_bench_out(p, "proxy")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from explorer.errors import ExplorerError
    from explorer.files import check_writable

    if args.repeats < 1:
        raise ExplorerError(f"--repeats must be at least 1, got {args.repeats}")
    check_writable(args.out, "--out")  # before the benchmark, so its results are not lost
    result = bench.run_bench(args.model, args.repeats, args.threads)
    write_json(args.out, result)
    print(f"{'proxy':<10}{'median s':>10}{'cpu s':>8}{'first s':>9}")
    for name, row in result["proxies"].items():
        print(f"{name:<10}{row['median_s']:>10.3f}{row['median_cpu_s']:>8.3f}"
              f"{row['first_s']:>9.3f}")
    print(f"zero-cost total {result['zero_cost_total_s']:.2f} s wall, "
          f"{result['zero_cost_total_cpu_s']:.2f} s CPU (target < {bench.TARGET_S:.0f} s: wall "
          f"{'met' if result['target_met'] else 'NOT met'}, CPU "
          f"{'met' if result['cpu_target_met'] else 'NOT met'}; load average "
          f"{result['load_avg_before'][0]:.1f}); wrote {args.out}")
    return 0
