"""Conjugate-gradient iterations of the large-n CG engine under different Nyström preconditioners.

Usage: flock /tmp/trainfree-heavy.lock python bench/cg_precond.py --n 20000 [--noise 0.2] \
           [--variants uniform:1000,rpc:1000,rpc:2000,uniform:3000]
On a class-balanced Fashion-MNIST sample with a share --noise of labels flipped (the set-up of
bench/cg_large.py), H is held dense in float32 (n² × 4 bytes: 1.6 GB at 20 000) and the ten one-vs-rest
columns are solved by the engine's PCG with each preconditioner: "uniform:r" takes r landmarks uniformly
at random, "rpc:r" by randomly pivoted Cholesky (blocks of 250, the engine's choice). Prints the iterations
at which the largest relative residual first falls below 1e-2, 3e-3, 1e-3 and 1e-4, and the seconds to
build each preconditioner (on a shared machine read those as ratios within a run).
Last line: {"n":..., "noise":..., "variants": {"rpc:2000": {"1e-3": 28, ...}, ...}}
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from trainfree._random import check_random_state
from trainfree.data import load
from trainfree.experiments.noise import flip_labels
from trainfree.kernels import arccos_gram, arccos_lower_blocks
from trainfree.linalg import nystrom_preconditioner, one_vs_rest, rp_cholesky
from trainfree.scores.cg import unit_rows

TOLS = (1e-2, 3e-3, 1e-3, 1e-4)


def crossings(matvec, precond, B: torch.Tensor, max_iter: int) -> dict[str, int]:
    """The PCG recurrence of trainfree.linalg.conjugate_gradients, recording when each tolerance is first met."""
    X, R = torch.zeros_like(B), B.clone()
    bnorm = B.norm(dim=0)
    Z = precond(R)
    P, rz, hit = Z.clone(), (R * Z).sum(0), {}
    for it in range(1, max_iter + 1):
        AP = matvec(P)
        step = rz / (P * AP).sum(0)
        X += step * P
        R -= step * AP
        res = float((R.norm(dim=0) / bnorm).max())
        hit.update({f"{t:g}": it for t in TOLS if res <= t and f"{t:g}" not in hit})
        if res <= TOLS[-1]:
            break
        Z = precond(R)
        rz_new = (R * Z).sum(0)
        P = Z + (rz_new / rz) * P
        rz = rz_new
    return hit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", default="uniform:1000,rpc:1000,rpc:2000,uniform:3000")
    ap.add_argument("--max-iter", type=int, default=400)
    args = ap.parse_args()
    seed = check_random_state(args.seed)
    data = load("fmnist", n=args.n, random_state=args.seed)
    y = flip_labels(data, args.noise, "symmetric", seed)[0] if args.noise else data.y
    codes = np.unique(y, return_inverse=True)[1]
    B = torch.from_numpy(one_vs_rest(codes, codes.max() + 1).astype(np.float64))
    Xt = torch.from_numpy(unit_rows(data.X, "center"))
    n = len(Xt)
    H = torch.empty(n, n, dtype=torch.float32)
    for s, e, block in arccos_lower_blocks(Xt):
        H[s:e, :e] = block
        H[:s, s:e] = block[:, :s].T

    def columns(S: np.ndarray) -> torch.Tensor:
        C = arccos_gram(Xt, Xt[S])
        C[S, torch.arange(len(S))] = 0.5
        return C

    out = {"n": n, "noise": args.noise, "variants": {}}
    for variant in args.variants.split(","):
        kind, rank = variant.split(":")
        rank = int(rank)
        t = time.perf_counter()
        rng = np.random.default_rng(args.seed)
        F, _ = rp_cholesky(columns, torch.full((n,), 0.5, dtype=torch.float64), rank, rng=rng,
                           block=rank if kind == "uniform" else 250)  # one block from a constant diagonal: uniform
        precond, info = nystrom_preconditioner(F)
        build = time.perf_counter() - t
        hit = crossings(lambda V: (H @ V.float()).double(), precond, B, args.max_iter)
        out["variants"][variant] = {**hit, "build_s": round(build, 1), "lambda_r": float(f"{info['lambda_r']:.3g}")}
        print(f"n={n} noise={args.noise} {variant}: iterations to 1e-2/3e-3/1e-3/1e-4 "
              f"{'/'.join(str(hit.get(f'{t:g}', '-')) for t in TOLS)}, build {build:.1f} s", flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
