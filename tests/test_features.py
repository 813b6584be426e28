"""Log-mel features: shape, normalization, frequency placement, the cached stage and its resume."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from nap import features as F
from nap.corpus import Corpus, CorpusParams, build_corpus
from nap.features import FeatureError, FeatureParams, Features, build_features, log_mel
from nap.params import ParamError


def _tone(freq: float, seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _noise(seconds: float, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * 16000)) * 0.1).astype(np.float32)


def test_shape_is_one_frame_per_10_ms_and_128_bands():
    for n in (400, 16000, 23457):
        x = _noise(n / 16000)
        assert log_mel(x).shape == (1 + n // 160, 128) == (F.frame_count(n), 128)
    assert log_mel(_noise(1.0)).dtype == np.float32


def test_utterance_and_band_normalization():
    x = _noise(2.0) * np.linspace(0.1, 1, 32000).astype(np.float32)
    u = log_mel(x)
    assert abs(u.mean()) < 1e-4 and u.std() == pytest.approx(1, abs=1e-3)
    assert np.ptp(u.mean(0)) > 0.1  # bands keep their differences
    b = log_mel(x, p=FeatureParams.from_dict({"normalize": "band"}))
    assert np.abs(b.mean(0)).max() < 1e-4 and np.allclose(b.std(0), 1, atol=1e-3)
    raw = log_mel(x, p=FeatureParams.from_dict({"normalize": "none"}))
    assert np.allclose((raw - raw.mean()) / raw.std(), u, atol=1e-4)


def test_a_tone_lands_in_its_mel_band():
    p = FeatureParams()
    mel_max = 2595 * np.log10(1 + p.f_max / 700)
    mel_min = 2595 * np.log10(1 + p.f_min / 700)
    for freq in (300.0, 1000.0, 4000.0):
        band = int(np.argmax(log_mel(_tone(freq)).mean(0)))
        expected = (2595 * np.log10(1 + freq / 700) - mel_min) / (mel_max - mel_min) * (p.n_mels + 1) - 1
        assert abs(band - expected) <= 1.5, freq


def test_int16_and_other_sample_rates_give_the_same_features():
    x = _tone(700.0)
    as_int = np.round(x * 32768).astype(np.int16)
    assert np.abs(log_mel(as_int) - log_mel(x)).max() < 0.1  # 16-bit quantization noise only
    down = F.log_mel(_tone(700.0, rate=8000), sample_rate=8000)
    assert down.shape == log_mel(x).shape
    assert int(np.argmax(down.mean(0))) == int(np.argmax(log_mel(x).mean(0)))


def test_bad_audio_and_parameters_are_refused():
    with pytest.raises(FeatureError, match="empty"):
        log_mel(np.zeros(0, np.float32))
    with pytest.raises(FeatureError, match="mono"):
        log_mel(np.zeros((100, 2), np.float32))
    with pytest.raises(ParamError, match="mel filters"):
        log_mel(_noise(0.5), p=FeatureParams.from_dict({"f_min": 0.0}))
    with pytest.raises(ParamError, match="features.win_ms"):
        FeatureParams.from_dict({"win_ms": 40.0})
    with pytest.raises(ParamError, match="features.f_min"):
        FeatureParams.from_dict({"f_max": 9000.0})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    """A LibriSpeech-shaped corpus of five noise utterances, indexed by the corpus stage."""
    root = tmp_path_factory.mktemp("ls")
    folder = root / "train-x" / "1" / "2"
    folder.mkdir(parents=True)
    lines = []
    for i in range(5):
        uid = f"1-2-{i:04d}"
        sf.write(folder / f"{uid}.flac", _noise(0.4 + 0.3 * i, seed=i), 16000, subtype="PCM_16")
        lines.append(f"{uid} SOME WORDS")
    (folder / "1-2.trans.txt").write_text("\n".join(lines) + "\n")
    work = tmp_path_factory.mktemp("corpus")
    build_corpus(
        work,
        CorpusParams.from_dict(
            {
                "source": "librispeech",
                "librispeech_root": str(root),
                "librispeech_train": ["train-x"],
                "librispeech_test": [],
            }
        ),
    )
    return Corpus.open(work)


def test_build_features_caches_every_utterance(corpus, tmp_path):
    summary = build_features(tmp_path, FeatureParams(), corpus, progress=False)
    feats = Features.open(tmp_path)
    assert summary["utterances"] == len(feats) == len(corpus) == 5
    assert feats.ids == corpus.ids and feats.hop_s == 0.01 and feats.n_mels == 128
    total = 0
    for u in corpus.utterances:
        x = feats.get(u.id)
        assert x.dtype == np.float32 and x.shape == (F.frame_count(len(corpus.audio(u))), 128)
        assert np.allclose(x, log_mel(corpus.audio(u)), atol=5e-3)  # float16 storage
        total += len(x)
    assert summary["frames"] == total
    assert (tmp_path / F.DATA).stat().st_size == total * 128 * 2
    raw = np.memmap(tmp_path / F.DATA, np.float16, "r", shape=(total, 128))  # readable without nap
    assert np.array_equal(raw[: feats.frames(corpus.ids[0])], feats.get(corpus.ids[0]).astype(np.float16))
    with pytest.raises(KeyError, match="no features"):
        feats.get("9-9-9999")


def test_interrupted_build_resumes_to_identical_files(corpus, tmp_path, monkeypatch):
    whole = tmp_path / "whole"
    whole.mkdir()
    build_features(whole, FeatureParams(), corpus, progress=False)
    part = tmp_path / "part"
    part.mkdir()
    real, calls = F.log_mel, {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(F, "log_mel", flaky)
    with pytest.raises(KeyboardInterrupt):
        build_features(part, FeatureParams(), corpus, progress=False, checkpoint_s=0.0)
    assert F.read_json(part / F.PROGRESS)["done"] == 3
    monkeypatch.setattr(F, "log_mel", real)
    build_features(part, FeatureParams(), corpus, progress=False)
    for name in (F.DATA, F.INDEX, F.META):
        assert (part / name).read_bytes() == (whole / name).read_bytes(), name
    assert not (part / F.PROGRESS).exists()
