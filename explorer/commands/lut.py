"""explorer lut: build and validate the latency predictor (lookup table + calibration)."""
from __future__ import annotations

import argparse
from pathlib import Path

from explorer.commands._common import add_cache_dir, add_command, print_json

HELP = """Latency predictor for fast search: a table of per-unit latencies (stem, each
downsampling unit and block configuration, head) measured once on a real backend, summed,
and calibrated on full networks measured for real (spanning the spaces' sizes) only where
the calibration's leave-one-out error beats the plain sums; build says which was chosen,
validate reports both. '--backend lut' then predicts a
spec's latency in milliseconds without running it; configurations missing from the table
are measured on first use and stored.

For a device explorer cannot drive (a phone), 'export' writes one package per distinct
unit configuration of a space and a manifest CSV; measure each package on the device,
fill in the manifest's latency_ms column, 'import' it, and '--backend lut:device:NAME'
predicts any network of the space, calibrated with the whole-network latencies imported
for that device with 'explorer latency import --device NAME'.

examples:
  explorer lut build --backend ort --samples 60
  explorer lut build --space search_spaces/repvit.yaml --model repvit_m1_0
  explorer lut validate --backend ort --samples 30 --seed 0 --json
  explorer lut export --space search_spaces/repvit.yaml --format coreml --out units/
  explorer lut import units/manifest.csv --device iphone12"""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="ort", help="backend the table is measured on "
                   "(ort, torch, cuda; default ort)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    p.add_argument("--space", action="append", default=None, metavar="FILE",
                   help="search space(s) to sample networks from (repeatable; default: "
                        "search_spaces/*.yaml of this repository)")
    p.add_argument("--samples", type=int, default=None, metavar="N",
                   help="random networks to sample from the space(s)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--table", default=None, metavar="PATH", help="table file (default: "
                   "in the cache folder, per backend, threads, machine and versions)")
    add_cache_dir(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "lut", help="build / validate the latency predictor",
                    description=HELP)
    lut_sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = add_command(lut_sub, "build", help="measure unit configurations, fit calibration",
                        description=HELP)
    _common(build)
    build.add_argument("--model", action="append", default=[], metavar="NAME",
                       help="also cover this zoo model (repeatable)")
    build.add_argument("--spec", action="append", default=[], metavar="FILE",
                       help="also cover this spec file (repeatable)")
    build.add_argument("--calibration", type=int, default=12, metavar="N",
                       help="full networks measured to fit the calibration (default 12)")
    build.set_defaults(func=run_build, samples_default=40)
    val = add_command(lut_sub, "validate", help="predicted vs measured on random networks",
                      description=HELP)
    _common(val)
    val.set_defaults(func=run_validate, samples_default=30)
    exp = add_command(lut_sub, "export", help="one package per distinct unit of a space, "
                      "plus a manifest to fill in on the device", description=HELP)
    exp.add_argument("--space", required=True, metavar="FILE", help="search space file")
    exp.add_argument("--format", default="coreml", choices=("coreml", "onnx", "torchscript"),
                     help="package format (default coreml)")
    exp.add_argument("--out", required=True, metavar="DIR",
                     help="new (or empty) folder for the packages and manifest.csv")
    exp.add_argument("--json", action="store_true", help="print one JSON object")
    exp.set_defaults(func=run_export)
    imp = add_command(lut_sub, "import", help="a filled manifest -> the device's table",
                      description=HELP)
    imp.add_argument("manifest", metavar="CSV", help="manifest.csv with latency_ms filled in")
    imp.add_argument("--device", required=True, help="device name, used as lut:device:NAME")
    add_cache_dir(imp)
    imp.add_argument("--json", action="store_true", help="print one JSON object")
    imp.set_defaults(func=run_import)


def _check(args: argparse.Namespace) -> tuple[list, int]:
    from explorer.errors import ExplorerError
    from explorer.measure.backends.base import check_threads
    from explorer.measure.backends.registry import get_backend
    from explorer.measure.lut import default_spaces

    backend = get_backend(args.backend)
    if backend.name not in ("ort", "torch", "cuda"):
        raise ExplorerError(f"a latency table is measured on ort, torch or cuda, "
                            f"not {args.backend!r}")
    backend.check()
    check_threads(args.threads)
    samples = args.samples if args.samples is not None else args.samples_default
    if samples < 0:
        raise ExplorerError(f"--samples must be non-negative, got {samples}")
    if args.table is not None:  # checked before the measurements, not after them
        from explorer.files import check_writable

        check_writable(args.table, "--table")
    return args.space or default_spaces(), samples


def run_build(args: argparse.Namespace) -> int:
    from explorer import zoo
    from explorer.measure.lut import (
        MIN_CALIBRATION,
        build_table,
        calibration_specs,
        sample_specs,
    )
    from explorer.spec import load_spec

    spaces, samples = _check(args)
    if args.calibration < MIN_CALIBRATION:
        from explorer.errors import ExplorerError

        raise ExplorerError(f"--calibration must be at least {MIN_CALIBRATION} networks, "
                            f"got {args.calibration}")
    specs = [zoo.get_spec(name) for name in args.model] + [load_spec(f) for f in args.spec]
    specs += sample_specs(spaces, samples, args.seed) if samples else []
    calibration = calibration_specs(spaces, args.calibration)
    table = build_table(specs, calibration, args.backend, args.threads, args.cache_dir,
                        args.table)
    summary = {"table": str(table.path), "backend": table.backend, "threads": table.threads,
               "entries": len(table.entries), "networks": len(specs),
               "calibration": table.calibration}
    if args.json:
        print_json(summary)
    else:
        cal = table.calibration
        print(f"latency table {table.path}: {len(table.entries)} unit configurations from "
              f"{len(specs) + len(calibration)} networks")
        print(f"predictions use {cal['summary']}")
        if cal["used"]:
            terms = " + ".join(f"{k:.2f}*{g}"
                               for g, k in zip(cal["groups"], cal["scale"], strict=True))
            print(f"calibration: ms = {terms} + {cal['offset']:.3f}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from explorer.measure.lut import load_table, sample_specs, validate

    spaces, samples = _check(args)
    if args.table is not None and not Path(args.table).is_file():
        from explorer.errors import DataError

        raise DataError(f"no latency table at {args.table}: build it first with 'explorer "
                        f"lut build --table {args.table}'")
    table = load_table(args.backend, args.threads, args.cache_dir, args.table)
    result = validate(table, sample_specs(spaces, samples, args.seed), args.cache_dir)
    result = {**result, "seed": args.seed, "spaces": [str(s) for s in spaces]}
    if args.json:
        print_json(result)
    else:
        print(f"{result['samples']} networks, backend {result['backend']} "
              f"({result['threads']} thread(s)); predictions use {result['applied']}")
        for name, err in result["by_predictor"].items():
            print(f"  {name:<12} median |error| {err['median_abs_pct_error']:.1f}%, within "
                  f"5%: {err['within_5pct']:.0%}, within 10%: {err['within_10pct']:.0%}, "
                  f"max {err['max_abs_pct_error']:.1f}%")
    return 0


def run_export(args: argparse.Namespace) -> int:
    import sys

    from explorer.measure.unitexport import export_units

    summary = export_units(args.space, args.format, args.out, progress=sys.stderr.isatty())
    if args.json:
        print_json(summary)
        return 0
    groups = ", ".join(f"{n} {g}" for g, n in summary["groups"].items())
    print(f"{summary['units']} distinct units ({groups}) cover all "
          f"{summary['networks_in_space']:,} networks of {summary['space']} "
          f"({summary['networks_built']} networks built to enumerate them)")
    print(f"wrote {summary['units']} {summary['format']} packages and {summary['manifest']}; "
          "measure each package on the device, fill in latency_ms, then "
          f"'explorer lut import {summary['manifest']} --device NAME'")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from explorer.measure.devicelut import import_manifest, load

    table = import_manifest(args.manifest, args.device, args.cache_dir)
    report = load(args.device, args.cache_dir).report
    summary = {"table": str(table.path), "device": args.device,
               "entries": len(table.entries), "calibration": report}
    if args.json:
        print_json(summary)
        return 0
    print(f"device table {table.path}: {len(table.entries)} unit configurations")
    print(f"{report['summary']}; use --backend lut:device:{args.device}")
    for line in report["skipped"]:
        print(f"not used for calibration: {line}")
    return 0
