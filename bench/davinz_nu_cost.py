"""What each ν costs: exact Shapley over the README's 10 contributors, every preset in one run, and the default
checked against the direct formula on every coalition.

The README's case (`trainfree value davinz --data digits --contributors 10 --split noisy`): digits, 20 % held out
as T, the rest split among 10 contributors of whom 3 have 40 % flipped labels, the MLP, exact Shapley (1 023
coalitions). Timed through `value_contributors` (the CLI's workflow), alternating the presets and keeping each
one's best of `--repeats` runs, so that the ratios come from the same minutes of a shared machine.
The direct formula: for every coalition S, ŷ_Sᵀ(Θ_S + ρ·d·m_S·I)⁻¹ŷ_S by an LU solve of the coalition's own
matrix (no shared factor), then ν = −κ·sqrt(q/m_S) − MMD; the largest relative difference is printed.

Usage: python bench/davinz_nu_cost.py [--repeats 2] [--with-per-output-ridge]
Last line: {"seconds": {...}, "ratio_to_previous_cli_default": {...}, "default_vs_direct_max_rel": ...}
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np
import torch

from trainfree.data import load, split_contributors
from trainfree.experiments import value_contributors
from trainfree.training import make_model
from trainfree.valuation import DavinzUtility, NuOptions
from trainfree.valuation.davinz_options import DEFAULT_NU

PRESETS = {"default": DEFAULT_NU,
           "paper": "paper",
           # the CLI's default before the presets (all outputs, no ridge, biased MMD): the reference cost
           "previous_cli_default": NuOptions("paper", outputs="all")}
SLOW = {"per_output_ridge": NuOptions("recommended", outputs="all")}  # ten kernels, each coalition refactorised


def direct_check(seed: int) -> float:
    """Largest relative difference between the default ν's values and the direct formula, on all 1 023 coalitions."""
    data = load("digits")
    parts = split_contributors(data.X[:1400], data.y[:1400], 10, how="noisy", noise_rate=0.4, random_state=seed)
    net = make_model("mlp", (64,), 10, random_state=seed)
    u = DavinzUtility([(p.X, p.y) for p in parts], data.X[1400:], model=net, random_state=seed)
    coalitions = [c for r in range(1, 11) for c in itertools.combinations(range(10), r)]
    fast = u.many(coalitions)
    theta = u.theta[0]
    R = u.residual[0] if u.residual.dim() == 3 else u.residual.T  # (n, right-hand sides)
    ridge = u.size_ridge * u.diag_mean
    worst = 0.0
    for c, v in zip(coalitions, fast):
        idx = np.concatenate([np.arange(u.offsets[i], u.offsets[i + 1]) for i in c])
        A = theta[idx][:, idx] + ridge * len(idx) * torch.eye(len(idx), dtype=theta.dtype)
        if u.theta.shape[0] == 1:
            q = float((R[idx] * torch.linalg.solve(A, R[idx])).sum())
        else:  # one kernel per output: the direct formula per kernel
            q = 0.0
            for k in range(u.theta.shape[0]):
                Ak = u.theta[k][idx][:, idx] + ridge * len(idx) * torch.eye(len(idx), dtype=theta.dtype)
                q += float(u.residual[k, idx] @ torch.linalg.solve(Ak, u.residual[k, idx]))
        direct = -u.kappa * np.sqrt(q / len(idx)) - u.mmd(c)
        worst = max(worst, abs(v - direct) / abs(direct))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2, help="runs per preset, alternating; each keeps its best")
    ap.add_argument("--with-per-output-ridge", action="store_true",
                    help="also time ten per-output kernels with the size ridge (slow: every coalition refactorised)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    data = load("digits")
    presets = {**PRESETS, **(SLOW if args.with_per_output_ridge else {})}
    value_contributors(data, n_contributors=2, nu="paper", random_state=args.seed)  # warm-up (torch's first calls)
    best: dict[str, float] = {}
    values: dict[str, np.ndarray] = {}
    for r in range(args.repeats):
        for name, nu in presets.items():
            t = time.perf_counter()
            res = value_contributors(data, n_contributors=10, split="noisy", nu=nu, random_state=args.seed)
            best[name] = min(best.get(name, np.inf), time.perf_counter() - t)
            values[name] = res.values
            print(f"run {r}: {name:22s} {time.perf_counter() - t:6.2f} s  ntk {res.timings['ntk_s']:.2f} s  "
                  f"values {np.array2string(res.values, precision=4)}", flush=True)
    ratio = {k: round(v / best["previous_cli_default"], 2) for k, v in best.items()}
    noisy = {k: sorted(np.argsort(v)[:3].tolist()) for k, v in values.items()}  # contributors 0-2 are the noisy ones
    err = direct_check(args.seed)
    print(f"default ν = {DEFAULT_NU}: best {best['default']:.2f} s, {ratio['default']}x the previous CLI default "
          f"({best['previous_cli_default']:.2f} s); direct formula max rel. diff {err:.1e}")
    print(json.dumps({"seconds": {k: round(v, 2) for k, v in best.items()}, "ratio_to_previous_cli_default": ratio,
                      "three_lowest": noisy, "default_vs_direct_max_rel": err}))


if __name__ == "__main__":
    main()
