"""Figures of chapter 3: learning curves and attention maps with the letter -> phone assignment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from nap.g2p.assign import Assignment


def learning_curves(histories: Sequence[Sequence[dict[str, Any]]]) -> Figure:
    """Train and dev loss (per phone) and greedy dev WER against the epoch, one line per member.

    ``histories`` holds each member's learning curve (``G2P.histories``); one curve alone
    (``G2P.history``) is drawn as a single member.
    """
    if histories and isinstance(histories[0], dict):
        histories = [histories]  # type: ignore[list-item]
    if not histories or not all(histories):
        raise ValueError("a history is empty: the model has not been evaluated yet")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
    for m, history in enumerate(histories):
        epochs = [h["epoch"] for h in history]
        name = f"member {m}: " if len(histories) > 1 else ""
        ax1.plot(epochs, [h["train_loss"] for h in history], "o-", color=f"C{2 * m}", ms=3,
                 label=f"{name}train (running mean)")  # fmt: skip
        ax1.plot(epochs, [h["dev_loss"] for h in history], "s--", color=f"C{2 * m + 1}", ms=3,
                 label=f"{name}dev (teacher forcing)")  # fmt: skip
        ax2.plot(epochs, [h["dev_wer"] for h in history], "o-", color=f"C{2 * m}", ms=3,
                 label=f"member {m}" if len(histories) > 1 else None)  # fmt: skip
        best = int(np.argmin([h["dev_wer"] for h in history]))
        ax2.plot(epochs[best], history[best]["dev_wer"], "*", color="C3", markersize=12,
                 label="kept weights" if m == 0 else None)  # fmt: skip
    ax1.set(xlabel="epoch", ylabel="cross-entropy per phone", title="loss")
    ax1.legend(fontsize=8)
    ax2.set(xlabel="epoch", ylabel="WER (any pronunciation)", title="dev WER, greedy decoding")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    return fig


def _draw(ax: Any, a: Assignment) -> Any:
    im = ax.imshow(a.attention, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(a.word)), [f"{c.upper()}\n{p}" for c, p in a.pairs()])
    ax.set_yticks(range(len(a.phones)), a.phones)
    for col, row in enumerate(a.letter_index):
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=1.5))
    ax.set_xlabel("letter / assigned phone")
    ax.set_ylabel("phone emitted")
    ax.set_title(f"{a.word.upper()}  /{' '.join(a.phones)}/", fontsize=10)
    return im


def attention_maps(assignments: Sequence[Assignment], cols: int = 4) -> Figure:
    """One attention map per word (phones x letters); red boxes mark each letter's assigned phone."""
    if not assignments:
        raise ValueError("no assignments to draw")
    cols = min(cols, len(assignments))
    rows = -(-len(assignments) // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(2.6 * cols + 0.8, 2.7 * rows), layout="constrained")
    axes = np.atleast_1d(grid).ravel()
    im = None
    for ax, a in zip(axes, assignments, strict=False):
        im = _draw(ax, a)
    for ax in axes[len(assignments) :]:
        ax.set_axis_off()
    fig.colorbar(im, ax=axes.tolist(), shrink=0.8, label="attention weight")
    return fig
