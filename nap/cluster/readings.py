"""The claims under each reading of Figure 1D's normalization (``naps.normalization``).

The paper subtracts "the mean over the whole data set" from each group's mean window. The
NAP stage's default reads it as the mean over every labelled frame of the kept groups; it
could as well be every frame (blank and unlabelled ones too) or the plain mean of the
groups' means (:mod:`nap.naps.normalize`). The NAP set keeps the group means and the
whole-data window, so the cluster stage reclusters every layer under each reading
(:class:`Reread`), judges the claims again with the same probes, seeds and control, and
records per reading each claim's verdict, the class agreement per layer and how far each
layer's clusters move from those of the study's own reading (adjusted Rand index).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score

from nap.naps.normalize import NORMALIZATIONS

#: ``readings.json``'s headline score per layer: the clustering's class agreement (pair AUC)
SCORE = "auc"


class Reread:
    """A NAP set seen under another normalization: :meth:`nap` rereads the NAPs from the stored
    means (``NapSet.reread``); everything else is the set's own."""

    def __init__(self, napset: Any, normalization: str):
        self.napset, self.normalization = napset, normalization

    def nap(self, grouping: str, layer: str) -> np.ndarray:
        return self.napset.reread(grouping, layer, self.normalization)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.napset, name)


def readings_of(napset: Any) -> list[str]:
    """The readings a NAP set can be reread under: all three where it keeps the whole-data window
    (NAP sets written before it was kept: the two computed from the group means)."""
    if not callable(getattr(napset, "reread", None)):
        return []
    whole = bool((getattr(napset, "meta", None) or {}).get("whole"))
    return [r for r in NORMALIZATIONS if whole or r != "whole_data"]


def class_agreement(doc: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """``{grouping: {layer: pair AUC of its phonetic classes (vowels for graphemes)}}``."""
    out: dict[str, dict[str, float | None]] = {}
    for g, per in doc["results"].items():
        out[g] = {}
        for lay, r in per.items():
            scores = r.get("scores") or {}
            which = scores.get("classes") or scores.get("vowels") or {}
            value = which.get(SCORE) if isinstance(which, dict) else None
            out[g][lay] = None if value is None or not np.isfinite(value) else round(float(value), 4)
    return out


def cluster_moves(
    own: dict[str, np.ndarray], other: dict[str, np.ndarray]
) -> dict[str, dict[str, float | None]]:
    """``{grouping: {layer: adjusted Rand index}}`` between two readings' flat clusters (1 = the same)."""
    out: dict[str, dict[str, float | None]] = {}
    for key, labels in own.items():
        g, lay, what = key.rsplit(".", 2)
        if what != "clusters":
            continue
        theirs = other.get(key)
        same = theirs is not None and len(labels) == len(theirs) and len(labels) > 1
        out.setdefault(g, {})[lay] = round(float(adjusted_rand_score(labels, theirs)), 4) if same else None
    return out


def reading_record(
    claims: list[Any], doc: dict[str, Any], arrays: dict[str, np.ndarray], own_arrays: dict[str, np.ndarray]
) -> dict[str, Any]:
    """One reading's entry of ``readings.json``: verdicts, class agreement, ARI to the own reading."""
    return {
        "claims": {c.key: {"holds": c.holds, "evidence": c.evidence} for c in claims},
        "class_auc": class_agreement(doc),
        "ari_to_own": cluster_moves(own_arrays, arrays),
    }


def moved_claims(readings: dict[str, dict[str, Any]]) -> list[str]:
    """Claims whose verdict differs between any two readings."""
    verdicts: dict[str, set[Any]] = {}
    for rec in readings.values():
        for key, c in rec["claims"].items():
            verdicts.setdefault(key, set()).add(c["holds"])
    return sorted(k for k, v in verdicts.items() if len(v) > 1)
