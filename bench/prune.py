"""Which score prunes best? Data Diet's pruning curves for every score on the same data and networks.

Usage: python bench/prune.py --data fmnist [--n 3000 --test 2000 --epochs 5 --fractions 0.1,0.3,0.5,0.7
                                            --runs 2 --seeds 3 --seed 0 --device cpu]
Scores of the training rows: CG (exact, no training), EL2N after `--el2n-epochs` epochs, GraNd at
initialisation and after `--grand-epochs` epochs, forgetting over `--forgetting-epochs` epochs (small CNN,
`--seeds` networks each, through trainfree.experiments.score_dataset, no label noise), the input norm
‖x‖, and random subsets. Each pruned set trains a fresh small CNN for the step budget of `--epochs`
epochs on the full set, both directions (keep_hard: drop the lowest scores; keep_easy: the highest),
`--runs` paired runs. Prints the accuracy table, the Spearman correlations between the scores, and,
last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from trainfree.data import load, load_fashion_mnist
from trainfree.experiments import pruning_curve, score_correlations, score_dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="fmnist")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--test", type=int, default=2000, help="fmnist: test images (other data: a 1/3 holdout)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--fractions", default="0.1,0.3,0.5,0.7")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=3, help="networks averaged by the Data Diet scores")
    ap.add_argument("--el2n-epochs", type=int, default=3)
    ap.add_argument("--grand-epochs", type=int, default=3)
    ap.add_argument("--forgetting-epochs", type=int, default=10)
    ap.add_argument("--model", default="cnn", choices=["cnn", "mlp"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.data == "fmnist":
        train = load("fmnist", n=args.n, random_state=args.seed)
        test = load_fashion_mnist(split="test", n=args.test, random_state=args.seed + 1)
    else:
        every = load(args.data, n=args.n, random_state=args.seed)
        order = np.random.default_rng(args.seed).permutation(len(every))
        train, test = every.subset(order[len(order) // 3:]), every.subset(order[: len(order) // 3])
    dd = dict(model=args.model, n_seeds=args.seeds, device=args.device)
    runs = {"cg": dict(score="cg"),
            "el2n": dict(score="el2n", epochs=args.el2n_epochs, **dd),
            "grand_init": dict(score="grand", epochs=0, **dd),
            f"grand_ep{args.grand_epochs}": dict(score="grand", epochs=args.grand_epochs, **dd),
            "forgetting": dict(score="forgetting", epochs=args.forgetting_epochs, **dd)}
    scores, seconds = {}, {}
    for name, options in runs.items():
        t = time.perf_counter()
        scores[name] = score_dataset(train, random_state=args.seed, **options).scores
        seconds[name] = time.perf_counter() - t
        print(f"scored {name} in {seconds[name]:.1f} s", file=sys.stderr, flush=True)
    scores["input_norm"] = np.linalg.norm(train.X, axis=1)
    corr = score_correlations(scores)
    fractions = tuple(float(f) for f in args.fractions.split(","))
    t = time.perf_counter()
    res = pruning_curve(train, test, scores, fractions=fractions, model=args.model, epochs=args.epochs,
                        n_runs=args.runs, device=args.device, random_state=args.seed)
    train_s = time.perf_counter() - t
    full = res.metrics["full_accuracy"]
    print(f"{args.data}: {len(train)} training rows, {len(test)} test rows, model {args.model}, step budget of "
          f"{args.epochs} epochs on the full set, {args.runs} paired runs; full data: test accuracy {full:.4f}")
    print(f"{'score/direction':<28}" + "".join(f"{f'prune {f:.0%}':>14}" for f in fractions))
    df = res.to_dataframe()
    table: dict[str, dict[str, list[float]]] = {}
    for (score, direction), g in df.groupby(["score", "direction"], sort=False):
        g = g.sort_values("fraction_pruned")
        errs = [round(float(e), 4) if np.isfinite(e) else None for e in g["stderr"]]
        table[f"{score}/{direction}"] = {"accuracy": g["value"].round(4).tolist(), "stderr": errs}
        cells = "".join(f"{v:>8.4f}±{e:<5.3f}" if np.isfinite(e) else f"{v:>14.4f}"
                        for v, e in zip(g["value"], g["stderr"]))
        print(f"{score + '/' + direction:<28}{cells}")
    print("\nSpearman correlations between scores (and with the input norm):")
    for p, v in zip(corr["player"], corr.values):
        print(f"  {p:<36}{v:>7.3f}")
    print(f"(scoring {sum(seconds.values()):.0f} s, training {train_s:.0f} s, total {time.perf_counter() - t0:.0f} s)")
    print(json.dumps({"data": args.data, "n": len(train), "n_test": len(test), "epochs": args.epochs,
                      "runs": args.runs, "fractions": list(fractions), "full_accuracy": round(full, 4),
                      "curves": table, "spearman": {p: round(float(v), 4) for p, v in zip(corr["player"], corr.values)},
                      "seconds": {"scores": {k: round(v, 1) for k, v in seconds.items()}, "training": round(train_s, 1),
                                  "total": round(time.perf_counter() - t0, 1)}}))


if __name__ == "__main__":
    main()
