"""Channel augmentation: telephone band-limiting and additive noise, on the stored features.

The embedded corpus is clean synthetic speech with the full 8 kHz band and digital silence
between words. Human recordings have a noise floor, and telephone audio (the Asterisk
prompts of the real-speech chapter, sampled at 8 kHz) has nothing above 4 kHz. These
augmentations put a training utterance through such a channel.

The stored features are log mel powers z-normalized per utterance, so the powers are
recovered only up to that normalization: the utterance's smallest value is taken as the
log floor (``features.log_floor``; the embedded corpus's digital silence reaches it in every
utterance) and one standard deviation as :data:`LOG_SCALE` nats, the typical value
(measured on the log mels before normalization: 5.0 ± 0.45 over 60 utterances of the
embedded corpus, 5.45 ± 0.36 over 60 real ones). The changed powers are logged and
normalized again, as the features stage does. Features of ``normalize: none`` are log
powers already; ``normalize: band`` cannot be inverted and is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from nap.features import FeatureParams, normalize
from nap.params import ParamError

#: the typical standard deviation, in nats, of an utterance's log mel powers (see above)
LOG_SCALE = 5.0


@lru_cache(maxsize=8)
def band_centres_hz(p: FeatureParams) -> tuple[float, ...]:
    """Centre frequency of every mel band of features made with ``p`` (HTK mel scale)."""
    mel = lambda f: 2595.0 * math.log10(1.0 + f / 700.0)  # noqa: E731
    edges = np.linspace(mel(p.f_min), mel(p.f_max), p.n_mels + 2)[1:-1]
    return tuple(float(f) for f in 700.0 * (10.0 ** (edges / 2595.0) - 1.0))


@dataclass(frozen=True)
class Channel:
    """Band-limiting and additive noise of an utterance's features, each with a probability.

    ``band_limit``: the share of utterances whose bands above a cut-off drawn from
    ``cutoff_hz`` lose their power (as when 8 kHz audio is resampled to 16 kHz).
    ``noise``: the share that get stationary noise at an SNR drawn from ``snr_db`` (against
    the utterance's mean mel power), of a random spectral tilt (±1 natural-log unit from the
    lowest band to the highest) and with a periodogram's frame-to-frame fluctuation.
    """

    band_limit: float = 0.0
    cutoff_hz: tuple[float, float] = (3400.0, 4000.0)
    noise: float = 0.0
    snr_db: tuple[float, float] = (10.0, 30.0)
    features: FeatureParams = FeatureParams()

    def __post_init__(self) -> None:
        if self.active and self.features.normalize == "band":
            raise ParamError(
                "asr.band_limit and asr.noise need features of normalize 'utterance' or 'none' "
                "(per-band normalization cannot be undone)"
            )

    @property
    def active(self) -> bool:
        return self.band_limit > 0 or self.noise > 0

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``x`` (frames, n_mels) through the channel; draws from ``rng`` whatever it applies."""
        limit = bool(rng.random() < self.band_limit) if self.band_limit > 0 else False
        noisy = bool(rng.random() < self.noise) if self.noise > 0 else False
        if not (limit or noisy):
            return x
        if x.shape[1] != self.features.n_mels:
            raise ParamError(
                f"asr.band_limit/asr.noise: the features have {x.shape[1]} bands, their parameters say "
                f"{self.features.n_mels} (features.n_mels); the channel needs the features' own parameters"
            )
        power = self._power(x)
        if noisy:
            snr = rng.uniform(*self.snr_db)
            shape = np.exp(rng.uniform(-1.0, 1.0) * np.linspace(-0.5, 0.5, x.shape[1]))
            level = power.mean() / 10.0 ** (snr / 10.0) * shape / shape.mean()
            power = power + level * rng.gamma(4.0, 0.25, size=power.shape)
        if limit:
            cut = rng.uniform(*self.cutoff_hz)
            power[:, np.asarray(band_centres_hz(self.features)) > cut] = 0.0
        return self._features(power)

    def _power(self, x: np.ndarray) -> np.ndarray:
        floor = self.features.log_floor
        log = np.asarray(x, dtype=np.float64)
        if self.features.normalize == "utterance":
            log = LOG_SCALE * (log - log.min()) + math.log(floor)
        return np.maximum(np.exp(log) - floor, 0.0)

    def _features(self, power: np.ndarray) -> np.ndarray:
        return normalize(np.log(power + self.features.log_floor), self.features)
