"""Parameters of the naps stage (time-independent NAPs, chapter 5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from nap.hardware import DEVICE_HELP, check_device
from nap.params import ParamError, StageParams, check_threads, param


@dataclass(frozen=True)
class NapParams(StageParams):
    """Which layers and groupings to profile, the normalization, the probe sample."""

    stage: ClassVar[str] = "naps"

    layers: list[str] | None = param(
        None,
        "layers to profile (the recognizer's names, e.g. layer09; 'input' = the spectrogram window); "
        "None = every Conv1d layer",
    )
    groupings: list[str] = param(
        ["grapheme", "phoneme", "phoneme_true"],
        "frame groupings from the align stage; one missing there (e.g. phoneme_true on LibriSpeech) is "
        "skipped and reported",
    )
    splits: list[str] | None = param(None, "corpus splits whose utterances are profiled; None = every split")
    normalization: Literal["global_mean", "mean_of_groups", "whole_data"] = param(
        "global_mean",
        "subtracted from each group's mean window: global_mean, the mean over every labelled frame of "
        "the kept groups; mean_of_groups, the unweighted mean of the group means; whole_data, the mean "
        "over every frame, blank and unlabelled ones included (Figure 1D's 'whole data set'). The "
        "cluster stage judges the claims under all three (cluster readings)",
    )
    min_count: int = param(20, "groups with fewer frames are left out (and listed)")
    probe_frames: int = param(
        20000, "frames sampled (seeded) for the linear probes' per-frame features; 0 = none"
    )
    batch_size: int = param(8, "utterances per forward pass (sorted by length, so little padding)")
    threads: int | Literal["auto"] = param(
        "auto",
        "torch CPU threads for the forward passes (set, not inherited, so sums add up in the same "
        "order in every run: the NAPs are bit-identical for a seed and thread count); auto: the "
        "cores this process may use",
        keyed=False,
    )
    device: str = param(
        "auto",
        f"device of the recognizer's forward passes and the window sums, in exact float32 (TF32 off: "
        f"the NAPs equal the CPU's within 1e-5): {DEVICE_HELP}",
        keyed=False,
    )
    control: bool = param(
        True,
        "also profile the untrained network: the recognizer's architecture initialised with its seed "
        "scheme (asr.seed, asr.local_init), through the same pass, and the input window with it; "
        "stored beside the NAPs (control/), scored and probed by the cluster stage as the baseline "
        "the trained network's numbers are judged against",
    )
    unpadded: bool = param(
        True,
        "also sum, in the same pass, only the frames whose input window holds none of the recognizer's "
        "added silence (the paper's unpadded input, §3.1): NAPs in unpadded/, a reading the cluster "
        "stage judges the claims under; nothing with a recognizer that adds no padding",
    )
    contrast: list[str] | None = param(
        None,
        "contrastive NAPs (the authors' iNNtrospect toolbox): the groups whose mean is subtracted, "
        "and which get one (names missing in a grouping are ignored); None = every kept group. "
        "Computed from the stored group means when read (NapSet.contrastive)",
    )
    contrast_weighted: bool = param(
        False, "contrastive NAPs: weight each group's mean by its frames (else every group alike)"
    )
    saliency: bool = param(
        False,
        "also compute saliency-adjusted NAPs (Krug et al. 2021): per window, each activation times the "
        "gradient of the predicted class's logit with respect to it, averaged per group; one forward "
        "and backward pass per window batch (slow: for a few layers)",
    )
    saliency_layers: list[str] | None = param(
        None, "layers of the saliency-adjusted NAPs; None = every profiled layer"
    )
    saliency_frames: int = param(
        2000, "labelled frames (a seeded sample, as the probe's) behind the saliency-adjusted NAPs; 0 = all"
    )
    folds: int = param(
        8,
        "groups of speakers whose NAP sums are also kept apart (folds.npz), so the cluster stage can "
        "resample speakers for intervals on its agreement scores; 0 = none",
    )
    seed: int = param(0, "seed of the probe sample, the saliency sample and the speaker folds")

    def check(self) -> None:
        check_threads(self.threads, "naps.threads")
        check_device(self.device, "naps.device")
        if self.min_count < 1:
            raise ParamError(f"parameter 'naps.min_count' must be at least 1, got {self.min_count}")
        if self.probe_frames < 0:
            raise ParamError(f"parameter 'naps.probe_frames' must be 0 or more, got {self.probe_frames}")
        if self.batch_size < 1:
            raise ParamError(f"parameter 'naps.batch_size' must be at least 1, got {self.batch_size}")
        if self.folds < 0 or self.folds == 1:
            raise ParamError(f"parameter 'naps.folds' must be 0 (none) or at least 2, got {self.folds}")
        if not self.groupings:
            raise ParamError("parameter 'naps.groupings' must name at least one grouping")
        for name in ("groupings", "layers", "splits", "contrast", "saliency_layers"):
            values = getattr(self, name)
            if values is not None and len(set(values)) != len(values):
                raise ParamError(f"parameter 'naps.{name}' lists a name twice: {values}")
        if self.saliency_frames < 0:
            raise ParamError(
                f"parameter 'naps.saliency_frames' must be 0 (all) or more, got {self.saliency_frames}"
            )
        if self.saliency and self.normalization == "whole_data":
            raise ParamError(
                "parameters 'naps.saliency' and 'naps.normalization': the saliency-adjusted NAPs come "
                "from a sample of labelled frames and have no whole-data mean; use normalization "
                "global_mean or mean_of_groups with saliency"
            )
        for name in ("contrast", "saliency_layers"):
            if getattr(self, name) is not None and not getattr(self, name):
                raise ParamError(f"parameter 'naps.{name}' is an empty list; use None for all")
        if self.layers is not None and not self.layers:
            raise ParamError("parameter 'naps.layers' is empty; use None for every layer")
