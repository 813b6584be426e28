"""Audio as the corpus holds it: 16 kHz mono, one utterance of a speech engine, and the one resampler.

:func:`resample` is the study's only sample-rate conversion: the speech engines' output
(espeak-ng speaks at 22,050 Hz), LibriSpeech files at another rate, and audio given to
:func:`nap.features.log_mel` at another rate all go through it. It is polyphase filtering
(``scipy.signal.resample_poly``: zero-phase, so phone times are kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np

#: The corpus' sample rate (Hz).
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Synthesis:
    """One spoken utterance: int16 audio and (phone, start s, end s) tiling it."""

    audio: np.ndarray
    phones: list[tuple[str, float, float]]
    sample_rate: int = SAMPLE_RATE

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


def resample(audio: np.ndarray, orig: int, new: int) -> np.ndarray:
    """``audio`` (one dimension) at ``orig`` Hz, as float32 at ``new`` Hz."""
    from scipy.signal import resample_poly

    g = gcd(new, orig)
    out = resample_poly(np.asarray(audio, dtype=np.float32), new // g, orig // g)
    return out.astype(np.float32, copy=False)
