"""A recognizer small enough to train in seconds, shared by the ASR tests."""

from __future__ import annotations

#: ``asr`` parameters of a small, deterministic recognizer (no augmentation, no dropout).
SMALL_ASR: dict[str, object] = {
    "channels": 32,
    "hidden": 64,
    "k7_layers": 1,
    "batch_size": 8,
    "lr": 3e-3,
    "warmup_steps": 4,
    "freq_mask_width": 3,
    "time_mask_width": 5,
    "tempo": 0.0,
    "freq_shift": 0,
    "dropout": 0.0,
    "norm": "batch",
    "local_init": 0.0,
    "eval_utterances": 4,
    "threads": 1,
    "device": "cpu",
    "beam_size": 10,
}
