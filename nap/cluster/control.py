"""Control tasks for the linear probes, and selectivity (Hewitt & Liang 2019).

A probe that predicts a property well may do so because the probe is expressive, not
because the layer encodes the property. Hewitt & Liang's control task keeps everything but
the property: each *type* gets a random label, the same for every one of its tokens, so the
task can only be solved by telling the types apart and memorising an arbitrary map.
*Selectivity* is the task's accuracy minus the control's; a layer is selective for a
property when it is well above zero.

Here the types are the phones (or letters) of a frame, and the property is their class: the
phonetic class of a phone (vowel, plosive, …; :mod:`nap.phonetics`), vowel vs consonant for
a letter (:func:`nap.cluster.scores.grapheme_classes`). The *class probe* predicts a frame's
class from a layer's activations; its control probe predicts the frame's class under
:func:`control_mapping`: the types' classes shuffled among the types, so every control class
holds as many types as the real one (the relabelling behind the permutation p-values of
:mod:`nap.cluster.scores`). A probe of the phones themselves has no such control: any
relabelling of phones that is consistent per type is the same task under other names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def control_mapping(classes: Mapping[str, str | None], rng: np.random.Generator) -> dict[str, str | None]:
    """Each type's control class: the classes of the types that have one, randomly permuted.

    Types without a class (None) keep None. The number of types per class is that of
    ``classes``; the permutation comes from ``rng`` (seeded by the caller).
    """
    typed = [t for t, c in classes.items() if c is not None]
    shuffled = [classes[typed[k]] for k in rng.permutation(len(typed))]
    out: dict[str, str | None] = dict.fromkeys(classes)
    out.update(zip(typed, shuffled, strict=True))
    return out


def class_labels(
    labels: np.ndarray, names: Sequence[str], classes: Mapping[str, str | None]
) -> tuple[np.ndarray, list[str]]:
    """Frame labels (group indices into ``names``, -1 none) turned into class indices, and the classes.

    Classes are numbered in sorted order; a frame whose group has no class gets -1.
    """
    kinds = sorted({c for c in classes.values() if c is not None})
    index = {c: k for k, c in enumerate(kinds)}
    table = np.array([index.get(classes.get(n) or "", -1) for n in names] + [-1], dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    return table[np.where(labels >= 0, labels, len(names))], kinds
