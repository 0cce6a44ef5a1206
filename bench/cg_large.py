"""Large-n CG-score (method="large") of Fashion-MNIST: time, peak memory, CG iterations and residual.

Usage: flock /tmp/trainfree-heavy.lock python bench/cg_large.py --n 60000 [--noise 0.2] [--seed 0]
--n 60000 is every training image. With --noise, a share of labels is flipped first and the noise-detection
figures of the README table are printed too (AUROC, flipped in top 20%, sign rule). The machine's load
average at start and end is printed: timings on a shared machine are only comparable under similar load.
Last line: {"n":..., "seconds":..., "peak_mib":..., "iterations":..., "residual":..., ...}
"""

from __future__ import annotations

import argparse
import json
import os
import resource

from trainfree.data import load
from trainfree.experiments import score_dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60000, help="examples (60000 = all of the training set)")
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk-size", type=int, default=2500)
    ap.add_argument("--chunk-repeats", type=int, default=2)
    ap.add_argument("--rank", type=int, default=None, help="preconditioner rank (default: the library's, n/20)")
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--dtype", default="float32", help="storage of the packed Gram triangle")
    ap.add_argument("--checkpoint", default=None, help="folder of finished work units (resumes a killed run)")
    args = ap.parse_args()
    load_start = os.getloadavg()[0]
    data = load("fmnist", n=None if args.n >= 60000 else args.n, random_state=args.seed)
    res = score_dataset(data, noise_rate=args.noise, method="large", chunk_size=args.chunk_size,
                        n_chunk_repeats=args.chunk_repeats, rank=args.rank, tol=args.tol, dtype=args.dtype,
                        checkpoint=args.checkpoint, random_state=args.seed)
    s, t = res.settings, res.timings
    out = {"n": len(data), "seconds": round(t["total_s"], 1), "peak_mib": round(resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024), "iterations": s["iterations"], "residual": float(f"{s['residual']:.3g}"),
        "converged": s["converged"], "chunk_size": s["chunk_size"], "n_chunks": s["n_chunks"],
        "n_chunk_repeats": s["n_chunk_repeats"], "rank": s["rank"], "gram_dtype": s["dtype"],
        **{k: round(v, 1) for k, v in t.items() if k in ("chunks_s", "gram_s", "preconditioner_s", "cg_s")},
        "load_avg_start": round(load_start, 1), "load_avg_end": round(os.getloadavg()[0], 1)}
    if args.noise:
        m = res.metrics
        out.update(auroc=round(m["auroc"], 4), found_at_20pct=round(m["found_at"][0.2], 4),
                   noisy_positive_frac=round(m["noisy_positive_frac"], 4),
                   clean_positive_frac=round(m["clean_positive_frac"], 4))
    print(f"fmnist n={out['n']} method=large: {out['seconds']} s (chunks {out.get('chunks_s')} s, Gram "
          f"{out.get('gram_s')} s, preconditioner {out.get('preconditioner_s')} s, CG {out.get('cg_s')} s), peak "
          f"{out['peak_mib']} MiB, {out['iterations']} iterations, residual {out['residual']:.2e}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
