"""explorer bench latency: the command line of :mod:`explorer.bench.latency`."""
from __future__ import annotations

import argparse

from explorer.bench import latency as bench
from explorer.bench import write_json
from explorer.commands._common import add_bench_out, add_command, split_list


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "latency", help="zoo latency, repeated and interleaved, vs the paper",
                    description=bench.__doc__)
    p.add_argument("--backend", default="ort", help="latency backend (default ort)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    p.add_argument("--repeats", type=int, default=5, help="interleaved repeats (default 5)")
    p.add_argument("--models", default=",".join(bench.PAPER_MS),
                   help="comma-separated zoo models (default: MobileNetV3-L and RepViT "
                        "M0.9-M2.3)")
    add_bench_out(p, "latency")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from explorer.errors import ExplorerError
    from explorer.files import check_writable

    if args.repeats < 1:
        raise ExplorerError(f"--repeats must be at least 1, got {args.repeats}")
    check_writable(args.out, "--out")  # before the benchmark, so its results are not lost
    result = bench.run_bench(split_list(args.models, "--models"), args.backend, args.threads,
                             args.repeats)
    write_json(args.out, result)
    print(f"{'model':<24}{'median ms':>10}{'CV':>7}{'ratio':>7}{'paper':>7}{'s/cand':>8}")
    for name, row in result["models"].items():
        print(f"{name:<24}{row['median_ms']:>10.2f}{row['cv_over_repeats']:>7.1%}"
              f"{row.get('ratio_vs_mbv3', float('nan')):>7.2f}"
              f"{row.get('paper_ratio_vs_mbv3', float('nan')):>7.2f}"
              f"{row['seconds_per_candidate']['total']:>8.1f}")
    print(f"wrote {args.out} (max CV over repeats {result['max_cv_over_repeats']:.1%}, "
          f"target < {bench.TARGET_CV:.0%})")
    return 0
