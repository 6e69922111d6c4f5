"""explorer bench device: the command line of :mod:`explorer.bench.device`."""
from __future__ import annotations

import argparse

from explorer.bench import device as bench
from explorer.bench import write_json
from explorer.commands._common import add_bench_out, add_cache_dir, add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "device", help="device profile vs the paper, out of sample",
                    description=bench.__doc__)
    p.add_argument("--profile", default="iphone12", help="profile name or file "
                   "(default iphone12)")
    p.add_argument("--latencies", default=None, metavar="CSV",
                   help="the profile's fit CSV, for its held-out errors (default: the "
                        "shipped iphone12 fit data)")
    add_bench_out(p, "device")
    add_cache_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from explorer.files import check_writable

    check_writable(args.out, "--out")
    r = bench.run_bench(args.profile, args.latencies, args.cache_dir, sys.stderr.isatty())
    write_json(args.out, r)
    print(f"profile {r['profile']} ({r['fit_csv']}, {r['fit_set']['rows']} rows, no RepViT)")
    print(f"  fit set leave-one-out median |error| {r['fit_set']['loo']['median_abs_pct_error']}%"
          f", leave-one-family-out {r['fit_set']['lofo']['median_abs_pct_error']}% "
          f"(without EfficientNet-B3: "
          f"{r['fit_set_without_efficientnet_b3']['lofo']['median_abs_pct_error']}%)")
    print(f"  roadmap Kendall tau {r['roadmap_kendall_tau']} (MACs {r['roadmap_macs_tau']}, "
          f"params {r['roadmap_params_tau']}); directions right {r['directions_right']}/"
          f"{len(r['directions'])}; M0.9 / step 0 {r['m0_9_over_step0']} (paper "
          f"{r['paper_m0_9_over_step0']})")
    for name, f in r["family"].items():
        print(f"  {name:<14} predicted {f['predicted_ms']:.3f} ms, paper {f['paper_ms']} ms "
              f"({f['error_pct']:+.1f}%)")
    for row in r["se_table"]:
        if "predicted_ms" in row:
            print(f"  SE table {row['model']} {row['edit']:<13} predicted "
                  f"{row['predicted_ms']:.3f} ms, paper {row['paper_ms']} ms "
                  f"({row['error_pct']:+.1f}%)")
    print(f"  one cached prediction: median {r['prediction_ms_cached']['median']} ms")
    print("  targets met: " + ", ".join(f"{k[:-4]} {'yes' if v else 'NO'}"
                                        for k, v in r["targets"].items() if k.endswith("_met")))
    print(f"wrote {args.out}")
    return 0
