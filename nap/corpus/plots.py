"""Chapter 1's figures and players: phone histogram, spectrogram with phone boundaries, audio."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import soundfile as sf

from nap.corpus.stage import Corpus
from nap.phonetics import CLASSES, PHONE_CLASS, by_class

_COLOURS = dict(zip(CLASSES, plt.get_cmap("tab10").colors, strict=False))


def phone_histogram(corpus: Corpus) -> Any:
    """How often each true phone occurs in every split (share of the split's phones), by phonetic class."""
    order = by_class()
    fig, ax = plt.subplots(figsize=(12, 3.6))
    splits = [s for s, utts in corpus.splits.items() if utts]
    width = 0.8 / max(1, len(splits))
    total_any = 0
    for k, split in enumerate(splits):
        counts = corpus.phone_counts(split)
        total = sum(counts.values())
        total_any += total
        if not total:
            continue
        x = np.arange(len(order)) + (k - (len(splits) - 1) / 2) * width
        ax.bar(
            x,
            [counts[p] / total for p in order],
            width,
            color=[_COLOURS[PHONE_CLASS[p]] for p in order],
            alpha=1.0 - 0.3 * k,
            edgecolor="white",
            linewidth=0.3,
            label=split,
        )
    if not total_any:
        ax.text(0.5, 0.5, "this corpus has no true phone timings", ha="center", transform=ax.transAxes)
    ax.set_xticks(range(len(order)), order, rotation=90, fontsize=8)
    ax.set_ylabel("share of the split's phones")
    handles = [plt.Rectangle((0, 0), 1, 1, color=_COLOURS[c]) for c in CLASSES]
    ax.legend(handles, CLASSES, ncol=len(CLASSES), fontsize=8, loc="upper right", frameon=False)
    ax.set_title(f"true phones per split ({', '.join(splits)}: bars left to right, fading)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def spectrogram(corpus: Corpus, utt_id: str, features: Any) -> Any:
    """Waveform and log-mel spectrogram of one utterance, with its true phone boundaries.

    ``features`` holds the utterance's (frames, mel bands) matrix under its id: the features
    stage's result (:class:`nap.features.Features`, whose ``hop_s`` is used) or a mapping (10 ms
    hop). The corpus comes first in the data flow, so this module computes no features itself.
    """
    u = corpus[utt_id]
    audio = corpus.audio(u)
    if utt_id not in features:
        raise KeyError(f"no features for utterance {utt_id!r}")
    feats = features.get(utt_id)
    hop = getattr(features, "hop_s", 0.01)
    phones = corpus.true_phones(utt_id) or []
    fig, (ax_w, ax_s) = plt.subplots(
        2, 1, figsize=(12, 5), sharex=True, gridspec_kw={"height_ratios": [1, 3]}
    )
    t = np.arange(len(audio)) / 16000
    ax_w.plot(t, audio, lw=0.4, color="0.3")
    ax_w.set_yticks([])
    ax_w.set_title(f"{u.id} — {u.voice} — “{u.text}”", fontsize=9)
    ax_s.imshow(
        feats.T,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(-hop / 2, (len(feats) - 0.5) * hop, -0.5, feats.shape[1] - 0.5),
    )
    ax_s.set_ylabel("mel band")
    ax_s.set_xlabel("time (s)")
    for p, s, e in phones:
        for ax in (ax_w, ax_s):
            ax.axvline(s, color="c", lw=0.6, alpha=0.8)
        ax_s.text(
            (s + e) / 2,
            feats.shape[1] - 3,
            p,
            color="w" if p != "sil" else "0.6",
            fontsize=7,
            ha="center",
            va="top",
            rotation=90 if e - s < 0.04 else 0,
        )
    fig.tight_layout()
    return fig


class Players:
    """Audio players with captions; embedded in the page (base64 WAV), so they work offline too."""

    def __init__(self, items: Sequence[tuple[str, np.ndarray]], sample_rate: int = 16000):
        self.items = list(items)
        self.sample_rate = sample_rate

    def _repr_html_(self) -> str:
        rows = []
        for caption, audio in self.items:
            buf = io.BytesIO()
            sf.write(
                buf, np.asarray(audio, dtype=np.float32), self.sample_rate, format="WAV", subtype="PCM_16"
            )
            data = base64.b64encode(buf.getvalue()).decode()
            rows.append(
                f'<div style="margin:4px 0"><div style="font-size:90%">{html.escape(caption)}</div>'
                f'<audio controls preload="none" src="data:audio/wav;base64,{data}"></audio></div>'
            )
        return "".join(rows)

    def __repr__(self) -> str:
        return "\n".join(caption for caption, _ in self.items)


def players(corpus: Corpus, utt_ids: Sequence[str]) -> Players:
    """Players for ``utt_ids`` captioned with split, voice and transcript."""
    return Players(
        [(f"{corpus[i].split} · {corpus[i].voice} · “{corpus[i].text}”", corpus.audio(i)) for i in utt_ids]
    )


def examples(corpus: Corpus, per_split: int = 2, seed: int = 0) -> list[str]:
    """A few utterance ids per split, from different engines where there are several."""
    rng = np.random.default_rng(seed)
    picked = []
    for utts in corpus.splits.values():
        by_engine: dict[str, list[str]] = {}
        for u in utts:
            by_engine.setdefault(u.voice.split()[0], []).append(u.id)
        engines = sorted(by_engine)
        for k in range(min(per_split, len(utts))):
            pool = by_engine[engines[k % len(engines)]]
            picked.append(pool[int(rng.integers(len(pool)))])
    return picked
