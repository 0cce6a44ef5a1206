"""Which per-example score finds flipped labels best? Every score side by side on the same noisy data.

Usage: python bench/noise_curves.py --data fmnist --n 3000 --noise 0.2 --seed 0 [--seeds 3 --model cnn --device cpu]
       [--noise-mode symmetric|pair] [--scores mislabel,cg,random]
Runs trainfree.experiments.compare_noise_detection (the workflow of `trainfree experiment noise`): the kernel
leave-one-out mislabel detector, CG (exact),
CG′, feature-space CG (3 epochs), GraNd at initialisation, EL2N after 5 epochs, forgetting over 15 epochs
(`--seeds` networks each), the input norm ‖x‖ and random, all on the same flipped labels.
Last line: {"noise":..., "n":..., "scores": {name: {"auroc":..., "found_at": {...}, "seconds":...}}}
"""

from __future__ import annotations

import argparse
import json

from trainfree.data import load
from trainfree.experiments import compare_noise_detection
from trainfree.report import noise_comparison_report

NAMES = ("mislabel", "cg", "cg-prime", "cg-features", "grand", "el2n", "forgetting", "input_norm", "random")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="fmnist")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=3, help="networks averaged by the Data Diet scores")
    ap.add_argument("--model", default="cnn", choices=["cnn", "mlp"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--noise-mode", default="symmetric", choices=["symmetric", "pair"])
    ap.add_argument("--scores", default=",".join(NAMES), help="comma-separated subset of " + ",".join(NAMES))
    args = ap.parse_args()
    data = load(args.data, n=args.n, random_state=args.seed)
    res = compare_noise_detection(data, args.scores.split(","), noise_rate=args.noise, noise_mode=args.noise_mode,
                                  model=args.model, n_seeds=args.seeds,
                                  device=args.device, random_state=args.seed)
    print(noise_comparison_report(res))
    found = [c for c in res.columns if c.startswith("found_at_")]
    print(json.dumps({"noise": args.noise, "noise_mode": args.noise_mode, "n": len(data), "scores": {
        p: {"auroc": round(float(res.values[i]), 4),
            "found_at": {c.removeprefix("found_at_"): round(float(res[c][i]), 4) for c in found},
            "seconds": round(float(res["seconds"][i]), 2)} for i, p in enumerate(res["player"])}}))


if __name__ == "__main__":
    main()
