"""The low-rank detector with and without a correction of K ≈ ΦΦᵀ (diagonal, or blocks), against the exact mode.

Usage: nice -n 5 python bench/lowrank_diag.py [--sizes 5000,10000] [--ranks 500,1000,2000] [--seed 0]
                                             [--block-rows 500,1000] [--no-grid] [--residual] [--random-blocks]
Fashion-MNIST (conv kernel, 20% symmetric noise, the same seed for every mode: the same random CNN and flips).
For each n: the exact detector (its own ridge search), then for each rank one Nyström factor (landmarks by
randomly pivoted Cholesky, as ``method="lowrank"``) scored (a) uncorrected, ridge by its one-eigendecomposition
search, (b) corrected, D = diag(k(x, x) − ‖φ‖²), at every ridge of the grid (one pass of ΦᵀΔ⁻¹Φ sums each):
the corrected leave-one-out log loss, AUROC of the flips and Spearman with the exact scores per ridge (and
the uncorrected ones at the same ridge, from the one eigendecomposition); then the two ways to choose the
corrected ridge: the uncorrected search's pick, or the corrected loss's own argmin (--no-grid skips (b)).
--block-rows: also a block correction K ≈ ΦΦᵀ + blockdiag(K_bb − Φ_bΦ_bᵀ) on k-means clusters of Φ's rows
of about that many rows, at the uncorrected search's ridge: the library's ``LowRankFactor.predict_blocks``
(what ``mislabel_score(method="lowrank", block_rows=...)`` runs; :mod:`trainfree.linalg.block_loo`). --random-blocks: the same with
blocks of random rows (the control). --residual: how diagonal the residual K − ΦΦᵀ is (:func:`residual_stats`).
Times are seconds within this run (factor; uncorrected search + prediction; one corrected pass).
Last line: {"n": {"exact": {...}, "rank": {"uncorrected": {...}, "corrected_at_uncorrected_ridge": {...},
"corrected_own_ridge": {...}, "corrected_path": [... per ridge, with the uncorrected AUROC/Spearman],
"blocks_<rows>": {...}, "random_blocks_<rows>": {...}, "residual": {...}}}}
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from scipy.stats import spearmanr

from trainfree._random import check_random_state
from trainfree._validation import check_examples
from trainfree.data import inject_label_noise, load
from trainfree.kernels import arccos_gram
from trainfree.linalg.block_loo import block_loo
from trainfree.linalg.loo_predictions import fit_temperature, log_loss
from trainfree.linalg.lowrank_loo import LowRankSpectrum, lowrank_loo
from trainfree.metrics import auroc
from trainfree.scores import mislabel_score
from trainfree.scores.cg import Preprocess
from trainfree.scores.mislabel import RIDGE_GRID
from trainfree.scores.mislabel_flags import detector_columns
from trainfree.scores.mislabel_inputs import kernel_inputs, resolve_kernel
from trainfree.scores.mislabel_lowrank import lowrank_factor


def diagonal_residual(Phi: torch.Tensor, kernel_diag: torch.Tensor) -> torch.Tensor:
    """D = k(xᵢ, xᵢ) − ‖φᵢ‖², clipped at 0: what ΦΦᵀ leaves unexplained of each row's own kernel value."""
    return (kernel_diag.to(torch.float64) - Phi.to(torch.float64).square().sum(1)).clamp_min(0.0)


def corrected_sums(Phi: torch.Tensor, Y: torch.Tensor, residual: torch.Tensor,
                   ridge: float) -> tuple[torch.Tensor, torch.Tensor]:
    """ΦᵀΔ⁻¹Φ (r × r) and ΦᵀΔ⁻¹Y (r × C), Δ = D + λ: sums over rows (blocks, partitions), one pass per λ."""
    w = 1.0 / (residual.to(torch.float64) + ridge)
    Phi = Phi.to(torch.float64)
    return Phi.T @ (w[:, None] * Phi), Phi.T @ (w[:, None] * Y.to(torch.float64))


def lowrank_loo_corrected(Phi: torch.Tensor, Y: torch.Tensor, residual: torch.Tensor, spectrum: LowRankSpectrum,
                          ridge: float) -> torch.Tensor:
    """Leave-one-out predictions F of the rows ``Phi`` for K = ΦΦᵀ + D (D = ``residual``) and ridge λ > 0.

    With Δ = D + λI, (ΦΦᵀ + Δ)⁻¹ = Δ⁻¹ − Δ⁻¹Φ(I + ΦᵀΔ⁻¹Φ)⁻¹ΦᵀΔ⁻¹ (Woodbury). Equivalently
    ΦΦᵀ + Δ = Δ^½(ΨΨᵀ + I)Δ^½ with Ψ = Δ^-½Φ: α = Δ^-½α', d = d'/Δ, so F = Δ^½ F' with F' the plain
    low-rank leave-one-out of (Ψ, Δ^-½Y) at ridge 1, whose ``spectrum`` is that of :func:`corrected_sums`
    summed over all rows at this λ.
    """
    root = (residual.to(torch.float64) + ridge).sqrt()[:, None]
    return root * lowrank_loo(Phi.to(torch.float64) / root, Y.to(torch.float64) / root, spectrum, 1.0)


def residual_stats(Phi: torch.Tensor, features: np.ndarray, rows: int = 1000) -> dict:
    """How diagonal E = K − ΦΦᵀ is: its mean diagonal against the mean row sum of |E_ij| off the diagonal, and
    the share of that off-diagonal mass in each row's 50 largest entries (median), ``rows`` rows at a time."""
    X = torch.as_tensor(features, dtype=torch.float64)
    diag, off, top = [], [], []
    for a in range(0, len(X), rows):
        E = arccos_gram(X[a:a + rows], X) - Phi[a:a + rows] @ Phi.T
        idx = torch.arange(len(E))
        diag.append(E[idx, a + idx].clone())
        E[idx, a + idx] = 0.0
        off.append(E.abs().sum(1))
        top.append(E.abs().topk(50, dim=1).values.sum(1) / off[-1])
    return {"diag_mean": round(float(torch.cat(diag).mean()), 4),
            "offdiag_abs_row_sum": round(float(torch.cat(off).mean()), 3),
            "top50_share_median": round(float(torch.cat(top).median()), 3)}


def quality(F: np.ndarray, codes, classes, flipped, exact_scores) -> dict:
    scores = detector_columns(F[None], codes, classes, "auto")[0]["score"]
    return {"auroc": round(float(auroc(scores, flipped)), 4),
            "spearman": round(float(spearmanr(scores, exact_scores)[0]), 4)}


def one_size(n: int, ranks: list[int], seed: int, block_rows: list[int], grid: bool, residual: bool,
             random_blocks: bool) -> dict:
    data = load("fmnist", n=n, random_state=seed)
    y, flipped = inject_label_noise(np.asarray(data.y), 0.2, random_state=seed + 1)
    X = np.asarray(data.X).reshape(len(y), 1, 28, 28)
    t = time.perf_counter()
    exact = mislabel_score(X, y, method="exact", random_state=seed)
    out: dict = {"exact": {"seconds": round(time.perf_counter() - t, 2), "ridge": exact.settings["ridge"],
                           "auroc": round(float(auroc(exact.scores, flipped)), 4)}}
    print(f"n={n} exact: {out['exact']}", flush=True)

    # the same features as mislabel_score(random_state=seed) builds
    root = check_random_state(seed)
    kernel, image = resolve_kernel(X, "auto")
    Xc, codes, classes = check_examples(X, y)
    features, scale = kernel_inputs(Xc, kernel, image, Preprocess.RAW, torch.device("cpu"), root)
    C = classes.size
    for r in ranks:
        t = time.perf_counter()
        factor = lowrank_factor(features, kernel, codes, C, rank=r, ridges=None, seed=root, budget=None)
        t_factor = time.perf_counter() - t
        t = time.perf_counter()
        g_un, _ = factor.search_ridge(RIDGE_GRID[1:], scale)
        F_un = factor.predict(g_un * scale)
        t_un = time.perf_counter() - t
        row: dict = {"rank": factor.info["rank"], "trace_residual": round(factor.info["rank_trace_residual"], 4),
                     "factor_s": round(t_factor, 2),
                     "uncorrected": {"ridge": g_un, "seconds": round(t_un, 2),
                                     **quality(F_un, codes, classes, flipped, exact.scores)}}
        Phi, Y = factor.Phi, torch.as_tensor(factor.Y)
        D = diagonal_residual(Phi, torch.full((n,), 0.5, dtype=torch.float64))  # H∞ of unit rows: diagonal ½
        pool = torch.as_tensor(factor.pool)
        if residual:
            row["residual"] = residual_stats(Phi, features)
            print(f"  rank {r} residual E = K − ΦΦᵀ: {row['residual']}", flush=True)
        for b in block_rows:  # K ≈ ΦΦᵀ + blockdiag(E_b) on k-means clusters of Φ, at the uncorrected search's ridge
            t = time.perf_counter()
            F, info = factor.predict_blocks(g_un * scale, b, root)  # the library's path (method="lowrank")
            row[f"blocks_{b}"] = {"ridge": g_un, "seconds": round(time.perf_counter() - t, 2),
                                  "clusters": info["blocks"], "largest": info["block_largest"],
                                  **quality(F, codes, classes, flipped, exact.scores)}
            print(f"  rank {r} k-means block correction ~{b} rows: {row[f'blocks_{b}']}", flush=True)
            if random_blocks:  # the control: blocks of unrelated rows, through the same algebra
                t = time.perf_counter()
                km = np.random.default_rng(seed).permutation(n) % -(-n // b)
                blocks = [np.flatnonzero(km == c) for c in range(km.max() + 1)]
                F, _ = block_loo(Phi, Y, blocks, lambda i: arccos_gram(torch.as_tensor(features[i],
                                                                                       dtype=torch.float64)),
                                 g_un * scale)
                row[f"random_blocks_{b}"] = {"ridge": g_un, "seconds": round(time.perf_counter() - t, 2),
                                             "clusters": len(blocks), "largest": max(len(i) for i in blocks),
                                             **quality(F.numpy(), codes, classes, flipped, exact.scores)}
                print(f"  rank {r} random block correction ~{b} rows: {row[f'random_blocks_{b}']}", flush=True)
        path = []
        for g in sorted((*RIDGE_GRID[1:], 0.2, 0.5)) if grid else ():  # the search's grid, two points near its pick
            plain = lowrank_loo(Phi, Y, factor.spectrum, g * scale).numpy()
            t = time.perf_counter()
            spec = LowRankSpectrum.from_sums(*corrected_sums(Phi, Y, D, g * scale))
            F = lowrank_loo_corrected(Phi, Y, D, spec, g * scale).numpy()
            seconds = time.perf_counter() - t
            tau = fit_temperature(F[pool], codes[pool])
            path.append({"ridge": g, "loo_log_loss": round(float(log_loss(F[pool], codes[pool], tau)), 5),
                         "seconds": round(seconds, 2), **quality(F, codes, classes, flipped, exact.scores),
                         "uncorrected": quality(plain, codes, classes, flipped, exact.scores)})
            print(f"  rank {r} corrected ridge {g}: {path[-1]}", flush=True)
        out[r] = row
        if not grid:
            continue
        on_grid = [p for p in path if p["ridge"] in RIDGE_GRID]  # what a search on the detector's grid sees
        own = min(on_grid, key=lambda p: p["loo_log_loss"])
        row.update(corrected_path=path, corrected_at_uncorrected_ridge=next(p for p in path if p["ridge"] == g_un),
                   corrected_own_ridge=own, median_diag_residual=round(float(D.median()), 5),
                   landmark_rows_zero_residual=int((D < 1e-6).sum()))
        out[r] = row
        print(f"n={n} rank {r}: factor {t_factor:.1f} s, uncorrected {row['uncorrected']}, corrected at its ridge "
              f"{row['corrected_at_uncorrected_ridge']}, corrected own ridge {own}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="5000,10000")
    ap.add_argument("--ranks", default="500,1000,2000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--block-rows", default="", help="rows per k-means cluster of the block correction, e.g. 500,1000")
    ap.add_argument("--no-grid", action="store_true", help="skip the diagonal correction's ridge grid")
    ap.add_argument("--residual", action="store_true", help="also how diagonal E = K − ΦΦᵀ is (residual_stats)")
    ap.add_argument("--random-blocks", action="store_true", help="also blocks of random rows (the control)")
    args = ap.parse_args()
    ranks = [int(r) for r in args.ranks.split(",") if r]
    blocks = [int(b) for b in args.block_rows.split(",") if b]
    results = {int(n): one_size(int(n), ranks, args.seed, blocks, not args.no_grid, args.residual, args.random_blocks)
               for n in args.sizes.split(",") if n}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
