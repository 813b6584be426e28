"""Intervals for the clustering scores: a bootstrap over speaker folds.

A layer's agreement with the phonetic classes (pair AUC, ARI, silhouette) is computed from
NAPs that average the frames of a few dozen voices; another sample of voices would give
other NAPs. The NAP stage keeps the group sums of ``naps.folds`` disjoint groups of
speakers (:mod:`nap.naps.folds`), so a resample of speakers is a reweighting of folds:
each resample draws as many folds as there are, with replacement, rebuilds the NAPs from
the drawn folds (normalized as the NAP set was), clusters them with the stage's
parameters and scores the clustering. The interval is the percentile interval of the
resampled scores (:func:`nap.cluster.bootstrap.percentile_interval`), from a seeded
generator per grouping and layer.

Folds, not single speakers, are the units because the stage keeps one set of sums per
unit: 8 folds cost 8× the NAPs' memory, 40 speakers 40×. With few units the percentile
interval is somewhat narrow (its variance is ``(F - 1) / F`` of the speakers' own), which
the chapter says beside the intervals. A resample in which some group has no frame is
left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nap.cluster.bootstrap import percentile_interval, rng_for, unit_weights
from nap.cluster.hierarchy import cluster_naps
from nap.cluster.scores import class_scores

#: the scores of :func:`nap.cluster.scores.class_scores` that get intervals
SCORES = ("ari", "ari_k", "auc", "silhouette")


def agreement_intervals(
    folds: Any,
    names: list[str],
    normalization: str,
    tables: dict[str, dict[str, str | None]],
    cut: dict[str, Any],
    resamples: int,
    seed: int,
    tag: str,
) -> dict[str, dict[str, Any]]:
    """Per class table (``tables``: name -> each group's class), ``{<score>_ci_low,
    <score>_ci_high}`` for each of :data:`SCORES`, with ``units`` ("speaker folds"), ``n_units``
    and ``resamples_used``; empty without folds. ``cut``: the keyword arguments of
    :func:`nap.cluster.hierarchy.cluster_naps` (percentile, method, metric). A resample that
    leaves a group without frames scores NaN and is left out."""
    if folds is None or resamples <= 0:
        return {}
    drawn = np.flatnonzero(folds.counts.sum(axis=1) > 0)  # folds without a speaker are no units
    draws = {f"{t}.{s}": np.full(resamples, np.nan) for t in tables for s in SCORES}
    for r, w in enumerate(unit_weights(len(drawn), resamples, rng_for(seed, tag))):
        weights = np.zeros(folds.counts.shape[0])
        weights[drawn] = w
        naps = folds.naps(weights, normalization)
        if naps is None:
            continue
        result = cluster_naps(naps, names, **cut)
        for t, classes in tables.items():
            scores = class_scores(result, classes)
            for s in SCORES:
                draws[f"{t}.{s}"][r] = scores[s]
    out: dict[str, dict[str, Any]] = {}
    for t in tables:
        used = int(np.isfinite(draws[f"{t}.auc"]).sum())
        rec: dict[str, Any] = {"units": "speaker folds", "n_units": len(drawn), "resamples_used": used}
        for s in SCORES:
            rec[f"{s}_ci_low"], rec[f"{s}_ci_high"] = percentile_interval(draws[f"{t}.{s}"])
        out[t] = rec
    return out
