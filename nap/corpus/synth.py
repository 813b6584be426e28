"""The embedded corpus: many synthetic voices speaking fortune sentences, in LibriSpeech layout.

``synthesize(out, minutes, seed)`` writes::

    <out>/corpus.json                      voices, engines, splits, counts, seed, options
    <out>/README.txt                       this layout, for readers without nap
    <out>/<split>/phones.tsv               true phones of every utterance of the split
    <out>/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<nnnn>.flac   16 kHz mono, 16 bit
    <out>/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt     "<id> <TEXT IN CAPITALS>"

``phones.tsv`` is tab-separated with a header ``utterance phone start end``: one row per
phone, in order, times in seconds (4 decimals) from the start of the FLAC file; a phone is
one of the 39 ARPAbet phones without stress, or ``sil`` for silence and pauses. The phones
of an utterance tile it from 0 to its duration.

A *speaker* is one voice configuration: engine + voice + variant + rate + pitch. Splits:

* ``train`` — the training voices, sentences of the training pool;
* ``test_sentences`` — the training voices speaking held-out sentences (chapter 2);
* ``test_voices`` — held-out voices (espeak-ng language+variant pairs never used in
  training, and a flite voice never used in training) speaking held-out sentences (chapter 3).

No sentence of either test split occurs in ``train``. Everything follows from ``seed``: the
sentence order, the voices, rates and pitches, which voices are held out. How much each
speaker says is planned from an estimate of each sentence's duration, so the plan does not
depend on the order in which worker processes finish; the corpus comes out within a few
percent of ``minutes``. Every file is written to a temporary name and renamed; an
interrupted run resumes, skipping utterances already written.
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import soundfile as sf

from nap.corpus.audio import SAMPLE_RATE, Synthesis
from nap.errors import NapError
from nap.store import atomic_path, stable_hash, write_json

SPLITS = ("train", "test_sentences", "test_voices")
CHAPTER = {"train": 1, "test_sentences": 2, "test_voices": 3}
ENGINES = ("espeak", "flite", "piper")
#: The engines a corpus uses unless told otherwise (piper is opt-in).
DEFAULT_ENGINES = ("espeak", "flite")
FORMAT_VERSION = 1
WORK = ".work"


README = """A speech corpus synthesized by nap (nap.corpus.synth), in LibriSpeech layout.

corpus.json                       voices (speakers), engines, splits, counts, seed, options
<split>/phones.tsv                true phones: utterance, phone, start, end (seconds, tab-separated);
                                  phones are the 39 ARPAbet phones without stress, or 'sil'
<split>/<speaker>/<chapter>/<speaker>-<chapter>-<nnnn>.flac   16 kHz mono, 16 bit
<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt     "<utterance id> <TRANSCRIPT>"

Splits: train; test_sentences (training voices, held-out sentences); test_voices (held-out
voices, held-out sentences). A speaker is one voice configuration (engine, voice, variant,
rate, pitch), described in corpus.json.
"""


#: piper's seconds per utterance ~ a + b x characters (fitted on 40 fortune sentences, rate 1).
PIPER_SECONDS = (0.20, 0.054)


class SynthError(NapError, RuntimeError):
    """The corpus could not be synthesized."""


@dataclass(frozen=True)
class Voice:
    """A voice configuration (= a speaker).

    espeak: ``name`` is the language (``en-us``), ``variant`` e.g. ``m3``, ``rate`` words per
    minute, ``pitch`` 0-100. flite: ``name`` is the voice (``slt``), ``rate`` a speed factor,
    ``pitch`` an F0 factor (1.0 = the voice's own). piper: ``name`` is the voice (``joe``),
    ``rate`` a speed factor (1 / length scale), ``variant`` its noise scales
    ``"<noise_scale>/<noise_w>"`` (:mod:`nap.corpus.piper`); it has no pitch control.
    """

    engine: str
    name: str
    variant: str = ""
    rate: float = 175
    pitch: float = 50

    @property
    def label(self) -> str:
        if self.engine == "espeak":
            v = f"{self.name}+{self.variant}" if self.variant else self.name
            return f"espeak {v} rate {self.rate:g} pitch {self.pitch:g}"
        if self.engine == "piper":
            return f"piper {self.name} rate {self.rate:g} noise {self.variant}"
        return f"{self.engine} {self.name} rate {self.rate:g} pitch {self.pitch:g}"

    def speak(self, text: str) -> Synthesis:
        if self.engine == "espeak":
            from nap.corpus import espeak

            return espeak.synthesize(
                text, self.name, self.variant, int(self.rate), int(self.pitch), SAMPLE_RATE
            )
        if self.engine == "flite":
            from nap.corpus import flite

            return flite.synthesize(text, self.name, self.rate, self.pitch, SAMPLE_RATE)
        if self.engine == "piper":
            from nap.corpus import piper

            noise_scale, noise_w = (float(x) for x in self.variant.split("/"))
            return piper.synthesize(text, self.name, self.rate, noise_scale, noise_w, SAMPLE_RATE)
        raise SynthError(f"unknown engine {self.engine!r}; engines are {', '.join(ENGINES)}")

    def estimate_seconds(self, spoken: str) -> float:
        """Rough duration of ``spoken`` (calibrated on the fortune sentences) for planning."""
        if self.engine == "espeak":
            return (0.47 + 0.050 * len(spoken)) * 175.0 / self.rate
        if self.engine == "piper":
            return (PIPER_SECONDS[0] + PIPER_SECONDS[1] * len(spoken)) / self.rate
        a, b = {"kal16": (0.24, 0.054), "awb": (0.48, 0.053), "rms": (0.57, 0.059)}.get(
            self.name, (0.6, 0.051)
        )
        return (a + b * len(spoken)) / self.rate


@dataclass
class SynthOptions:
    """What ``synthesize`` varies besides minutes and seed (see CorpusParams for the meanings)."""

    engines: list[str] = field(default_factory=lambda: list(DEFAULT_ENGINES))
    espeak_voices: int = 24
    flite_voices: int = 8
    test_espeak_voices: int = 4
    test_flite_voices: int = 2
    flite_heldout: int = 1
    test_sentences_fraction: float = 0.045
    test_voices_fraction: float = 0.045
    min_words: int = 3
    max_words: int = 12
    espeak_rate: list[int] = field(default_factory=lambda: [140, 210])
    espeak_pitch: list[int] = field(default_factory=lambda: [30, 70])
    flite_rate: list[float] = field(default_factory=lambda: [0.85, 1.15])
    flite_pitch: list[float] = field(default_factory=lambda: [0.85, 1.2])
    piper_voices: int = 0
    test_piper_voices: int = 0
    piper_rate: list[float] = field(default_factory=lambda: [0.85, 1.15])
    piper_noise_scale: list[float] = field(default_factory=lambda: [0.45, 0.85])
    piper_noise_w: list[float] = field(default_factory=lambda: [0.5, 1.0])

    def key(self) -> dict[str, Any]:
        """The options that make the corpus key: the ``piper_*`` ones only when piper is an
        engine, so a corpus without piper keeps the key it had before piper was added."""
        out = asdict(self)
        if "piper" not in self.engines:
            out = {k: v for k, v in out.items() if not k.startswith("piper_") and k != "test_piper_voices"}
        return out

    def check(self) -> None:
        bad = sorted(set(self.engines) - set(ENGINES))
        if bad or not self.engines:
            raise SynthError(f"engines {self.engines!r}: choose from {', '.join(ENGINES)}")
        for name in ("test_sentences_fraction", "test_voices_fraction"):
            if not 0 <= getattr(self, name) < 0.5:
                raise SynthError(f"{name} must lie in [0, 0.5), got {getattr(self, name)}")
        if not 1 <= self.min_words <= self.max_words:
            raise SynthError(f"need 1 <= min_words <= max_words, got {self.min_words}, {self.max_words}")
        if "piper" in self.engines:
            from nap.corpus import piper

            piper.require_piper()


@dataclass(frozen=True)
class Job:
    """One utterance to synthesize."""

    id: str
    split: str
    speaker: int
    text: str
    spoken: str
    voice: Voice

    @property
    def chapter(self) -> int:
        return CHAPTER[self.split]

    def folder(self, out: Path) -> Path:
        return out / self.split / str(self.speaker) / str(self.chapter)


# -- planning ---------------------------------------------------------------------------------
def _weighted_order(items: list[Any], weights: list[float], rng: random.Random) -> list[Any]:
    """A weighted random order without replacement (Efraimidis-Spirakis keys)."""
    keys = [rng.random() ** (1.0 / w) for w in weights]
    order = sorted(range(len(items)), key=lambda i: keys[i], reverse=True)
    return [items[i] for i in order]


def plan_voices(seed: int, opts: SynthOptions) -> tuple[list[Voice], list[Voice]]:
    """(training voices, held-out voices); held-out espeak voices use language+variant pairs
    that no training voice uses, held-out flite voices a flite voice no training voice uses."""
    from nap.corpus import espeak, flite

    rng = random.Random(f"voices-{seed}")
    train: list[Voice] = []
    test: list[Voice] = []
    if "espeak" in opts.engines:
        pairs = [(lang, var) for lang in espeak.LANGUAGES for var in espeak.VARIANTS]
        weights = [4.0 if lang == "en-us" else 1.0 for lang, _ in pairs]  # mostly American voices
        order = _weighted_order(pairs, weights, rng)
        need = opts.espeak_voices + opts.test_espeak_voices
        if need > len(order):
            raise SynthError(f"espeak has {len(order)} language+variant pairs, {need} voices asked")
        for i, (lang, var) in enumerate(order[:need]):
            v = Voice("espeak", lang, var, rng.randint(*opts.espeak_rate), rng.randint(*opts.espeak_pitch))
            (test if i < opts.test_espeak_voices else train).append(v)
    if "flite" in opts.engines and (opts.flite_voices or opts.test_flite_voices):
        names = list(flite.VOICES)
        rng.shuffle(names)
        held = names[: opts.flite_heldout] if opts.test_flite_voices else []
        kept = [n for n in names if n not in held]
        if (opts.flite_voices and not kept) or (opts.test_flite_voices and not held):
            raise SynthError(f"flite_heldout={opts.flite_heldout} leaves no flite voice for a split")

        def fv(name: str) -> Voice:
            return Voice(
                "flite",
                name,
                "",
                round(rng.uniform(*opts.flite_rate), 2),
                round(rng.uniform(*opts.flite_pitch), 2),
            )

        train += [fv(kept[i % len(kept)]) for i in range(opts.flite_voices)]
        test += [fv(held[i % len(held)]) for i in range(opts.test_flite_voices)]
    if "piper" in opts.engines:
        from nap.corpus import piper

        def pv() -> Voice:
            scales = f"{rng.uniform(*opts.piper_noise_scale):.2f}/{rng.uniform(*opts.piper_noise_w):.2f}"
            return Voice("piper", piper.VOICES[0], scales, round(rng.uniform(*opts.piper_rate), 2), 1.0)

        train += [pv() for _ in range(opts.piper_voices)]
        test += [pv() for _ in range(opts.test_piper_voices)]
    if not train:
        raise SynthError("no training voices: raise espeak_voices, flite_voices or piper_voices")
    return train, test


def plan(minutes: float, seed: int, opts: SynthOptions) -> tuple[list[Job], dict[int, Voice]]:
    """Every utterance of the corpus (deterministic from ``seed``) and the speakers' voices."""
    from nap.corpus.text import sentences

    if minutes <= 0:
        raise SynthError(f"minutes must be positive, got {minutes}")
    opts.check()
    train_voices, test_voices = plan_voices(seed, opts)
    speakers: dict[int, Voice] = {}
    for i, v in enumerate(train_voices + test_voices):
        speakers[101 + i] = v
    train_ids = list(speakers)[: len(train_voices)]
    test_ids = list(speakers)[len(train_voices) :]
    pool = sentences(seed, opts.min_words, opts.max_words)
    budget = {
        "test_sentences": minutes * 60 * opts.test_sentences_fraction,
        "test_voices": minutes * 60 * opts.test_voices_fraction if test_ids else 0.0,
    }
    budget["train"] = minutes * 60 - budget["test_sentences"] - budget["test_voices"]
    jobs: list[Job] = []
    cursor = 0  # test splits take fresh sentences from the front of the pool
    for split in ("test_sentences", "test_voices", "train"):
        ids = test_ids if split == "test_voices" else train_ids
        if not ids or budget[split] <= 0:
            continue
        if split == "train":  # the rest of the pool, repeated (by other speakers) if too short
            rest = pool[cursor:]
            if not rest:
                raise SynthError("the test splits used every sentence: lower minutes or the test fractions")
            take = itertools.cycle(rest)
        else:
            take = iter(pool[cursor:])
        order = list(ids)
        random.Random(f"{split}-{seed}").shuffle(order)  # who speaks first when the budget is small
        spent = 0.0
        count: Counter[int] = Counter()
        while spent < budget[split]:
            for s in order:
                if spent >= budget[split]:
                    break
                sent = next(take, None)
                if sent is None:
                    raise SynthError(f"not enough sentences for {split}: lower minutes or the test fractions")
                cursor += split != "train"
                jobs.append(
                    Job(f"{s}-{CHAPTER[split]}-{count[s]:04d}", split, s, sent.text, sent.spoken, speakers[s])
                )
                count[s] += 1
                spent += speakers[s].estimate_seconds(sent.spoken)
    return jobs, speakers


# -- rendering (in worker processes) ------------------------------------------------------------
def _phones_cache(out: Path, utt_id: str) -> Path:
    return out / WORK / "phones" / f"{utt_id}.tsv"


def _done(out: Path, job: Job) -> bool:
    return (job.folder(out) / f"{job.id}.flac").is_file() and _phones_cache(out, job.id).is_file()


def render(job: Job, out: Path) -> tuple[str, float, int]:
    """Synthesize one utterance; write its phones (cache) and FLAC file atomically."""
    syn = job.voice.speak(job.spoken)
    check_phones(syn, f"{job.id} ({job.voice.label}: {job.spoken!r})")
    with atomic_path(_phones_cache(out, job.id)) as tmp:
        tmp.write_text("".join(f"{p}\t{s:.4f}\t{e:.4f}\n" for p, s, e in syn.phones))
    with atomic_path(job.folder(out) / f"{job.id}.flac") as tmp:
        sf.write(tmp, syn.audio, syn.sample_rate, format="FLAC", subtype="PCM_16")
    return job.id, syn.seconds, len(syn.phones)


def _render_star(args: tuple[Job, Path]) -> tuple[str, float, int]:
    return render(*args)


def check_phones(syn: Synthesis, what: str) -> None:
    """The phones tile the audio from 0 to its end with known symbols, or SynthError."""
    from nap.corpus.phones import PHONES, SIL

    known = set(PHONES) | {SIL}
    if len(syn.audio) == 0 or not syn.phones:
        raise SynthError(f"{what}: the engine produced no audio or no phones")
    t = 0.0
    for p, s, e in syn.phones:
        if p not in known or abs(s - t) > 1e-6 or e <= s:
            raise SynthError(f"{what}: bad phone interval {(p, s, e)} after {t:.4f} s")
        t = e
    if abs(t - syn.seconds) > 1e-3:
        raise SynthError(f"{what}: phones end at {t:.4f} s, audio at {syn.seconds:.4f} s")


def _run(jobs: list[Job], out: Path, workers: int, progress: bool) -> Iterator[tuple[str, float, int]]:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc="synthesizing", unit="utt", disable=not progress or not jobs)
    try:
        if workers <= 1 or len(jobs) < 2:
            for job in jobs:
                yield render(job, out)
                bar.update()
        else:
            from nap.procs import pool

            with pool(workers) as procs:
                for res in procs.imap_unordered(_render_star, [(j, out) for j in jobs], chunksize=4):
                    yield res
                    bar.update()
    finally:
        bar.close()


# -- the corpus ---------------------------------------------------------------------------------
def synthesize(
    out: Path | str,
    minutes: float = 60.0,
    seed: int = 0,
    workers: int = 2,
    progress: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """Synthesize ``minutes`` of speech into ``out`` (LibriSpeech layout, see the module doc).

    ``options`` are the fields of :class:`SynthOptions`. Returns headline numbers. Resumes
    an interrupted run into the same folder; a finished folder with the same settings is
    left as it is.
    """
    out = Path(out)
    unknown = sorted(set(options) - set(SynthOptions.__dataclass_fields__))
    if unknown:
        raise SynthError(
            f"unknown synthesis option(s) {', '.join(unknown)}; "
            f"options are {', '.join(SynthOptions.__dataclass_fields__)}"
        )
    opts = SynthOptions(**options)
    settings = {
        "format": FORMAT_VERSION,
        "minutes": float(minutes),
        "seed": int(seed),
        "options": opts.key(),
    }
    key = stable_hash(settings)
    meta_path = out / "corpus.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("key") == key:
            return _summary(meta, 0.0, 0)
        raise SynthError(
            f"{out} already holds a corpus made with other settings; use another folder or delete it"
        )
    start = time.time()
    jobs, speakers = plan(minutes, seed, opts)
    work = out / WORK
    plan_file = work / "plan.json"
    if plan_file.is_file() and json.loads(plan_file.read_text()).get("key") != key:
        for split in SPLITS:  # an unfinished corpus with other settings: ours to replace
            shutil.rmtree(out / split, ignore_errors=True)
        shutil.rmtree(work)
    write_json(plan_file, {"key": key, **settings})
    todo = [j for j in jobs if not _done(out, j)]
    for _ in _run(todo, out, workers, progress):
        pass
    meta = _finish(out, jobs, speakers, settings, key)
    shutil.rmtree(work)
    return _summary(meta, time.time() - start, len(todo))


def _finish(
    out: Path, jobs: list[Job], speakers: dict[int, Voice], settings: dict[str, Any], key: str
) -> dict[str, Any]:
    """Write transcripts, phone tables, README and corpus.json from the rendered utterances."""
    by_split: dict[str, list[Job]] = {s: [] for s in SPLITS}
    for j in jobs:
        by_split[j.split].append(j)
    splits: dict[str, Any] = {}
    phone_counts: dict[str, dict[str, int]] = {}
    for split, js in by_split.items():
        js.sort(key=lambda j: (j.speaker, j.id))
        rows, seconds, counts = [], 0.0, Counter()
        chapters: dict[Path, list[str]] = {}
        for j in js:
            lines = _phones_cache(out, j.id).read_text().splitlines()
            for ln in lines:
                p, s, e = ln.split("\t")
                rows.append(f"{j.id}\t{p}\t{s}\t{e}\n")
                counts[p] += 1
            seconds += float(lines[-1].split("\t")[2])
            chapters.setdefault(j.folder(out), []).append(f"{j.id} {j.text.upper()}\n")
        for folder, lines in chapters.items():
            with atomic_path(folder / f"{folder.parent.name}-{folder.name}.trans.txt") as tmp:
                tmp.write_text("".join(lines))
        if js:
            with atomic_path(out / split / "phones.tsv") as tmp:
                tmp.write_text("utterance\tphone\tstart\tend\n" + "".join(rows))
        splits[split] = {
            "utterances": len(js),
            "seconds": round(seconds, 2),
            "speakers": sorted({j.speaker for j in js}),
        }
        phone_counts[split] = dict(sorted(counts.items()))
    engines = sorted({v.engine for v in speakers.values()})
    meta = {
        "source": "synth",
        "key": key,
        **settings,
        "sample_rate": SAMPLE_RATE,
        "engines": engines,
        "splits": splits,
        "speakers": {
            str(s): {
                **asdict(v),
                "label": v.label,
                "splits": [sp for sp in SPLITS if s in splits[sp]["speakers"]],
            }
            for s, v in speakers.items()
            if any(s in splits[sp]["speakers"] for sp in SPLITS)  # a tiny corpus leaves some voices unused
        },
        "phone_counts": phone_counts,
        "text_source": "Debian fortunes (/usr/share/games/fortunes), see nap.corpus.text",
        "phones_file": "<split>/phones.tsv: utterance, phone (39 ARPAbet without stress or 'sil'), "
        "start, end (seconds)",
    }
    with atomic_path(out / "README.txt") as tmp:
        tmp.write_text(README)
    write_json(out / "corpus.json", meta)
    return meta


def _summary(meta: dict[str, Any], seconds: float, rendered: int) -> dict[str, Any]:
    splits = meta["splits"]
    total = sum(s["seconds"] for s in splits.values())
    return {
        "hours": round(total / 3600, 3),
        "minutes": round(total / 60, 2),
        "utterances": sum(s["utterances"] for s in splits.values()),
        "voices": len(meta["speakers"]),
        "engines": meta["engines"],
        "split_utterances": {k: s["utterances"] for k, s in splits.items()},
        "split_minutes": {k: round(s["seconds"] / 60, 2) for k, s in splits.items()},
        "split_voices": {k: len(s["speakers"]) for k, s in splits.items()},
        "phones": sum(sum(c.values()) for c in meta["phone_counts"].values()),
        "rendered": rendered,
        "synthesis_seconds": round(seconds, 2),
    }
