"""A NAP set made from arrays in memory, with the reading API of :class:`nap.naps.NapSet`.

The cluster stage reads its input only through ``groupings``, ``layers``, ``groups()``,
``counts()``, ``nap()`` and ``probe_features()``. :class:`ArrayNapSet` offers the same for
NAPs computed elsewhere (another model, hand-made NAPs with known clusters in the tests),
so :func:`nap.cluster.build_clusters` clusters them unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class ArrayNapSet:
    """``naps[grouping][layer]`` (G, C, P) arrays, ``names[grouping]`` group names.

    ``probe`` optionally maps a layer to ``(X (n, C), labels {grouping: (n,)}, utt_index
    (n,), split (n,))`` as :meth:`nap.naps.NapSet.probe_features` returns it.
    """

    naps: dict[str, dict[str, np.ndarray]]
    names: dict[str, list[str]]
    count: dict[str, np.ndarray] | None = None
    probe: dict[str, tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]] = field(
        default_factory=dict
    )
    path: Path | None = None

    def __post_init__(self) -> None:
        for grouping, per_layer in self.naps.items():
            if grouping not in self.names:
                raise ValueError(f"ArrayNapSet: no group names for grouping {grouping!r}")
            for layer, arr in per_layer.items():
                if arr.shape[0] != len(self.names[grouping]):
                    raise ValueError(
                        f"ArrayNapSet: {grouping}/{layer} has {arr.shape[0]} NAPs for "
                        f"{len(self.names[grouping])} group names"
                    )

    @property
    def groupings(self) -> list[str]:
        return list(self.naps)

    @property
    def layers(self) -> list[str]:
        seen: dict[str, None] = {}
        for per_layer in self.naps.values():
            seen.update(dict.fromkeys(per_layer))
        return list(seen)

    def groups(self, grouping: str) -> list[str]:
        return list(self.names[grouping])

    def counts(self, grouping: str) -> np.ndarray:
        if self.count and grouping in self.count:
            return np.asarray(self.count[grouping])
        return np.ones(len(self.names[grouping]), dtype=np.int64)

    def nap(self, grouping: str, layer: str) -> np.ndarray:
        return self.naps[grouping][layer]

    def probe_features(self, layer: str) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]:
        if layer not in self.probe:
            raise KeyError(f"ArrayNapSet: no probe features for layer {layer!r}")
        return self.probe[layer]


def synthetic_napset(
    n_layers: int = 6,
    channels: int = 24,
    positions: int = 5,
    frames: int = 6000,
    utterances: int = 60,
    seed: int = 0,
) -> ArrayNapSet:
    """Hand-made NAPs with a known answer, for tests and for trying the stage without a model.

    Phoneme NAPs (the 39 ARPAbet phones) are a phonetic-class centroid plus a phone's own
    part, scaled by a strength that grows from 0 in the first layer (pure noise: no
    structure) to 1 in the last; grapheme NAPs (a–z) carry a letter's own, orthogonal-ish
    part only in the last two layers, so the output layer separates every grapheme and
    phonemes become separable layers before graphemes. Probe features follow the same
    plan, frame by frame, with each phoneme's frames mostly labelled by one letter.
    """
    from nap.phonetics import CLASSES, PHONE_CLASS, PHONES

    rng = np.random.default_rng(seed)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    shape = (channels, positions)
    centroid = {c: rng.normal(size=shape) for c in CLASSES}
    own = {p: 0.5 * rng.normal(size=shape) for p in PHONES}
    letter = {g: 1.5 * rng.normal(size=shape) for g in letters}
    layers = [f"layer{i + 1:02d}" for i in range(n_layers)]
    strength = np.linspace(0.0, 1.0, n_layers)
    grapheme_on = np.array([0.0] * max(n_layers - 2, 0) + [0.6, 1.0])[-n_layers:]
    naps: dict[str, dict[str, np.ndarray]] = {"grapheme": {}, "phoneme": {}}
    for k, lay in enumerate(layers):
        ph = np.stack([strength[k] * (centroid[PHONE_CLASS[p]] + own[p]) for p in PHONES])
        gr = np.stack([grapheme_on[k] * letter[g] for g in letters])
        naps["phoneme"][lay] = np.sort(ph + 0.25 * rng.normal(size=ph.shape), axis=-1)
        naps["grapheme"][lay] = np.sort(gr + 0.25 * rng.normal(size=gr.shape), axis=-1)
    partner = {p: letters[i % 26] for i, p in enumerate(PHONES)}
    y_ph = rng.integers(0, len(PHONES), size=frames)
    keep = rng.random(frames) < 0.8
    y_gr = np.where(keep, [letters.index(partner[PHONES[p]]) for p in y_ph], rng.integers(0, 26, size=frames))
    utt = np.sort(rng.integers(0, utterances, size=frames))
    split = np.where(utt % 5 == 0, "test_sentences", "train")
    probe = {}
    for k, lay in enumerate(layers):
        ph_mean = np.stack([(centroid[PHONE_CLASS[p]] + own[p]).mean(-1) for p in PHONES])
        gr_mean = np.stack([letter[g].mean(-1) for g in letters])
        x = strength[k] * ph_mean[y_ph] + grapheme_on[k] * gr_mean[y_gr]
        x += 0.6 * rng.normal(size=x.shape)
        probe[lay] = (x.astype(np.float32), {"grapheme": y_gr, "phoneme": y_ph}, utt, split)
    names = {"grapheme": letters, "phoneme": list(PHONES)}
    count = {"grapheme": np.bincount(y_gr, minlength=26), "phoneme": np.bincount(y_ph, minlength=len(PHONES))}
    return ArrayNapSet(naps, names, count, probe)
