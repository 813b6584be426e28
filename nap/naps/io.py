"""The NAP stage's stored result and its reader, :class:`NapSet`.

Plain numpy and JSON, readable without ``nap`` (``FORMAT`` below is also written into the
artifact folder as ``FORMAT.md``)::

    import json, numpy as np
    meta = json.load(open("napset.json"))
    with np.load("naps_phoneme.npz") as f:
        groups, naps = list(f["groups"]), f["layer09"]   # (G, C, P)
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from nap.naps.geometry import Geometry
from nap.store import atomic_path, read_json, write_json

FORMAT_NAME = "nap-napset"
#: The untrained-network control's NAP set: a folder of the same format inside the artifact.
CONTROL = "control"
#: The NAPs of the frames whose window holds no padding: a folder of the same format inside the artifact.
UNPADDED_SET = "unpadded"
FORMAT_VERSION = 1
META = "napset.json"

FORMAT = """\
# Time-independent NAPs of the naps stage (format version 1)

For every grouping (e.g. `grapheme`, `phoneme`, `phoneme_true`) and every profiled layer:
the group's mean window activations (paper Figure 1 C), minus the normalization
(D), each channel's values sorted ascending over the window's positions (E).

## napset.json
- `format`, `version`: `"nap-napset"`, 1.
- `layers`: layer names in network order (the keys of the arrays below).
- `groupings`: grouping -> `{"groups": [...], "counts": [...], "left_out": {name: frames},
  "files": {"naps": ..., "means": ...}}`.
- `normalization`: `global_mean` (minus the mean window over all labelled frames of the
  kept groups), `mean_of_groups` (minus the unweighted mean of the kept groups' means) or
  `whole_data` (minus the mean window over every output frame, blank and unlabelled ones
  included: `whole.npz`).
- `min_count`: groups with fewer frames are left out (listed in `left_out`).
- `sort`: `"ascending"`: each channel's values sorted along the positions axis.
- `activations`: per layer, what its activations are: `relu` (after the layer's ReLU),
  `none` (the conv's output: the output layer), `input` (the spectrogram window).
- `geometry`: `receptive_field` R and `stride` S in input frames, and per layer
  `positions` P, `step`, `offset`, `jump`, `receptive_field`, `kernel_size`, `stride`,
  `dilation`, `channels`, `module`, `conv`: output frame t's window is positions
  `[offset + t*step, offset + t*step + P)` of the layer, i.e. input frames `[t*S, t*S + R)`.
- `utterances`, `frames`: utterances and output frames profiled.
- `probe`: `frames` sampled, `seed`, `file`.

## naps_<grouping>.npz
`groups` (G,) str; `counts` (G,) int64 frames per group; `<layer>` (G, C, P) float32: the NAPs.

## means_<grouping>.npz
`groups`, `counts` as above; `<layer>` (G, C, P) float32: each group's mean window
(not normalized, not sorted); `overall__<layer>` (C, P) float64: what was subtracted.
So `np.sort(means[layer] - means["overall__" + layer], axis=-1)` equals the NAPs.

## whole.npz (`whole` in napset.json: `{"file", "frames"}`)
`<layer>` (C, P) float64: the mean window over every output frame profiled (`frames` of
them), labelled or not: what `whole_data` subtracts. With `means_<grouping>.npz` it gives
the NAPs under each reading of the normalization (`nap.naps.normalize.reread`).

## folds.npz (`folds` in napset.json: `{"file", "folds", "seed"}`; with `naps.folds` > 0)
The speakers dealt to `folds` disjoint folds (`nap.naps.folds.speaker_folds`): per grouping
`<grouping>.<layer>` (F, G, C, P) float16 (float32 where out of float16's range): each fold's
mean window of the kept groups (0 where a fold has no frame of a group), and
`<grouping>.counts` (F, G) int64 frames; `__whole__.<layer>` and `__whole__.counts` the same
for every frame. Reweighted folds give the NAPs of a resample of speakers
(`NapSet.folds(...).naps(weights, normalization)`): the cluster stage's intervals.

## Variants (`variants` in napset.json)
- `contrast`, `contrast_weighted`: the contrastive NAPs' groups (null = every kept group)
  and weighting; they are computed from `means_<grouping>.npz` when read: of the chosen
  groups, each mean minus the (count-weighted, or plain) mean of their means, each channel
  sorted (`NapSet.contrastive`).
- `saliency` (when computed): `{"layers", "frames", "files": {grouping: "snaps_<grouping>.npz"}}`;
  `snaps_<grouping>.npz` holds `groups`, `counts` (sampled frames per group) and per layer
  (G, C, P) float32 saliency-adjusted NAPs: per window, activation × the gradient of the
  predicted class's logit, averaged per group, normalized and sorted as the NAPs.

## control/ (the untrained-network control, `control` in napset.json)
The same files for the recognizer's architecture before training (initialised with the
asr stage's seed scheme), its layers and the input window (`input`), over the same frames.

## unpadded/ (`unpadded` in napset.json: with `naps.unpadded` and a recognizer that pads)
The same files (no probe) for only the output frames whose input window lies inside the
utterance, none of the recognizer's added silence: the NAPs the paper's unpadded input
("without adding any padding", §3.1) gives, from the same pass; `control/unpadded/` the same
for the untrained network.

## probe.npz (features for linear probes)
A seeded sample of labelled output frames (at most `probe_frames`): `utterances` (U,) str;
`utt_index` (n,) int32 (into `utterances`); `frame` (n,) int32 (output frame in its
utterance); `split` (n,) str (the utterance's corpus split); `label__<grouping>` (n,) int16:
index into that grouping's `groups`, -1 = none or left out; `X__<layer>` (n, C) float32:
the frame's window activations averaged over positions.
"""


def _str_array(values: list[str]) -> np.ndarray:
    return np.asarray(values, dtype=np.str_) if values else np.zeros(0, dtype="<U1")


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` (uncompressed, no pickles), atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def write_napset(
    folder: Path,
    meta: dict[str, Any],
    naps: dict[str, dict[str, np.ndarray]],
    means: dict[str, dict[str, np.ndarray]],
    overall: dict[str, dict[str, np.ndarray]],
    probe: dict[str, np.ndarray] | None,
    whole: tuple[dict[str, np.ndarray], int] | None = None,
) -> None:
    """Write the format above into ``folder`` (``meta`` is napset.json without file names);
    ``whole``: the mean window over every frame per layer and the number of frames."""
    folder = Path(folder)
    meta = dict(meta)
    if whole is not None:
        save_npz(folder / "whole.npz", {lay: a.astype(np.float64) for lay, a in whole[0].items()})
        meta["whole"] = {"file": "whole.npz", "frames": int(whole[1])}
    meta["groupings"] = {k: dict(v) for k, v in meta["groupings"].items()}
    for k, info in meta["groupings"].items():
        groups = _str_array(list(info["groups"]))
        counts = np.asarray(info["counts"], dtype=np.int64)
        layers = {lay: a.astype(np.float32) for lay, a in naps[k].items()}
        save_npz(folder / f"naps_{k}.npz", {"groups": groups, "counts": counts, **layers})
        save_npz(
            folder / f"means_{k}.npz",
            {
                "groups": groups,
                "counts": counts,
                **{lay: a.astype(np.float32) for lay, a in means[k].items()},
                **{f"overall__{lay}": a.astype(np.float64) for lay, a in overall[k].items()},
            },
        )
        info["files"] = {"naps": f"naps_{k}.npz", "means": f"means_{k}.npz"}
    if probe is not None:
        save_npz(folder / "probe.npz", probe)
        meta["probe"] = {**meta.get("probe", {}), "file": "probe.npz"}
    with atomic_path(folder / "FORMAT.md") as tmp:
        tmp.write_text(FORMAT)
    write_json(folder / META, {"format": FORMAT_NAME, "version": FORMAT_VERSION, **meta})


def write_saliency(
    folder: Path,
    sums: dict[str, dict[str, np.ndarray]],
    counts: dict[str, np.ndarray],
    groups: dict[str, list[str]],
    normalization: str,
    min_count: int,
) -> dict[str, Any]:
    """``snaps_<grouping>.npz`` from :func:`nap.naps.variants.saliency_sums`; napset.json's entry."""
    from nap.naps.normalize import group_naps

    files = {}
    for k, names in groups.items():
        per = {lay: group_naps(by[k], counts[k], normalization, min_count) for lay, by in sums.items()}
        kept = next(iter(per.values())).kept if per else np.zeros(0, np.int64)
        save_npz(
            folder / f"snaps_{k}.npz",
            {
                "groups": _str_array([names[i] for i in kept]),
                "counts": np.asarray(counts[k], dtype=np.int64)[kept],
                **{lay: r.naps.astype(np.float32) for lay, r in per.items()},
            },
        )
        files[k] = f"snaps_{k}.npz"
    frames = int(max((c.sum() for c in counts.values()), default=0))
    return {"layers": list(sums), "frames": frames, "files": files}


class NapSet:
    """Time-independent NAPs per grouping and layer, read from a naps artifact folder."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        meta_file = self.path / META
        if not meta_file.is_file():
            raise FileNotFoundError(f"{meta_file} does not exist: is {self.path} a finished naps artifact?")
        self.meta: dict[str, Any] = read_json(meta_file)
        if self.meta.get("format") != FORMAT_NAME or self.meta.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"{meta_file}: format {self.meta.get('format')!r} version {self.meta.get('version')!r}, "
                f"expected {FORMAT_NAME!r} version {FORMAT_VERSION}"
            )
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    @classmethod
    def open(cls, path: str | Path) -> NapSet:
        return cls(path)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}: {len(self.groups(k))}" for k in self.groupings)
        return (
            f"NapSet({len(self.layers)} layers, groups {{{sizes}}}, normalization "
            f"{self.normalization!r}, path='{self.path}')"
        )

    # -- what is in it -----------------------------------------------------------------
    @property
    def groupings(self) -> list[str]:
        return list(self.meta["groupings"])

    @property
    def layers(self) -> list[str]:
        return list(self.meta["layers"])

    @property
    def normalization(self) -> str:
        return str(self.meta["normalization"])

    @property
    def min_count(self) -> int:
        return int(self.meta["min_count"])

    @cached_property
    def geometry(self) -> Geometry:
        return Geometry.from_dict(self.meta["geometry"])

    def _grouping(self, grouping: str) -> dict[str, Any]:
        try:
            return self.meta["groupings"][grouping]
        except KeyError:
            raise KeyError(f"no grouping {grouping!r} in {self.path}; groupings: {self.groupings}") from None

    def groups(self, grouping: str) -> list[str]:
        """Names of the grouping's groups (the NAPs' first axis)."""
        return list(self._grouping(grouping)["groups"])

    def counts(self, grouping: str) -> np.ndarray:
        """Frames per group (int64, aligned with :meth:`groups`)."""
        return np.asarray(self._grouping(grouping)["counts"], dtype=np.int64)

    def left_out(self, grouping: str) -> dict[str, int]:
        """Groups with fewer than ``min_count`` frames, with their frame counts."""
        return dict(self._grouping(grouping)["left_out"])

    # -- arrays ------------------------------------------------------------------------
    def _array(self, file_key: str, grouping: str, name: str) -> np.ndarray:
        key = (f"{file_key}/{grouping}", name)
        if key not in self._cache:
            path = self.path / self._grouping(grouping)["files"][file_key]
            with np.load(path, allow_pickle=False) as data:
                if name not in data.files:
                    raise KeyError(f"no layer {name!r} in {path}; layers: {self.layers}")
                self._cache[key] = data[name]
        return self._cache[key]

    def nap(self, grouping: str, layer: str) -> np.ndarray:
        """(G, C, P) float32: the time-independent NAPs of the grouping's groups in ``layer``."""
        self._check_layer(layer)
        return self._array("naps", grouping, layer)

    def mean(self, grouping: str, layer: str) -> np.ndarray:
        """(G, C, P) float32: each group's mean window (Figure 1 C: not normalized, not sorted)."""
        self._check_layer(layer)
        return self._array("means", grouping, layer)

    def overall(self, grouping: str, layer: str) -> np.ndarray:
        """(C, P) float64: the window subtracted by the normalization (Figure 1 D)."""
        self._check_layer(layer)
        return self._array("means", grouping, f"overall__{layer}")

    def whole(self, layer: str) -> np.ndarray | None:
        """(C, P) float64: the mean window over every frame (what ``whole_data`` subtracts);
        None for a NAP set written before it was kept."""
        self._check_layer(layer)
        entry = self.meta.get("whole")
        if not entry:
            return None
        with np.load(self.path / entry["file"], allow_pickle=False) as f:
            return f[layer]

    def reread(self, grouping: str, layer: str, normalization: str) -> np.ndarray:
        """(G, C, P) NAPs under another reading of the normalization, from the stored means
        (:func:`nap.naps.normalize.reread`); the stored NAPs for the set's own reading."""
        from nap.naps.normalize import reread

        if normalization == self.normalization:
            return self.nap(grouping, layer).astype(np.float64)
        whole = self.whole(layer) if normalization == "whole_data" else None
        return reread(self.mean(grouping, layer), self.counts(grouping), normalization, whole)

    def folds(self, grouping: str, layer: str) -> Any:
        """The speaker folds' means of ``grouping`` in ``layer`` (:class:`nap.naps.folds.Folds`), from
        which speaker resamples' NAPs are made; None for a NAP set without them (``naps.folds`` 0)."""
        from nap.naps.folds import read_folds

        self._check_layer(layer)
        entry = self.meta.get("folds")
        return read_folds(self.path, grouping, layer) if entry else None

    def _check_layer(self, layer: str) -> None:
        if layer not in self.layers:
            raise KeyError(f"no layer {layer!r} in {self.path}; layers: {self.layers}")

    # -- the control and the variants ------------------------------------------------------
    @cached_property
    def control(self) -> NapSet | None:
        """The untrained network's NAP set (``naps.control``), None when it was not computed."""
        return self._inner("control")

    @property
    def unpadded(self) -> NapSet | None:
        """The NAPs of only the frames whose window lies inside the utterance (``naps.unpadded``),
        None when they were not computed (or the recognizer adds no padding)."""
        return self._inner("unpadded")

    def _inner(self, key: str) -> NapSet | None:
        """The NAP set in the folder napset.json names under ``key``, None without one."""
        name = self.meta.get(key)
        return NapSet(self.path / name) if name and (self.path / name / META).is_file() else None

    def contrastive(
        self, grouping: str, layer: str, groups: list[str] | None = None, weighted: bool | None = None
    ) -> tuple[list[str], np.ndarray]:
        """(names, (G', C, P) float64) contrastive NAPs from the stored means (:mod:`nap.naps.variants`).

        ``groups`` and ``weighted`` default to the stage's ``naps.contrast`` and
        ``naps.contrast_weighted``.
        """
        from nap.naps.variants import contrast_indices, contrastive_naps

        variants = self.meta.get("variants") or {}
        groups = variants.get("contrast") if groups is None else groups
        weighted = bool(variants.get("contrast_weighted", False)) if weighted is None else weighted
        names = self.groups(grouping)
        idx = contrast_indices(names, groups)
        means = self.mean(grouping, layer)
        return [names[i] for i in idx], contrastive_naps(means, self.counts(grouping), idx, weighted)

    @property
    def saliency_layers(self) -> list[str]:
        """Layers with saliency-adjusted NAPs (``naps.saliency``; empty when not computed)."""
        return list(((self.meta.get("variants") or {}).get("saliency") or {}).get("layers", []))

    def saliency_nap(self, grouping: str, layer: str) -> tuple[list[str], np.ndarray]:
        """(names, (G', C, P) float32) saliency-adjusted NAPs of ``layer`` (``naps.saliency``)."""
        info = (self.meta.get("variants") or {}).get("saliency")
        if not info:
            raise KeyError(f"{self.path} has no saliency-adjusted NAPs (naps.saliency was off)")
        if layer not in info["layers"]:
            raise KeyError(
                f"no saliency-adjusted NAPs of layer {layer!r} in {self.path}; it has {info['layers']}"
            )
        self._grouping(grouping)
        with np.load(self.path / info["files"][grouping], allow_pickle=False) as data:
            return [str(g) for g in data["groups"]], data[layer]

    def _probe_file(self) -> Path:
        info = self.meta.get("probe") or {}
        if not info.get("file"):
            raise FileNotFoundError(f"{self.path} has no probe features (probe_frames was 0)")
        return self.path / info["file"]

    @cached_property
    def _probe(self) -> dict[str, np.ndarray]:
        """The probe sample's small arrays (the per-layer features are read when asked for)."""
        with np.load(self._probe_file(), allow_pickle=False) as data:
            return {k: data[k] for k in data.files if not k.startswith("X__")}

    def probe_features(self, layer: str) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """``(X (n, C) float32, {grouping: (n,) int64 group index, -1 none}, utt_index (n,), split (n,))``."""
        self._check_layer(layer)
        data = self._probe
        with np.load(self._probe_file(), allow_pickle=False) as f:
            x = f[f"X__{layer}"]
        labels = {k: data[f"label__{k}"].astype(np.int64) for k in self.groupings}
        return x, labels, data["utt_index"].astype(np.int64), data["split"].astype(str)

    @property
    def probe_utterances(self) -> list[str]:
        """Utterance ids that ``probe_features``' ``utt_index`` points into."""
        return [str(u) for u in self._probe["utterances"]]

    @property
    def probe_frames(self) -> np.ndarray:
        """Each probe sample's output frame within its utterance."""
        return self._probe["frame"].astype(np.int64)

    def summary_table(self) -> Any:
        """Groups, frames and left-out groups per grouping, as a table for the chapter."""
        from nap.display import table

        rows = []
        for k in self.groupings:
            c = self.counts(k)
            left = ", ".join(f"{n} ({m})" for n, m in self.left_out(k).items()) or "—"
            lo, hi = (int(c.min()), int(c.max())) if len(c) else (0, 0)
            rows.append((k, len(c), int(c.sum()), lo, hi, left))
        headers = ["grouping", "groups", "frames", "fewest", "most", f"left out (< {self.min_count})"]
        return table(rows, headers, title="NAP groups")
