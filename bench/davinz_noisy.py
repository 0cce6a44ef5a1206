"""Noisy contributors: with K contributors of which some have flipped labels, do they get the lowest values?

Usage: python bench/davinz_noisy.py --data digits --contributors 10 --noisy 3 --rate 0.4 [--per 100]
Last line: {"noisy_lowest":..., "noisy_ranks":..., "values":..., "seconds":...}
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from trainfree.data import load, split_contributors
from trainfree.davinz import DavinzUtility
from trainfree.models import make_model
from trainfree.semivalues import exact_shapley


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="digits")
    ap.add_argument("--contributors", type=int, default=10)
    ap.add_argument("--noisy", type=int, default=3)
    ap.add_argument("--rate", type=float, default=0.4)
    ap.add_argument("--per", type=int, default=100)
    ap.add_argument("--model", default="mlp", choices=["mlp", "cnn"])
    ap.add_argument("--outputs", default="all", choices=["all", "own"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    K, n_val = args.contributors, 300
    data = load(args.data, n=K * args.per + n_val, random_state=args.seed)
    rates = [args.rate] * args.noisy + [0.0] * (K - args.noisy)
    parts = split_contributors(data.X[:-n_val], data.y[:-n_val], K, how="noisy", noise_rates=rates,
                               random_state=args.seed)
    shape = data.image_shape if args.model == "cnn" else (data.X.shape[1],)
    model = make_model(args.model, shape, len(data.classes), width=128, random_state=args.seed)
    reshape = (lambda A: A.reshape(len(A), *shape))
    t = time.perf_counter()
    u = DavinzUtility([(reshape(p.X), p.y) for p in parts], reshape(data.X[-n_val:]), model=model, outputs=args.outputs)
    res = exact_shapley(u, K)
    seconds = time.perf_counter() - t
    order = np.argsort(res.values)
    noisy = [i for i, r in enumerate(rates) if r > 0]
    ranks = sorted(int(np.flatnonzero(order == i)[0]) for i in noisy)  # 0 = lowest value
    for i in order:
        print(f"contributor {i}: noise {rates[i]:.0%}  Shapley {res.values[i]:+.5f}")
    lowest = ranks == list(range(len(noisy)))
    print(f"noisy contributors {'are' if lowest else 'are NOT'} the {len(noisy)} lowest (ranks {ranks})")
    print(json.dumps({"outputs": args.outputs, "noisy_lowest": lowest, "noisy_ranks": ranks, "values": np.round(res.values, 6).tolist(),
                      "seconds": round(seconds, 2)}))


if __name__ == "__main__":
    main()
