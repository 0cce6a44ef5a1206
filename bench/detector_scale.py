"""The mislabel detector at scale: the low-rank mode against the exact one, time against n, a Dask cluster.

Usage: python bench/detector_scale.py [--sizes 10000,60000] [--exact-max 10000] [--rank auto] [--block-rows auto]
                                      [--synthetic 100000,1000000] [--partitions 20] [--plot out/scale.png]
                                      [--device cpu]
Fashion-MNIST (random-CNN kernel, 20% symmetric noise, the same flips for both modes): for each n of --sizes,
the low-rank mode and, up to --exact-max, the exact mode, each in its own subprocess (time, peak resident
memory from ru_maxrss, AUROC of the flipped labels) and the Spearman correlation of their scores; the low-rank
mode once per value of --block-rows (its block correction; 0: plain Nyström), keyed "lowrank" for the first and
"lowrank_block_rows_<v>" for the others. Then
synthetic Gaussian classes (32 features, 10 classes, 20% flips) as a Dask array on a two-worker LocalCluster
(one thread each), for each n of --synthetic: time and the workers' peak memory. --plot writes time against
n on log–log axes. A small run (--sizes 2000 --synthetic 20000) takes well under a minute.
Last line: {"fmnist": {n: {"lowrank": {...}, "exact": {...}, "spearman": ...}}, "synthetic": {n: {...}}}
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from trainfree.data import inject_label_noise, load
from trainfree.metrics import auroc
from trainfree.scores import mislabel_score


def one_fmnist(n: int, method: str, rank: int | None, seed: int, out: str, block_rows="auto",
               device: str = "cpu") -> None:
    """Child process: score n Fashion-MNIST images by ``method``; save scores, print time/memory/AUROC."""
    data = load("fmnist", n=n if n < 60000 else None, random_state=seed)
    y, flipped = inject_label_noise(np.asarray(data.y), 0.2, random_state=seed + 1)
    X = np.asarray(data.X).reshape(len(y), 1, 28, 28)
    t = time.perf_counter()
    res = mislabel_score(X, y, method=method, rank=rank, block_rows=block_rows, random_state=seed, device=device)
    seconds = time.perf_counter() - t
    np.save(out, res.scores)
    blocks = {k: res.settings[k] for k in ("block_rows", "blocks", "block_largest", "rank_path", "solve_device")
              if k in res.settings}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    print(json.dumps({"seconds": round(seconds, 2), "peak_gib": round(peak, 3),
                      "auroc": round(float(auroc(res.scores, flipped)), 4), "rank": res.settings.get("rank"),
                      "ridge": res.settings["ridge"], **blocks, "timings": {k: round(v, 2) for k, v in res.timings.items()}}))


def run_child(n: int, method: str, rank: int | None, seed: int, tmp: str,
              block_rows: str = "auto", device: str = "cpu") -> tuple[dict, np.ndarray]:
    out = os.path.join(tmp, f"{method}-{n}-{block_rows}.npy")
    cmd = [sys.executable, __file__, "--child", f"{n}:{method}", "--seed", str(seed), "--child-out", out,
           "--block-rows", block_rows, "--device", device]
    if rank is not None:
        cmd += ["--rank", str(rank)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1]), np.load(out)


def synthetic(n: int, partitions: int, rank: int | None, seed: int, client) -> dict:
    """n rows of 10 Gaussian classes in 32 dimensions, made per partition on the workers; 20% flips."""
    import dask
    import dask.array as da

    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (10, 32))
    y = rng.integers(0, 10, n)
    noisy, flipped = inject_label_noise(y, 0.2, random_state=seed + 1)
    bounds = np.linspace(0, n, partitions + 1).astype(int)

    def make(labels: np.ndarray, lo: int) -> np.ndarray:
        return centres[labels] + np.random.default_rng([seed, lo]).normal(0, 1.0, (len(labels), 32))

    X = da.concatenate([da.from_delayed(dask.delayed(make)(y[a:b], int(a)), (int(b - a), 32), dtype=float)
                        for a, b in zip(bounds[:-1], bounds[1:])])
    t = time.perf_counter()
    res = mislabel_score(X, noisy, method="lowrank", rank=rank, random_state=seed)
    seconds = time.perf_counter() - t
    peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    return {"seconds": round(seconds, 2), "worker_peak_gib": round(max(peaks.values()), 3),
            "auroc": round(float(auroc(res.scores, flipped)), 4), "rank": res.settings["rank"],
            "ridge": res.settings["ridge"], "partitions": partitions}


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, rows, key in (("F-MNIST low-rank", results["fmnist"], "lowrank"),
                            ("F-MNIST exact", results["fmnist"], "exact"),
                            ("synthetic, Dask (2 workers)", results["synthetic"], None)):
        pts = sorted((int(n), (r[key] if key else r)["seconds"]) for n, r in rows.items() if not key or key in r)
        if pts:
            ax.plot(*zip(*pts), "o-", label=name)
    ax.set(xscale="log", yscale="log", xlabel="examples n", ylabel="seconds", title="Mislabel detector: time")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,60000", help="Fashion-MNIST sizes (60000: the whole training set)")
    ap.add_argument("--exact-max", type=int, default=10000, help="largest n also run exactly")
    ap.add_argument("--rank", default="auto", help="landmarks of the low-rank mode ('auto': its rule)")
    ap.add_argument("--block-rows", default="auto", help="low-rank block correction: rows per block, comma-"
                    "separated values each run ('auto': the library's default; 0: plain Nyström)")
    ap.add_argument("--synthetic", default="100000,1000000", help="synthetic Dask sizes ('' to skip)")
    ap.add_argument("--partitions", type=int, default=20, help="Dask partitions of the synthetic set")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="device of the Fashion-MNIST runs (cuda: the GPU check)")
    ap.add_argument("--plot", default=None, help="PNG path of the time-against-n plot")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    rank = None if args.rank == "auto" else int(args.rank)
    if args.child:
        n, method = args.child.split(":")
        return one_fmnist(int(n), method, rank, args.seed, args.child_out,
                          args.block_rows if args.block_rows == "auto" else int(args.block_rows), args.device)

    from scipy.stats import spearmanr

    results: dict = {"fmnist": {}, "synthetic": {}}
    with tempfile.TemporaryDirectory() as tmp:
        variants = [v for v in args.block_rows.split(",") if v]
        for n in (int(s) for s in args.sizes.split(",") if s):
            res, lows = results["fmnist"].setdefault(n, {}), {}
            for k, v in enumerate(variants):
                key = "lowrank" if k == 0 else f"lowrank_block_rows_{v}"
                res[key], lows[key] = run_child(n, "lowrank", rank, args.seed, tmp, v, args.device)
            if n <= args.exact_max:
                res["exact"], exact = run_child(n, "exact", None, args.seed, tmp, device=args.device)
                for key, low in lows.items():
                    tail = key.removeprefix("lowrank")
                    res[f"spearman{tail}"] = round(float(spearmanr(low, exact)[0]), 4)
                    res[f"auroc_gap{tail}"] = round(res[key]["auroc"] - res["exact"]["auroc"], 4)
                    res[f"time_ratio{tail}"] = round(res[key]["seconds"] / res["exact"]["seconds"], 3)
            print(f"F-MNIST n={n}: {results['fmnist'][n]}", flush=True)
    sizes = [int(s) for s in args.synthetic.split(",") if s]
    if sizes:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
                Client(cluster) as client:
            for n in sizes:
                results["synthetic"][n] = synthetic(n, args.partitions, rank, args.seed, client)
                print(f"synthetic n={n} on 2 workers: {results['synthetic'][n]}", flush=True)
        if len(sizes) > 1:
            a, b = sizes[0], sizes[-1]
            linear = results["synthetic"][a]["seconds"] * b / a
            results["synthetic_vs_linear"] = round(results["synthetic"][b]["seconds"] / linear, 3)
    if args.plot:
        plot(results, args.plot)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
