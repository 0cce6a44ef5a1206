"""Which ν sees both dataset size and label quality? NTK-term variants against trained test accuracy.

Usage: python bench/davinz_nu_variants.py --settings noise:0,noise:1,size:0,size:1 --device cuda --cache /tmp/nu
           [--repeats 3]   (ground truth: the mean test accuracy of 3 trainings per set)
           [--from-cache]  (the tables again from the terms a previous run saved in --cache; nothing recomputed)
           [--tuning noise:0,noise:1]  (print the rule's pick from these settings; the others are held out)
  noise: 30 Fashion-MNIST sets of 100–600 images (uniform), 0–50% flipped labels (davinz_groundtruth.py's default)
  size:  24 sets of 100–3 000 images (log-uniform), 0–50% flipped labels
Each setting's ground truth (one trained CNN per set, davinz_groundtruth) is computed once and cached in --cache;
the variants are then computed from one eigendecomposition per output kernel of each set. ν = −κ·term − MMD with
κ = Σ MMD / Σ term across the sets (the study's κ); rows "+thrMMD" use the thresholded MMD (0 unless the set's
inputs differ significantly from T's; DavinzUtility(mmd_estimator="thresholded")) with the same κ.
Variants: kernel own (paper) / all / mean (the per-output kernels averaged, every class's residual); ridge fixed
(ρ·d, d = mean diagonal of Θ₀) or size-scaled (ρ·d·m, DavinzUtility(size_ridge=ρ)); residual f-centred
(1[y=c] − f_c) or prior-centred (1[y=c] − 1/C); and the kernel-ridge leave-one-out error instead of the
quadratic form.
The summary compares, per setting, the library's default ν (nu="recommended"), the earlier recommendation (all
outputs, ρ = 1e-4), the paper's ν and VP (the trained networks' own validation accuracy, which needs the training).
Last line: {"<variant>": {"<setting>": [pearson_nu, spearman_nu, pearson_term, spearman_term]}, "summary": {...},
            "check": ...}
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pandas as pd
import torch
from scipy.stats import pearsonr, spearmanr

from trainfree._random import check_random_state, child
from trainfree.experiments.groundtruth import (GroundTruthTraining, _draw_datasets, davinz_groundtruth,
                                               groundtruth_splits)
from trainfree.result import load_result
from trainfree.training import input_shape, make_model
from trainfree.valuation import DavinzUtility, NuOptions
from trainfree.valuation.davinz_options import NU_PRESETS

SETTINGS = {"noise": dict(n_datasets=30, sizes=(100, 600), size_scale="linear"),
            "size": dict(n_datasets=24, sizes=(100, 3000), size_scale="log"),
            "tiny": dict(n_datasets=4, sizes=(40, 80), size_scale="linear")}
RIDGES = [("f", 1e-6), ("f", 1e-2), ("f", 1.0), ("s", 1e-4), ("s", 3e-4), ("s", 1e-3), ("s", 1e-2)]
GCV_GRID = np.logspace(-6, 1, 22)  # ridges / d searched by the leave-one-out variants
# The term of nu="recommended" (the mean kernel's, computed beside the per-output ones), checked against DavinzUtility
WINNER = ("all", "mean:quad", "s", NU_PRESETS["recommended"]["size_ridge"])
SUMMARY = {"default (nu='recommended')": "_".join(map(str, WINNER)) + "+thrMMD",
           "all outputs, rho 1e-4 (earlier)": "all_quad_s_0.0001+thrMMD"}


def set_terms(u: DavinzUtility, y: np.ndarray, n_classes: int, spectra: dict | None = None) -> dict:
    """Every variant's NTK term of one dataset (the utility's only contributor).

    ``u.outputs == "all"`` also gives the ``mean`` kernel: the per-output NTKs averaged into one kernel that
    every class's residual uses (the multi-output NTK's Θ ⊗ I form).
    """
    theta = u.theta.clone()
    theta.diagonal(dim1=1, dim2=2).sub_(u.jitter_abs)
    d, m = u.diag_mean, len(y)
    prior = torch.nn.functional.one_hot(torch.as_tensor(y.astype(np.int64), device=theta.device), n_classes).T
    residuals = {"quad": u.residual}
    if len(theta) > 1:
        residuals["pquad"] = prior.to(theta.dtype) - 1.0 / n_classes
    kernels = {"": theta} if u.outputs == "own" else {"": theta, "mean:": theta.mean(0, keepdim=True)}
    out = {}
    for tag, th in kernels.items():
        lam, V = torch.linalg.eigh(th)  # (B, m), (B, m, m); B = 1 (own, mean) or C (all)
        for name, R in residuals.items():
            P = V.mT @ R[:, :, None] if len(th) == len(R) else (V[0].mT @ R.T).T[:, :, None]  # (C, m, 1)
            Vb = V if len(th) == len(R) else V.expand(len(R), -1, -1)
            if spectra is not None:  # enough for the quadratic form at any ridge: Σ P²/(λ + jitter + ridge)
                spectra[f"{u.outputs}/{tag}{name}"] = (lam.cpu().numpy(), P[..., 0].cpu().numpy())

            def terms(ridge):
                inv = 1.0 / (lam + u.jitter_abs + ridge)
                inv = inv if len(inv) == len(R) else inv.expand(len(R), -1)
                dinv = (Vb**2 * inv[:, None, :]).sum(2)
                alpha = (Vb @ (P * inv[..., None]))[..., 0]
                quad = float(np.sqrt(float((P[..., 0] ** 2 * inv).sum()) / m))
                return quad, float(((alpha / dinv) ** 2).sum(0).mean()) ** 0.5

            for scale, rho in RIDGES:
                q, loo = terms(rho * d * (m if scale == "s" else 1))
                out[(tag + name, scale, rho)] = q
                out[(tag + name.replace("quad", "loo"), scale, rho)] = loo
            # data-driven: the leave-one-out error at the ridge that minimises it (no tuned constant)
            grid = [terms(r * d)[1] for r in GCV_GRID]
            out[(tag + name.replace("quad", "loo"), "opt", 0)] = min(grid)
            out[(tag + name.replace("quad", "loo"), "argopt", 0)] = float(np.log10(GCV_GRID[int(np.argmin(grid))]))
    return out


def size_noise_ceiling(size: np.ndarray, noise_rate: np.ndarray, acc: np.ndarray) -> float:
    """Pearson of the accuracy with its least-squares fit on (log size, noise rate): what any ν that sees only
    the set's size and label-noise rate (linearly) could reach."""
    X = np.column_stack([np.ones(len(acc)), np.log(size), noise_rate])
    fit = X @ np.linalg.lstsq(X, acc, rcond=None)[0]
    return round(float(pearsonr(fit, acc)[0]), 3)


def correlate(table: dict, spec: str, terms: dict, mmd: np.ndarray, mmd_thr: np.ndarray, acc: np.ndarray) -> None:
    """Each variant's ν and bare term against the trained test accuracy, into ``table[variant][spec]``."""
    for key, t in terms.items():
        if "_argopt_" in key:  # the chosen ridge, saved with the terms, not a ν
            continue
        for suffix, shift in (("", mmd), ("+thrMMD", mmd_thr)):  # κ on the biased MMD's scale either way
            nu = -t * mmd.sum() / t.sum() - shift
            table.setdefault(key + suffix, {})[spec] = [
                round(float(f(a, acc)[0]), 3) for a in (nu, -t) for f in (pearsonr, spearmanr)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", default="noise:0,noise:1,size:0,size:1")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cache", default="bench_cache/nu_variants", help="folder for the trained ground truth")
    ap.add_argument("--repeats", type=int, default=1, help="trainings per set (batch orders); ground truth = mean")
    ap.add_argument("--from-cache", action="store_true", help="tables from the terms saved in --cache by a full run")
    ap.add_argument("--tuning", default="noise:0,noise:1",
                    help="settings the constants are chosen on: the pick maximises the worst min(Pearson, Spearman) "
                         "over them among the variants that cost one kernel per coalition (own or mean kernel)")
    args = ap.parse_args()
    table, checks, checked, baselines = {}, [], set(), {}
    checks_done = checked.__contains__  # the check runs on each setting's first set
    for spec in args.settings.split(","):
        name, seed_i = spec.split(":")
        cfg, seed_i = SETTINGS[name], int(seed_i)
        t0 = time.perf_counter()
        train, val, test = groundtruth_splits("fmnist", pool=12000, val_size=500, test_size=2000, random_state=seed_i)
        runs = f"_r{args.repeats}" if args.repeats > 1 else ""
        path = os.path.join(args.cache, f"groundtruth_{name}_{seed_i}{runs}.parquet")
        terms_path = os.path.join(args.cache, f"terms_{name}_{seed_i}{runs}.parquet")
        if args.from_cache:
            gt, saved = load_result(path), pd.read_parquet(terms_path)
            baselines[spec] = {**gt.metrics, "ceiling": size_noise_ceiling(saved["size"].to_numpy(),
                                                                           saved["noise_rate"].to_numpy(),
                                                                           saved["test_metric"].to_numpy())}
            correlate(table, spec, {c: saved[c].to_numpy() for c in saved.columns[5:]}, saved["mmd"].to_numpy(),
                      saved["mmd_thresholded"].to_numpy(), saved["test_metric"].to_numpy())
            continue
        if os.path.exists(path) and load_result(path).settings.get("even_batches"):
            gt = load_result(path)
        else:  # (ground truths trained before even batches are recomputed)
            gt = davinz_groundtruth(train, val, test, noise=(0.0, 0.5), nu="paper", device=args.device,
                                    training=GroundTruthTraining(repeats=args.repeats), random_state=seed_i, **cfg)
            gt.save(path)
        t1 = time.perf_counter()
        seed = check_random_state(seed_i)  # the study's draws and initialisation, from its seed
        shape = input_shape("cnn", train.image_shape, train.X.shape[1], name=train.name)
        init = make_model("cnn", shape, 10, random_state=child(seed, "model"))
        draws = _draw_datasets(train, cfg["n_datasets"], cfg["sizes"], (0.0, 0.5), cfg["size_scale"], 10,
                               child(seed, "datasets"))
        assert np.array_equal(gt["size"], [len(d[0]) for d in draws]), "cached ground truth of other draws"
        as_input = lambda A: A.reshape(len(A), *shape)  # noqa: E731
        terms, mmd, mmd_thr, spectra = {}, [], [], []
        for idx, y, _ in draws:
            spectra.append({})
            for outputs in ("own", "all"):
                u = DavinzUtility([(as_input(train.X[idx]), y)], as_input(val.X), model=init,
                                  nu=NuOptions("paper", outputs=outputs),
                                  bandwidth=gt.settings["bandwidth"], kappa=1.0, device=args.device,
                                  random_state=child(seed, "davinz"))
                spectra[-1][f"{outputs}/jitter_diag"] = (u.jitter_abs, u.diag_mean)
                for key, t in set_terms(u, y, 10, spectra[-1]).items():
                    terms.setdefault((outputs, *key), []).append(t)
                if (outputs, *WINNER[1:]) == WINNER and not checks_done(spec):  # the library computes the same terms
                    w = DavinzUtility([(as_input(train.X[idx]), y)], as_input(val.X), model=init, nu="recommended",
                                      bandwidth=gt.settings["bandwidth"], kappa=1.0, device=args.device,
                                      random_state=child(seed, "davinz"))
                    checks.append(abs(w.terms((0,))[0] / terms[WINNER][-1] - 1))
                    checked.add(spec)
                    checks.append(abs(w.terms((0,))[1] - u.mmd((0,), "thresholded")))
            mmd.append(u.terms((0,))[1])
            mmd_thr.append(u.mmd((0,), "thresholded"))
        mmd, mmd_thr, acc = np.array(mmd), np.array(mmd_thr), gt["test_metric"]
        torch.save(spectra, os.path.join(args.cache, f"spectra_{name}_{seed_i}{runs}.pt"))  # for other ridges, offline
        terms = {"_".join(map(str, k)): np.array(v) for k, v in terms.items()}
        pd.DataFrame({"size": gt["size"], "noise_rate": gt["noise_rate"], "test_metric": acc, "mmd": mmd,
                      "mmd_thresholded": mmd_thr, **terms}).to_parquet(terms_path)  # each set's terms, for study
        baselines[spec] = {**gt.metrics, "ceiling": size_noise_ceiling(gt["size"], gt["noise_rate"], acc)}
        correlate(table, spec, terms, mmd, mmd_thr, acc)
        print(f"{spec}: ground truth {t1 - t0:.0f} s (cached: {os.path.exists(path)}), variants "
              f"{time.perf_counter() - t1:.0f} s; VP {gt.metrics['VP_pearson']:.3f}/{gt.metrics['VP_spearman']:.3f}"
              + (f"; one run vs another {gt.metrics['repeat_pearson']:.3f}/{gt.metrics['repeat_spearman']:.3f}"
                 if "repeat_pearson" in gt.metrics else ""), flush=True)
    specs = args.settings.split(",")
    print(f"{'variant (kernel_residual_ridge)':32s}" + "".join(f"{s:>26s}" for s in specs) + "   (ν P/S, term P/S)")
    for key, row in sorted(table.items(), key=lambda kv: -min(min(v[:2]) for v in kv[1].values())):
        print(f"{key:32s}" + "".join(f"  {v[0]:+.2f}/{v[1]:+.2f} ({v[2]:+.2f}/{v[3]:+.2f})" for v in row.values()))
    tuning = [s for s in args.tuning.split(",") if s in specs]
    admissible = {k: v for k, v in table.items() if k.endswith("+thrMMD") and "_argopt_" not in k
                  and (k.startswith("own_") or k.startswith("all_mean:"))}  # one kernel: the default's cost
    if tuning:
        pick = max(admissible, key=lambda k: min(min(admissible[k][s][:2]) for s in tuning))
        print(f"\nthe rule's pick on {','.join(tuning)}: {pick} (the default: {SUMMARY[next(iter(SUMMARY))]})")
    summary = {label: {spec: table[key][spec][:2] for spec in specs} for label, key in SUMMARY.items()}
    summary["paper's nu"] = {spec: [round(b["pearson"], 3), round(b["spearman"], 3)] for spec, b in baselines.items()}
    summary["VP (trained)"] = {spec: [round(b["VP_pearson"], 3), round(b["VP_spearman"], 3)]
                               for spec, b in baselines.items()}
    # Not a ν: the accuracy's own least-squares fit on (log size, noise rate), Pearson only
    summary["fit on log size + noise rate"] = {spec: [b["ceiling"], None] for spec, b in baselines.items()}
    print("\nsummary, Pearson / Spearman with the trained test accuracy")
    print(f"{'':34s}" + "".join(f"{s:>16s}" for s in specs))
    for label, row in summary.items():
        print(f"{label:34s}" + "".join(f"     {p:.3f}/" + ("  -  " if q is None else f"{q:.3f}")
                                       for p, q in row.values()))
    print(json.dumps({**table, "summary": summary,
                      "check_recommended_max_diff": float(max(checks)) if checks else None}))


if __name__ == "__main__":
    main()
