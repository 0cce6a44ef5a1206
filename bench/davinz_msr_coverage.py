"""When can MSR-Banzhaf's ±1.96·stderr be trusted on DAVINZ? Coverage of the exact Banzhaf values.

8 digits contributors of 60 (3 with 40% flipped labels), outputs="all": ν of all 256 coalitions is
computed once, then ``banzhaf_msr`` is run with 200 seeds at each sample size and we count how often
value ± 1.96·stderr contains the exact Banzhaf value (nominal 0.95), overall and split by whether the
empty coalition was drawn: ν(∅) (NTK term 0, MMD of nothing) is far from every other ν, so a sample
that misses it under-estimates the spread, and one that holds it swings the estimate.

Usage: python bench/davinz_msr_coverage.py [--contributors 8 --runs 200]
Last line: {"coverage": {n_samples: {"all":..., "with_empty":..., "without_empty":..., "p_empty":...}}}
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np

from trainfree.data import load, split_contributors
from trainfree.semivalues import banzhaf_msr, exact_banzhaf
from trainfree.training import make_model
from trainfree.valuation import DavinzUtility, NuOptions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contributors", type=int, default=8)
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    K = args.contributors
    data = load("digits", n=K * 60 + 300, random_state=0)
    parts = split_contributors(data.X[:-300], data.y[:-300], K, how="noisy", noise_rate=0.4, random_state=0)
    u = DavinzUtility([(p.X, p.y) for p in parts], data.X[-300:], nu=NuOptions("paper", outputs="all"),
                      model=make_model("mlp", (64,), 10, width=128, random_state=0))
    subsets = [c for r in range(K + 1) for c in itertools.combinations(range(K), r)]
    table = dict(zip(subsets, u.many(subsets)))
    nu = lambda c: table[tuple(c)]  # noqa: E731
    exact = exact_banzhaf(nu, K).values
    print("ν(∅) =", round(table[()], 4), " ν of singletons:", np.round([table[(i,)] for i in range(K)], 4))
    out = {}
    for n in (128, 512, 2048):
        hits, with_empty = [], []
        for seed in range(args.runs):
            drawn = []
            res = banzhaf_msr(lambda c: drawn.append(c) or nu(c), K, n_samples=n, random_state=seed)
            hits.append(np.abs(res.values - exact) <= 1.96 * res.stderr)
            with_empty.append(() in drawn)
        hits, with_empty = np.array(hits), np.array(with_empty)
        cov = lambda m: round(float(hits[m].mean()), 3) if m.any() else None  # noqa: E731
        out[n] = {"all": cov(np.ones(len(hits), bool)), "with_empty": cov(with_empty),
                  "without_empty": cov(~with_empty), "p_empty": round(float(with_empty.mean()), 3)}
        print(f"n_samples {n:5d}: coverage {out[n]['all']} (runs that drew ∅: {out[n]['p_empty']:.0%}, "
              f"coverage {out[n]['with_empty']}; without ∅: {out[n]['without_empty']})")
    print(json.dumps({"coverage": out}))


if __name__ == "__main__":
    main()
