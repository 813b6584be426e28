"""The reference aligner (pocketsphinx forced alignment): phones tiling the audio, agreement with the
exact timings of synthetic speech, dictionary misses, and the error when pocketsphinx is missing."""

from __future__ import annotations

import pytest

from nap.corpus import espeak, packages
from nap.corpus import reference_aligner as ra
from nap.phonetics import PHONES

needs_aligner = pytest.mark.skipif(
    bool(packages.missing_modules(ra.PACKAGES)), reason="pocketsphinx is not installed"
)


def test_tile_fills_gaps_with_silence_and_ends_with_the_audio():
    segs = [
        ("sil", 0.0, 0.08),
        ("sil", 0.08, 0.13),
        ("HH", 0.21, 0.27),
        ("IY", 0.27, 0.34),
        ("sil", 0.4, 0.5),
    ]
    assert ra.tile(segs, 0.6) == [
        ("sil", 0.0, 0.21),
        ("HH", 0.21, 0.27),
        ("IY", 0.27, 0.34),
        ("sil", 0.34, 0.6),
    ]
    assert ra.tile([("AA", 0.0, 0.7)], 0.5) == [("AA", 0.0, 0.5)]


def test_agreement_counts_frames_and_boundaries_within_the_tolerance():
    truth = [("sil", 0.0, 0.1), ("K", 0.1, 0.2), ("AE", 0.2, 0.4), ("T", 0.4, 0.5)]
    assert ra.agreement(truth, truth) == {
        "frames": 50,
        "frames_agree": 50,
        "speech_frames": 40,
        "speech_agree": 40,
        "boundaries": 3,
        "boundaries_hit": 3,
    }
    late = [("sil", 0.0, 0.13), ("K", 0.13, 0.21), ("AE", 0.21, 0.4), ("T", 0.4, 0.5)]
    counts = ra.agreement(truth, late)
    assert counts["frames_agree"] == 46 and counts["speech_agree"] == 36  # 3 + 1 frames late
    assert counts["boundaries_hit"] == 2  # 30 ms late misses, 10 ms late hits
    wrong = [("sil", 0.0, 0.1), ("G", 0.1, 0.2), ("AE", 0.2, 0.4), ("T", 0.4, 0.5)]
    assert ra.agreement(truth, wrong)["boundaries_hit"] == 1  # same times, other phones
    assert ra.frame_labels(truth, 3) == ["sil"] * 3


def test_missing_pocketsphinx_names_the_package(monkeypatch):
    real = packages.importlib.util.find_spec
    monkeypatch.setattr(
        packages.importlib.util, "find_spec", lambda m: None if m == "pocketsphinx" else real(m)
    )
    monkeypatch.setattr(ra, "_ALIGNER", None)
    with pytest.raises(ra.AlignerError) as err:
        ra.align(espeak.synthesize("hello").audio, "hello")
    assert str(err.value) == (
        "the reference aligner (pocketsphinx) needs packages that are not installed: "
        "pip install pocketsphinx==5.1.1"
    )


@needs_aligner
def test_alignment_of_synthetic_speech_tiles_it_and_mostly_agrees():
    text = "she sells sea shells by the sea shore"
    syn = espeak.synthesize(text + ".", "en-us", "m3", 170, 50)
    result = ra.align(syn.audio, text)
    assert [w for w, _, _ in result.words] == text.split()
    assert result.phones[0][1] == 0.0 and result.phones[-1][2] == pytest.approx(syn.seconds)
    assert all(
        a[2] == pytest.approx(b[1]) for a, b in zip(result.phones[:-1], result.phones[1:], strict=True)
    )
    assert {p for p, _, _ in result.phones} <= set(PHONES) | {"sil"}
    assert [p for p, _, _ in result.phones if p != "sil"][:6] == ["SH", "IY", "S", "EH", "L", "Z"]
    counts = ra.agreement(syn.phones, result.phones)
    assert counts["frames_agree"] / counts["frames"] > 0.6
    assert counts["boundaries_hit"] / counts["boundaries"] > 0.4


@needs_aligner
def test_calibration_reports_shares_and_failures():
    syn = espeak.synthesize("a cat sat on the mat.", "en-us", "", 160, 50)
    items = [
        ("ok", syn.audio, "a cat sat on the mat", syn.phones),
        ("oov", syn.audio, "a cat zqxjv", syn.phones),
    ]
    res = ra.calibrate(items)
    assert res["utterances"] == 1 and res["failed"] == 1
    assert res["failed_examples"] == {"oov": "word(s) not in pocketsphinx's dictionary: zqxjv"}
    assert res["frame_agreement"] == round(res["frames_agree"] / res["frames"], 4) > 0.5
    assert 0 < res["boundaries_within"] <= 1 and res["tolerance_s"] == 0.02


@needs_aligner
def test_empty_transcripts_are_refused():
    with pytest.raises(ra.AlignerError, match="nothing to align"):
        ra.align(espeak.synthesize("hello").audio, "  ")
