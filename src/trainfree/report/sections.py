"""The report's sections, one builder per kind of result: per-example scores, contributor values, and
the experiments (pruning, noise comparison, group dynamics, score correlations, DAVINZ ground truth).

Each builder takes a loaded result (and, for scores, the run's identity to reload the examples) and
returns ``(anchor, title, html)`` triples for :func:`trainfree.report.markup.page`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..result import ExampleResult, PlayerResult
from . import plots
from .examples import Drawer, Rows, card
from .markup import esc, figure, key_values, paged_table, section, table

GALLERY = 6  # highest and lowest per class
TOP = 100  # the highest scores listed in the table, besides every flagged row
MAX_ROWS = 10_000  # at most this many rows in the table (the page stays light); the rest are in the result file

Section = tuple[str, str, str]


def _flag_column(res: ExampleResult) -> str | None:
    """The boolean column that marks likely mislabels (``flag_mislabel`` for the CG-score's sign rule)."""
    for name, col in res.columns.items():
        if name != "flipped" and col.dtype == bool and (name.startswith("flag") or "mislabel" in name):
            return name
    return None


def _predicted(res: ExampleResult) -> np.ndarray | None:
    """A detector's ``predicted`` class names (integer codes, as earlier versions wrote them, through
    ``data_classes``)."""
    if "predicted" not in res.columns:
        return None
    predicted = np.asarray(res["predicted"])
    names = res.settings.get("data_classes")
    if predicted.dtype.kind not in "iu" or not names:
        return predicted.astype(str)
    if predicted.min(initial=0) < 0 or predicted.max(initial=0) >= len(names):
        return None
    return np.asarray(names, dtype=object)[predicted].astype(str)


def _pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


def drawn(notes: list[str], what: str, draw, *args: Any, **kwargs: Any) -> str:
    """``draw(*args, **kwargs)``, a figure's HTML; when it fails, a line saying so (also added to ``notes``).

    A report always draws what it can: one figure that fails (e.g. results edited by hand) costs that
    figure only, and the terminal hears why.
    """
    try:
        return draw(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any failure of one figure must leave the rest of the page
        note = f"The {what} could not be drawn ({type(exc).__name__}: {exc})."
        notes.append(note)
        return f'<p class="dim">{esc(note)}</p>'


def example_sections(name: str, res: ExampleResult, run: Mapping[str, Any], rows: Rows,
                     notes: list[str]) -> list[Section]:
    """Histograms, noise-detection curve, galleries of ``rows`` and the table of flagged and highest-scored rows."""
    from .text import noise_report

    s = np.asarray(res.scores, float)
    labels = np.asarray(res["label"]).astype(str) if "label" in res.columns else np.full(len(s), "all")
    # The classes the run knew, in its order, then any label it did not list (a result edited since).
    known = [str(c) for c in res.settings.get("data_classes", []) if (labels == str(c)).any()]
    classes = known + sorted(set(labels.tolist()) - set(known))
    flipped = np.asarray(res["flipped"], bool) if "flipped" in res.columns else None
    flag = _flag_column(res)
    flags = np.asarray(res[flag], bool) if flag else np.zeros(len(s), bool)
    row_ids = res["row_id"] if "row_id" in res.columns else None
    ids = row_ids if row_ids is not None else np.arange(len(s))
    original = res["original_label"] if "original_label" in res.columns else labels
    predicted = _predicted(res)
    method = esc(res.method)
    # JSON turned found_at's float keys into strings; the text report looks them up as floats.
    found = {float(k): v for k, v in res.metrics.get("found_at", {}).items()}
    try:
        summary = noise_report(res.replace(metrics={"found_at": found}) if found else res)
    except (KeyError, TypeError, ValueError):
        summary = res.summary()
    body = _pre(summary)
    body += drawn(notes, "histograms of the scores", lambda: figure(
        plots.score_histograms(s, labels, classes, flipped, score_name=res.method),
        f"histograms of {res.method} per class",
        "Scores per class (given label)" + (", clean and flipped labels overlaid." if flipped is not None else ".")))
    m = {k: v for k, v in res.metrics.items() if not isinstance(v, Mapping)}
    if m:
        body += "<h3>Measured</h3>" + key_values(m)
    out = [(f"{name}-scores", "Scores", section(f"{name}-scores", f"Scores: {res.method}", body))]
    if flipped is not None:
        auroc = res.metrics.get("auroc")
        if auroc is None:
            from ..metrics import auroc as auroc_fn

            auroc = auroc_fn(s, flipped)
        body = drawn(notes, "noise-detection curve", lambda: figure(
            plots.noise_curve(s, flipped, auroc=float(auroc)), "noise-detection curve",
            f"{int(flipped.sum())} of {len(s)} labels were flipped on purpose. Random: examining rows in random "
            f"order; oracle: the flipped rows first."))
        if found:
            body += table(["share examined (highest score first)", "share of flipped labels found"],
                          [[float(k), float(v)] for k, v in found.items()])
        out.append((f"{name}-noise", "Noise detection", section(f"{name}-noise", "Noise detection", body)))
    if rows.ds is None:
        notes.append(f"{name}: no example galleries. {rows.why}")
    out.append((f"{name}-examples", "Examples", section(
        f"{name}-examples", "Highest and lowest scores per class",
        (f'<p class="dim">{esc(rows.note)}</p>' if rows.note else "")
        + drawn(notes, "example galleries", _galleries, rows, run, s, labels, classes, ids, original, flipped,
                flags, predicted),
        f"Each class: the {GALLERY} highest-scored examples (left, most suspicious first) and the {GALLERY} "
        f"lowest (right). Red border: label flipped on purpose; orange mark: {flag or 'flag'} (likely mislabel).")))
    ranked = np.argsort(-s, kind="stable")
    listed = np.zeros(len(s), bool)
    listed[ranked[:TOP]] = True
    listed |= flags
    order = ranked[listed[ranked]][:MAX_ROWS]
    headers = ["rank", "row", "label", "score"]
    cols = [np.flatnonzero(listed[ranked])[:MAX_ROWS] + 1, ids[order], labels[order], s[order]]
    if not np.isnan(res.stderr).all():
        headers.append("stderr")
        cols.append(res.stderr[order])
    if flag:
        headers.append(flag)
        cols.append(flags[order])
    if predicted is not None:
        headers.append("predicted")
        cols.append(predicted[order])
    if flipped is not None:
        headers += ["flipped", "original label"]
        cols += [flipped[order], original[order]]
    table_rows = [[c[i] for c in cols] for i in range(len(order))]
    n_flagged, shown = int(flags.sum()), int(flags[order].sum())
    what = (f"every row {flag} marks ({n_flagged})" if flag and shown == n_flagged else
            f"{shown} of the {n_flagged} rows {flag} marks" if flag else "")
    title = (f"Flagged and highest-scored rows ({method})" if flag else f"The {len(order)} highest scores ({method})")
    intro = ((f"{len(order)} rows: {what} and the {min(TOP, len(s))} highest scores, highest first. " if flag else "")
             + "Type in the box to filter (any column), click a column header to sort."
             + (f" The table stops at {MAX_ROWS} rows; the {name} file holds every row." if len(order) == MAX_ROWS
                else ""))
    out.append((f"{name}-top", "Flagged rows" if flag else "Top scores", section(
        f"{name}-top", title, paged_table(headers, table_rows, marked=flags[order] if flag else None,
                                          mark_label=f"flagged only ({flag})", cls="top"), intro)))
    return out


def _galleries(rows: Rows, run, s, labels, classes, ids, original, flipped, flags, predicted) -> str:
    if rows.ds is None:
        return (f'<p class="dim">{esc(rows.why)} To draw them, point the report at the data the run scored: '
                f"<code>trainfree report OUTDIR --data PATH</code>, or <code>write_report(OUTDIR, data=...)</code> in "
                f"Python.</p>")
    drawer = Drawer(rows.ds, run, rows.source)
    parts = []
    for c in classes:
        own = np.flatnonzero(labels == c)
        order = own[np.argsort(-s[own], kind="stable")]
        high, low = order[:GALLERY], order[::-1][:GALLERY]
        if drawer.kind == "row":
            cells = [_rows_table(drawer, idx, ids, s, flipped, flags) for idx in (high, low)]
        else:
            cells = ['<div class="grid">' + "".join(
                card(drawer, int(i), row_id=ids[i], label=labels[i], score=s[i], original=original[i],
                     flipped=bool(flipped[i]) if flipped is not None else False, flagged=bool(flags[i]),
                     predicted=None if predicted is None else predicted[i])
                for i in idx) + "</div>" for idx in (high, low)]
        parts.append(f'<div class="classrow"><h3>{esc(c)}<br><span class="dim">{len(own)} examples</span></h3>'
                     f"<div><b>highest</b>{cells[0]}</div><div><b>lowest</b>{cells[1]}</div></div>")
    return "".join(parts)


def _rows_table(drawer: Drawer, idx, ids, s, flipped, flags) -> str:
    headers = ["row", "score", "marks", *drawer.names]
    rows = []
    for i in idx:
        marks = [m for m, on in (("flipped", flipped is not None and flipped[i]), ("likely mislabel", flags[i])) if on]
        marks = ", ".join(marks)
        rows.append([ids[i], s[i], marks, *drawer.features(int(i), len(drawer.names))])
    return table(headers, rows)


def _players_table(res: PlayerResult) -> str:
    df = res.to_dataframe()
    return f'<div class="scroll">{table(list(df.columns), df.itertuples(index=False), sortable=True)}</div>'


def player_sections(name: str, res: PlayerResult, notes: list[str]) -> list[Section]:
    """The figure that fits the experiment behind ``res`` (by its method), then its table."""
    builder = {"pruning_curve": _pruning, "group_dynamics": _dynamics, "score_correlations": _correlations,
               "davinz_groundtruth": _groundtruth, "compare_noise_detection": _noise_comparison,
               "cleaning_gain": _cleaning}.get(res.method, _values)
    title = {_pruning: "Pruning curves", _dynamics: "Group dynamics", _correlations: "Score correlations",
             _groundtruth: "DAVINZ vs training", _noise_comparison: "Noise detection by score",
             _cleaning: "Clean, then train"}.get(builder, "Contributor values")
    body = drawn(notes, f"{title.lower()} of {name}", lambda: builder(res)[1])
    if res.metrics:
        body += "<h3>Measured</h3>" + key_values({k: v for k, v in res.metrics.items()})
    body += "<h3>Table</h3>" + _players_table(res)
    return [(name, title, section(name, title, body))]


def _values(res: PlayerResult) -> tuple[str, str]:
    terms = {t: res[t] for t in ("ntk_term", "mmd_term") if t in res.columns} or None
    marked = np.asarray(res["noise_rate"], float) > 0 if "noise_rate" in res.columns else None
    semi = res.settings.get("semivalue", res.method)
    caption = (f"{semi} values of {len(res)} players" + (", orange: contributors given noisy labels" if marked is
                                                           not None and marked.any() else "")
               + ("; right: the DAVINZ terms of each contributor alone (NTK term, MMD term)" if terms else ""))
    png = plots.value_bars(res["player"].astype(str), res.values, res.stderr, terms=terms, marked=marked,
                           value_name=f"{semi} value")
    return "Contributor values", figure(png, "value bars", caption)


def _pruning(res: PlayerResult) -> tuple[str, str]:
    from .text import pruning_report

    curves = np.array([f"{a}/{b}" if a != b else a for a, b in zip(res["score"].astype(str),
                                                                      res["direction"].astype(str))])
    png = plots.pruning_curves(np.asarray(res["fraction_pruned"], float), res.values, res.stderr, curves,
                               full_accuracy=res.metrics.get("full_accuracy"))
    return "Pruning curves", _pre(pruning_report(res)) + figure(
        png, "pruning curves", "Test accuracy after pruning by each score (±1 standard error over runs), at a "
                               "fixed budget of optimiser steps.")


def _dynamics(res: PlayerResult) -> tuple[str, str]:
    panels = {"training loss": res.values, "accuracy": np.asarray(res["accuracy"], float),
              "kernel velocity": np.asarray(res["velocity"], float)}
    png = plots.group_curves(np.asarray(res["group"]), np.asarray(res["epoch"]), panels)
    flipped = res.metrics.get("flipped_per_group")
    note = f" Flipped labels per group: {', '.join(map(str, flipped))}." if flipped else ""
    return "Group dynamics", figure(png, "group dynamics", "Rows split into equal groups by score (group 0 = "
                                                            "highest); loss, accuracy and NTK velocity per epoch."
                                    + note)


def _correlations(res: PlayerResult) -> tuple[str, str]:
    names = list(dict.fromkeys([*res["score_a"].astype(str), *res["score_b"].astype(str)]))
    at = {n: i for i, n in enumerate(names)}
    mat = np.eye(len(names))
    for a, b, v in zip(res["score_a"].astype(str), res["score_b"].astype(str), res.values):
        mat[at[a], at[b]] = mat[at[b], at[a]] = v
    return "Score correlations", figure(plots.heatmap(names, mat), "correlation heat map",
                                        "Spearman rank correlation between every pair of scores on the same rows.")


def _groundtruth(res: PlayerResult) -> tuple[str, str]:
    from .text import groundtruth_report

    png = plots.scatter(res.values, np.asarray(res["test_metric"], float), color=np.asarray(res["noise_rate"], float),
                        xlabel="DAVINZ ν at initialisation", ylabel="test metric after training",
                        color_label="share of labels flipped",
                        title=f"Pearson {res.metrics.get('pearson', float('nan')):.3f}")
    return "DAVINZ vs training", _pre(groundtruth_report(res)) + figure(png, "groundtruth scatter",
                                                                       "One point per dataset.")


def _noise_comparison(res: PlayerResult) -> tuple[str, str]:
    from .text import noise_comparison_report

    png = plots.value_bars(res["player"].astype(str), res.values, res.stderr, value_name="AUROC for flipped labels")
    return "Noise detection by score", _pre(noise_comparison_report(res)) + figure(
        png, "AUROC per score", "AUROC of each score for the flipped labels (0.5 = chance).")


def _cleaning(res: PlayerResult) -> tuple[str, str]:
    from .text import cleaning_report

    setting = [f"{m} {float(r):.0%}" for m, r in zip(res["noise_mode"].astype(str), res["noise_rate"])]
    bars = [v if s == "none" else f"{s}/{v}" for s, v in zip(res["score"].astype(str), res["variant"].astype(str))]
    png = plots.grouped_bars(np.array(setting), np.array(bars), res.values, res.stderr, value_name="test accuracy")
    return "Clean, then train", _pre(cleaning_report(res)) + figure(
        png, "test accuracy per cleaning", "Test accuracy after training on the noisy labels, on the set each score "
                                           "cleaned, and on the clean labels (±1 standard error over paired runs).")
