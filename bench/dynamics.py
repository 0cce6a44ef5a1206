"""How do CG-score groups train? Per-group loss, accuracy and kernel velocity, and error barriers.

Usage: python bench/dynamics.py [--n 2000 --test 1000 --epochs 5 --groups 10 --kernel-rows 50 --width 128
                                 --spawn 0,4,16 --barrier-runs 3 --noise 0.0 --seed 0 --device cpu]
Fashion-MNIST (`--n` training rows, `--test` test images), exact CG-score of the training rows, split
into `--groups` groups by score (group 0 = highest). One mlp (two hidden layers of `--width`) trains on
all rows for `--epochs` epochs (trainfree.experiments.group_dynamics): per-group mean loss, accuracy and
kernel velocity (full-logit NTK Gram of `--kernel-rows` rows per group). Then the test-error barrier
(trainfree.experiments.error_barrier) of children spawned at each of `--spawn` epochs, for the
lowest-scored 10%, the highest-scored 10% and a random 10% of the rows, each trained for the step budget
of `--epochs` full epochs. `--noise 0.2` flips 20% of the training labels first (symmetric). Sizes are
reduced from the papers' (CIFAR-10, ResNet18) to run in minutes on two CPU cores. Last line: one JSON
object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np

from trainfree.data import inject_label_noise, load, load_fashion_mnist
from trainfree.experiments import (
    error_barrier,
    group_dynamics,
    score_dataset,
    score_groups,
)
from trainfree.experiments.pruning import budget_epochs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--groups", type=int, default=10)
    ap.add_argument("--kernel-rows", type=int, default=50, help="rows per group in the NTK Gram")
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--spawn", default="0,4,16", help="spawn epochs (of the 10%% subset) for the barrier")
    ap.add_argument("--barrier-runs", type=int, default=3)
    ap.add_argument("--noise", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    t0 = time.perf_counter()
    train = load("fmnist", n=args.n, random_state=args.seed)
    test = load_fashion_mnist(split="test", n=args.test, random_state=args.seed + 1)
    flipped = np.zeros(len(train), bool)
    if args.noise > 0:
        y, flipped = inject_label_noise(train.y, args.noise, n_classes=len(train.classes), random_state=args.seed)
        train = dataclasses.replace(train, y=y)
    t = time.perf_counter()
    cg = score_dataset(train, score="cg", random_state=args.seed).scores
    cg_s = time.perf_counter() - t
    groups = score_groups(cg, args.groups)
    res = group_dynamics(train, cg, test_set=test, n_groups=args.groups, model="mlp", width=args.width,
                         epochs=args.epochs, kernel_rows=args.kernel_rows, device=args.device, random_state=args.seed)
    E = args.epochs + 1
    loss, acc, vel = (res[c].reshape(args.groups, E) for c in ("value", "accuracy", "velocity"))
    print(f"fmnist: {len(train)} training rows (label noise {args.noise:.0%}), {len(test)} test rows, mlp width "
          f"{args.width}, {args.epochs} epochs; CG-score in {cg_s:.1f} s; groups by CG-score, group 0 = highest")
    if args.noise > 0:
        print("flipped labels per group: " + " ".join(str(int(flipped[g].sum())) for g in groups))
    for title, table, fmt, head in (("mean training loss", loss, "{:7.3f}", "epoch 0.."),
                                    ("training accuracy", acc, "{:7.3f}", "epoch 0.."),
                                    ("kernel velocity S(K_t, K_t+1)", vel[:, :-1], "{:7.4f}", "t -> t+1, t = 0..")):
        print(f"\n{title} (rows: group, columns: {head}{table.shape[1] - 1})")
        for g in range(args.groups):
            print(f"  group {g} (CG mean {res['score_mean'][g * E]:.4f})  " + " ".join(fmt.format(v) for v in table[g]))
    print(f"test accuracy per epoch: {' '.join(f'{a:.3f}' for a in res.metrics['test_accuracy'])}")
    n_sub = len(groups[-1]) if args.groups == 10 else round(0.1 * len(train))
    order = np.argsort(-cg, kind="stable")
    subsets = {"lowest_cg_10%": order[-n_sub:], "highest_cg_10%": order[:n_sub],
               "random_10%": np.random.default_rng(args.seed).choice(len(train), n_sub, replace=False)}
    sub_epochs = budget_epochs(args.epochs, len(train), n_sub)
    spawns = [min(int(s), sub_epochs) for s in args.spawn.split(",")]
    barriers: dict[str, dict[str, float]] = {}
    t = time.perf_counter()
    print(f"\ntest-error barrier (max err(a) - mean of ends; {args.barrier_runs} runs, {sub_epochs} epochs of "
          f"{n_sub} rows, spawn epoch in columns {spawns}); in brackets: end-point test error")
    for name, idx in subsets.items():
        cells, barriers[name] = [], {}
        for s in spawns:
            b = error_barrier(train, test, idx, spawn_epoch=s, epochs=sub_epochs, model="mlp", width=args.width,
                              n_runs=args.barrier_runs, device=args.device, random_state=args.seed)
            m = b.metrics
            barriers[name][str(s)] = round(m["barrier"], 4)
            cells.append(f"{m['barrier']:.4f} [{(m['error_a'] + m['error_b']) / 2:.3f}]")
        print(f"  {name:<16}" + "   ".join(cells))
    barrier_s = time.perf_counter() - t
    total = time.perf_counter() - t0
    print(f"(CG {cg_s:.0f} s, training {res.timings['train_s']:.0f} s, kernels {res.timings['kernel_s']:.0f} s, "
          f"barriers {barrier_s:.0f} s, total {total:.0f} s)")
    print(json.dumps({"n": len(train), "n_test": len(test), "noise": args.noise, "epochs": args.epochs,
                      "width": args.width, "kernel_rows": args.kernel_rows,
                      "loss": np.round(loss, 4).tolist(), "accuracy": np.round(acc, 4).tolist(),
                      "velocity": np.round(vel[:, :-1], 5).tolist(),
                      "test_accuracy": [round(a, 4) for a in res.metrics["test_accuracy"]],
                      "barrier": barriers, "barrier_epochs": sub_epochs,
                      "seconds": {"cg": round(cg_s, 1), "train": round(res.timings["train_s"], 1),
                                  "kernel": round(res.timings["kernel_s"], 1), "barrier": round(barrier_s, 1),
                                  "total": round(total, 1)}}))


if __name__ == "__main__":
    main()
