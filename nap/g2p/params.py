"""Parameters of the G2P stage (defaults: the default profile)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from nap.hardware import DEVICE_HELP, check_device, resolve_threads
from nap.params import ParamError, StageParams, check_threads, param


@dataclass(frozen=True)
class G2PParams(StageParams):
    """CMUDict split, network sizes, training schedule and decoding of the G2P model."""

    stage: ClassVar[str] = "g2p"

    seed: int = param(0, "seed of the word split, the initialisation, batch order and dropout")
    test_fraction: float = param(0.2, "fraction of CMUDict's words held out for the metrics (paper: 20 %)")
    dev_fraction: float = param(
        0.02, "fraction of the training words set aside for early stopping (~2,000 words: ~5 s a check)"
    )
    max_words: int = param(0, "use only this many CMUDict words, drawn at random (0 = all; for tests)")
    embedding: int = param(64, "size of the letter and phone embeddings")
    encoder_hidden: int = param(192, "LSTM units per direction in each of the 2 bidirectional encoder layers")
    decoder_hidden: int = param(256, "LSTM units in each of the 2 decoder layers (and the attention)")
    dropout: float = param(
        0.0,
        "dropout on embeddings, between LSTM layers and before the output (held-out WER after the "
        "same 12 epochs: 0 0.260, 0.1 0.267, 0.15 0.276, 0.25 0.289: the network underfits)",
    )
    epochs: int = param(15, "training epochs (passes over the training samples) of each member")
    members: int = param(
        2,
        "networks trained from different seeds on the same split; predictions and attention average "
        "theirs (held-out WER after 12 epochs: one 0.260, two 0.246)",
    )
    bidirectional: bool = param(
        True,
        "odd-numbered members predict the phones last to first; the ensemble takes, of both "
        "directions' beams, the pronunciation with the highest summed log-probability (held-out "
        "WER of two members: one way 0.243 / 0.292, both ways 0.239 / 0.288)",
    )
    workers: int | Literal["auto"] = param(
        "auto",
        "processes that train the members side by side (auto: as many as members and cores allow); "
        "a G2P of one process trains in the background beside the recognizer, one of several takes "
        "the cores in turn",
        keyed=False,
    )
    batch_size: int = param(128, "samples per batch (a batch holds words of one length)")
    lr: float = param(0.004, "peak learning rate of Adam")
    lr_floor: float = param(0.02, "final learning rate as a fraction of lr (cosine decay over all epochs)")
    warmup_steps: int = param(300, "batches of linear learning-rate warm-up")
    label_smoothing: float = param(0.1, "label smoothing of the cross-entropy")
    clip_norm: float = param(5.0, "gradient norm clipping")
    ema: float = param(
        0.999, "decay of the exponential moving average of the weights that is evaluated and kept (0 = off)"
    )
    evals_per_epoch: int = param(
        1, "dev evaluations (greedy WER) per epoch: learning curve and early stopping (~10 s each)"
    )
    patience: int = param(6, "stop after this many dev evaluations without a better dev WER")
    beam: int = param(5, "beam width for the held-out evaluation and predictions")
    threads: int | Literal["auto"] = param(
        "auto",
        "torch CPU threads per training process (auto: the cores shared among the processes; 2 "
        "threads are only ~8 % faster than 1 for this small LSTM, two members side by side twice as fast)",
        keyed=False,
    )
    precision: Literal["auto", "float32", "bfloat16"] = param(
        "auto",
        "training arithmetic. auto: bfloat16 autocast (weights stay float32) on CPUs with AVX512-BF16 "
        "or AMX (~3x faster there), float32 elsewhere (oneDNN has no bfloat16 LSTM on AVX2 CPUs: "
        "an explicit bfloat16 falls back to float32 there, with a warning)",
    )
    device: str = param(
        "auto",
        f"device of the G2P's training, held-out decoding and letter assignment: {DEVICE_HELP}",
        keyed=False,
    )
    budget_minutes: float = param(
        30.0,
        "expected training time of each member: when the first batches predict well over it, a "
        "warning says so and names the likely cause (0: no check)",
        keyed=False,
    )
    time_limit_minutes: float = param(
        0.0,
        "stop training after this many minutes (0 = no limit; a limit makes the result machine-dependent)",
    )

    @property
    def processes(self) -> int:
        """Processes the training runs in (members trained side by side; auto: at most the cores)."""
        return max(1, min(self.members, resolve_threads(self.workers)))

    @property
    def process_threads(self) -> int:
        """torch threads of each training process (auto: the cores shared among them)."""
        return resolve_threads(self.threads, self.processes)

    def right_to_left(self, member: int) -> bool:
        """Whether ensemble member ``member`` predicts a pronunciation from its last phone to its first."""
        return self.bidirectional and member % 2 == 1

    def check(self) -> None:
        if not 0 < self.test_fraction < 1:
            raise ParamError(f"g2p.test_fraction must lie in (0, 1), got {self.test_fraction}")
        if not 0 < self.dev_fraction < 1:
            raise ParamError(f"g2p.dev_fraction must lie in (0, 1), got {self.dev_fraction}")
        if not 0 <= self.dropout < 1:
            raise ParamError(f"g2p.dropout must lie in [0, 1), got {self.dropout}")
        if not 0 <= self.label_smoothing < 1:
            raise ParamError(f"g2p.label_smoothing must lie in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.ema < 1:
            raise ParamError(f"g2p.ema must lie in [0, 1), got {self.ema}")
        if not 0 < self.lr_floor <= 1:
            raise ParamError(f"g2p.lr_floor must lie in (0, 1], got {self.lr_floor}")
        positive = (
            "embedding",
            "encoder_hidden",
            "decoder_hidden",
            "epochs",
            "batch_size",
            "beam",
            "members",
        )
        for name in (*positive, "evals_per_epoch", "patience"):
            if getattr(self, name) < 1:
                raise ParamError(f"g2p.{name} must be at least 1, got {getattr(self, name)}")
        check_threads(self.threads, "g2p.threads")
        check_device(self.device, "g2p.device")
        if not self.budget_minutes >= 0:
            raise ParamError(f"g2p.budget_minutes must be >= 0, got {self.budget_minutes}")
        check_threads(self.workers, "g2p.workers")
        if self.max_words < 0 or 0 < self.max_words < 20:
            raise ParamError(f"g2p.max_words must be 0 (all) or at least 20, got {self.max_words}")
        if self.lr <= 0 or self.clip_norm <= 0 or self.warmup_steps < 0 or self.time_limit_minutes < 0:
            raise ParamError(
                "g2p.lr and g2p.clip_norm must be positive; warmup_steps, time_limit_minutes >= 0"
            )
