"""Plain-text reports: what the CLI prints, and what a notebook user can print themselves."""

from __future__ import annotations

import numpy as np

from ..result import ExampleResult, PlayerResult


def noise_report(res: ExampleResult) -> str:
    """The score's summary and, when labels were flipped on purpose, how many of them it finds.

    Examples
    --------
    >>> from trainfree.data import load
    >>> from trainfree.experiments import score_dataset
    >>> print(noise_report(score_dataset(load("digits", n=200, random_state=0), random_state=0)))  # doctest: +ELLIPSIS
    Scored digits: 200 examples, 10 classes
    CG-score (exact, n=200): ...
    """
    s = res.settings
    lines = [f"Scored {s.get('data', 'data')}: {len(res)} examples, {len(s['data_classes'])} classes"
             + (f"; {int(res['flipped'].sum())} labels flipped on purpose ({s['noise_rate']:.0%})"
                if "flipped" in res.columns else ""), res.summary()]
    m = res.metrics
    if "auroc" in m:
        noise = m["noise_rate"]
        line = (f"Noise detection: AUROC {m['auroc']:.3f}; the top {noise:.0%} by score hold "
                f"{m['found_at'][noise]:.1%} of the flipped labels")
        if "noisy_positive_frac" in m:
            rule = "the flag (label ≠ leave-one-out prediction)" if res.method == "mislabel_score" else "the sign rule"
            line += (f"; {rule} flags {m['noisy_positive_frac']:.1%} of flipped and "
                     f"{m['clean_positive_frac']:.1%} of clean examples")
        lines.append(line + ".")
    return "\n".join(lines)


def values_report(res: PlayerResult) -> str:
    """The players, lowest value first, as an aligned table."""
    df = res.to_dataframe().sort_values("value", kind="stable")
    return df.to_string(index=False, float_format=lambda v: f"{v:.5g}")


def groundtruth_report(res: PlayerResult) -> str:
    """Correlations of ν and of each baseline with the trained test metric, and what each cost."""
    m, t = res.metrics, res.timings
    rows = [f"DAVINZ  Pearson {m['pearson']:.3f}  Spearman {m['spearman']:.3f}  ({t['davinz_s']:.1f} s)"]
    for name in ("VP", "IF", "RV"):
        if f"{name}_pearson" in m:
            cost = t["training_s"] if name == "VP" else t[f"{name}_s"]
            rows.append(f"{name:<6}  Pearson {m[f'{name}_pearson']:.3f}  Spearman {m[f'{name}_spearman']:.3f}  "
                        f"({cost:.1f} s)")
    if "repeat_pearson" in m:
        rows.append(f"one training run vs another: Pearson {m['repeat_pearson']:.3f}  Spearman "
                    f"{m['repeat_spearman']:.3f} (the ground truth is the mean of {res.settings['repeats']} runs)")
    sizes = res["size"]
    head = (f"{len(res)} datasets of {int(np.min(sizes))}–{int(np.max(sizes))} examples; "
            f"training took {t['training_s']:.1f} s, κ = {res.settings['kappa']:.4g}")
    return "\n".join([head, *rows])


def pruning_report(res: PlayerResult) -> str:
    """Test accuracy after pruning: one line per score and direction, one column per share pruned.

    Examples
    --------
    >>> r = PlayerResult("pruning_curve", {"value": np.array([0.8, 0.7]), "player": np.array(["a", "b"]),
    ...     "score": np.array(["cg", "cg"]), "direction": np.array(["keep_hard"] * 2),
    ...     "fraction_pruned": np.array([0.3, 0.5]), "n_kept": np.array([70, 50])},
    ...     settings={"epochs": 5, "n_runs": 1, "n_train": 100}, metrics={"full_accuracy": 0.9})
    >>> print(pruning_report(r))
    100 training rows, step budget of 5 epochs on the full set, 1 run(s); full data: test accuracy 0.9000
    score/direction         pruned 30%    pruned 50%
    cg/keep_hard                0.8000        0.7000
    """
    s = res.settings
    fractions = sorted({float(f) for f in res["fraction_pruned"]})
    lines = [f"{s['n_train']} training rows, step budget of {s['epochs']} epochs on the full set, "
             f"{s['n_runs']} run(s); full data: test accuracy {res.metrics['full_accuracy']:.4f}",
             f"{'score/direction':<20}" + "".join(f"{f'pruned {f:.0%}':>14}" for f in fractions)]
    keys = list(dict.fromkeys(zip(res["score"].tolist(), res["direction"].tolist())))
    for score, direction in keys:
        cells = []
        for f in fractions:
            hit = (res["score"] == score) & (res["direction"] == direction) & np.isclose(res["fraction_pruned"], f)
            v, e = res.values[hit][0], res.stderr[hit][0]
            cells.append(f"{v:>14.4f}" if not np.isfinite(e) else f"{f'{v:.4f}±{e:.3f}':>14}")
        lines.append(f"{score + '/' + direction:<20}" + "".join(cells))
    return "\n".join(lines)


def correlation_report(res: PlayerResult) -> str:
    """Spearman ρ between every pair of scores as a lower-triangular matrix (the CG-score paper's Table 1).

    Examples
    --------
    >>> r = PlayerResult("score_correlations", {"value": np.array([0.5, 0.9, 0.1]),
    ...     "player": np.array(["ab", "ac", "bc"]), "score_a": np.array(["a", "a", "b"]), "score_b": np.array(["b", "c", "c"])}, settings={"n": 10})
    >>> print(correlation_report(r))
    Spearman rank correlation between the scores of 10 rows
                           a           b
    b                  0.500
    c                  0.900       0.100
    """
    names = list(dict.fromkeys([*res["score_a"].astype(str), *res["score_b"].astype(str)]))
    rho = {(a, b): v for a, b, v in zip(res["score_a"].astype(str), res["score_b"].astype(str), res.values)}
    lines = [f"Spearman rank correlation between the scores of {res.settings['n']} rows",
             f"{'':<12}" + "".join(f"{a:>12}" for a in names[:-1])]
    for i, b in enumerate(names[1:], start=1):
        cells = [rho.get((a, b), rho.get((b, a), float("nan"))) for a in names[:i]]
        lines.append(f"{b:<12}" + "".join(f"{v:>12.3f}" for v in cells))
    return "\n".join(lines)


def noise_comparison_report(res: PlayerResult) -> str:
    """Each score's AUROC and found-at-k for the flipped labels, best first."""
    noise = res.settings["noise_rate"]
    df = res.to_dataframe().sort_values("value", ascending=False, kind="stable")
    found = f"found_at_{noise:g}"
    head = (f"{res.settings['data']}: {res.settings['n_rows']} examples, {noise:.0%} of the labels flipped; "
            f"AUROC and the share of flipped labels among the top {noise:.0%} by each score")
    rows = [f"{p:<14} AUROC {v:.3f}  found {f:.3f}  ({s:.1f} s)"
            for p, v, f, s in zip(df["player"], df["value"], df[found], df["seconds"])]
    return "\n".join([head, *rows])


def cleaning_report(res: PlayerResult) -> str:
    """Test accuracy after cleaning: one line per (noise setting, score, variant), with the gap recovered.

    Examples
    --------
    >>> r = PlayerResult("cleaning_gain", {"value": np.array([0.7, 0.8, 0.9]), "stderr": np.full(3, np.nan),
    ...     "player": np.array(["a", "b", "c"]), "noise_mode": np.array(["symmetric"] * 3),
    ...     "noise_rate": np.full(3, 0.2), "score": np.array(["none", "cg", "none"]),
    ...     "variant": np.array(["noisy", "removed", "clean"]), "gap_recovered": np.array([0.0, 0.5, 1.0]),
    ...     "precision": np.array([np.nan, 0.6, np.nan]), "recall": np.array([np.nan, 0.7, np.nan]),
    ...     "n_removed": np.array([0, 20, 0]), "n_relabelled": np.array([0, 0, 0])},
    ...     settings={"data": "d", "n_train": 100, "epochs": 5, "n_runs": 1}, metrics={"notes": []})
    >>> print(cleaning_report(r))
    d: 100 training rows, step budget of 5 epochs, 1 paired run(s)
    noise          score     variant       test accuracy   gap recovered  precision  recall  removed  relabelled
    symmetric 20%  none      noisy                0.7000           0.000          -       -        0           0
    symmetric 20%  cg        removed              0.8000           0.500      0.600   0.700       20           0
    symmetric 20%  none      clean                0.9000           1.000          -       -        0           0
    """
    s = res.settings
    lines = [f"{s['data']}: {s['n_train']} training rows, step budget of {s['epochs']} epochs, {s['n_runs']} paired "
             f"run(s)",
             f"{'noise':<15}{'score':<10}{'variant':<12}{'test accuracy':>15}{'gap recovered':>16}{'precision':>11}"
             f"{'recall':>8}{'removed':>9}{'relabelled':>12}"]

    def num(v: float, width: int) -> str:
        return f"{v:>{width}.3f}" if np.isfinite(v) else f"{'-':>{width}}"

    for i in range(len(res)):
        v, e = float(res.values[i]), float(res.stderr[i])
        acc = f"{v:.4f}±{e:.3f}" if np.isfinite(e) else f"{v:.4f}"
        noise = f"{res['noise_mode'][i]} {float(res['noise_rate'][i]):.0%}"
        lines.append(f"{noise:<15}{res['score'][i]:<10}{res['variant'][i]:<12}{acc:>15}"
                     f"{num(float(res['gap_recovered'][i]), 16)}{num(float(res['precision'][i]), 11)}"
                     f"{num(float(res['recall'][i]), 8)}{int(res['n_removed'][i]):>9}{int(res['n_relabelled'][i]):>12}")
    lines += [f"note: {n}" for n in res.metrics.get("notes", [])]
    return "\n".join(lines)
