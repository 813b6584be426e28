"""The embedded corpus: sentences, engines, phone timings against the audio, layout, determinism, resume."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nap.corpus import (
    Corpus,
    CorpusParams,
    SynthError,
    build_corpus,
    espeak,
    flite,
    phones,
    synth,
    synthesize,
    text,
)
from nap.params import ParamError
from nap.phonetics import PHONES

needs_flite = pytest.mark.skipif(not flite.available(), reason="flite is not installed")
SMALL = dict(
    espeak_voices=3,
    flite_voices=2,
    test_espeak_voices=1,
    test_flite_voices=1,
    test_sentences_fraction=0.25,
    test_voices_fraction=0.25,
)
KNOWN = set(PHONES) | {phones.SIL}


def _db_frames(audio: np.ndarray, hop: int = 160) -> np.ndarray:
    """Energy of 10 ms frames in dB below the loudest frame."""
    x = audio.astype(np.float64)
    n = len(x) // hop
    db = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    return db - db.max()


def _energy_by_kind(audio: np.ndarray, segs: list[tuple[str, float, float]]) -> dict[str, np.ndarray]:
    """Frame energies (dB) inside vowels, consonants and silences, 15 ms away from boundaries."""
    db = _db_frames(audio)
    out: dict[str, list[float]] = {"vowel": [], "consonant": [], "sil": []}
    for p, s, e in segs:
        a, b = int(np.ceil((s + 0.015) * 100)), int((e - 0.015) * 100)
        kind = "sil" if p == phones.SIL else "vowel" if p in phones.VOWELS else "consonant"
        out[kind] += list(db[a:b])
    return {k: np.array(v) for k, v in out.items()}


def _high_band_share(
    audio: np.ndarray, segs: list[tuple[str, float, float]]
) -> Callable[[tuple[str, ...]], float]:
    """``share(phones)``: the median share of 10 ms frames' energy above 4 kHz inside those phones."""
    spec = np.abs(np.fft.rfft(audio.astype(float)[: len(audio) // 160 * 160].reshape(-1, 160), axis=1))
    high = (spec[:, 40:] ** 2).sum(1) / ((spec**2).sum(1) + 1e-9)

    def share(kind: tuple[str, ...]) -> float:
        frames = [t for p, s, e in segs if p in kind for t in range(int(s * 100) + 1, int(e * 100) - 1)]
        return float(np.median(high[frames]))

    return share


# -- text ------------------------------------------------------------------------------------
def test_normalize_keeps_words_and_drops_what_engines_would_read_differently():
    assert text.normalize("Don't panic -- it's only a well-known test!") == (
        "don't panic it's only a well known test",
        "don't panic, it's only a well known test!",
    )
    assert text.normalize("He paid 42 dollars.") is None  # digits
    assert text.normalize("The NASA people came home.") is None  # acronym
    assert text.normalize("Mr. Smith went home today.") is None  # abbreviation (split after 'Mr.')
    assert text.normalize("See http://x.org now, please.") is None  # symbols
    assert text.normalize("Too short.") is None  # < 3 words
    assert text.normalize("one two three four", max_words=3) is None
    t, spoken = text.normalize('"Well," she said, "we\'ll see."')
    assert t == "well she said we'll see" and set(t) <= text.ALPHABET
    assert spoken == "well, she said, we'll see."


def test_sentences_are_unique_normalized_and_seeded():
    a, b = text.sentences(0), text.sentences(1)
    assert len(a) > 5000
    assert [s.text for s in a] == [s.text for s in text.sentences(0)]
    assert [s.text for s in a] != [s.text for s in b] and {s.text for s in a} == {s.text for s in b}
    assert len({s.text for s in a}) == len(a)
    assert all(set(s.text) <= text.ALPHABET and 3 <= s.words <= 12 for s in a)


# -- phone tables ------------------------------------------------------------------------------
def test_phone_tables_map_into_the_39_phones():
    for table in (phones.ESPEAK, phones.ESPEAK_NON_RHOTIC, phones.RADIO):
        assert {p for v in table.values() for p in v} <= KNOWN
    assert set(PHONES) <= {p for v in phones.RADIO.values() for p in v}
    assert phones.espeak_phones("'A@", "en-us") == ("AA", "R")
    assert phones.espeak_phones("A@", "en-gb-x-rp") == ("AA",)
    assert phones.espeak_phones("_:") == ("sil",)
    with pytest.raises(phones.PhoneError, match="not in nap.corpus.phones.ESPEAK"):
        phones.espeak_phones("Q!")


def test_segments_split_merge_and_drop_repeated_r():
    segs = phones.segments(
        [
            (("sil",), 0.0, 0.1),
            (("sil",), 0.1, 0.2),
            (("AH", "L"), 0.2, 0.5),
            (("AA", "R"), 0.5, 0.6),
            (("R",), 0.6, 0.7),
        ]
    )
    assert segs[0] == ("sil", 0.0, 0.2)
    assert segs[1][0] == "AH" and segs[1][2] == pytest.approx(0.4)  # vowel weight 2, consonant 1
    assert [p for p, _, _ in segs] == ["sil", "AH", "L", "AA", "R"]
    assert segs[3] == ("AA", 0.5, 0.6)


# -- engines: timings lie inside the audio and match it ---------------------------------------
@pytest.mark.parametrize("language", ["en-us", "en-gb-x-rp"])
def test_espeak_phones_tile_the_audio_and_match_its_energy(language):
    sentence = "she sells sea shells by the sea shore, and the shells she sells are surely sea shells."
    syn = espeak.synthesize(sentence, language, "m3", 170, 50)
    synth.check_phones(syn, "espeak")
    assert syn.sample_rate == 16000 and syn.audio.dtype == np.int16
    seq = [p for p, _, _ in syn.phones if p != "sil"]
    assert seq[:11] == ["SH", "IY", "S", "EH", "L", "Z", "S", "IY", "SH", "EH", "L"]
    e = _energy_by_kind(syn.audio, syn.phones)
    assert np.median(e["vowel"]) > -15 and np.mean(e["vowel"] < -45) < 0.02
    assert np.median(e["sil"]) < -40
    # fricatives S/SH: energy above 4 kHz dominates, unlike vowels
    share = _high_band_share(syn.audio, syn.phones)
    assert share(("S", "SH")) > 0.5 > share(("IY", "EH", "AA"))


def test_espeak_stop_closures_belong_to_the_stop():
    syn = espeak.synthesize("a cat sat at the top of a big pot.", "en-us", "", 160, 50)
    e = _energy_by_kind(syn.audio, syn.phones)
    assert np.mean(e["vowel"] < -45) < 0.01  # no closure silence left in vowels
    starts = {p for p, _, _ in syn.phones}
    assert {"K", "T", "P", "B", "G"} <= starts


@needs_flite
@pytest.mark.parametrize("voice", flite.VOICES)
def test_flite_phones_tile_the_audio_and_match_its_energy(voice):
    syn = flite.synthesize(
        "she sells sea shells by the sea shore, and the shells are surely sea shells.", voice
    )
    synth.check_phones(syn, "flite")
    assert [p for p, _, _ in syn.phones if p != "sil"][:6] == ["SH", "IY", "S", "EH", "L", "Z"]
    e = _energy_by_kind(syn.audio, syn.phones)
    assert np.median(e["vowel"]) > -15 and np.mean(e["vowel"] < -45) < 0.02
    assert np.median(e["sil"]) < -40


@needs_flite
def test_flite_rate_and_pitch_change_the_audio():
    base = flite.synthesize("the rain in spain stays mainly in the plain.", "slt")
    slow = flite.synthesize("the rain in spain stays mainly in the plain.", "slt", rate=0.8)
    assert slow.seconds > base.seconds * 1.15


# -- the corpus ---------------------------------------------------------------------------------
def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    if not flite.available():
        pytest.skip("flite is not installed")
    out = tmp_path_factory.mktemp("corpus") / "c"
    summary = synthesize(out, minutes=0.6, seed=3, workers=2, progress=False, **SMALL)
    assert summary["rendered"] == summary["utterances"]
    return out


def test_layout_is_librispeech_with_phones_and_metadata(small):
    meta = json.loads((small / "corpus.json").read_text())
    assert meta["engines"] == ["espeak", "flite"] and meta["seed"] == 3
    assert (small / "README.txt").is_file() and not (small / ".work").exists()
    assert not list(small.rglob("*.tmp"))
    for split in synth.SPLITS:
        flacs = sorted((small / split).glob("*/*/*.flac"))
        assert flacs, split
        ids = {f.stem for f in flacs}
        trans = {
            ln.split(" ", 1)[0]: ln.split(" ", 1)[1]
            for t in (small / split).glob("*/*/*.trans.txt")
            for ln in t.read_text().splitlines()
        }
        assert set(trans) == ids
        assert all(t == t.upper() and set(t.lower()) <= text.ALPHABET for t in trans.values())
        for f in flacs:
            speaker, chapter, _ = f.stem.split("-")
            assert f.parent == small / split / speaker / chapter
            info = sf.info(f)
            assert info.samplerate == 16000 and info.channels == 1 and info.subtype == "PCM_16"
        rows = [ln.split("\t") for ln in (small / split / "phones.tsv").read_text().splitlines()]
        assert rows[0] == ["utterance", "phone", "start", "end"]
        assert {r[0] for r in rows[1:]} == ids and {r[1] for r in rows[1:]} <= KNOWN
    assert meta["splits"]["train"]["utterances"] == len(list((small / "train").rglob("*.flac")))


def test_splits_keep_sentences_and_voices_apart(small):
    corpus = Corpus.open(small)
    train, ts, tv = (corpus.splits[s] for s in synth.SPLITS)
    train_texts = {u.text for u in train}
    assert not train_texts & {u.text for u in ts} and not train_texts & {u.text for u in tv}
    assert {u.speaker for u in ts} <= {u.speaker for u in train}
    assert not {u.speaker for u in tv} & {u.speaker for u in train}
    meta = json.loads((small / "corpus.json").read_text())["speakers"]
    pair = {s: (v["engine"], v["name"], v["variant"]) for s, v in meta.items()}
    assert not {pair[u.speaker] for u in tv} & {pair[u.speaker] for u in train}
    assert {v["engine"] for v in meta.values()} == {"espeak", "flite"}


def test_true_phones_tile_each_utterance_and_match_its_energy(small):
    corpus = Corpus.open(small)
    by_engine: dict[str, dict[str, list[np.ndarray]]] = {}
    for u in corpus.utterances:
        segs = corpus.true_phones(u.id)
        audio = corpus.audio(u)
        assert segs[0][1] == 0.0 and segs[-1][2] == pytest.approx(len(audio) / 16000, abs=2e-4)
        assert all(abs(a[2] - b[1]) < 1e-9 for a, b in zip(segs, segs[1:], strict=False))
        for kind, v in _energy_by_kind(audio, segs).items():
            by_engine.setdefault(u.voice.split()[0], {}).setdefault(kind, []).append(v)
    for engine, kinds in by_engine.items():
        vowel, sil = np.concatenate(kinds["vowel"]), np.concatenate(kinds["sil"])
        assert np.median(vowel) > -15 and np.mean(vowel < -45) < 0.02, engine
        assert np.median(sil) < -40, engine


def test_synthesis_is_deterministic_and_independent_of_workers(small, tmp_path):
    again = tmp_path / "again"
    synthesize(again, minutes=0.6, seed=3, workers=1, progress=False, **SMALL)
    assert _tree_digest(again) == _tree_digest(small)
    other = tmp_path / "other"
    synthesize(other, minutes=0.6, seed=4, workers=1, progress=False, **SMALL)
    assert _tree_digest(other) != _tree_digest(small)


def test_interrupted_synthesis_resumes_without_half_written_files(small, tmp_path, monkeypatch):
    out = tmp_path / "resume"
    real = synth.render
    calls = {"n": 0}

    def flaky(job, folder):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return real(job, folder)

    monkeypatch.setattr(synth, "render", flaky)
    with pytest.raises(KeyboardInterrupt):
        synthesize(out, minutes=0.6, seed=3, workers=1, progress=False, **SMALL)
    assert not list(out.rglob("*.tmp")) and not (out / "corpus.json").exists()
    assert len(list(out.rglob("*.flac"))) == 5
    monkeypatch.setattr(synth, "render", real)
    summary = synthesize(out, minutes=0.6, seed=3, workers=1, progress=False, **SMALL)
    assert summary["rendered"] == summary["utterances"] - 5
    assert _tree_digest(out) == _tree_digest(small)
    assert synthesize(out, minutes=0.6, seed=3, workers=1, progress=False, **SMALL)["rendered"] == 0
    with pytest.raises(SynthError, match="other settings"):
        synthesize(out, minutes=0.7, seed=3, workers=1, progress=False, **SMALL)


def test_synthesize_rejects_bad_options(tmp_path):
    with pytest.raises(SynthError, match="unknown synthesis option"):
        synthesize(tmp_path / "x", minutes=1, seed=0, voices=3)
    with pytest.raises(SynthError, match="engines"):
        synthesize(tmp_path / "x", minutes=1, seed=0, engines=["festival"])
    with pytest.raises(SynthError, match="minutes"):
        synthesize(tmp_path / "x", minutes=0, seed=0)


def test_voice_plan_is_seeded_and_holds_out_pairs():
    opts = synth.SynthOptions()
    train, test = synth.plan_voices(0, opts)
    assert len(train) == opts.espeak_voices + opts.flite_voices and len(test) == 6
    assert (train, test) == synth.plan_voices(0, opts) and (train, test) != synth.plan_voices(1, opts)
    labels = {v.label for v in train + test}
    assert len(labels) == len(train) + len(test) >= 12
    flite_train = {v.name for v in train if v.engine == "flite"}
    assert not flite_train & {v.name for v in test if v.engine == "flite"}


# -- the stage --------------------------------------------------------------------------------
def test_build_corpus_indexes_the_synthesized_corpus(small, tmp_path):
    work = tmp_path / "corpus.partial"
    shutil.copytree(small, work)  # a finished synthesis is reused, not redone
    p = CorpusParams.from_dict({"minutes": 0.6, "seed": 3, "engines": ["espeak", "flite"], **SMALL})
    summary = build_corpus(work, p)
    assert summary["utterances"] == sum(summary["split_utterances"].values()) > 0
    assert summary["bad_input_skipped"] == 0 and summary["voices"] == 7 and summary["phones"] > 0
    corpus = Corpus.open(work)
    u = corpus.splits["test_voices"][0]
    assert u.split == "test_voices" and u.path.is_file() and u.voice.split()[0] in ("espeak", "flite")
    assert len(corpus.audio(u)) == pytest.approx(u.seconds * 16000, abs=1)
    assert sum(corpus.phone_counts().values()) == summary["phones"]
    assert json.loads((work / "bad_input.json").read_text())["total_skipped"] == 0
    # language-model text: every training transcript and more, never a held-out sentence
    lm = corpus.lm_texts()
    held_out = {u.text for u in corpus.utterances if u.split != "train"}
    assert {u.text for u in corpus.splits["train"]} <= set(lm)
    assert not held_out & set(lm) and len(lm) > 10 * len(corpus.splits["train"])


def test_corpus_params_are_validated():
    with pytest.raises(ParamError, match="corpus.engines"):
        CorpusParams.from_dict({"engines": ["festival"]})
    with pytest.raises(ParamError, match="corpus.minutes"):
        CorpusParams.from_dict({"minutes": 0})
    with pytest.raises(ParamError, match="share subset"):
        CorpusParams.from_dict({"librispeech_train": ["a"], "librispeech_test": ["a"]})
    with pytest.raises(ParamError, match="corpus.on_bad_input"):
        CorpusParams.from_dict({"on_bad_input": "ignore"})


def test_librispeech_source_needs_a_root(tmp_path):
    with pytest.raises(ParamError, match="corpus.librispeech_root"):
        build_corpus(tmp_path, CorpusParams.from_dict({"source": "librispeech"}))


def test_chapter_statistics_and_figures(small):
    from nap.corpus import plots, stats

    corpus = Corpus.open(small)
    rows = {
        (engine, kind): (frames, med, silent)
        for engine, kind, frames, med, silent in stats.timing_energy(corpus)
    }
    for engine in ("espeak", "flite"):
        assert rows[(engine, "vowel")][1] > -15 and rows[(engine, "vowel")][2] < 0.02
        assert rows[(engine, "sil")][1] < -40
    voices = stats.voice_rows(corpus)
    assert len(voices) == 7 and sum(r[3] for r in voices) == len(corpus)
    assert voices[-1][1] == "test_voices"
    ids = plots.examples(corpus, per_split=2)
    assert len(ids) == 6 and {corpus[i].split for i in ids} == set(synth.SPLITS)
    assert plots.players(corpus, ids[:2])._repr_html_().count("<audio") == 2
    from nap.features import log_mel

    feats = {ids[0]: log_mel(corpus.audio(corpus[ids[0]]))}
    for fig in (plots.phone_histogram(corpus), plots.spectrogram(corpus, ids[0], feats)):
        assert fig.axes
    with pytest.raises(KeyError, match=ids[1]):
        plots.spectrogram(corpus, ids[1], feats)
