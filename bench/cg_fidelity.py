"""How close the large-n and the stochastic CG-score come to the exact one, and at what cost.

Usage: flock /tmp/trainfree-heavy.lock python bench/cg_fidelity.py --n 10000 [--repeats 2] [--seed 0]
On a class-balanced Fashion-MNIST sample (no label noise): the exact score, method="large" (default
settings, or --chunk-size/--chunk-repeats) and method="stochastic" (ratio 3, --repeats chosen to take about as long as "large"), with the
Spearman and Pearson correlation of each with the exact score and its time.
Last line: {"n":..., "exact_seconds":..., "large_spearman":..., "large_seconds":..., "stochastic_spearman":..., ...}
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
from scipy.stats import pearsonr, spearmanr

from trainfree.data import load
from trainfree.scores import cg_score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2, help="stochastic repeats (ratio 3)")
    ap.add_argument("--chunk-size", type=int, default=5000)
    ap.add_argument("--chunk-repeats", type=int, default=3)
    args = ap.parse_args()
    data = load("fmnist", n=args.n, random_state=args.seed)
    exact = cg_score(data.X, data.y)
    large = cg_score(data.X, data.y, method="large", chunk_size=args.chunk_size, n_chunk_repeats=args.chunk_repeats,
                     random_state=args.seed)
    stoch = cg_score(data.X, data.y, method="stochastic", ratio=3.0, n_repeats=args.repeats, random_state=args.seed)
    out = {"n": len(data), "exact_seconds": round(exact.timings["total_s"], 1),
           "large_spearman": round(spearmanr(exact.scores, large.scores)[0], 5),
           "large_pearson": round(pearsonr(exact.scores, large.scores)[0], 5),
           "large_seconds": round(large.timings["total_s"], 1), "large_iterations": large.settings["iterations"],
           "large_residual": float(f"{large.settings['residual']:.3g}"),
           "large_sign_agreement": round(float((large.flags == exact.flags).mean()), 4),
           "large_d_ratio_median": round(float(np.median(large["partial_diag"] / exact["partial_diag"])), 4),
           "large_chunk_size": args.chunk_size, "large_chunk_repeats": args.chunk_repeats,
           "stochastic_spearman": round(spearmanr(exact.scores, stoch.scores)[0], 5),
           "stochastic_pearson": round(pearsonr(exact.scores, stoch.scores)[0], 5),
           "stochastic_seconds": round(stoch.timings["total_s"], 1), "stochastic_repeats": args.repeats,
           "load_avg_end": round(os.getloadavg()[0], 1)}
    print(f"fmnist n={out['n']}: exact {out['exact_seconds']} s; large Spearman {out['large_spearman']} in "
          f"{out['large_seconds']} s; stochastic (ratio 3, {args.repeats} repeats) Spearman "
          f"{out['stochastic_spearman']} in {out['stochastic_seconds']} s")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
