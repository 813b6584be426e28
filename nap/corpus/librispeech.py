"""Read LibriSpeech-shaped trees: ``<root>/<subset>/<speaker>/<chapter>/*.flac`` + transcripts.

Each chapter folder holds ``<speaker>-<chapter>-<nnnn>.flac`` files (the extension in any
letter case) and one ``<speaker>-<chapter>.trans.txt`` with lines ``<utterance id> <TRANSCRIPT>``
(the id may also be followed by a tab; a UTF-8 byte order mark is ignored). Audio is read
with soundfile (no FFmpeg needed). The embedded synthesized corpus is written in the same
layout and read by the same code.

**What the tree holds.** :func:`listing` records every audio and transcript file the reader
would read (path, size, modification time; stat calls only, nothing is decoded), so the
corpus stage's key changes, and the corpus is indexed again, when a file is edited, added or
removed; :func:`changes` says which.

**Bad input.** Every problem below is either an error naming the file
(``on_bad_input="error"``) or the utterance is skipped and counted in a
:class:`BadInputReport` (``on_bad_input="skip"``):

* ``unreadable audio`` — soundfile cannot open the file (not audio, wrong format);
* ``empty audio`` — a zero-byte file or zero samples;
* ``truncated audio`` — the header opens but decoding fails or yields fewer samples than the
  header promises (only detected with ``verify_audio``, which decodes every file);
* ``missing transcript`` — no ``*.trans.txt`` in the chapter, or no line for the file (a
  line whose id runs into the text, as in ``19-198-0001,HELLO``, is pointed out);
* ``duplicate transcript`` — a second line for the same id (in the same or another
  ``*.trans.txt`` of the chapter); the utterance is left out, the message names both lines;
* ``duplicate audio`` — two audio files for one id whose extensions differ only in case;
* ``empty transcript`` — the line has an id but no words;
* ``bad characters`` — characters outside a–z, apostrophe and space (case ignored);
* ``missing audio`` — a transcript line whose FLAC file does not exist (the message names the
  transcript file and line).

A sample rate other than 16 kHz is not an error: :func:`read_audio` resamples with
:func:`nap.corpus.audio.resample` (polyphase filtering) and the report counts
such files; several channels are averaged. Utterances longer than ``max_seconds`` are left
out and counted (``too long``). A missing or empty root or subset folder is always an error.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf

from nap.corpus.audio import SAMPLE_RATE, resample
from nap.corpus.text import check_transcript
from nap.errors import NapError
from nap.store import atomic_path, stable_hash

OnBadInput = Literal["error", "skip"]
_ID = re.compile(r"^\d+-\d+-\d+$")


class LibriSpeechError(NapError, RuntimeError):
    """A corpus folder or file is missing or unusable."""


class BadInputError(LibriSpeechError):
    """One utterance's audio or transcript is bad (``on_bad_input="error"``)."""

    def __init__(self, path: Path, reason: str, detail: str = ""):
        self.path, self.reason = Path(path), reason
        super().__init__(
            f"{path}: {reason}"
            + (f" ({detail})" if detail else "")
            + "; set on_bad_input='skip' to leave such utterances out"
        )


@dataclass(frozen=True)
class Entry:
    """One utterance of a LibriSpeech-shaped tree."""

    id: str
    speaker: str
    chapter: str
    subset: str
    path: Path
    text: str  # lowercase, the ASR alphabet
    seconds: float
    sample_rate: int


@dataclass
class BadInputReport:
    """What was skipped (reason -> count, with up to 5 example paths) and what was resampled."""

    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    resampled: int = 0
    multichannel: int = 0

    def add(self, reason: str, path: Path, detail: str = "") -> None:
        self.skipped[reason] += 1
        ex = self.examples.setdefault(reason, [])
        if len(ex) < 5:
            ex.append(f"{path}" + (f" ({detail})" if detail else ""))

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    def to_dict(self) -> dict:
        return {
            "skipped": dict(sorted(self.skipped.items())),
            "total_skipped": self.total_skipped,
            "examples": self.examples,
            "resampled": self.resampled,
            "multichannel": self.multichannel,
        }


def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 audio of ``path`` at ``sample_rate`` (resampled if the file differs)."""
    try:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise LibriSpeechError(f"{path}: cannot read audio: {exc}") from exc
    audio = audio.mean(axis=1) if audio.shape[1] > 1 else audio[:, 0]
    if sr != sample_rate:
        audio = resample(audio, sr, sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)


TRANSCRIPT_SUFFIX = ".trans.txt"
AUDIO_SUFFIX = ".flac"  # compared in lower case: ``.FLAC`` is read too


def _chapters(subset: Path) -> list[Path]:
    """The ``<speaker>/<chapter>`` folders of a subset folder, sorted."""
    return sorted(c for s in subset.iterdir() if s.is_dir() for c in s.iterdir() if c.is_dir())


def _chapter_files(chapter: Path) -> tuple[list[Path], list[Path]]:
    """(audio files, transcript files) of a chapter folder, sorted: what the reader reads."""
    audio, transcripts = [], []
    for f in sorted(chapter.iterdir()):
        if f.name.endswith(TRANSCRIPT_SUFFIX):
            transcripts.append(f)
        elif f.suffix.lower() == AUDIO_SUFFIX:
            audio.append(f)
    return audio, transcripts


@dataclass(frozen=True)
class Line:
    """One transcript line: its text and where it is (for messages)."""

    text: str
    file: Path
    number: int

    @property
    def where(self) -> str:
        return f"line {self.number} of {self.file.name}"


def _read_transcripts(
    files: list[Path], bad: Callable[[Path, str, str], None]
) -> tuple[dict[str, Line], set[str]]:
    """The lines of a chapter's transcript files (id -> line) and the ids given twice.

    The id ends at the first space or tab; a UTF-8 byte order mark is dropped. A second line
    for an id is reported with ``bad(file, "duplicate transcript", ...)`` naming both lines.
    """
    lines: dict[str, Line] = {}
    twice: set[str] = set()
    for f in files:
        text = f.read_text(encoding="utf-8-sig", errors="replace").replace("\ufeff", "")
        for number, ln in enumerate(text.split("\n"), 1):
            fields = ln.split(None, 1)
            if not fields:
                continue
            uid = fields[0]
            if uid in lines:
                bad(f, "duplicate transcript", f"line {number}: {uid} is also on {lines[uid].where}")
                twice.add(uid)
                continue
            lines[uid] = Line(fields[1].strip() if len(fields) > 1 else "", f, number)
    return lines, twice


def _no_line(uid: str, transcripts: list[Path], lines: dict[str, Line], audio: Iterable[str]) -> str:
    """Why ``uid`` has no line: the files searched, and a line (of no other audio file) whose id
    runs into its text, as in ``19-198-0001,HELLO``."""
    detail = f"no line for {uid} in {', '.join(f.name for f in transcripts)}"
    others = set(audio)
    near = sorted((k for k in lines if k.startswith(uid) and k not in others), key=lambda k: lines[k].number)
    if near:
        line = lines[near[0]]
        detail += f"; {line.where} starts with {near[0][:40]!r}: the id must be followed by a space or tab"
    return detail


@dataclass(frozen=True)
class Listing:
    """What a LibriSpeech tree holds: (path relative to ``root``, size, mtime in ns) per file."""

    root: Path
    files: tuple[tuple[str, int, int], ...]

    @property
    def digest(self) -> str:
        """``"<n> files <hash>"``: changes when any file is edited, added or removed."""
        return f"{len(self.files)} files {stable_hash(self.files, 16)}"

    def write(self, path: Path) -> None:
        """Save as a TSV (``path size mtime_ns``), atomically."""
        with atomic_path(path) as tmp:
            tmp.write_text(
                f"# root\t{self.root}\n" + "".join(f"{p}\t{n}\t{t}\n" for p, n, t in self.files),
                encoding="utf-8",
            )

    @classmethod
    def read(cls, path: Path) -> Listing:
        head, *rows = path.read_text(encoding="utf-8").splitlines()
        files = []
        for row in rows:
            p, n, t = row.split("\t")
            files.append((p, int(n), int(t)))
        return cls(Path(head.partition("\t")[2]), tuple(files))


def listing(root: str | Path, subsets: Sequence[str]) -> Listing:
    """Every audio and transcript file of ``root``'s ``subsets`` that :func:`scan` would read.

    Stat calls only (no file is opened), so it is cheap enough to be part of an artifact key.
    ``root`` is made absolute; missing folders add nothing (:func:`scan` reports them).
    """
    root = Path(root).expanduser().resolve()
    files = []
    try:
        for subset in dict.fromkeys(subsets):
            folder = root / subset
            if not folder.is_dir():
                continue
            for chap in _chapters(folder):
                audio, transcripts = _chapter_files(chap)
                for f in sorted(audio + transcripts):
                    st = f.stat()
                    files.append((f.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns))
    except OSError as exc:  # e.g. a folder without read permission
        raise LibriSpeechError(f"cannot list the LibriSpeech tree {root}: {exc}") from exc
    return Listing(root, tuple(files))


def changes(old: Listing, new: Listing, examples: int = 3) -> str:
    """What differs between two listings of a tree, e.g. ``1 changed (a.trans.txt), 1 removed (b.flac)``."""
    before = {p: (n, t) for p, n, t in old.files}
    after = {p: (n, t) for p, n, t in new.files}
    kinds = {
        "changed": sorted(p for p in after.keys() & before.keys() if after[p] != before[p]),
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
    }
    parts = []
    for kind, paths in kinds.items():
        if paths:
            shown = ", ".join(paths[:examples]) + (", …" if len(paths) > examples else "")
            parts.append(f"{len(paths)} {kind} ({shown})")
    if old.root != new.root:
        parts.insert(0, f"root {old.root} -> {new.root}")
    return ", ".join(parts) or "no difference"


def _check_audio(path: Path, verify: bool) -> tuple[str | None, str, float, int, int]:
    """(problem or None, detail, seconds, sample rate, channels) of one audio file."""
    try:
        if path.stat().st_size == 0:
            return "empty audio", "0 bytes", 0.0, 0, 0
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        return "unreadable audio", str(exc).split(": ", 1)[-1], 0.0, 0, 0
    if info.frames <= 0:
        return "empty audio", "0 samples", 0.0, info.samplerate, info.channels
    if verify:
        try:
            data, _ = sf.read(str(path), dtype="int16", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            return "truncated audio", str(exc).split(": ", 1)[-1], 0.0, info.samplerate, info.channels
        if len(data) < info.frames:
            return (
                "truncated audio",
                f"{len(data)} of {info.frames} samples",
                0.0,
                info.samplerate,
                info.channels,
            )
    return None, "", info.frames / info.samplerate, info.samplerate, info.channels


def _check_one(args: tuple[Path, bool]) -> tuple[str | None, str, float, int, int]:
    return _check_audio(*args)


#: Seconds before the indexing progress bar appears (a small tree is indexed without one).
PROGRESS_DELAY = 2.0


def _checks(
    jobs: list[tuple[Path, bool]], workers: int, progress: bool, desc: str
) -> Iterator[tuple[str | None, str, float, int, int]]:
    """``_check_audio`` of each job, in order, with a progress bar (and ETA) when it takes a while."""
    from tqdm.auto import tqdm

    bar = tqdm(
        total=len(jobs), desc=desc, unit="file", delay=PROGRESS_DELAY, disable=not progress or not jobs
    )
    try:
        if workers > 1 and len(jobs) > 64:
            from nap.procs import pool

            with pool(workers) as procs:
                for res in procs.imap(_check_one, jobs, chunksize=64):
                    yield res
                    bar.update()
        else:
            for job in jobs:
                yield _check_one(job)
                bar.update()
    finally:
        bar.close()


def scan(
    root: str | Path,
    subsets: Sequence[str] | None = None,
    on_bad_input: OnBadInput = "error",
    verify_audio: bool = True,
    max_seconds: float = 0.0,
    workers: int = 1,
    report: BadInputReport | None = None,
    progress: bool = True,
) -> tuple[list[Entry], BadInputReport]:
    """Every good utterance of ``root``'s ``subsets`` (all subset folders when None), sorted by id.

    ``on_bad_input`` decides between an error naming the file and skipping it (see the
    module doc); ``max_seconds`` > 0 leaves longer utterances out. Checking the audio (with
    ``verify_audio``, decoding every file) shows a progress bar when it takes more than
    ``PROGRESS_DELAY`` seconds and ``progress`` is on.
    """
    if on_bad_input not in ("error", "skip"):
        raise LibriSpeechError(f"on_bad_input must be 'error' or 'skip', got {on_bad_input!r}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise LibriSpeechError(f"LibriSpeech root {root} does not exist or is not a folder")
    present = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subsets is None:
        subsets = present
    if not present:
        raise LibriSpeechError(f"LibriSpeech root {root} is empty: no subset folders (e.g. train-clean-100)")
    report = report or BadInputReport()

    def bad(path: Path, reason: str, detail: str = "") -> None:
        if on_bad_input == "error":
            raise BadInputError(path, reason, detail)
        report.add(reason, path, detail)

    candidates: list[tuple[str, str, str, str, Path, str]] = []
    for subset in subsets:
        folder = root / subset
        if not folder.is_dir():
            have = ", ".join(sorted(p.name for p in root.iterdir() if p.is_dir())) or "nothing"
            raise LibriSpeechError(f"subset folder {folder} does not exist (the root holds: {have})")
        chapters = _chapters(folder)
        if not chapters:
            raise LibriSpeechError(f"subset folder {folder} holds no <speaker>/<chapter> folders")
        for chap in chapters:
            speaker, chapter = chap.parent.name, chap.name
            audio, transcripts = _chapter_files(chap)
            flacs: dict[str, Path] = {}
            twice: set[str] = set()  # ids with two audio files or two lines: reported, left out
            for f in audio:
                if f.stem in flacs:
                    bad(f, "duplicate audio", f"{flacs[f.stem].name} has the same id")
                    twice.add(f.stem)
                    continue
                flacs[f.stem] = f
            if not transcripts:
                for uid in sorted(flacs.keys() - twice):
                    bad(flacs[uid], "missing transcript", f"no {speaker}-{chapter}.trans.txt in {chap}")
                continue
            trans, twice_text = _read_transcripts(transcripts, bad)
            twice |= twice_text
            for uid in sorted(set(flacs) | set(trans)):
                if uid in twice:
                    continue
                if uid not in flacs:
                    if any(uid.startswith(a) and a not in trans for a in flacs):
                        continue  # an id run into its text: reported as that audio's missing transcript
                    bad(chap / f"{uid}{AUDIO_SUFFIX}", "missing audio", f"listed on {trans[uid].where}")
                    continue
                if uid not in trans:
                    bad(flacs[uid], "missing transcript", _no_line(uid, transcripts, trans, flacs))
                    continue
                text = " ".join(trans[uid].text.split()).lower()
                if not text:
                    bad(flacs[uid], "empty transcript")
                    continue
                chars = check_transcript(text)
                if chars is not None:
                    bad(flacs[uid], "bad characters", f"{chars!r} outside a-z, apostrophe, space")
                    continue
                candidates.append((uid, speaker, chapter, subset, flacs[uid], text))
    jobs = [(c[4], verify_audio) for c in candidates]
    checks = _checks(jobs, workers, progress, f"indexing {', '.join(subsets)}")
    entries: list[Entry] = []
    for (uid, speaker, chapter, subset, path, text), (problem, detail, secs, sr, ch) in zip(
        candidates, checks, strict=True
    ):
        if problem is not None:
            bad(path, problem, detail)
            continue
        if max_seconds > 0 and secs > max_seconds:
            report.add("too long", path, f"{secs:.1f} s > max_seconds {max_seconds:g}")
            continue
        report.resampled += sr != SAMPLE_RATE
        report.multichannel += ch > 1
        entries.append(Entry(uid, speaker, chapter, subset, path, text, round(secs, 4), sr))
    entries.sort(key=lambda e: (e.subset, e.id))
    return entries, report
