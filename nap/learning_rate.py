"""The learning-rate schedule of the study's trainings: linear warm-up, then a cosine to a floor.

Both trainings (the recognizer, :mod:`nap.asr.train`, and the G2P, :mod:`nap.g2p.train`)
warm up linearly over ``warmup`` steps and decay along a half cosine from ``peak`` to
``peak * floor`` at the last step. They differ in one choice, kept here as a parameter so
that each stage's numbers stay what they were:

* ``overlap=False`` (recognizer): the warm-up ramps to ``peak``; the cosine starts after it
  and spans the remaining ``total - warmup`` steps.
* ``overlap=True`` (G2P): the cosine spans all ``total`` steps from step 0, and the warm-up
  scales it by ``min(1, (step + 1) / warmup)``.
"""

from __future__ import annotations

import math


def _cosine(progress: float, floor: float) -> float:
    """1 at ``progress`` 0, ``floor`` at 1, along a half cosine."""
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_cosine(step: int, total: int, peak: float, floor: float, warmup: int, overlap: bool) -> float:
    """The learning rate at ``step`` (0-based) of ``total`` steps (see the module docstring)."""
    if overlap:
        warm = min(1.0, (step + 1) / warmup) if warmup else 1.0
        progress = min(1.0, step / max(1, total))
        return peak * warm * _cosine(progress, floor)
    if warmup and step < warmup:
        return peak * (step + 1) / warmup
    span = max(total - warmup, 1)
    progress = min(max(step - warmup, 0) / span, 1.0)
    return peak * _cosine(progress, floor)
