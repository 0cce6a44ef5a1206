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
             + (f"; {int(res['flipped'].sum())} labels flipped on purpose ({s['noise']:.0%})" if "flipped" in res.columns
                else ""), res.summary()]
    m = res.metrics
    if "auroc" in m:
        noise = m["noise"]
        line = (f"Noise detection: AUROC {m['auroc']:.3f}; the top {noise:.0%} by score hold "
                f"{m['found_at'][noise]:.1%} of the flipped labels")
        if "noisy_positive_frac" in m:
            line += (f"; the sign rule flags {m['noisy_positive_frac']:.1%} of flipped and "
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
    sizes = res["size"]
    head = (f"{len(res)} datasets of {int(np.min(sizes))}–{int(np.max(sizes))} examples; "
            f"training took {t['training_s']:.1f} s, κ = {res.settings['kappa']:.4g}")
    return "\n".join([head, *rows])
