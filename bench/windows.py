"""Offset windows with 20% label noise: which score keeps the flipped labels out of the band it trains on?

Usage: python bench/windows.py --data fmnist [--n 3000 --test 2000 --noise 0.2 --window-width 0.5
                                              --offsets 0,0.1,0.2,0.3,0.4,0.5 --scores cg,el2n,input_norm
                                              --epochs 5 --runs 2 --seeds 3 --model cnn --seed 0 --checkpoint DIR]
The CG-score paper's Fig. 6 and the Data Diet offset experiment, through
trainfree.experiments.window_curve: flip `--noise` of the training labels, score the rows on the noisy
labels, rank them by score (highest first) and train a fresh network on the ranks [offset, offset + window_width)
for the step budget of `--epochs` epochs on the full set, `--runs` paired runs. Prints per score and
offset the test accuracy and the share of flipped labels in the window, and, last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from trainfree.experiments import window_curve
from trainfree.experiments.pruning import pruning_splits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="fmnist")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--test", type=int, default=2000, help="fmnist: test images (other data: a 1/3 holdout)")
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--window-width", type=float, default=0.5)
    ap.add_argument("--offsets", default="0,0.1,0.2,0.3,0.4,0.5")
    ap.add_argument("--scores", default="cg,el2n,input_norm")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=3, help="networks averaged by the Data Diet scores")
    ap.add_argument("--model", default="cnn", choices=["cnn", "mlp"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--checkpoint", default=None, help="folder of finished training runs (resume by re-running)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    train, test = pruning_splits(args.data, n=args.n, test_size=args.test, random_state=args.seed)
    offsets = [float(o) for o in args.offsets.split(",")]
    res = window_curve(train, test, [s for s in args.scores.split(",") if s], window_width=args.window_width,
                       offsets=offsets, noise_rate=args.noise, model=args.model, epochs=args.epochs, n_runs=args.runs,
                       n_seeds=args.seeds, device=args.device, random_state=args.seed, checkpoint=args.checkpoint,
                       progress=True)
    m = res.metrics
    print(f"{args.data}: {len(train)} training rows ({m['n_flipped']} labels flipped), {len(test)} test rows, model "
          f"{args.model}, windows of {args.window_width:.0%} by score descending (offset 0 = highest), step budget of "
          f"{args.epochs} epochs on the full set, {args.runs} paired runs; all noisy rows: test accuracy "
          f"{m['full_accuracy']:.4f}")
    print(f"{'score':<12}" + "".join(f"{f'offset {o:g}':>20}" for o in offsets) + "   (accuracy±stderr [flipped share])")
    table: dict[str, dict[str, list]] = {}
    for name in dict.fromkeys(res["score"].tolist()):
        hit = res["score"] == name
        acc, err, flip = res.values[hit], res.stderr[hit], res["flipped_share"][hit]
        table[name] = {"accuracy": np.round(acc, 4).tolist(), "stderr": [round(float(e), 4) if np.isfinite(e)
                                                                         else None for e in err],
                       "flipped_share": np.round(flip, 4).tolist()}
        print(f"{name:<12}" + "".join(f"{f'{a:.3f}±{e:.3f} [{f:.2f}]':>20}" for a, e, f in zip(acc, err, flip)))
    t = res.timings
    print(f"(scoring {t['scoring_s']:.0f} s, training {t['training_s']:.0f} s, total {time.perf_counter() - t0:.0f} s)")
    print(json.dumps({"data": args.data, "n": len(train), "n_test": len(test), "noise": args.noise,
                      "window_width": args.window_width, "offsets": offsets, "epochs": args.epochs, "runs": args.runs,
                      "full_accuracy": round(m["full_accuracy"], 4), "curves": table,
                      "seconds": {"scoring": round(t["scoring_s"], 1), "training": round(t["training_s"], 1),
                                  "total": round(time.perf_counter() - t0, 1)}}))


if __name__ == "__main__":
    main()
