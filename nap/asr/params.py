"""Parameters of the ``asr`` stage: the Wav2Letter network, its training and decoding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from nap.hardware import DEVICE_HELP, check_device
from nap.params import ParamError, StageParams, check_threads, param


@dataclass(frozen=True)
class AsrParams(StageParams):
    """Wav2Letter recognizer: architecture, CTC training, decoding and evaluation."""

    stage: ClassVar[str] = "asr"

    seed: int = param(0, "seed of weight initialisation, batch order and augmentation")
    # -- architecture
    channels: int = param(192, "channels of the k48 and kernel-7 layers (paper: 256)")
    hidden: int = param(768, "channels of the k32 and k1 layers (paper: 2048)")
    k7_layers: int = param(7, "number of kernel-7 layers (7: receptive field 194 frames; 8: the paper's 206)")
    norm: Literal["batch", "none"] = param(
        "none",
        "none: plain conv + ReLU, as the paper; batch: batch norm after each convolution while training, "
        "folded into the convolutions afterwards (the saved network is plain Wav2Letter either way)",
    )
    repetitions: int = param(2, "Collobert repetition symbols (a doubled letter = letter + '1'); 0 = none")
    pad: bool = param(
        True,
        "add (receptive field - stride)/2 frames of silence at both ends of every "
        "utterance, so each frame gets an output (off: the paper's unpadded input)",
    )
    # -- training
    local_init: float = param(
        0.1,
        "0: PyTorch's initialisation; > 0: start from a network that looks at the middle of its window "
        "(kernel-7 layers = identity + this times random weights, wide kernels tapered); trains much faster",
    )
    epochs: int = param(5, "passes over the training split (default corpus: ~3,000 steps, ~31 min, 2 cores)")
    batch_size: int = param(16, "utterances per optimisation step (over all processes)")
    lr: float = param(1.5e-3, "Adam's peak learning rate")
    warmup_steps: int = param(200, "steps of linear learning-rate warm-up; cosine decay to lr_final after")
    lr_final: float = param(0.02, "final learning rate as a fraction of lr")
    weight_decay: float = param(0.0, "Adam weight decay (decoupled, AdamW)")
    grad_clip: float = param(1.0, "clip the gradient's global norm to this; 0 = off")
    tempo: float = param(0.1, "augmentation: speaking rate changed by up to this fraction (frames resampled)")
    freq_shift: int = param(4, "augmentation: mel bands shifted up or down by up to this many (voice pitch)")
    band_limit: float = param(
        0.0,
        "augmentation: share of training utterances band-limited like telephone audio (power above a "
        "cut-off drawn from band_limit_hz removed; the real-speech chapter's Asterisk prompts are 8 kHz). "
        "Default corpus, 0.3 with noise 0.3: real-speech beam CER 70.3 -> 64.2 %, but held-out synthetic "
        "sentences 11.2 -> 17.2 % (the 50-minute training underfits): off by default",
    )
    band_limit_hz: list[float] = param(
        [3400.0, 4000.0], "augmentation: range of the band-limit's cut-off, Hz"
    )
    noise: float = param(
        0.0,
        "augmentation: share of training utterances given stationary noise (random colour; the "
        "embedded corpus has digital silence where recordings have a noise floor)",
    )
    noise_snr_db: list[float] = param(
        [10.0, 30.0], "augmentation: range of the noise's SNR, dB against the utterance's mean mel power"
    )
    dropout: float = param(
        0.0, "dropout on the input of every layer but the first, while training (paper profile: 0.1)"
    )
    freq_masks: int = param(0, "SpecAugment: frequency masks per training utterance (paper profile: 2)")
    freq_mask_width: int = param(15, "SpecAugment: widest frequency mask (mel bands)")
    time_masks: int = param(0, "SpecAugment: time masks per training utterance (paper profile: 2)")
    time_mask_width: int = param(20, "SpecAugment: widest time mask (frames)")
    precision: Literal["auto", "float32", "bfloat16"] = param(
        "auto",
        "arithmetic of the training convolutions. auto: bfloat16 autocast (weights stay float32) on "
        "CPUs with AVX512-BF16 or AMX (1.6x faster there) and on GPUs where training steps measure "
        "faster; float32 elsewhere (on AVX2 alone bfloat16 is 15-20x slower). On an H200 float32 "
        "(cuDNN's TF32) won 3.4x, most likely as torch runs Conv1d as a cuDNN 2-D convolution of NCHW "
        "tensors (channels-last exists for 4-D/5-D tensors only) while cuDNN's bfloat16 tensor-core kernels "
        "work in NHWC: each convolution and both its gradients pay layout transposes, plus autocast's "
        "casts of every input and weight. The resolved value is in the summary; the key holds what "
        "was asked",
    )
    budget_minutes: float = param(
        30.0,
        "expected training time: when the first steps predict well over it, a warning says so and "
        "names the likely cause (0: no check)",
        keyed=False,
    )
    max_seconds: float = param(20.0, "training utterances longer than this are skipped (and counted)")
    checkpoint_every: int = param(100, "steps between checkpoints in the stage's work folder")
    device: str = param("auto", f"training and evaluation device: {DEVICE_HELP}", keyed=False)
    threads: int | Literal["auto"] = param(
        "auto", "torch CPU threads per process (auto: the cores this process may use)", keyed=False
    )
    loader_workers: int | Literal["auto"] = param(
        "auto",
        "processes that build the training batches (augmentation, padding) while the network trains; "
        "0: the training process builds them between steps. auto: 0 on a CPU (the training's threads "
        "already use every core); on a GPU the cores per GPU process less one, at most 8 (a paper-size "
        "batch takes ~40 ms on one core, a GPU step ~9 ms). The batches are the same either way",
        keyed=False,
    )
    max_bad_steps: int = param(20, "non-finite losses in a row before training stops with an error")
    # -- decoding (decoding=True: a new value re-decodes a network trained like this one) and evaluation
    beam_size: int = param(50, "hypotheses kept by the flashlight-text CTC beam search", decoding=True)
    beam_threshold: float = param(25.0, "flashlight's beam score threshold", decoding=True)
    beam_size_token: int = param(
        10, "symbols tried per frame and hypothesis by the beam search (0: all)", decoding=True
    )
    lexicon: bool = param(
        False, "restrict beam search to words of the training transcripts (no lm then)", decoding=True
    )
    lm_order: int = param(
        6,
        "order of the beam search's symbol n-gram (0: none; at most 6, KenLM's limit in flashlight-text)",
        decoding=True,
    )
    lm_text: Literal["corpus", "train"] = param(
        "corpus",
        "the n-gram's sentences: corpus = the corpus's text-only sentences (embedded corpus: every "
        "sentence of its text source but the held-out ones); train = the training transcripts",
        decoding=True,
    )
    lm_weight: float = param(
        0.8,
        "weight of the n-gram's log-probability in the beam search (chosen on test_voices, where "
        "0.5 to 1.2 lie within 0.2 CER points)",
        decoding=True,
    )
    lm_bonus: float = param(
        1.0,
        "added to a hypothesis' score per word (offsets the n-gram's bias to short output)",
        decoding=True,
    )
    eval_every: int = param(0, "steps between held-out CER checks for the learning curves (0: each epoch)")
    eval_utterances: int = param(64, "utterances per held-out split in the learning-curve checks")

    def key_dict(self) -> dict[str, Any]:
        """The keyed parameters; without the channel augmentation's ranges while it is off, so
        recognizers trained before it existed keep their keys."""
        out = super().key_dict()
        if not self.band_limit:
            del out["band_limit"], out["band_limit_hz"]
        if not self.noise:
            del out["noise"], out["noise_snr_db"]
        return out

    def check(self) -> None:
        positive = (
            "channels",
            "hidden",
            "epochs",
            "batch_size",
            "checkpoint_every",
            "beam_size",
            "max_bad_steps",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ParamError(f"parameter 'asr.{name}' must be at least 1, got {getattr(self, name)}")
        if self.k7_layers < 0:
            raise ParamError(f"parameter 'asr.k7_layers' must be >= 0, got {self.k7_layers}")
        if not 0 <= self.repetitions <= 9:
            raise ParamError(f"parameter 'asr.repetitions' must be 0..9, got {self.repetitions}")
        if self.lr <= 0:
            raise ParamError(f"parameter 'asr.lr' must be > 0, got {self.lr}")
        if not 0 <= self.lr_final <= 1:
            raise ParamError(f"parameter 'asr.lr_final' must be in [0, 1], got {self.lr_final}")
        for name in (
            "warmup_steps",
            "freq_masks",
            "freq_mask_width",
            "time_masks",
            "time_mask_width",
            "eval_every",
            "eval_utterances",
        ):
            if getattr(self, name) < 0:
                raise ParamError(f"parameter 'asr.{name}' must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.tempo < 1:
            raise ParamError(f"parameter 'asr.tempo' must be in [0, 1), got {self.tempo}")
        if self.freq_shift < 0:
            raise ParamError(f"parameter 'asr.freq_shift' must be >= 0, got {self.freq_shift}")
        for name in ("band_limit", "noise"):
            if not 0 <= getattr(self, name) <= 1:
                raise ParamError(
                    f"parameter 'asr.{name}' is a share of utterances in [0, 1], got {getattr(self, name)}"
                )
        for name, top in (("band_limit_hz", 8000.0), ("noise_snr_db", 100.0)):
            bounds = getattr(self, name)
            if len(bounds) != 2 or not -top <= bounds[0] <= bounds[1] <= top:
                raise ParamError(f"parameter 'asr.{name}' must be [low, high] with low <= high, got {bounds}")
        if not 0 <= self.dropout < 1:
            raise ParamError(f"parameter 'asr.dropout' must be in [0, 1), got {self.dropout}")
        if self.local_init < 0:
            raise ParamError(f"parameter 'asr.local_init' must be >= 0, got {self.local_init}")
        if self.lexicon and self.lm_order:
            raise ParamError(
                "parameters 'asr.lexicon' and 'asr.lm_order': the symbol n-gram works without a "
                "lexicon; set asr.lm_order = 0 to decode with the lexicon"
            )
        if self.lm_order > 6:
            raise ParamError(
                f"parameter 'asr.lm_order' must be at most 6 (flashlight-text's KenLM), got {self.lm_order}"
            )
        if self.lm_order < 0 or self.lm_weight < 0 or self.beam_size_token < 0:
            raise ParamError(
                "parameters 'asr.lm_order', 'asr.lm_weight' and 'asr.beam_size_token' must be >= 0"
            )
        check_threads(self.threads, "asr.threads")
        check_device(self.device, "asr.device")  # a GPU is looked for when the stage runs
        if not self.budget_minutes >= 0:
            raise ParamError(f"parameter 'asr.budget_minutes' must be >= 0, got {self.budget_minutes}")
        if self.loader_workers != "auto" and (
            not isinstance(self.loader_workers, int) or self.loader_workers < 0
        ):
            raise ParamError(
                f"parameter 'asr.loader_workers' must be auto or >= 0, got {self.loader_workers!r}"
            )
        if self.max_seconds <= 0:
            raise ParamError(f"parameter 'asr.max_seconds' must be > 0, got {self.max_seconds}")
        if self.grad_clip < 0 or self.weight_decay < 0:
            raise ParamError("parameters 'asr.grad_clip' and 'asr.weight_decay' must be >= 0")
