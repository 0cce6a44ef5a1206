"""Which flags to act on: the detector's flag_mislabel (confident learning on its leave-one-out probabilities)
against flag_argmax and against confident learning (own implementation) on 5-fold logistic regression.

Usage: nice -n 10 python bench/flag_rules.py [--n 5000] [--seed 0] [--settings fmnist-sym20,...] [--no-peer]
The detector runs through trainfree.experiments.score_dataset (images: its conv kernel); the peer sees the same
flipped labels (asserted) and the flattened pixels in [0, 1], on one thread (bench/own_peers.py).
Prints a markdown table (precision / recall / F1 of each flag, the noise rate estimated against the true one)
then the F1 of other rules computed from the same result (bench variants), and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

from trainfree._random import check_random_state
from trainfree.data import load
from trainfree.experiments import score_dataset
from trainfree.experiments.noise import flip_labels

_spec = importlib.util.spec_from_file_location("own_peers", Path(__file__).with_name("own_peers.py"))
own_peers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(own_peers)

SETTINGS = {"fmnist-sym20": ("fmnist", 0.2, "symmetric"), "fmnist-sym40": ("fmnist", 0.4, "symmetric"),
            "fmnist-pair30": ("fmnist", 0.3, "pair"), "digits-sym20": ("digits", 0.2, "symmetric"),
            "digits-sym40": ("digits", 0.4, "symmetric"), "digits-pair30": ("digits", 0.3, "pair")}


def prf(flags, flipped) -> dict:
    """Precision, recall and F1 of boolean flags against the flipped labels.

    >>> prf(np.array([True, True, False, False]), np.array([True, False, True, False]))
    {'flagged': 2, 'precision': 0.5, 'recall': 0.5, 'f1': 0.5}
    """
    flags, flipped = np.asarray(flags, dtype=bool), np.asarray(flipped, dtype=bool)
    tp = int((flags & flipped).sum())
    p = tp / flags.sum() if flags.any() else float("nan")
    r = tp / flipped.sum() if flipped.any() else float("nan")
    return {"flagged": int(flags.sum()), "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if tp else 0.0}


def variants(res, y, flipped) -> dict:
    """Other rules from the same result: each given class's ``round(n_c × estimated rate_c)`` highest scores
    (prune by class), that with the argmax disagreeing, and the overall estimated share of highest scores."""
    codes = np.searchsorted(np.asarray(res.settings["classes"]), y)  # the noisy labels as the detector's codes
    score, rates = np.nan_to_num(np.asarray(res.scores), nan=-np.inf), res.settings["noise_rate_estimate_per_class"]
    by_class = np.zeros(len(score), dtype=bool)
    for c, rate in enumerate(rates):
        rows = np.flatnonzero(codes == c)
        if rate is not None and rows.size:
            by_class[rows[np.argsort(-score[rows], kind="stable")[:int(round(rate * rows.size))]]] = True
    top = np.zeros(len(score), dtype=bool)
    top[np.argsort(-score, kind="stable")[:int(round(res.settings["noise_rate_estimate"] * len(score)))]] = True
    return {"prune_by_class": prf(by_class, flipped), "prune_by_class_and_argmax": prf(by_class & res["flag_argmax"],
            flipped), "top_estimated_share": prf(top, flipped)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000, help="Fashion-MNIST images (digits always uses all 1797)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--no-peer", action="store_true", help="skip the logistic-regression peer")
    args = ap.parse_args()
    report = {}
    print("| setting | noise rate (estimated) | flag_mislabel P / R / F1 | flag_argmax P / R / F1 | "
          "CL (own) + 5-fold logreg P / R / F1 (estimated rate) | times detector / peer |")
    print("|---|---|---|---|---|---|")
    for name in args.settings.split(","):
        source, rate, mode = SETTINGS[name]
        data = load(source, n=args.n if source == "fmnist" else None, random_state=args.seed)
        t = time.perf_counter()
        res = score_dataset(data, score="mislabel", noise_rate=rate, noise_mode=mode, random_state=args.seed)
        t_det = time.perf_counter() - t
        flipped = np.asarray(res["flipped"])
        y, flipped_again = flip_labels(data, rate, mode, check_random_state(args.seed))
        assert np.array_equal(flipped, flipped_again), "the benchmark's flips differ from score_dataset's"
        row = {"n": len(data), "true_rate": float(flipped.mean()), "estimate": res.settings["noise_rate_estimate"],
               "flag_mislabel": prf(res["flag_mislabel"], flipped), "flag_argmax": prf(res["flag_argmax"], flipped),
               "detector_s": t_det, **variants(res, y, flipped)}
        peer = ""
        if not args.no_peer:
            t = time.perf_counter()
            _, flags, extra = own_peers.confident_learning_logreg(data.X, y, seed=args.seed)
            row["peer_s"] = time.perf_counter() - t
            row["cl_logreg"] = {**prf(flags, flipped), "estimate": extra["noise_rate_estimate"]}
            c = row["cl_logreg"]
            peer = f"{c['precision']:.3f} / {c['recall']:.3f} / **{c['f1']:.3f}** ({c['estimate']:.3f})"
        report[name] = row
        m, a = row["flag_mislabel"], row["flag_argmax"]
        print(f"| {name} (n = {len(data)}) | {row['true_rate']:.2f} ({row['estimate']:.3f}) | "
              f"{m['precision']:.3f} / {m['recall']:.3f} / **{m['f1']:.3f}** | "
              f"{a['precision']:.3f} / {a['recall']:.3f} / **{a['f1']:.3f}** | {peer} | "
              f"{t_det:.1f} s / {row.get('peer_s', float('nan')):.1f} s |", flush=True)
    print("\nOther rules from the same leave-one-out probabilities (F1):\n")
    names = ("flag_mislabel", "flag_argmax", "prune_by_class", "prune_by_class_and_argmax", "top_estimated_share")
    print("| setting | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for name, row in report.items():
        print(f"| {name} | " + " | ".join(f"{row[v]['f1']:.3f}" for v in names) + " |")
    print(json.dumps({"seed": args.seed, "settings": report}, default=float))


if __name__ == "__main__":
    main()
