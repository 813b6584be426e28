"""The real-speech corpus `real`: transcript normalization, LibriSpeech layout read by the same reader,
8 kHz audio resampled to 16 kHz, the Debian sources, and the error when they are missing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nap.corpus import real
from nap.corpus.librispeech import scan
from nap.corpus.packages import missing_files
from nap.corpus.stage import _utterances

have_sources = pytest.mark.skipif(
    bool(missing_files(real.FILES)), reason="Debian asterisk-core-sounds-en(-wav) / pocketsphinx-testdata"
)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Please press 1 to mute, or 8 to exit.", ("please press one to mute or eight to exit", "")),
        ("At the sound of the tone, the time...", ("at the sound of the tone the time", "")),
        ("Call-Forward on Busy.", ("call forward on busy", "")),
        ("I'm sorry", ("i'm sorry", "")),
        ("[ascending tones]", (None, "non-speech")),
        ("(2 seconds of silence)", (None, "non-speech")),
        ("<beep ascending>", (None, "non-speech")),
        ("3D audio enabled", (None, "number")),
        ("press 12 now", (None, "number")),
        ("version 1.5", (None, "number")),
        ("press * to toggle pause", (None, "normalize")),
        ("A.M.", (None, "normalize")),
        ("DAHDI", (None, "normalize")),
    ],
)  # fmt: skip
def test_transcripts_are_normalized_or_dropped_with_a_reason(said, expected):
    assert real.normalize_transcript(said) == expected


def _wav(path: Path, rate: int, seconds: float) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, subtype="PCM_16")
    return path


def test_the_corpus_is_librispeech_layout_at_16_khz(tmp_path):
    src = tmp_path / "src"
    prompts = [
        real.Prompt("asterisk", "901", _wav(src / "a.wav", 8000, 0.5), "Press 1."),
        real.Prompt("asterisk", "901", _wav(src / "b.wav", 8000, 0.25), "[beep]"),
        real.Prompt("asterisk", "901", src / "gone.wav", "Goodbye!"),
        real.Prompt("asterisk", "901", _wav(src / "c.wav", 8000, 0.75), "Thank you."),
        real.Prompt("pocketsphinx librivox", "902", _wav(src / "d.wav", 16000, 1.0), "he was not ill"),
    ]
    out = tmp_path / "real"
    summary = real.build_real(out, prompts)
    assert summary == {"utterances": 3, "minutes": 0.04, "dropped": {"no audio": 1, "non-speech": 1}}
    entries, report = scan(out, ["real"], progress=False)
    assert [(e.id, e.text, e.seconds, e.sample_rate) for e in entries] == [
        ("901-1-0000", "press one", 0.5, 16000),
        ("901-1-0001", "thank you", 0.75, 16000),
        ("902-1-0000", "he was not ill", 1.0, 16000),
    ]
    assert report.total_skipped == 0 and report.resampled == 0
    assert (out / "real" / "901" / "1" / "901-1.trans.txt").read_text() == (
        "901-1-0000 PRESS ONE\n901-1-0001 THANK YOU\n"
    )
    meta = json.loads((out / "corpus.json").read_text())
    assert meta["source"] == "real" and meta["dropped"] == {"no audio": 1, "non-speech": 1}
    assert meta["dropped_examples"]["no audio"] == ["gone.wav: Goodbye!"]
    utts = _utterances(entries, None, meta, out)
    assert utts[0].voice == real.SPEAKERS["901"] and utts[0].split == "real"
    sources = (out / "sources.tsv").read_text().splitlines()
    assert sources[1] == f"901-1-0000\tasterisk\t{src / 'a.wav'}\tPress 1."
    assert not list(out.rglob("*.tmp"))


def test_asterisk_transcripts_are_read_from_the_gzip_file(tmp_path):
    text = tmp_path / "core-sounds-en.txt.gz"
    with gzip.open(text, "wt", encoding="utf-8") as fh:
        fh.write("; Core Asterisk Sounds in English\n\nadded: Added.\ndigits/1: one\n")
    prompts = real.asterisk_prompts(tmp_path / "sounds", text)
    assert prompts == [
        real.Prompt("asterisk", "901", tmp_path / "sounds" / "added.wav", "Added."),
        real.Prompt("asterisk", "901", tmp_path / "sounds" / "digits" / "1.wav", "one"),
    ]


def test_nothing_usable_is_an_error(tmp_path):
    prompts = [real.Prompt("asterisk", "901", tmp_path / "x.wav", "[tone]")]
    with pytest.raises(real.RealCorpusError, match=r"no usable prompt among 1 \({'non-speech': 1} dropped\)"):
        real.build_real(tmp_path / "out", prompts)


def test_missing_sources_name_the_debian_packages(monkeypatch, tmp_path):
    monkeypatch.setattr(
        real,
        "FILES",
        {str(tmp_path / "a"): "asterisk-core-sounds-en-wav", str(tmp_path / "b"): "pocketsphinx-testdata"},
    )
    with pytest.raises(real.RealCorpusError) as err:
        real.build_real(tmp_path / "out")
    assert str(err.value) == (
        "the real-speech corpus 'real' needs packages that are not installed: "
        "apt-get install asterisk-core-sounds-en-wav pocketsphinx-testdata"
    )
    assert not (tmp_path / "out").exists()


@have_sources
def test_the_debian_sources_give_506_utterances(tmp_path):
    assert len(real.asterisk_prompts()) == 569
    sphinx = real.sphinx_prompts()
    assert [p.transcript for p in sphinx][:2] == [
        "and mister john dashwood had then leisure to consider how much there might be prudently in his "
        "power to do for them",
        "he was not an ill disposed young man",
    ]
    summary = real.build_real(tmp_path / "real")
    assert summary["utterances"] == 506 and 20 < summary["minutes"] < 23
    assert summary["dropped"] == {"no audio": 1, "non-speech": 17, "normalize": 51, "number": 4}
    entries, report = scan(tmp_path / "real", ["real"], progress=False)
    assert len(entries) == 506 and report.total_skipped == 0
    assert {e.speaker for e in entries} == {"901", "902", "903"}
    assert all(sf.info(e.path).samplerate == 16000 for e in entries[:20])
