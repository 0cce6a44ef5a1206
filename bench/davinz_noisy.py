"""Do contributors with flipped labels get the lowest DAVINZ Shapley values?

Usage: python bench/davinz_noisy.py [--contributors 10 --per 100 --rate 0.4 --seed 0] [--nu recommended|paper]
       [--outputs all|own --size-ridge R --mmd-estimator E]   (override the preset's options)
Runs the same workflow as `trainfree value davinz --split noisy` (trainfree.experiments.value_contributors):
30% of the contributors (3 of 10) get `rate` of their labels flipped; 300 examples are held out for validation.
Last line: {"nu":..., "outputs":..., "noisy_lowest":..., "noisy_ranks":..., "values":..., "seconds":...}
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from trainfree.data import load
from trainfree.experiments import value_contributors
from trainfree.cli import add_nu_options, nu_from_args


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="digits")
    ap.add_argument("--contributors", type=int, default=10)
    ap.add_argument("--rate", type=float, default=0.4)
    ap.add_argument("--per", type=int, default=100)
    ap.add_argument("--model", default="mlp", choices=["mlp", "cnn"])
    add_nu_options(ap)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    K, n_val = args.contributors, 300
    data = load(args.data, n=K * args.per + n_val, random_state=args.seed)
    res = value_contributors(data, n_contributors=K, split="noisy", noise_rate=args.rate, val_fraction=n_val / len(data),
                             model=args.model, nu=nu_from_args(args), semivalue="shapley", random_state=args.seed)
    values, rates = res.values, res["noise_rate"]
    order = np.argsort(values)
    noisy = np.flatnonzero(rates > 0)
    ranks = sorted(int(np.flatnonzero(order == i)[0]) for i in noisy)  # 0 = lowest value
    for i in order:
        print(f"contributor {res['player'][i]}: noise {rates[i]:.0%}  Shapley {values[i]:+.5f}  "
              f"(NTK term {res['ntk_term'][i]:.3f}, MMD term {res['mmd_term'][i]:.4f})")
    lowest = ranks == list(range(len(noisy)))
    print(f"noisy contributors {'are' if lowest else 'are NOT'} the {len(noisy)} lowest (ranks {ranks})")
    s = res.settings
    print(json.dumps({"nu": s["nu"], "outputs": s["outputs"], "size_ridge": s["size_ridge"],
                      "mmd_estimator": s["mmd_estimator"],
                      "noisy_lowest": lowest, "noisy_ranks": ranks,
                      "values": np.round(values, 6).tolist(), "seconds": round(res.timings["total_s"], 2)}))


if __name__ == "__main__":
    main()
