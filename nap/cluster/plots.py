"""The paper's clustering figures (Figures 3, 4 and the appendix) and the score curves.

A panel shows one layer's distance matrix for one grouping, rows and columns ordered by the
dendrogram drawn at its left; links that join groups of one flat cluster share the
cluster's colour (links above the cut are black, the cut is the dashed line), and each
group's name is coloured like its cluster. A panel without a clustering (too few groups,
NaN NAPs, equal distances) shows the reason in its place. Everything is drawn from
:class:`nap.cluster.hierarchy.LayerClustering` results, so the chapter and the explorer
draw from the stored artifact without recomputing.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure, SubFigure
from scipy.cluster.hierarchy import dendrogram

from nap.cluster.hierarchy import LayerClustering
from nap.display import MESSAGE_BOX, message_panel


class ShownFigure(Figure):
    """A matplotlib Figure that notebooks show as PNG even where pyplot was never imported."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        return buf.getvalue()


ABOVE_CUT = "#222222"
SINGLETON = "#555555"
CMAP = "viridis"


def cluster_colours(result: LayerClustering) -> dict[int, str]:
    """A colour per flat cluster with ≥ 2 members (tab10 without its grey, then tab20), singletons grey."""
    sizes = np.bincount(result.clusters)
    tab10 = colormaps["tab10"].colors
    palette = [c for k, c in enumerate(tab10) if k != 7] + list(colormaps["tab20"].colors[1::2])
    out, k = {}, 0
    for cid in range(1, len(sizes)):
        if sizes[cid] >= 2:
            r, g, b = palette[k % len(palette)][:3]
            out[cid] = f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"
            k += 1
        else:
            out[cid] = SINGLETON
    return out


def link_colours(result: LayerClustering) -> Callable[[int], str]:
    """scipy ``link_color_func``: a link inside one flat cluster takes its colour, others black."""
    n = len(result.names)
    colours = cluster_colours(result)
    members: dict[int, set[int]] = {i: {int(result.clusters[i])} for i in range(n)}
    for k, row in enumerate(result.linkage):
        members[n + k] = members[int(row[0])] | members[int(row[1])]

    def colour(link: int) -> str:
        cids = members[link]
        return colours[next(iter(cids))] if len(cids) == 1 else ABOVE_CUT

    return colour


def panel_title(result: LayerClustering) -> str:
    return f"{result.grouping} · {result.layer}"


def draw_clustering(
    fig: Figure | SubFigure,
    result: LayerClustering,
    vmax: float | None = None,
    colorbar: bool = True,
    fontsize: float | None = None,
) -> Any:
    """Dendrogram (left) and ordered distance matrix (right) of one clustering into ``fig``.

    Returns the matrix image (for a shared colour bar), or None when a message was drawn.
    """
    if not result.ok:
        message_panel(fig, str(result.message), panel_title(result))
        return None
    n = len(result.names)
    gs = fig.add_gridspec(1, 2, width_ratios=[1, 4], wspace=0.02)
    ax_d = fig.add_subplot(gs[0])
    ax_m = fig.add_subplot(gs[1], sharey=ax_d)
    dendrogram(
        result.linkage, orientation="left", ax=ax_d, no_labels=True, link_color_func=link_colours(result)
    )
    ax_d.axvline(result.threshold, color="#888888", ls="--", lw=0.8)
    ax_d.set_ylim(10 * n, 0)  # leaf order[0] at the top, like row 0 of the matrix
    ax_d.set_axis_off()
    order = result.order
    mat = result.distances[np.ix_(order, order)]
    image = ax_m.imshow(
        mat,
        cmap=CMAP,
        vmin=0.0,
        vmax=vmax or float(mat.max()),
        aspect="auto",
        extent=(0, 10 * n, 10 * n, 0),
        interpolation="nearest",
    )
    ticks = 5 + 10 * np.arange(n)
    labels = [result.names[i] for i in order]
    fs = fontsize or (7 if n <= 32 else 6 if n <= 44 else 5)
    colours = cluster_colours(result)
    ax_m.set_xticks(ticks, labels, rotation=90, fontsize=fs)
    ax_m.yaxis.tick_right()
    ax_m.set_yticks(ticks, labels, fontsize=fs)
    for axis in (ax_m.get_xticklabels(), ax_m.get_yticklabels()):
        for lab, i in zip(axis, order, strict=True):
            lab.set_color(colours[int(result.clusters[i])])
    ax_m.tick_params(length=0, pad=1)
    title = (
        f"{panel_title(result)}: {result.n_clusters} clusters "
        f"(cut {result.threshold:.3g}, {result.percentile:g}th pct.)"
    )
    fig.suptitle(title, fontsize=9)
    if result.excluded:
        left_out = ", ".join(f"{k} ({v})" for k, v in result.excluded.items())
        fig.supxlabel("left out: " + textwrap.shorten(left_out, 90), fontsize=7)
    if colorbar:
        fig.colorbar(image, ax=ax_m, fraction=0.05, pad=0.12, label=f"{result.metric} distance")
    return image


def plot_grid(
    results: Sequence[Sequence[LayerClustering]],
    scale: Literal["figure", "row", "panel"] = "figure",
    panel_size: tuple[float, float] = (5.0, 4.6),
) -> Figure:
    """Rows of clustering panels (e.g. layers × graphemes/phonemes) with a consistent colour scale.

    ``scale`` = "figure": one colour scale for every panel; "row": one per row; "panel":
    each its own. The colour bar stands at the right of each row (of each panel for "panel").
    """
    if not results or not any(results):
        fig = ShownFigure(figsize=(6, 1.5))
        message_panel(fig, "nothing to draw: no layers or no groupings were selected")
        return fig
    rows, cols = len(results), max(len(r) for r in results)
    fig = ShownFigure(figsize=(panel_size[0] * cols, panel_size[1] * rows), layout="constrained")
    subs = np.atleast_2d(fig.subfigures(rows, cols, squeeze=False))

    def top(res: Sequence[LayerClustering]) -> float | None:
        vals = [float(r.distances.max()) for r in res if r.ok]
        return max(vals) if vals else None

    whole = top([r for row in results for r in row])
    for i, row in enumerate(results):
        vmax_row = whole if scale == "figure" else top(row)
        last_ok = max((j for j, r in enumerate(row) if r.ok), default=-1)
        for j, res in enumerate(row):
            vmax = float(res.distances.max()) if scale == "panel" and res.ok else vmax_row
            draw_clustering(subs[i, j], res, vmax=vmax, colorbar=scale == "panel" or j == last_ok)
        for j in range(len(row), cols):
            subs[i, j].set_visible(False)
    return fig


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _short(layer: str) -> str:
    tail = layer.removeprefix("layer").lstrip("0")
    return tail if tail.isdigit() else layer


def plot_scores(
    scores: dict[str, dict[str, dict[str, Any]]],
    probes: dict[str, dict[str, dict[str, Any]]],
    layers: list[str],
    kinds: dict[str, str],
    alpha: float = 0.05,
    highlight: Sequence[str] = (),
    control_scores: dict[str, dict[str, dict[str, Any]]] | None = None,
    control_probes: dict[str, dict[str, dict[str, Any]]] | None = None,
) -> Figure:
    """Score curves across layers: probes (top) and cluster agreement (bottom), graphemes | phonemes.

    A band around a probe's accuracy is its 95 % interval where the probes have one. Filled
    markers are significant (permutation p < ``alpha``), hollow ones are not;
    ``highlight`` shades layers (the ones chosen for Figure 4). ``control_scores`` and
    ``control_probes`` (the untrained network's) are drawn in grey with crosses at the same
    layers, and the input window, where only the control has it, as a dotted level.
    """
    c_scores, c_probes = control_scores or {}, control_probes or {}

    def baselines(ax: Any, per: dict[str, Any], value: Any, ls: str, label: str) -> None:
        """The untrained network's curve (grey crosses) and the input window's level (dotted)."""
        y = np.array([_nan(value(per.get(lay))) for lay in layers], dtype=float)
        if np.isfinite(y).any():
            ax.plot(x, y, ls=ls, color="#777777", marker="x", ms=4, lw=1, label=f"{label}, untrained")
        level = _nan(value(per.get("input"))) if "input" not in layers else float("nan")
        if np.isfinite(level):
            ax.axhline(level, color="#777777", ls=":", lw=1, label=f"{label}, input window")

    fig = ShownFigure(figsize=(10, 6.4), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True)
    x = np.arange(len(layers))
    columns = {
        "grapheme": [g for g, k in kinds.items() if k == "grapheme"],
        "phoneme": [g for g, k in kinds.items() if k == "phoneme"],
    }
    styles = ["-", "--", ":", "-."]
    for col, (kind, groupings) in enumerate(columns.items()):
        ax_p, ax_s = axes[0, col], axes[1, col]
        why: dict[str, None] = {}  # why probes have no accuracy, in order of appearance
        drawn = False
        for k, g in enumerate(groupings):
            ls = styles[k % len(styles)]
            per = probes.get(g, {})
            why.update(dict.fromkeys(r["message"] for r in per.values() if r.get("message")))
            if per:
                drawn |= any(np.isfinite(_nan(per.get(lay, {}).get("accuracy"))) for lay in layers)
                for key, colour in (("accuracy", "C0"), ("balanced_accuracy", "C1"), ("chance", "#999999")):
                    y = [_nan(per.get(lay, {}).get(key)) for lay in layers]
                    ax_p.plot(
                        x,
                        np.asarray(y, dtype=float),
                        ls=ls,
                        color=colour,
                        marker=".",
                        label=f"{g}: {key.replace('_', ' ')}",
                    )
                lo = np.array([_nan(per.get(lay, {}).get("ci_low")) for lay in layers], dtype=float)
                hi = np.array([_nan(per.get(lay, {}).get("ci_high")) for lay in layers], dtype=float)
                if np.isfinite(lo).any():  # the accuracy's 95 % interval (speaker bootstrap)
                    ax_p.fill_between(x, lo, hi, color="C0", alpha=0.15, lw=0)
                if c_probes.get(g):
                    baselines(ax_p, c_probes[g], lambda r: (r or {}).get("accuracy"), ls, f"{g}: accuracy")
            per_s = scores.get(g, {})
            which = [("classes", "phonetic classes AUC", "C2"), ("vowels", "vowel vs consonant AUC", "C3")]
            if kind == "grapheme":
                which = [("vowels", "vowel vs consonant letters AUC", "C3")]
            for key, label, colour in which:
                got = [per_s.get(lay, {}).get(key, {}) for lay in layers]
                y = np.array([_nan(s.get("auc")) for s in got], dtype=float)
                p = [s.get("p") for s in got]
                sig = np.array([q is not None and q < alpha for q in p])
                ax_s.plot(x, y, ls=ls, color=colour, label=f"{g}: {label}")
                lo = np.array([_nan(s.get("auc_ci_low")) for s in got], dtype=float)
                hi = np.array([_nan(s.get("auc_ci_high")) for s in got], dtype=float)
                if np.isfinite(lo).any():  # the AUC's 95 % interval (speaker-fold bootstrap)
                    ax_s.fill_between(x, lo, hi, color=colour, alpha=0.15, lw=0)
                ax_s.scatter(x[sig], y[sig], color=colour, zorder=3, s=22)
                ax_s.scatter(x[~sig], y[~sig], facecolors="white", edgecolors=colour, zorder=3, s=22)
                if c_scores.get(g):
                    auc = lambda r, key=key: ((r or {}).get(key) or {}).get("auc")  # noqa: E731
                    baselines(ax_s, c_scores[g], auc, ls, f"{g}: {key} AUC")
        ax_p.set_title(f"{kind}s: linear probes (held-out utterances)", fontsize=10)
        ax_s.set_title(f"{kind}s: NAP distances vs classes", fontsize=10)
        ax_p.set_ylim(0, 1.02)
        ax_s.axhline(0.5, color="#999999", lw=0.8, ls=":")
        ax_s.set_ylim(0.0, 1.02)
        ax_p.set_ylabel("accuracy")
        ax_s.set_ylabel("pair AUC (filled: significant)")
        for ax in (ax_p, ax_s):
            for lay in highlight:
                if lay in layers:
                    ax.axvspan(layers.index(lay) - 0.4, layers.index(lay) + 0.4, color="#f3e6c4", zorder=0)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7, loc="best")
            if not groupings:
                ax.text(0.5, 0.5, f"no {kind} grouping", ha="center", transform=ax.transAxes)
        if groupings and not drawn:  # the probes' message in place of their curves
            text = "no probe accuracy: " + (
                "; ".join(why) or "no linear probes (cluster.probes off or naps.probe_frames 0)"
            )
            ax_p.text(0.5, 0.5, "\n".join(textwrap.wrap(text, 50)), ha="center", va="center", fontsize=8,
                      transform=ax_p.transAxes, bbox=MESSAGE_BOX)  # fmt: skip
        ax_s.set_xticks(x, [_short(lay) for lay in layers])
        ax_s.set_xlabel("layer")
    return fig


def plot_similarity(
    matrix: np.ndarray,
    layers: Sequence[str],
    n_frames: int = 0,
    message: str | None = None,
    network: str = "",
) -> Figure:
    """The layers' linear CKA as a matrix (rows and columns in layer order, the input window first)."""
    matrix = np.asarray(matrix, dtype=float)
    if message or matrix.size == 0:
        fig = ShownFigure(figsize=(6, 1.5))
        message_panel(fig, message or "no layer similarity: cluster.similarity off")
        return fig
    size = 1.6 + 0.42 * len(layers)
    fig = ShownFigure(figsize=(size + 1.2, size), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap=CMAP, vmin=min(0.0, float(np.nanmin(matrix))), vmax=1.0)
    ticks = np.arange(len(layers))
    ax.set_xticks(ticks, [_short(lay) for lay in layers], fontsize=8)
    ax.set_yticks(ticks, [_short(lay) for lay in layers], fontsize=8)
    if len(layers) <= 16:
        for i in range(len(layers)):
            for j in range(len(layers)):
                if np.isfinite(matrix[i, j]):
                    dark = matrix[i, j] > 0.6
                    ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=6,
                            color="black" if dark else "white")  # fmt: skip
    ax.set_xlabel("layer")
    ax.set_title(f"{network}linear CKA (unbiased HSIC) on {n_frames} probe frames", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.05, label="CKA")
    return fig
