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


@dataclass
class _Order:
    """A batch's labelled frames (or run pieces) of all groupings, sorted by (grouping, group)."""

    b: torch.Tensor  # (n,) utterance index in the batch
    t: torch.Tensor  # (n,) first output frame of the piece
    level: torch.Tensor  # (n,) the piece covers 2**level consecutive frames
    starts: torch.Tensor  # (sum G,) first entry of each (grouping, group)
    n: int
    max_level: int


def _runs(lab: np.ndarray, b: np.ndarray, max_level: int) -> tuple[np.ndarray, ...]:
    """Cut runs of equal labels (within an utterance) into pieces of 2**level frames, longest first.

    Returns (label, utterance, first frame, level) per piece; with ``max_level`` 0 every
    labelled frame is its own piece.
    """
    t = np.arange(lab.size)
    if max_level == 0:
        keep = lab >= 0
        return lab[keep], b[keep], t[keep], np.zeros(int(keep.sum()), np.int64)
    new_run = np.ones(lab.size, bool)
    new_run[1:] = (lab[1:] != lab[:-1]) | (b[1:] != b[:-1])
    starts = np.flatnonzero(new_run & (lab >= 0))
    ends = np.r_[np.flatnonzero(new_run)[1:], lab.size]
    ends = ends[np.searchsorted(np.flatnonzero(new_run), starts)]
    length = ends - starts
    big = 1 << max_level
    q, r = length >> max_level, length & (big - 1)
    parts = [(np.repeat(starts, q) + big * (np.arange(q.sum()) - np.repeat(np.cumsum(q) - q, q)),
              np.repeat(starts, q), np.full(int(q.sum()), max_level))]
    for k in range(max_level - 1, -1, -1):
        has = (r >> k) & 1 == 1
        s0 = starts[has]
        parts.append((s0 + q[has] * big + ((r[has] >> (k + 1)) << (k + 1)), s0, np.full(int(has.sum()), k)))
    first = np.concatenate([p[0] for p in parts])
    run_start = np.concatenate([p[1] for p in parts])
    level = np.concatenate([p[2] for p in parts])
    return lab[run_start], b[run_start], first, level


class NapAccumulator:
    """Per-group window sums and counts for chosen layers and groupings; mergeable by summing.

    ``sums[layer]`` is a float64 tensor (P, sum of G over groupings, C), grouping ``k``
    owning the middle slice ``slices[k]``; ``counts[grouping]`` int64 (G,); ``probe[layer]``
    (n, C) float32 the sampled frames' window means. Bag sums of a batch are float32 and go
    through a float32 partial sum that is added to the float64 sums every ``flush_every``
    batches (a float64 add per batch of the whole (P, G, C) output costs more than the
    gathering itself).

    Runs of consecutive frames with one label (phones last several frames) are summed
    with fewer gathers: rows ``L_k[j] = sum_{i < 2**k} X[j + i*step]`` (``max_level``
    levels, built with one add per level) let a run of length ``L`` be gathered as
    ``popcount(L)`` pieces; a layer uses them only when that saves work.
    """

    def __init__(self, geometry: Geometry, layers: Sequence[LayerGeometry], n_groups: dict[str, int],
                 probe_size: int = 0, flush_every: int = 8, max_level: int = 3):
        self.geometry = geometry
        self.layers = list(layers)
        self.n_groups = dict(n_groups)
        self.flush_every = int(flush_every)
        self.max_level = int(max_level)
        self.slices, start = {}, 0
        for k, n in self.n_groups.items():
            self.slices[k] = slice(start, start + n)
            start += n
        self.total_groups = start
        self.sums = {g.name: torch.zeros(g.positions, start, g.channels, dtype=torch.float64) for g in self.layers}
        self._partial: dict[str, torch.Tensor] = {}
        self._pending = 0
        self.counts = {k: torch.zeros(n, dtype=torch.int64) for k, n in self.n_groups.items()}
        self.probe = {g.name: torch.zeros(probe_size, g.channels, dtype=torch.float32) for g in self.layers}
        self.probe_filled = torch.zeros(probe_size, dtype=torch.int64)
        self.frames = torch.zeros((), dtype=torch.int64)  # output frames seen
        self.utterances = torch.zeros((), dtype=torch.int64)

    # -- state: checkpoints and merging ----------------------------------------------
    def flush(self) -> None:
        """Move the float32 partial sums into the float64 sums."""
        for name, part in self._partial.items():
            self.sums[name].add_(part.double())
        self._partial = {}
        self._pending = 0

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every accumulated tensor by a flat name (the order is fixed: used for all_reduce)."""
        self.flush()
        out: dict[str, torch.Tensor] = {}
        for g in self.layers:
            out[f"sum/{g.name}"] = self.sums[g.name]
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
        frames_order, pieces_order, counts = self._orders(items)
        probe = self._probe_index(items)
        for g in self.layers:
            a = acts[g.name]
            use_pieces = self._worth_pieces(g, frames_order, pieces_order, a.shape[0] * a.shape[2])
            order = pieces_order if use_pieces else frames_order
            rows = self._rows(a, g, order.max_level)
            self._add_layer(g, rows, a.shape[0] * a.shape[2], a.shape[2], order)
            if probe is not None:
                b, t, dest = probe
                base = b * a.shape[2] + g.offset + t * g.step
                idx = (base[:, None] + torch.arange(g.positions)[None, :]).reshape(-1)
                offsets = torch.arange(0, idx.numel(), g.positions)
                self.probe[g.name][dest] = F.embedding_bag(idx, rows, offsets, mode="mean")
        if probe is not None:
            self.probe_filled[probe[2]] += 1
        for k, c in counts.items():
            self.counts[k] += c
        self.frames += sum(frame_counts)
        self.utterances += len(items)
        self._pending += 1
        if self._pending >= self.flush_every:
            self.flush()

    def _worth_pieces(self, g: LayerGeometry, frames: _Order, pieces: _Order, n_rows: int) -> bool:
        """Gathering run pieces saves (frames - pieces) * P row adds and costs a level build per level."""
        if pieces.max_level == 0:
            return False
        return (frames.n - pieces.n) * g.positions > 2 * pieces.max_level * n_rows

    def _rows(self, a: torch.Tensor, g: LayerGeometry, levels: int) -> torch.Tensor:
        """(levels+1) * B*T rows of C: the activations as rows, then the run-sum levels."""
        bt, c = a.shape[0] * a.shape[2], a.shape[1]
        rows = torch.empty((levels + 1) * bt, c, dtype=torch.float32)
        rows[:bt].view(a.shape[0], a.shape[2], c).copy_(a.transpose(1, 2))
        for k in range(1, levels + 1):
            prev, cur = rows[(k - 1) * bt:k * bt], rows[k * bt:(k + 1) * bt]
            shift = (1 << (k - 1)) * g.step
            torch.add(prev[:bt - shift], prev[shift:], out=cur[:bt - shift])
            cur[bt - shift:] = 0  # never gathered: pieces stay inside their utterance
        return rows

    def _n_frames(self, it: Item) -> int:
        n = {len(v) for v in it.labels.values()}
        if len(n) != 1:
            raise LabelError(f"the groupings' label arrays differ in length: {sorted(n)}")
        return n.pop()

    def _orders(self, items: Sequence[Item]) -> tuple[_Order, _Order, dict[str, torch.Tensor]]:
        """The batch's labelled frames, and its run pieces, sorted by (grouping, group); frame counts."""
        lengths = [self._n_frames(it) for it in items]
        b = np.repeat(np.arange(len(items)), lengths)
        t0 = np.r_[0, np.cumsum(lengths)[:-1]] if items else np.zeros(0, np.int64)
        counts = {}
        per_level: dict[int, list[tuple[np.ndarray, ...]]] = {0: [], self.max_level: []}
        for k, n_groups in self.n_groups.items():
            lab = np.concatenate([np.asarray(it.labels[k], dtype=np.int64) for it in items])
            if lab.size and (lab.max() >= n_groups or lab.min() < -1):
                bad = int(lab.max() if lab.max() >= n_groups else lab.min())
                raise LabelError(f"grouping {k!r}: label {bad} outside -1..{n_groups - 1} ({n_groups} groups)")
            counts[k] = torch.from_numpy(np.bincount(lab[lab >= 0], minlength=n_groups).astype(np.int64))
            for level in per_level:
                g, bb, first, lev = _runs(lab, b, level)
                per_level[level].append((g + self.slices[k].start, bb, first - t0[bb], lev))
        orders = []
        for level in (0, self.max_level):
            g, bb, t, lev = (np.concatenate(x) for x in zip(*per_level[level]))
            perm = np.argsort(g, kind="stable")
            n_per = np.bincount(g, minlength=self.total_groups)
            orders.append(_Order(
                torch.from_numpy(bb[perm].astype(np.int64)), torch.from_numpy(t[perm].astype(np.int64)),
                torch.from_numpy(lev[perm].astype(np.int64)),
                torch.from_numpy((np.cumsum(n_per) - n_per).astype(np.int64)), int(g.size), level,
            ))
        return orders[0], orders[1], counts

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

    def _add_layer(self, g: LayerGeometry, rows: torch.Tensor, bt: int, length: int, order: _Order) -> None:
        """Every grouping's (position, group) bags of one layer in one embedding_bag call.

        Bag (p, group) sums rows ``level*B*T + b*T + offset + t*step + p`` over the group's
        pieces: position-major, so the bag offsets are ``p*n + start[group]``.
        """
        if order.n == 0:
            return
        p = torch.arange(g.positions, dtype=torch.int64)
        base = order.level * bt + order.b * length + g.offset + order.t * g.step
        idx = (base[None, :] + p[:, None]).reshape(-1)
        offsets = (order.starts[None, :] + order.n * p[:, None]).reshape(-1)
        out = F.embedding_bag(idx, rows, offsets, mode="sum").view(g.positions, self.total_groups, -1)
        if g.name in self._partial:
            self._partial[g.name].add_(out)
        else:
            self._partial[g.name] = out

    # -- results --------------------------------------------------------------------
    def group_sums(self, layer: str, grouping: str) -> torch.Tensor:
        """(G, C, P) float64 sums of the grouping's groups' windows."""
        self.flush()
        return self.sums[layer][:, self.slices[grouping], :].permute(1, 2, 0)


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
