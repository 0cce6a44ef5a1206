"""The largest exact CG-score that fits in memory (float64, one n×n buffer) and how long it takes.

Usage: flock /tmp/trainfree-heavy.lock python bench/cg_exact_max.py --memory-gib 24 --n 10000 20000
Times exact CG on Fashion-MNIST at each --n (each in a fresh process, with its peak resident memory),
computes the largest n whose need (``trainfree.linalg.arccos_solve.exact_need``) fits in 80% of --memory-gib
(the budget cg_score checks against) and in all of it, and extrapolates the time to that n as n³ from
the largest timed run. Run it where --n fits without starving the machine; the bound is arithmetic.
Last line: {"n_max_80pct":..., "n_max_all":..., "runs": [{"n":..., "seconds":..., "peak_mib":...}], "seconds_at_n_max":...}
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from trainfree.linalg.arccos_solve import exact_need

CHILD = """
import json, resource, sys, time
from trainfree.data import load
from trainfree.scores import cg_score
X, y = load("fmnist", n={n}, random_state=0)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
res = cg_score(X, y)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"n": {n}, "seconds": round(time.perf_counter() - t, 2), "peak_mib": round(peak / 1024),
                   "peak_above_start_mib": round((peak - base) / 1024),
                   "buffer_mib": round({n}**2 * 8 / 2**20)}}))
"""


def largest_n(budget_bytes: float, n_features: int = 784) -> int:
    lo, hi = 1, 10**6
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if exact_need(mid, n_features) <= budget_bytes else (lo, mid - 1)
    return lo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory-gib", type=float, default=24.0)
    ap.add_argument("--n", type=int, nargs="+", default=[10000, 20000], help="sizes to time (each must fit)")
    args = ap.parse_args()
    runs = []
    for n in args.n:
        out = subprocess.run([sys.executable, "-c", CHILD.format(n=n)], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"n={n}: {runs[-1]['seconds']} s, peak {runs[-1]['peak_mib']} MiB, of which "
              f"{runs[-1]['peak_above_start_mib']} MiB during cg_score (the n×n buffer alone: {runs[-1]['buffer_mib']} MiB)")
    mem = args.memory_gib * 2**30
    n80, nall = largest_n(0.8 * mem), largest_n(mem)
    last = runs[-1]
    t_max = last["seconds"] * (n80 / last["n"]) ** 3
    print(f"{args.memory_gib:g} GiB: largest exact n = {n80} within the 80% budget cg_score checks "
          f"({nall} using all of it); about {t_max / 60:.0f} min at {n80} (n³ from n={last['n']})")
    print(json.dumps({"load_avg_end": round(os.getloadavg()[0], 1), "memory_gib": args.memory_gib, "n_max_80pct": n80, "n_max_all": nall, "runs": runs,
                      "seconds_at_n_max": round(t_max), "extrapolated_from_n": last["n"]}))


if __name__ == "__main__":
    main()
