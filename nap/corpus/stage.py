"""The corpus stage: ``build_corpus(work, p)`` and the loader ``Corpus.open(path)``.

For ``source="synth"`` the stage synthesizes the embedded corpus into its folder
(:func:`nap.corpus.synth.synthesize`; resumable); for ``source="librispeech"`` it indexes
the user's tree without copying it. Either way the LibriSpeech reader
(:mod:`nap.corpus.librispeech`) then checks every utterance under the ``on_bad_input``
policy and the stage writes

* ``index.tsv`` — one row per utterance: ``id split speaker chapter voice seconds path text``
  (tab-separated; ``path`` relative to the folder for the embedded corpus, absolute for
  LibriSpeech; ``text`` lowercase);
* ``bad_input.json`` — what was skipped, why, examples, how many files were resampled;
* for LibriSpeech ``tree.tsv`` — every audio and transcript file of the tree with its size and
  modification time (:func:`nap.corpus.librispeech.listing`; its digest is part of the key,
  so a changed tree is indexed again, and the next build says what changed);
* ``lm_text.txt`` — text-only sentences for language models, one per line, lowercase: for the
  embedded corpus every sentence of the text source except the held-out splits' (so a
  language model sees far more text than the training audio says, as LibriSpeech's own LM
  corpus does), for LibriSpeech the training transcripts;
* for the embedded corpus also ``corpus.json``, ``README.txt``, ``<split>/phones.tsv`` and the
  audio (see :mod:`nap.corpus.synth`).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from nap.corpus.librispeech import (
    BadInputReport,
    Entry,
    LibriSpeechError,
    Listing,
    changes,
    read_audio,
    scan,
)
from nap.corpus.params import CorpusParams
from nap.corpus.synth import SPLITS, synthesize
from nap.params import ParamError
from nap.store import atomic_path, read_json, write_json

INDEX = "index.tsv"
LM_TEXT = "lm_text.txt"
TREE = "tree.tsv"
_COLUMNS = ("id", "split", "speaker", "chapter", "voice", "seconds", "path", "text")


def workers() -> int:
    """Worker processes for synthesis and audio checks: ``$NAP_WORKERS``, else up to 4 cores."""
    env = os.environ.get("NAP_WORKERS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ParamError(f"environment variable NAP_WORKERS must be an integer, got {env!r}") from None
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class Utterance:
    """One utterance: ``voice`` describes the speaker (engine, voice, rate, pitch, or a LibriSpeech id)."""

    id: str
    speaker: str
    path: Path
    text: str
    split: str
    voice: str
    seconds: float = 0.0
    chapter: str = ""


class Corpus:
    """A built corpus: utterances per split, their audio, and (embedded corpus) true phones."""

    def __init__(self, path: Path, utterances: list[Utterance], info: dict[str, Any]):
        self.path = Path(path)
        self.info = info
        self.utterances = utterances
        self._by_id = {u.id: u for u in utterances}

    # -- loading ----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike) -> Corpus:
        """The corpus in ``path``: a corpus stage artifact, or a folder written by ``synthesize``."""
        path = Path(path)
        if not path.is_dir():
            raise LibriSpeechError(f"corpus folder {path} does not exist")
        info = (
            read_json(path / "corpus.json") if (path / "corpus.json").is_file() else {"source": "librispeech"}
        )
        if (path / INDEX).is_file():
            return cls(path, read_index(path), info)
        if info.get("source") == "synth":
            entries, _ = scan(path, [s for s in SPLITS if (path / s).is_dir()], verify_audio=False)
            return cls(path, _utterances(entries, {e.subset for e in entries}, info, path), info)
        raise LibriSpeechError(f"{path} holds neither {INDEX} nor a synthesized corpus.json")

    # -- contents ---------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return str(self.info.get("source", "librispeech"))

    @cached_property
    def splits(self) -> dict[str, list[Utterance]]:
        out: dict[str, list[Utterance]] = {s: [] for s in SPLITS}
        for u in self.utterances:
            out.setdefault(u.split, []).append(u)
        return out

    @property
    def ids(self) -> list[str]:
        return [u.id for u in self.utterances]

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, utt_id: str) -> Utterance:
        try:
            return self._by_id[utt_id]
        except KeyError:
            raise KeyError(f"no utterance {utt_id!r} in the corpus at {self.path}") from None

    def lm_texts(self) -> list[str]:
        """Sentences for a language model: ``lm_text.txt`` (see the module doc), else the
        training transcripts; never a held-out sentence."""
        path = self.path / LM_TEXT
        if path.is_file():
            return path.read_text(encoding="utf-8").splitlines()
        return [u.text for u in self.splits["train"]]

    def audio(self, utt: str | Utterance) -> np.ndarray:
        """Mono float32 audio at 16 kHz (resampled when the file has another rate)."""
        u = self[utt] if isinstance(utt, str) else utt
        return read_audio(u.path)

    @cached_property
    def _phones(self) -> dict[str, list[tuple[str, float, float]]]:
        table: dict[str, list[tuple[str, float, float]]] = {}
        for split in SPLITS:
            f = self.path / split / "phones.tsv"
            if not f.is_file():
                continue
            with open(f, encoding="utf-8") as fh:
                next(fh)
                for line in fh:
                    uid, p, s, e = line.rstrip("\n").split("\t")
                    table.setdefault(uid, []).append((p, float(s), float(e)))
        return table

    def true_phones(self, utt_id: str) -> list[tuple[str, float, float]] | None:
        """(ARPAbet phone or ``sil``, start s, end s) of the utterance; None without timings."""
        return self._phones.get(utt_id)

    @property
    def has_true_phones(self) -> bool:
        return bool(self._phones)

    @property
    def voices(self) -> dict[str, str]:
        """speaker -> description of the voice."""
        return {u.speaker: u.voice for u in self.utterances}

    # -- statistics -------------------------------------------------------------------------
    def stats(self) -> list[dict[str, Any]]:
        """Per split: utterances, minutes, speakers, engines, words, phones (rows for a table)."""
        rows = []
        for split, utts in self.splits.items():
            phones = sum(len(self.true_phones(u.id) or []) for u in utts)
            rows.append(
                {
                    "split": split,
                    "utterances": len(utts),
                    "minutes": round(sum(u.seconds for u in utts) / 60, 2),
                    "speakers": len({u.speaker for u in utts}),
                    "engines": ", ".join(sorted({u.voice.split()[0] for u in utts})),
                    "words": sum(len(u.text.split()) for u in utts),
                    "phones": phones,
                }
            )
        return rows

    def phone_counts(self, split: str | None = None, silence: bool = False) -> Counter:
        """How often each true phone occurs (in one split, or all)."""
        counts: Counter = Counter()
        for u in self.splits[split] if split else self.utterances:
            counts.update(p for p, _, _ in self.true_phones(u.id) or [] if silence or p != "sil")
        return counts

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.splits.items())
        return f"Corpus({self.source}, {sizes}, path='{self.path}')"


# -- the index ------------------------------------------------------------------------------
def write_index(folder: Path, utterances: list[Utterance]) -> None:
    with atomic_path(folder / INDEX) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write("\t".join(_COLUMNS) + "\n")
        for u in utterances:
            path = u.path.relative_to(folder) if u.path.is_relative_to(folder) else u.path
            fh.write(
                f"{u.id}\t{u.split}\t{u.speaker}\t{u.chapter}\t{u.voice}\t{u.seconds:.4f}\t{path}\t{u.text}\n"
            )


def read_index(folder: Path) -> list[Utterance]:
    out = []
    with open(folder / INDEX, encoding="utf-8") as fh:
        header = next(fh).rstrip("\n").split("\t")
        if tuple(header) != _COLUMNS:
            raise LibriSpeechError(f"{folder / INDEX}: unexpected columns {header}")
        for line in fh:
            uid, split, speaker, chapter, voice, seconds, path, text = line.rstrip("\n").split("\t")
            p = Path(path)
            out.append(
                Utterance(
                    uid,
                    speaker,
                    p if p.is_absolute() else folder / p,
                    text,
                    split,
                    voice,
                    float(seconds),
                    chapter,
                )
            )
    return out


def write_lm_text(folder: Path, utterances: list[Utterance], p: CorpusParams) -> None:
    """Write ``lm_text.txt`` (see the module doc): never a sentence of a held-out split."""
    held_out = {u.text for u in utterances if u.split != "train"}
    if p.source == "synth":
        from nap.corpus.text import sentences

        texts = [s.text.lower() for s in sentences(p.seed, p.min_words, p.max_words)]
    else:
        texts = [u.text for u in utterances if u.split == "train"]
    with atomic_path(folder / LM_TEXT) as tmp:
        tmp.write_text("".join(t + "\n" for t in texts if t not in held_out), encoding="utf-8")


def _utterances(entries: list[Entry], split_of: Any, info: dict[str, Any], folder: Path) -> list[Utterance]:
    """Entries as Utterances; ``split_of`` maps an entry's subset (or id) to its split."""
    speakers = info.get("speakers", {})
    out = []
    for e in entries:
        split = split_of[e.id] if isinstance(split_of, dict) and e.id in split_of else e.subset
        voice = speakers.get(e.speaker, {}).get("label") or f"librispeech speaker {e.speaker}"
        out.append(Utterance(e.id, e.speaker, e.path, e.text, split, voice, e.seconds, e.chapter))
    return out


# -- the stage --------------------------------------------------------------------------------
def _tree_changed(work: Path, tree: Listing) -> str | None:
    """What changed in the tree since the newest finished corpus beside ``work`` that was built
    with the same parameters from the same root, or None (no such corpus, or no change).

    ``work`` is a store folder whose ``params.json`` the store wrote before the build.
    """
    from nap.store import PARAMS, StoreError

    def same(record: dict[str, Any]) -> dict[str, Any]:
        params = {k: v for k, v in record.get("params", {}).items() if k != "librispeech_tree"}
        return {"version": record.get("version"), "params": params}

    def earlier(other: Path) -> Listing | None:
        try:
            if same(read_json(other / PARAMS)) == wanted:
                return Listing.read(other / TREE)
        except (OSError, ValueError, StoreError):  # unreadable: it only served to say why
            pass
        return None

    if not (work / PARAMS).is_file():
        return None
    wanted = same(read_json(work / PARAMS))
    others = [f for f in work.parent.glob("corpus-*") if f != work and "." not in f.name]
    for other in sorted(others, key=lambda f: f.stat().st_mtime, reverse=True):
        old = earlier(other)
        if old is not None and old != tree:
            diff = changes(old, tree)
            return f"the LibriSpeech tree at {tree.root} changed since {other.name} indexed it: {diff}"
    return None


def build_corpus(work: Path, p: CorpusParams) -> dict[str, Any]:
    """Build the corpus into ``work`` (see the module doc); returns headline numbers."""
    work = Path(work)
    report = BadInputReport()
    if p.source == "synth":
        synth_summary = synthesize(
            work,
            minutes=p.minutes,
            seed=p.seed,
            workers=workers(),
            engines=p.engines_used,
            espeak_voices=p.espeak_voices,
            flite_voices=p.flite_voices,
            test_espeak_voices=p.test_espeak_voices,
            test_flite_voices=p.test_flite_voices,
            flite_heldout=p.flite_heldout,
            piper_voices=p.piper_voices,
            test_piper_voices=p.test_piper_voices,
            test_sentences_fraction=p.test_sentences_fraction,
            test_voices_fraction=p.test_voices_fraction,
            min_words=p.min_words,
            max_words=p.max_words,
        )
        info = read_json(work / "corpus.json")
        subsets = [s for s in SPLITS if (work / s).is_dir()]
        entries, report = scan(
            work, subsets, p.on_bad_input, p.verify_audio, p.max_seconds, workers(), report
        )
        utts = _utterances(entries, None, info, work)
    else:
        if not p.librispeech_root:
            raise ParamError(
                "corpus.librispeech_root is empty: set it to the folder holding the LibriSpeech "
                "subsets (e.g. in a profile file: params: {corpus: {librispeech_root: /data/LibriSpeech}})"
            )
        tree = p.librispeech_listing
        root = tree.root
        why = _tree_changed(work, tree)
        if why:
            print(f"[nap] corpus: {why}; indexing it again")
        train, report = scan(
            root, p.librispeech_train, p.on_bad_input, p.verify_audio, p.max_seconds, workers(), report
        )
        test: list[Entry] = []
        if p.librispeech_test:
            test, report = scan(
                root, p.librispeech_test, p.on_bad_input, p.verify_audio, p.max_seconds, workers(), report
            )
        ids = [e.id for e in train]
        held = set(random.Random(f"heldout-{p.seed}").sample(ids, round(len(ids) * p.librispeech_heldout)))
        split_of = {e.id: "test_sentences" if e.id in held else "train" for e in train}
        split_of.update({e.id: "test_voices" for e in test})
        info = {
            "source": "librispeech",
            "root": str(root),
            "train": list(p.librispeech_train),
            "test": list(p.librispeech_test),
            "heldout": p.librispeech_heldout,
            "seed": p.seed,
        }
        write_json(work / "corpus.json", info)
        tree.write(work / TREE)
        utts = _utterances(train + test, split_of, info, work)
    if not utts:
        raise LibriSpeechError(f"the corpus has no usable utterance ({report.total_skipped} skipped)")
    write_index(work, utts)
    write_lm_text(work, utts, p)
    write_json(work / "bad_input.json", report.to_dict())
    corpus = Corpus(work, utts, info)
    out = summary(corpus, report)
    if p.source == "synth":
        out["synthesis_seconds"] = synth_summary["synthesis_seconds"]
    return out


def summary(corpus: Corpus, report: BadInputReport | None = None) -> dict[str, Any]:
    """Headline numbers of a corpus."""
    seconds = sum(u.seconds for u in corpus.utterances)
    out: dict[str, Any] = {
        "source": corpus.source,
        "hours": round(seconds / 3600, 3),
        "utterances": len(corpus),
        "voices": len({u.speaker for u in corpus.utterances}),
        "engines": sorted({u.voice.split()[0] for u in corpus.utterances}),
        "split_utterances": {k: len(v) for k, v in corpus.splits.items()},
        "split_minutes": {k: round(sum(u.seconds for u in v) / 60, 2) for k, v in corpus.splits.items()},
        "split_voices": {k: len({u.speaker for u in v}) for k, v in corpus.splits.items()},
        "phones": sum(corpus.phone_counts(silence=False).values()),
    }
    if report is not None:
        out["bad_input_skipped"] = report.total_skipped
        out["resampled"] = report.resampled
    return out
