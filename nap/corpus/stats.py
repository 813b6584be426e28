"""Corpus statistics for chapter 1: voices, and how well the true phone timings match the audio."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import numpy as np

from nap.corpus.phones import SIL, VOWELS
from nap.corpus.stage import Corpus

#: Frames quieter than this (dB below the utterance's loudest 10 ms frame) count as silent.
SILENT_DB = -45.0


def voice_rows(corpus: Corpus) -> list[list[Any]]:
    """One row per speaker: speaker, splits, voice, utterances, minutes."""
    by: dict[str, dict[str, Any]] = {}
    for u in corpus.utterances:
        row = by.setdefault(u.speaker, {"splits": [], "voice": u.voice, "n": 0, "s": 0.0})
        if u.split not in row["splits"]:
            row["splits"].append(u.split)
        row["n"] += 1
        row["s"] += u.seconds
    return [
        [spk, ", ".join(r["splits"]), r["voice"], r["n"], round(r["s"] / 60, 2)]
        for spk, r in sorted(by.items(), key=lambda kv: (kv[1]["splits"][0] == "test_voices", kv[0]))
    ]


def frame_db(audio: np.ndarray, hop: int = 160) -> np.ndarray:
    """Energy of consecutive 10 ms frames, in dB below the loudest frame."""
    n = len(audio) // hop
    x = np.asarray(audio[: n * hop], dtype=np.float64).reshape(n, hop)
    db = 10 * np.log10(np.mean(x**2, axis=1) + 1e-12)
    return db - db.max()


def timing_energy(
    corpus: Corpus, utterances: int = 200, seed: int = 0, margin_s: float = 0.015
) -> list[list[Any]]:
    """Energy inside true vowels, consonants and silences, per engine: the timings checked against the audio.

    For up to ``utterances`` utterances (a seeded sample), every 10 ms frame lying inside a
    phone (``margin_s`` away from its edges) is sorted by the phone's kind. Rows: engine,
    kind, frames, median dB (below the utterance's loudest frame), share of silent frames.
    Vowels should be loud and almost never silent, ``sil`` quiet; consonants lie between
    (stop closures are silent by nature).
    """
    utts = [u for u in corpus.utterances if corpus.true_phones(u.id)]
    if len(utts) > utterances:
        utts = random.Random(seed).sample(utts, utterances)
    found: dict[tuple[str, str], list[np.ndarray]] = defaultdict(list)
    for u in utts:
        db = frame_db(corpus.audio(u))
        engine = u.voice.split()[0]
        for p, s, e in corpus.true_phones(u.id) or []:
            a, b = int(np.ceil((s + margin_s) * 100)), int((e - margin_s) * 100)
            if b > a:
                kind = "sil" if p == SIL else "vowel" if p in VOWELS else "consonant"
                found[(engine, kind)].append(db[a:b])
    rows = []
    for (engine, kind), parts in sorted(found.items()):
        v = np.concatenate(parts)
        rows.append(
            [engine, kind, len(v), round(float(np.median(v)), 1), round(float(np.mean(v < SILENT_DB)), 3)]
        )
    return rows
