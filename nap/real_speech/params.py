"""Parameters of the ``real_speech`` stage: the study's recognizer, cascade and NAPs on human speech."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from nap.params import ParamError, StageParams, check_threads, param

#: The synthetic corpus' test splits, where the reference aligner can be checked against exact timings.
CALIBRATION_SPLITS = ("test_sentences", "test_voices")


@dataclass(frozen=True)
class RealSpeechParams(StageParams):
    """Which real utterances go through the study, and how the reference aligner is calibrated."""

    stage: ClassVar[str] = "real_speech"

    seed: int = param(0, "seed of the utterance sample, the calibration sample and the probe sample")
    max_utterances: int = param(
        0, "real utterances put through the study, a seeded sample in corpus order (0: all of them)"
    )
    calibration_utterances: int = param(
        100,
        "synthetic test utterances (exact phone timings) the reference aligner is calibrated on: how "
        "often it agrees with the truth there (frames, boundaries within ±20 ms)",
    )
    calibration_splits: list[str] = param(
        list(CALIBRATION_SPLITS), "synthetic splits the calibration utterances are drawn from"
    )
    probe_frames: int = param(
        5000,
        "real frames sampled (seeded) for the cross-domain probe (trained on the naps stage's synthetic "
        "probe sample, tested on these); 0 = no probe",
    )
    workers: int | Literal["auto"] = param(
        "auto",
        "processes running the reference aligner side by side (auto: one per core); the alignments do "
        "not depend on it",
        keyed=False,
    )
    threads: int | Literal["auto"] = param(
        "auto", "torch CPU threads for the recognizer's forward passes (auto: every core)", keyed=False
    )

    def check(self) -> None:
        for name in ("max_utterances", "calibration_utterances", "probe_frames"):
            if getattr(self, name) < 0:
                raise ParamError(
                    f"parameter 'real_speech.{name}' must be 0 or more, got {getattr(self, name)}"
                )
        bad = [s for s in self.calibration_splits if s not in CALIBRATION_SPLITS]
        if (
            not self.calibration_splits
            or bad
            or len(set(self.calibration_splits)) != len(self.calibration_splits)
        ):
            raise ParamError(
                f"parameter 'real_speech.calibration_splits': expected distinct names among "
                f"{CALIBRATION_SPLITS}, got {self.calibration_splits}"
            )
        check_threads(self.workers, "real_speech.workers")
        check_threads(self.threads, "real_speech.threads")
