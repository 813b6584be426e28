"""The claims under each reading of the paper's two ambiguous choices.

**Normalization** (``naps.normalization``). The paper subtracts "the mean over the whole data
set" from each group's mean window. The NAP stage's default reads it as the mean over every
labelled frame of the kept groups; it could as well be every frame (blank and unlabelled ones
too) or the plain mean of the groups' means (:mod:`nap.naps.normalize`). The NAP set keeps the
group means and the whole-data window, so every layer is clustered again under each reading
(:class:`Reread`).

**Padding** (``naps.unpadded``). §3.1 feeds the network "without adding any padding"; the
recognizer here adds silence at both ends so every frame gets an output. The reading
:data:`UNPADDED_READING` takes the NAPs of only the frames whose window holds none of it,
under the study's own normalization.

For each reading the claims are judged again with the same probes, seeds and control;
``readings.json`` records each claim's verdict, the class agreement per layer and how far each
layer's clusters move from those of the study's own reading (adjusted Rand index, on the
groups both have).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score

from nap.naps.normalize import NORMALIZATIONS

#: ``readings.json``'s headline score per layer: the clustering's class agreement (pair AUC)
SCORE = "auc"
#: the reading of the NAPs of windows without padding (``NapSet.unpadded``)
UNPADDED_READING = "unpadded_windows"

#: what the cluster stage's ``run_clustering`` returns: (document, arrays)
Clustered = tuple[dict[str, Any], dict[str, np.ndarray]]


class Reread:
    """A NAP set seen under another normalization (None: its own): :meth:`nap` rereads the NAPs
    from the stored means (``NapSet.reread``); the probe features come from ``probes_from``
    (default: the set itself); everything else is the set's own."""

    def __init__(self, napset: Any, normalization: str | None = None, probes_from: Any = None):
        self.napset, self.normalization = napset, normalization
        self.probes_from = probes_from if probes_from is not None else napset

    def nap(self, grouping: str, layer: str) -> np.ndarray:
        if self.normalization is None:
            return self.napset.nap(grouping, layer)
        return self.napset.reread(grouping, layer, self.normalization)

    def probe_features(self, layer: str) -> Any:
        """The probe sample of ``probes_from``, its labels mapped onto this set's groups by name
        (a group this set left out, e.g. with too few frames without padding, maps to -1)."""
        x, labels, utt, frame = self.probes_from.probe_features(layer)
        if self.probes_from is self.napset:
            return x, labels, utt, frame
        mapped = {}
        for g, lab in labels.items():
            if g not in self.napset.groupings:
                continue
            mine = {n: i for i, n in enumerate(self.napset.groups(g))}
            table = np.array([mine.get(n, -1) for n in self.probes_from.groups(g)] + [-1], dtype=np.int64)
            mapped[g] = table[np.asarray(lab, dtype=np.int64)]  # -1 stays -1 (the last entry)
        return x, mapped, utt, frame

    @property
    def probe_utterances(self) -> Any:
        return self.probes_from.probe_utterances

    def __getattr__(self, name: str) -> Any:
        return getattr(self.napset, name)


def readings_of(napset: Any) -> list[str]:
    """The normalizations a NAP set can be reread under: all three where it keeps the whole-data
    window (NAP sets written before it was kept: the two computed from the group means)."""
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


def _ari(own: Clustered, other: Clustered, g: str, lay: str) -> float | None:
    """ARI of two clusterings of grouping ``g`` in layer ``lay`` on their common groups."""
    mine, theirs = own[0]["results"][g][lay], other[0]["results"].get(g, {}).get(lay)
    a, b = own[1].get(f"{g}.{lay}.clusters"), other[1].get(f"{g}.{lay}.clusters")
    if theirs is None or a is None or b is None or not len(a) or not len(b):
        return None
    ids = dict(zip(mine["names"], np.asarray(a).tolist(), strict=True))
    other_ids = dict(zip(theirs["names"], np.asarray(b).tolist(), strict=True))
    common = [n for n in ids if n in other_ids]
    if len(common) < 2:
        return None
    return round(float(adjusted_rand_score([ids[n] for n in common], [other_ids[n] for n in common])), 4)


def cluster_moves(own: Clustered, other: Clustered) -> dict[str, dict[str, float | None]]:
    """``{grouping: {layer: adjusted Rand index}}`` between two readings' flat clusters (1 = the
    same clusters; None: fewer than two groups in common)."""
    return {g: {lay: _ari(own, other, g, lay) for lay in per} for g, per in own[0]["results"].items()}


def reading_record(claims: list[Any], clustered: Clustered, own: Clustered) -> dict[str, Any]:
    """One reading's entry of ``readings.json``: verdicts, class agreement, ARI to the own reading."""
    return {
        "claims": {c.key: {"holds": c.holds, "evidence": c.evidence} for c in claims},
        "class_auc": class_agreement(clustered[0]),
        "ari_to_own": cluster_moves(own, clustered),
    }


def moved_claims(readings: dict[str, dict[str, Any]]) -> list[str]:
    """Claims whose verdict differs between any two readings."""
    verdicts: dict[str, set[Any]] = {}
    for rec in readings.values():
        for key, c in rec["claims"].items():
            verdicts.setdefault(key, set()).add(c["holds"])
    return sorted(k for k, v in verdicts.items() if len(v) > 1)
