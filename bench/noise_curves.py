"""Which per-example score finds flipped labels best? Every score side by side on the same noisy data.

Usage: python bench/noise_curves.py --data fmnist --n 3000 --noise 0.2 --seed 0 [--seeds 3 --device cpu]
Scores: CG (exact, no training), CG′ (H instead of H⁻¹), feature-space CG (penultimate features
after 3 epochs, one network), GraNd at initialisation, EL2N after 5 epochs, forgetting over 15 epochs
(small CNN, `--seeds` networks each), the input norm ‖x‖ and random, all through
trainfree.experiments.score_dataset with the same root seed, hence the same flipped labels.
Last line: {"noise":..., "scores": {name: {"auroc":..., "found_at": {...}, "seconds":...}}}
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from trainfree.data import load
from trainfree.experiments import score_dataset
from trainfree.metrics import auroc, noise_found_at


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="fmnist")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=3, help="networks averaged by the Data Diet scores")
    ap.add_argument("--model", default="cnn", choices=["cnn", "mlp"])
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    data = load(args.data, n=args.n, random_state=args.seed)
    runs = {"CG (exact)": dict(score="cg"),
            "CG′": dict(score="cg-prime"),
            "feature CG, epoch 3": dict(score="cg-features", model=args.model, n_seeds=1, epochs=3),
            "GraNd, init": dict(score="grand", model=args.model, n_seeds=args.seeds, epoch=0),
            "EL2N, epoch 5": dict(score="el2n", model=args.model, n_seeds=args.seeds, epoch=5),
            "forgetting, 15 epochs": dict(score="forgetting", model=args.model, n_seeds=args.seeds, epochs=15)}
    fractions = (0.1, args.noise, 0.3, 0.5)
    table, flipped = {}, None
    for name, options in runs.items():
        res = score_dataset(data, noise=args.noise, device=args.device, random_state=args.seed, **options)
        flipped = res["flipped"] if flipped is None else flipped
        assert np.array_equal(flipped, res["flipped"])  # the same root seed flips the same labels for every score
        table[name] = {"auroc": res.metrics["auroc"], "found_at": res.metrics["found_at"],
                       "seconds": res.timings["total_s"]}
    baselines = {"input norm": np.linalg.norm(data.X, axis=1),
                 "random": np.random.default_rng(args.seed).random(len(data))}
    for name, s in baselines.items():
        table[name] = {"auroc": auroc(s, flipped), "found_at": noise_found_at(s, flipped, fractions=fractions),
                       "seconds": 0.0}
    print(f"{args.data}, n={len(data)}, {args.noise:.0%} symmetric label noise, model {args.model}, "
          f"{args.seeds} networks per Data Diet score")
    print(f"{'score':<24}{'AUROC':>7}{'found@10%':>11}{f'found@{args.noise:.0%}':>11}{'found@30%':>11}{'time':>9}")
    for name, r in table.items():
        f = r["found_at"]
        print(f"{name:<24}{r['auroc']:>7.3f}{f[0.1]:>11.3f}{f[args.noise]:>11.3f}{f[0.3]:>11.3f}"
              f"{r['seconds']:>8.1f}s")
    print(json.dumps({"noise": args.noise, "n": len(data), "scores": {
        k: {"auroc": round(v["auroc"], 4), "found_at": {str(a): round(b, 4) for a, b in v["found_at"].items()},
            "seconds": round(v["seconds"], 2)} for k, v in table.items()}}))


if __name__ == "__main__":
    main()
