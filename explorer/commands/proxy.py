"""explorer proxy: list, score and validate accuracy proxies; refit the default."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from explorer.commands._common import (
    add_cache_dir,
    add_candidate_args,
    add_command,
    candidate_from_args,
    print_json,
    print_table,
    require_positive,
    split_list,
)

HELP = """Accuracy proxies: scores that should rank architectures like ImageNet top-1.

Higher is always better. 'validate' tells you how far to trust each one: Kendall tau and
Spearman rho against published top-1, with params and MACs as baselines.

examples:
  explorer proxy list
  explorer proxy score --model repvit_m0_9 --proxies synflow,zen,default
  explorer proxy score --timm mobilenetv3_large_100 --proxies train --data ~/imagenette
  explorer proxy validate --reference published-mobile --proxies default,synflow --json
  explorer proxy validate --reference timm-mobile-dev --proxies all --out results/proxy_validation
  explorer proxy fit            # refit the default proxy on its shipped feature table"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "proxy", help="accuracy proxies: list, score, validate, fit",
                    description=HELP)
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    raw = argparse.RawDescriptionHelpFormatter
    ls = verbs.add_parser("list", help="the proxies and the packaged reference tables",
                          description="Every proxy with a one-line description (the default "
                          "is marked) and the\npackaged reference tables for 'explorer proxy "
                          "validate --reference NAME'.", formatter_class=raw)
    ls.set_defaults(func=run_list)

    sc = verbs.add_parser("score", help="score one model with one or more proxies",
                          formatter_class=raw, description="""\
Score one model with one or more proxies (higher is better; scores are cached).

examples:
  explorer proxy score --model repvit_m0_9 --proxies default,synflow,naswot
  explorer proxy score --spec my_net.yaml --resolution 160 --proxies all --json
  explorer proxy score --timm resnet18 --proxies train --data ~/imagenette --steps 200""")
    add_candidate_args(sc)
    _add_common(sc)
    g = sc.add_argument_group("short-training proxy ('train')")
    g.add_argument("--data", help="ImageFolder tree or CIFAR-10 python batches "
                   "(default $EXPLORER_PROXY_DATA)")
    g.add_argument("--steps", type=int, default=100, help="training steps (default 100)")
    g.add_argument("--train-resolution", type=int, default=32, help="image size (default 32)")
    sc.set_defaults(func=run_score)

    va = verbs.add_parser("validate", help="rank correlation with published top-1",
                          formatter_class=raw, description="""\
Every proxy for every reference row, then Kendall tau / Spearman rho vs top1 (params
and macs always included as baselines). Rows whose model cannot be built are listed as
failed and left out of the correlation.

examples:
  explorer proxy validate --reference published-mobile --proxies default,zen
  explorer proxy validate --reference my_models.csv --proxies all --out results/my_check""")
    va.add_argument("--reference", required=True, metavar="FILE.csv|NAME",
                    help="CSV with columns model, top1 (optional img_size), or a packaged "
                    "table name (see 'explorer proxy list')")
    va.add_argument("--limit", type=int, default=None, help="only the first N rows")
    va.add_argument("--unseen", action="store_true", help="leave out rows whose architecture "
                    "is in the fitted proxy's fit table under any name (twins matched by "
                    "features); they are listed, not scored")
    va.add_argument("--out", metavar="PREFIX", help="also write PREFIX.json and PREFIX.md "
                    "(summary and per-model scores); a folder (existing, or ending in /) "
                    "gets FOLDER/proxy_validation.json and .md")
    _add_common(va)
    va.set_defaults(func=run_validate)

    fi = verbs.add_parser("fit", help="refit the default (fitted) proxy's coefficients",
                          formatter_class=raw, description="""\
Refit the ridge regression behind the default ('fitted') proxy and print its held-out
Kendall tau. Without --out this REPLACES the packaged coefficients in explorer/data
(the default proxy changes for every later command); --out DIR writes elsewhere.

examples:
  explorer proxy fit --out /tmp/fit --alpha 20            # try a stronger ridge
  explorer proxy fit --out /tmp/fit --features log_macs,log_params
  explorer proxy fit --rebuild --reference timm-mobile-dev  # slow: builds every model
  explorer proxy fit --select --out /tmp/fit --report results/proxy_select""")
    fi.add_argument("--rebuild", action="store_true", help="recompute the feature table "
                    "from the reference first (slow: builds every model)")
    fi.add_argument("--reference", default=None, help="with --rebuild: the table whose "
                    "models are built (default timm-mobile-dev)")
    fi.add_argument("--features", default=None, help="comma-separated feature names "
                    "(default: the shipped choice, log_macs,log_depth,log_width)")
    fi.add_argument("--alpha", type=float, default=None, help="ridge strength (default 5)")
    fi.add_argument("--select", action="store_true", help="choose the features (among "
                    "--features, default all eight) and alpha (among --alphas) by "
                    "leave-family-out tau, print the nested selection-corrected tau, then "
                    "fit the winner")
    fi.add_argument("--alphas", default="1,5,20", help="ridge strengths --select tries "
                    "(default 1,5,20)")
    fi.add_argument("--report", metavar="PREFIX", help="with --select: also write "
                    "PREFIX.json and PREFIX.md")
    fi.add_argument("--out", metavar="DIR", default=None,
                    help="where to write the table and coefficients (default: explorer/data)")
    fi.add_argument("--json", action="store_true", help="print the result as JSON")
    fi.add_argument("--no-cache", action="store_true", help="with --rebuild: recompute "
                    "cached features")
    add_cache_dir(fi)
    fi.set_defaults(func=run_fit)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--proxies", default="default",
                   help="comma-separated proxy names, 'default' or 'all' (default: default)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--no-cache", action="store_true", help="recompute cached scores")
    add_cache_dir(p)


def _proxy_list(text: str) -> list[str]:
    from explorer.measure.proxy import PROXIES

    if text == "all":
        return [n for n in PROXIES if n != "train"]
    return split_list(text, "--proxies")


def run_list(args: argparse.Namespace) -> int:
    from explorer.measure.proxies.reference import packaged_references
    from explorer.measure.proxy import DEFAULT_PROXY, list_proxies

    for name, desc in list_proxies().items():
        mark = " (default)" if name == DEFAULT_PROXY else ""
        print(f"{name:<10} {desc}{mark}")
    print("\npackaged reference tables: " + ", ".join(sorted(packaged_references())))
    return 0


def run_score(args: argparse.Namespace) -> int:
    from explorer.measure.proxy import cached_score

    candidate = candidate_from_args(args)
    options = {"data": args.data, "steps": args.steps, "resolution": args.train_resolution}
    rows = []
    for name in _proxy_list(args.proxies):
        r = cached_score(candidate, name, args.seed, args.no_cache, args.cache_dir,
                         **(options if name == "train" else {}))
        rows.append({"proxy": r.name, "value": r.value, "seconds": round(r.seconds, 3),
                     **r.extra})
    if args.json:
        print_json({"model": candidate.name, "seed": args.seed, "scores": rows})
    else:
        print_table(rows)
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from explorer.measure.proxies.reference import load_reference
    from explorer.measure.proxies.validation import proxy_names, validate

    require_positive(args.limit, "--limit")
    reference = load_reference(args.reference)
    names = proxy_names(_proxy_list(args.proxies))
    prefix = _report_prefix(args.out) if args.out else None
    result = validate(reference, names, args.seed, args.limit, args.no_cache, args.cache_dir,
                      unseen=args.unseen)
    if not result.top1:
        from explorer.errors import DataError

        if not result.failed:
            raise DataError(f"--unseen left out every row of {args.reference}: all their "
                            "architectures are in the fitted proxy's fit table")
        first = next(iter(result.failed.values()))[0]
        raise DataError(f"no row of {args.reference} could be built (first: {first['model']}: "
                        f"{first['error']})")
    summary = result.summary()
    if args.out:
        from explorer.measure.proxies.report import write_report

        write_report(result, summary, prefix, args.reference)
    if args.json:
        print_json(summary)
    else:
        rows = [{"proxy": k, **{c: v for c, v in r.items() if c != "failed"},
                 "n_failed": len(r["failed"])} for k, r in summary["results"].items()]
        print_table(rows)
        for name, r in summary["results"].items():
            for f in r["failed"]:
                print(f"failed: {name} on {f['model']}: {f['error']}")
        for model, seen in result.excluded.items():
            print(f"left out (--unseen): {model}, architecture of {', '.join(seen)}")
    return 0


def _report_prefix(out: str) -> Path:
    """PREFIX of PREFIX.json/.md, or FOLDER/proxy_validation for a folder; checked
    writable before the scoring, not after it."""
    from explorer.files import check_writable

    prefix = Path(out)
    if out.endswith(("/", os.sep)) or prefix.is_dir():
        prefix = prefix / "proxy_validation"
    check_writable(f"{prefix}.json", "--out")
    return prefix


def run_fit(args: argparse.Namespace) -> int:
    from explorer.errors import ExplorerError
    from explorer.measure.proxies import fitted

    if args.reference is not None and not args.rebuild:
        raise ExplorerError("--reference is read only with --rebuild (without it the fit "
                            "uses the feature table already built)")
    if args.select:
        return _run_select(args)
    summary = fitted.refit((args.reference or "timm-mobile-dev") if args.rebuild else None,
                           split_list(args.features, "--features")
                           if args.features is not None else None, args.alpha,
                           Path(args.out) if args.out else None, cache_dir=args.cache_dir,
                           no_cache=args.no_cache)
    if args.json:
        print_json(summary)
    else:
        coef = ", ".join(f"{k} {v:+.3f}" for k, v in summary["coef"].items())
        print(f"fitted on {summary['n']} models, alpha {summary['alpha']:g}: {coef}\n"
              f"held-out Kendall tau: leave-one-out {summary['tau_model_out']:.3f}, "
              f"leave-family-out {summary['tau_family_out']:.3f}")
    return 0


def _run_select(args: argparse.Namespace) -> int:
    """``fit --select``: the search (nested for an honest figure), then a fit of its winner."""
    import json

    from explorer.errors import DataError
    from explorer.files import atomic_write_text
    from explorer.measure.proxies import fitted, selection
    from explorer.measure.proxies.features import FEATURES

    if args.alpha is not None or args.rebuild:
        raise DataError("--select chooses alpha itself and fits the existing feature table: "
                        "drop --alpha / --rebuild")
    try:
        alphas = [float(a) for a in split_list(args.alphas, "--alphas")]
    except ValueError:
        raise DataError(f"--alphas must be numbers, got {args.alphas!r}") from None
    out = Path(args.out) if args.out else None
    features = (split_list(args.features, "--features") if args.features is not None
                else list(FEATURES))
    result = selection.select(fitted.read_fit_table(out), features, alphas)
    winner = result["selected"]
    result["fit"] = fitted.refit(None, winner["features"], winner["alpha"], out)
    if args.report:
        command = (f"explorer proxy fit --select --features {','.join(features)} "
                   f"--alphas {args.alphas} --report {args.report}")
        atomic_write_text(Path(f"{args.report}.json"), json.dumps(result, indent=1) + "\n")
        atomic_write_text(Path(f"{args.report}.md"), selection.to_markdown(result, command))
    if args.json:
        print_json(result)
    else:
        print(f"searched {result['configs']} configurations on {result['n']} models "
              f"({result['families']} families)\n"
              f"selected: {', '.join(winner['features'])}, alpha {winner['alpha']:g}\n"
              f"leave-family-out tau: apparent {result['apparent_tau_family_out']:.3f}, "
              f"selection-corrected (nested) {result['selection_corrected_tau']:.3f}")
    return 0
