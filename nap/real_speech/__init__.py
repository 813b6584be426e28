"""Chapter 8: real human speech through the study (the recognizer, the cascade and the NAPs).

``build_real_speech(work, p, corpus, features, recognizer, g2p, labels, napset, clustering)``
puts the ``real`` corpus (:mod:`nap.corpus.real`) through the synthetic study's recognizer,
cascade and NAP extraction, with a reference aligner's phones (:mod:`nap.corpus.reference_aligner`)
in place of exact timings; ``RealSpeech.open(path)`` reads the result back.
"""

from typing import TYPE_CHECKING

from nap.lazy import exports
from nap.real_speech.params import RealSpeechParams

if TYPE_CHECKING:
    from nap.real_speech.results import RealSpeech
    from nap.real_speech.stage import build_real_speech

# torch and scikit-learn are imported on first use of these (nap.lazy): `nap results` stays fast
__getattr__ = exports(
    __name__,
    {"nap.real_speech.results": ["RealSpeech"], "nap.real_speech.stage": ["build_real_speech"]},
)

__all__ = ["RealSpeech", "RealSpeechParams", "build_real_speech"]
