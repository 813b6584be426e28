"""Reference phone timings from pocketsphinx forced alignment, and how far to trust them.

For human speech no exact phone timings exist. pocketsphinx (PyPI ``pocketsphinx`` 5.1.1,
with its bundled US English acoustic model and CMUdict) aligns a known transcript to the
audio: ``set_align_text`` and a first decoding pass give the words (with CMUdict's
pronunciation variant that fits best), ``set_alignment`` and a second pass give phone
segments at 10 ms (``get_alignment``). Its phones are CMUdict's 39 ARPAbet phones without
stress, the study's own; ``SIL`` and the noise phones (``+NSN+``, ...) are ``sil``, and the
frames between words that it leaves without a phone (optional pauses) are ``sil`` too, so
the phones tile the audio. Cepstral mean normalization is per utterance (``cmn=batch``), so
an alignment does not depend on what was aligned before.

**This is a reference aligner's output, not ground truth**: a 2010s HMM aligner with its
own errors, trained on other speech. :func:`calibrate` measures it where the truth is
known, on the synthetic corpus: the share of 10 ms frames whose phone it gets right, and
the share of true phone boundaries it places within ±20 ms.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nap.corpus.packages import require
from nap.errors import NapError

PACKAGES = {"pocketsphinx": "pocketsphinx==5.1.1"}
SAMPLE_RATE = 16000
#: Seconds per pocketsphinx frame.
FRAME = 0.01
#: Boundary tolerance of the calibration (seconds).
TOLERANCE = 0.02
#: Seconds of faint noise put before and after the audio (times are given without them).
PAD = 0.25
#: Standard deviation of that noise (int16 units): never digital silence, which the
#: front end cannot take the logarithm of.
PAD_NOISE = 4.0

Segment = tuple[str, float, float]


class AlignerError(NapError, RuntimeError):
    """pocketsphinx is missing or could not align an utterance."""


def require_aligner() -> None:
    """AlignerError naming the pip package to install when pocketsphinx is missing."""
    require("the reference aligner (pocketsphinx)", PACKAGES, error=AlignerError)


@dataclass(frozen=True)
class Alignment:
    """Words (CMUdict spelling, lower case) and phones (39 ARPAbet or ``sil``) with start, end s."""

    words: list[Segment]
    phones: list[Segment]


def _phone(name: str) -> str:
    from nap.corpus.phones import PHONES, SIL

    return name if name in PHONES else SIL


class ReferenceAligner:
    """One pocketsphinx decoder in alignment mode (use :func:`aligner`)."""

    def __init__(self) -> None:
        require_aligner()
        import pocketsphinx

        self.decoder = pocketsphinx.Decoder(lm=None, cmn="batch", loglevel="ERROR")
        self._pid = os.getpid()

    def missing_words(self, text: str) -> list[str]:
        """The words of ``text`` that CMUdict (pocketsphinx's dictionary) lacks."""
        return [w for w in dict.fromkeys(text.split()) if self.decoder.lookup_word(w) is None]

    def align(self, audio: np.ndarray, text: str, pad: float = PAD) -> Alignment:
        """Align ``text`` (lower-case words) to 16 kHz mono ``audio`` (float in [-1, 1] or int16).

        ``pad`` seconds of faint noise go before and after the audio: speech that starts at
        the first sample (as synthetic speech does) otherwise often fails to align, since
        the alignment grammar begins with a pause. The noise is seeded, so the result is too.
        """
        words = text.lower().split()
        if not words:
            raise AlignerError("nothing to align: the transcript is empty")
        missing = self.missing_words(" ".join(words))
        if missing:
            raise AlignerError(f"word(s) not in pocketsphinx's dictionary: {', '.join(missing)}")
        audio = np.asarray(audio)
        if audio.dtype != np.int16:
            audio = np.clip(np.round(audio.astype(np.float64) * 32767), -32768, 32767).astype(np.int16)
        seconds = len(audio) / SAMPLE_RATE
        n = int(round(pad * SAMPLE_RATE))
        noise = np.random.default_rng(0).normal(0.0, PAD_NOISE, 2 * n).round().astype(np.int16)
        pcm = np.concatenate([noise[:n], audio, noise[n:]]).tobytes()
        shift = n / SAMPLE_RATE
        d = self.decoder
        try:
            d.set_align_text(" ".join(words))
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            d.set_alignment()
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            result = d.get_alignment()
        except RuntimeError as exc:
            raise AlignerError(f"pocketsphinx could not align {text!r}: {exc}") from exc
        if result is None:
            raise AlignerError(f"pocketsphinx found no alignment for {text!r}")

        def span(start: int, duration: int) -> tuple[float, float]:
            a = min(max(start * FRAME - shift, 0.0), seconds)
            return a, min(max((start + duration) * FRAME - shift, a), seconds)

        spoken = [
            (w.name.split("(")[0], *span(w.start, w.duration))
            for w in result.words()
            if not w.name.startswith(("<", "["))
        ]
        raw = [(_phone(p.name), *span(p.start, p.duration)) for p in result.phones()]
        return Alignment(spoken, tile(raw, seconds))


def tile(segments: Sequence[Segment], seconds: float) -> list[Segment]:
    """``segments`` (in order) filled to tile 0..``seconds``: gaps become ``sil``, adjacent
    ``sil`` merge, the last segment ends with the audio."""
    from nap.corpus.phones import SIL

    out: list[Segment] = []

    def put(p: str, s: float, e: float) -> None:
        if e <= s + 1e-9:
            return
        if out and out[-1][0] == p == SIL:
            out[-1] = (SIL, out[-1][1], e)
        else:
            out.append((p, s, e))

    t = 0.0
    for p, s, e in segments:
        s, e = max(s, t), min(e, seconds)
        put(SIL, t, s)
        put(p, s, e)
        t = max(t, e)
    put(SIL, t, seconds)
    if out and out[-1][2] != seconds:
        out[-1] = (out[-1][0], out[-1][1], seconds)
    return out


_ALIGNER: ReferenceAligner | None = None


def aligner() -> ReferenceAligner:
    """This process's aligner (created on first use, again after a fork)."""
    global _ALIGNER
    if _ALIGNER is None or _ALIGNER._pid != os.getpid():
        _ALIGNER = ReferenceAligner()
    return _ALIGNER


def align(audio: np.ndarray, text: str) -> Alignment:
    """:meth:`ReferenceAligner.align` with this process's aligner."""
    return aligner().align(audio, text)


# -- calibration ---------------------------------------------------------------------------------
def frame_labels(phones: Sequence[Segment], frames: int) -> list[str]:
    """The phone at the centre of each 10 ms frame (``sil`` past the last phone)."""
    from nap.corpus.phones import SIL

    out, k = [], 0
    for i in range(frames):
        t = (i + 0.5) * FRAME
        while k < len(phones) and phones[k][2] <= t:
            k += 1
        out.append(phones[k][0] if k < len(phones) else SIL)
    return out


def boundaries(phones: Sequence[Segment]) -> list[tuple[float, str, str]]:
    """(time, phone before, phone after) of every change of phone."""
    return [(phones[i][1], phones[i - 1][0], phones[i][0]) for i in range(1, len(phones))]


def agreement(
    truth: Sequence[Segment], reference: Sequence[Segment], tolerance: float = TOLERANCE
) -> dict[str, int]:
    """Counts comparing one utterance's reference phones with its true phones.

    ``frames``/``frames_agree`` — 10 ms frames, and those labelled alike (``sil`` included);
    ``speech_frames``/``speech_agree`` — the same over frames whose true phone is not ``sil``;
    ``boundaries``/``boundaries_hit`` — true phone changes, and those the reference makes
    between the same two phones within ``tolerance``.
    """
    from nap.corpus.phones import SIL

    end = max(truth[-1][2], reference[-1][2]) if truth and reference else 0.0
    frames = int(round(end / FRAME))
    a, b = frame_labels(truth, frames), frame_labels(reference, frames)
    same = [x == y for x, y in zip(a, b, strict=True)]
    speech = [s for s, x in zip(same, a, strict=True) if x != SIL]
    ref = boundaries(reference)
    hits = 0
    true_b = boundaries(truth)
    for t, left, right in true_b:
        hits += any(abs(t - u) <= tolerance + 1e-9 and (lft, rgt) == (left, right) for u, lft, rgt in ref)
    return {
        "frames": frames,
        "frames_agree": int(sum(same)),
        "speech_frames": len(speech),
        "speech_agree": int(sum(speech)),
        "boundaries": len(true_b),
        "boundaries_hit": hits,
    }


def calibrate(
    utterances: Iterable[tuple[str, np.ndarray, str, Sequence[Segment]]], tolerance: float = TOLERANCE
) -> dict[str, Any]:
    """Align ``(id, audio, text, true phones)`` utterances; frame and boundary agreement overall.

    Utterances the aligner cannot align (a word missing from its dictionary) are counted and
    left out. Returns the shares and the counts they come from, and the alignment speed.
    """
    import time

    totals = dict.fromkeys(("frames", "frames_agree", "speech_frames", "speech_agree"), 0)
    totals |= {"boundaries": 0, "boundaries_hit": 0}
    failed: dict[str, str] = {}
    audio_s = wall = 0.0
    n = 0
    for uid, audio, text, truth in utterances:
        start = time.perf_counter()
        try:
            result = align(audio, text)
        except AlignerError as exc:
            failed[uid] = str(exc)
            continue
        wall += time.perf_counter() - start
        audio_s += len(audio) / SAMPLE_RATE
        n += 1
        for k, v in agreement(truth, result.phones, tolerance).items():
            totals[k] += v
    if not n:
        raise AlignerError(f"the aligner aligned none of the utterances ({len(failed)} failed)")
    return {
        "utterances": n,
        "failed": len(failed),
        "failed_examples": dict(list(failed.items())[:5]),
        "frame_agreement": round(totals["frames_agree"] / max(1, totals["frames"]), 4),
        "speech_frame_agreement": round(totals["speech_agree"] / max(1, totals["speech_frames"]), 4),
        "boundaries_within": round(totals["boundaries_hit"] / max(1, totals["boundaries"]), 4),
        "tolerance_s": tolerance,
        **totals,
        "audio_seconds": round(audio_s, 2),
        "align_seconds": round(wall, 2),
    }
