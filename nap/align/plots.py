"""Chapter 4's figures: the cascade over a spectrogram (paper Figure 2), the confusion
matrix against the true phones, per-phone accuracy and group counts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nap.align.cascade import GRAPHEMES, PHONEMES
from nap.align.explain import Explanation
from nap.phonetics import CLASSES, PHONE_CLASS, SILENCE, by_class

_CLASS_COLOURS = dict(
    zip(CLASSES, ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"), strict=True)
)


def _window(
    ex: Explanation, start_s: float | None, end_s: float | None, span_s: float
) -> tuple[float, float]:
    total = ex.features.shape[0] * ex.geometry.hop_s
    if start_s is None:
        start_s = 0.0
    if end_s is None:
        end_s = min(total, start_s + span_s)
    return start_s, end_s


def _token_x(ex: Explanation) -> np.ndarray:
    """Time of each collapsed token: the mean centre of its frames."""
    tok = ex.decoded.tokens
    last = len(ex.centres) - 1
    spans = zip(tok.start.tolist(), tok.end.tolist(), strict=True)
    return np.array([ex.centres[min(s, last) : max(e, s + 1)].mean() for s, e in spans])


def _transcript_x(ex: Explanation, token_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time of each transcript position (its token's, interpolated for gaps) and whether it faces a gap."""
    res = ex.decoded
    n = len(res.transcript)
    x = np.full(n, np.nan)
    for i, j in zip(res.alignment.a_index.tolist(), res.alignment.b_index.tolist(), strict=True):
        if i >= 0 and j >= 0:
            x[j] = token_x[i]
    gap = np.isnan(x)
    known = np.flatnonzero(~gap)
    if len(known):
        x[gap] = np.interp(np.flatnonzero(gap), known, x[known])
    else:
        x[:] = np.linspace(ex.centres[0], ex.centres[-1], n) if len(ex.centres) else 0.0
    return x, gap


def plot_cascade(
    ex: Explanation, start_s: float | None = None, end_s: float | None = None, span_s: float = 2.5
) -> Any:
    """Paper Figure 2 on one utterance: spectrogram, then each step of the cascade over time.

    Rows, top to bottom: the best symbol of every output frame (``·`` = blank), the
    collapsed and expanded symbols, the decoded transcript as aligned by Needleman-Wunsch
    (red: mismatch or gap), each transcript letter's phoneme from the G2P's attention,
    every frame's phoneme (moved back from the letter that gave it by its delay, ``ex.lag``; green:
    equals the true phone at the frame's centre, red: not; black without true phone timings),
    and the true phones.
    """
    import matplotlib.pyplot as plt

    t0, t1 = _window(ex, start_s, end_s, span_s)
    hop, off = ex.geometry.hop_s, ex.geometry.offset_s
    fig, (ax_s, ax) = plt.subplots(
        2, 1, figsize=(14, 7.5), sharex=True, gridspec_kw={"height_ratios": [2, 3]}
    )
    n_in, n_mels = ex.features.shape
    ax_s.imshow(
        ex.features.T,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(off - hop / 2, off + (n_in - 0.5) * hop, 0, n_mels),
    )
    ax_s.set_ylabel("mel band")
    for ph, s, e in ex.true_phones:
        if e < t0 or s > t1:
            continue
        ax_s.axvline(s, color="white", lw=0.6, alpha=0.7)
        ax_s.text((s + e) / 2, n_mels * 0.93, ph, color="white", ha="center", va="top", fontsize=8)
    ax_s.set_title(f"{ex.utt_id}: decoded {ex.decoded.transcript!r}")

    rows = ["true phone", "frame phoneme", "G2P phoneme", "transcript (NW)", "collapsed", "frame argmax"]
    y = {name: i for i, name in enumerate(rows)}
    phoneme = ex.phoneme  # moved earlier by the emission delay, as the stage stores it
    vis = (ex.centres >= t0) & (ex.centres <= t1)
    small = {"fontsize": 7, "ha": "center", "va": "center"}
    for t in np.flatnonzero(vis):
        sym = ex.symbols[ex.decoded.frame_ids[t]]
        blank = ex.decoded.grapheme_reason[t] == 1
        ax.text(
            ex.centres[t],
            y["frame argmax"],
            "·" if blank else ("␣" if sym == " " else sym),
            color="0.6" if blank else ("tab:orange" if sym.isdigit() else "k"),
            **small,
        )
        ph = phoneme[t]
        if ph >= 0:
            ok = ph == ex.true_label[t]
            ax.text(
                ex.centres[t],
                y["frame phoneme"],
                PHONEMES[ph],
                rotation=90,
                color=("tab:green" if ok else "tab:red") if ex.true_phones else "k",
                **small,
            )
    token_x = _token_x(ex)
    trans_x, trans_gap = _transcript_x(ex, token_x)
    tok = ex.decoded.tokens
    for k, c in enumerate(tok.chars):
        if not t0 <= token_x[k] <= t1:
            continue
        first, last = tok.start[k], max(tok.end[k] - 1, tok.start[k])
        ax.plot([ex.centres[first], ex.centres[last]], [y["collapsed"] - 0.3] * 2, color="0.5", lw=1)
        ax.text(token_x[k], y["collapsed"], "␣" if c == " " else c, fontsize=10, ha="center", va="center")
        j = ex.decoded.token_position[k]
        if j >= 0:
            mismatch = ex.decoded.transcript[j] != c
            ax.plot(
                [token_x[k], trans_x[j]],
                [y["collapsed"] - 0.15, y["transcript (NW)"] + 0.2],
                color="tab:red" if mismatch else "0.7",
                lw=0.8,
            )
        else:
            ax.text(
                token_x[k], y["transcript (NW)"], "–", color="tab:red", fontsize=10, ha="center", va="center"
            )
    for j, c in enumerate(ex.decoded.transcript):
        if not t0 <= trans_x[j] <= t1:
            continue
        ax.text(
            trans_x[j],
            y["transcript (NW)"],
            "␣" if c == " " else c,
            fontsize=10,
            ha="center",
            va="center",
            color="tab:red" if trans_gap[j] else "k",
            style="italic" if trans_gap[j] else "normal",
        )
        ph = ex.decoded.position_phone[j]
        if ph >= 0:
            ax.text(trans_x[j], y["G2P phoneme"], PHONEMES[ph], rotation=90, **small)
    for k, (ph, s, e) in enumerate(ex.true_phones):
        if e < t0 or s > t1:
            continue
        colour = "0.85" if ph == SILENCE else _CLASS_COLOURS[PHONE_CLASS.get(ph, "vowel")]
        ax.broken_barh(
            [(s, e - s)],
            (y["true phone"] - 0.35, 0.7),
            facecolors=colour,
            alpha=0.5 + 0.2 * (k % 2),
            edgecolor="white",
        )
        ax.text((s + e) / 2, y["true phone"], ph, fontsize=8, ha="center", va="center")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(t0, t1)
    ax.set_xlabel("time (s)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def _ordered(
    true_names: tuple[str, ...], pred_names: tuple[str, ...]
) -> tuple[list[int], list[int], list[str]]:
    order = by_class(PHONEMES)
    rows = [true_names.index(p) for p in order] + (
        [true_names.index(SILENCE)] if SILENCE in true_names else []
    )
    cols = [pred_names.index(p) for p in order]
    return rows, cols, order


def plot_confusion(
    matrix: np.ndarray, true_names: tuple[str, ...], pred_names: tuple[str, ...], title: str = ""
) -> Any:
    """Row-normalised confusion matrix (true phone × cascade phoneme), phones ordered by class."""
    import matplotlib.pyplot as plt

    rows, cols, order = _ordered(tuple(true_names), tuple(pred_names))
    m = np.asarray(matrix, dtype=np.float64)[np.ix_(rows, cols)]
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(9.5, 9))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    row_names = [*order, SILENCE][: len(rows)]
    ax.set_xticks(range(len(order)), order, rotation=90, fontsize=7)
    ax.set_yticks(
        range(len(row_names)),
        [f"{n} ({int(c)})" for n, c in zip(row_names, m.sum(1), strict=True)],
        fontsize=7,
    )
    bounds = np.cumsum([sum(PHONE_CLASS[p] == c for p in order) for c in CLASSES])[:-1] - 0.5
    for b in bounds:
        ax.axhline(b, color="0.4", lw=0.6)
        ax.axvline(b, color="0.4", lw=0.6)
    ax.axhline(len(order) - 0.5, color="0.4", lw=0.6)
    ax.set_xlabel("cascade phoneme")
    ax.set_ylabel("true phone at the frame centre (frames)")
    ax.set_title(title or "share of each true phone's frames given each phoneme")
    fig.colorbar(im, ax=ax, shrink=0.7)
    fig.tight_layout()
    return fig


def plot_per_phone(report: Mapping[str, Any], title: str = "") -> Any:
    """Accuracy per true phone (bars coloured by phonetic class), with the overall accuracy."""
    import matplotlib.pyplot as plt

    per = report["per_phone"]
    order = by_class(PHONEMES)
    vals = [per[p]["accuracy"] if per[p]["accuracy"] is not None else np.nan for p in order]
    fig, ax = plt.subplots(figsize=(12, 3.5))
    ax.bar(range(len(order)), vals, color=[_CLASS_COLOURS[PHONE_CLASS[p]] for p in order])
    if report.get("accuracy") is not None:
        ax.axhline(report["accuracy"], color="k", ls="--", lw=1, label=f"overall {report['accuracy']:.1%}")
        ax.legend(loc="upper right")
    ax.set_xticks(range(len(order)), order, rotation=90, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("frame accuracy")
    ax.set_title(title or "cascade phoneme accuracy per true phone (colour: phonetic class)")
    fig.tight_layout()
    return fig


def plot_group_counts(labels: Any) -> Any:
    """Frames per group: graphemes, and phonemes from the cascade beside the true phones;
    groups left out for having fewer than ``min_count`` frames are grey."""
    import matplotlib.pyplot as plt

    counts, left = labels.counts, labels.left_out
    fig, (ax_g, ax_p) = plt.subplots(2, 1, figsize=(12, 6))

    def value(g: str, name: str) -> tuple[int, bool]:
        return (counts[g][name], True) if name in counts[g] else (left[g].get(name, 0), False)

    vals = [value("grapheme", n) for n in GRAPHEMES]
    ax_g.bar(range(len(GRAPHEMES)), [v for v, _ in vals], color=["tab:blue" if k else "0.7" for _, k in vals])
    ax_g.set_xticks(range(len(GRAPHEMES)), GRAPHEMES)
    ax_g.set_ylabel("frames")
    ax_g.set_title("grapheme groups (the frame's predicted letter)")
    order = by_class(PHONEMES)
    x = np.arange(len(order))
    for shift, g, colour, name in (
        (-0.2, "phoneme", "tab:orange", "cascade"),
        (0.2, "phoneme_true", "tab:green", "true phone at the frame centre"),
    ):
        vals = [value(g, p) for p in order]
        ax_p.bar(
            x + shift,
            [v for v, _ in vals],
            width=0.4,
            label=name,
            color=[colour if k else "0.7" for _, k in vals],
        )
    ax_p.set_xticks(x, order, rotation=90, fontsize=8)
    ax_p.set_ylabel("frames")
    ax_p.set_title("phoneme groups")
    ax_p.legend()
    for ax in (ax_g, ax_p):
        ax.axhline(labels.meta["min_count"], color="k", lw=0.6, ls=":")
    fig.tight_layout()
    return fig


def plot_shift(timing: Mapping[str, Any]) -> Any:
    """Accuracy against the time at which the truth is read, relative to the frame's centre.

    ``timing`` is :attr:`FrameLabels.timing` (curves ``decoded`` and ``truth``) or one curve
    of :func:`nap.align.accuracy.shift_accuracy`.
    """
    import matplotlib.pyplot as plt

    curves = {k: timing[k] for k in ("decoded", "truth") if k in timing} or {"cascade": timing}
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    for (name, curve), colour in zip(curves.items(), ("tab:blue", "tab:orange"), strict=False):
        x = 1000 * np.asarray(curve["shift_s"], dtype=float)
        y = np.asarray([np.nan if v is None else v for v in curve["accuracy"]], dtype=float)
        if np.all(np.isnan(y)):
            continue
        best = int(np.nanargmax(y))
        label = "decoded transcript" if name == "decoded" else "true transcript" if name == "truth" else name
        ax.plot(
            x, y, marker="o", ms=3, color=colour, label=f"{label}: best {y[best]:.1%} at {x[best]:+.0f} ms"
        )
        ax.plot([x[best]], [y[best]], marker="*", ms=10, color=colour)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_xlabel("truth read at the frame's centre + shift (ms)")
    ax.set_ylabel("frame accuracy")
    ax.set_title("when do the cascade's phonemes sound?")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_delay_curve(lag: Mapping[str, Any], frame: Mapping[str, Any]) -> Any:
    """The emission-delay estimate: train-split accuracy of the cascade against each tried delay.

    ``lag`` is ``FrameLabels.meta["lag"]`` and ``frame`` is :attr:`FrameLabels.frame`; None
    (no figure) when the delay was given rather than estimated.
    """
    if not lag.get("estimated"):
        return None
    frame_s = float(frame["stride"]) * float(frame["hop_s"])
    fig = plot_shift({"shift_s": [-k * frame_s for k in lag["lags"]], "accuracy": lag["accuracy"]})
    ax = fig.axes[0]
    ax.set_title(f"emission delay ({lag['split']} split): letters come {lag['ms']} ms after their sound")
    ax.legend(fontsize=8, labels=[f"paper's cascade, {lag['utterances']} train utterances"])
    return fig


def plot_delays(lag: Mapping[str, Any], frame: Mapping[str, Any]) -> Any:
    """The per-letter (or letter-and-phoneme) emission delays in ms: when the network writes a letter.

    ``lag`` is ``FrameLabels.meta["lag"]``; rows are letters written, columns the cascade's
    phoneme for them (one column for per-letter delays); hatched: too few train frames, the
    recognizer's delay applies. None when there is no table.
    """
    import matplotlib.pyplot as plt

    table = lag.get("table") or {}
    if not table:
        return None
    frame_ms = 1000 * float(frame["stride"]) * float(frame["hop_s"])
    per_pair = lag.get("per") == "letter_phoneme"
    pairs = [k.split(" ") if per_pair else (k, "any") for k in table]
    letters = [g for g in GRAPHEMES if any(p[0] == g for p in pairs)]
    phones = [ph for ph in PHONEMES if any(p[1] == ph for p in pairs)] if per_pair else ["any"]
    grid = np.full((len(letters), len(phones)), np.nan)
    for (g, ph), d in zip(pairs, table.values(), strict=True):
        grid[letters.index(g), phones.index(ph)] = d * frame_ms
    fig, ax = plt.subplots(figsize=(max(4.0, 0.24 * len(phones) + 2), 0.24 * len(letters) + 1.4))
    ax.patch.set_facecolor("white")
    ax.patch.set_hatch("xxxx")  # no own delay: the hatching shows through
    ax.patch.set_edgecolor("0.85")
    centre = lag["frames"] * frame_ms
    span = max(float(np.nanmax(np.abs(grid - centre))), frame_ms)
    im = ax.imshow(grid, cmap="RdBu_r", vmin=centre - span, vmax=centre + span, aspect="auto")
    ax.set_xticks(range(len(phones)), phones, rotation=90, fontsize=7)
    ax.set_yticks(range(len(letters)), letters, fontsize=7)
    ax.set_xlabel("cascade phoneme" if per_pair else "")
    ax.set_ylabel("letter written")
    fig.colorbar(im, ax=ax, label=f"delay (ms); recognizer's: {centre:.0f} ms")
    ax.set_title(f"emission delays ({len(table)} keys, train split)", fontsize=9)
    fig.tight_layout()
    return fig
