"""Hierarchical clustering of one layer's NAPs (paper §3.3).

The NAPs of a layer (groups × channels × positions) are flattened, compared by a distance
(Euclidean in the paper), clustered by complete linkage, and cut into flat clusters at the
80th percentile of the layer's pairwise distances: two groups share a cluster when the
dendrogram joins them at a height not above that threshold (``fcluster`` with
``criterion="distance"``; the percentile is numpy's, linear interpolation between the
sorted distances).

Input that admits no meaningful clustering gives a :class:`LayerClustering` carrying a
``message`` instead of a crash: a group whose NAP has NaN values (or no frames) is left out
and named in ``excluded``; fewer than 3 remaining groups, or pairwise distances that are
all equal, leave nothing to cluster and set ``message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import dendrogram, fcluster, linkage
from scipy.spatial.distance import pdist, squareform

#: Relative spread below which all pairwise distances count as equal.
EQUAL_TOL = 1e-9


@dataclass
class LayerClustering:
    """The clustering of one layer's NAPs for one grouping.

    ``names`` are the clustered groups (input order); ``distances`` their square distance
    matrix; ``linkage`` scipy's (G-1, 4) linkage matrix; ``order`` the dendrogram's leaf
    order (scipy's ``leaves``: indices into ``names``, drawn top to bottom); ``clusters`` a cluster id per
    group, numbered 1, 2, … in dendrogram order; ``threshold`` the cut height. When
    ``message`` is set there is no clustering and the arrays are empty.
    """

    grouping: str
    layer: str
    names: list[str]
    distances: np.ndarray
    linkage: np.ndarray
    order: np.ndarray
    clusters: np.ndarray
    threshold: float
    percentile: float
    method: str = "complete"
    metric: str = "euclidean"
    excluded: dict[str, str] = field(default_factory=dict)
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.message is None

    @property
    def n_clusters(self) -> int:
        return int(len(np.unique(self.clusters))) if self.ok else 0

    def condensed(self) -> np.ndarray:
        """The pairwise distances in scipy's condensed order (i < j)."""
        return squareform(self.distances, checks=False) if self.ok else np.zeros(0)

    def members(self) -> dict[int, list[str]]:
        """Cluster id → its groups' names, in dendrogram order."""
        out: dict[int, list[str]] = {}
        for i in self.order:
            out.setdefault(int(self.clusters[i]), []).append(self.names[i])
        return out

    def meta(self) -> dict[str, Any]:
        """The JSON-serialisable part (the arrays go to the npz file)."""
        return {
            "names": self.names,
            "threshold": self.threshold,
            "percentile": self.percentile,
            "method": self.method,
            "metric": self.metric,
            "n_clusters": self.n_clusters,
            "excluded": self.excluded,
            "message": self.message,
        }


def flat_clusters(z: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Dendrogram leaf order and cluster ids (1.. in that order) cut at ``threshold``."""
    order = np.asarray(dendrogram(z, no_plot=True)["leaves"], dtype=int)
    raw = fcluster(z, t=threshold, criterion="distance")
    renumber: dict[int, int] = {}
    for i in order:
        renumber.setdefault(int(raw[i]), len(renumber) + 1)
    return order, np.array([renumber[int(c)] for c in raw], dtype=int)


def _empty(
    grouping: str,
    layer: str,
    names: list[str],
    percentile: float,
    method: str,
    metric: str,
    excluded: dict[str, str],
    message: str,
) -> LayerClustering:
    return LayerClustering(
        grouping,
        layer,
        names,
        np.zeros((0, 0)),
        np.zeros((0, 4)),
        np.zeros(0, dtype=int),
        np.zeros(0, dtype=int),
        float("nan"),
        percentile,
        method,
        metric,
        excluded,
        message,
    )


def cluster_naps(
    naps: np.ndarray,
    names: list[str],
    *,
    grouping: str = "",
    layer: str = "",
    counts: np.ndarray | list[int] | None = None,
    percentile: float = 80.0,
    method: str = "complete",
    metric: str = "euclidean",
) -> LayerClustering:
    """Cluster the NAPs ``naps`` (G, …) of groups ``names``; see the module docstring."""
    naps = np.asarray(naps, dtype=np.float64)
    if naps.ndim < 1 or naps.shape[0] != len(names):
        raise ValueError(f"{grouping}/{layer}: {len(names)} group names for NAPs of shape {naps.shape}")
    flat = naps.reshape(len(names), int(np.prod(naps.shape[1:])))  # also for 0 groups
    excluded: dict[str, str] = {}
    keep = []
    for i, name in enumerate(names):
        if counts is not None and int(counts[i]) <= 0:
            excluded[name] = "no frames"
        elif flat.shape[1] == 0:
            excluded[name] = "empty NAP"
        elif not np.all(np.isfinite(flat[i])):
            excluded[name] = "NAP has NaN or infinite values"
        else:
            keep.append(i)
    kept = [names[i] for i in keep]
    where = f"{grouping or 'groups'}, {layer or 'layer'}"
    if len(keep) < 3:
        why = f"; left out: {', '.join(f'{k} ({v})' for k, v in excluded.items())}" if excluded else ""
        msg = f"{where}: only {len(keep)} group(s) with usable NAPs, clustering needs at least 3{why}"
        return _empty(grouping, layer, kept, percentile, method, metric, excluded, msg)
    d = pdist(flat[keep], metric=metric)
    if not np.all(np.isfinite(d)):
        msg = f"{where}: the {metric} distance is undefined for some NAPs (e.g. a constant NAP)"
        return _empty(grouping, layer, kept, percentile, method, metric, excluded, msg)
    if np.ptp(d) <= EQUAL_TOL * max(float(np.max(np.abs(d))), 1e-300):
        msg = (
            f"{where}: all {len(d)} pairwise distances are equal ({float(d[0]):.4g}); "
            "a clustering of equidistant groups would be arbitrary"
        )
        return _empty(grouping, layer, kept, percentile, method, metric, excluded, msg)
    z = linkage(d, method=method)
    threshold = float(np.percentile(d, percentile))
    order, clusters = flat_clusters(z, threshold)
    return LayerClustering(
        grouping,
        layer,
        kept,
        squareform(d),
        z,
        order,
        clusters,
        threshold,
        percentile,
        method,
        metric,
        excluded,
        None,
    )
