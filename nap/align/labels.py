"""The align stage's stored result and its reader, :class:`FrameLabels`.

The format is plain numpy and JSON, readable without ``nap`` (``FORMAT`` below is also
written into the artifact folder as ``FORMAT.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nap.store import read_json

#: The groupings the NAP stage uses (contract), and the extra one stored beside them.
GROUPINGS: tuple[str, ...] = ("grapheme", "phoneme", "phoneme_true")
EXTRA_GROUPINGS: tuple[str, ...] = ("phoneme_truetext",)

FORMAT = """\
# Frame labels of the align stage (format version 3)

One label per **output frame** of the recognizer, per grouping; -1 = no group.

## labels.npz (numpy, no pickles: `np.load(path)`)
| key | shape, type | meaning |
|---|---|---|
| `utterances` | (U,) str | utterance ids, in stored order |
| `splits` | (U,) str | each utterance's corpus split |
| `offsets` | (U+1,) int64 | utterance `u` owns frames `offsets[u]:offsets[u+1]` of the arrays below |
| `grapheme` | (N,) int16 | index into `groups.json["groups"]["grapheme"]`: the frame's predicted letter |
| `phoneme` | (N,) int16 | index into `groups["phoneme"]`: cascade phoneme (Figure 2) less its delay (`lag`) |
| `phoneme_true` | (N,) int16 | index into `groups["phoneme_true"]`: the true phone at the frame's centre |
| `phoneme_truetext` | (N,) int16 | index into `groups["phoneme_truetext"]`: cascade on the true transcript |
| `argmax` | (N,) int16 | the recognizer's best class per frame (names: `groups.json["symbols"]`) |
| `<grouping>_reason` | (N,) int8 | why the label is -1: index into `groups.json["reasons"]` (0: labelled) |
| `centre_s` | (N,) float32 | time (s) of the centre of the frame's receptive field |
| `position` | (N,) int16 | the frame's position in its decoded transcript (-1: blank or gap) |
| `nw_score` | (U,) int32 | Needleman-Wunsch score of argmax symbols vs decoded transcript |

Groups with fewer frames than `min_count` are left out (their frames are -1); their
counts are in `groups.json["left_out"]`.

## groups.json
`groups` (grouping -> names), `counts` (grouping -> name -> frames), `left_out`,
`min_count`, `none` (grouping -> reason -> frames without a label), `reasons`, `symbols`,
`g2p_failed` (word -> why the G2P gave it no phonemes),
`lag` (the recognizer's emission delays, see `nap.align.delay`: `frames`, `ms`, `estimated`:
the recognizer's one delay; `per` (`recognizer`, `letter` or `letter_phoneme`) and `table`
(key -> frames, e.g. `"t T": 6`, with `table_frames`: the train frames behind each): the
delays of the letter written (and its cascade phoneme); frame `t`'s phoneme label came from
frame `t + d`, `d` the delay of that frame's letter and phoneme in `table`, else `frames`;
when two labels land on one frame, the later-written one is kept. When estimated: the train
split's accuracy per tried lag (`lags`, `accuracy`), `eval_accuracy_lag0` (the evaluation
split's accuracy of the paper's cascade) and `eval_accuracy_one_lag` (with the one delay)),
`frame` (`receptive_field`, `stride`, `hop_s`, `offset_s`, `pad`: the network saw `pad`
frames of silence before the utterance, and output frame `t`'s centre is
`(t * stride - pad + (receptive_field - 1) / 2) * hop_s + offset_s` seconds).

## transcripts.json
utterance id -> `{"decoded": ..., "truth": ...}`.

## timing.json
On the evaluation split: the accuracy when the truth is read `shift_s` seconds after each
labelled frame's centre (decoded and true transcript), with the best shift.

## accuracy.json, confusion.npz
Per split and transcript (`decoded`, `truth`): frames with a cascade phoneme, correct
ones, accuracy, per-phone accuracy. `confusion.npz`: `<split>__<transcript>` (40, 39)
counts, rows = true phone (`true_names`, `sil` last), columns = cascade phoneme
(`pred_names`).
"""


@dataclass
class FrameLabels:
    """Per utterance, per output frame: an int label per grouping (-1 = none)."""

    path: Path
    utterances: list[str]
    splits: dict[str, str]
    offsets: np.ndarray
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {u: i for i, u in enumerate(self.utterances)}

    @classmethod
    def open(cls, path: str | Path) -> FrameLabels:
        path = Path(path)
        npz = path / "labels.npz"
        if not npz.is_file():
            raise FileNotFoundError(f"{npz} does not exist: is {path} a finished align artifact?")
        with np.load(npz, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        utts = [str(u) for u in arrays.pop("utterances")]
        splits = dict(zip(utts, (str(s) for s in arrays.pop("splits")), strict=True))
        offsets = arrays.pop("offsets").astype(np.int64)
        return cls(path, utts, splits, offsets, arrays, read_json(path / "groups.json"))

    def __repr__(self) -> str:
        return f"FrameLabels({len(self.utterances)} utterances, {self.n_frames} frames, path='{self.path}')"

    @property
    def n_frames(self) -> int:
        return int(self.offsets[-1])

    @property
    def groupings(self) -> tuple[str, ...]:
        return GROUPINGS

    @property
    def groups(self) -> dict[str, list[str]]:
        """Group names of the NAP groupings (label ``i`` is ``groups[grouping][i]``)."""
        return {g: list(self.meta["groups"][g]) for g in GROUPINGS}

    @property
    def all_groups(self) -> dict[str, list[str]]:
        """Group names of every stored grouping, ``phoneme_truetext`` included."""
        return {g: list(v) for g, v in self.meta["groups"].items()}

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """Frames per kept group, per grouping."""
        return {g: dict(v) for g, v in self.meta["counts"].items()}

    @property
    def left_out(self) -> dict[str, dict[str, int]]:
        """Groups left out for having fewer than ``min_count`` frames, with their counts."""
        return {g: dict(v) for g, v in self.meta["left_out"].items()}

    @property
    def delay(self) -> dict[str, Any]:
        """The recognizer's emission delays the stage measured and applied (stored as ``lag``)."""
        return dict(self.meta["lag"])

    @property
    def unlabelled(self) -> dict[str, dict[str, int]]:
        """Per grouping, frames without a label by reason (e.g. ``blank``)."""
        return {g: dict(v) for g, v in self.meta["none"].items()}

    @property
    def frame(self) -> dict[str, float]:
        """Frame geometry: receptive_field, stride, hop_s, offset_s, pad."""
        return dict(self.meta["frame"])

    def _slice(self, utt_id: str) -> slice:
        try:
            u = self._index[utt_id]
        except KeyError:
            raise KeyError(f"utterance {utt_id!r} has no labels in {self.path}") from None
        return slice(int(self.offsets[u]), int(self.offsets[u + 1]))

    def labels(self, utt_id: str, groupings: tuple[str, ...] = GROUPINGS) -> dict[str, np.ndarray]:
        """Per grouping, the utterance's labels (one per output frame, int64, -1 = none)."""
        s = self._slice(utt_id)
        unknown = set(groupings) - set(self.meta["groups"])
        if unknown:
            raise KeyError(f"unknown grouping(s) {sorted(unknown)}; stored: {list(self.meta['groups'])}")
        return {g: self.arrays[g][s].astype(np.int64) for g in groupings}

    def array(self, name: str, utt_id: str | None = None) -> np.ndarray:
        """A stored per-frame array (``argmax``, ``centre_s``, a reason...), whole or one utterance's."""
        if name not in self.arrays:
            raise KeyError(f"no array {name!r} in {self.path / 'labels.npz'}; stored: {sorted(self.arrays)}")
        return self.arrays[name] if utt_id is None else self.arrays[name][self._slice(utt_id)]

    def split_of(self, utt_id: str) -> str:
        return self.splits[utt_id]

    @property
    def transcripts(self) -> dict[str, dict[str, str]]:
        return read_json(self.path / "transcripts.json")

    @property
    def accuracy(self) -> dict[str, Any]:
        """Per split and transcript (``decoded``/``truth``): the accuracy report."""
        return read_json(self.path / "accuracy.json")

    @property
    def timing(self) -> dict[str, Any]:
        """Accuracy against the shift at which the truth is read (evaluation split), decoded and truth."""
        return read_json(self.path / "timing.json")

    def confusion(self, split: str, transcript: str = "decoded") -> np.ndarray:
        """(40, 39) counts, rows = true phone (``sil`` last), columns = cascade phoneme."""
        with np.load(self.path / "confusion.npz", allow_pickle=False) as data:
            key = f"{split}__{transcript}"
            if key not in data.files:
                raise KeyError(f"no confusion matrix {key!r} in {self.path}; stored: {data.files}")
            return data[key]
