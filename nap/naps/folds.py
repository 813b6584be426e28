"""Speaker folds: NAP sums kept per group of speakers, so the cluster stage can resample speakers.

A NAP is a mean over thousands of frames, but the frames come from a few dozen voices: the
uncertainty of a layer's clustering is that of its speakers. The pass therefore also sums
each grouping's windows separately for ``naps.folds`` disjoint groups of speakers (speakers
dealt to folds in a seeded random order). The folds' sums add up to the grouping's, so any
reweighting of folds gives the NAPs of a speaker resample (netdissect's mergeable
statistics); :mod:`nap.cluster.agreement` turns them into intervals for the clustering
scores. ``folds.npz`` holds, per grouping and layer, the folds' means of the kept groups
(float16 where in range: a bootstrap needs three digits, and it halves the file) and their frame counts.

Speakers are read from the utterance ids, ``<speaker>-<chapter>-<number>`` (LibriSpeech's
names, which the synthetic corpus uses too); an id of another form is its own speaker.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nap.naps.normalize import WHOLE, reread

#: suffix of a grouping's fold copy in the pass: group ``g`` of fold ``f`` is its group ``f * G + g``
FOLDS = "@folds"
FILE = "folds.npz"

_UTTERANCE_ID = re.compile(r"^([^-]+)-[^-]+-\d+$")

Loader = Callable[[str], tuple[np.ndarray, dict[str, np.ndarray]]]


def speaker_of(utterance: str) -> str | None:
    """The speaker of a ``<speaker>-<chapter>-<number>`` utterance id; None for ids of another form."""
    m = _UTTERANCE_ID.match(utterance)
    return m.group(1) if m else None


def speaker_folds(utterances: Sequence[str], folds: int, seed: int) -> dict[str, int]:
    """Each utterance's fold: speakers (sorted, then shuffled by ``seed``) dealt round-robin to
    ``folds`` folds, so every speaker's utterances share a fold and the folds' sizes differ by
    at most one speaker. Fewer speakers than folds leave folds empty."""
    speaker = {u: speaker_of(u) or u for u in utterances}
    names = sorted(set(speaker.values()))
    order = np.random.default_rng([seed, 0x5F01D]).permutation(len(names))
    fold = {names[i]: rank % folds for rank, i in enumerate(order)}
    return {u: fold[s] for u, s in speaker.items()}


def with_folds(
    load: Loader, n_groups: dict[str, int], fold_of: dict[str, int], folds: int, groupings: Sequence[str]
) -> tuple[Loader, dict[str, int]]:
    """``load`` and ``n_groups`` with each of ``groupings`` replaced by its :data:`FOLDS` form: group
    ``g`` of an utterance in fold ``f`` becomes group ``f * G + g`` (unlabelled frames stay -1).

    Replaced, not added: the pass sums each window once, as before, and :class:`FoldTotals`
    reads the groupings' sums as the sums over their folds (a second copy of the groupings
    made the pass 1.6x slower: summing windows, not the network, is most of its time).
    """

    def load_all(u: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        feats, labels = load(u)
        out = {k: v for k, v in labels.items() if k not in groupings}
        for k in groupings:
            lab = np.asarray(labels[k], dtype=np.int64)
            out[k + FOLDS] = np.where(lab >= 0, fold_of[u] * n_groups[k] + lab, -1)
        return feats, out

    kept = {k: n for k, n in n_groups.items() if k not in groupings}
    return load_all, {**kept, **{k + FOLDS: n_groups[k] * folds for k in groupings}}


class FoldTotals:
    """An accumulator of a :func:`with_folds` pass that reads each folded grouping as its total (the
    sum over its folds), and otherwise is the accumulator; what the NAPs are made from."""

    def __init__(self, acc: Any, folds: int, groupings: Sequence[str]):
        self.acc, self.folds, self.folded = acc, folds, list(groupings)
        self.n_groups = {**acc.n_groups, **{k: acc.n_groups[k + FOLDS] // folds for k in groupings}}
        self.counts = {**acc.counts, **{k: self.fold_counts(k).sum(0) for k in groupings}}

    def fold_counts(self, grouping: str) -> Any:
        """(F, G) int64 tensor: frames of each fold's groups."""
        return self.acc.counts[grouping + FOLDS].reshape(self.folds, -1)

    def fold_sums(self, layer: str, grouping: str) -> Any:
        """(F, G, C, P) float64 window sums of each fold's groups (a tensor where the sums are)."""
        sums = self.acc.group_sums(layer, grouping + FOLDS)
        return sums.reshape(self.folds, -1, *sums.shape[1:])

    def group_sums(self, layer: str, grouping: str) -> Any:
        """(G, C, P) float64 sums of the grouping's windows (over its folds where folded)."""
        if grouping not in self.folded:
            return self.acc.group_sums(layer, grouping)
        return self.fold_sums(layer, grouping).sum(0)

    def fold_arrays(self, kept: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``folds.npz``'s arrays: for each grouping ``k`` in ``kept`` (its kept groups) and layer
        ``l``, ``k.l`` (F, G_kept, C, P) float16 means (0 where a fold has no frame of a group;
        float32 where out of float16's range) and ``k.counts`` (F, G_kept) int64."""
        out: dict[str, np.ndarray] = {"folds": np.asarray(self.folds)}
        for k, groups in kept.items():
            counts = self.fold_counts(k).numpy()[:, groups].astype(np.int64)
            out[f"{k}.counts"] = counts
            for g in self.acc.layers:
                sums = self.fold_sums(g.name, k).cpu().numpy()[:, groups]
                with np.errstate(invalid="ignore", divide="ignore"):
                    means = np.nan_to_num(sums / counts[:, :, None, None], nan=0.0)
                small = np.abs(means).max(initial=0.0) < 6e4  # float16's range
                out[f"{k}.{g.name}"] = means.astype(np.float16 if small else np.float32)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.acc, name)


@dataclass(frozen=True)
class Folds:
    """One grouping and layer's fold means: what a speaker resample's NAPs are made from."""

    means: np.ndarray  # (F, G, C, P) float64: each fold's group means (0 where it has no frame)
    counts: np.ndarray  # (F, G) int64 frames
    whole_means: np.ndarray | None  # (F, C, P) every frame's mean window per fold (whole_data)
    whole_counts: np.ndarray | None  # (F,)

    def naps(self, weights: np.ndarray, normalization: str) -> np.ndarray | None:
        """(G, C, P) NAPs of a resample drawing fold ``f`` ``weights[f]`` times, normalized as the
        NAP set was (:mod:`nap.naps.normalize`); None when a group has no frame in the resample."""
        w = np.asarray(weights, dtype=np.float64)
        counts = w @ self.counts  # (G,)
        if np.any(counts <= 0):
            return None
        sums = np.einsum("fg,fgcp->gcp", w[:, None] * self.counts, self.means)
        whole = None
        if normalization == "whole_data" and self.whole_means is not None and self.whole_counts is not None:
            n = w * self.whole_counts
            whole = np.tensordot(n / n.sum(), self.whole_means, axes=1)
        return reread(sums / counts[:, None, None], counts, normalization, whole)


def read_folds(folder: Path, grouping: str, layer: str) -> Folds | None:
    """The fold means of ``grouping`` and ``layer`` in a naps folder; None without them."""
    path = Path(folder) / FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        if f"{grouping}.{layer}" not in data.files:
            return None
        whole = f"{WHOLE}.{layer}" in data.files
        return Folds(
            data[f"{grouping}.{layer}"].astype(np.float64),
            data[f"{grouping}.counts"],
            data[f"{WHOLE}.{layer}"][:, 0].astype(np.float64) if whole else None,
            data[f"{WHOLE}.counts"][:, 0] if whole else None,
        )
