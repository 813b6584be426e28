"""NAPs of any 1D-convolutional model on in-memory data: :func:`extract_naps` → :class:`NapResult`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nap.naps.distributed import world
from nap.naps.driver import ProbePlan, plan_probe, run_pass, with_whole
from nap.naps.extract import NapAccumulator
from nap.naps.geometry import Geometry, GeometryError, LayerGeometry, model_geometry
from nap.naps.io import write_napset
from nap.naps.normalize import WHOLE, group_naps


@dataclass
class NapResult:
    """NAPs per grouping and layer, with each kept group's mean window and what was subtracted."""

    geometry: Geometry
    layers: list[LayerGeometry]
    names: dict[str, list[str]]  # kept group names per grouping
    count: dict[str, np.ndarray]  # frames per kept group
    left_out: dict[str, dict[str, int]]
    naps: dict[str, dict[str, np.ndarray]]  # grouping -> layer -> (G, C, P) float64
    means: dict[str, dict[str, np.ndarray]]
    overall: dict[str, dict[str, np.ndarray]]
    kept: dict[str, np.ndarray]  # indices of the kept groups among all groups
    normalization: str
    min_count: int
    frames: int
    utterances: int
    probe: dict[str, np.ndarray] | None = field(default=None, repr=False)
    #: per layer the mean window over every frame (``whole_data``'s), and the number of frames
    whole: tuple[dict[str, np.ndarray], int] | None = field(default=None, repr=False)

    @property
    def groupings(self) -> list[str]:
        return list(self.naps)

    @property
    def layer_names(self) -> list[str]:
        return [g.name for g in self.layers]

    def groups(self, grouping: str) -> list[str]:
        return list(self.names[grouping])

    def counts(self, grouping: str) -> np.ndarray:
        return self.count[grouping]

    def nap(self, grouping: str, layer: str) -> np.ndarray:
        return self.naps[grouping][layer]

    def meta(self) -> dict[str, Any]:
        """napset.json's content (without file names)."""
        return {
            "layers": self.layer_names,
            "groupings": {
                k: {
                    "groups": self.names[k],
                    "counts": [int(c) for c in self.count[k]],
                    "left_out": self.left_out[k],
                }
                for k in self.naps
            },
            "normalization": self.normalization,
            "min_count": self.min_count,
            "sort": "ascending",
            "activations": {g.name: g.activation for g in self.layers},
            "geometry": self.geometry.to_dict(),
            "utterances": self.utterances,
            "frames": self.frames,
        }

    def save(self, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write the NapSet format (see :mod:`nap.naps.io`) into ``folder``."""
        write_napset(
            Path(folder),
            {**self.meta(), **(extra or {})},
            self.naps,
            self.means,
            self.overall,
            self.probe,
            self.whole,
        )
        return Path(folder)


def result_from(
    acc: NapAccumulator,
    groups: dict[str, list[str]],
    normalization: str,
    min_count: int,
    probe_arrays: dict[str, np.ndarray] | None = None,
    suffix: str = "",
) -> NapResult:
    """Turn an accumulator's sums into NAPs (groups below ``min_count`` frames left out).

    With the grouping :data:`~nap.naps.normalize.WHOLE` among the accumulator's (every frame
    one group), the result keeps each layer's mean window over every frame (``whole``), which
    ``normalization`` ``whole_data`` subtracts. ``suffix``: each grouping (and the whole) is
    read from the accumulator's grouping of that name plus ``suffix`` (the unpadded copies).
    """
    names, count, left_out, naps, means, overall, kept = {}, {}, {}, {}, {}, {}, {}
    whole = whole_means(acc, suffix)
    for k, all_names in groups.items():
        counts = acc.counts[k + suffix].numpy()
        naps[k], means[k], overall[k] = {}, {}, {}
        for g in acc.layers:
            sums = acc.group_sums(g.name, k + suffix).cpu().contiguous().numpy()  # contiguous: fast sorting
            res = group_naps(sums, counts, normalization, min_count, whole[0][g.name] if whole else None)
            naps[k][g.name], means[k][g.name], overall[k][g.name] = res.naps, res.means, res.overall
            kept[k] = res.kept
        if not acc.layers:
            kept[k] = np.flatnonzero(counts >= max(min_count, 1))
        keep = set(kept[k].tolist())
        names[k] = [all_names[i] for i in kept[k]]
        count[k] = counts[kept[k]].astype(np.int64)
        left_out[k] = {all_names[i]: int(counts[i]) for i in range(len(all_names)) if i not in keep}
    return NapResult(
        acc.geometry,
        list(acc.layers),
        names,
        count,
        left_out,
        naps,
        means,
        overall,
        kept,
        normalization,
        int(min_count),
        int(acc.frames),
        int(acc.utterances),
        probe_arrays,
        whole,
    )


def whole_means(acc: NapAccumulator, suffix: str = "") -> tuple[dict[str, np.ndarray], int] | None:
    """Per layer the mean window over every frame, and their number, from the accumulator's
    :data:`~nap.naps.normalize.WHOLE` grouping (plus ``suffix``; None without it or without frames)."""
    key = WHOLE + suffix
    if key not in acc.counts:
        return None
    n = int(acc.counts[key][0])
    if n == 0:
        return None
    return {
        g.name: acc.group_sums(g.name, key)[0].cpu().numpy().astype(np.float64) / n for g in acc.layers
    }, n


def probe_arrays(
    acc: NapAccumulator,
    plan: ProbePlan,
    kept: dict[str, np.ndarray],
    n_groups: dict[str, int],
    raw: dict[str, np.ndarray],
    split: Sequence[str],
) -> dict[str, np.ndarray]:
    """probe.npz's arrays: the sampled rows, their labels mapped onto the kept groups (-1 otherwise)."""
    out: dict[str, np.ndarray] = {
        "utterances": np.asarray(plan.utterances, dtype=np.str_),
        "utt_index": plan.utt.astype(np.int32),
        "frame": plan.frame.astype(np.int32),
        "split": (
            np.asarray([split[i] for i in plan.utt], dtype=np.str_) if plan.size else np.zeros(0, dtype="<U1")
        ),
    }
    for k, idx in kept.items():
        mapping = np.full(n_groups[k] + 1, -1, dtype=np.int64)  # raw -1 maps to the last entry: -1
        mapping[idx] = np.arange(idx.size)
        out[f"label__{k}"] = mapping[raw[k]].astype(np.int16)
    for g in acc.layers:
        out[f"X__{g.name}"] = acc.probe[g.name].numpy()
    return out


def probe_labels(plan: ProbePlan, labels_of: Any, groupings: Sequence[str]) -> dict[str, np.ndarray]:
    """Each probe row's raw label per grouping (-1 = none)."""
    raw = {k: np.full(plan.size, -1, dtype=np.int64) for k in groupings}
    for u, (frames, rows) in plan.rows_of().items():
        labs = labels_of(u)
        for k in groupings:
            raw[k][rows] = np.asarray(labs[k])[frames]
    return raw


def extract_naps(
    model: torch.nn.Module,
    inputs: Sequence[np.ndarray | torch.Tensor],
    labels: Sequence[dict[str, np.ndarray]],
    groups: dict[str, list[str] | int],
    *,
    layers: list[str] | None = None,
    normalization: str = "global_mean",
    min_count: int = 1,
    batch_size: int = 8,
    probe_frames: int = 0,
    seed: int = 0,
    splits: Sequence[str] | None = None,
    progress: bool = False,
) -> NapResult:
    """NAPs of ``model`` for utterances ``inputs`` ((in_channels, frames) each) and frame ``labels``.

    ``labels[i][grouping]`` gives one int per output frame of utterance ``i`` (-1 = none);
    ``groups[grouping]`` the group names (or their number). ``layers`` picks layers by name
    (see :func:`model_geometry`; ``"input"`` is the input window itself), None = every
    Conv1d layer. Under ``torchrun`` each process takes a shard and the sums are all-reduced.
    """
    if len(inputs) != len(labels):
        raise ValueError(f"{len(inputs)} inputs but {len(labels)} label dicts")
    geometry = model_geometry(model)
    chosen = geometry.select(layers)
    if not chosen:
        raise GeometryError("no layers chosen")
    names = {k: ([str(i) for i in range(v)] if isinstance(v, int) else list(v)) for k, v in groups.items()}
    ids = [f"{i:08d}" for i in range(len(inputs))]
    index = {u: i for i, u in enumerate(ids)}

    def labels_of(u: str) -> dict[str, np.ndarray]:
        return {k: np.asarray(labels[index[u]][k]) for k in names}

    def load(u: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        x = inputs[index[u]]
        x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        return x.astype(np.float32, copy=False), labels_of(u)

    lengths = {u: len(next(iter(labels_of(u).values()))) for u in ids}
    plan = plan_probe(ids, labels_of, probe_frames, seed) if probe_frames else None
    rank, size = world()
    load_all, n_groups = with_whole(load, {k: len(v) for k, v in names.items()})
    acc = run_pass(
        model,
        geometry,
        chosen,
        ids,
        lengths,
        load_all,
        n_groups,
        batch_size=batch_size,
        probe=plan,
        rank=rank,
        world=size,
        progress=progress,
    )
    result = result_from(acc, names, normalization, min_count)
    if plan is not None:
        split = list(splits) if splits is not None else [""] * len(ids)
        result.probe = probe_arrays(
            acc,
            plan,
            result.kept,
            {k: len(v) for k, v in names.items()},
            probe_labels(plan, labels_of, list(names)),
            split,
        )
    return result
