"""Per-example GraNd throughput: per-layer norm identities vs. one backward pass per example.

The small CNN (``make_model("cnn", (1, 28, 28), 10)``) at initialisation, on Fashion-MNIST, on CPU:
(a) fast path — one batched backward of the summed per-example losses, norms from the Linear and
    Conv2d identities (trainfree.scores._per_example_grad, method="fast");
(b) loop — for each of the first ``--n-loop`` examples, its own forward and backward, the norm of
    the full gradient.
Both run on the same examples; the max relative difference of the norms is reported. For scale, also
one plain batched forward + backward (summed gradients) and a forward pass alone over the same data.

Usage: python bench/grand_speed.py [--n 2000] [--n-loop 200] [--batch 256] [--dtype float32] [--threads 1]
Last line: {"n":..., "fast_ex_per_s":..., "loop_ex_per_s":..., "speedup":..., "max_rel_diff":...,
            "batched_fwd_bwd_ex_per_s":..., "forward_ex_per_s":...}
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from trainfree.data import load
from trainfree.scores._per_example_grad import grad_norms
from trainfree.training import make_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--n-loop", type=int, default=200)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: on a shared, loaded machine OpenMP threads that wait for "
                         "each other make small per-example calls 100x slower; 0 keeps torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)

    data = load("fmnist", n=args.n, random_state=args.seed)
    X = torch.as_tensor(np.asarray(data.X).reshape(-1, 1, 28, 28), dtype=dtype)
    y = torch.as_tensor(np.unique(np.asarray(data.y), return_inverse=True)[1])
    net = make_model("cnn", (1, 28, 28), 10, random_state=args.seed).to(dtype)

    grad_norms(net, X[:args.batch], y[:args.batch], batch_size=args.batch, method="fast")  # warm-up
    t = time.perf_counter()
    fast, _ = grad_norms(net, X, y, batch_size=args.batch, method="fast")
    fast_s = time.perf_counter() - t

    # The floor the fast path cannot beat: one plain batched forward and backward (parameter gradients
    # summed over the batch, no per-example anything), and a forward pass alone.
    net.eval()
    t = time.perf_counter()
    for xb, yb in zip(X.split(args.batch), y.split(args.batch)):
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(xb), yb, reduction="sum").backward()
    step_s = time.perf_counter() - t
    t = time.perf_counter()
    with torch.no_grad():
        for xb in X.split(args.batch):
            net(xb)
    forward_s = time.perf_counter() - t
    net.zero_grad()

    m = min(args.n_loop, len(X))
    t = time.perf_counter()
    loop, _ = grad_norms(net, X[:m], y[:m], method="loop")
    loop_s = time.perf_counter() - t

    fast_rate, loop_rate = len(X) / fast_s, m / loop_s
    rel = float(np.max(np.abs(fast[:m] - loop) / loop))
    print(f"threads: {torch.get_num_threads()}, dtype {args.dtype}, batch {args.batch}")
    print(f"fast path: {len(X)} examples in {fast_s:.3f} s = {fast_rate:,.0f} examples/s")
    print(f"loop:      {m} examples in {loop_s:.3f} s = {loop_rate:,.0f} examples/s")
    print(f"batched forward+backward (summed gradients, the floor): {len(X) / step_s:,.0f} examples/s; "
          f"forward only: {len(X) / forward_s:,.0f} examples/s")
    print(f"speedup {fast_rate / loop_rate:.1f}x, max relative difference of the norms {rel:.2e}")
    print(json.dumps({"n": len(X), "n_loop": m, "dtype": args.dtype, "batch": args.batch,
                      "threads": torch.get_num_threads(),
                      "fast_ex_per_s": round(fast_rate, 1), "loop_ex_per_s": round(loop_rate, 1),
                      "speedup": round(fast_rate / loop_rate, 2), "max_rel_diff": rel,
                      "batched_fwd_bwd_ex_per_s": round(len(X) / step_s, 1),
                      "forward_ex_per_s": round(len(X) / forward_s, 1)}))


if __name__ == "__main__":
    main()
