"""From per-group window sums to time-independent NAPs (paper Figure 1 C–E).

What Figure 1D subtracts is read three ways (``naps.normalization``):

* ``global_mean``: the mean window over every frame of the kept groups (frames with a label);
* ``mean_of_groups``: the unweighted mean of the kept groups' mean windows;
* ``whole_data``: the mean window over every output frame of the data set, blank and
  unlabelled frames included: Figure 1D's words, "the whole data set". The NAP stage sums
  every frame's window as the one group of the grouping :data:`WHOLE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Normalization = Literal["global_mean", "mean_of_groups", "whole_data"]
NORMALIZATIONS: tuple[str, ...] = ("global_mean", "mean_of_groups", "whole_data")

#: the grouping whose one group holds every output frame (the ``whole_data`` mean's sums)
WHOLE = "__whole__"


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


def check_normalization(normalization: str, whole: np.ndarray | None) -> None:
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization {normalization!r}: expected one of {NORMALIZATIONS}")
    if normalization == "whole_data" and whole is None:
        raise ValueError("normalization 'whole_data' needs the mean window over every frame (whole)")


def group_naps(
    sums: np.ndarray, counts: np.ndarray, normalization: str, min_count: int, whole: np.ndarray | None = None
) -> GroupNaps:
    """NAPs of the groups with ``min_count`` frames or more from (G, C, P) sums and (G,) counts.

    ``whole`` is the (C, P) mean window over every frame, which ``whole_data`` subtracts (see
    the module docstring for the three readings).
    """
    check_normalization(normalization, whole)
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
    elif normalization == "mean_of_groups":
        overall = means.mean(0)
    else:
        overall = np.asarray(whole, dtype=np.float64)
    return GroupNaps(kept, means, overall, time_independent(means, overall))


def reread(
    means: np.ndarray, counts: np.ndarray, normalization: str, whole: np.ndarray | None = None
) -> np.ndarray:
    """NAPs (G, C, P) under ``normalization`` from stored kept groups' means (G, C, P) and counts:
    what :func:`group_naps` gives, to float rounding (the sums behind the means are not kept)."""
    check_normalization(normalization, whole)
    means = np.asarray(means, dtype=np.float64)
    if normalization == "global_mean":
        w = np.asarray(counts, dtype=np.float64)
        overall = np.tensordot(w / w.sum(), means, axes=1)
    elif normalization == "mean_of_groups":
        overall = means.mean(0)
    else:
        overall = np.asarray(whole, dtype=np.float64)
    return time_independent(means, overall)
