"""Is DAVINZ's ν a valid scoring function? Correlation with the test accuracy of trained networks.

Usage: python bench/davinz_groundtruth.py --data fmnist --datasets 30 --seed 0 [--model cnn] [--outputs own|all]
       python bench/davinz_groundtruth.py --data fmnist --datasets 30 --seed 0 --min-size 100 --max-size 10000
           --size-scale log --pool 30000 [--max-noise 0] --device cuda   (the paper's up-to-10k datasets)
       python bench/davinz_groundtruth.py --data ising --model mlp   (regression: 2-D Ising energy per spin)
Last line: {"pearson":..., "spearman":..., "davinz_s":..., "training_s":..., "datasets":...}
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from trainfree.data import load, load_fashion_mnist, make_ising
from trainfree.experiments import davinz_groundtruth


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
    ap.add_argument("--model", default="cnn", choices=["cnn", "mlp"])
    ap.add_argument("--outputs", default="own", choices=["own", "all"])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.data == "fmnist":
        pool = load_fashion_mnist(split="train", n=args.pool, random_state=args.seed)
        test = load_fashion_mnist(split="test", n=2000, random_state=args.seed)
    else:
        full = (make_ising(4000, random_state=args.seed) if args.data == "ising"
                else load(args.data, random_state=args.seed))
        order = np.random.default_rng(args.seed).permutation(len(full.y))
        pool, test = full.subset(order[: len(order) * 2 // 3]), full.subset(order[len(order) * 2 // 3:])
    val, train = pool.subset(np.arange(500)), pool.subset(np.arange(500, len(pool.y)))
    gt = davinz_groundtruth(train, val, test, n_datasets=args.datasets, sizes=(args.min_size, args.max_size),
                            size_scale=args.size_scale, noise=(0.0, args.max_noise), device=args.device,
                            model=args.model, outputs=args.outputs,
                            epochs=args.epochs, random_state=args.seed, progress=True)
    for i in np.argsort(gt.nu):
        print(f"size {gt.sizes[i]:5d} noise {gt.noise[i]:.2f}  ν {gt.nu[i]:+.4f} "
              f"(ntk {gt.ntk_term[i]:.4f}, mmd {gt.mmd_term[i]:.4f})  test {gt.test_metric[i]:.4f}")
    print(f"κ = {gt.kappa:.4g}; Pearson {gt.pearson:.3f}, Spearman {gt.spearman:.3f}; "
          f"DAVINZ {gt.davinz_s:.1f} s vs training {gt.training_s:.1f} s")
    for name, b in gt.baselines.items():
        print(f"baseline {name}: Pearson {b['pearson']:.3f}, Spearman {b['spearman']:.3f}, {b['seconds']:.1f} s")
    print(json.dumps({"pearson": round(gt.pearson, 4), "spearman": round(gt.spearman, 4),
                      "davinz_s": round(gt.davinz_s, 2), "training_s": round(gt.training_s, 2),
                      "baselines": {k: {m: round(v[m], 4) for m in ("pearson", "spearman", "seconds")}
                                    for k, v in gt.baselines.items()},
                      "datasets": args.datasets, "sizes": [args.min_size, args.max_size],
                      "size_scale": args.size_scale, "max_noise": args.max_noise, "model": args.model,
                      "outputs": args.outputs}))


if __name__ == "__main__":
    main()
