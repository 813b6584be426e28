"""Character and word error rates: Levenshtein edits over the reference length, corpus-wide."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nap.sequences import edit_distance


def _norm(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class ErrorRate:
    """Edits and reference length summed over utterances; ``rate`` = edits / length."""

    edits: int
    length: int

    @property
    def rate(self) -> float:
        return self.edits / self.length if self.length else 0.0

    def __add__(self, other: ErrorRate) -> ErrorRate:
        return ErrorRate(self.edits + other.edits, self.length + other.length)


def char_errors(ref: str, hyp: str) -> ErrorRate:
    """Character edits (spaces count; runs of whitespace count as one space)."""
    ref, hyp = _norm(ref), _norm(hyp)
    return ErrorRate(edit_distance(ref, hyp), len(ref))


def word_errors(ref: str, hyp: str) -> ErrorRate:
    ref_w, hyp_w = ref.split(), hyp.split()
    return ErrorRate(edit_distance(ref_w, hyp_w), len(ref_w))


def cer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus character error rate: all edits over all reference characters."""
    _same_length(refs, hyps)
    return sum((char_errors(r, h) for r, h in zip(refs, hyps, strict=False)), ErrorRate(0, 0)).rate


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus word error rate: all word edits over all reference words."""
    _same_length(refs, hyps)
    return sum((word_errors(r, h) for r, h in zip(refs, hyps, strict=False)), ErrorRate(0, 0)).rate


def _same_length(refs: Sequence[str], hyps: Sequence[str]) -> None:
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
