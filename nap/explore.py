"""The layer explorer (chapter 7): every layer's NAP clustering and NAPs, browsable with widgets.

Two explorers draw from the same stored results (a :class:`nap.cluster.Clustering` and the
NAP set it was made from), never recomputing them:

* :class:`Explorer`, **live** (needs a Jupyter kernel): a layer slider, graphemes/phonemes,
  the layer's clustered distance matrix with the picked group outlined, that group's NAP
  with its cluster and nearest groups, and a second view comparing the group in two layers
  or two groups in one layer. Figures are drawn on demand and kept.
* :func:`static_explorer`, **kernel-free** (the website): every figure is drawn once and
  held by an ``Image`` widget; a layer ``SelectionSlider`` and a grouping ``ToggleButtons``
  are ``jslink``-ed to ``Stack`` widgets of those images, so moving the slider switches the
  shown image in the browser alone, from the widget state the notebook's execution saved.
  The comparison of two layers reuses the same image models, so it adds no image bytes.

A NAP is drawn as a heat map: neurons (channels) down, their sorted activations across
the window along, blue below and red above the corpus-wide mean (the NAP's zero). Within a
layer all groups share one channel order (by the channels' mean over groups) and one
colour scale, so NAPs of one layer compare by eye. The distance matrices use each panel's
own colour scale: distances grow by orders of magnitude from the first to the last layer.
"""

from __future__ import annotations

import html
import io
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from nap.cluster.hierarchy import LayerClustering
from nap.cluster.plots import ShownFigure, cluster_colours, draw_clustering

#: How groupings are named on the toggle buttons.
GROUPING_LABELS = {
    "grapheme": "graphemes",
    "phoneme": "phonemes (G2P cascade)",
    "phoneme_true": "phonemes (true timings)",
}

NAP_CMAP = "RdBu_r"


class NapSource(Protocol):
    """What the explorer reads from a NAP set (:class:`nap.naps.NapSet`, :class:`nap.cluster.ArrayNapSet`)."""

    def groups(self, grouping: str) -> list[str]: ...

    def counts(self, grouping: str) -> np.ndarray: ...

    def nap(self, grouping: str, layer: str) -> np.ndarray: ...


class ClusterSource(Protocol):
    """What the explorer reads from a clustering (:class:`nap.cluster.Clustering`)."""

    @property
    def groupings(self) -> list[str]: ...

    @property
    def layers(self) -> list[str]: ...

    def result(self, grouping: str, layer: str) -> LayerClustering: ...


def grouping_label(grouping: str) -> str:
    return GROUPING_LABELS.get(grouping, grouping)


def layer_label(layer: str) -> str:
    """``layer09`` → ``layer 9`` (other names unchanged)."""
    tail = layer.removeprefix("layer")
    return f"layer {int(tail)}" if tail.isdigit() and tail != layer else layer


def png_bytes(fig: Figure, dpi: float = 80, palette: bool = True) -> bytes:
    """The figure as PNG bytes (no pyplot, so nothing is shown twice in notebooks).

    ``palette`` stores it with 256 colours (median cut, no dithering): about 40 % of the
    bytes of matplotlib's RGBA PNG with no visible change, which keeps the website's
    explorer page (every image is embedded in it) light.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    if not palette:
        return buf.getvalue()
    from PIL import Image

    image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    small = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _block_mean(a: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Average ``a`` (R, C) down to at most ``rows`` × ``cols`` blocks (for thumbnails)."""
    r = max(1, int(np.ceil(a.shape[0] / rows)))
    c = max(1, int(np.ceil(a.shape[1] / cols)))
    pad_r, pad_c = (-a.shape[0]) % r, (-a.shape[1]) % c
    padded = np.pad(a, ((0, pad_r), (0, pad_c)), constant_values=np.nan)
    blocks = padded.reshape(padded.shape[0] // r, r, padded.shape[1] // c, c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks stay NaN
        return np.nanmean(blocks, axis=(1, 3))


class Views:
    """Draws (and keeps) the explorer's figures as PNG bytes from a clustering and its NAP set.

    ``dpi`` sets the pixel size of every figure (the website's page weight grows with it).
    """

    def __init__(self, clustering: ClusterSource, napset: NapSource, dpi: float = 80):
        self.clustering = clustering
        self.napset = napset
        self.dpi = dpi
        self._png: dict[tuple[Any, ...], bytes] = {}
        self._layer: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, float]] = {}

    # -- data -----------------------------------------------------------------------------
    def result(self, grouping: str, layer: str) -> LayerClustering:
        return self.clustering.result(grouping, layer)

    def groups(self, grouping: str) -> list[str]:
        return list(self.napset.groups(grouping))

    def layer_naps(self, grouping: str, layer: str) -> tuple[np.ndarray, np.ndarray, float]:
        """(NAPs (G, C, P), channel display order, symmetric colour limit) of one layer."""
        key = (grouping, layer)
        if key not in self._layer:
            naps = np.asarray(self.napset.nap(grouping, layer), dtype=np.float32)
            if naps.ndim != 3:
                raise ValueError(
                    f"NAPs of {grouping}/{layer} have shape {naps.shape}; expected (groups, "
                    "channels, positions)"
                )
            finite = np.isfinite(naps)
            with np.errstate(invalid="ignore"):
                means = np.nanmean(np.where(finite, naps, np.nan), axis=(0, 2))
            order = np.argsort(-np.nan_to_num(means, nan=-np.inf), kind="stable")
            vals = np.abs(naps[finite])
            vmax = float(np.percentile(vals, 99)) if vals.size else 1.0
            self._layer[key] = (naps, order, vmax if vmax > 0 else 1.0)
        return self._layer[key]

    def nap(self, grouping: str, layer: str, group: str) -> np.ndarray:
        names = self.groups(grouping)
        if group not in names:
            raise KeyError(f"no group {group!r} in grouping {grouping!r}; it has {names}")
        return self.layer_naps(grouping, layer)[0][names.index(group)]

    def count(self, grouping: str, group: str) -> int:
        return int(np.asarray(self.napset.counts(grouping))[self.groups(grouping).index(group)])

    def neighbours(self, grouping: str, layer: str, group: str, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` groups whose NAPs lie nearest to ``group``'s in ``layer``."""
        res = self.result(grouping, layer)
        if not res.ok or group not in res.names:
            return []
        i = res.names.index(group)
        d = res.distances[i].copy()
        d[i] = np.inf
        near = np.argsort(d, kind="stable")[:k]
        return [(res.names[j], float(d[j])) for j in near]

    def cluster_of(self, grouping: str, layer: str, group: str) -> list[str]:
        """The groups sharing ``group``'s flat cluster in ``layer`` (itself included)."""
        res = self.result(grouping, layer)
        if not res.ok or group not in res.names:
            return []
        cid = int(res.clusters[res.names.index(group)])
        return res.members()[cid]

    # -- figures --------------------------------------------------------------------------
    def _cached(self, key: tuple[Any, ...], draw: Any) -> bytes:
        if key not in self._png:
            self._png[key] = png_bytes(draw(), self.dpi)
        return self._png[key]

    def matrix(
        self, grouping: str, layer: str, highlight: str | None = None, size: tuple[float, float] = (6.4, 5.4)
    ) -> bytes:
        """The layer's distance matrix in dendrogram order, dendrogram at its left, ``highlight`` outlined."""

        def draw() -> Figure:
            res = self.result(grouping, layer)
            fig = Figure(figsize=size, layout="constrained")
            draw_clustering(fig, res, fontsize=8 if len(res.names) <= 32 else 6.5)
            if res.ok and highlight in res.names:
                pos = int(np.flatnonzero(res.order == res.names.index(highlight))[0])
                n = len(res.names)
                ax = fig.axes[1]
                for xy, w, h in (((0, 10 * pos), 10 * n, 10), ((10 * pos, 0), 10, 10 * n)):
                    ax.add_patch(Rectangle(xy, w, h, fill=False, ec="#ff2d55", lw=1.4))
            return fig

        return self._cached(("matrix", grouping, layer, highlight, size), draw)

    def nap_figure(
        self, grouping: str, layer: str, group: str, size: tuple[float, float] = (4.2, 3.6)
    ) -> Figure:
        """One group's NAP in one layer as a heat map (neurons × sorted window positions)."""
        naps, order, vmax = self.layer_naps(grouping, layer)
        a = self.nap(grouping, layer, group)[order]
        fig = ShownFigure(figsize=size, layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        if not np.all(np.isfinite(a)):
            ax.set_axis_off()
            ax.text(
                0.5,
                0.5,
                f"no NAP for {group!r}\n(no frames in this group)",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
        else:
            im = ax.imshow(a, aspect="auto", cmap=NAP_CMAP, vmin=-vmax, vmax=vmax, interpolation="nearest")
            fig.colorbar(im, ax=ax, fraction=0.06, pad=0.02, label="activation − mean")
            ax.set_xlabel(f"window positions, sorted ({a.shape[1]})", fontsize=8)
            ax.set_ylabel(f"neurons ({a.shape[0]}, by mean)", fontsize=8)
            ax.tick_params(labelsize=7)
        count = self.count(grouping, group)
        ax.set_title(f"NAP of {group!r} · {layer_label(layer)} · {count:,} frames", fontsize=9)
        return fig

    def nap_png(self, grouping: str, layer: str, group: str) -> bytes:
        return self._cached(("nap", grouping, layer, group), lambda: self.nap_figure(grouping, layer, group))

    def gallery_figure(self, grouping: str, layer: str, columns: int = 10) -> Figure:
        """Every group's NAP of one layer as a thumbnail, in dendrogram order, named in cluster colours."""
        res = self.result(grouping, layer)
        naps, order, vmax = self.layer_naps(grouping, layer)
        names = self.groups(grouping)
        if res.ok:
            shown = [res.names[i] for i in res.order] + [n for n in names if n not in res.names]
            colours = cluster_colours(res)
            colour = {res.names[i]: colours[int(res.clusters[i])] for i in range(len(res.names))}
        else:
            shown, colour = names, {}
        # one mosaic image (thumbnails of TH × TW blocks with one-block gaps): fast to draw
        th, tw = 24, 16
        rows = int(np.ceil(len(shown) / columns))
        mosaic = np.full((rows * (th + 5), columns * (tw + 2)), np.nan, dtype=np.float32)
        fig = ShownFigure(figsize=(6.4, 0.78 * rows + 0.45), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        ax.set_axis_off()
        for k, name in enumerate(shown):
            r, c = divmod(k, columns)
            y, x = r * (th + 5) + 4, c * (tw + 2) + 1
            a = naps[names.index(name)][order]
            if np.all(np.isfinite(a)):
                block = _block_mean(a, th, tw)
                mosaic[y : y + block.shape[0], x : x + block.shape[1]] = block
            edge = colour.get(name, "#bbbbbb")
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), tw, th, fill=False, ec=edge, lw=0.8))
            ax.text(
                x + tw / 2 - 0.5,
                y - 1.2,
                name,
                ha="center",
                va="bottom",
                fontsize=7,
                color=edge,
                fontweight="bold" if name in colour else "normal",
            )
        ax.imshow(mosaic, aspect="auto", cmap=NAP_CMAP, vmin=-vmax, vmax=vmax, interpolation="nearest")
        fig.suptitle(
            f"NAPs of all {grouping_label(grouping)} · {layer_label(layer)} (dendrogram order, "
            "cluster colours; one colour scale)",
            fontsize=8,
        )
        return fig

    def gallery(self, grouping: str, layer: str) -> bytes:
        return self._cached(("gallery", grouping, layer), lambda: self.gallery_figure(grouping, layer))


def _image(value: bytes, width: str = "100%", max_width: str = "640px") -> Any:
    import ipywidgets as w

    return w.Image(
        value=value, format="png", layout=w.Layout(width=width, max_width=max_width, height="auto")
    )


def _pick(available: Sequence[str], wanted: Sequence[str] | None, what: str) -> list[str]:
    if wanted is None:
        return list(available)
    missing = [x for x in wanted if x not in available]
    if missing:
        raise KeyError(f"explorer: {what} {missing} not in the clustering (it has {list(available)})")
    return list(wanted)


def default_groupings(clustering: Any) -> list[str]:
    """The grapheme and phoneme groupings the chapter compares (all, when the clustering cannot tell)."""
    pick = getattr(clustering, "default_groupings", None)
    return list(pick()) if callable(pick) else list(clustering.groupings)


# -- the kernel-free explorer -----------------------------------------------------------
def static_explorer(
    clustering: ClusterSource,
    napset: NapSource,
    groupings: Sequence[str] | None = None,
    layers: Sequence[str] | None = None,
    gallery: bool = True,
    compare: bool = True,
    dpi: float = 90,
    views: Views | None = None,
) -> Any:
    """A widget that browses pre-rendered figures with no kernel (see the module docstring).

    Returns an ``ipywidgets.VBox``; display it as a cell's last value. Every figure is drawn
    here, so the cell takes a while for many layers; ``gallery=False`` leaves out the NAP
    thumbnails and ``compare=False`` the two-layer comparison.
    """
    import ipywidgets as w

    groupings = _pick(clustering.groupings, groupings or default_groupings(clustering), "groupings")
    layers = _pick(clustering.layers, layers, "layers")
    if not groupings or not layers:
        raise ValueError("explorer: nothing to show (no grouping or no layer)")
    views = views or Views(clustering, napset, dpi=dpi)
    matrices = {(g, lay): _image(views.matrix(g, lay)) for g in groupings for lay in layers}
    galleries = (
        {(g, lay): _image(views.gallery(g, lay)) for g in groupings for lay in layers} if gallery else {}
    )
    options = [(layer_label(lay), lay) for lay in layers]

    toggle = w.ToggleButtons(
        options=[(grouping_label(g), g) for g in groupings],
        index=0,
        description="",
        style={"button_width": "auto"},
    )
    links: list[Any] = []
    full = w.Layout(width="100%")

    def layer_column(slider: Any, with_gallery: bool) -> Any:
        per_grouping = []
        for g in groupings:
            pages = [
                w.VBox([matrices[g, lay], *([galleries[g, lay]] if with_gallery else [])], layout=full)
                for lay in layers
            ]
            stack = w.Stack(pages, selected_index=slider.index, layout=full)
            links.append(w.jslink((slider, "index"), (stack, "selected_index")))
            per_grouping.append(stack)
        outer = w.Stack(per_grouping, selected_index=0, layout=full)
        links.append(w.jslink((toggle, "index"), (outer, "selected_index")))
        return outer

    def slider(description: str, index: int) -> Any:
        return w.SelectionSlider(
            options=options,
            index=index,
            description=description,
            continuous_update=True,
            layout=w.Layout(width="100%", max_width="640px"),
            style={"description_width": "initial"},
        )

    main_slider = slider("layer", 0)
    parts = [
        w.HTML(
            "<b>Layer explorer</b> — move the slider to walk through the network's layers; the buttons "
            "switch between groupings. Each layer shows its clustered distance matrix (dendrogram at the "
            "left, clusters coloured)" + (" and the NAPs of all groups." if gallery else ".")
        ),
        toggle,
        main_slider,
        layer_column(main_slider, gallery),
    ]
    if compare and len(layers) > 1:
        left, right = slider("left", 0), slider("right", len(layers) - 1)
        cols = [w.VBox([s, layer_column(s, False)], layout=w.Layout(width="50%")) for s in (left, right)]
        parts += [w.HTML("<b>Compare two layers</b> (same grouping as above)"), w.HBox(cols)]
    box = w.VBox(parts, layout=w.Layout(width="100%", max_width="900px"))
    box._nap_links = links  # keep the links referenced with the box (they live in the widget state)
    box._nap_sliders = [main_slider]
    return box


# -- the live explorer ------------------------------------------------------------------
class Explorer:
    """Live layer explorer (needs a kernel): layer slider, grouping, group, and a comparison view.

    ``Explorer(clustering, napset)`` or ``Explorer.from_study(study)``; display it as a cell's
    last value. Its controls are attributes (``layer``, ``grouping``, ``group``, ``mode``,
    ``layer_b``, ``group_b``) so code can drive it, e.g. ``ex.layer.value = "layer09"``.
    """

    def __init__(
        self,
        clustering: ClusterSource,
        napset: NapSource,
        groupings: Sequence[str] | None = None,
        layers: Sequence[str] | None = None,
        dpi: float = 80,
    ):
        import ipywidgets as w

        self.views = Views(clustering, napset, dpi=dpi)
        self.groupings = _pick(clustering.groupings, groupings or list(clustering.groupings), "groupings")
        self.layers = _pick(clustering.layers, layers, "layers")
        opts = [(layer_label(lay), lay) for lay in self.layers]
        wide = w.Layout(width="100%", max_width="640px")
        init = {"description_width": "initial"}
        self.grouping = w.ToggleButtons(
            options=[(grouping_label(g), g) for g in self.groupings], style={"button_width": "auto"}
        )
        self.layer = w.SelectionSlider(
            options=opts, description="layer", continuous_update=False, layout=wide, style=init
        )
        self.group = w.Dropdown(description="group", style=init)
        self.mode = w.ToggleButtons(
            options=[("the group in two layers", "layers"), ("two groups in this layer", "groups")],
            style={"button_width": "auto"},
        )
        self.layer_b = w.SelectionSlider(
            options=opts,
            index=len(opts) - 1,
            description="second layer",
            continuous_update=False,
            layout=wide,
            style=init,
        )
        self.group_b = w.Dropdown(description="second group", style=init)
        self.matrix = _image(b"", max_width="560px")
        self.nap = _image(b"", max_width="420px")
        self.info = w.HTML()
        self.left, self.right = _image(b"", max_width="440px"), _image(b"", max_width="440px")
        self.left_nap, self.right_nap = _image(b"", max_width="440px"), _image(b"", max_width="440px")
        self.compare_info = w.HTML()
        self._set_groups()
        for ctl, fn in (
            (self.grouping, self._on_grouping),
            (self.layer, self._update),
            (self.group, self._update),
            (self.mode, self._update),
            (self.layer_b, self._update),
            (self.group_b, self._update),
        ):
            ctl.observe(fn, names="value")
        half = w.Layout(width="50%")
        self.widget = w.VBox(
            [
                w.HTML("<b>Layer explorer</b> (live)"),
                self.grouping,
                self.layer,
                self.group,
                w.HBox(
                    [
                        w.VBox([self.matrix], layout=w.Layout(width="58%")),
                        w.VBox([self.nap, self.info], layout=w.Layout(width="42%")),
                    ]
                ),
                w.HTML("<b>Compare</b>"),
                self.mode,
                self.layer_b,
                self.group_b,
                w.HBox(
                    [
                        w.VBox([self.left, self.left_nap], layout=half),
                        w.VBox([self.right, self.right_nap], layout=half),
                    ]
                ),
                self.compare_info,
            ],
            layout=w.Layout(width="100%", max_width="1000px"),
        )
        self._update()

    @classmethod
    def from_study(cls, study: Any, **kwargs: Any) -> Explorer:
        """The explorer of a :class:`nap.Study`'s clustering and NAP set (built first if needed)."""
        return cls(study.clusters(), study.naps(), **kwargs)

    def _set_groups(self) -> None:
        g = self.grouping.value
        names = self.views.groups(g)
        counts = np.asarray(self.views.napset.counts(g))
        busiest = names[int(np.argmax(counts))] if len(names) else None
        self.group.options = names
        self.group_b.options = names
        if busiest is not None:
            self.group.value = busiest
            self.group_b.value = next(
                (n for n in self.views.cluster_of(g, self.layer.value, busiest) if n != busiest),
                names[0] if names[0] != busiest else names[-1],
            )

    def _on_grouping(self, _: Any = None) -> None:
        self._busy = True  # the group lists change: draw once, when both are set
        try:
            self._set_groups()
        finally:
            self._busy = False
        self._update()

    def _update(self, _: Any = None) -> None:
        g, lay, grp = self.grouping.value, self.layer.value, self.group.value
        if grp is None or getattr(self, "_busy", False):
            return
        v = self.views
        self.matrix.value = v.matrix(g, lay, highlight=grp)
        self.nap.value = v.nap_png(g, lay, grp)
        members = v.cluster_of(g, lay, grp)
        near = ", ".join(f"{html.escape(n)} ({d:.3g})" for n, d in v.neighbours(g, lay, grp))
        res = v.result(g, lay)
        self.info.value = f"<p><b>{html.escape(grp)}</b>: {v.count(g, grp):,} frames. " + (
            f"Its cluster in {layer_label(lay)}: {html.escape(', '.join(members))}. Nearest: {near}.</p>"
            if res.ok
            else f"{html.escape(str(res.message))}</p>"
        )
        layers_mode = self.mode.value == "layers"
        self.layer_b.layout.display = None if layers_mode else "none"
        self.group_b.layout.display = "none" if layers_mode else None
        if layers_mode:
            lb = self.layer_b.value
            self.left.value, self.right.value = (
                v.matrix(g, lay, grp, (5, 4.4)),
                v.matrix(g, lb, grp, (5, 4.4)),
            )
            self.left_nap.value, self.right_nap.value = v.nap_png(g, lay, grp), v.nap_png(g, lb, grp)
            both = [f"{layer_label(x)}: {html.escape(', '.join(v.cluster_of(g, x, grp)))}" for x in (lay, lb)]
            self.compare_info.value = f"<p>Cluster of <b>{html.escape(grp)}</b> — " + "; ".join(both) + "</p>"
        else:
            gb = self.group_b.value
            self.left.value, self.right.value = v.nap_png(g, lay, grp), v.nap_png(g, lay, gb)
            self.left_nap.value = self.right_nap.value = b""
            text = "not clustered in this layer"
            if res.ok and grp in res.names and gb in res.names:
                i, j = res.names.index(grp), res.names.index(gb)
                d = float(res.distances[i, j])
                rank = float(np.mean(res.condensed() < d))
                same = res.clusters[i] == res.clusters[j]
                text = (
                    f"distance {d:.3g}, closer than {100 * (1 - rank):.0f}% of the layer's pairs; "
                    f"{'the same' if same else 'different'} clusters"
                )
            self.compare_info.value = (
                f"<p><b>{html.escape(grp)}</b> vs <b>{html.escape(str(gb))}</b>: {text}</p>"
            )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


# -- a stand-in with planted structure --------------------------------------------------
def demo(seed: int = 0, layers: int = 4, channels: int = 16, positions: int = 12) -> tuple[Any, Any]:
    """A small clustering and NAP set with planted structure, for trying the explorer without a study.

    Phoneme NAPs are drawn around one centre per phonetic class whose spread shrinks from the
    first layer to the last (so classes emerge with depth); grapheme NAPs are random except
    in the last layer, where vowel letters share a centre. Returns ``(clustering, napset)``.
    """
    from nap.cluster.arrays import ArrayNapSet
    from nap.cluster.params import ClusterParams
    from nap.cluster.results import Clustering
    from nap.cluster.stage import run_clustering
    from nap.phonetics import PHONE_CLASS, PHONES

    rng = np.random.default_rng(seed)
    letters = list("abcdefghijklmnopqrstuvwxyz'")
    names = {"grapheme": letters, "phoneme": list(PHONES)}
    classes = sorted(set(PHONE_CLASS.values()))
    centres = {c: rng.normal(size=(channels, positions)) for c in classes}
    vowel_centre = rng.normal(size=(channels, positions))
    naps: dict[str, dict[str, np.ndarray]] = {"grapheme": {}, "phoneme": {}}
    for k in range(layers):
        depth = (k + 1) / layers
        layer = f"layer{k + 1:02d}"
        ph = [
            depth * centres[PHONE_CLASS[p]] + (1.2 - depth) * rng.normal(size=(channels, positions))
            for p in PHONES
        ]
        gr = [
            (depth**4) * (vowel_centre if ch in "aeiou" else 0) + rng.normal(size=(channels, positions))
            for ch in letters
        ]
        naps["phoneme"][layer] = np.sort(np.stack(ph), axis=2).astype(np.float32)
        naps["grapheme"][layer] = np.sort(np.stack(gr), axis=2).astype(np.float32)
    counts = {g: rng.integers(20, 2000, size=len(n)) for g, n in names.items()}
    napset = ArrayNapSet(naps, names, counts)
    params = ClusterParams(probes=False, permutations=50, seed=seed)
    doc, arrays = run_clustering(napset, params)
    return Clustering(Path("<demo>"), doc, arrays, {}, params.to_dict()), napset
