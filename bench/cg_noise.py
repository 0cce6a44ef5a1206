"""How well the CG-score finds flipped labels: the CG-score paper's Table 2 and its noise curve.

Usage: python bench/cg_noise.py --data fmnist --n 10000 --noise 0.2 --seed 0 [--method stochastic --ratio 3 --repeats 3]
Runs the same workflow as `trainfree score cg` (trainfree.experiments.score_dataset).
Last line: {"noisy_positive_frac":..., "clean_positive_frac":..., "auroc":..., "found_at_20pct":..., "seconds":...}
"""

from __future__ import annotations

import argparse
import json

from trainfree.data import load
from trainfree.experiments import score_dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="fmnist")
    ap.add_argument("--n", type=int, default=10000, help="examples (0 = the whole training set)")
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--method", default="exact", choices=["exact", "stochastic"])
    ap.add_argument("--ratio", type=float, default=3.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--preprocess", default="center", choices=["center", "raw"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float64")
    args = ap.parse_args()
    data = load(args.data, n=args.n or None, random_state=args.seed)
    res = score_dataset(data, noise_rate=args.noise, method=args.method, ratio=args.ratio, n_repeats=args.repeats,
                        preprocess=args.preprocess, device=args.device, dtype=args.dtype, random_state=args.seed)
    m, found = res.metrics, res.metrics["found_at"]
    out = {"noisy_positive_frac": round(m["noisy_positive_frac"], 4), "clean_positive_frac": round(m["clean_positive_frac"], 4),
           "auroc": round(m["auroc"], 4), "found_at_20pct": round(found[0.2], 4), "seconds": round(res.timings["total_s"], 2)}
    print(f"{args.data} n={len(data)} noise={args.noise} method={args.method} preprocess={args.preprocess}"
          + (f" ratio={args.ratio} repeats={args.repeats}" if args.method == "stochastic" else ""))
    print(f"AUROC of the partial label term: {m['auroc_partial_label']:.4f}; "
          f"found at 10/20/30%: {found[0.1]:.3f}/{found[0.2]:.3f}/{found[0.3]:.3f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
