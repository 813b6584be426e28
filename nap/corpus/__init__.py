"""The corpus stage: the embedded synthesized corpus, LibriSpeech, and the Corpus loader.

* :func:`synthesize` — speak fortune sentences with espeak-ng and flite voices into a folder
  in LibriSpeech layout with true phone timings (:mod:`nap.corpus.synth`);
* :mod:`nap.corpus.librispeech` — read any LibriSpeech-shaped tree, with a bad-input policy;
* :func:`build_corpus` / :class:`Corpus` — the stage function and the loader the study uses.
"""

from nap.corpus.librispeech import BadInputError, LibriSpeechError, read_audio, scan
from nap.corpus.params import CorpusParams
from nap.corpus.stage import Corpus, Utterance, build_corpus
from nap.corpus.synth import SynthError, Synthesis, Voice, synthesize

__all__ = [
    "BadInputError",
    "Corpus",
    "CorpusParams",
    "LibriSpeechError",
    "SynthError",
    "Synthesis",
    "Utterance",
    "Voice",
    "build_corpus",
    "read_audio",
    "scan",
    "synthesize",
]
