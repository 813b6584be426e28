"""The real-speech corpus ``real``: human recordings from Debian packages, in LibriSpeech layout.

Sources (all offline, installed by package name):

* **Asterisk prompts** — Debian ``asterisk-core-sounds-en-wav`` (the recordings,
  ``/usr/share/asterisk/sounds/en_US_f_Allison/**.wav``) and ``asterisk-core-sounds-en``
  (their transcripts, ``core-sounds-en.txt.gz``, lines ``<name>: <text>``). One female
  speaker (Allison Smith), telephone audio at 8 kHz, so nothing above 4 kHz; licence
  CC-BY-SA 3.0 (recorded by Allison Smith, paid for by Digium).
* **LibriVox** — Debian ``pocketsphinx-testdata``: five utterances of *Sense and
  Sensibility* (chapter 1, a LibriVox reading, public domain) at 16 kHz with transcripts,
  and five short "cards" utterances (``ten of clubs``) of another speaker, also 16 kHz.

``build_real(out)`` writes::

    <out>/corpus.json          source "real", the sources, counts, what was dropped and why
    <out>/sources.tsv          utterance id, source, original file, original transcript
    <out>/real/<speaker>/1/<speaker>-1-<nnnn>.flac   16 kHz mono, 16 bit
    <out>/real/<speaker>/1/<speaker>-1.trans.txt     "<id> <TRANSCRIPT IN CAPITALS>"

one subset, ``real``, for evaluation only (too little for training). Speakers: 901 Asterisk
(Allison Smith), 902 LibriVox reader, 903 the "cards" speaker. The tree is read by
:func:`nap.corpus.librispeech.scan` like any LibriSpeech tree. Audio at 8 kHz is resampled
with :func:`nap.corpus.audio.resample` (via :func:`nap.corpus.librispeech.read_audio`).

**Transcripts** are normalized to the recognizer's graphemes (a–z, apostrophe, space) by
the embedded corpus's own rules (:func:`nap.corpus.text.normalize`, no word limits, no
dictionary filter), after one step of its own: a stand-alone digit is spelled out
(``press 1`` → ``press one``, as the prompts say it). A prompt is **dropped**, and counted
by reason in ``corpus.json``, when its transcript

* describes a sound rather than words (``[ascending tones]``, ``(2 seconds of silence)``,
  ``<beep ascending>``):
  ``non-speech``;
* still holds a digit (``3D audio``, ``1st``, numbers of two or more digits: how they are
  read is not written down): ``number``;
* is refused by :func:`nap.corpus.text.normalize` (symbols such as ``*`` and ``#``, acronyms,
  abbreviations such as ``A.M.``, single letters other than *a*, *i*, *o*): ``normalize``;

or when it has no recording (``no audio``). Recordings without a transcript are not read.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile as sf

from nap.corpus.packages import require
from nap.errors import NapError
from nap.store import atomic_path, read_json, write_json

SUBSET = "real"
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
ASTERISK_TEXT = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
SPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")
#: path that must exist -> the Debian package that installs it
FILES = {
    str(ASTERISK_SOUNDS): "asterisk-core-sounds-en-wav",
    str(ASTERISK_TEXT): "asterisk-core-sounds-en",
    str(SPHINX_DATA / "librivox" / "transcription"): "pocketsphinx-testdata",
}
SPEAKERS = {
    "901": "asterisk prompts (Allison Smith), 8 kHz telephone audio",
    "902": "librivox Sense and Sensibility reader, 16 kHz",
    "903": "pocketsphinx cards speaker, 16 kHz",
}
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_DIGIT = re.compile(r"(?<![\w.])([0-9])(?!\w|\.[0-9])")
_NON_SPEECH = re.compile(r"^\s*([\[(<]).*[\])>]\s*$")


class RealCorpusError(NapError, RuntimeError):
    """The real-speech sources are missing or unusable."""


@dataclass(frozen=True)
class Prompt:
    """One recording with its transcript as the source writes it."""

    source: str
    speaker: str
    path: Path
    transcript: str


def require_sources() -> None:
    """RealCorpusError naming the Debian packages to install when a source is missing."""
    require("the real-speech corpus 'real'", files=FILES, error=RealCorpusError)


def normalize_transcript(text: str) -> tuple[str | None, str]:
    """(normalized transcript or None, reason it was dropped or ``""``); see the module doc."""
    from nap.corpus.text import normalize

    if _NON_SPEECH.match(text):
        return None, "non-speech"
    spelled = _DIGIT.sub(lambda m: DIGITS[int(m.group(1))], text)
    if re.search(r"[0-9]", spelled):
        return None, "number"
    norm = normalize(spelled, min_words=1, max_words=10_000, vocabulary=None)
    if norm is None:
        return None, "normalize"
    return norm[0], ""


def asterisk_prompts(sounds: Path = ASTERISK_SOUNDS, text: Path = ASTERISK_TEXT) -> list[Prompt]:
    """Every transcript line of the Asterisk prompts, in file order (audio may be missing)."""
    out = []
    with gzip.open(text, "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith(";") or ":" not in line:
                continue
            name, _, said = line.partition(":")
            out.append(Prompt("asterisk", "901", sounds / f"{name.strip()}.wav", said.strip()))
    return out


def sphinx_prompts(data: Path = SPHINX_DATA) -> list[Prompt]:
    """The LibriVox and "cards" utterances of pocketsphinx's test data, in file order."""
    out = []
    for folder, speaker in (("librivox", "902"), ("cards", "903")):
        table = data / folder / ("transcription" if folder == "librivox" else "cards.transcription")
        for line in table.read_text(encoding="utf-8").splitlines():
            m = re.match(r"^\s*(?:<s>)?(.*?)(?:</s>)?\s*\((\S+)\)\s*$", line)
            if m:
                said, name = m.group(1).strip(), m.group(2)
                out.append(Prompt(f"pocketsphinx {folder}", speaker, data / folder / f"{name}.wav", said))
    return out


def build_real(out: Path | str, prompts: list[Prompt] | None = None) -> dict[str, Any]:
    """Write the corpus into ``out`` (see the module doc); returns its headline numbers.

    ``prompts`` defaults to every Asterisk and pocketsphinx prompt (the Debian packages must
    be installed: :func:`require_sources`). Every file is written atomically.
    """
    from nap.corpus.librispeech import read_audio

    out = Path(out)
    if prompts is None:
        require_sources()
        prompts = asterisk_prompts() + sphinx_prompts()
    dropped: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    count: Counter[str] = Counter()
    lines: dict[str, list[str]] = {}
    rows = []
    seconds = 0.0
    for p in prompts:
        text, why = normalize_transcript(p.transcript)
        if text is not None and not p.path.is_file():
            why = "no audio"
        if why:
            dropped[why] += 1
            examples.setdefault(why, [])
            if len(examples[why]) < 5:
                examples[why].append(f"{p.path.name}: {p.transcript[:60]}")
            continue
        uid = f"{p.speaker}-1-{count[p.speaker]:04d}"
        count[p.speaker] += 1
        audio = read_audio(p.path)
        seconds += len(audio) / 16000
        with atomic_path(out / SUBSET / p.speaker / "1" / f"{uid}.flac") as tmp:
            sf.write(tmp, audio, 16000, format="FLAC", subtype="PCM_16")
        lines.setdefault(p.speaker, []).append(f"{uid} {text.upper()}\n")
        rows.append(f"{uid}\t{p.source}\t{p.path}\t{p.transcript}\n")
    if not rows:
        raise RealCorpusError(f"no usable prompt among {len(prompts)} ({dict(dropped)} dropped)")
    for speaker, ls in lines.items():
        with atomic_path(out / SUBSET / speaker / "1" / f"{speaker}-1.trans.txt") as tmp:
            tmp.write_text("".join(ls), encoding="utf-8")
    with atomic_path(out / "sources.tsv") as tmp:
        tmp.write_text("utterance\tsource\tfile\ttranscript\n" + "".join(rows), encoding="utf-8")
    meta = {
        "source": "real",
        "subset": SUBSET,
        "utterances": len(rows),
        "minutes": round(seconds / 60, 2),
        "speakers": {s: {"label": SPEAKERS[s], "utterances": count[s]} for s in sorted(count)},
        "dropped": dict(sorted(dropped.items())),
        "dropped_examples": examples,
        "licences": {
            "asterisk": "CC-BY-SA 3.0 (Allison Smith, Digium), Debian asterisk-core-sounds-en(-wav)",
            "pocketsphinx": "LibriVox (public domain) and CMU test data, Debian pocketsphinx-testdata",
        },
    }
    write_json(out / "corpus.json", meta)
    return {k: meta[k] for k in ("utterances", "minutes", "dropped")}


def open_real(folder: Path | str) -> Any:
    """The corpus :func:`build_real` wrote into ``folder`` as a :class:`nap.corpus.Corpus` (one split,
    ``real``); the first call writes its index (``index.tsv``), as the corpus stage does."""
    from nap.corpus.librispeech import scan
    from nap.corpus.stage import INDEX, Corpus, _utterances, write_index

    folder = Path(folder)
    if not (folder / INDEX).is_file():
        entries, _ = scan(folder, [SUBSET], verify_audio=False, progress=False)
        write_index(folder, _utterances(entries, None, read_json(folder / "corpus.json"), folder))
    return Corpus.open(folder)
