"""The Wav2Letter recognizer (chapter 2): model, vocabulary, CTC training, decoding, evaluation.

``build_asr(work, p, corpus, features)`` trains and evaluates the stage;
``Recognizer.open(path)`` loads a finished one.
"""

from typing import TYPE_CHECKING

from nap.asr.params import AsrParams
from nap.lazy import exports

if TYPE_CHECKING:
    from nap.asr.model import Architecture, Wav2Letter
    from nap.asr.recognizer import Recognizer
    from nap.asr.stage import build_asr
    from nap.asr.vocab import Vocab

# torch is imported on first use of these (nap.lazy): `nap params` and `nap results` stay fast
__getattr__ = exports(
    __name__,
    {
        "nap.asr.model": ["Architecture", "Wav2Letter"],
        "nap.asr.recognizer": ["Recognizer"],
        "nap.asr.stage": ["build_asr"],
        "nap.asr.vocab": ["Vocab"],
    },
)

__all__ = ["Architecture", "AsrParams", "Recognizer", "Vocab", "Wav2Letter", "build_asr"]
