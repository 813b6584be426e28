"""Parameters of the ``align`` stage: the cascade of paper Figure 2 and the frame groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from nap.hardware import DEVICE_HELP, check_device
from nap.params import ParamError, StageParams, check_threads, param

SPLITS = ("train", "test_sentences", "test_voices")


@dataclass(frozen=True)
class AlignParams(StageParams):
    """A grapheme and a phoneme for every output frame, and their accuracy against the truth."""

    stage: ClassVar[str] = "align"

    seed: int = param(0, "recorded for uniformity; the alignment itself draws no random numbers")
    decoder: Literal["beam", "greedy"] = param(
        "beam", "transcript the argmax symbols are aligned to: the recognizer's beam search (paper) or greedy"
    )
    splits: list[str] = param(list(SPLITS), "corpus splits whose utterances are labelled")
    eval_split: str = param("test_sentences", "split whose accuracy is the stage's headline number")
    lag_frames: Literal["auto"] | int = param(
        "auto",
        "output frames by which the recognizer writes a letter after its sound; each phoneme label is "
        "moved that many frames earlier (graphemes stay where they are written, as in the paper). "
        "auto: the shift that best matches the true phone timings on the train split (0 where there "
        "are none, e.g. LibriSpeech); 0: the paper's cascade unchanged",
    )
    lag_per: Literal["recognizer", "letter", "letter_phoneme"] = param(
        "letter_phoneme",
        "with lag_frames auto: one delay for the whole recognizer, or one per letter written, or per "
        "letter and its cascade phoneme (each estimated on its own train frames; see nap.align.delay)",
    )
    lag_min_frames: int = param(
        50, "train frames a letter (and phoneme) needs for its own delay; fewer: the recognizer's delay"
    )
    min_count: int = param(20, "groups with fewer frames than this are left out of the groups (and reported)")
    max_utterances: int = param(0, "label at most this many utterances per split (0: all)")
    chunk: int = param(100, "utterances per resumable part (a killed run resumes after the last part)")
    threads: int | Literal["auto"] = param(
        "auto",
        "torch CPU threads for the recognizer's forward pass, shared among the workers (auto: the "
        "cores this process may use)",
        keyed=False,
    )
    workers: int | Literal["auto"] = param(
        "auto",
        "processes labelling parts side by side (the beam search and the cascade use one core each; "
        "auto: one per core); 1: in the calling process. The labels do not depend on it",
        keyed=False,
    )
    device: str = param(
        "auto",
        f"device of the recognizer's forward passes and the G2P's letter assignment: {DEVICE_HELP}",
        keyed=False,
    )

    def check(self) -> None:
        if not self.splits:
            raise ParamError("parameter 'align.splits' must name at least one split")
        bad = [s for s in self.splits if s not in SPLITS]
        if bad or len(set(self.splits)) != len(self.splits):
            raise ParamError(
                f"parameter 'align.splits': expected distinct names among {SPLITS}, got {self.splits}"
            )
        if self.eval_split not in self.splits:
            raise ParamError(
                f"parameter 'align.eval_split' must be in align.splits {self.splits}, got {self.eval_split!r}"
            )
        if self.lag_frames != "auto" and abs(self.lag_frames) > 50:
            raise ParamError(
                f"parameter 'align.lag_frames' must be 'auto' or in -50..50, got {self.lag_frames}"
            )
        if self.lag_min_frames < 1:
            raise ParamError(
                f"parameter 'align.lag_min_frames' must be at least 1, got {self.lag_min_frames}"
            )
        if self.min_count < 0:
            raise ParamError(f"parameter 'align.min_count' must be >= 0, got {self.min_count}")
        if self.max_utterances < 0:
            raise ParamError(f"parameter 'align.max_utterances' must be >= 0, got {self.max_utterances}")
        check_threads(self.workers, "align.workers")
        check_threads(self.threads, "align.threads")
        check_device(self.device, "align.device")
        if self.chunk < 1:
            raise ParamError(f"parameter 'align.chunk' must be at least 1, got {self.chunk}")
