"""Single-pass, streaming accumulation of per-group window sums (the heart of NAPs).

Each batch of utterances runs through the model once. Output frame ``t``'s window in a
layer is the slice ``A[:, offset + t*step : offset + t*step + P]`` of the layer's
activations ``A`` (see :mod:`nap.naps.geometry`), so a group's sum of windows is, for every
window position ``p``, a sum of activation columns ``A[:, offset + t*step + p]`` over the
group's frames ``t``. A forward hook on each chosen layer lays its activations out as rows
(positions × channels) and makes one ``embedding_bag`` call (fbgemm's gather-sum kernel)
whose bags are the (position, group) pairs of every grouping, while the activations are
still in cache; the next layer's conv then runs. The network runs once, no window is ever
copied out, and per labelled frame the work is ``P × channels`` additions against the
``channels² × kernel`` multiply-adds the forward pass spends per position.

Precision: a batch's bag sums are float32, summed over ``flush_every`` batches in float32
and then added to float64 accumulators, so the result equals the per-window definition
(:mod:`nap.naps.reference`) to float32 rounding of a few batches (tested to 1e-5).

Memory is independent of the corpus: a (P, groups, channels) float64 sum per layer, the
group counts, and a capped, pre-drawn sample of per-frame probe features.

On a GPU the sums stay on the device and nothing waits for it inside the loop: a batch's
frame index goes over once (pinned, non-blocking), each layer's bag indices are built from
it on the device, and the probe rows are copied back only when the partial sums are flushed
(every ``flush_every`` batches). The forward passes run in exact float32
(:func:`nap.hardware.exact_float32`). On the CPU the same numbers are computed as numpy
arrays (faster there than torch's integer broadcasting) and the sums are bit-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nap.errors import NapError
from nap.hardware import exact_float32
from nap.naps.geometry import INPUT, Geometry, LayerGeometry


class LabelError(NapError, ValueError):
    """Frame labels do not fit the model's output frames or the group names."""


class _Stop(Exception):
    """Raised in the deepest hook: nothing after the last chosen layer needs computing."""


Callback = Callable[[str, torch.Tensor], None]


class LayerTap:
    """Forward hooks on the chosen layers: hand each output to ``callback`` (or keep it).

    The forward pass stops after the deepest chosen layer (``stop_early``): layers after
    it are not computed at all.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[LayerGeometry],
        callback: Callback | None = None,
        stop_early: bool = True,
    ):
        self.model = model
        self.callback = callback
        self.outputs: dict[str, torch.Tensor] = {}
        modules = dict(model.named_modules())
        conv_layers = [g for g in layers if g.name != INPUT]
        self.handles = []
        last = conv_layers[-1].name if conv_layers else None
        for g in conv_layers:
            self.handles.append(
                modules[g.module].register_forward_hook(
                    self._hook(g.name, stop=stop_early and g.name == last)
                )
            )

    def _hook(self, name: str, stop: bool):
        def hook(module, args, output):
            if self.callback is not None:
                self.callback(name, output.detach())
            else:
                self.outputs[name] = output.detach()
            if stop:
                raise _Stop

        return hook

    def run(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run ``x`` (batch, channels, frames); the kept outputs when there is no callback."""
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


Index = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class _Batch:
    """A batch's labelled frames of every grouping, sorted by (grouping, group), and its probe rows."""

    b: np.ndarray  # (n,) utterance index in the batch
    t: np.ndarray  # (n,) output frame
    starts: np.ndarray  # (n_present,) first entry of each (grouping, group) with frames in the batch
    present: np.ndarray  # (n_present,) those groups' rows in the sums (of sum G)
    counts: dict[str, np.ndarray]
    probe: Index | None  # (b, t, row) of sampled frames
    frames: int  # output frames of the batch's utterances
    utterances: int
    #: off the CPU: (b, t, starts, present) and the probe's (b, t, row) as int64 tensors on the device
    on_device: tuple[torch.Tensor, ...] | None = None

    @property
    def n(self) -> int:
        return int(self.b.size)


def _bags(g: LayerGeometry, length: int, n: int, p: Any, b: Any, t: Any, starts: Any) -> tuple[Any, Any]:
    """Indices and offsets of one layer's (position, group) bags, as numpy arrays or as tensors alike.

    Bag (p, group) sums rows ``b*length + offset + t*step + p`` over the group's frames;
    position-major, so the bag offsets are ``p*n + starts[group]``.
    """
    start = b * length + g.offset + t * g.step
    return (p[:, None] + start[None, :]).reshape(-1), (n * p[:, None] + starts[None, :]).reshape(-1)


def _probe_bags(g: LayerGeometry, length: int, p: Any, b: Any, t: Any) -> Any:
    """Indices of the sampled frames' windows, one bag of ``positions`` rows each (numpy or tensors)."""
    return ((b * length + g.offset + t * g.step)[:, None] + p[None, :]).reshape(-1)


class NapAccumulator:
    """Per-group window sums and counts for chosen layers and groupings; mergeable by summing.

    ``sums[layer]`` is a float64 tensor (P, sum of G over groupings, C), grouping ``k``
    owning the slice ``slices[k]`` of its middle axis; ``counts[grouping]`` int64 (G,);
    ``probe[layer]`` (n, C) float32 the sampled frames' window means. Use
    :meth:`begin`, :meth:`add_layer` for each layer's activations, :meth:`end` per batch.
    """

    def __init__(
        self,
        geometry: Geometry,
        layers: Sequence[LayerGeometry],
        n_groups: dict[str, int],
        probe_size: int = 0,
        flush_every: int = 8,
        device: str | torch.device = "cpu",
    ):
        self.geometry = geometry
        self.layers = list(layers)
        self._layer = {g.name: g for g in self.layers}
        self.n_groups = dict(n_groups)
        self.flush_every = int(flush_every)
        self.slices, start = {}, 0
        for k, n in self.n_groups.items():
            self.slices[k] = slice(start, start + n)
            start += n
        self.total_groups = start
        self._sums: dict[str, torch.Tensor] = {}  # allocated at the first flush: no zero-fill
        self._partial: dict[str, torch.Tensor] = {}  # float32, kept between flushes (zeroed where used)
        self._touched = np.zeros(self.total_groups, dtype=bool)  # groups added to since the last flush
        self._pending = 0
        self._batch: _Batch | None = None
        self.device = torch.device(device)  # window sums stay where the activations are (CPU or GPU)
        self._scratch = torch.empty(0, dtype=torch.float32, device=self.device)
        self._positions: dict[int, torch.Tensor] = {}  # arange(P) on the device, per P
        self.counts = {k: torch.zeros(n, dtype=torch.int64) for k, n in self.n_groups.items()}
        self._probe = {g.name: torch.zeros(probe_size, g.channels, dtype=torch.float32) for g in self.layers}
        #: off the CPU: per layer, (probe rows, their window means) still on the device
        self._probe_pending: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self.probe_filled = torch.zeros(probe_size, dtype=torch.int64)
        self.frames = torch.zeros((), dtype=torch.int64)  # output frames seen
        self.utterances = torch.zeros((), dtype=torch.int64)

    # -- state: checkpoints and merging ----------------------------------------------
    @property
    def pending(self) -> int:
        """Batches in the float32 partial sums, not yet in the float64 sums."""
        return self._pending

    @property
    def on_cpu(self) -> bool:
        return self.device.type == "cpu"

    @property
    def probe(self) -> dict[str, torch.Tensor]:
        """Per layer, the (probe rows, C) float32 window means of the sampled frames (on the CPU)."""
        self._flush_probe()
        return self._probe

    @property
    def sums(self) -> dict[str, torch.Tensor]:
        """Per layer, the float64 (P, sum of G, C) window sums (partial sums flushed first)."""
        self.flush()
        for g in self.layers:
            if g.name not in self._sums:
                shape = (g.positions, self.total_groups, g.channels)
                self._sums[g.name] = torch.zeros(shape, dtype=torch.float64, device=self.device)
        return self._sums

    def flush(self) -> None:
        """Move the float32 partial sums into the float64 sums (and the probe rows to the CPU).

        Only the groups the batches since the last flush had frames of are moved and zeroed: with
        speaker folds most groups are untouched between two flushes."""
        rows = np.flatnonzero(self._touched)
        index = torch.from_numpy(rows).to(self.device)
        for name, part in self._partial.items():
            if name not in self._sums:
                self._sums[name] = part.double()
            elif len(rows) == self.total_groups:
                self._sums[name].add_(part.double())  # same-dtype add: a mixed-dtype add_ is far slower
            elif len(rows):
                self._sums[name].index_add_(1, index, part.index_select(1, index).double())
            part.index_fill_(1, index, 0.0)
        self._touched[:] = False
        self._pending = 0
        self._flush_probe()

    def _flush_probe(self) -> None:
        """Copy the probe rows gathered on the device into the CPU's probe arrays (one wait)."""
        for name, pending in self._probe_pending.items():
            for dest, means in pending:
                self._probe[name][dest.cpu()] = means.cpu()
        self._probe_pending = {}

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every accumulated tensor by a flat name (the order is fixed: used for all_reduce)."""
        sums = self.sums
        out: dict[str, torch.Tensor] = {}
        for g in self.layers:
            out[f"sum/{g.name}"] = sums[g.name]
            out[f"probe/{g.name}"] = self._probe[g.name]
        for k in self.n_groups:
            out[f"count/{k}"] = self.counts[k]
        out["probe_filled"] = self.probe_filled
        out["frames"] = self.frames
        out["utterances"] = self.utterances
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {name: t.cpu().numpy().copy() for name, t in self.tensors().items()}

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
        """Add one batch whose chosen layers' activations ``acts[layer]`` (B, C, T) are all at hand."""
        self.begin(items)
        for g in self.layers:
            self.add_layer(g.name, acts[g.name])
        self.end()

    def begin(self, items: Sequence[Item]) -> None:
        """Index the batch's labelled frames (numpy: torch's integer broadcasting is far slower)."""
        lengths = []
        for it in items:
            n = {len(v) for v in it.labels.values()}
            if len(n) != 1:
                raise LabelError(f"the groupings' label arrays differ in length: {sorted(n)}")
            lengths.append(n.pop())
        b_all = np.repeat(np.arange(len(items)), lengths)
        t_all = np.arange(b_all.size) - np.repeat(np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64), lengths)
        keys, bs, ts, counts = [], [], [], {}
        for k, n_groups in self.n_groups.items():
            lab = (
                np.concatenate([np.asarray(it.labels[k], dtype=np.int64) for it in items])
                if items
                else np.zeros(0, np.int64)
            )
            if lab.size and (lab.max() >= n_groups or lab.min() < -1):
                bad = int(lab.max() if lab.max() >= n_groups else lab.min())
                raise LabelError(
                    f"grouping {k!r}: label {bad} outside -1..{n_groups - 1} ({n_groups} groups)"
                )
            keep = lab >= 0
            counts[k] = np.bincount(lab[keep], minlength=n_groups)
            keys.append(lab[keep] + self.slices[k].start)
            bs.append(b_all[keep])
            ts.append(t_all[keep])
        key = np.concatenate(keys) if keys else np.zeros(0, np.int64)
        perm = np.argsort(key, kind="stable")
        n_per = np.bincount(key, minlength=self.total_groups)
        present = np.flatnonzero(n_per)  # bags only for these: a dense output of every group's
        # bag costs memory traffic in proportion to all groups (speaker folds multiply them)
        batch = _Batch(
            np.concatenate(bs)[perm],
            np.concatenate(ts)[perm],
            (np.cumsum(n_per) - n_per)[present].astype(np.int64),
            present.astype(np.int64),
            counts,
            self._probe_index(items),
            int(sum(lengths)),
            len(items),
        )
        if not self.on_cpu:
            arrays = (batch.b, batch.t, batch.starts, batch.present, *(batch.probe or ()))
            batch.on_device = self._to_device(*arrays)
        self._batch = batch

    def _to_device(self, *arrays: np.ndarray) -> tuple[torch.Tensor, ...]:
        """int64 ``arrays`` on the device in one pinned, non-blocking copy (no wait for the device)."""
        host = torch.from_numpy(np.concatenate([np.asarray(a, dtype=np.int64) for a in arrays]))
        if self.device.type == "cuda":
            host = host.pin_memory()
        flat = host.to(self.device, non_blocking=True)
        return tuple(flat.split([len(a) for a in arrays]))

    def _arange(self, n: int) -> torch.Tensor:
        """``arange(n)`` on the device, made once per ``n``."""
        if n not in self._positions:
            self._positions[n] = torch.arange(n, dtype=torch.int64, device=self.device)
        return self._positions[n]

    def add_layer(self, name: str, a: torch.Tensor) -> None:
        """Add one layer's activations (B, C, T) of the current batch."""
        batch, g = self._batch, self._layer[name]
        if batch is None:
            raise RuntimeError("NapAccumulator.add_layer outside begin()/end()")
        length = a.shape[2]
        rows = self._rows(a.shape[0] * length, a.shape[1])
        p: Any
        index: tuple[Any, ...]
        if self.on_cpu:
            for i in range(a.shape[0]):  # 2-D transposing copies: a 3-D one is many times slower
                rows[i * length : (i + 1) * length].copy_(a[i].t())
            p = np.arange(g.positions, dtype=np.int64)
            index = (batch.b, batch.t, batch.starts, batch.present, *(batch.probe or ()))
        else:  # one copy kernel; the indices from the batch's index already on the device
            rows.view(a.shape[0], length, a.shape[1]).copy_(a.transpose(1, 2))
            p, index = self._arange(g.positions), batch.on_device or ()
        if batch.n:
            idx, offsets = _bags(g, length, batch.n, p, *index[:3])
            if self.on_cpu:
                idx, offsets = torch.from_numpy(idx), torch.from_numpy(offsets)
            present = torch.from_numpy(batch.present) if self.on_cpu else index[3]
            out = F.embedding_bag(idx, rows, offsets, mode="sum").view(g.positions, len(batch.present), -1)
            if name not in self._partial:
                shape = (g.positions, self.total_groups, a.shape[1])
                self._partial[name] = torch.zeros(shape, dtype=out.dtype, device=self.device)
            self._partial[name].index_add_(1, present, out)
        if batch.probe is not None:
            b, t, dest = index[4:]
            idx = _probe_bags(g, length, p, b, t)
            idx = torch.from_numpy(idx) if self.on_cpu else idx
            offsets = torch.arange(0, idx.numel(), g.positions, device=self.device)
            means = F.embedding_bag(idx, rows, offsets, mode="mean")
            if self.on_cpu:
                self._probe[name][torch.from_numpy(dest)] = means
            else:  # copied back at the next flush: no wait for the device here
                self._probe_pending.setdefault(name, []).append((dest, means))

    def _rows(self, n: int, channels: int) -> torch.Tensor:
        """A reused (n, channels) float32 buffer: fresh large allocations cost page faults every batch."""
        if self._scratch.numel() < n * channels:
            self._scratch = torch.empty(n * channels, dtype=torch.float32, device=self.device)
        return self._scratch[: n * channels].view(n, channels)

    def end(self) -> None:
        """Count the batch's frames; flush the float32 partial sums every ``flush_every`` batches."""
        batch = self._batch
        if batch is None:
            raise RuntimeError("NapAccumulator.end without begin()")
        for k, c in batch.counts.items():
            self.counts[k] += torch.from_numpy(c.astype(np.int64))
        self._touched[batch.present] = True
        if batch.probe is not None:
            self.probe_filled[torch.from_numpy(batch.probe[2])] += 1
        self.frames += batch.frames
        self.utterances += batch.utterances
        self._batch = None
        self._pending += 1
        if self._pending >= self.flush_every:
            self.flush()

    def _probe_index(self, items: Sequence[Item]) -> Index | None:
        bs, ts, dests = [], [], []
        for i, it in enumerate(items):
            if it.probe_frames is not None and len(it.probe_frames):
                bs.append(np.full(len(it.probe_frames), i))
                ts.append(np.asarray(it.probe_frames))
                dests.append(np.asarray(it.probe_rows))
        if not bs:
            return None
        return (
            np.concatenate(bs).astype(np.int64),
            np.concatenate(ts).astype(np.int64),
            np.concatenate(dests).astype(np.int64),
        )

    # -- results --------------------------------------------------------------------
    def group_sums(self, layer: str, grouping: str) -> torch.Tensor:
        """(G, C, P) float64 sums of the grouping's groups' windows."""
        return self.sums[layer][:, self.slices[grouping], :].permute(1, 2, 0)


def pad_batch(features: Sequence[torch.Tensor], pin_memory: bool = False) -> torch.Tensor:
    """Stack (C, T_i) inputs into (B, C, max T), zero-padded at the end (no window reaches it).

    ``pin_memory``: in page-locked memory, for a non-blocking copy to a GPU.
    """
    length = max(f.shape[1] for f in features)
    shape = (len(features), features[0].shape[0], length)
    x = torch.zeros(shape, dtype=features[0].dtype, device=features[0].device, pin_memory=pin_memory)
    for i, f in enumerate(features):
        x[i, :, : f.shape[1]] = f
    return x


def check_items(geometry: Geometry, items: Sequence[Item], names: Sequence[str]) -> None:
    """Labels must have one entry per output frame of the model (errors name the utterance)."""
    for name, it in zip(names, items, strict=False):
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
    batches: Iterator[tuple[list[str], list[Item]]],
    on_batch: Callable[[int], None] | None = None,
) -> NapAccumulator:
    """Run every batch through ``model`` once, adding each chosen layer's windows to ``acc`` in its hook.

    In exact float32 (:func:`nap.hardware.exact_float32`: no TF32 on a GPU).
    """
    was_training = model.training
    model.eval()
    pin = acc.device.type == "cuda"
    try:
        with exact_float32(), LayerTap(model, layers, callback=acc.add_layer) as tap:
            for i, (names, items) in enumerate(batches):
                check_items(geometry, items, names)
                x = pad_batch([it.features for it in items], pin).to(acc.device, non_blocking=pin)
                acc.begin(items)
                if any(g.name == INPUT for g in layers):
                    acc.add_layer(INPUT, x)
                tap.run(x)
                acc.end()
                if on_batch is not None:
                    on_batch(i)
    finally:
        model.train(was_training)
    return acc
