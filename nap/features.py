"""Log-mel features (paper §2.1): 16 kHz audio, 128 mel bands, 10 ms hop, z-normalized per utterance.

Choices, each a parameter of :class:`FeatureParams`:

* **window** 25 ms (400 samples, Hann) inside an FFT of 512 points (257 bins, 31.25 Hz apart);
* **hop** 10 ms, frames centred (``center=True``, reflect padding): frame ``t`` is centred
  on ``t * hop`` seconds, so an utterance of ``n`` samples has ``1 + n // 160`` frames and a
  phone from ``a`` to ``b`` seconds covers frames ``round(a/hop) .. round(b/hop) - 1``;
* **mel** filters from 40 Hz to 8 kHz on the HTK mel scale, power spectrum, no filter
  normalization. At 128 bands the lowest filters are narrower than the FFT's bin spacing:
  from 0 Hz one filter would catch no bin at all (with a 400-point FFT, several would), from
  40 Hz every filter has a bin; a setting that leaves a filter empty is refused;
* **log** ``ln(mel + 1e-6)``: the floor sits near the noise of 16-bit quantization, so the
  digital silence of synthesized pauses is not infinitely far below speech;
* **z-normalization** over the whole utterance (one mean and one standard deviation for all
  frames and bands), as in the ``speechless`` code of Kunze et al. that the paper follows;
  ``normalize="band"`` normalizes every band on its own, ``"none"`` keeps the log values.

The features stage computes every utterance of a corpus once and keeps them in one file::

    features.f16     all frames of all utterances, row after row: float16, shape (frames, n_mels)
    features.json    {"dtype", "n_mels", "frames", "hop_s", ...} (readable without nap)
    index.tsv        id, offset (first row), frames — one line per utterance, corpus order

so ``np.memmap("features.f16", np.float16, "r", shape=(frames, n_mels))[offset:offset+frames]``
is an utterance. An interrupted build resumes from its last checkpoint.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from nap.corpus.audio import SAMPLE_RATE
from nap.errors import NapError
from nap.params import ParamError, StageParams, param
from nap.store import atomic_path, read_json, write_json

if TYPE_CHECKING:
    from nap.corpus import Corpus

DATA, META, INDEX, PROGRESS = "features.f16", "features.json", "index.tsv", "progress.json"
LAYOUT = (
    "features.f16: float16 rows (frames, n_mels) of all utterances one after another; index.tsv: id, "
    "offset (first row), frames per utterance"
)


class FeatureError(NapError, RuntimeError):
    """Features could not be computed or read."""


@dataclass(frozen=True)
class FeatureParams(StageParams):
    """How audio becomes the network's input."""

    stage: ClassVar[str] = "features"

    seed: int = param(0, "unused (features are deterministic); kept as every stage has a seed")
    n_mels: int = param(128, "mel bands (paper: 128)")
    n_fft: int = param(512, "FFT points (512: no empty mel filter at 128 bands)")
    win_ms: float = param(25.0, "analysis window, milliseconds")
    hop_ms: float = param(10.0, "hop between frames, milliseconds")
    f_min: float = param(40.0, "lowest mel filter edge, Hz (40: no mel filter without an FFT bin)")
    f_max: float = param(8000.0, "highest mel filter edge, Hz (at most 8000 for 16 kHz)")
    log_floor: float = param(1e-6, "added to the mel power before the log")
    normalize: Literal["utterance", "band", "none"] = param(
        "utterance", "z-normalization: over the whole utterance (paper), per band, or none"
    )

    def check(self) -> None:
        win = round(self.win_ms * SAMPLE_RATE / 1000)
        if not 0 < win <= self.n_fft:
            raise ParamError(
                f"features.win_ms={self.win_ms} gives {win} samples; need 0 < window <= n_fft={self.n_fft}"
            )
        if self.hop < 1:
            raise ParamError(
                f"parameter 'features.hop_ms' = {self.hop_ms} gives an STFT hop of {self.hop} samples at "
                f"{SAMPLE_RATE // 1000} kHz; it must be at least 1 sample (1/{SAMPLE_RATE // 1000} ms)"
            )
        if not 0 <= self.f_min < self.f_max <= SAMPLE_RATE / 2:
            raise ParamError(
                f"features.f_min/f_max: need 0 <= f_min < f_max <= 8000, got {self.f_min}, {self.f_max}"
            )
        if self.n_mels < 1:
            raise ParamError(f"features.n_mels must be positive, got {self.n_mels}")
        if self.log_floor <= 0:
            raise ParamError(f"features.log_floor must be positive, got {self.log_floor}")

    @property
    def hop(self) -> int:
        return round(self.hop_ms * SAMPLE_RATE / 1000)

    @property
    def win(self) -> int:
        return round(self.win_ms * SAMPLE_RATE / 1000)


@lru_cache(maxsize=4)
def _mel(n_fft: int, win: int, hop: int, n_mels: int, f_min: float, f_max: float) -> Any:
    import warnings

    import torchaudio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # empty filters are checked just below
        mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE,
            n_fft=n_fft,
            win_length=win,
            hop_length=hop,
            f_min=f_min,
            f_max=f_max,
            n_mels=n_mels,
            power=2.0,
            center=True,
            pad_mode="reflect",
            mel_scale="htk",
            norm=None,
        )
    empty = int((mel.mel_scale.fb.sum(0) == 0).sum())
    if empty:
        raise ParamError(
            f"features: {empty} of {n_mels} mel filters between {f_min:g} and {f_max:g} Hz get no bin "
            f"of a {n_fft}-point FFT; raise features.f_min or features.n_fft, or lower features.n_mels"
        )
    return mel


def log_mel(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, p: FeatureParams | None = None) -> np.ndarray:
    """Features of one utterance as the features stage computes them: (frames, n_mels) float32.

    ``audio`` is mono (float in [-1, 1], or int16); another ``sample_rate`` is resampled to
    16 kHz with torchaudio first. Normalized as ``p.normalize`` says (default: utterance).
    """
    import torch

    p = p or FeatureParams()
    x = np.asarray(audio)
    if x.ndim != 1:
        raise FeatureError(f"log_mel needs mono audio (one dimension), got shape {x.shape}")
    if x.dtype == np.int16:
        x = x.astype(np.float32) / 32768.0
    x = np.ascontiguousarray(x, dtype=np.float32)
    if len(x) == 0:
        raise FeatureError("log_mel got empty audio")
    if sample_rate != SAMPLE_RATE:
        from nap.corpus.audio import resample

        x = resample(x, sample_rate, SAMPLE_RATE)
    mel = _mel(p.n_fft, p.win, p.hop, p.n_mels, p.f_min, p.f_max)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one utterance is too small to share; threads only wait for each other
    try:
        with torch.no_grad():
            spec = mel(torch.from_numpy(x)).numpy().T  # (frames, n_mels)
    finally:
        torch.set_num_threads(threads)
    return normalize(np.log(spec + np.float32(p.log_floor)), p)


def normalize(feats: np.ndarray, p: FeatureParams) -> np.ndarray:
    """Log mel powers (frames, n_mels) z-normalized as ``p.normalize`` says, float32."""
    if p.normalize == "utterance":
        feats = (feats - feats.mean()) / max(float(feats.std()), 1e-5)
    elif p.normalize == "band":
        feats = (feats - feats.mean(0)) / np.maximum(feats.std(0), 1e-5)
    return np.ascontiguousarray(feats, dtype=np.float32)


def frame_count(samples: int, p: FeatureParams | None = None) -> int:
    """Frames of an utterance of ``samples`` samples (centred frames)."""
    return 1 + samples // (p or FeatureParams()).hop


class Features:
    """The cached features of a corpus: ``get(utt_id) -> (frames, n_mels) float32``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.meta = read_json(self.path / META)
        except FileNotFoundError:
            raise FeatureError(f"{self.path} holds no {META}: not a features folder") from None
        self.n_mels = int(self.meta["n_mels"])
        self.hop_s = float(self.meta["hop_s"])
        self.params = FeatureParams.from_dict(self.meta["params"])
        self._index: dict[str, tuple[int, int]] = {}
        with open(self.path / INDEX, encoding="utf-8") as fh:
            next(fh)
            for line in fh:
                uid, off, n = line.rstrip("\n").split("\t")
                self._index[uid] = (int(off), int(n))
        total = int(self.meta["frames"])
        self._data = np.memmap(self.path / DATA, dtype=np.float16, mode="r", shape=(total, self.n_mels))

    @classmethod
    def open(cls, path: str | os.PathLike) -> Features:
        return cls(Path(path))

    @property
    def ids(self) -> list[str]:
        return list(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, utt_id: object) -> bool:
        return utt_id in self._index

    def frames(self, utt_id: str) -> int:
        return self._lookup(utt_id)[1]

    def _lookup(self, utt_id: str) -> tuple[int, int]:
        try:
            return self._index[utt_id]
        except KeyError:
            raise KeyError(f"no features for utterance {utt_id!r} in {self.path}") from None

    def get(self, utt_id: str) -> np.ndarray:
        """The utterance's features, (frames, n_mels) float32 (a copy)."""
        off, n = self._lookup(utt_id)
        return np.asarray(self._data[off : off + n], dtype=np.float32)

    def __repr__(self) -> str:
        size = f"{self.meta['frames']} frames x {self.n_mels}"
        return f"Features({len(self)} utterances, {size}, path='{self.path}')"


def build_features(
    work: Path, p: FeatureParams, corpus: Corpus, progress: bool = True, checkpoint_s: float = 30.0
) -> dict[str, Any]:
    """Compute the features of every utterance of ``corpus`` into ``work`` (resumable)."""
    from tqdm.auto import tqdm

    work = Path(work)
    utts = corpus.utterances
    data, prog_file = work / DATA, work / PROGRESS
    done, offset, rows = 0, 0, []
    if prog_file.is_file() and data.is_file():
        prog = read_json(prog_file)
        if prog.get("ids") == len(utts) and prog.get("params") == p.to_dict():
            done, offset, rows = int(prog["done"]), int(prog["offset"]), list(prog["rows"])
    start = time.time()
    with open(data, "r+b" if done else "wb") as fh:
        fh.truncate(offset * p.n_mels * 2)
        fh.seek(offset * p.n_mels * 2)
        last = time.time()
        bar = tqdm(utts[done:], desc="features", unit="utt", disable=not progress)
        for i, u in enumerate(bar, start=done):
            feats = log_mel(corpus.audio(u), SAMPLE_RATE, p)
            fh.write(feats.astype(np.float16).tobytes())
            rows.append([u.id, offset, len(feats)])
            offset += len(feats)
            if time.time() - last > checkpoint_s and i + 1 < len(utts):
                fh.flush()
                os.fsync(fh.fileno())
                write_json(
                    prog_file,
                    {"ids": len(utts), "params": p.to_dict(), "done": i + 1, "offset": offset, "rows": rows},
                )
                last = time.time()
        fh.flush()
        os.fsync(fh.fileno())
    with atomic_path(work / INDEX) as tmp:
        tmp.write_text("id\toffset\tframes\n" + "".join(f"{a}\t{b}\t{c}\n" for a, b, c in rows))
    write_json(
        work / META,
        {
            "dtype": "float16",
            "n_mels": p.n_mels,
            "frames": offset,
            "hop_s": p.hop / SAMPLE_RATE,
            "utterances": len(rows),
            "params": p.to_dict(),
            "layout": LAYOUT,
        },
    )
    prog_file.unlink(missing_ok=True)
    return {
        "utterances": len(rows),
        "frames": offset,
        "n_mels": p.n_mels,
        "hop_s": p.hop / SAMPLE_RATE,
        "megabytes": round(offset * p.n_mels * 2 / 2**20, 1),
        "feature_seconds": round(time.time() - start, 1),
    }
