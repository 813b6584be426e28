"""The LibriSpeech reader on small LibriSpeech-shaped trees built here, bad input included."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import nap.corpus.librispeech as librispeech
from nap.corpus import Corpus, CorpusParams, build_corpus
from nap.corpus.librispeech import (
    BadInputError,
    LibriSpeechError,
    Listing,
    changes,
    listing,
    read_audio,
    scan,
)
from nap.study import Study


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
    "duplicate transcript",
    "duplicate audio",
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
    elif case == "duplicate transcript":  # read first (sorted), so 19-198.trans.txt has the second line
        (folder / "19-198-extra.trans.txt").write_text("19-198-0001 HELLO AGAIN\n")
        return trans
    elif case == "duplicate audio":  # .FLAC sorts before .flac: the lower-case file is the second
        shutil.copy(flac, folder / "19-198-0001.FLAC")
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


# -- transcripts and audio as users write them ------------------------------------------------
def test_a_tab_a_byte_order_mark_and_an_upper_case_flac_extension_are_read(tmp_path):
    paths = make_tree(tmp_path)
    folder = tmp_path / "train-mini" / "19" / "198"
    trans = folder / "19-198.trans.txt"
    text = trans.read_text().replace("19-198-0001 ", "19-198-0001\t")
    trans.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())  # as Windows Notepad saves
    paths["19-198-0002"].rename(folder / "19-198-0002.FLAC")
    entries, report = scan(tmp_path, ["train-mini"])
    assert [e.id for e in entries] == sorted(paths) and report.total_skipped == 0
    by_id = {e.id: e for e in entries}
    assert by_id["19-198-0000"].text == "hello world number one"  # the line after the mark
    assert by_id["19-198-0001"].text == "hello world number two"  # the line with the tab
    upper = by_id["19-198-0002"]
    assert upper.path.name == "19-198-0002.FLAC" and len(read_audio(upper.path)) == 16000


def test_messages_name_the_transcript_file_and_line(tmp_path):
    make_tree(tmp_path)
    folder = tmp_path / "train-mini" / "19" / "198"
    trans = folder / "19-198.trans.txt"
    skip = "; set on_bad_input='skip' to leave such utterances out"

    def error() -> str:
        with pytest.raises(BadInputError) as err:
            scan(tmp_path, ["train-mini"])
        return str(err.value)

    _set_line(trans, "19-198-0001", "19-198-0001,HELLO WORLD")  # now line 3
    assert error() == (
        f"{folder / '19-198-0001.flac'}: missing transcript (no line for 19-198-0001 in 19-198.trans.txt; "
        f"line 3 of 19-198.trans.txt starts with '19-198-0001,HELLO': the id must be followed by a space "
        f"or tab){skip}"
    )
    entries, report = scan(tmp_path, ["train-mini"], on_bad_input="skip")
    assert len(entries) == 5 and dict(report.skipped) == {"missing transcript": 1}  # one line, one count
    _set_line(trans, "19-198-0001", "19-198-0001 HELLO")
    (folder / "19-198-0002.flac").unlink()
    assert (
        error()
        == f"{folder / '19-198-0002.flac'}: missing audio (listed on line 2 of 19-198.trans.txt){skip}"
    )


def test_an_utterance_id_given_twice_is_an_error_naming_both_lines(tmp_path):
    make_tree(tmp_path)
    folder = tmp_path / "train-mini" / "19" / "198"
    trans = folder / "19-198.trans.txt"
    trans.write_text(trans.read_text() + "19-198-0001 HELLO AGAIN\n")
    with pytest.raises(BadInputError) as err:
        scan(tmp_path, ["train-mini"])
    assert str(err.value).startswith(
        f"{trans}: duplicate transcript (line 4: 19-198-0001 is also on line 2 of 19-198.trans.txt)"
    )
    (folder / "19-198-extra.trans.txt").write_text("19-198-0002 HELLO THERE\n")
    entries, report = scan(tmp_path, ["train-mini"], on_bad_input="skip")
    assert "19-198-0001" not in [e.id for e in entries] and "19-198-0002" not in [e.id for e in entries]
    assert dict(report.skipped) == {"duplicate transcript": 2} and len(entries) == 4
    assert report.examples["duplicate transcript"] == [
        f"{trans} (line 3: 19-198-0002 is also on line 1 of 19-198-extra.trans.txt)",
        f"{trans} (line 4: 19-198-0001 is also on line 2 of 19-198.trans.txt)",
    ]


def test_indexing_shows_a_progress_bar_with_an_eta_when_it_takes_a_while(tmp_path, capsys, monkeypatch):
    make_tree(tmp_path)
    scan(tmp_path, ["train-mini"])
    assert capsys.readouterr().err == ""  # a small tree is indexed before the bar would appear
    monkeypatch.setattr(librispeech, "PROGRESS_DELAY", 0.0)
    scan(tmp_path, ["train-mini"])
    err = capsys.readouterr().err
    assert "indexing train-mini: 100%" in err and "6/6 [" in err and "<00:00" in err  # elapsed<left
    scan(tmp_path, ["train-mini"], progress=False)
    assert capsys.readouterr().err == ""


# -- what the tree holds is part of the corpus key ----------------------------------------------
def test_listing_records_every_file_the_reader_reads(tmp_path):
    make_tree(tmp_path, per_chapter=1)
    folder = tmp_path / "train-mini" / "19" / "198"
    (folder / "notes.txt").write_text("not read")
    (folder / "19-198-0000.flac").rename(folder / "19-198-0000.FLAC")
    tree = listing(tmp_path, ["train-mini", "test-absent"])
    assert tree.root == tmp_path.resolve()
    assert [f[0] for f in tree.files] == [
        "train-mini/19/198/19-198-0000.FLAC",
        "train-mini/19/198/19-198.trans.txt",
        "train-mini/26/495/26-495-0000.flac",
        "train-mini/26/495/26-495.trans.txt",
    ]
    st = (folder / "19-198.trans.txt").stat()
    assert tree.files[1][1:] == (st.st_size, st.st_mtime_ns)
    tree.write(tmp_path / "tree.tsv")
    assert Listing.read(tmp_path / "tree.tsv") == tree
    assert changes(tree, tree) == "no difference"
    (folder / "19-198.trans.txt").write_text("19-198-0000 HELLO WORLD AGAIN\n")
    (folder / "19-198-0000.FLAC").unlink()
    sf.write(folder / "19-198-0001.flac", _tone(0.5), 16000, subtype="PCM_16")
    after = listing(tmp_path, ["train-mini"])
    assert after.digest != tree.digest and after.digest.startswith("4 files ")
    assert changes(tree, after) == (
        "1 changed (train-mini/19/198/19-198.trans.txt), 1 added (train-mini/19/198/19-198-0001.flac), "
        "1 removed (train-mini/19/198/19-198-0000.FLAC)"
    )


def _librispeech(root: str, **more) -> dict:
    return {
        "corpus.librispeech_root": root,
        "corpus.librispeech_train": ["train-mini"],
        "corpus.librispeech_test": [],
        **{f"corpus.{k}": v for k, v in more.items()},
    }


def test_a_changed_tree_is_indexed_again_and_the_build_says_why(tmp_path, capsys):
    root = tmp_path / "LibriSpeech"
    make_tree(root)
    changes_ = _librispeech(str(root), on_bad_input="skip")
    first = Study("paper", changes_, artifacts=tmp_path / "store").artifact("corpus")
    assert "indexing it again" not in capsys.readouterr().out
    assert Study("paper", changes_, artifacts=tmp_path / "store").artifact("corpus") == first  # reused
    trans = root / "train-mini" / "19" / "198" / "19-198.trans.txt"
    trans.write_text(trans.read_text().replace("19-198-0000 HELLO", "19-198-0000 JELLO"))
    (root / "train-mini" / "26" / "495" / "26-495-0002.flac").unlink()
    second = Study("paper", changes_, artifacts=tmp_path / "store").artifact("corpus")
    assert second.key != first.key
    assert capsys.readouterr().out.splitlines() == [
        f"[nap] corpus: the LibriSpeech tree at {root.resolve()} changed since corpus-{first.key} "
        "indexed it: "
        "1 changed (train-mini/19/198/19-198.trans.txt), 1 removed (train-mini/26/495/26-495-0002.flac); "
        "indexing it again"
    ]
    corpus = Corpus.open(second.path)
    assert corpus["19-198-0000"].text.startswith("jello") and "26-495-0002" not in corpus.ids
    assert second.params["librispeech_tree"].startswith("7 files ")  # 5 FLAC files, 2 transcripts
    assert (second.path / "tree.tsv").is_file()


def test_a_relative_root_is_made_absolute_before_keying(tmp_path, monkeypatch):
    stamp = 1_700_000_000_000_000_000
    for folder in ("a", "b"):  # two trees alike in every file, size and time: only the root differs
        make_tree(tmp_path / folder / "LibriSpeech")
        for f in (tmp_path / folder).rglob("*.*"):
            os.utime(f, ns=(stamp, stamp))
    studies = {}
    for folder in ("a", "b"):
        monkeypatch.chdir(tmp_path / folder)
        studies[folder] = Study("paper", _librispeech("LibriSpeech"), artifacts=tmp_path / "store")
        built = studies[folder].artifact("corpus")
        assert built.params["librispeech_root"] == str((tmp_path / folder / "LibriSpeech").resolve())
    a, b = (studies[f].params("corpus") for f in ("a", "b"))
    assert a.librispeech_listing.files == b.librispeech_listing.files
    assert studies["a"].key("corpus") != studies["b"].key("corpus")
    for folder in ("a", "b"):
        corpus = studies[folder].corpus()
        assert all(u.path.is_relative_to((tmp_path / folder).resolve()) for u in corpus.utterances)


def test_the_embedded_corpus_key_is_its_parameters_alone(tmp_path, monkeypatch):
    from nap.corpus import piper

    monkeypatch.setattr(piper, "available", lambda: True)  # else the held-out piper voice is left out
    p = CorpusParams.from_dict({"librispeech_root": str(tmp_path), "engines": ["espeak", "piper"]})
    assert p.key_dict() == p.to_dict()
    p = CorpusParams.from_dict({"librispeech_root": str(tmp_path), "engines": ["espeak", "flite"]})
    without_piper = {k: v for k, v in p.to_dict().items() if k not in ("piper_voices", "test_piper_voices")}
    assert p.key_dict() == without_piper  # the piper counts count only when piper is an engine
    assert "librispeech_listing" not in p.__dict__  # the tree is not even looked at
