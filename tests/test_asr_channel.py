"""Channel augmentation: band-limiting and noise on the stored (normalized) features behave like
the same changes made to the audio, are reproducible from their seed, and are off by default
without changing the recognizer's key or its batches."""

from __future__ import annotations

import numpy as np
import pytest

from nap.asr.channel import Channel, band_centres_hz
from nap.asr.data import Augment
from nap.asr.params import AsrParams
from nap.asr.train import augmentation
from nap.features import FeatureParams, _mel, log_mel
from nap.params import ParamError

RAW = FeatureParams(normalize="none")


def speechlike(seconds: float = 1.5, seed: int = 0) -> np.ndarray:
    """Harmonic bursts with broadband noise between digital silences (16 kHz)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    audio = np.zeros_like(t)
    for start in (0.2, 0.7, 1.1):
        part = (t >= start) & (t < start + 0.25)
        f0 = rng.uniform(100, 220)
        audio[part] = sum(np.sin(2 * np.pi * f0 * h * t[part]) / h for h in range(1, 40))
        audio[part] += 0.3 * rng.standard_normal(part.sum())
    return (0.1 * audio / np.abs(audio).max()).astype(np.float32)


def lowpass(audio: np.ndarray, cut_hz: float) -> np.ndarray:
    spectrum = np.fft.rfft(audio)
    spectrum[np.fft.rfftfreq(len(audio), 1 / 16000) > cut_hz] = 0
    return np.fft.irfft(spectrum, len(audio)).astype(np.float32)


def test_band_centres_follow_the_htk_mel_scale():
    centres = np.array(band_centres_hz(FeatureParams()))
    assert len(centres) == 128 and np.all(np.diff(centres) > 0)
    assert 40 < centres[0] < 60 and 7800 < centres[-1] < 8000
    p = FeatureParams()
    filters = _mel(p.n_fft, p.win, p.hop, p.n_mels, p.f_min, p.f_max).mel_scale.fb.numpy()  # (bins, bands)
    peaks = filters.argmax(axis=0) * 16000 / p.n_fft  # each filter's strongest FFT bin
    assert np.abs(centres - peaks).max() <= 16000 / p.n_fft  # within one bin of the features' filters


def test_band_limiting_the_features_matches_low_passing_the_audio():
    audio = speechlike()
    cut = 3700.0
    channel = Channel(band_limit=1.0, cutoff_hz=(cut, cut), features=RAW)
    made = channel(log_mel(audio, p=RAW), np.random.default_rng(0))
    heard = log_mel(lowpass(audio, cut), p=RAW)
    centres = np.array(band_centres_hz(RAW))
    below, above = centres < cut - 300, centres > cut + 300  # filters clear of the cut-off
    assert np.allclose(made[:, above], np.log(RAW.log_floor))
    assert np.median(heard[:, above]) < np.log(1e-4)
    speech = heard[:, below] > np.log(1e-3)
    assert np.abs(made[:, below][speech] - heard[:, below][speech]).max() < 0.05


def test_band_limiting_normalized_features_matches_the_normalized_low_passed_audio():
    audio = speechlike(seed=1)
    cut = 3700.0
    norm = FeatureParams()
    channel = Channel(band_limit=1.0, cutoff_hz=(cut, cut), features=norm)
    made = channel(log_mel(audio, p=norm), np.random.default_rng(0))
    heard = log_mel(lowpass(audio, cut), p=norm)
    assert abs(made.mean()) < 1e-5 and abs(made.std() - 1) < 1e-4
    # the normalization's scale is assumed (LOG_SCALE), so values agree to a few tenths
    assert np.corrcoef(made.ravel(), heard.ravel())[0, 1] > 0.97
    assert np.abs(made - heard).mean() < 0.2


def test_noise_is_added_at_the_drawn_snr():
    features = log_mel(speechlike(), p=RAW)
    power = np.exp(features) - RAW.log_floor
    for snr in (5.0, 20.0):
        channel = Channel(noise=1.0, snr_db=(snr, snr), features=RAW)
        added = np.exp(channel(features, np.random.default_rng(3))) - RAW.log_floor - power
        assert np.all(added > 0)
        assert added.mean() / power.mean() == pytest.approx(10 ** (-snr / 10), rel=0.05)
    # the digital silence is gone: no value at the floor any more
    assert (features <= np.log(2 * RAW.log_floor)).mean() > 0.2
    noisy = Channel(noise=1.0, features=RAW)(features, np.random.default_rng(0))
    assert (noisy <= np.log(2 * RAW.log_floor)).mean() == 0


def test_the_channel_is_reproducible_and_applies_its_share():
    x = log_mel(speechlike(), p=FeatureParams())
    channel = Channel(band_limit=0.5, noise=0.5)
    first = [channel(x, np.random.default_rng(s)) for s in range(200)]
    again = [channel(x, np.random.default_rng(s)) for s in range(200)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    untouched = sum(channel(x, np.random.default_rng(s)) is x for s in range(1000))
    assert 200 < untouched < 300  # a quarter pass through unchanged (sd 14)


def test_off_by_default_same_key_same_batches():
    p = AsrParams()
    assert not augmentation(p).channel.active
    assert "band_limit" not in p.key_dict() and "noise_snr_db" not in p.key_dict()
    assert p.key_dict() != p.replace(noise=0.2).key_dict()
    x = log_mel(speechlike(), p=FeatureParams())
    before = Augment(
        p.tempo, p.freq_shift, 1, p.freq_mask_width, 1, p.time_mask_width
    )  # as before the channel
    assert np.array_equal(before(x, 7), augmentation(p.replace(freq_masks=1, time_masks=1))(x, 7))


def test_bad_channel_settings_are_refused():
    for change in ({"band_limit": 1.5}, {"noise": -0.1}, {"band_limit_hz": [4000.0, 3000.0]}):
        with pytest.raises(ParamError, match=next(iter(change))):
            AsrParams().replace(**change).check()
    with pytest.raises(ParamError, match="40 bands, their parameters say 128"):
        Channel(noise=1.0)(np.zeros((50, 40), np.float32), np.random.default_rng(0))
    with pytest.raises(ParamError, match="normalize"):
        augmentation(AsrParams().replace(noise=0.1), FeatureParams(normalize="band"))
