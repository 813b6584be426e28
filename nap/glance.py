"""The study at a glance: chapter 0's headline numbers, read from the stages' summaries."""

from __future__ import annotations

from typing import Any

#: Curated headline numbers for the book's front page: (stage, candidate keys, what it is).
#: The first key a stage's summary has is shown; a stage that is not built is left out.
GLANCE: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("corpus", ("minutes", "audio_minutes", "train_minutes"), "minutes of synthesized speech"),
    ("corpus", ("utterances", "n_utterances"), "utterances"),
    ("corpus", ("voices", "n_voices"), "voices"),
    ("asr", ("layers",), "convolutional layers of the recognizer"),
    ("asr", ("receptive_field",), "receptive field (input frames; the paper states 206)"),
    ("asr", ("parameters",), "recognizer parameters"),
    ("asr", ("cer",), "CER, held-out sentences (beam search)"),
    ("asr", ("wer",), "WER, held-out sentences (beam search)"),
    ("asr", ("test_voices_beam_cer",), "CER, held-out voices (beam search)"),
    ("g2p", ("wer", "test_wer"), "G2P word error rate (paper: 0.29)"),
    ("g2p", ("bleu", "test_bleu"), "G2P BLEU (paper: 0.78)"),
    (
        "align",
        ("phoneme_accuracy", "cascade_accuracy", "true_phoneme_agreement"),
        "frames whose cascade phoneme is the true one",
    ),
    ("naps", ("frames",), "frames behind the NAPs"),
    ("naps", ("extraction_seconds",), "seconds to extract every layer's NAPs"),
    ("cluster", ("figure4_layers",), "layers where phoneme structure is strongest"),
    ("real_speech", ("beam_cer",), "CER, real human speech (beam search)"),
    ("real_speech", ("cascade_accuracy",), "real-speech frames whose cascade phoneme is the aligner's"),
)


def _first(summary: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if k in summary and summary[k] is not None:
            return summary[k]
    return None


def at_a_glance(study: Any) -> Any:
    """The study's key numbers (read from the stages' summaries, never typed) as a table."""
    from nap.display import table

    rows = []
    for stage, keys, what in GLANCE:
        summary = study.summary(stage) or {}
        value = _first(summary, keys)
        if value is None:
            continue
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        elif (
            isinstance(value, float)
            and 0 <= value <= 1
            and ("CER" in what or "WER" in what or "frames" in what)
        ):
            value = f"{value:.1%}"
        elif isinstance(value, int):
            value = f"{value:,}"
        rows.append((what, value, stage))
    return table(
        rows, ["", "value", "stage"], title=f"The study at a glance (profile '{study.profile.name}')"
    )


def stage_numbers(study: Any) -> Any:
    """Every built stage's scalar headline numbers, one row each (the complete record)."""
    from nap.display import table

    rows = []
    for stage, summary in study.results().items():
        for key, value in (summary or {}).items():
            if isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) < 40):
                rows.append((stage, key, value))
    return table(rows, ["stage", "number", "value"], title="Every stage's headline numbers")
