"""Scores that say how far a layer's NAP clustering reflects known classes of the groups.

The paper judged its clusters by eye. These numbers judge them against a labelling of the
groups — the phonetic class of each phoneme (vowel, plosive, fricative, affricate, nasal,
approximant; table in :mod:`nap.phonetics`), vowel vs consonant, vowel vs consonant letter
for graphemes — and are comparable across layers because none depends on the scale of the
distances:

* ``ari``: adjusted Rand index between the flat clusters (percentile cut) and the classes;
  0 = chance, 1 = identical partitions.
* ``ari_k``: the same with the dendrogram cut into as many clusters as there are classes
  (independent of the percentile).
* ``auc``: the probability that two groups of the same class are closer than two groups of
  different classes (pairs of pairs compared, ties ½); 0.5 = no relation, 1 = every
  within-class distance below every between-class one. Its ``p`` is a permutation p-value:
  the share of random relabellings of the groups (class sizes kept) whose AUC is at least
  as high.
* ``silhouette``: mean silhouette of the classes on the distance matrix (−1…1).

Groups without a class (a space, an apostrophe, a repetition symbol) take no part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster
from scipy.stats import rankdata
from sklearn.metrics import adjusted_rand_score, silhouette_score

from nap.cluster.hierarchy import LayerClustering

#: Letters counted as vowel letters in the grapheme scores (y is left a consonant letter).
VOWEL_LETTERS = frozenset("aeiou")


def pair_auc(
    condensed: np.ndarray, labels: np.ndarray, permutations: int = 0, rng: np.random.Generator | None = None
) -> tuple[float, float | None]:
    """AUC that same-label pairs are closer than different-label pairs, and its permutation p.

    ``condensed`` holds the pairwise distances of ``len(labels)`` items in scipy's condensed
    order. Returns (nan, None) when there are no same-label or no different-label pairs.
    """
    n = len(labels)
    i, j = np.triu_indices(n, k=1)
    ranks = rankdata(condensed)  # average ranks: ties count ½

    def auc_of(same: np.ndarray) -> np.ndarray:
        n_same = same.sum(axis=-1)
        n_diff = same.shape[-1] - n_same
        r_diff = (~same * ranks).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (r_diff - n_diff * (n_diff + 1) / 2) / (n_diff * n_same)

    labels = np.asarray(labels)
    same = labels[i] == labels[j]
    if same.all() or not same.any():
        return float("nan"), None
    observed = float(auc_of(same))
    if permutations <= 0:
        return observed, None
    rng = rng or np.random.default_rng(0)
    perms = np.argsort(rng.random((permutations, n)), axis=1)
    shuffled = labels[perms]
    null = auc_of(shuffled[:, i] == shuffled[:, j])
    p = float((1 + np.sum(null >= observed - 1e-12)) / (1 + permutations))
    return observed, p


def class_scores(
    result: LayerClustering,
    classes: Mapping[str, str | None],
    permutations: int = 0,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """ARI, ARI at k = number of classes, pair AUC (+ permutation p) and silhouette.

    Only the clustered groups that have a class take part; ``n`` says how many did.
    """
    nan = float("nan")
    empty = {"n": 0, "n_classes": 0, "ari": nan, "ari_k": nan, "auc": nan, "p": None, "silhouette": nan}
    if not result.ok:
        return empty
    idx = [k for k, name in enumerate(result.names) if classes.get(name)]
    labels = np.array([classes[result.names[k]] for k in idx])
    n_classes = len(set(labels.tolist()))
    if len(idx) < 3 or n_classes < 2:
        return {**empty, "n": len(idx), "n_classes": n_classes}
    sub = result.distances[np.ix_(idx, idx)]
    i, j = np.triu_indices(len(idx), k=1)
    auc, p = pair_auc(sub[i, j], labels, permutations, rng)
    cut_k = fcluster(result.linkage, t=n_classes, criterion="maxclust")[idx]
    sil = silhouette_score(sub, labels, metric="precomputed") if n_classes < len(idx) else nan
    return {
        "n": len(idx),
        "n_classes": n_classes,
        "ari": float(adjusted_rand_score(labels, result.clusters[idx])),
        "ari_k": float(adjusted_rand_score(labels, cut_k)),
        "auc": auc,
        "p": p,
        "silhouette": float(sil),
    }


def class_purity(result: LayerClustering, classes: Mapping[str, str | None], target: str) -> float:
    """Share of the ``target``-class groups in clusters of ≥ 2 groups whose majority is ``target``.

    A group alone in its cluster does not count as clustering with its class.
    """
    if not result.ok:
        return float("nan")
    hits = total = 0
    for members in result.members().values():
        own = [classes.get(m) for m in members if classes.get(m)]
        n_target = sum(c == target for c in own)
        total += n_target
        if len(members) >= 2 and n_target > len(own) / 2:
            hits += n_target
    return hits / total if total else float("nan")


def separation(result: LayerClustering) -> dict[str, float]:
    """Scale-free shape of the distances: nearest pair over the median pair, cluster count."""
    if not result.ok:
        return {"min_over_median": float("nan"), "n_clusters": 0, "singletons": 0}
    d = result.condensed()
    sizes = np.bincount(result.clusters)[1:]
    return {
        "min_over_median": float(d.min() / np.median(d)) if np.median(d) > 0 else float("nan"),
        "n_clusters": int(result.n_clusters),
        "singletons": int(np.sum(sizes == 1)),
    }


def grapheme_classes(names: Sequence[str]) -> dict[str, str | None]:
    """Vowel letter / consonant letter for single letters a–z; None for anything else."""
    out: dict[str, str | None] = {}
    for name in names:
        low = name.lower()
        out[name] = (
            None if len(low) != 1 or not low.isalpha() else ("vowel" if low in VOWEL_LETTERS else "consonant")
        )
    return out


def dominant_partner(
    labels_a: np.ndarray,
    labels_b: np.ndarray,
    names_a: Sequence[str],
    names_b: Sequence[str],
    min_frames: int = 5,
) -> dict[str, str | None]:
    """For every group of grouping A, the group of B that most of its frames carry.

    Used to ask whether phonemes that mostly come with the same grapheme (N and NG with
    'n') have similar NAPs, as the paper observed in the output layer. Groups with fewer
    than ``min_frames`` co-labelled frames get None.
    """
    ok = (labels_a >= 0) & (labels_b >= 0)
    table = np.zeros((len(names_a), len(names_b)), dtype=np.int64)
    np.add.at(table, (labels_a[ok], labels_b[ok]), 1)
    out: dict[str, str | None] = {}
    for a, name in enumerate(names_a):
        out[name] = names_b[int(table[a].argmax())] if table[a].sum() >= min_frames else None
    return out
