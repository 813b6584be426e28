"""The Wav2Letter recognizer (chapter 2): model, vocabulary, CTC training, decoding, evaluation.

``build_asr(work, p, corpus, features)`` trains and evaluates the stage;
``Recognizer.open(path)`` loads a finished one.
"""

from nap.asr.model import Architecture, Wav2Letter
from nap.asr.params import AsrParams
from nap.asr.recognizer import Recognizer
from nap.asr.stage import build_asr
from nap.asr.vocab import Vocab

#: bump when a change of code changes what the stage produces (the artifact key includes it)
VERSION = 1

__all__ = ["VERSION", "Architecture", "AsrParams", "Recognizer", "Vocab", "Wav2Letter", "build_asr"]
