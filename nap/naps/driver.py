"""One pass over a corpus: batches in length order, a shard per process, checkpoints, probe sample.

:func:`run_pass` is the corpus-level loop around :func:`nap.naps.extract.accumulate`: it
sorts the utterances by length (little padding per batch), gives process ``rank`` of
``world`` every ``world``-th of them, saves the accumulator to a checkpoint in the stage's
work folder every ``checkpoint_s`` seconds (an interrupted pass resumes from it and gives
bit-identical sums), and at the end sums the accumulators of all processes (all_reduce).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from nap.naps.distributed import all_reduce
from nap.naps.extract import Item, NapAccumulator, accumulate
from nap.naps.geometry import Geometry, LayerGeometry
from nap.naps.io import save_npz
from nap.naps.normalize import WHOLE
from nap.store import stable_hash

#: suffix of a grouping's copy labelled only where the window holds no padding (:func:`with_unpadded`)
UNPADDED = "@unpadded"

#: ``load(utt_id) -> (features (in_channels, frames) float32, {grouping: labels (output frames,)})``
Loader = Callable[[str], tuple[np.ndarray, dict[str, np.ndarray]]]


@dataclass(frozen=True)
class ProbePlan:
    """A seeded sample of labelled frames: row ``r`` is frame ``frame[r]`` of ``utterances[utt[r]]``."""

    utterances: list[str]
    utt: np.ndarray  # (n,) int32
    frame: np.ndarray  # (n,) int32

    @property
    def size(self) -> int:
        return int(self.utt.size)

    def rows_of(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per utterance id: (its sampled frames, their rows)."""
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if not self.size:
            return out
        bounds = np.flatnonzero(np.diff(self.utt)) + 1
        for rows in np.split(np.arange(self.size), bounds):
            out[self.utterances[int(self.utt[rows[0]])]] = (self.frame[rows], rows)
        return out


def plan_probe(
    utterances: Sequence[str], labels: Callable[[str], dict[str, np.ndarray]], size: int, seed: int
) -> ProbePlan:
    """Draw ``size`` frames (or all) uniformly among frames labelled in at least one grouping."""
    utts, frames = [], []
    for i, u in enumerate(utterances):
        labs = list(labels(u).values())
        if not labs:
            continue
        any_label = np.any(np.stack([np.asarray(v) >= 0 for v in labs]), axis=0)
        f = np.flatnonzero(any_label).astype(np.int32)
        frames.append(f)
        utts.append(np.full(f.size, i, dtype=np.int32))
    all_utt = np.concatenate(utts) if utts else np.zeros(0, np.int32)
    all_frame = np.concatenate(frames) if frames else np.zeros(0, np.int32)
    n = min(int(size), all_utt.size)
    pick = np.sort(np.random.default_rng(seed).choice(all_utt.size, size=n, replace=False)) if n else []
    return ProbePlan(list(utterances), all_utt[pick], all_frame[pick])


def length_order(
    utterances: Sequence[str], lengths: dict[str, int], part: dict[str, int] | None = None
) -> list[str]:
    """Utterances sorted by length, then id: batches of similar lengths, the same on every run.

    With ``part`` (e.g. each utterance's speaker fold), by part first: a batch then adds to the
    sums of one part's groups only.
    """
    return sorted(utterances, key=lambda u: ((part or {}).get(u, 0), lengths[u], u))


def _batches(
    names: list[str],
    start: int,
    batch_size: int,
    load: Loader,
    probe_rows: dict[str, tuple[np.ndarray, np.ndarray]],
) -> Iterator[tuple[list[str], list[Item]]]:
    for i in range(start * batch_size, len(names), batch_size):
        batch = names[i : i + batch_size]
        items = []
        for u in batch:
            feats, labs = load(u)
            pf, pr = probe_rows.get(u, (None, None))
            items.append(Item(torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32)), labs, pf, pr))
        yield batch, items


def with_whole(load: Loader, n_groups: dict[str, int]) -> tuple[Loader, dict[str, int]]:
    """``load`` and ``n_groups`` with the grouping :data:`~nap.naps.normalize.WHOLE` added: every
    output frame in its one group, so a pass also sums the window of every frame (``whole_data``)."""

    def load_all(u: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        feats, labels = load(u)
        n = len(next(iter(labels.values()))) if labels else 0
        return feats, {**labels, WHOLE: np.zeros(n, dtype=np.int64)}

    return load_all, {**n_groups, WHOLE: 1}


def with_unpadded(
    load: Loader, n_groups: dict[str, int], receptive_field: int, stride: int, pad: int
) -> tuple[Loader, dict[str, int]]:
    """``load`` and ``n_groups`` with an :data:`UNPADDED` copy of every grouping: its labels only at
    the output frames whose input window lies inside the utterance, none of its ``pad`` frames of
    added silence at either end (the NAPs of the paper's unpadded input, from the same pass)."""

    def load_all(u: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        feats, labels = load(u)
        frames = feats.shape[-1] - 2 * pad  # the utterance without the added silence
        out = dict(labels)
        for k, lab in labels.items():
            lab = np.asarray(lab)
            start = np.arange(len(lab)) * stride - pad  # first input frame of each window
            inside = (start >= 0) & (start + receptive_field <= frames)
            out[k + UNPADDED] = np.where(inside, lab, -1)
        return feats, out

    return load_all, {**n_groups, **{k + UNPADDED: n for k, n in n_groups.items()}}


def checkpoint_path(folder: Path, rank: int, world: int) -> Path:
    return folder / f"checkpoint-rank{rank}-of-{world}.npz"


def run_pass(
    model: torch.nn.Module,
    geometry: Geometry,
    layers: Sequence[LayerGeometry],
    utterances: Sequence[str],
    lengths: dict[str, int],
    load: Loader,
    n_groups: dict[str, int],
    *,
    batch_size: int = 8,
    probe: ProbePlan | None = None,
    checkpoint_dir: Path | None = None,
    checkpoint_s: float = 60.0,
    rank: int = 0,
    world: int = 1,
    progress: bool = True,
    part: dict[str, int] | None = None,
) -> NapAccumulator:
    """Accumulate window sums over ``utterances`` (this process's shard), then over all processes.

    ``part``: batches are formed within each part's utterances (:func:`length_order`).
    """
    names = length_order(utterances, lengths, part)[rank::world]
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    acc = NapAccumulator(geometry, layers, n_groups, probe.size if probe is not None else 0, device=device)
    probe_rows = probe.rows_of() if probe is not None else {}
    n_batches = -(-len(names) // batch_size)
    fingerprint = stable_hash(
        {
            "names": names,
            "layers": [g.name for g in layers],
            "groups": n_groups,
            "batch_size": batch_size,
            "probe": stable_hash([probe.utt.tolist(), probe.frame.tolist()]) if probe is not None else None,
            "geometry": geometry.to_dict(),
            "rank": rank,
            "world": world,
        }
    )
    ckpt = checkpoint_path(checkpoint_dir, rank, world) if checkpoint_dir is not None else None
    start = 0
    if ckpt is not None and ckpt.is_file():
        with np.load(ckpt, allow_pickle=False) as data:
            if str(data["__fingerprint"]) == fingerprint:
                acc.load_state({k: data[k] for k in data.files if not k.startswith("__")})
                start = int(data["__next_batch"])
    last_save = time.monotonic()
    bar = tqdm(
        total=n_batches,
        initial=start,
        desc=f"NAPs{f' rank {rank}' if world > 1 else ''}",
        unit="batch",
        disable=not progress,
        mininterval=5,
    )

    def on_batch(i: int) -> None:
        nonlocal last_save
        bar.update(1)
        # only right after a flush (every flush_every batches), so a resumed pass adds the same
        # float32 partial sums as an uninterrupted one and gives bit-identical results
        due = time.monotonic() - last_save >= checkpoint_s and acc.pending == 0
        if ckpt is not None and due and start + i + 1 < n_batches:
            save_npz(
                ckpt,
                {
                    **acc.state(),
                    "__fingerprint": np.asarray(fingerprint),
                    "__next_batch": np.asarray(start + i + 1),
                },
            )
            last_save = time.monotonic()

    try:
        batches = _batches(names, start, batch_size, load, probe_rows)
        accumulate(model, geometry, layers, acc, batches, on_batch)
    finally:
        bar.close()
    if world > 1:
        all_reduce(acc)
    return acc


def remove_checkpoints(folder: Path) -> None:
    for f in Path(folder).glob("checkpoint-rank*-of-*.npz"):
        f.unlink(missing_ok=True)
