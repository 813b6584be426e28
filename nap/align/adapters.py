"""Thin adapters from the earlier stages' objects to what the cascade needs.

:class:`RecognizerAdapter` runs the recognizer's network over many utterances at once
(batched by length; the convolutions have no padding, so each utterance's valid output
frames equal those of a run on it alone) and decodes the transcripts;
:class:`G2PLetters` gives each word's phoneme per letter (the G2P's attention
assignment), cached per word.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nap.align.cascade import SymbolTable
from nap.align.groups import frame_centres
from nap.hardware import module_on


@dataclass(frozen=True)
class FrameGeometry:
    """Where output frames lie in time (see :func:`nap.align.groups.frame_centres`)."""

    receptive_field: int
    stride: int
    hop_s: float
    offset_s: float = 0.0
    pad: int = 0  # input frames of padding in front of each utterance

    def centres(self, n_frames: int) -> np.ndarray:
        """Time (s) of the centre of each output frame's receptive field."""
        return frame_centres(n_frames, self.receptive_field, self.stride, self.hop_s, self.offset_s, self.pad)


def feature_offset_s(features: Any) -> float:
    """Time of the centre of input frame 0: 0 for centred STFT frames (torchaudio's default).

    A features object may state it as ``frame_offset_s``; else ``center = False`` means the
    first window starts at 0, so its centre lies half a window (``win_s``) later.
    """
    if hasattr(features, "frame_offset_s"):
        return float(features.frame_offset_s)
    if getattr(features, "center", True) is False and hasattr(features, "win_s"):
        return float(features.win_s) / 2
    return 0.0


class RecognizerAdapter:
    """Batched logits and transcripts from a :class:`nap.asr.Recognizer`.

    The recognizer may add ``pad`` frames of silence at both ends of an utterance
    (``.padded(features)``) so that every frame gets an output centred on it; the same
    padded input is used here, and the frame geometry records the padding.
    """

    def __init__(self, recognizer: Any, features: Any, batch_size: int = 16, device: Any = "cpu"):
        self.recognizer = recognizer
        #: the network on ``device`` (``align.device``; a copy when it is elsewhere); logits come back
        self.model = module_on(recognizer.model, device)
        self.device = device
        self.table = SymbolTable.from_vocab(recognizer.vocab)
        self.geometry = FrameGeometry(
            int(recognizer.receptive_field),
            int(recognizer.stride),
            float(features.hop_s),
            feature_offset_s(features),
            int(getattr(recognizer, "pad", 0)),
        )
        self.batch_size = batch_size

    def _padded(self, feats: np.ndarray) -> np.ndarray:
        f = np.asarray(feats, dtype=np.float32)
        return self.recognizer.padded(f) if hasattr(self.recognizer, "padded") else f

    def logits(self, feats: Sequence[np.ndarray]) -> list[np.ndarray]:
        """(output frames, classes) per utterance; one shorter than the receptive field gives 0 frames."""
        import torch

        model = self.model
        n_classes = len(self.table.symbols)
        out: list[np.ndarray] = [np.zeros((0, n_classes), np.float32)] * len(feats)
        inputs = [self._padded(f) for f in feats]
        order = sorted(
            (i for i, x in enumerate(inputs) if len(x) >= self.geometry.receptive_field),
            key=lambda i: len(inputs[i]),
        )
        model.eval()
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                longest = len(inputs[chunk[-1]])
                x = np.zeros((len(chunk), longest, inputs[chunk[0]].shape[1]), dtype=np.float32)
                for k, i in enumerate(chunk):
                    x[k, : len(inputs[i])] = inputs[i]
                y = model(torch.from_numpy(x).transpose(1, 2).to(self.device)).float().cpu()
                for k, i in enumerate(chunk):
                    n_out = int(model.output_frames(len(inputs[i])))
                    out[i] = y[k, :, :n_out].T.contiguous().numpy()
        return out

    def decode(self, logits: Sequence[np.ndarray], decoder: str = "beam") -> list[str]:
        """Each utterance's transcript by the recognizer's beam search or greedily ('' for no frames)."""
        texts = [""] * len(logits)
        todo = [i for i, lg in enumerate(logits) if len(lg)]
        if decoder == "beam":
            beam = self.recognizer.beam_decoder
            found = (
                beam.batch([logits[i] for i in todo])
                if hasattr(beam, "batch")
                else [beam(logits[i]) for i in todo]
            )
        elif decoder == "greedy":
            vocab = self.recognizer.vocab
            found = [" ".join(vocab.decode(vocab.collapse(logits[i].argmax(-1))).split()) for i in todo]
        else:
            raise ValueError(f"unknown decoder {decoder!r}: 'beam' or 'greedy'")
        for i, text in zip(todo, found, strict=True):
            texts[i] = text
        return texts


class G2PLetters:
    """``word -> phoneme of each letter`` (the G2P's attention assignment), cached per word.

    ``g2p`` is a :class:`nap.g2p.G2P` (``.assign(word).letter_phones``, batched through
    ``.assign_batch(words)`` when it has one), a mapping ``word -> letter phones`` or a callable.
    A word the G2P rejects (e.g. one it finds no phone for, or one longer than its limit)
    gets no phoneme for any letter; such words are kept in :attr:`failed` with the reason.
    """

    def __init__(self, g2p: Any):
        self.g2p = g2p
        self.cache: dict[str, list[str | None]] = {}
        self.failed: dict[str, str] = {}

    def _one(self, word: str) -> list[str | None]:
        g = self.g2p
        try:
            if hasattr(g, "assign"):
                return list(g.assign(word).letter_phones)
            if isinstance(g, Mapping):
                return list(g[word])
            if callable(g):
                return list(g(word))
        except (ValueError, KeyError) as exc:
            self.failed[word] = f"{type(exc).__name__}: {exc}"
            return [None] * len(word)
        raise TypeError(f"cannot get letter phonemes from {type(g).__name__}")

    def prefetch(self, words: Iterable[str]) -> None:
        """Assign all new ``words`` at once (batched when the G2P can; one by one if the batch fails)."""
        new = sorted({w for w in words if w and w not in self.cache})
        if not new:
            return
        batch: Callable[[list[str]], Any] | None = getattr(self.g2p, "assign_batch", None)
        if batch is not None:
            try:
                found = batch(new)
            except (ValueError, KeyError):
                found = None
            if found is not None:
                for w, a in zip(new, found, strict=True):
                    self.cache[w] = list(a.letter_phones)
                return
        for w in new:
            self.cache[w] = self._one(w)

    def __call__(self, word: str) -> list[str | None]:
        if word not in self.cache:
            self.cache[word] = self._one(word)
        return self.cache[word]
