"""What the mislabel detector costs next to the exact CG-score, on the same data in one run.

Usage: python bench/mislabel_speed.py --n 10000 [--device cpu] [--channels 128]
Times `score_dataset(..., score=S, noise_rate=0.2)` for the exact CG-score and the detector with the arccos and
the conv kernel (and its phases: CNN features, λ search, leave-one-out solve), with AUROC and the share
of flipped labels in the top 20%. Last line: {"n":..., "rows": {name: {"seconds":..., "auroc":..., ...}}}
"""

from __future__ import annotations

import argparse
import json
import time

from trainfree.data import load
from trainfree.experiments import score_dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="fmnist")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    data = load(args.data, n=args.n, random_state=args.seed)
    rows = {}
    for name, score, opts in (("cg exact", "cg", {}), ("mislabel arccos", "mislabel", {"kernel": "arccos"}),
                              ("mislabel conv", "mislabel", {"kernel": "conv"})):
        t = time.perf_counter()
        res = score_dataset(data, score=score, noise_rate=0.2, random_state=args.seed, device=args.device, **opts)
        rows[name] = {"seconds": round(time.perf_counter() - t, 2), "auroc": round(res.metrics["auroc"], 4),
                      "found_at_0.2": round(res.metrics["found_at"][0.2], 4),
                      **{k: round(v, 2) for k, v in res.timings.items() if k in ("features_s", "ridge_s", "loo_s")}}
        print(f"{name:16s} {rows[name]}", flush=True)
    base = rows["cg exact"]["seconds"]
    for name, r in rows.items():
        r["time_vs_cg"] = round(r["seconds"] / base, 2)
    print(json.dumps({"n": len(data), "device": args.device, "rows": rows}))


if __name__ == "__main__":
    main()
