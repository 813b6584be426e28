"""Training data: utterances checked against the vocabulary and the network, batches bucketed by length.

Utterances the network cannot learn from are skipped and counted, never a crash
mid-epoch: longer than ``max_seconds``, too short for CTC to fit their transcript,
transcripts with characters outside the vocabulary, missing or non-finite features.
Batch order is a pure function of (seed, epoch), so a resumed run sees the same batches.

Training reads its batches through :func:`step_loader`: a torch DataLoader over the steps
(:class:`StepBatches`), each step's batch built from (seed, step) alone, so worker processes
(on a GPU, :func:`loader_workers`) give exactly the batches, in the order, that the training
process builds itself on a CPU.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from nap.asr.channel import Channel
from nap.asr.vocab import Vocab
from nap.features import FeatureParams
from nap.hardware import cores

#: batches sorted by length inside groups of this many batches, then the batches shuffled
BUCKET_BATCHES = 32

#: utterance ids kept per skip reason (``training.json``'s ``skipped_ids``): enough to find them
SKIPPED_IDS = 20

#: most loader worker processes ``asr.loader_workers: auto`` starts for one GPU
MAX_AUTO_WORKERS = 8

#: a training batch as :func:`collate` returns it: features, their lengths, targets, target lengths
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


class StepBatch(NamedTuple):
    """One step's batch as one process sees it (a named tuple: the loader pins what it holds)."""

    size: int  # utterances in the whole batch, over all processes
    share: Batch | None  # this process's utterances, collated (None: it has none)


@dataclass(frozen=True)
class Example:
    """One usable utterance: its id, transcript, symbol indices and input frames."""

    id: str
    text: str
    targets: tuple[int, ...]
    frames: int


@dataclass
class Examples:
    """Usable utterances of one split, their features, and what was skipped."""

    items: list[Example]
    get: Callable[[str], np.ndarray]
    skipped: Counter = field(default_factory=Counter)
    #: the first :data:`SKIPPED_IDS` utterance ids skipped for each reason
    skipped_ids: dict[str, list[str]] = field(default_factory=dict)
    cache: dict[str, np.ndarray] | None = None
    pad: int = 0  # frames of silence added at each end by ``collate``
    feature_params: FeatureParams | None = None  # how the features were made (channel augmentation)

    def features(self, utt_id: str) -> np.ndarray:
        if self.cache is not None:
            if utt_id not in self.cache:
                self.cache[utt_id] = np.ascontiguousarray(self.get(utt_id), dtype=np.float32)
            return self.cache[utt_id]
        return np.asarray(self.get(utt_id), dtype=np.float32)

    @property
    def seconds(self) -> float:
        return sum(e.frames for e in self.items) * 0.01

    def fingerprint(self) -> str:
        from nap.store import stable_hash

        return stable_hash([(e.id, e.frames, e.targets) for e in self.items])


def pad_silence(feats: np.ndarray, pad: int) -> np.ndarray:
    """``feats`` (frames, n_mels) with ``pad`` frames of silence at both ends.

    Silence is each band's lowest value in the utterance: what a synthesized pause (digital
    zero) gives after the log and normalisation, and close to a real recording's pauses.
    """
    if pad <= 0:
        return feats
    floor = feats.min(axis=0, keepdims=True)
    edge = np.repeat(floor, pad, axis=0)
    return np.concatenate([edge, feats, edge], axis=0).astype(np.float32, copy=False)


def ctc_min_frames(targets: Sequence[int]) -> int:
    """Output frames CTC needs for ``targets``: one per symbol plus a blank between equal neighbours."""
    return len(targets) + sum(1 for a, b in zip(targets, targets[1:], strict=False) if a == b)


def prepare(
    utterances: Iterable[tuple[str, str]],
    get: Callable[[str], np.ndarray],
    vocab: Vocab,
    output_frames: Callable[[int], int],
    max_frames: int | None = None,
    cache: bool = True,
    pad: int = 0,
) -> Examples:
    """Check every (id, text): keep what the network can learn, count the rest by reason (and
    name the first :data:`SKIPPED_IDS` of each reason).

    ``output_frames`` maps input frames to the network's output frames; ``pad`` frames of
    silence are added at each end of every utterance before the network sees it.
    """
    items, skipped, named = [], Counter(), {}
    store: dict[str, np.ndarray] = {}

    def skip(reason: str, utt_id: str) -> None:
        skipped[reason] += 1
        ids = named.setdefault(reason, [])
        if len(ids) < SKIPPED_IDS:
            ids.append(utt_id)

    for utt_id, text in utterances:
        text = " ".join(text.split())
        if vocab.oov(text):
            skip("out_of_vocabulary", utt_id)
            continue
        try:
            feats = get(utt_id)
        except (KeyError, FileNotFoundError):
            skip("missing_features", utt_id)
            continue
        if not np.isfinite(feats).all():
            skip("non_finite_features", utt_id)
            continue
        frames = int(feats.shape[0])
        targets = tuple(vocab.encode(text))
        if max_frames is not None and frames > max_frames:
            skip("too_long", utt_id)
            continue
        if not targets:
            skip("empty_transcript", utt_id)
            continue
        if output_frames(frames + 2 * pad) < ctc_min_frames(targets):
            skip("too_short", utt_id)
            continue
        if cache:
            store[utt_id] = np.ascontiguousarray(feats, dtype=np.float32)
        items.append(Example(utt_id, text, targets, frames))
    return Examples(items, get, skipped, named, store if cache else None, pad)


def epoch_batches(examples: Sequence[Example], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Indices of each batch of ``epoch``: shuffled, sorted by length within buckets, batches shuffled."""
    rng = np.random.default_rng([seed, epoch, 7])
    order = rng.permutation(len(examples))
    group = batch_size * BUCKET_BATCHES
    batches = []
    for start in range(0, len(order), group):
        chunk = sorted(order[start : start + group].tolist(), key=lambda i: (examples[i].frames, i))
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]


def collate(
    examples: Examples,
    indices: Sequence[int],
    transform: Callable[[int, np.ndarray], np.ndarray] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features (batch, n_mels, frames) with silence at the ends and zeros after, their lengths
    (silence included), concatenated targets, target lengths."""
    items = [examples.items[i] for i in indices]
    raw = [examples.features(e.id) for e in items]
    if transform is not None:  # e.g. augmentation, before the silence is added
        raw = [transform(k, f) for k, f in enumerate(raw)]
    feats = [pad_silence(f, examples.pad) for f in raw]
    n_mels = feats[0].shape[1]
    longest = max(f.shape[0] for f in feats)
    x = torch.zeros(len(items), n_mels, longest)
    for k, f in enumerate(feats):
        x[k, :, : f.shape[0]] = torch.from_numpy(f).T
    lengths = torch.tensor([f.shape[0] for f in feats])
    targets = torch.tensor([t for e in items for t in e.targets], dtype=torch.long)
    target_lengths = torch.tensor([len(e.targets) for e in items])
    return x, lengths, targets, target_lengths


@dataclass(frozen=True)
class Augment:
    """Training-time changes of an utterance's features, drawn from a per-utterance seed.

    ``tempo``: frames resampled in time by a factor in [1 - tempo, 1 + tempo] (speaking
    rate); ``shift``: mel bands moved up or down by up to this many (voice pitch and vocal
    tract length), the edge band repeated; ``channel``: telephone band-limiting and noise
    (:class:`nap.asr.channel.Channel`); SpecAugment's frequency and time masks (set to the
    utterance's mean).
    """

    tempo: float = 0.0
    shift: int = 0
    freq_masks: int = 0
    freq_width: int = 0
    time_masks: int = 0
    time_width: int = 0
    channel: Channel = Channel()

    def __call__(self, feats: np.ndarray, seed: int, min_frames: int = 0) -> np.ndarray:
        """Augmented copy of ``feats`` (frames, n_mels); at least ``min_frames`` frames are kept."""
        rng = np.random.default_rng(seed)
        x = feats
        if self.tempo > 0:
            rate = float(rng.uniform(1 - self.tempo, 1 + self.tempo))
            n_out = max(int(round(x.shape[0] / rate)), min_frames, 1)
            pos = np.linspace(0, x.shape[0] - 1, n_out)
            lo = np.floor(pos).astype(int)
            hi = np.minimum(lo + 1, x.shape[0] - 1)
            w = (pos - lo)[:, None].astype(np.float32)
            x = x[lo] * (1 - w) + x[hi] * w
        if self.shift > 0:
            s = int(rng.integers(-self.shift, self.shift + 1))
            if s > 0:
                x = np.concatenate([np.repeat(x[:, :1], s, axis=1), x[:, :-s]], axis=1)
            elif s < 0:
                x = np.concatenate([x[:, -s:], np.repeat(x[:, -1:], -s, axis=1)], axis=1)
        if self.channel.active:
            x = self.channel(x, rng)
        if (self.freq_masks and self.freq_width) or (self.time_masks and self.time_width):
            x = np.array(x, dtype=np.float32, copy=True)
            fill = float(x.mean())
            n, n_mels = x.shape
            for _ in range(self.freq_masks if self.freq_width else 0):
                w = int(rng.integers(0, self.freq_width + 1))
                f0 = int(rng.integers(0, max(n_mels - w, 0) + 1))
                x[:, f0 : f0 + w] = fill
            for _ in range(self.time_masks if self.time_width else 0):
                w = int(rng.integers(0, min(self.time_width, n // 10) + 1))
                t0 = int(rng.integers(0, max(n - w, 0) + 1))
                x[t0 : t0 + w] = fill
        return np.ascontiguousarray(x, dtype=np.float32)


def augment_seed(seed: int, step: int, position: int) -> int:
    """The seed of the augmentation of the utterance at ``position`` of ``step``'s batch (and, at
    positions from 1,000,000 on, of each process's dropout masks)."""
    return int(np.random.SeedSequence([seed, step, position, 11]).generate_state(1)[0])


class EpochPlan:
    """The batch (utterance indices) of every training step: :func:`epoch_batches` of its epoch."""

    def __init__(self, examples: Sequence[Example], batch_size: int, seed: int):
        self.examples, self.batch_size, self.seed = examples, batch_size, seed
        self._epoch = (0, epoch_batches(examples, batch_size, seed, 0))
        self.steps_per_epoch = len(self._epoch[1])

    def __call__(self, step: int) -> list[int]:
        epoch, pos = divmod(step, self.steps_per_epoch)
        if self._epoch[0] != epoch:  # each worker process keeps its own copy of the current epoch
            self._epoch = (epoch, epoch_batches(self.examples, self.batch_size, self.seed, epoch))
        return self._epoch[1][pos]


class StepBatches(Dataset):
    """This process's share of each step's batch, augmented and collated, indexed by step.

    ``plan(step)`` names the batch's utterances; process ``rank`` of ``world`` takes positions
    rank, rank + world, ...; the utterance at position k is augmented with the seed
    (``seed``, step, k) and keeps the frames CTC needs for its transcript through a network of
    ``stride`` and ``receptive_field``.
    """

    def __init__(
        self,
        data: Examples,
        plan: Callable[[int], Sequence[int]],
        augment: Augment,
        seed: int,
        stride: int,
        receptive_field: int,
        rank: int = 0,
        world: int = 1,
    ):
        self.data, self.plan, self.augment, self.seed = data, plan, augment, seed
        self.stride, self.receptive_field, self.rank, self.world = stride, receptive_field, rank, world

    def __getitem__(self, step: int) -> StepBatch:
        batch = self.plan(step)
        share = list(range(self.rank, len(batch), self.world))
        if not share:
            return StepBatch(len(batch), None)
        items = [self.data.items[batch[k]] for k in share]

        def transform(k: int, feats: np.ndarray) -> np.ndarray:
            # keep enough frames for CTC to fit the transcript after a faster tempo
            need = self.stride * (ctc_min_frames(items[k].targets) - 1) + self.receptive_field
            return self.augment(feats, augment_seed(self.seed, step, share[k]), need - 2 * self.data.pad)

        return StepBatch(len(batch), collate(self.data, [batch[k] for k in share], transform))


def loader_workers(requested: int | str, device: torch.device, share: int = 1) -> int:
    """Worker processes of the training's :func:`step_loader` (``asr.loader_workers``).

    ``auto``: none on a CPU (the training's threads already use every core; the batches are
    built in the training process, between steps, as they always were); on a GPU the cores of
    one of ``share`` processes less one for the training process, at most
    :data:`MAX_AUTO_WORKERS`, at least 1: one paper-size batch (16 x 12 s, augmented, padded)
    takes ~40 ms on one core, a GPU step ~9 ms (H200, float32 with TF32).
    """
    if requested != "auto":
        return int(requested)
    if device.type != "cuda":
        return 0
    return max(1, min(MAX_AUTO_WORKERS, cores() // max(1, share) - 1))


def step_loader(
    batches: StepBatches, start: int, stop: int, device: torch.device, workers: int = 0
) -> DataLoader:
    """The batches of steps ``start`` .. ``stop`` - 1, in order, prepared by ``workers`` processes.

    On a GPU the batches come in pinned (page-locked) memory, so their copies to the device
    can be non-blocking; on a CPU they are plain tensors. The loader draws nothing from torch's
    global random generator (its own generator seeds the workers), so training's random
    numbers are those of a loop without it.
    """
    fork = workers > 0 and "fork" in multiprocessing.get_all_start_methods()
    return DataLoader(
        batches,
        batch_size=None,  # a dataset item is a whole batch
        sampler=range(start, stop),
        num_workers=workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator(),
        multiprocessing_context="fork" if fork else None,  # the features cache is shared, not pickled
    )
