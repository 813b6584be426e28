"""A trained recognizer loaded from its artifact folder: network, vocabulary, decoders."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nap.asr.data import pad_silence
from nap.asr.decode import BeamDecoder, greedy
from nap.asr.lm import SymbolNgram
from nap.asr.model import Architecture, LayerSpec, Wav2Letter, load_weights
from nap.asr.vocab import Vocab
from nap.store import load_weights_file, read_json

CONFIG = "config.json"
MODEL = "model.pt"


class Recognizer:
    """Wav2Letter with its vocabulary; ``.logits``, ``.greedy``, ``.beam`` take features (frames, n_mels)."""

    def __init__(
        self,
        model: Wav2Letter,
        vocab: Vocab,
        path: Path | None = None,
        decoding: dict[str, Any] | None = None,
        pad: int = 0,
    ):
        self.model = model.eval()
        self.pad = pad
        self.vocab = vocab
        self.path = path
        #: beam search settings: beam_size, beam_threshold, beam_size_token, lexicon (file name
        #: in the artifact or None), lm (None or {file, order, weight, bonus})
        self.decoding = {
            "beam_size": 50,
            "beam_threshold": 25.0,
            "beam_size_token": None,
            "lexicon": None,
            "lm": None,
            **(decoding or {}),
        }

    @classmethod
    def open(cls, path: str | Path, device: torch.device | str = "cpu") -> Recognizer:
        """Load ``config.json`` and ``model.pt`` (tensors only: :func:`nap.store.load_weights_file`)
        from an asr artifact folder, the network on ``device``."""
        path = Path(path)
        for name in (CONFIG, MODEL):
            if not (path / name).is_file():
                raise FileNotFoundError(f"{path / name} is missing: {path} is not a finished asr artifact")
        config = read_json(path / CONFIG)
        model = Wav2Letter(Architecture(**config["architecture"]))
        state = load_weights_file(path / MODEL)
        load_weights(model, state, path / MODEL, path / CONFIG)
        vocab = Vocab(int(config["vocab"]["repetitions"]))
        return cls(model.to(device), vocab, path, config["decoding"], int(config["input"]["pad"]))

    @property
    def device(self) -> torch.device:
        """Where the network is (inputs go there; outputs come back to the CPU)."""
        return next(self.model.parameters()).device

    def __repr__(self) -> str:
        a = self.model.arch
        return (
            f"Recognizer({len(self.layer_names)} layers, {a.channels}/{a.hidden} channels, "
            f"receptive field {self.receptive_field}, stride {self.stride}, {len(self.vocab)} classes)"
        )

    # -- geometry -------------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        return list(self.model.layer_names)

    @property
    def receptive_field(self) -> int:
        return self.model.receptive_field

    @property
    def stride(self) -> int:
        return self.model.stride

    def geometry(self) -> list[LayerSpec]:
        return self.model.geometry()

    def input_window(self, t: int) -> tuple[int, int]:
        """Frames [start, end) of the unpadded utterance that output frame ``t`` sees; they reach
        ``pad`` frames into the added silence at the ends (start < 0 or end > frames)."""
        return self.model.input_window(t, self.pad)

    def output_frames(self, frames: int) -> int:
        """Output frames for an utterance of ``frames`` frames (silence padding included)."""
        return self.model.output_frames(frames + 2 * self.pad)

    def untrained(self, seed: int | None = None) -> Wav2Letter:
        """The same network before training: :func:`nap.asr.train.build_model` with the asr stage's
        ``seed``, ``local_init`` and ``norm`` (from the artifact's ``params.json``; ``seed`` given
        here wins), its batch norms folded in as training folds them, in eval mode on the CPU.

        The untrained-network control of the NAPs (Hewitt & Liang 2019's point for probes: random
        features of a spectrogram already separate phones)."""
        from dataclasses import replace

        from nap.asr.train import build_model

        params: dict[str, Any] = {}
        if self.path is not None and (self.path / "params.json").is_file():
            params = read_json(self.path / "params.json").get("params", {})
        if seed is None and "seed" not in params:
            raise ValueError(
                "Recognizer.untrained: no seed given and no asr params.json beside the network "
                f"({self.path}): pass the seed the recognizer was initialised with"
            )
        arch = replace(self.model.arch, norm=str(params.get("norm", "none")))
        model = build_model(
            arch, int(params["seed"] if seed is None else seed), float(params.get("local_init", 0.0))
        )
        return model.eval().fold_norm().eval()

    def padded(self, features: np.ndarray) -> np.ndarray:
        """The utterance as the network sees it: ``pad`` frames of silence added at both ends."""
        return pad_silence(np.asarray(features, dtype=np.float32), self.pad)

    # -- inference ------------------------------------------------------------------------
    def _input(self, features: np.ndarray | torch.Tensor) -> torch.Tensor:
        feats = np.asarray(features, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[1] != self.model.arch.n_mels:
            raise ValueError(f"features must be (frames, {self.model.arch.n_mels}), got {feats.shape}")
        x = torch.from_numpy(self.padded(feats))
        if x.shape[0] < self.receptive_field:
            raise ValueError(
                f"{feats.shape[0]} frames (+{2 * self.pad} of padding) are fewer than "
                f"the receptive field ({self.receptive_field})"
            )
        return x.T[None].to(self.device)

    def logits(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        """The network's output for one utterance: (output frames, classes), float32."""
        with torch.inference_mode():
            return self.model(self._input(features))[0].T.contiguous().cpu().numpy()

    def activations(
        self, features: np.ndarray | torch.Tensor, layers: Iterable[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Each named layer's activations (after ReLU) for one utterance: (channels, frames); the
        input is padded first (see :meth:`padded`)."""
        with torch.inference_mode():
            _, acts = self.model.activations(self._input(features), layers)
        return {k: v[0].cpu().numpy() for k, v in acts.items()}

    def greedy(self, features: np.ndarray | torch.Tensor) -> str:
        """Transcript from the best symbol of every frame."""
        return greedy(self.vocab, self.logits(features))

    def _file(self, name: str) -> Path:
        if self.path is None:
            raise FileNotFoundError(f"{name}: this recognizer was not loaded from an artifact folder")
        return self.path / name

    @cached_property
    def lm(self) -> SymbolNgram | None:
        """The beam search's symbol n-gram (rebuilt from the training transcripts kept in the artifact)."""
        spec = self.decoding.get("lm")
        if not spec:
            return None
        texts = self._file(spec["file"]).read_text(encoding="utf-8").splitlines()
        return SymbolNgram.from_texts(texts, self.vocab, int(spec["order"]))

    @cached_property
    def beam_decoder(self) -> BeamDecoder:
        d = self.decoding
        spec = d.get("lm") or {}
        return BeamDecoder(
            self.vocab,
            d["beam_size"],
            d["beam_threshold"],
            self._file(d["lexicon"]) if d.get("lexicon") else None,
            lm=self.lm,
            lm_weight=float(spec.get("weight", 0.0)),
            lm_bonus=float(spec.get("bonus", 0.0)),
            beam_size_token=d.get("beam_size_token"),
        )

    def beam(self, features: np.ndarray | torch.Tensor) -> str:
        """Transcript from flashlight-text's CTC beam search."""
        return self.beam_decoder(self.logits(features))

    def frame_symbols(self, logits: np.ndarray) -> list[str]:
        """The best symbol of each output frame (``<b>`` for blank, ``1``… for repetitions)."""
        syms = self.vocab.symbols
        return [syms[i] for i in np.asarray(logits).argmax(-1)]

    def frame_graphemes(self, logits: np.ndarray) -> list[str | None]:
        """Each output frame's grapheme: its best symbol, a repetition symbol read as the letter it
        repeats, None for blank. Consecutive equal entries are one emission (CTC)."""
        out: list[str | None] = []
        last: str | None = None
        for s in self.frame_symbols(logits):
            if s == "<b>":
                out.append(None)
                continue
            if self.vocab.is_repetition(s):
                out.append(last)
                continue
            out.append(s)
            last = s
        return out

    # -- results of the stage ---------------------------------------------------------------
    def _json(self, name: str) -> dict[str, Any]:
        if self.path is None or not (self.path / name).is_file():
            raise FileNotFoundError(
                f"{name} is not in {self.path}: this recognizer was not loaded from an artifact"
            )
        return read_json(self.path / name)

    @property
    def training(self) -> dict[str, Any]:
        """The training record: steps, time, skipped utterances, learning curves (``history``)."""
        return self._json("training.json")

    @property
    def evaluation(self) -> dict[str, Any]:
        """CER/WER and every transcript (greedy and beam) of the test splits."""
        return self._json("evaluation.json")

    def info(self) -> dict[str, Any]:
        return {
            "layers": self.layer_names,
            "receptive_field": self.receptive_field,
            "stride": self.stride,
            "pad": self.pad,
            "classes": len(self.vocab),
            "architecture": self.model.arch.to_dict(),
        }
