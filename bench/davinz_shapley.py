"""Exact Shapley values of DAVINZ's ν for K contributors: shared computation vs. from scratch.

(a) trainfree — Θ₀ and the RBF kernel block sums computed once over the union; each coalition's
    NTK term extends the cached Cholesky factor of its prefix by one contributor's block; its MMD
    comes from the pre-summed blocks in O(K²).
(b) from scratch — what one writes without that structure: for every coalition, the empirical NTK
    of its data, a new Cholesky factorisation, and the MMD from the raw kernel matrices.
(c) refactorise — (a)'s shared Θ₀ and block sums, but a new factorisation per coalition, to show
    what the incremental factor alone is worth.

(d) --permutations: permutation Monte Carlo (128 permutations, same seed) at K = 8, 10, 20, 50 through
    ``along_permutation`` (one factor per permutation, known prefixes and cached factors reused) vs the
    same utility called as a plain callable (the evaluator's coalition cache, then one solve per
    coalition from its longest cached sorted prefix); values must agree.

Usage: python bench/davinz_shapley.py --contributors 10 [--per 60] [--data digits]
       python bench/davinz_shapley.py --permutations [--per 25]
Last line: {"contributors":..., "coalitions":..., "ours_s":..., "scratch_s":..., "speedup":..., "max_rel_err":...}
       or  {"permutations": {K: {"along_s":..., "callable_s":..., "ratio":..., "max_rel_diff":...}}}
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from trainfree.data import load, split_contributors
from trainfree.kernels import empirical_ntk, mmd
from trainfree.semivalues import exact_shapley, permutation_shapley
from trainfree.training import make_model
from trainfree.valuation import NtkOptions
from trainfree.valuation.davinz import DavinzUtility, davinz_value


class FromScratch:
    """ν(C) recomputed from the coalition's raw data, sharing nothing but κ and σ with ``ref``."""

    def __init__(self, contributors, X_val, model, ref: DavinzUtility):
        self.parts, self.model, self.ref = contributors, model.double(), ref
        self.T = torch.as_tensor(X_val, dtype=torch.float64)

    def __call__(self, coalition):
        if not coalition:
            return self.ref(())
        X = torch.as_tensor(np.concatenate([self.parts[i].X for i in coalition]), dtype=torch.float64)
        y = torch.as_tensor(np.concatenate([self.parts[i].y for i in coalition]))
        with torch.no_grad():
            r = 1.0 - self.model.eval()(X).gather(1, y[:, None])[:, 0]
        theta = empirical_ntk(self.model, X, out1=y)
        theta.diagonal().add_(self.ref.jitter_abs)  # the same absolute jitter as the shared Θ₀
        L = torch.linalg.cholesky(theta)
        z = torch.linalg.solve_triangular(L, r[:, None], upper=False)
        ntk_term = float(np.sqrt(float(z.square().sum()) / len(y)))
        return davinz_value(ntk_term, mmd(self.T, X, bandwidth=self.ref.bandwidth), self.ref.kappa)


def permutation_paths(per: int, data_name: str, seed: int, n_perms: int = 128) -> dict:
    """(d): along_permutation vs the plain callable, fresh utilities, for K = 8, 10, 20, 50."""
    out = {}
    for K in (8, 10, 20, 50):
        data = load(data_name, n=K * per + 300, random_state=seed)
        parts = split_contributors(data.X[:-300], data.y[:-300], K, how="random", random_state=seed)
        pairs, X_val = [(p.X, p.y) for p in parts], data.X[-300:]
        model = make_model("mlp", (data.X.shape[1],), len(data.classes), width=128, random_state=seed)
        times, values = {"along": np.inf, "callable": np.inf}, {}
        for _ in range(3 if K <= 10 else 1):  # best of 3 where a run takes about a second (loaded machine)
            for path in ("along", "callable"):
                u = DavinzUtility(pairs, X_val, model=model, nu="paper")  # fresh caches for every run
                utility = u if path == "along" else (lambda c, u=u: u(c))
                t = time.perf_counter()
                res = permutation_shapley(utility, K, max_permutations=n_perms, tolerance=None, random_state=seed)
                times[path], values[path] = min(times[path], time.perf_counter() - t), res.values
        diff = float(np.max(np.abs(values["along"] - values["callable"])) / np.max(np.abs(values["callable"])))
        out[K] = {"along_s": round(times["along"], 2), "callable_s": round(times["callable"], 2),
                  "ratio": round(times["callable"] / times["along"], 2), "max_rel_diff": diff}
        print(f"K = {K:2d} ({K * per} examples, {n_perms} permutations): along_permutation {times['along']:.2f} s, "
              f"plain callable {times['callable']:.2f} s ({out[K]['ratio']}x); max rel. diff {diff:.1e}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contributors", type=int, default=10)
    ap.add_argument("--per", type=int, default=60, help="examples per contributor")
    ap.add_argument("--data", default="digits")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--permutations", action="store_true", help="(d): the permutation paths at K = 8, 10, 20, 50")
    args = ap.parse_args()
    if args.permutations:
        print(json.dumps({"permutations": permutation_paths(args.per, args.data, args.seed)}))
        return
    K = args.contributors
    data = load(args.data, n=K * args.per + 300, random_state=args.seed)
    X, y = data.X, data.y
    parts = split_contributors(X[:-300], y[:-300], K, how="random", random_state=args.seed)
    X_val = X[-300:]
    model = make_model("mlp", (X.shape[1],), len(data.classes), width=128, random_state=args.seed)
    pairs = [(p.X, p.y) for p in parts]
    DavinzUtility(pairs[:2], X_val[:5], model=model, nu="paper")  # warm-up: torch.func's first call is slow

    t = time.perf_counter()
    ours = DavinzUtility(pairs, X_val, model=model, nu="paper")  # the ν FromScratch restates
    setup_s = time.perf_counter() - t
    res = exact_shapley(ours, K)
    ours_s = time.perf_counter() - t
    print(f"trainfree: set-up (NTK of the union, kernel block sums) {setup_s:.2f} s, "
          f"{res.n_evaluations} coalitions, total {ours_s:.2f} s")

    t = time.perf_counter()
    refac = exact_shapley(DavinzUtility(pairs, X_val, model=model, nu="paper", ntk=NtkOptions(from_scratch=True)), K)
    refac_s = time.perf_counter() - t
    print(f"refactorise every coalition (shared Θ₀ and block sums): {refac_s:.2f} s")

    t = time.perf_counter()
    scratch = exact_shapley(FromScratch(parts, X_val, model, ours), K)
    scratch_s = time.perf_counter() - t
    print(f"from scratch (NTK, factorisation and MMD per coalition): {scratch_s:.2f} s")

    err = float(np.max(np.abs(res.values - scratch.values) / np.abs(scratch.values)))
    err_refac = float(np.max(np.abs(res.values - refac.values) / np.abs(refac.values)))
    print(f"speedup {scratch_s / ours_s:.1f}x vs from scratch, {refac_s / ours_s:.2f}x vs refactorising; "
          f"max rel. error {err:.1e} (vs scratch), {err_refac:.1e} (vs refactorising)")
    print("Shapley values:", np.array2string(res.values, precision=4))
    print(json.dumps({"contributors": K, "coalitions": res.n_evaluations, "ours_s": round(ours_s, 3),
                      "refactorise_s": round(refac_s, 3), "scratch_s": round(scratch_s, 3),
                      "speedup": round(scratch_s / ours_s, 1), "max_rel_err": err,
                      "max_rel_err_refactorise": err_refac}))


if __name__ == "__main__":
    main()
