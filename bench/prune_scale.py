"""Which score prunes best? Pruning curves of every score, plain and coverage-centric, up to the papers' scale.

Usage: python bench/prune_scale.py [--n 60000 --test 10000 --epochs 10 --fractions 0.1,0.3,0.5,0.7,0.9
                                    --runs 3 --seeds 3 --el2n-epochs 20 --forgetting-epochs 20
                                    --model cnn --device cpu --sampling top,ccs --hard-cut 0.1 --strata 50
                                    --checkpoint out/prune-scale --plot out/prune-scale.png --seed 0
                                    --no-class-balanced --grand-epochs 3 --cg-method exact]
The CG-score paper's protocol (its Fig. 2) on Fashion-MNIST: `--n` training images (all 60 000 by
default), the same share removed from every class, every pruned set trained from scratch for the same
number of optimiser steps (those of `--epochs` epochs on the full set), `--runs` paired runs. Scores
of the training rows: the CG-score (`--cg-method large`, no training), the mislabel detector
(`method="auto"`), EL2N after `--el2n-epochs` epochs (20, as Kirsch 2023 and the CG-score paper),
forgetting over `--forgetting-epochs` epochs, GraNd at initialisation (`--seeds` networks each; also
after `--grand-epochs` epochs when given), the input norm ‖x‖, and random subsets. Each score prunes by
the plain cut in both directions (keep_hard: drop the lowest scores; keep_easy: the highest) and by
coverage-centric selection (`--sampling ccs`: drop the `--hard-cut` highest, sample evenly across
`--strata` score strata). A killed run resumes from `--checkpoint` (the scores and every finished
training run are saved there).
Prints the accuracy table (mean ± standard error over runs; `*` where a selection beats random by at
least two standard errors of the difference) and the Spearman correlations between the scores, writes
the curves as a PNG (the CG-score paper's Fig. 2 redrawn, plus a CCS panel), and, last line, one JSON
object. `--no-class-balanced --sampling top` is the Data Diet setting of the small benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from trainfree.data import load, load_fashion_mnist
from trainfree.experiments import pruning_curve, score_correlations, score_dataset

SCORES = ("cg", "mislabel", "el2n", "forgetting", "grand_init", "input_norm")
LABELS = {"cg": "CG-score", "mislabel": "detector", "el2n": "EL2N", "forgetting": "forgetting",
          "grand_init": "GraNd (init)", "input_norm": "‖x‖", "random": "random"}


def score_rows(train, name: str, args, folder: Path) -> np.ndarray:
    """One score of every training row, saved in ``folder`` so that a rerun reuses it."""
    path = folder / f"{name}.npy"
    if path.exists():
        return np.load(path)
    if name == "input_norm":
        s = np.linalg.norm(train.X, axis=1)
    else:
        dd = dict(model=args.model, n_seeds=args.seeds, device=args.device)
        if name.startswith("grand_ep"):
            options = dict(score="grand", epochs=int(name[len("grand_ep"):]), **dd)
        else:
            options = {"cg": dict(score="cg", method=args.cg_method),
                       "mislabel": dict(score="mislabel", method="auto"),
                       "el2n": dict(score="el2n", epochs=args.el2n_epochs, **dd),
                       "forgetting": dict(score="forgetting", epochs=args.forgetting_epochs, **dd),
                       "grand_init": dict(score="grand", epochs=0, **dd)}[name]
        s = np.asarray(score_dataset(train, random_state=args.seed, **options).scores, dtype=float)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(path, s)
    return s


def versus_random(df, runs: dict[str, list[float]]) -> dict[str, dict[str, tuple[float, float, bool]]]:
    """Each (score, direction) row against random at the same share, paired by run (run k of every row starts
    from the same weights): the mean difference, its standard error over runs, and whether it is >= 2 of them."""
    out: dict[str, dict[str, tuple[float, float, bool]]] = {}
    for _, r in df[df["score"] != "random"].iterrows():
        f = f"{r['fraction_pruned']:g}"
        diff = np.subtract(runs[r["player"]], runs[f"random/random/{f}"])
        se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
        win = bool(np.isfinite(se) and diff.mean() >= 2 * se and diff.mean() > 0)
        out.setdefault(f"{r['score']}/{r['direction']}", {})[f] = (float(diff.mean()), se, win)
    return out


def plot(df, full: float, full_se: float, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("keep_hard", "(a) removing the lowest scores first"),
              ("keep_easy", "(b) removing the highest scores first"),
              ("ccs", "(c) coverage-centric selection")]
    panels = [p for p in panels if (df["direction"] == p[0]).any()]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), sharey=True, squeeze=False)
    rnd = df[df["score"] == "random"].sort_values("fraction_pruned")
    for ax, (direction, name) in zip(axes[0], panels):
        ax.axhline(full, color="black", lw=1, ls="--", label=f"full set ({full:.3f})")
        ax.axhspan(full - full_se, full + full_se, color="black", alpha=0.08)
        ax.errorbar(rnd["fraction_pruned"], rnd["value"], yerr=rnd["stderr"], color="grey", marker="o", ms=3,
                    capsize=2, label="random")
        for score in dict.fromkeys(df["score"]):
            g = df[(df["score"] == score) & (df["direction"] == direction)].sort_values("fraction_pruned")
            if len(g) and score != "random":
                ax.errorbar(g["fraction_pruned"], g["value"], yerr=g["stderr"], marker="o", ms=3, capsize=2,
                            label=LABELS.get(score, score), lw=2 if score == "cg" else 1)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("share of the training set removed")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy")
    axes[0][-1].legend(fontsize=8, loc="lower left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--n", type=int, default=60000, help="training images (class-balanced subsample)")
    ap.add_argument("--test", type=int, default=10000, help="test images")
    ap.add_argument("--epochs", type=int, default=10, help="epochs of the full set: every run's step budget")
    ap.add_argument("--fractions", default="0.1,0.3,0.5,0.7,0.9")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=3, help="networks averaged by EL2N, forgetting and GraNd")
    ap.add_argument("--el2n-epochs", type=int, default=20)
    ap.add_argument("--forgetting-epochs", type=int, default=20)
    ap.add_argument("--grand-epochs", type=int, default=0, help="also GraNd after this many epochs (0: not)")
    ap.add_argument("--cg-method", default="large", choices=["exact", "stochastic", "large"])
    ap.add_argument("--scores", default=",".join(SCORES), help="comma-separated subset of " + ",".join(SCORES))
    ap.add_argument("--sampling", default="top,ccs", help="top (the plain cut, both directions), ccs")
    ap.add_argument("--hard-cut", type=float, default=0.1, help="CCS's β")
    ap.add_argument("--class-balanced", action=argparse.BooleanOptionalAction, default=True,
                    help="remove the same share from every class")
    ap.add_argument("--strata", type=int, default=50, help="CCS's number of strata")
    ap.add_argument("--model", default="cnn", choices=["cnn", "mlp", "resnet18_cifar"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--checkpoint", default="out/prune-scale", help="folder of saved scores and training runs")
    ap.add_argument("--plot", default="out/prune-scale.png")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    train = load("fmnist", n=None if args.n >= 60000 else args.n, random_state=args.seed)
    test = load_fashion_mnist(split="test", n=None if args.test >= 10000 else args.test, random_state=args.seed + 1)
    names = [s for s in args.scores.split(",") if s]
    bad = sorted(set(names) - set(SCORES))
    if bad:
        sys.exit(f"unknown --scores {bad}; choose from {','.join(SCORES)}")
    if args.grand_epochs:
        names.insert(names.index("grand_init") + 1 if "grand_init" in names else len(names),
                     f"grand_ep{args.grand_epochs}")
    folder = Path(args.checkpoint)
    scores, seconds = {}, {}
    for name in names:
        t = time.perf_counter()
        scores[name] = score_rows(train, name, args, folder / f"scores-{len(train)}-seed{args.seed}")
        seconds[name] = time.perf_counter() - t
        print(f"scored {name} in {seconds[name]:.1f} s", file=sys.stderr, flush=True)
    fractions = tuple(float(f) for f in args.fractions.split(","))
    t = time.perf_counter()
    res = pruning_curve(train, test, scores, fractions=fractions, sampling=args.sampling.split(","),
                        hard_cut=args.hard_cut, n_strata=args.strata, class_balanced=args.class_balanced,
                        model=args.model,
                        epochs=args.epochs, n_runs=args.runs, device=args.device, random_state=args.seed,
                        checkpoint=folder / "curve", progress=os.isatty(2))
    train_s = time.perf_counter() - t
    full, full_se = res.metrics["full_accuracy"], res.metrics["full_stderr"]
    df = res.to_dataframe()
    versus = versus_random(df, res.metrics["runs"])
    balance = "same share pruned in every class" if args.class_balanced else "not class-balanced"
    print(f"Fashion-MNIST: {len(train)} training images, {len(test)} test images, model {args.model}, step budget "
          f"of {args.epochs} epochs on the full set, {balance}, {args.runs} paired runs; "
          f"CCS β = {args.hard_cut:g}, {args.strata} strata; full data: test accuracy {full:.4f} ± {full_se:.4f}")
    print(f"{'score/direction':<24}" + "".join(f"{f'pruned {f:.0%}':>17}" for f in fractions))
    table: dict[str, dict[str, list]] = {}
    for (score, direction), g in df.groupby(["score", "direction"], sort=False):
        g = g.sort_values("fraction_pruned")
        key = f"{score}/{direction}"
        vs = [versus.get(key, {}).get(f"{f:g}", (0.0, float("nan"), False)) for f in g["fraction_pruned"]]
        marks = [m for _, _, m in vs]
        table[key] = {"accuracy": g["value"].round(4).tolist(),
                      "stderr": [round(float(e), 4) if np.isfinite(e) else None for e in g["stderr"]],
                      "minus_random": [round(d, 4) for d, _, _ in vs],
                      "minus_random_stderr": [round(e, 4) if np.isfinite(e) else None for _, e, _ in vs],
                      "beats_random": marks}
        cells = "".join(f"{f'{v:.4f}±{e:.4f}' + ('*' if m else ' '):>17}"
                        for v, e, m in zip(g["value"], g["stderr"], marks))
        print(f"{key:<24}{cells}")
    print("* beats random at the same share by >= 2 standard errors of the paired difference")
    high_shares = [f for f in fractions if f >= 0.7]
    if high_shares:
        print("paired difference to random (mean ± standard error over runs):")
        print(f"{'score/direction':<24}" + "".join(f"{f'pruned {f:.0%}':>17}" for f in high_shares))
        for key, v in versus.items():
            cells = [v[f"{f:g}"] for f in high_shares]
            print(f"{key:<24}" + "".join(f"{f'{d:+.4f}±{e:.4f}':>17}" for d, e, _ in cells))
    high = {k: [f for f, (_, _, m) in v.items() if m and float(f) >= 0.7] for k, v in versus.items()}
    high = {k: v for k, v in high.items() if v}
    print("beats random at 70% or 90% pruning: " + (", ".join(f"{k} at {'/'.join(v)}" for k, v in high.items())
                                                   or "none"))
    corr = score_correlations(scores) if len(scores) >= 2 else None
    if corr is not None:
        print("Spearman correlations between scores:")
        for p, v in zip(corr["player"], corr.values):
            print(f"  {p:<36}{v:>7.3f}")
    plot(df, full, full_se, Path(args.plot), f"Fashion-MNIST {len(train)} images, {args.model}, {args.runs} runs, "
         f"{'class-balanced' if args.class_balanced else 'not class-balanced'}, fixed step budget")
    print(f"curves: {args.plot}; (scoring {sum(seconds.values()):.0f} s, training {train_s:.0f} s, "
          f"total {time.perf_counter() - t0:.0f} s)")
    print(json.dumps({"data": "fmnist", "n": len(train), "n_test": len(test), "model": args.model,
                      "epochs": args.epochs, "runs": args.runs, "fractions": list(fractions),
                      "hard_cut": args.hard_cut, "strata": args.strata, "class_balanced": args.class_balanced,
                      "full_accuracy": round(full, 4),
                      "full_stderr": round(full_se, 4), "curves": table, "beats_random_at_70_or_90": high,
                      "spearman": {} if corr is None else {p: round(float(v), 4)
                                                           for p, v in zip(corr["player"], corr.values)},
                      "seconds": {"scores": {k: round(v, 1) for k, v in seconds.items()},
                                  "training": round(train_s, 1), "total": round(time.perf_counter() - t0, 1)}}))


if __name__ == "__main__":
    main()
