"""Single-pass, streaming accumulation of per-group window sums (the heart of NAPs).

Each batch of utterances runs through the model once; forward hooks keep every chosen
layer's activations ``A`` (channels × positions). Output frame ``t``'s window in a layer is
the slice ``A[:, offset + t*step : offset + t*step + P]`` (see :mod:`nap.naps.geometry`),
so a group's sum of windows is, for every window position ``p``, a sum of activation
columns ``A[:, offset + t*step + p]`` over the group's frames ``t``. With the activations
laid out as rows (positions × channels), that is one ``embedding_bag`` (fbgemm's gather-sum
kernel) per layer and batch, whose bags are the (position, group) pairs of every grouping:
the network runs once, the windows are never copied out, and the work per labelled frame
is ``P × channels`` additions against the ``channels² × kernel`` multiply-adds the forward
pass spends per position. Bag sums are float32 within a batch and are accumulated across
batches in float64, so the result equals the per-window definition
(:mod:`nap.naps.reference`) to float32 rounding of one batch.

Memory is independent of the corpus: a (P, groups, channels) float64 sum per layer and
grouping, the group counts, and a capped, pre-drawn sample of per-frame probe features.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nap.naps.geometry import INPUT, Geometry, LayerGeometry


class LabelError(ValueError):
    """Frame labels do not fit the model's output frames or the group names."""


class _Stop(Exception):
    """Raised in the deepest hook: nothing after the last chosen layer needs computing."""


class LayerTap:
    """Forward hooks that keep the chosen layers' outputs of one forward pass."""

    def __init__(self, model: nn.Module, layers: Sequence[LayerGeometry], stop_early: bool = True):
        self.model = model
        self.outputs: dict[str, torch.Tensor] = {}
        modules = dict(model.named_modules())
        conv_layers = [g for g in layers if g.name != INPUT]
        self.handles = []
        last = conv_layers[-1].name if conv_layers else None
        for g in conv_layers:
            self.handles.append(modules[g.module].register_forward_hook(
                self._hook(g.name, stop=stop_early and g.name == last)))

    def _hook(self, name: str, stop: bool):
        def hook(module, args, output):
            self.outputs[name] = output.detach()
            if stop:
                raise _Stop

        return hook

    def run(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The chosen layers' activations for input ``x`` (batch, channels, frames)."""
        self.outputs = {}
        if self.handles:
            try:
                with torch.no_grad():
                    self.model(x)
            except _Stop:
                pass
        return self.outputs

    def close(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []

    def __enter__(self) -> LayerTap:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class Item:
    """One utterance of a batch: its input, its labels per grouping, its sampled probe frames."""

    features: torch.Tensor  # (in_channels, frames) float32
    labels: dict[str, np.ndarray]  # grouping -> (output frames,) int, -1 = none
    probe_frames: np.ndarray | None = None  # output frames to keep as probe features
    probe_rows: np.ndarray | None = None  # their rows in the probe arrays


class NapAccumulator:
    """Per-group window sums and counts for chosen layers and groupings; mergeable by summing.

    ``sums[layer][grouping]`` is a float64 tensor (P, G, C); ``counts[grouping]`` int64 (G,);
    ``probe[layer]`` (n, C) float32 holds the sampled frames' window means.
    """

    def __init__(self, geometry: Geometry, layers: Sequence[LayerGeometry], n_groups: dict[str, int],
                 probe_size: int = 0):
        self.geometry = geometry
        self.layers = list(layers)
        self.n_groups = dict(n_groups)
        self.sums = {
            g.name: {k: torch.zeros(g.positions, n, g.channels, dtype=torch.float64)
                     for k, n in self.n_groups.items()}
            for g in self.layers
        }
        self.counts = {k: torch.zeros(n, dtype=torch.int64) for k, n in self.n_groups.items()}
        self.probe = {g.name: torch.zeros(probe_size, g.channels, dtype=torch.float32) for g in self.layers}
        self.probe_filled = torch.zeros(probe_size, dtype=torch.int64)
        self.frames = torch.zeros((), dtype=torch.int64)  # output frames seen
        self.utterances = torch.zeros((), dtype=torch.int64)

    # -- state: checkpoints and merging ----------------------------------------------
    def tensors(self) -> dict[str, torch.Tensor]:
        """Every accumulated tensor by a flat name (the order is fixed: used for all_reduce)."""
        out: dict[str, torch.Tensor] = {}
        for g in self.layers:
            for k in self.n_groups:
                out[f"sum/{g.name}/{k}"] = self.sums[g.name][k]
            out[f"probe/{g.name}"] = self.probe[g.name]
        for k in self.n_groups:
            out[f"count/{k}"] = self.counts[k]
        out["probe_filled"] = self.probe_filled
        out["frames"] = self.frames
        out["utterances"] = self.utterances
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {name: t.numpy().copy() for name, t in self.tensors().items()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        for name, t in self.tensors().items():
            if name not in state or tuple(state[name].shape) != tuple(t.shape):
                raise ValueError(f"checkpoint does not match the accumulator at {name!r}")
            t.copy_(torch.from_numpy(np.asarray(state[name])))

    def merge(self, other: NapAccumulator) -> None:
        """Add ``other``'s sums into this one (what all_reduce does across processes)."""
        mine, theirs = self.tensors(), other.tensors()
        if mine.keys() != theirs.keys():
            raise ValueError("cannot merge accumulators of different layers or groupings")
        for name, t in mine.items():
            t.add_(theirs[name])

    # -- accumulation ---------------------------------------------------------------
    def add(self, acts: dict[str, torch.Tensor], items: Sequence[Item]) -> None:
        """Add one batch: ``acts[layer]`` is (B, C, T_layer) for the batch's ``items``."""
        frame_counts = [self._n_frames(it) for it in items]
        order = self._group_order(items)
        probe = self._probe_index(items)
        for g in self.layers:
            a = acts[g.name]
            rows = a.transpose(1, 2).contiguous().view(-1, a.shape[1]).float()  # (B*T, C)
            self._add_layer(g, rows, a.shape[2], order)
            if probe is not None:
                b, t, dest = probe
                base = b * a.shape[2] + g.offset + t * g.step
                idx = (base[:, None] + torch.arange(g.positions)[None, :]).reshape(-1)
                offsets = torch.arange(0, idx.numel(), g.positions)
                self.probe[g.name][dest] = F.embedding_bag(idx, rows, offsets, mode="mean")
        if probe is not None:
            self.probe_filled[probe[2]] += 1
        for k, (_, _, counts, _) in order.items():
            self.counts[k] += counts
        self.frames += sum(frame_counts)
        self.utterances += len(items)

    def _n_frames(self, it: Item) -> int:
        n = {len(v) for v in it.labels.values()}
        if len(n) != 1:
            raise LabelError(f"the groupings' label arrays differ in length: {sorted(n)}")
        return n.pop()

    def _group_order(self, items: Sequence[Item]) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]]:
        """Per grouping: (utterance index, frame) of labelled frames sorted by group, counts, n."""
        order = {}
        for k, n_groups in self.n_groups.items():
            labs = [np.asarray(it.labels[k]) for it in items]
            lab = np.concatenate(labs) if labs else np.zeros(0, np.int64)
            b = np.repeat(np.arange(len(labs)), [len(x) for x in labs])
            t = np.concatenate([np.arange(len(x)) for x in labs]) if labs else np.zeros(0, np.int64)
            if lab.size and (lab.max() >= n_groups or lab.min() < -1):
                bad = int(lab.max() if lab.max() >= n_groups else lab.min())
                raise LabelError(f"grouping {k!r}: label {bad} outside -1..{n_groups - 1} ({n_groups} groups)")
            keep = lab >= 0
            lab, b, t = lab[keep], b[keep], t[keep]
            perm = np.argsort(lab, kind="stable")
            counts = np.bincount(lab, minlength=n_groups)
            order[k] = (torch.from_numpy(b[perm]), torch.from_numpy(t[perm]),
                        torch.from_numpy(counts.astype(np.int64)), int(lab.size))
        return order

    def _probe_index(self, items: Sequence[Item]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        bs, ts, dests = [], [], []
        for i, it in enumerate(items):
            if it.probe_frames is not None and len(it.probe_frames):
                bs.append(np.full(len(it.probe_frames), i))
                ts.append(np.asarray(it.probe_frames))
                dests.append(np.asarray(it.probe_rows))
        if not bs:
            return None
        return (torch.from_numpy(np.concatenate(bs)).long(), torch.from_numpy(np.concatenate(ts)).long(),
                torch.from_numpy(np.concatenate(dests)).long())

    def _add_layer(self, g: LayerGeometry, rows: torch.Tensor, length: int, order: dict) -> None:
        """All groupings' (position, group) bags of one layer in one embedding_bag call."""
        p = torch.arange(g.positions)
        idx_parts, off_parts, total = [], [], 0
        for b, t, counts, n in order.values():
            base = b * length + g.offset + t * g.step
            idx_parts.append((base[None, :] + p[:, None]).reshape(-1))
            starts = torch.cumsum(counts, 0) - counts
            off_parts.append((starts[None, :] + n * p[:, None]).reshape(-1) + total)
            total += n * g.positions
        idx, offsets = torch.cat(idx_parts), torch.cat(off_parts)
        if total == 0:
            return
        out = F.embedding_bag(idx, rows, offsets, mode="sum")
        start = 0
        for k, n_groups in self.n_groups.items():
            size = g.positions * n_groups
            self.sums[g.name][k].add_(out[start:start + size].view(g.positions, n_groups, -1))
            start += size

    # -- results --------------------------------------------------------------------
    def group_sums(self, layer: str, grouping: str) -> torch.Tensor:
        """(G, C, P) float64 sums of the group's windows."""
        return self.sums[layer][grouping].permute(1, 2, 0)


def batches(items: Sequence[str], batch_size: int) -> list[list[str]]:
    return [list(items[i:i + batch_size]) for i in range(0, len(items), batch_size)]


def pad_batch(features: Sequence[torch.Tensor]) -> torch.Tensor:
    """Stack (C, T_i) inputs into (B, C, max T), zero-padded at the end (no window reaches it)."""
    length = max(f.shape[1] for f in features)
    x = features[0].new_zeros(len(features), features[0].shape[0], length)
    for i, f in enumerate(features):
        x[i, :, :f.shape[1]] = f
    return x


def check_items(geometry: Geometry, items: Sequence[Item], names: Sequence[str]) -> None:
    """Labels must have one entry per output frame of the model (errors name the utterance)."""
    for name, it in zip(names, items):
        frames = geometry.frames(it.features.shape[1])
        for k, lab in it.labels.items():
            if len(lab) != frames:
                raise LabelError(
                    f"utterance {name!r}, grouping {k!r}: {len(lab)} labels, but the model gives {frames} "
                    f"output frames for its {it.features.shape[1]} input frames (receptive field "
                    f"{geometry.receptive_field}, stride {geometry.stride})"
                )


def accumulate(
    model: nn.Module,
    geometry: Geometry,
    layers: Sequence[LayerGeometry],
    acc: NapAccumulator,
    batches_: Iterator[tuple[list[str], list[Item]]],
    on_batch: Callable[[int], None] | None = None,
) -> NapAccumulator:
    """Run every batch through ``model`` once and add its windows to ``acc``."""
    was_training = model.training
    model.eval()
    try:
        with LayerTap(model, layers) as tap:
            for i, (names, items) in enumerate(batches_):
                check_items(geometry, items, names)
                x = pad_batch([it.features for it in items])
                acts = tap.run(x)
                if any(g.name == INPUT for g in layers):
                    acts[INPUT] = x
                acc.add(acts, items)
                if on_batch is not None:
                    on_batch(i)
    finally:
        model.train(was_training)
    return acc
