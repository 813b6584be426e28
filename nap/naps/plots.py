"""Figures of chapter 5: the paper's Figure 1 step by step (A–E), and NAPs side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nap.naps.extract import LayerTap
from nap.naps.geometry import INPUT
from nap.naps.io import NapSet


@dataclass
class Figure1Data:
    """One group and one layer, from the input windows (A) to the time-independent NAP (E)."""

    grouping: str
    group: str
    layer: str
    utterance: str
    spectrogram: np.ndarray  # (n_mels, frames) of the utterance
    frames: np.ndarray  # the group's output frames in the utterance
    windows: list[slice]  # their input windows
    instance: np.ndarray  # (C, P) the layer's activations over the first window (B)
    count: int  # frames of the group in the whole corpus
    mean: np.ndarray  # (C, P) mean over all the group's windows (C)
    normalized: np.ndarray  # (C, P) minus the normalization (D)
    nap: np.ndarray  # (C, P) each channel sorted (E)
    normalization: str
    hop_s: float
    pad: int = 0  # input frames the recognizer adds before the utterance (silence)


def _label_index(labels: Any, grouping: str, group: str) -> int:
    names = list(labels.groups[grouping])
    if group not in names:
        raise KeyError(f"group {group!r} is not in the labels' {grouping!r} groups: {names}")
    return names.index(group)


def pick_utterance(labels: Any, grouping: str, group: str, max_scan: int = 300) -> str:
    """The utterance (among the first ``max_scan``) with the most frames of ``group``."""
    idx = _label_index(labels, grouping, group)
    best, best_n = None, 0
    for u in list(labels.utterances)[:max_scan]:
        n = int((labels.labels(u, (grouping,))[grouping] == idx).sum())
        if n > best_n:
            best, best_n = u, n
    if best is None:
        raise ValueError(f"no utterance among the first {max_scan} has a frame of {grouping} {group!r}")
    return best


def pick_group(napset: NapSet, grouping: str, prefer: tuple[str, ...] = ("a", "AA")) -> str:
    """A preferred group if the NAP set has it (the paper shows grapheme 'A'), else the largest."""
    groups = napset.groups(grouping)
    for name in prefer:
        if name in groups:
            return name
    return groups[int(np.argmax(napset.counts(grouping)))]


def pick_groups(napset: NapSet, grouping: str, n: int = 4) -> list[str]:
    """The ``n`` groups with the most frames, in the NAP set's order."""
    counts = napset.counts(grouping)
    top = sorted(np.argsort(-counts, kind="stable")[:n].tolist())
    return [napset.groups(grouping)[i] for i in top]


def figure1_data(
    napset: NapSet,
    recognizer: Any,
    features: Any,
    labels: Any,
    grouping: str,
    group: str,
    layer: str,
    utterance: str | None = None,
    hop_s: float = 0.01,
) -> Figure1Data:
    """Everything Figure 1 shows for ``group`` in ``layer``: one utterance's windows, the corpus means.

    ``recognizer`` is the study's recognizer (its ``.model``, and its input preparation such as
    silence padding) or a bare ``nn.Module``.
    """
    from nap.naps.stage import network_input

    model = getattr(recognizer, "model", recognizer)
    kept = napset.groups(grouping)
    if group not in kept:
        raise KeyError(
            f"group {group!r} has no NAP in {grouping!r} (kept groups: {kept}; "
            f"left out: {napset.left_out(grouping)})"
        )
    gi = kept.index(group)
    utt = utterance or pick_utterance(labels, grouping, group)
    spec = network_input(recognizer)(features.get(utt)).T
    geo = napset.geometry
    lab = labels.labels(utt, (grouping,))[grouping]
    frames = np.flatnonzero(lab == _label_index(labels, grouping, group))
    if frames.size == 0:
        raise ValueError(f"utterance {utt!r} has no frame of {grouping} {group!r}")
    g = geo[layer]
    if layer == INPUT:
        instance = spec[:, g.window(int(frames[0]))]
    else:
        model.eval()
        param = next(model.parameters(), None)
        x = torch.from_numpy(spec)[None].to(param.device if param is not None else "cpu")
        with LayerTap(model, [g]) as tap:
            acts = tap.run(x)
        instance = acts[layer][0, :, g.window(int(frames[0]))].cpu().numpy()
    mean = napset.mean(grouping, layer)[gi].astype(np.float64)
    overall = napset.overall(grouping, layer)
    return Figure1Data(
        grouping,
        group,
        layer,
        utt,
        spec,
        frames,
        [geo.input_window(int(t)) for t in frames],
        instance,
        int(napset.counts(grouping)[gi]),
        mean,
        mean - overall,
        napset.nap(grouping, layer)[gi],
        napset.normalization,
        hop_s,
        int(getattr(recognizer, "pad", 0) or 0),
    )


def _heat(ax: Any, data: np.ndarray, title: str, diverging: bool, fig: Any) -> None:
    if diverging:
        v = float(np.abs(data).max()) or 1.0
        im = ax.imshow(
            data, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-v, vmax=v, interpolation="nearest"
        )
    else:
        im = ax.imshow(data, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("position in window")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)


def plot_figure1(d: Figure1Data, max_windows: int = 6) -> Any:
    """Paper Figure 1 for one group and layer: A windows, B activations, C mean, D normalized, E sorted."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(13, 6.2), layout="constrained")
    grid = fig.add_gridspec(2, 4, height_ratios=[1.0, 1.25])
    ax = fig.add_subplot(grid[0, :])
    t0 = -d.pad * d.hop_s  # time 0 = the utterance's start; the recognizer's padding lies before it
    n_mels, n_frames = d.spectrogram.shape
    ax.imshow(
        d.spectrogram,
        aspect="auto",
        origin="lower",
        cmap="magma",
        extent=(t0, t0 + n_frames * d.hop_s, 0, n_mels),
        interpolation="nearest",
    )
    shown = d.windows[:: max(1, -(-len(d.windows) // max_windows))][:max_windows]
    colors = plt.cm.tab10(np.arange(len(shown)) % 10)
    for i, (w, c) in enumerate(zip(shown, colors, strict=True)):
        y0 = d.spectrogram.shape[0] * (0.05 + 0.9 * i / max(len(shown), 1))
        ax.axvspan(t0 + w.start * d.hop_s, t0 + w.stop * d.hop_s, color=c, alpha=0.12)
        ax.plot([t0 + w.start * d.hop_s, t0 + w.stop * d.hop_s], [y0, y0], color=c, lw=3)
    ax.set_xlabel("time (s)" + (f"; {d.pad} frames of silence padding at both ends" if d.pad else ""))
    ax.set_ylabel("mel band")
    width = d.windows[0].stop - d.windows[0].start
    ax.set_title(
        f"A: input windows ({width} frames each) of {len(d.windows)} "
        f"frames of {d.grouping} '{d.group}' in {d.utterance} ({len(shown)} drawn)",
        fontsize=9,
    )
    axes = [fig.add_subplot(grid[1, i]) for i in range(4)]
    _heat(axes[0], d.instance, f"B: {d.layer} activations, one window", False, fig)
    _heat(axes[1], d.mean, f"C: mean over all {d.count} windows", False, fig)
    norm = "the mean over all frames" if d.normalization == "global_mean" else "the mean of group means"
    _heat(axes[2], d.normalized, f"D: minus {norm}", True, fig)
    _heat(axes[3], d.nap, "E: each neuron sorted: the NAP", True, fig)
    axes[0].set_ylabel("neuron (channel)")
    return fig


def plot_nap_grid(napset: NapSet, grouping: str, groups: list[str], layers: list[str]) -> Any:
    """NAPs of ``groups`` (columns) in ``layers`` (rows); one colour scale per layer.

    Without groups or layers (e.g. an under-trained recognizer left no frame with a phoneme)
    the figure holds a message instead, so the rest of the chapter still renders.
    """
    import matplotlib.pyplot as plt

    from nap.display import message_panel

    if not groups or not layers:
        fig = plt.figure(figsize=(6, 1.6))
        message_panel(
            fig,
            f"No NAP figure for the {grouping} grouping: no {'groups' if not groups else 'layers'} to show "
            f"({len(napset.groups(grouping))} groups have NAPs; the alignment chapter says how many "
            "frames were labelled).",
        )
        return fig
    names = napset.groups(grouping)
    missing = [g for g in groups if g not in names]
    if missing:
        raise KeyError(f"no NAP for {grouping} group(s) {missing}; groups: {names}")
    fig, axes = plt.subplots(
        len(layers),
        len(groups),
        figsize=(2.4 * len(groups) + 1, 2.0 * len(layers)),
        squeeze=False,
        layout="constrained",
    )
    for r, layer in enumerate(layers):
        naps = napset.nap(grouping, layer)
        sel = naps[[names.index(g) for g in groups]]
        v = float(np.abs(sel).max()) or 1.0
        for c, g in enumerate(groups):
            ax = axes[r, c]
            im = ax.imshow(
                sel[c], aspect="auto", origin="lower", cmap="RdBu_r", vmin=-v, vmax=v, interpolation="nearest"
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"'{g}' ({napset.counts(grouping)[names.index(g)]} frames)", fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{layer}\n{sel.shape[1]}×{sel.shape[2]}", fontsize=9)
        fig.colorbar(im, ax=axes[r, :].tolist(), fraction=0.02, pad=0.01)
    fig.suptitle(f"time-independent NAPs ({grouping}): neurons × sorted positions", fontsize=10)
    return fig


def plot_variants(napset: NapSet, grouping: str, group: str, layers: list[str]) -> Any:
    """One group's NAP beside its variants in ``layers`` (rows): the paper's NAP, the contrastive NAP
    (``naps.contrast``), the saliency-adjusted NAP (``naps.saliency``, where computed) and the
    untrained network's NAP (``naps.control``); one colour scale per panel. A variant the NAP set
    lacks (or a group outside the contrast) leaves its panel with a note."""
    import matplotlib.pyplot as plt

    control = napset.control
    columns: list[tuple[str, Any]] = [
        ("NAP (paper)", lambda lay: (napset.groups(grouping), napset.nap(grouping, lay))),
        ("contrastive", lambda lay: napset.contrastive(grouping, lay)),
        ("saliency-adjusted", lambda lay: napset.saliency_nap(grouping, lay)),
    ]
    if control is not None:
        columns.append(
            ("untrained network", lambda lay: (control.groups(grouping), control.nap(grouping, lay)))
        )
    fig, axes = plt.subplots(
        len(layers), len(columns), figsize=(2.6 * len(columns) + 0.6, 2.0 * len(layers)), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for r, layer in enumerate(layers):
        for c, (title, get) in enumerate(columns):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            try:
                names, arrays = get(layer)
                data = np.asarray(arrays)[names.index(group)]
            except (KeyError, ValueError) as exc:
                ax.text(0.5, 0.5, "\n".join(str(exc).strip("'\"").split("; ")[:1])[:60], ha="center",
                        va="center", fontsize=6, wrap=True, transform=ax.transAxes)  # fmt: skip
                data = None
            if data is not None:
                v = float(np.abs(data).max()) or 1.0
                im = ax.imshow(data, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-v, vmax=v,
                               interpolation="nearest")  # fmt: skip
                fig.colorbar(im, ax=ax, fraction=0.05, pad=0.01)
            if r == 0:
                ax.set_title(title, fontsize=9)
            if c == 0:
                ax.set_ylabel(layer, fontsize=9)
    fig.suptitle(f"{grouping} '{group}': the NAP and its variants (neurons × sorted positions)", fontsize=10)
    return fig


def pick_layers(napset: NapSet, n: int = 4) -> list[str]:
    """``n`` layers spread over the network, first and last included (``input`` left aside)."""
    layers = [lay for lay in napset.layers if lay != INPUT]
    if len(layers) <= n:
        return layers
    return [layers[i] for i in np.unique(np.linspace(0, len(layers) - 1, n).round().astype(int))]


def geometry_table(napset: NapSet) -> Any:
    """Per layer: kernel, stride, dilation, channels, the window's positions and step, the activation."""
    from nap.display import table

    geo = napset.geometry
    rows = [
        (
            g.name,
            g.kernel_size,
            g.stride,
            g.dilation,
            g.channels,
            g.receptive_field,
            g.jump,
            g.positions,
            g.step,
            g.activation,
        )
        for g in geo.layers
        if g.name in napset.layers
    ]
    headers = [
        "layer",
        "kernel",
        "stride",
        "dilation",
        "channels",
        "frames per position",
        "jump",
        "positions P",
        "step",
        "activations",
    ]
    return table(
        rows,
        headers,
        title=f"window geometry: receptive field R = {geo.receptive_field} input "
        f"frames, stride S = {geo.stride}",
    )
