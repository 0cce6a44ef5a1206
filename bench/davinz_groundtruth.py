"""Is DAVINZ's ν a valid scoring function? Correlation with the test accuracy of trained networks.

Usage: python bench/davinz_groundtruth.py --data fmnist --datasets 30 --seed 0 [--model cnn] [--nu recommended|paper]
           [--outputs own|all --size-ridge R --mmd-estimator E]   (override the preset's options;
           --repeats 3 averages three trainings per set)
       python bench/davinz_groundtruth.py --data fmnist --datasets 30 --seed 0 --min-size 100 --max-size 10000
           --size-scale log --pool 30000 [--max-noise 0] --device cuda   (the paper's up-to-10k datasets)
       python bench/davinz_groundtruth.py --data ising --model mlp   (regression: 2-D Ising energy per spin)
       python bench/davinz_groundtruth.py --datasets 20 --min-size 2 --max-size 1000 --pool 2500 --max-noise 0
           --replace --model davinz_cnn --nu paper --convention official --bandwidth 5 --optimizer plain_sgd
           --lr 0.01 --epochs 10   (the paper's protocol, scaled to a CPU)
Last line: {"pearson":..., "spearman":..., "davinz_s":..., "training_s":..., "datasets":...}
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from trainfree.cli import add_nu_options, nu_from_args
from trainfree.experiments.groundtruth import GroundTruthTraining, davinz_groundtruth, groundtruth_splits
from trainfree.report import groundtruth_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="fmnist")
    ap.add_argument("--datasets", type=int, default=30)
    ap.add_argument("--min-size", type=int, default=100)
    ap.add_argument("--max-size", type=int, default=600)
    ap.add_argument("--size-scale", default="linear", choices=["linear", "log"])
    ap.add_argument("--max-noise", type=float, default=0.5)
    ap.add_argument("--pool", type=int, default=12000, help="Fashion-MNIST training images to draw datasets from")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default="cnn", choices=["cnn", "mlp", "davinz_cnn", "davinz_mlp"])
    ap.add_argument("--first", action="store_true", help="the pool is the file's first --pool images (the paper)")
    ap.add_argument("--replace", action="store_true", help="bootstrap draws (with replacement), as the paper")
    ap.add_argument("--bandwidth", default="median", help="MMD σ: median or a number (the paper: 5)")
    ap.add_argument("--convention", default="trainfree", choices=["trainfree", "official"])
    ap.add_argument("--optimizer", default="adam", choices=["adam", "sgd", "plain_sgd"])
    ap.add_argument("--lr", type=float, default=1e-3)
    add_nu_options(ap)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--stopping", default="loss", choices=["loss", "plateau"],
                    help="loss below 1e-3, or the official |Δ epoch loss| < 1e-6")
    ap.add_argument("--repeats", type=int, default=1, help="trainings per dataset; ground truth = their mean")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    train, val, test = groundtruth_splits(args.data, pool=args.pool, val_size=500, test_size=2000,
                                          first=args.first, random_state=args.seed)
    training = GroundTruthTraining(optimizer=args.optimizer, lr=args.lr, epochs=args.epochs, stopping=args.stopping,
                                   repeats=args.repeats)
    gt = davinz_groundtruth(train, val, test, n_datasets=args.datasets, sizes=(args.min_size, args.max_size),
                            size_scale=args.size_scale, noise=(0.0, args.max_noise), device=args.device,
                            model=args.model, nu=nu_from_args(args), replace=args.replace, convention=args.convention,
                            training=training, random_state=args.seed, progress=True,
                            bandwidth=args.bandwidth if args.bandwidth == "median" else float(args.bandwidth))
    for i in np.argsort(gt.values):
        print(f"size {gt['size'][i]:5d} noise {gt['noise_rate'][i]:.2f}  ν {gt.values[i]:+.4f} "
              f"(ntk {gt['ntk_term'][i]:.4f}, mmd {gt['mmd_term'][i]:.4f})  test {gt['test_metric'][i]:.4f}")
    print(groundtruth_report(gt))
    m, t = gt.metrics, gt.timings
    print(json.dumps({"pearson": round(m["pearson"], 4), "spearman": round(m["spearman"], 4),
                      "davinz_s": round(t["davinz_s"], 2), "training_s": round(t["training_s"], 2),
                      "baselines": {k: {"pearson": round(m[f"{k}_pearson"], 4), "spearman": round(m[f"{k}_spearman"], 4)}
                                    for k in ("VP", "IF", "RV", "repeat") if f"{k}_pearson" in m},
                      "datasets": args.datasets, "sizes": [args.min_size, args.max_size],
                      "size_scale": args.size_scale, "max_noise": args.max_noise, "model": args.model,
                      **{k: gt.settings[k] for k in ("nu", "outputs", "size_ridge", "mmd_estimator")},
                      "replace": args.replace,
                      "optimizer": args.optimizer, "lr": args.lr, "epochs": args.epochs, "stopping": args.stopping,
                      "repeats": args.repeats, "timings": {
                          k: round(v, 1) for k, v in t.items()}}))

if __name__ == "__main__":
    main()
