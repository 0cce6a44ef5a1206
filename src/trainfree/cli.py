"""Command-line interface: a thin layer over the library.

    trainfree score cg --data fmnist --n 10000 --noise 0.2 --out out/cg
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._validation import TrainfreeError


def _score_cg(args: argparse.Namespace) -> dict:
    from .data import inject_label_noise, load
    from .metrics import auroc, noise_found_at, sign_rule_report
    from .scores import cg_score

    t0 = time.perf_counter()
    data = load(args.data, n=args.n, random_state=args.seed)
    X, y = data.X, data.y
    load_s = time.perf_counter() - t0
    flipped = None
    if args.noise:
        y, flipped = inject_label_noise(y, args.noise, random_state=args.seed)
    print(f"Loaded {data.name}: {len(y)} examples, {X.shape[1]} features, {len(data.classes)} classes"
          + (f"; flipped {int(flipped.sum())} labels ({args.noise:.0%})" if flipped is not None else ""))
    res = cg_score(X, y, method=args.method, preprocess=args.preprocess, ratio=args.ratio, n_repeats=args.repeats,
                   device=args.device, dtype=args.dtype, random_state=args.seed, n_jobs=args.n_jobs,
                   progress=True)
    res.timings["load_s"] = load_s
    res.columns["index"] = np.arange(len(y))
    if flipped is not None:
        res.columns["flipped"] = flipped
    out = Path(args.out)
    scores_path = res.save(out / "scores.parquet")
    summary = {"data": data.name, "n": len(y), "noise": args.noise, **res.metadata(),
               "scores": str(scores_path)}
    summary["settings"]["data_classes"] = list(data.classes)
    print(res.summary())
    if flipped is not None:
        rule = sign_rule_report(res.flags, flipped)
        found = noise_found_at(res.scores, flipped, fractions=sorted({0.05, 0.1, 0.2, 0.3, 0.5, args.noise}))
        summary["noise_detection"] = {"auroc": auroc(res.scores, flipped),
                                      "auroc_partial_label": auroc(res["partial_label"], flipped),
                                      "found_at": found, **rule}
        print(f"Noise detection: AUROC {summary['noise_detection']['auroc']:.3f}; the top {args.noise:.0%} by score "
              f"hold {found[args.noise]:.1%} "
              f"of the flipped labels; the sign rule flags {rule['noisy_positive_frac']:.1%} of flipped and "
              f"{rule['clean_positive_frac']:.1%} of clean examples.")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    print(f"Wrote {scores_path} and {out / 'summary.json'} ({time.perf_counter() - t0:.1f} s)")
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trainfree", description="Value data before (or very early in) training.")
    sub = p.add_subparsers(dest="command", required=True)
    score = sub.add_parser("score", help="per-example scores").add_subparsers(dest="score", required=True)
    cg = score.add_parser("cg", help="complexity-gap score (ICLR 2023)")
    cg.add_argument("--data", default="fmnist", help="fmnist, digits, mnist1d or a path (.npz/.csv/.parquet/image folder)")
    cg.add_argument("--n", type=int, default=None, help="class-balanced subsample of this many examples")
    cg.add_argument("--noise", type=float, default=0.0, help="fraction of labels to flip (symmetric), e.g. 0.2")
    cg.add_argument("--method", choices=["exact", "stochastic"], default="exact")
    cg.add_argument("--preprocess", choices=["center", "raw"], default="center")
    cg.add_argument("--ratio", type=float, default=3.0, help="stochastic: others sampled per own-class example")
    cg.add_argument("--repeats", type=int, default=10, help="stochastic: subsamples averaged")
    cg.add_argument("--device", default="cpu")
    cg.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    cg.add_argument("--n-jobs", type=int, default=None)
    cg.add_argument("--seed", type=int, default=0)
    cg.add_argument("--out", required=True, help="output folder for scores.parquet and summary.json")
    cg.set_defaults(func=_score_cg)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except TrainfreeError as exc:
        print(f"trainfree: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("trainfree: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
