"""Chapter 4's tables, figures and sentences, built from a :class:`~nap.align.labels.FrameLabels`
and the stage's summary (so cells stay short).

A corpus without true phone timings (LibriSpeech) has no accuracy, confusion matrix,
timing curve or ``phoneme_true`` grouping: in their place the chapter shows a sentence
that says they are absent (:func:`absent`), never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nap.align.cascade import REASONS
from nap.align.labels import EXTRA_GROUPINGS, GROUPINGS
from nap.display import Markdown, Table, percent, table

#: Why the parts of chapter 4 that need the true phones are absent.
NO_TIMINGS = "the corpus has no true phone timings (LibriSpeech has none)"


def has_true_timings(summary: Mapping[str, Any]) -> bool:
    """Whether the stage scored its labels against true phone timings (summaries written before
    ``true_timings`` was recorded have ``eval_split`` exactly then)."""
    return bool(summary.get("true_timings", "eval_split" in summary))


def absent(what: str) -> Markdown:
    """The sentence shown in place of ``what``, something that needs the true phones (e.g. "The
    confusion matrix")."""
    return Markdown(f"{what} is absent: {NO_TIMINGS}.")


def _pyplot_figure(fig: Any) -> Any:
    """A pyplot figure handed to the notebook as the cell's value: closed, so it is shown once."""
    import matplotlib.pyplot as plt

    plt.close(fig)
    return fig


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def explanation_text(ex: Any) -> str:
    """The example utterance of Figure 2: its texts, symbols and how many frames get their true phone."""
    if not ex.true_phones:
        score = absent("whether its frames get their true phone")
    elif ex.accuracy is None:
        score = "no frame labelled (the recognizer wrote no letter)"
    else:
        score = f"{ex.accuracy:.0%} of this utterance's labelled frames get their true phone"
    return (
        f"utterance {ex.utt_id}\n  true text: {ex.truth.transcript!r}\n"
        f"  decoded:   {ex.decoded.transcript!r}\n"
        f"{len(ex.centres)} output frames -> {len(ex.decoded.tokens.chars)} symbols after merging and "
        f"removing blanks; Needleman-Wunsch score {ex.decoded.alignment.score}; {score}"
    )


def delay_text(lag: Mapping[str, Any], summary: Mapping[str, Any]) -> str:
    """The recognizer's emission delay, how it was found, and the paper's cascade's accuracy."""
    if lag["estimated"]:
        how = "estimated on the train split"
    else:
        how = f"not estimated: {lag['why']}" if "why" in lag else "given"
    head = f"emission delay: {lag['frames']} output frames = {lag['ms']} ms ({how})"
    if not has_true_timings(summary):
        return f"{head}; " + absent("the accuracy of the paper's cascade (no delay)")
    return (
        f"{head}; on {summary['eval_split']} the paper's cascade (no delay) is right on "
        f"{percent(summary.get('phoneme_accuracy_lag0'))}"
    )


def accuracy_text(summary: Mapping[str, Any]) -> str:
    """The headline accuracies of the evaluation split, in a sentence."""
    if not has_true_timings(summary):
        return absent("The accuracy of the cascade's phonemes against the true phones")
    s = summary
    return (
        f"On {s['eval_split']}: {percent(s['phoneme_accuracy'])} of the frames labelled by the cascade "
        f"get their true phoneme ({percent(s['phoneme_accuracy_true_transcript'])} with the true "
        f"transcript); {percent(s['phoneme_class_accuracy'])} get a phoneme of the right class."
    )


def confusion_figure(labels: Any, summary: Mapping[str, Any]) -> Any:
    """True phone × cascade phoneme on the evaluation split (row-normalised), or why it is absent."""
    from nap.align import accuracy, plots

    if not has_true_timings(summary):
        return absent("The confusion matrix")
    m = labels.confusion(summary["eval_split"])
    return _pyplot_figure(plots.plot_confusion(m, accuracy.TRUE_NAMES, accuracy.PRED_NAMES))


def per_phone_figure(labels: Any, summary: Mapping[str, Any]) -> Any:
    """Accuracy per true phone on the evaluation split, or why it is absent."""
    from nap.align import plots

    if not has_true_timings(summary):
        return absent("The accuracy per true phone")
    return _pyplot_figure(plots.plot_per_phone(labels.accuracy[summary["eval_split"]]["decoded"]))


def timing_text(labels: Any, summary: Mapping[str, Any]) -> str:
    """At which shift from the frame's centre the truth agrees best with the cascade."""
    if not has_true_timings(summary):
        return absent("The accuracy against the time at which the truth is read")
    best = labels.timing["decoded"]
    if best["best_shift_s"] is None:
        return "No frame of the evaluation split has a cascade phoneme: no shift agrees best."
    return (
        f"Read {1000 * best['best_shift_s']:+.0f} ms from the frame's centre, the truth agrees with the "
        f"cascade on {percent(best['best_accuracy'])} of the frames "
        f"(at the centre: {percent(summary['phoneme_accuracy'])})."
    )


def timing_figure(labels: Any, summary: Mapping[str, Any]) -> Any:
    """Accuracy against the shift at which the truth is read, or why it is absent."""
    from nap.align import plots

    if not has_true_timings(summary):
        return absent("The timing curve")
    return _pyplot_figure(plots.plot_shift(labels.timing))


def groups_text(labels: Any, summary: Mapping[str, Any]) -> str:
    """Per NAP grouping: groups kept and left out (with their frames); ``phoneme_true`` is absent
    without true phone timings."""
    lines = []
    for g in GROUPINGS:
        if g == "phoneme_true" and not has_true_timings(summary):
            lines.append(f"{g}: {absent('this grouping')}")
            continue
        left = labels.left_out[g]
        lines.append(
            f"{g}: {len(labels.groups[g])} groups kept, {len(left)} left out"
            + (f" ({', '.join(f'{k}: {v}' for k, v in left.items())})" if left else "")
        )
    return "\n".join(lines)


def accuracy_table(labels: Any) -> Table | Markdown:
    """Per split: frames with a cascade phoneme, coverage, accuracy (decoded and true transcript);
    without true phone timings, the sentence that says it is absent."""
    if not labels.accuracy:
        return absent("The accuracy against the true phones")
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
            "phoneme_accuracy_one_lag", "lag_ms", "lag_per", "lag_keys", "g2p_failed_words",
            "true_timings"]  # fmt: skip
    return table([(k, summary[k]) for k in keep if k in summary], ["number", "value"], title="align stage")
