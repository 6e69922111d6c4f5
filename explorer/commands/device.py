"""explorer device: fit, validate, list and show device cost models (profiles)."""
from __future__ import annotations

import argparse
import sys

from explorer.commands._common import add_cache_dir, add_command, print_json, print_table

HELP = """Model a device explorer cannot drive (an iPhone's Core ML) from published or
imported whole-network latencies, and predict any network's latency on it with
'--backend model:NAME' in measure, roadmap, search, pareto and report.

A profile is a handful of physically named parameters (ms per GMAC per operator group,
ms per MB of weights, activations and data movement, ms per operator, a fixed cost per
inference), fitted by robust least squares on relative error over the deployed
networks' operator features. 'fit' prints leave-one-out and leave-one-family-out
errors: quote those, not the fit's own.

CSV columns: model (zoo name, timm name, roadmap:STEP or spec file) and latency_ms;
optional resolution, weight, family, source.

examples:
  explorer device list
  explorer device show iphone12
  explorer device fit --latencies my_phone.csv --name pixel8 --json
  explorer device fit --latencies my_phone.csv --imported pixel8 --name pixel8
  explorer device validate --profile iphone12 --reference other_lab.csv
  explorer measure --model repvit_m0_9 --metrics latency --backend model:iphone12"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "device", help="device cost models: fit, validate, list, show",
                    description=HELP)
    dev = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    fit = add_command(dev, "fit", help="fit a profile on a latency CSV", description=HELP)
    fit.add_argument("--latencies", default=None, metavar="CSV",
                     help="whole-network latencies (columns above)")
    fit.add_argument("--imported", default=None, metavar="DEVICE",
                     help="also (or, without --latencies, only) fit on the whole-network "
                          "latencies imported with 'explorer latency import --device DEVICE'")
    fit.add_argument("--name", required=True, help="profile name, used as model:NAME")
    fit.add_argument("--device", default="", help="free text: device, runtime, OS")
    fit.add_argument("--precision", default="fp16", choices=("fp16", "fp32", "int8"),
                     help="deployment precision the bytes are counted at (default fp16, "
                          "Core ML's)")
    fit.add_argument("--out", default=None, metavar="FILE",
                     help="profile file to write (default: <cache>/devices/NAME.yaml)")
    fit.add_argument("--json", action="store_true", help="print the fit report as JSON")
    add_cache_dir(fit)
    fit.set_defaults(func=run_fit)

    val = add_command(dev, "validate", help="check a profile against a latency CSV",
                      description=HELP)
    val.add_argument("--profile", required=True, help="profile name or file")
    val.add_argument("--reference", required=True, metavar="CSV", help="latencies to check")
    val.add_argument("--json", action="store_true", help="print one JSON object")
    add_cache_dir(val)
    val.set_defaults(func=run_validate)

    lst = add_command(dev, "list", help="list shipped and user profiles", description=HELP)
    add_cache_dir(lst)
    lst.set_defaults(func=run_list)

    show = add_command(dev, "show", help="print one profile", description=HELP)
    show.add_argument("name", help="profile name or file")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    add_cache_dir(show)
    show.set_defaults(func=run_show)


def run_fit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from explorer.measure.devicefit import fit_profile
    from explorer.measure.profiles import check_name, user_dir, write

    if not (args.latencies or args.imported):
        from explorer.errors import ExplorerError

        raise ExplorerError("device fit needs --latencies CSV, --imported DEVICE or both")
    out = Path(args.out) if args.out else user_dir(args.cache_dir) / f"{check_name(args.name)}.yaml"
    command = ("explorer device fit" + (f" --latencies {args.latencies}" if args.latencies
                                        else "")
               + (f" --imported {args.imported}" if args.imported else "")
               + f" --name {args.name} --precision {args.precision}"
               + (f" --device '{args.device}'" if args.device else ""))
    profile, report = fit_profile(args.latencies, args.name, args.precision, args.device,
                                  args.cache_dir, progress=sys.stderr.isatty(),
                                  command=command, imported=args.imported)
    path = write(profile, out)
    if args.json:
        print_json({**report, "profile": str(path)})
        return 0
    print_table([{"parameter": k, "value": v} for k, v in report["parameters"].items()])
    print(f"\n{report['rows']} rows, {len(report['families'])} families")
    for label, key in (("fit (in sample)", "fit"), ("leave-one-out", "loo"),
                       ("leave-one-family-out", "lofo")):
        print(f"  {label:<22} median |error| {report[f'{key}_median_abs_pct_error']:.1f}%")
    print(f"  leave-one-out within +-10%: {report['within_10pct']:.0%}, within +-20%: "
          f"{report['within_20pct']:.0%}")
    for line in report.get("imported", {}).get("skipped", []):
        print(f"not used: {line}")
    print(f"wrote {path}; use --backend model:{args.name}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from explorer.measure.devicefit import validate_profile
    from explorer.measure.profiles import load

    result = validate_profile(load(args.profile, args.cache_dir), args.reference,
                              args.cache_dir, progress=sys.stderr.isatty())
    if args.json:
        print_json(result)
        return 0
    if result["rows"]:
        print_table(result["rows"])
    print(f"\n{result['n']} rows: Kendall tau {result['kendall_tau']} (MACs "
          f"{result['macs_tau']}, params {result['params_tau']}), median |error| "
          f"{result['median_abs_pct_error']}%")
    for fail in result["failed"]:
        print(f"failed: {fail['where']}: {fail['reason']}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from explorer.errors import ExplorerError
    from explorer.measure.profiles import available, read

    rows = []
    for name, path in available(args.cache_dir).items():
        try:
            prof = read(path)
            rows.append({"name": name, "device": prof.device,
                         "lofo_error_pct": prof.fit.get("lofo_median_abs_pct_error"),
                         "rows": prof.fit.get("rows"), "file": str(path)})
        except ExplorerError as exc:
            rows.append({"name": name, "device": f"(unreadable: {exc})", "file": str(path)})
    if not rows:
        print("no device profiles; fit one with 'explorer device fit'")
        return 0
    print_table(rows)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from explorer.measure.profiles import load

    prof = load(args.name, args.cache_dir)
    data = {**prof.to_dict(), "file": prof.path}
    if args.json:
        print_json(data)
        return 0
    import yaml

    print(yaml.safe_dump(data, sort_keys=False).rstrip())
    return 0
