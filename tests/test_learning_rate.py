"""The one learning-rate schedule gives, bit for bit, what each training computed before it was shared."""

from __future__ import annotations

import math

import pytest

from nap.learning_rate import warmup_cosine
from nap.profile import Profile


def _asr_before(step: int, total: int, lr: float, lr_final: float, warmup_steps: int) -> float:
    """``nap.asr.train.lr_at`` as it was written before the schedules were folded into one."""
    if warmup_steps and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    span = max(total - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    return lr * (lr_final + (1 - lr_final) * 0.5 * (1 + math.cos(math.pi * progress)))


def _g2p_before(step: int, total: int, lr: float, lr_floor: float, warmup_steps: int) -> float:
    """``nap.g2p.train.learning_rate`` as it was written before the schedules were folded into one."""
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
    progress = min(1.0, step / max(1, total))
    return lr * warm * (lr_floor + (1 - lr_floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def _totals(warmup: int) -> list[int]:
    """Training lengths around the warm-up and up to beyond the longest training of the profiles
    (default: ~3,050 recognizer steps, ~16,000 G2P batches; tiny: 150 recognizer steps)."""
    return sorted({1, 2, 3, max(warmup - 1, 1), warmup, warmup + 1, 2 * warmup + 7, 150, 3050, 24000})


@pytest.mark.parametrize("profile", ["default", "tiny"])
def test_recognizer_schedule_is_unchanged_at_every_step(profile):
    p = Profile.load(profile)["asr"]
    for total in _totals(p.warmup_steps):
        for step in range(total + 2):
            got = warmup_cosine(step, total, p.lr, p.lr_final, p.warmup_steps, overlap=False)
            assert got == _asr_before(step, total, p.lr, p.lr_final, p.warmup_steps), (total, step)


@pytest.mark.parametrize("profile", ["default", "tiny"])
def test_g2p_schedule_is_unchanged_at_every_step(profile):
    p = Profile.load(profile)["g2p"]
    for total in _totals(p.warmup_steps):
        for step in range(total + 2):
            got = warmup_cosine(step, total, p.lr, p.lr_floor, p.warmup_steps, overlap=True)
            assert got == _g2p_before(step, total, p.lr, p.lr_floor, p.warmup_steps), (total, step)


def test_schedule_shape():
    """Warm-up ramps linearly, the last step reaches the floor, no warm-up starts at the peak."""
    assert warmup_cosine(0, 100, 1.0, 0.1, 10, overlap=False) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 1.0, 0.1, 10, overlap=False) == pytest.approx(1.0)
    assert warmup_cosine(100, 100, 1.0, 0.1, 10, overlap=False) == pytest.approx(0.1)
    assert warmup_cosine(0, 100, 2.0, 0.1, 0, overlap=True) == 2.0
    assert warmup_cosine(100, 100, 2.0, 0.1, 0, overlap=True) == pytest.approx(0.2)
    # with overlap the cosine has already started while warming up
    assert warmup_cosine(9, 100, 1.0, 0.1, 10, overlap=True) < 1.0
