"""Command-line interface: a thin layer over the library.

    trainfree score cg --data fmnist --n 10000 --noise 0.2 --out out/cg
    trainfree value davinz --data digits --contributors 10 --split noisy --out out/davinz
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


def _value_davinz(args: argparse.Namespace) -> dict:
    from . import semivalues
    from .data import load, split_contributors
    from .davinz import DavinzUtility
    from .models import make_model

    t0 = time.perf_counter()
    data = load(args.data, n=args.n, random_state=args.seed)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(data.y))
    n_val = max(int(round(args.val_fraction * len(order))), 2)
    val, train = order[:n_val], order[n_val:]
    rates = None
    if args.split == "noisy":
        n_noisy = max(int(round(0.3 * args.contributors)), 1)
        rates = [args.noise_rate] * n_noisy + [0.0] * (args.contributors - n_noisy)
    parts = split_contributors(data.X[train], data.y[train], args.contributors, how=args.split, noise_rates=rates,
                               random_state=args.seed)
    shape = data.image_shape if args.model == "cnn" else (data.X.shape[1],)
    if args.model == "cnn" and shape is None:
        raise TrainfreeError(f"--model cnn needs image data; {data.name} has no image shape. Use --model mlp.")
    as_input = lambda A: A.reshape(len(A), *shape)  # noqa: E731
    model = make_model(args.model, shape, max(len(data.classes), 1), random_state=args.seed)
    print(f"Loaded {data.name}: {len(train)} examples in {args.contributors} contributors ({args.split}), "
          f"{n_val} for validation; model {args.model}")
    utility = DavinzUtility([(as_input(p.X), p.y) for p in parts], as_input(data.X[val]), model=model,
                            outputs=args.outputs, ntk_blocks=args.ntk_blocks,
                            ntk_permutations=args.ntk_permutations, device=args.device, random_state=args.seed)
    K, exact = args.contributors, args.contributors <= args.max_exact
    if args.semivalue == "loo":
        res = semivalues.leave_one_out(utility, K)
    elif args.semivalue == "shapley":
        res = (semivalues.exact_shapley(utility, K) if exact else semivalues.permutation_shapley(
            utility, K, max_permutations=args.samples, random_state=args.seed, checkpoint=args.checkpoint))
    else:
        res = (semivalues.exact_banzhaf(utility, K) if exact else semivalues.banzhaf_msr(
            utility, K, n_samples=args.samples, random_state=args.seed, checkpoint=args.checkpoint))
    res.columns["player"] = np.array([p.name for p in parts])
    res.columns["size"] = np.array([len(p.y) for p in parts])
    res.columns["noise_rate"] = np.array([p.noise_rate for p in parts])
    res.columns["ntk_term"], res.columns["mmd_term"] = np.array([utility.terms((i,)) for i in range(K)]).T
    res.settings.update(utility.settings, data=data.name, split=args.split, model=args.model)
    res.timings.update(utility.timings, total_s=time.perf_counter() - t0)
    out = Path(args.out)
    path = res.save(out / "values.csv")
    print(res.to_dataframe().sort_values("value").to_string(index=False, float_format=lambda v: f"{v:.5g}"))
    summary = {"data": data.name, **res.metadata(), "values": str(path)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    print(f"Wrote {path} and {out / 'summary.json'} ({time.perf_counter() - t0:.1f} s)")
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

    value = sub.add_parser("value", help="value data contributors").add_subparsers(dest="value", required=True)
    dv = value.add_parser("davinz", help="DAVINZ: contributor values at initialization (ICML 2022)")
    dv.add_argument("--data", default="digits", help="fmnist, digits, mnist1d or a path")
    dv.add_argument("--n", type=int, default=None, help="class-balanced subsample of this many examples")
    dv.add_argument("--contributors", type=int, default=10)
    dv.add_argument("--split", choices=["class", "random", "sizes", "noisy"], default="random")
    dv.add_argument("--noise-rate", type=float, default=0.4, help="noisy split: flipped share for 30%% of contributors")
    dv.add_argument("--semivalue", choices=["loo", "shapley", "banzhaf"], default="shapley")
    dv.add_argument("--max-exact", type=int, default=12, help="exact enumeration up to this many contributors")
    dv.add_argument("--samples", type=int, default=500, help="Monte Carlo permutations or coalitions above it")
    dv.add_argument("--checkpoint", default=None, help="Monte Carlo checkpoint file (.npz): resume on re-run")
    dv.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    dv.add_argument("--outputs", choices=["all", "own"], default="all",
                    help="NTK of every class output (sees label noise) or only the own-class output (the paper)")
    dv.add_argument("--ntk-blocks", type=int, default=1, help="block-diagonal NTK approximation (1 = exact)")
    dv.add_argument("--ntk-permutations", type=int, default=1, help="random block partitions averaged")
    dv.add_argument("--val-fraction", type=float, default=0.2)
    dv.add_argument("--device", default="cpu")
    dv.add_argument("--seed", type=int, default=0)
    dv.add_argument("--out", required=True)
    dv.set_defaults(func=_value_davinz)
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
