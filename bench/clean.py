"""Clean, then train: does removing or relabelling what a score flags train a better network?

Usage: python bench/clean.py [--n 10000 --test 2000 --epochs 5 --runs 3 --scores mislabel,cg,el2n,cleanlab
                              --noise-settings symmetric:0.2,symmetric:0.4,pair:0.3
                              --seeds 3 --el2n-epochs 5 --seed 0 --device cpu --threads 1 --checkpoint DIR]
Fashion-MNIST: `--n` training images (class-balanced), `--test` test images, the small CNN. For each label-noise
setting (symmetric 20% and 40%, pair 30%) the training labels are flipped, each score flags rows (the detector's
own flags; the highest CG and EL2N scores, as many as the detector estimates are wrong; cleanlab on
cross-validated logistic regression when installed), and the CNN trains on the noisy labels, without the flagged
rows, with the flagged rows relabelled where the detector is confident, and on the clean labels, `--runs` paired
runs, at least the optimiser steps of `--epochs` epochs of the whole set each
(trainfree.experiments.cleaning.cleaning_gain). Prints the table and, last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from trainfree.cli.experiment import noise_settings
from trainfree.experiments.cleaning import cleaning_gain
from trainfree.experiments.pruning import pruning_splits
from trainfree.report import cleaning_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scores", default="mislabel,cg,el2n,cleanlab")
    ap.add_argument("--noise-settings", default="symmetric:0.2,symmetric:0.4,pair:0.3")
    ap.add_argument("--seeds", type=int, default=3, help="networks averaged by EL2N")
    ap.add_argument("--el2n-epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the CPU is shared)")
    ap.add_argument("--checkpoint", default=None, help="folder of finished units, to resume")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    train, test = pruning_splits("fmnist", n=args.n, test_size=args.test, random_state=args.seed)
    res = cleaning_gain(train, test, noise_settings=noise_settings(args.noise_settings), scores=args.scores.split(","),
                        model="auto", epochs=args.epochs,
                        n_runs=args.runs, n_seeds=args.seeds, el2n_epochs=args.el2n_epochs, device=args.device,
                        random_state=args.seed, checkpoint=args.checkpoint)
    print(cleaning_report(res))
    print(f"model {res.settings['model']}; scoring {res.timings['scoring_s']:.0f} s, training "
          f"{res.timings['training_s']:.0f} s")
    rows = {p: {"accuracy": round(float(v), 4), "stderr": None if not np.isfinite(e) else round(float(e), 4),
                "gap_recovered": None if not np.isfinite(g) else round(float(g), 3)}
            for p, v, e, g in zip(res["player"], res.values, res.stderr, res["gap_recovered"])}
    print(json.dumps({"bench": "clean", "n_train": len(train), "n_test": len(test), "epochs": args.epochs,
                      "runs": args.runs, "model": res.settings["model"], "clean_accuracy": res.metrics["clean_accuracy"],
                      "notes": res.metrics["notes"], "rows": rows, "seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
