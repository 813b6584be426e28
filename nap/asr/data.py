"""Training data: utterances checked against the vocabulary and the network, batches bucketed by length.

Utterances the network cannot learn from are skipped and counted, never a crash
mid-epoch: longer than ``max_seconds``, too short for CTC to fit their transcript,
transcripts with characters outside the vocabulary, missing or non-finite features.
Batch order is a pure function of (seed, epoch), so a resumed run sees the same batches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from nap.asr.vocab import Vocab

#: batches sorted by length inside groups of this many batches, then the batches shuffled
BUCKET_BATCHES = 32

#: utterance ids kept per skip reason (``training.json``'s ``skipped_ids``): enough to find them
SKIPPED_IDS = 20


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
    tract length), the edge band repeated; SpecAugment's frequency and time masks (set to
    the utterance's mean).
    """

    tempo: float = 0.0
    shift: int = 0
    freq_masks: int = 0
    freq_width: int = 0
    time_masks: int = 0
    time_width: int = 0

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
