"""Read LibriSpeech-shaped trees: ``<root>/<subset>/<speaker>/<chapter>/*.flac`` + transcripts.

Each chapter folder holds ``<speaker>-<chapter>-<nnnn>.flac`` files and one
``<speaker>-<chapter>.trans.txt`` with lines ``<utterance id> <TRANSCRIPT>``. Audio is read
with soundfile (no FFmpeg needed). The embedded synthesized corpus is written in the same
layout and read by the same code.

**Bad input.** Every problem below is either an error naming the file
(``on_bad_input="error"``) or the utterance is skipped and counted in a
:class:`BadInputReport` (``on_bad_input="skip"``):

* ``unreadable audio`` — soundfile cannot open the file (not audio, wrong format);
* ``empty audio`` — a zero-byte file or zero samples;
* ``truncated audio`` — the header opens but decoding fails or yields fewer samples than the
  header promises (only detected with ``verify_audio``, which decodes every file);
* ``missing transcript`` — no ``*.trans.txt`` in the chapter, or no line for the file;
* ``empty transcript`` — the line has an id but no words;
* ``bad characters`` — characters outside a–z, apostrophe and space (case ignored);
* ``missing audio`` — a transcript line whose FLAC file does not exist.

A sample rate other than 16 kHz is not an error: :func:`read_audio` resamples with
``torchaudio.functional.resample`` (band-limited sinc interpolation) and the report counts
such files; several channels are averaged. Utterances longer than ``max_seconds`` are left
out and counted (``too long``). A missing or empty root or subset folder is always an error.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf

from nap.corpus.text import check_transcript

SAMPLE_RATE = 16000
OnBadInput = Literal["error", "skip"]
_ID = re.compile(r"^\d+-\d+-\d+$")


class LibriSpeechError(RuntimeError):
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


def resample(audio: np.ndarray, orig: int, new: int) -> np.ndarray:
    """``torchaudio.functional.resample`` on a numpy array."""
    import torch
    import torchaudio.functional as F

    return F.resample(torch.from_numpy(np.ascontiguousarray(audio, np.float32)), orig, new).numpy()


def _read_transcripts(folder: Path) -> dict[str, str] | None:
    """Lines of the chapter's ``*.trans.txt`` files (id -> text), or None when there is none."""
    files = sorted(folder.glob("*.trans.txt"))
    if not files:
        return None
    lines: dict[str, str] = {}
    for f in files:
        for ln in f.read_text(encoding="utf-8", errors="replace").splitlines():
            if ln.strip():
                uid, _, text = ln.strip().partition(" ")
                lines[uid] = text.strip()
    return lines


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


def scan(
    root: str | Path,
    subsets: Sequence[str] | None = None,
    on_bad_input: OnBadInput = "error",
    verify_audio: bool = True,
    max_seconds: float = 0.0,
    workers: int = 1,
    report: BadInputReport | None = None,
) -> tuple[list[Entry], BadInputReport]:
    """Every good utterance of ``root``'s ``subsets`` (all subset folders when None), sorted by id.

    ``on_bad_input`` decides between an error naming the file and skipping it (see the
    module doc); ``max_seconds`` > 0 leaves longer utterances out.
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
        chapters = sorted(c for s in folder.iterdir() if s.is_dir() for c in s.iterdir() if c.is_dir())
        if not chapters:
            raise LibriSpeechError(f"subset folder {folder} holds no <speaker>/<chapter> folders")
        for chap in chapters:
            speaker, chapter = chap.parent.name, chap.name
            flacs = {p.stem: p for p in chap.glob("*.flac")}
            trans = _read_transcripts(chap)
            if trans is None:
                for uid in sorted(flacs):
                    bad(flacs[uid], "missing transcript", f"no {speaker}-{chapter}.trans.txt in {chap}")
                continue
            for uid in sorted(set(flacs) | set(trans)):
                if uid not in flacs:
                    bad(chap / f"{uid}.flac", "missing audio", "listed in the transcript")
                    continue
                if uid not in trans:
                    bad(flacs[uid], "missing transcript", f"no line for {uid}")
                    continue
                text = " ".join(trans[uid].split()).lower()
                if not text:
                    bad(flacs[uid], "empty transcript")
                    continue
                chars = check_transcript(text)
                if chars is not None:
                    bad(flacs[uid], "bad characters", f"{chars!r} outside a-z, apostrophe, space")
                    continue
                candidates.append((uid, speaker, chapter, subset, flacs[uid], text))
    checks: Iterable[tuple[str | None, str, float, int, int]]
    jobs = [(c[4], verify_audio) for c in candidates]
    if workers > 1 and len(jobs) > 64:
        from nap.procs import pool

        with pool(workers) as procs:
            checks = procs.map(_check_one, jobs, chunksize=64)
    else:
        checks = map(_check_one, jobs)
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
