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
    """Check every (id, text): keep what the network can learn, count the rest by reason.

    ``output_frames`` maps input frames to the network's output frames; ``pad`` frames of
    silence are added at each end of every utterance before the network sees it.
    """
    items, skipped = [], Counter()
    store: dict[str, np.ndarray] = {}
    for utt_id, text in utterances:
        text = " ".join(text.split())
        if vocab.oov(text):
            skipped["out_of_vocabulary"] += 1
            continue
        try:
            feats = get(utt_id)
        except (KeyError, FileNotFoundError):
            skipped["missing_features"] += 1
            continue
        if not np.isfinite(feats).all():
            skipped["non_finite_features"] += 1
            continue
        frames = int(feats.shape[0])
        targets = tuple(vocab.encode(text))
        if max_frames is not None and frames > max_frames:
            skipped["too_long"] += 1
            continue
        if not targets:
            skipped["empty_transcript"] += 1
            continue
        if output_frames(frames + 2 * pad) < ctc_min_frames(targets):
            skipped["too_short"] += 1
            continue
        if cache:
            store[utt_id] = np.ascontiguousarray(feats, dtype=np.float32)
        items.append(Example(utt_id, text, targets, frames))
    return Examples(items, get, skipped, store if cache else None, pad)


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
    examples: Examples, indices: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features (batch, n_mels, frames) with silence at the ends and zeros after, their lengths
    (silence included), concatenated targets, target lengths."""
    items = [examples.items[i] for i in indices]
    feats = [pad_silence(examples.features(e.id), examples.pad) for e in items]
    n_mels = feats[0].shape[1]
    longest = max(f.shape[0] for f in feats)
    x = torch.zeros(len(items), n_mels, longest)
    for k, f in enumerate(feats):
        x[k, :, : f.shape[0]] = torch.from_numpy(f).T
    lengths = torch.tensor([f.shape[0] for f in feats])
    targets = torch.tensor([t for e in items for t in e.targets], dtype=torch.long)
    target_lengths = torch.tensor([len(e.targets) for e in items])
    return x, lengths, targets, target_lengths


def spec_augment(
    x: torch.Tensor,
    lengths: torch.Tensor,
    seeds: Sequence[int],
    freq_masks: int,
    freq_width: int,
    time_masks: int,
    time_width: int,
) -> torch.Tensor:
    """SpecAugment masks (set to 0, the features' mean), drawn per utterance from its own seed."""
    if not (freq_masks and freq_width) and not (time_masks and time_width):
        return x
    x = x.clone()
    n_mels = x.shape[1]
    for k, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        n = int(lengths[k])
        for _ in range(freq_masks if freq_width else 0):
            w = int(rng.integers(0, freq_width + 1))
            f0 = int(rng.integers(0, max(n_mels - w, 0) + 1))
            x[k, f0 : f0 + w, :n] = 0.0
        for _ in range(time_masks if time_width else 0):
            w = int(rng.integers(0, min(time_width, n // 10) + 1))
            t0 = int(rng.integers(0, max(n - w, 0) + 1))
            x[k, :, t0 : t0 + w] = 0.0
    return x
