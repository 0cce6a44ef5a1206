"""The report's figures: one function per plot, each returning a PNG as base64 text for a ``data:`` URI.

Figures are built with matplotlib's object-oriented API (``matplotlib.figure.Figure``, rendered by
the Agg canvas), so drawing a report never touches pyplot's global state or a user's chosen backend.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import numpy as np

CLEAN, FLIPPED, ACCENT, GREY = "#4c78a8", "#e45756", "#f58518", "#9d9d9d"
DPI = 100


def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1, *, layout: str | None = "constrained",
            **kw):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def to_png(fig) -> str:
    """Render ``fig`` as PNG and return it base64-encoded (ASCII)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def score_histograms(scores: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                     flipped: np.ndarray | None = None, *, score_name: str = "score") -> str:
    """One histogram of the scores per class (given label); clean and flipped rows overlaid when known.

    Examples
    --------
    >>> png = score_histograms(np.arange(6.0), np.array(list("aabbcc")), ["a", "b", "c"])
    >>> base64.b64decode(png)[:4] == b"\\x89PNG"
    True
    """
    classes = list(classes)
    ncols = min(5, len(classes))
    nrows = -(-len(classes) // ncols)
    # Fixed margins: the constrained layout costs seconds on a grid of small panels.
    fig, axes = _figure(2.4 * ncols, 1.9 * nrows + 0.5, ncols, nrows, layout=None)
    fig.subplots_adjust(left=0.06, right=0.98, top=1 - 0.3 / (1.9 * nrows + 0.5), bottom=0.55 / (1.9 * nrows + 0.5),
                        wspace=0.3, hspace=0.45)
    for ax in axes.flat[len(classes):]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, classes):
        own = (labels == name) & np.isfinite(scores)  # a row that cannot be judged (NaN) has no bar
        s = scores[own]
        bins = np.histogram_bin_edges(s if len(s) else [0.0, 1.0], bins=25)
        # stairs draws a histogram as one artist, not one rectangle per bin: many times faster.
        if flipped is None:
            ax.stairs(np.histogram(s, bins)[0], bins, fill=True, color=CLEAN)
        else:
            ax.stairs(np.histogram(s[~flipped[own]], bins)[0], bins, fill=True, color=CLEAN, alpha=0.75, label="clean")
            ax.stairs(np.histogram(s[flipped[own]], bins)[0], bins, fill=True, color=FLIPPED, alpha=0.75,
                      label="flipped")
        ax.set_title(f"{name} (n={own.sum()})", fontsize=9)
        ax.tick_params(labelsize=7)
    axes.flat[0].set_ylabel("examples", fontsize=8)
    if flipped is not None:
        axes.flat[0].legend(fontsize=7, frameon=False)
    fig.supxlabel(f"{score_name} (rows grouped by their given label)", fontsize=9)
    return to_png(fig)


def noise_curve(scores: np.ndarray, flipped: np.ndarray, *, auroc: float | None = None) -> str:
    """Share of the flipped labels found against the share of examples examined, highest score first.

    The random line examines rows in random order (found = examined); the oracle examines the
    flipped rows first (found = examined / share flipped, capped at 1).
    """
    flipped = np.asarray(flipped, bool)
    order = np.argsort(-np.asarray(scores, float), kind="stable")
    n, k = len(flipped), max(int(flipped.sum()), 1)
    x = np.arange(n + 1) / n
    found = np.concatenate([[0.0], np.cumsum(flipped[order]) / k])
    fig, axes = _figure(5.2, 3.6)
    ax = axes[0, 0]
    ax.plot(x, np.minimum(1.0, x * n / k), color=GREY, ls="--", label="oracle")
    ax.plot(x, x, color=GREY, ls=":", label="random")
    ax.plot(x, found, color=FLIPPED, lw=2, label="by score")
    ax.axvline(k / n, color=GREY, lw=0.6)
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="fraction of examples examined (highest score first)",
           ylabel="fraction of flipped labels found")
    ax.set_title("Noise detection" + (f": AUROC {auroc:.3f}" if auroc is not None else ""), fontsize=10)
    ax.legend(loc="lower right", frameon=False)
    return to_png(fig)


def value_bars(players: Sequence[str], values: np.ndarray, stderr: np.ndarray, *,
               terms: Mapping[str, np.ndarray] | None = None, marked: np.ndarray | None = None,
               value_name: str = "value") -> str:
    """Horizontal bars of each player's value (lowest at the top) with ±1 standard error; a second
    panel with the value's terms (e.g. DAVINZ's NTK and MMD terms) when given. ``marked`` players
    (e.g. contributors given noisy labels) are drawn in the accent colour."""
    values, stderr = np.asarray(values, float), np.asarray(stderr, float)
    order = np.argsort(-values, kind="stable")  # barh draws the first row at the bottom
    ncols = 2 if terms else 1
    fig, axes = _figure(4.8 * ncols, 0.32 * len(values) + 1.2, ncols, 1)
    ax = axes[0, 0]
    colors = [ACCENT if marked is not None and marked[i] else CLEAN for i in order]
    err = np.where(np.isfinite(stderr[order]), stderr[order], 0.0)
    ax.barh(np.arange(len(order)), values[order], xerr=err if err.any() else None, color=colors,
            error_kw={"ecolor": "#333", "capsize": 2})
    ax.set_yticks(np.arange(len(order)), [str(players[i]) for i in order], fontsize=8)
    ax.set_xlabel(value_name + (" (±1 standard error)" if err.any() else ""))
    ax.axvline(0, color="#333", lw=0.6)
    if terms:
        ax2, h = axes[0, 1], 0.8 / len(terms)
        for j, (name, t) in enumerate(terms.items()):
            ax2.barh(np.arange(len(order)) - 0.4 + h * (j + 0.5), np.asarray(t, float)[order], height=h,
                     label=name, color=(CLEAN, ACCENT, FLIPPED, GREY)[j % 4])
        ax2.set_yticks(np.arange(len(order)), [str(players[i]) for i in order], fontsize=8)
        ax2.legend(fontsize=8, frameon=False)
        ax2.set_xlabel("term")
    return to_png(fig)


def grouped_bars(groups: np.ndarray, bars: np.ndarray, values: np.ndarray, stderr: np.ndarray, *,
                 value_name: str = "value") -> str:
    """Vertical bars of ``values`` (±1 standard error), one cluster per ``groups`` label, one colour per ``bars``
    label, in the order they first appear; the value axis starts just below the smallest bar."""
    from matplotlib import colormaps

    groups, bars = np.asarray(groups).astype(str), np.asarray(bars).astype(str)
    values, stderr = np.asarray(values, float), np.asarray(stderr, float)
    g_names, b_names = list(dict.fromkeys(groups.tolist())), list(dict.fromkeys(bars.tolist()))
    fig, axes = _figure(max(5.0, 0.32 * len(values) + 2.5), 3.8)
    ax, w, cmap = axes[0, 0], 0.8 / len(b_names), colormaps["tab10"]
    for j, b in enumerate(b_names):
        hit = bars == b
        x = np.array([g_names.index(g) for g in groups[hit]]) - 0.4 + w * (j + 0.5)
        e = np.where(np.isfinite(stderr[hit]), stderr[hit], 0.0)
        ax.bar(x, values[hit], width=w, yerr=e if e.any() else None, label=b, color=cmap(j % 10),
               error_kw={"ecolor": "#333", "capsize": 2})
    low = float(np.nanmin(values - np.nan_to_num(stderr))) if len(values) else 0.0
    ax.set_ylim(max(0.0, low - 0.05 * abs(low) - 0.01), None)
    ax.set_xticks(np.arange(len(g_names)), g_names)
    ax.set_ylabel(value_name + (" (±1 standard error)" if np.isfinite(stderr).any() else ""))
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    return to_png(fig)


def pruning_curves(fractions: np.ndarray, values: np.ndarray, stderr: np.ndarray, curves: np.ndarray, *,
                   full_accuracy: float | None = None) -> str:
    """Test accuracy against the share pruned, one line (with error bars) per ``curves`` label."""
    fig, axes = _figure(7.2, 4.0)
    ax = axes[0, 0]
    for name in dict.fromkeys(curves.tolist()):
        hit = curves == name
        o = np.argsort(fractions[hit])
        e = stderr[hit][o]
        ax.errorbar(fractions[hit][o], values[hit][o], yerr=np.where(np.isfinite(e), e, 0.0), marker="o",
                    ms=4, capsize=2, label=name, ls="--" if "random" in name else "-")
    if full_accuracy is not None:
        ax.axhline(full_accuracy, color=GREY, ls=":", label="full data")
    ax.set(xlabel="fraction of training rows pruned", ylabel="test accuracy")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    return to_png(fig)


def group_curves(groups: np.ndarray, epochs: np.ndarray, panels: Mapping[str, np.ndarray]) -> str:
    """One panel per quantity (loss, accuracy, kernel velocity) against the epoch, one line per group."""
    from matplotlib import colormaps
    from matplotlib.ticker import MaxNLocator

    names = list(panels)
    fig, axes = _figure(3.6 * len(names), 3.2, len(names), 1)
    cmap, ug = colormaps["viridis"], np.unique(groups)
    for ax, name in zip(axes.flat, names):
        for g in ug:
            hit = groups == g
            o = np.argsort(epochs[hit])
            ax.plot(epochs[hit][o], panels[name][hit][o], marker=".", color=cmap(g / max(len(ug) - 1, 1)),
                    label=f"group {g}")
        ax.set(xlabel="epoch", title=name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.flat[0].legend(fontsize=6, frameon=False, ncols=2)
    return to_png(fig)


def heatmap(names: Sequence[str], matrix: np.ndarray, *, title: str = "Spearman ρ") -> str:
    """A square matrix (e.g. rank correlations between scores) with its values written in the cells."""
    m = len(names)
    fig, axes = _figure(1.0 * m + 2.0, 0.8 * m + 1.2)
    ax = axes[0, 0]
    im = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(m), names, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(m), names, fontsize=8)
    for i in range(m):
        for j in range(m):
            if np.isfinite(matrix[i, j]):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(matrix[i, j]) > 0.6 else "black")
    fig.colorbar(im, ax=ax, shrink=0.8, label=title)
    return to_png(fig)


def scatter(x: np.ndarray, y: np.ndarray, *, color: np.ndarray | None = None, xlabel: str, ylabel: str,
            color_label: str = "", title: str = "") -> str:
    """A scatter plot, coloured by a third quantity when given (e.g. DAVINZ ν against test accuracy)."""
    fig, axes = _figure(5.2, 3.8)
    ax = axes[0, 0]
    sc = ax.scatter(x, y, c=color if color is not None else CLEAN, cmap="plasma", s=22)
    if color is not None:
        fig.colorbar(sc, ax=ax, label=color_label)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.set_title(title, fontsize=10)
    return to_png(fig)


def image_png(image: np.ndarray, *, vmin: float, vmax: float) -> str:
    """One example as a PNG, unscaled (the page enlarges it): (H, W) in grey, dark on light, or (H, W, 3) in colour."""
    from matplotlib.image import imsave

    buf = io.BytesIO()
    if image.ndim == 2:
        imsave(buf, image, cmap="gray_r", vmin=vmin, vmax=vmax, format="png")
    else:
        imsave(buf, np.clip((image - vmin) / max(vmax - vmin, 1e-12), 0, 1), format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def line_svg(signal: np.ndarray, *, low: float, high: float, width: int = 96, height: int = 48) -> str:
    """A 1-D example (e.g. an MNIST-1D signal) as a small SVG line plot, base64-encoded."""
    s = np.asarray(signal, float).ravel()
    x = np.linspace(2, width - 2, len(s))
    y = height - 2 - (s - low) / max(high - low, 1e-12) * (height - 4)
    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y))
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}"><rect width="100%" height="100%" fill="#fff"/>'
           f'<polyline fill="none" stroke="{CLEAN}" stroke-width="1.5" points="{points}"/></svg>')
    return base64.b64encode(svg.encode()).decode("ascii")
