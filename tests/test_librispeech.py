"""The LibriSpeech reader on small LibriSpeech-shaped trees built here, bad input included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nap.corpus import Corpus, CorpusParams, build_corpus
from nap.corpus.librispeech import BadInputError, LibriSpeechError, read_audio, scan


def _tone(seconds: float, rate: int = 16000, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def make_tree(
    root: Path, subset: str = "train-mini", speakers=(("19", "198"), ("26", "495")), per_chapter: int = 3
) -> dict[str, Path]:
    """``root/subset/<speaker>/<chapter>/`` with ``per_chapter`` good utterances each."""
    paths = {}
    for speaker, chapter in speakers:
        folder = root / subset / speaker / chapter
        folder.mkdir(parents=True)
        lines = []
        for i in range(per_chapter):
            uid = f"{speaker}-{chapter}-{i:04d}"
            sf.write(folder / f"{uid}.flac", _tone(0.5 + 0.25 * i), 16000, subtype="PCM_16")
            lines.append(f"{uid} HELLO WORLD NUMBER {'ONE TWO THREE'.split()[i % 3]}")
            paths[uid] = folder / f"{uid}.flac"
        (folder / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    return paths


def _set_line(trans: Path, uid: str, line: str | None) -> None:
    lines = [ln for ln in trans.read_text().splitlines() if not ln.startswith(uid)]
    if line is not None:
        lines.append(line)
    trans.write_text("\n".join(lines) + "\n")


BAD = [
    "unreadable audio",
    "empty audio",
    "truncated audio",
    "missing transcript",
    "empty transcript",
    "bad characters",
    "missing audio",
    "no transcript file",
]


def _break(root: Path, case: str) -> Path:
    """Spoil one utterance of a fresh tree; returns the file the error must name."""
    folder = root / "train-mini" / "19" / "198"
    trans = folder / "19-198.trans.txt"
    flac = folder / "19-198-0001.flac"
    if case == "unreadable audio":
        flac.write_bytes(b"this is not a flac file" * 20)
    elif case == "empty audio":
        flac.write_bytes(b"")
    elif case == "truncated audio":
        data = flac.read_bytes()
        flac.write_bytes(data[: len(data) // 2])
    elif case == "missing transcript":
        _set_line(trans, "19-198-0001", None)
    elif case == "empty transcript":
        _set_line(trans, "19-198-0001", "19-198-0001 ")
    elif case == "bad characters":
        _set_line(trans, "19-198-0001", "19-198-0001 HELLO 42 WORLDS")
    elif case == "missing audio":
        flac.unlink()
    elif case == "no transcript file":
        trans.unlink()
        return folder / "19-198-0000.flac"
    return flac


def test_reads_a_good_tree(tmp_path):
    paths = make_tree(tmp_path)
    entries, report = scan(tmp_path, ["train-mini"])
    assert [e.id for e in entries] == sorted(paths)
    e = entries[1]
    assert (e.speaker, e.chapter, e.subset, e.text) == ("19", "198", "train-mini", "hello world number two")
    assert e.seconds == pytest.approx(0.75) and e.sample_rate == 16000
    assert report.total_skipped == 0 and report.resampled == 0
    assert read_audio(e.path).dtype == np.float32 and len(read_audio(e.path)) == 12000


def test_reads_several_subsets_and_all_subsets_by_default(tmp_path):
    make_tree(tmp_path, "train-a")
    make_tree(tmp_path, "test-b", speakers=(("7", "11"),))
    both, _ = scan(tmp_path, ["train-a", "test-b"])
    assert len(both) == 9 and {e.subset for e in both} == {"train-a", "test-b"}
    assert [e.id for e in scan(tmp_path)[0]] == [e.id for e in sorted(both, key=lambda e: (e.subset, e.id))]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_an_error_naming_the_file(tmp_path, case):
    make_tree(tmp_path)
    named = _break(tmp_path, case)
    with pytest.raises(BadInputError) as err:
        scan(tmp_path, ["train-mini"], on_bad_input="error")
    assert str(named) in str(err.value)
    assert err.value.reason == ("missing transcript" if case == "no transcript file" else case)
    assert "on_bad_input='skip'" in str(err.value)


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_skipped_and_counted(tmp_path, case):
    paths = make_tree(tmp_path)
    _break(tmp_path, case)
    entries, report = scan(tmp_path, ["train-mini"], on_bad_input="skip")
    lost = 3 if case == "no transcript file" else 1
    assert len(entries) == len(paths) - lost
    reason = "missing transcript" if case == "no transcript file" else case
    assert dict(report.skipped) == {reason: lost} and report.total_skipped == lost
    assert report.to_dict()["examples"][reason]


def test_truncated_audio_needs_verification_to_be_found(tmp_path):
    make_tree(tmp_path)
    _break(tmp_path, "truncated audio")
    entries, report = scan(tmp_path, ["train-mini"], on_bad_input="error", verify_audio=False)
    assert len(entries) == 6 and report.total_skipped == 0


def test_other_sample_rates_and_channels_are_converted(tmp_path):
    make_tree(tmp_path)
    folder = tmp_path / "train-mini" / "26" / "495"
    sf.write(folder / "26-495-0000.flac", _tone(1.0, 8000), 8000, subtype="PCM_16")
    stereo = np.stack([_tone(0.5), _tone(0.5, freq=880)], axis=1)
    sf.write(folder / "26-495-0001.flac", stereo, 16000, subtype="PCM_16")
    entries, report = scan(tmp_path, ["train-mini"])
    assert len(entries) == 6 and report.resampled == 1 and report.multichannel == 1
    audio = read_audio(folder / "26-495-0000.flac")
    assert len(audio) == 16000
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.argmax(spectrum) == 440  # 1 Hz bins: the tone survived resampling
    assert read_audio(folder / "26-495-0001.flac").ndim == 1


def test_too_long_utterances_are_left_out_and_counted(tmp_path):
    make_tree(tmp_path)
    entries, report = scan(tmp_path, ["train-mini"], max_seconds=0.6)
    assert len(entries) == 2 and report.skipped["too long"] == 4


def test_missing_or_empty_roots_and_subsets_are_clear_errors(tmp_path):
    with pytest.raises(LibriSpeechError, match=str(tmp_path / "nowhere")):
        scan(tmp_path / "nowhere")
    with pytest.raises(LibriSpeechError, match="is empty"):
        scan(tmp_path)
    make_tree(tmp_path)
    with pytest.raises(LibriSpeechError, match="test-clean.*does not exist.*train-mini"):
        scan(tmp_path, ["test-clean"])
    (tmp_path / "hollow").mkdir()
    with pytest.raises(LibriSpeechError, match="hollow holds no"):
        scan(tmp_path, ["hollow"])
    with pytest.raises(LibriSpeechError, match="on_bad_input"):
        scan(tmp_path, ["train-mini"], on_bad_input="ignore")  # type: ignore[arg-type]


def test_build_corpus_indexes_librispeech_without_copying(tmp_path):
    root = tmp_path / "LibriSpeech"
    make_tree(root, "train-mini", per_chapter=10)
    make_tree(root, "test-mini", speakers=(("7", "11"),))
    _break(root, "bad characters")
    work = tmp_path / "corpus.partial"
    work.mkdir()
    p = CorpusParams.from_dict(
        {
            "source": "librispeech",
            "librispeech_root": str(root),
            "librispeech_train": ["train-mini"],
            "librispeech_test": ["test-mini"],
            "librispeech_heldout": 0.2,
            "on_bad_input": "skip",
            "seed": 5,
        }
    )
    summary = build_corpus(work, p)
    assert summary["split_utterances"] == {"train": 15, "test_sentences": 4, "test_voices": 3}
    assert summary["bad_input_skipped"] == 1 and summary["phones"] == 0
    assert not list(work.rglob("*.flac"))
    corpus = Corpus.open(work)
    assert corpus.source == "librispeech" and corpus.true_phones(corpus.ids[0]) is None
    assert all(u.path.is_absolute() and u.path.is_file() for u in corpus.utterances)
    assert {u.speaker for u in corpus.splits["test_sentences"]} <= {u.speaker for u in corpus.splits["train"]}
    assert corpus.splits["test_voices"][0].voice == "librispeech speaker 7"
    again = tmp_path / "again"
    again.mkdir()
    build_corpus(again, p)
    assert (again / "index.tsv").read_text() == (work / "index.tsv").read_text()
    with pytest.raises(BadInputError, match="19-198-0001.flac"):
        build_corpus(tmp_path, p.replace(on_bad_input="error"))
