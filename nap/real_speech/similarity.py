"""How alike the NAPs of real and synthetic speech are, layer by layer.

Three numbers per layer and phoneme grouping, on the phonemes both NAP sets have:

* **matching correlation** — the Pearson correlation of a phoneme's NAP on real speech with
  the same phoneme's NAP on synthetic speech (flattened channels × positions), averaged over
  the phonemes; beside it the mean correlation of *different* phonemes' NAPs across the
  domains (the baseline a matching correlation must beat: NAPs of one layer share a shape),
  and the share of real phonemes whose most correlated synthetic NAP is their own
  (``retrieval``; chance is one over the number of phonemes);
* **clustering agreement** — both domains' NAPs of those phonemes clustered as chapter 6
  clusters them (:func:`nap.cluster.cluster_naps` with the cluster stage's percentile,
  linkage and metric), and the adjusted Rand index of the two partitions (0: chance, 1: the same);
* **cross-domain probe** (for :data:`PROBED`) — a linear probe
  (:func:`nap.cluster.probes.fit_probe`, the cluster stage's settings) trained on the naps
  stage's synthetic probe sample and tested on real frames; ``chance`` is answering the
  synthetic frames' most frequent phoneme. Its accuracy has a 95 % interval from
  ``bootstrap`` resamples of the real test utterances (``ci_low``, ``ci_high``; the real
  corpus has few speakers, so utterances are the unit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: real grouping -> the synthetic grouping it is compared with
PAIRS = {"phoneme_reference": "phoneme_true", "phoneme": "phoneme"}
#: the real groupings the cross-domain probe is trained for (one probe per layer each: the
#: aligner's phones, the closest real speech has to the synthetic corpus' exact ones)
PROBED = ("phoneme_reference",)


def _rows(naps: np.ndarray) -> np.ndarray:
    """Each group's NAP flattened and standardized (zero mean, unit norm), so a dot product is Pearson's r."""
    x = np.asarray(naps, dtype=np.float64)
    x = x.reshape(len(x), int(np.prod(x.shape[1:])))  # not -1: no groups in common is (0, C, P)
    x = x - x.mean(1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.full_like(x, np.nan), where=norm > 0)


def correlations(real: np.ndarray, synthetic: np.ndarray) -> np.ndarray:
    """(G, G) Pearson correlations of real group i's NAP with synthetic group j's (same group order)."""
    return _rows(real) @ _rows(synthetic).T


def matching(real: np.ndarray, synthetic: np.ndarray) -> dict[str, float | None]:
    """Matching and non-matching correlation and retrieval of NAPs given in the same group order."""
    r = correlations(real, synthetic)
    g = len(r)
    if g < 2 or not np.all(np.isfinite(r)):
        return {"match_r": None, "other_r": None, "retrieval": None, "retrieval_chance": None}
    off = ~np.eye(g, dtype=bool)
    return {
        "match_r": round(float(np.mean(np.diag(r))), 4),
        "other_r": round(float(np.mean(r[off])), 4),
        "retrieval": round(float(np.mean(r.argmax(1) == np.arange(g))), 4),
        "retrieval_chance": round(1 / g, 4),
    }


def clustering_agreement(
    real: np.ndarray, synthetic: np.ndarray, names: Sequence[str], settings: Mapping[str, Any]
) -> dict[str, Any]:
    """Adjusted Rand index of the two domains' clusterings of the same groups (``settings``: the
    cluster stage's ``percentile``, ``linkage`` and ``metric``)."""
    from sklearn.metrics import adjusted_rand_score

    from nap.cluster.hierarchy import cluster_naps

    kw = {
        "percentile": float(settings.get("percentile", 80.0)),
        "method": str(settings.get("linkage", "complete")),
        "metric": str(settings.get("metric", "euclidean")),
    }
    a = cluster_naps(real, list(names), **kw)
    b = cluster_naps(synthetic, list(names), **kw)
    if not (a.ok and b.ok):
        return {"ari": None, "message": a.message or b.message}
    common = [n for n in a.names if n in set(b.names)]
    ca = dict(zip(a.names, a.clusters, strict=True))
    cb = dict(zip(b.names, b.clusters, strict=True))
    return {
        "ari": round(float(adjusted_rand_score([ca[n] for n in common], [cb[n] for n in common])), 4),
        "clusters_real": a.n_clusters,
        "clusters_synthetic": b.n_clusters,
        "message": None,
    }


def cross_probe(
    synthetic: tuple[np.ndarray, np.ndarray, Sequence[str]],
    real: tuple[np.ndarray, np.ndarray, Sequence[str]],
    settings: Mapping[str, Any],
    threads: int = 1,
    real_units: np.ndarray | None = None,
    tag: str = "cross_probe",
) -> dict[str, Any]:
    """A probe trained on ``synthetic`` frames and tested on ``real`` frames: each is (features (n, C),
    label (n,) index into its names or -1, names). Labels are matched by name. With
    ``real_units`` (the real frames' utterance index) the accuracy gets its bootstrap interval."""
    from nap.cluster.bootstrap import mean_intervals, rng_for
    from nap.cluster.probes import fit_probe

    (xs, ys, ns), (xr, yr, nr) = synthetic, real
    names = sorted(set(ns) | set(nr))
    index = {n: i for i, n in enumerate(names)}

    def relabel(y: np.ndarray, own: Sequence[str]) -> np.ndarray:
        table = np.array([index[n] for n in own] + [-1], dtype=np.int64)  # -1 maps to the last entry
        return table[np.asarray(y, dtype=np.int64)]

    x = np.concatenate([np.asarray(xs, np.float32), np.asarray(xr, np.float32)])
    y = np.concatenate([relabel(ys, ns), relabel(yr, nr)])
    test = np.arange(len(x)) >= len(xs)
    seed = int(settings.get("seed", 0))
    answers = fit_probe(
        x,
        y,
        test,
        c=float(settings.get("probe_C", 1.0)),
        max_iter=int(settings.get("probe_max_iter", 300)),
        max_train=int(settings.get("probe_max_train", 12000)),
        seed=seed,
        threads=threads,
    )
    record = dict(answers.record)
    resamples = int(settings.get("bootstrap", 1000))
    if real_units is not None and len(answers.test) and resamples > 0:
        correct = (answers.predicted == y[answers.test]).astype(float)
        units = np.asarray(real_units)[answers.test - len(xs)]
        ((record["ci_low"], record["ci_high"]),) = mean_intervals(
            correct[None], units, resamples, rng_for(seed, tag)
        )
    keep = (
        "accuracy",
        "ci_low",
        "ci_high",
        "balanced_accuracy",
        "chance",
        "n_train",
        "n_test",
        "n_classes",
        "message",
    )
    return {
        k: (round(v, 4) if isinstance(v, float) and np.isfinite(v) else v)
        for k, v in record.items()
        if k in keep
    }


def compare(
    real: Any, synthetic: Any, settings: Mapping[str, Any], probes: bool = True, threads: int = 1
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{real grouping: {layer: numbers}}`` for every pair of :data:`PAIRS` both NAP sets have.

    ``real`` and ``synthetic`` are :class:`nap.naps.NapSet` s of the same network (same layers);
    the probe needs both to hold a probe sample.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for mine, theirs in PAIRS.items():
        if mine not in real.groupings or theirs not in synthetic.groupings:
            continue
        rn, sn = real.groups(mine), synthetic.groups(theirs)
        common = [n for n in rn if n in set(sn)]
        ri, si = [rn.index(n) for n in common], [sn.index(n) for n in common]
        per_layer: dict[str, dict[str, Any]] = {}
        for layer in [lay for lay in real.layers if lay in synthetic.layers]:
            a, b = real.nap(mine, layer)[ri], synthetic.nap(theirs, layer)[si]
            row: dict[str, Any] = {"groups": len(common), **matching(a, b)}
            row.update(clustering_agreement(a, b, common, settings))
            if probes and mine in PROBED and _has_probe(real) and _has_probe(synthetic):
                xs, ls, _, _ = synthetic.probe_features(layer)
                xr, lr, ur, _ = real.probe_features(layer)
                row["probe"] = cross_probe(
                    (xs, ls[theirs], sn), (xr, lr[mine], rn), settings, threads, ur, f"cross/{mine}/{layer}"
                )
            per_layer[layer] = row
        out[mine] = per_layer
    return out


def _has_probe(napset: Any) -> bool:
    try:
        napset.probe_utterances  # noqa: B018 (reads the probe file's small arrays)
    except FileNotFoundError:
        return False
    return True
