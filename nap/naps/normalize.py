"""From per-group window sums to time-independent NAPs (paper Figure 1 C–E)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Normalization = Literal["global_mean", "mean_of_groups"]
NORMALIZATIONS: tuple[str, ...] = ("global_mean", "mean_of_groups")


@dataclass(frozen=True)
class GroupNaps:
    """One layer and grouping: kept groups' means (C), the subtracted window (D), the NAPs (E)."""

    kept: np.ndarray  # (G_kept,) indices of the kept groups
    means: np.ndarray  # (G_kept, C, P) float64
    overall: np.ndarray  # (C, P) float64
    naps: np.ndarray  # (G_kept, C, P) float64, sorted ascending along P


def kept_groups(counts: np.ndarray, min_count: int) -> np.ndarray:
    """Indices of the groups with at least ``min_count`` frames (and at least one)."""
    return np.flatnonzero(np.asarray(counts) >= max(int(min_count), 1))


def time_independent(means: np.ndarray, overall: np.ndarray) -> np.ndarray:
    """Figure 1 D–E: subtract ``overall`` and sort each channel's values (ascending)."""
    return np.sort(means - overall[None], axis=-1)


def group_naps(sums: np.ndarray, counts: np.ndarray, normalization: str, min_count: int) -> GroupNaps:
    """NAPs of the groups with ``min_count`` frames or more from (G, C, P) sums and (G,) counts.

    ``global_mean`` subtracts the mean window over all frames of the kept groups (the
    paper's normalization); ``mean_of_groups`` the unweighted mean of the kept groups' means.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization {normalization!r}: expected one of {NORMALIZATIONS}")
    counts = np.asarray(counts, dtype=np.int64)
    kept = kept_groups(counts, min_count)
    sums = np.asarray(sums, dtype=np.float64)
    if kept.size == 0:
        empty = np.zeros((0, *sums.shape[1:]))
        return GroupNaps(kept, empty, np.zeros(sums.shape[1:]), empty)
    kept_sums = sums[kept] if kept.size < len(counts) else sums
    means = kept_sums / counts[kept, None, None]
    if normalization == "global_mean":
        overall = kept_sums.sum(0) / counts[kept].sum()
    else:
        overall = means.mean(0)
    return GroupNaps(kept, means, overall, time_independent(means, overall))
