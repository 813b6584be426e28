"""The ``real_speech`` stage: human recordings through the study's recognizer, cascade and NAPs.

``build_real_speech(work, p, corpus, features, recognizer, g2p, labels, napset, clustering)``
reads the synthetic study's results and writes into ``work``:

* ``corpus/`` — the ``real`` corpus (:mod:`nap.corpus.real`: Asterisk prompts and LibriVox
  clips, 16 kHz, LibriSpeech layout, ``index.tsv``), every usable prompt;
* ``features/`` — its features, computed by :func:`nap.features.build_features` with the
  features stage's parameters;
* ``reference_phones.tsv`` — ``utterance, phone, start_s, end_s``: the **reference
  aligner's** phones (pocketsphinx forced alignment of the transcript,
  :mod:`nap.corpus.reference_aligner`) for the studied utterances. A reference, not ground
  truth; ``calibration.json`` says how far it agrees with exact timings on
  ``calibration_utterances`` synthetic test utterances;
* ``recognition.json`` — the recognizer's greedy and beam transcripts, CER and WER, overall
  and per speaker;
* ``cascade.json`` — the cascade's (paper Figure 2, the study's G2P, the emission delays the
  align stage measured) frame accuracy against the aligner's phones;
* ``naps/`` — NAPs of real speech (a :class:`nap.naps.NapSet`, the naps stage's layers,
  normalization and minimum count), groupings ``phoneme_reference`` (the aligner's phone at
  each output frame's centre) and ``phoneme`` (the cascade's), with a probe sample;
* ``similarity.json`` — per grouping and layer, how alike the real and synthetic NAPs are
  (:mod:`nap.real_speech.similarity`).

Without the packages (pocketsphinx, the Debian sound packages) the stage writes only
``missing.json``, and its summary says what to install; the study goes on.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from nap.corpus.packages import MissingPackageError
from nap.errors import NapError
from nap.hardware import resolve_threads
from nap.real_speech.params import RealSpeechParams
from nap.store import PARAMS, atomic_path, read_json, write_json

#: How the summary says that the stage ran without its packages (see :func:`missing_summary`).
RERUN = "then rebuild this stage: nap build real_speech --force"


def require_packages() -> None:
    """The NapError naming what to install when the real corpus or the reference aligner is missing."""
    from nap.corpus.real import require_sources
    from nap.corpus.reference_aligner import require_aligner

    problems = []
    for check in (require_sources, require_aligner):
        try:
            check()
        except NapError as exc:
            problems.append(str(exc))
    if problems:
        raise MissingPackageError("; ".join(problems))


def missing_summary(work: Path, why: str) -> dict[str, Any]:
    """The stage's result without its packages: what to install, and nothing else."""
    out = {"available": False, "missing": f"{why}; {RERUN}"}
    write_json(Path(work) / "missing.json", out)
    return out


def stage_params(artifact: Any, cls: Any) -> Any:
    """The parameters a loaded result was built with (its folder's ``params.json``), else the defaults."""
    path = Path(getattr(artifact, "path", "") or "") / PARAMS
    return cls.from_dict(read_json(path)["params"]) if path.is_file() else cls()


def select(utterances: list[Any], p: RealSpeechParams) -> list[Any]:
    """The utterances studied: all, or a seeded sample of ``max_utterances`` in corpus order."""
    if not p.max_utterances or p.max_utterances >= len(utterances):
        return list(utterances)
    picked = set(random.Random(f"real-{p.seed}").sample(range(len(utterances)), p.max_utterances))
    return [u for i, u in enumerate(utterances) if i in picked]


# -- the reference aligner -----------------------------------------------------------------------
def _align_one(item: tuple[str, str, str]) -> tuple[str, list[tuple[str, float, float]] | None, str]:
    """(id, phones or None, why not) of one utterance ``(id, audio file, transcript)``."""
    from nap.corpus.librispeech import read_audio
    from nap.corpus.reference_aligner import AlignerError, align

    uid, path, text = item
    try:
        return uid, align(read_audio(Path(path)), text).phones, ""
    except AlignerError as exc:
        return uid, None, str(exc)


def reference_phones(
    utterances: list[Any], workers: int
) -> tuple[dict[str, list[tuple[str, float, float]]], dict[str, str], float]:
    """The aligner's phones per utterance, the utterances it could not align (with why), seconds."""
    start = time.time()
    items = [(u.id, str(u.path), u.text) for u in utterances]
    if workers > 1 and len(items) > 1:
        from nap.procs import pool

        with pool(min(workers, len(items))) as pl:
            found = pl.map(_align_one, items, chunksize=4)
    else:
        found = [_align_one(it) for it in items]
    phones = {uid: ph for uid, ph, _ in found if ph is not None}
    failed = {uid: why for uid, ph, why in found if ph is None}
    return phones, failed, time.time() - start


def write_phones(path: Path, phones: dict[str, list[tuple[str, float, float]]]) -> None:
    with atomic_path(path) as tmp:
        rows = [f"{u}\t{p}\t{s:.3f}\t{e:.3f}\n" for u, segs in phones.items() for p, s, e in segs]
        tmp.write_text("utterance\tphone\tstart_s\tend_s\n" + "".join(rows), encoding="utf-8")


def read_phones(path: Path) -> dict[str, list[tuple[str, float, float]]]:
    out: dict[str, list[tuple[str, float, float]]] = {}
    with open(path, encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            u, p, s, e = line.rstrip("\n").split("\t")
            out.setdefault(u, []).append((p, float(s), float(e)))
    return out


def calibration(corpus: Any, p: RealSpeechParams) -> dict[str, Any]:
    """The aligner's agreement with the exact timings of ``calibration_utterances`` synthetic test
    utterances (seeded sample of ``calibration_splits``); see :func:`reference_aligner.calibrate`."""
    from nap.corpus.reference_aligner import calibrate

    pool_ = [u for s in p.calibration_splits for u in corpus.splits.get(s, []) if corpus.true_phones(u.id)]
    if not p.calibration_utterances or not pool_:
        return {"utterances": 0, "why": "no calibration utterances (none asked for, or none with timings)"}
    picked = random.Random(f"calibration-{p.seed}").sample(pool_, min(p.calibration_utterances, len(pool_)))
    items = ((u.id, corpus.audio(u), u.text, corpus.true_phones(u.id)) for u in picked)
    return {"splits": list(p.calibration_splits), **calibrate(items)}


def real_corpus(folder: Path, features: Any, p: RealSpeechParams) -> tuple[Any, list[Any], Any]:
    """The real corpus in ``folder/corpus`` (built once), the studied utterances
    (``real_speech.max_utterances``) and their features in ``folder/features``, computed with
    the feature parameters ``features``."""
    from nap.corpus import Corpus
    from nap.corpus.real import build_real, open_real
    from nap.features import Features, build_features

    folder = Path(folder)
    if not (folder / "corpus" / "corpus.json").is_file():
        build_real(folder / "corpus")
    real = open_real(folder / "corpus")
    utts = select(real.utterances, p)
    if not (folder / "features" / "features.json").is_file():  # of the studied utterances
        (folder / "features").mkdir(parents=True, exist_ok=True)
        build_features(folder / "features", features, Corpus(real.path, utts, real.info), progress=False)
    return real, utts, Features.open(folder / "features")


# -- the recognizer and the cascade --------------------------------------------------------------
def transcribe(
    recognizer: Any, feats: Any, utts: list[Any]
) -> tuple[Any, list[Any], list[str], list[str], list[str]]:
    """The recognizer on ``utts``: (its adapter, logits, greedy and beam transcripts, the
    normalized true transcripts)."""
    from nap.align.adapters import RecognizerAdapter
    from nap.align.cascade import normalize_transcript

    rec = RecognizerAdapter(recognizer, feats)
    logits = rec.logits([feats.get(u.id) for u in utts])
    truths = [normalize_transcript(u.text) for u in utts]
    return rec, logits, rec.decode(logits, "greedy"), rec.decode(logits, "beam"), truths


def recognition(utts: list[Any], greedy: list[str], beam: list[str], truths: list[str]) -> dict[str, Any]:
    """CER and WER of both decoders, overall and per speaker, with every transcript."""
    from nap.asr.metrics import cer, wer

    def rates(idx: list[int]) -> dict[str, Any]:
        refs = [truths[i] for i in idx]
        out: dict[str, Any] = {"utterances": len(idx), "words": sum(len(r.split()) for r in refs)}
        for name, hyps in (("greedy", greedy), ("beam", beam)):
            h = [hyps[i] for i in idx]
            out[f"{name}_cer"], out[f"{name}_wer"] = round(cer(refs, h), 4), round(wer(refs, h), 4)
        return out

    speakers = sorted({u.speaker for u in utts})
    return {
        "all": rates(list(range(len(utts)))),
        "speakers": {s: rates([i for i, u in enumerate(utts) if u.speaker == s]) for s in speakers},
        "transcripts": {
            u.id: {"truth": truths[i], "greedy": greedy[i], "beam": beam[i]} for i, u in enumerate(utts)
        },
    }


def cascade_accuracy(joined: dict[str, np.ndarray]) -> dict[str, Any]:
    """The cascade's frame accuracy against the aligner's phones (decoded and true transcript)."""
    from nap.align import accuracy as acc

    out = {}
    for name, key in (("decoded", "phoneme"), ("truth", "phoneme_truetext")):
        report = acc.report(acc.confusion(joined[key], joined["phoneme_true"]), total_frames=len(joined[key]))
        out[name] = report
    return out


def _r(x: Any) -> Any:
    return None if x is None else round(float(x), 4)


def build_real_speech(
    work: Path,
    p: RealSpeechParams,
    corpus: Any,
    features: Any,
    recognizer: Any,
    g2p: Any,
    labels: Any,
    napset: Any,
    clustering: Any,
) -> dict[str, Any]:
    """Put the real corpus through the study (see the module doc); returns the headline numbers."""
    work = Path(work)
    start = time.time()
    try:
        require_packages()
    except MissingPackageError as exc:
        print(f"[nap] real_speech: {exc}; the stage is left out")
        return missing_summary(work, str(exc))

    import torch

    from nap.align.adapters import G2PLetters
    from nap.align.cascade import PHONEMES
    from nap.align.params import AlignParams
    from nap.align.stage import FRAME_ARRAYS, label_utterance, shift_phonemes
    from nap.naps import NapSet, extract_naps
    from nap.naps.stage import network_input
    from nap.real_speech.similarity import compare

    threads = resolve_threads(p.threads)
    torch.set_num_threads(threads)
    timing: dict[str, float] = {}

    # a. the real corpus and its features (the features stage's parameters)
    t = time.time()
    real, utts, feats = real_corpus(work, features.params, p)
    timing["corpus_and_features"] = time.time() - t

    # b. reference phones, and the aligner's calibration on synthetic speech
    if (work / "reference_phones.tsv").is_file() and (work / "reference.json").is_file():
        phones, failed = (
            read_phones(work / "reference_phones.tsv"),
            read_json(work / "reference.json")["failed"],
        )
    else:
        phones, failed, timing["reference_alignment"] = reference_phones(utts, resolve_threads(p.workers))
        write_phones(work / "reference_phones.tsv", phones)
        write_json(
            work / "reference.json", {"failed": failed, "seconds": round(timing["reference_alignment"], 1)}
        )
    t = time.time()
    calib = calibration(corpus, p)
    write_json(work / "calibration.json", calib)
    timing["calibration"] = time.time() - t

    # c. the recognizer on real speech
    t = time.time()
    align_p = stage_params(labels, AlignParams)
    rec, logits, greedy, beam, truths = transcribe(recognizer, feats, utts)
    asr = recognition(utts, greedy, beam, truths)
    write_json(work / "recognition.json", asr)
    timing["recognition"] = time.time() - t

    # d. the cascade against the aligner's phones (the align stage's decoder and emission delays)
    t = time.time()
    letters = G2PLetters(g2p)
    decoded = beam if align_p.decoder == "beam" else greedy
    letters.prefetch(w for text in [*decoded, *truths] for w in text.split())
    keep = [i for i in range(len(utts)) if len(logits[i])]  # shorter than the receptive field: none
    per_utt = [
        label_utterance(utts[i].id, logits[i], decoded[i], truths[i], rec.table, rec.geometry, letters,
                        phones.get(utts[i].id))
        for i in keep
    ]  # fmt: skip
    joined = {k: np.concatenate([d[k] for d in per_utt]).astype(dt) for k, dt in FRAME_ARRAYS.items()}
    offsets = np.concatenate([[0], np.cumsum([len(d["argmax"]) for d in per_utt])]).astype(np.int64)
    shift_phonemes(joined, offsets, labels.delay)
    aligned = np.repeat([utts[i].id in phones for i in keep], np.diff(offsets))
    cascade = cascade_accuracy({k: v[aligned] for k, v in joined.items()})
    cascade["lag"] = {k: labels.delay.get(k) for k in ("frames", "ms", "per")}
    write_json(work / "cascade.json", cascade)
    timing["cascade"] = time.time() - t

    # e. NAPs of real speech, and how alike they are to the synthetic ones
    t = time.time()
    prepare = network_input(recognizer)
    frame_labels = [
        {"phoneme_reference": d["phoneme_true"], "phoneme": joined["phoneme"][offsets[k] : offsets[k + 1]]}
        for k, d in enumerate(per_utt)
    ]
    result = extract_naps(
        recognizer.model,
        [prepare(feats.get(utts[i].id)).T for i in keep],
        frame_labels,
        {"phoneme_reference": list(PHONEMES), "phoneme": list(PHONEMES)},
        layers=list(napset.layers),
        normalization=napset.normalization,
        min_count=napset.min_count,
        probe_frames=p.probe_frames,
        seed=p.seed,
        splits=[utts[i].speaker for i in keep],
    )
    result.save(work / "naps", {"source": "real", "utterance_ids": [utts[i].id for i in keep]})
    real_naps = NapSet.open(work / "naps")
    timing["naps"] = time.time() - t
    t = time.time()
    settings = {**getattr(clustering, "params", {})}
    similarity = compare(real_naps, napset, settings, probes=p.probe_frames > 0, threads=threads)
    write_json(work / "similarity.json", similarity)
    timing["similarity"] = time.time() - t

    return summary(real, utts, phones, failed, calib, asr, cascade, result, similarity, timing, start)


def summary(
    real: Any,
    utts: list[Any],
    phones: dict[str, Any],
    failed: dict[str, str],
    calib: dict[str, Any],
    asr: dict[str, Any],
    cascade: dict[str, Any],
    result: Any,
    similarity: dict[str, dict[str, dict[str, Any]]],
    timing: dict[str, float],
    start: float,
) -> dict[str, Any]:
    """The stage's headline numbers (``nap results``): one flat number per line, per-layer rows last."""
    out: dict[str, Any] = {
        "available": True,
        "utterances": len(utts),
        "corpus_utterances": len(real),
        "minutes": round(sum(u.seconds for u in utts) / 60, 2),
        "speakers": len({u.speaker for u in utts}),
        "reference_aligned": len(phones),
        "reference_failed": len(failed),
        "aligner_utterances": calib.get("utterances", 0),
        "aligner_frame_agreement": calib.get("frame_agreement"),
        "aligner_speech_frame_agreement": calib.get("speech_frame_agreement"),
        "aligner_boundaries_within_20ms": calib.get("boundaries_within"),
        "greedy_cer": asr["all"]["greedy_cer"],
        "greedy_wer": asr["all"]["greedy_wer"],
        "beam_cer": asr["all"]["beam_cer"],
        "beam_wer": asr["all"]["beam_wer"],
        "cascade_accuracy": _r(cascade["decoded"]["accuracy"]),
        "cascade_accuracy_true_transcript": _r(cascade["truth"]["accuracy"]),
        "cascade_class_accuracy": _r(cascade["decoded"]["class_accuracy"]),
        "cascade_frames": cascade["decoded"]["frames"],
        "nap_frames": result.frames,
        "nap_groups": {k: len(v) for k, v in result.names.items()},
        "seconds": round(time.time() - start, 1),
        "stage_seconds": {k: round(v, 1) for k, v in timing.items()},
    }
    for grouping, per_layer in similarity.items():
        out[f"cross_domain_{grouping}"] = {
            layer: {
                "match_r": row["match_r"],
                "other_r": row["other_r"],
                "retrieval": row["retrieval"],
                "ari": row.get("ari"),
                "probe_accuracy": row.get("probe", {}).get("accuracy"),
                "probe_ci_low": row.get("probe", {}).get("ci_low"),
                "probe_ci_high": row.get("probe", {}).get("ci_high"),
                "probe_chance": row.get("probe", {}).get("chance"),
            }
            for layer, row in per_layer.items()
        }
    return out
