"""Chapter 4's tables, built from a :class:`~nap.align.labels.FrameLabels` (so cells stay short)."""

from __future__ import annotations

from typing import Any

from nap.align.cascade import REASONS
from nap.align.labels import EXTRA_GROUPINGS, GROUPINGS
from nap.display import Table, table


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def accuracy_table(labels: Any) -> Table:
    """Per split: frames with a cascade phoneme, coverage, accuracy (decoded and true transcript)."""
    rows = []
    for split, rep in labels.accuracy.items():
        dec, tru = rep["decoded"], rep["truth"]
        rows.append((split, dec["frames"], _pct(dec.get("coverage")), _pct(dec["accuracy"]),
                     _pct(dec["class_accuracy"]), _pct(dec["on_silence"]),
                     _pct(tru["accuracy"])))  # fmt: skip
    headers = ["split", "labelled frames", "coverage", "accuracy", "class accuracy", "on silence",
               "accuracy, true transcript"]  # fmt: skip
    return table(rows, headers, title="cascade phoneme vs. true phone at the frame centre")


def reasons_table(labels: Any) -> Table:
    """Why frames have no label, per grouping (frames and share of all frames)."""
    n = max(labels.n_frames, 1)
    none = labels.meta["none"]
    groupings = [g for g in (*GROUPINGS, *EXTRA_GROUPINGS) if g in none]
    names = [r for r in (*REASONS[1:], "silence_or_outside") if any(r in none[g] for g in groupings)]
    rows = []
    for g in groupings:
        labelled = sum(labels.counts[g].values())
        cells = [f"{none[g][r]} ({_pct(none[g][r] / n)})" if r in none[g] else "" for r in names]
        rows.append((g, f"{labelled} ({_pct(labelled / n)})", sum(labels.left_out[g].values()), *cells))
    headers = ["grouping", "in a group", "in left-out groups", *(r.replace("_", " ") for r in names)]
    return table(rows, headers, title=f"{labels.n_frames} output frames: in which group, or why in none")


def groups_table(labels: Any, grouping: str) -> Table:
    """Frames per group of one grouping, most frequent first; left-out groups marked."""
    counts = labels.counts[grouping]
    left = labels.left_out[grouping]
    rows = [(name, c, "") for name, c in sorted(counts.items(), key=lambda kv: -kv[1])]
    rows += [(name, c, f"left out (< {labels.meta['min_count']})") for name, c in sorted(left.items())]
    return table(rows, ["group", "frames", ""], title=f"{grouping}: frames per group")


def summary_table(summary: dict[str, Any]) -> Table:
    """The stage's headline numbers as a two-column table."""
    keep = ["utterances", "frames", "audio_hours", "labelling_seconds", "audio_seconds_per_second",
            "frames_per_audio_second", "phoneme_frames_per_audio_second", "grapheme_labelled",
            "phoneme_labelled", "phoneme_accuracy", "phoneme_accuracy_true_transcript",
            "phoneme_class_accuracy", "phoneme_coverage", "phoneme_accuracy_lag0",
            "phoneme_accuracy_one_lag", "lag_ms", "lag_per", "lag_keys", "g2p_failed_words"]  # fmt: skip
    return table([(k, summary[k]) for k in keep if k in summary], ["number", "value"], title="align stage")
