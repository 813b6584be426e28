"""The ``align`` stage: label every output frame of every utterance, then score the labels.

Utterances are processed in fixed-order parts of ``chunk`` utterances; each finished part
is written to ``parts/`` in the work folder, so a killed run resumes after its last part.
Per part: the recognizer's logits (batched by length), the transcript (beam search or
greedy), the cascade twice (decoded and true transcript, :mod:`.cascade`) with the G2P's
letter phonemes (cached per word), the true phone at each frame's centre. Finally the
parts are joined, groups below ``min_count`` left out, accuracies computed and
everything written in the format of :data:`nap.align.labels.FORMAT`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nap.align import accuracy as acc
from nap.align.adapters import FrameGeometry, G2PLetters, RecognizerAdapter
from nap.align.cascade import (
    GRAPHEMES,
    NONE,
    PHONEMES,
    REASONS,
    SymbolTable,
    normalize_transcript,
    run_cascade,
)
from nap.align.delay import DELAYS, estimate_key_delays, move_by_delays, take_out_delays
from nap.align.groups import apply_min_count, move_earlier, true_phone_labels
from nap.align.labels import EXTRA_GROUPINGS, FORMAT, GROUPINGS
from nap.align.params import AlignParams
from nap.hardware import resolve_device, resolve_threads
from nap.params import ParamError
from nap.store import atomic_path, write_json

#: Per-frame arrays of a part, with their stored dtypes.
FRAME_ARRAYS: dict[str, type] = {
    "argmax": np.int16,
    "grapheme": np.int16,
    "phoneme": np.int16,
    "phoneme_truetext": np.int16,
    "phoneme_true": np.int16,
    "grapheme_reason": np.int8,
    "phoneme_reason": np.int8,
    "phoneme_truetext_reason": np.int8,
    "centre_s": np.float32,
    "position": np.int16,
}


def select_utterances(corpus: Any, p: AlignParams) -> list[tuple[str, str, str]]:
    """``(utterance id, split, true text)`` of the utterances to label, in a fixed order."""
    out = []
    for split in p.splits:
        utts = list(corpus.splits.get(split, []))
        if p.max_utterances:
            utts = utts[: p.max_utterances]
        out.extend((u.id, split, u.text) for u in utts)
    if not out:
        raise ParamError(f"parameter 'align.splits': the corpus has no utterances in the splits {p.splits}")
    return out


def label_utterance(
    utt_id: str,
    logits: np.ndarray,
    decoded: str,
    truth: str,
    table: SymbolTable,
    geom: FrameGeometry,
    letters: G2PLetters,
    true_phones: Sequence[tuple[str, float, float]] | None,
) -> dict[str, np.ndarray]:
    """Every per-frame array of one utterance (see :data:`FRAME_ARRAYS`), plus its NW score."""
    ids = np.asarray(logits).argmax(-1)
    dec = run_cascade(ids, table, decoded, letters)
    tru = run_cascade(ids, table, truth, letters)
    centres = geom.centres(len(ids))
    true_lab, _ = true_phone_labels(centres, true_phones or [])
    return {
        "argmax": ids,
        "grapheme": dec.grapheme,
        "phoneme": dec.phoneme,
        "phoneme_truetext": tru.phoneme,
        "phoneme_true": true_lab,
        "grapheme_reason": dec.grapheme_reason,
        "phoneme_reason": dec.phoneme_reason,
        "phoneme_truetext_reason": tru.phoneme_reason,
        "centre_s": centres,
        "position": dec.position,
        "nw_score": np.array(dec.alignment.score),
    }


def _label_part(
    items: list[tuple[str, str, str]],
    corpus: Any,
    features: Any,
    rec: RecognizerAdapter,
    letters: G2PLetters,
    p: AlignParams,
) -> dict[str, np.ndarray]:
    start = time.time()
    feats = [features.get(u) for u, _, _ in items]
    logits = rec.logits(feats)
    decoded = rec.decode(logits, p.decoder)
    truths = [normalize_transcript(t) for _, _, t in items]
    letters.prefetch(w for text in [*decoded, *truths] for w in text.split())
    per_utt = []
    for (u, _, _), lg, dec, tru in zip(items, logits, decoded, truths, strict=True):
        phones = corpus.true_phones(u) if hasattr(corpus, "true_phones") else None
        per_utt.append(label_utterance(u, lg, dec, tru, rec.table, rec.geometry, letters, phones))
    part: dict[str, np.ndarray] = {
        name: np.concatenate([d[name] for d in per_utt]).astype(dtype) if per_utt else np.zeros(0, dtype)
        for name, dtype in FRAME_ARRAYS.items()
    }
    part["utterances"] = np.array([u for u, _, _ in items], dtype=str)
    part["splits"] = np.array([s for _, s, _ in items], dtype=str)
    part["n_frames"] = np.array([len(d["argmax"]) for d in per_utt], dtype=np.int64)
    part["nw_score"] = np.array([int(d["nw_score"]) for d in per_utt], dtype=np.int32)
    part["decoded"] = np.array(decoded, dtype=str)
    part["truth"] = np.array(truths, dtype=str)
    part["audio_s"] = np.array(sum(f.shape[0] for f in feats) * rec.geometry.hop_s)
    part["seconds"] = np.array(time.time() - start)
    return part


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def label_parts(
    work: Path, p: AlignParams, corpus: Any, features: Any, rec: RecognizerAdapter, letters: G2PLetters
) -> list[dict[str, np.ndarray]]:
    """Label every selected utterance, part by part, resuming from parts already in ``work/parts``.

    With ``p.workers`` > 1 the parts are labelled by that many spawned processes, each
    opening the artifacts itself; the result is the same as in one process.
    """
    from tqdm.auto import tqdm

    items = select_utterances(corpus, p)
    chunks = [items[i : i + p.chunk] for i in range(0, len(items), p.chunk)]
    paths = [work / "parts" / f"part-{k:04d}.npz" for k in range(len(chunks))]
    parts: list[dict[str, np.ndarray] | None] = [
        _load_npz(path) if path.is_file() else None for path in paths
    ]
    for k, chunk in enumerate(chunks):
        if parts[k] is not None and list(parts[k]["utterances"]) != [u for u, _, _ in chunk]:  # type: ignore[index]
            parts[k] = None  # written for another selection of utterances
    todo = [k for k in range(len(chunks)) if parts[k] is None]
    opened = [getattr(x, "path", None) for x in (corpus, features, rec.recognizer, letters.g2p)]
    # objects built in memory are labelled in this process
    workers = min(resolve_threads(p.workers), len(todo)) if all(opened) else 1
    with tqdm(total=len(items), initial=len(items) - sum(len(chunks[k]) for k in todo), desc="align",
              unit="utt", mininterval=2.0) as bar:  # fmt: skip
        if workers > 1:
            from nap.procs import pool

            start = time.time()
            jobs = [(k, chunks[k], paths[k]) for k in todo]
            threads = max(1, resolve_threads(p.threads) // workers)
            with pool(workers, _open_worker, (*map(str, opened), p.to_dict(), threads)) as pl:
                for k in pl.imap_unordered(_label_part_in_worker, jobs):
                    parts[k] = _load_npz(paths[k])
                    bar.update(len(chunks[k]))
            wall, busy = time.time() - start, sum(float(parts[k]["seconds"]) for k in todo)  # type: ignore[index]
            for k in todo:  # the workers' seconds overlap: share out the wall time instead
                parts[k]["seconds"] = np.array(float(parts[k]["seconds"]) * wall / max(busy, 1e-9))  # type: ignore[index]
            return parts  # type: ignore[return-value]
        # the true transcripts' words in one batch (the G2P batches words of equal length)
        start = time.time()
        letters.prefetch(w for k in todo for _, _, t in chunks[k] for w in normalize_transcript(t).split())
        prefetch_s = time.time() - start
        n_todo = max(sum(len(chunks[k]) for k in todo), 1)
        for k in todo:
            part = _label_part(chunks[k], corpus, features, rec, letters, p)
            part["seconds"] = part["seconds"] + prefetch_s * len(chunks[k]) / n_todo
            _save_npz(paths[k], part)
            parts[k] = part
            bar.update(len(chunks[k]))
    return parts  # type: ignore[return-value]


#: What a labelling worker opened once (see :func:`_open_worker`).
_WORKER: dict[str, Any] = {}


def _open_worker(corpus: str, features: str, recognizer: str, g2p: str, params: dict, threads: int) -> None:
    """Open the artifacts in a spawned labelling process."""
    import torch

    from nap.asr import Recognizer
    from nap.corpus import Corpus
    from nap.features import Features
    from nap.g2p import G2P

    torch.set_num_threads(threads)
    feats = Features.open(features)
    p = AlignParams.from_dict(params)
    device = resolve_device(p.device, "align.device")
    _WORKER.update(
        corpus=Corpus.open(corpus),
        features=feats,
        rec=RecognizerAdapter(Recognizer.open(recognizer, device), feats, device=device),
        letters=G2PLetters(G2P.open(g2p, device)),
        p=p,
    )


def _label_part_in_worker(job: tuple[int, list[tuple[str, str, str]], Path]) -> int:
    k, chunk, path = job
    w = _WORKER
    _save_npz(path, _label_part(chunk, w["corpus"], w["features"], w["rec"], w["letters"], w["p"]))
    return k


def _splits_report(
    joined: dict[str, np.ndarray], frame_split: np.ndarray, splits: Sequence[str]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Accuracy reports and confusion matrices per split (and ``all``), decoded and true transcript."""
    reports: dict[str, Any] = {}
    matrices: dict[str, np.ndarray] = {}
    for split in [*splits, "all"]:
        mask = np.ones(len(frame_split), bool) if split == "all" else frame_split == split
        reports[split] = {}
        for name, key in (("decoded", "phoneme"), ("truth", "phoneme_truetext")):
            m = acc.confusion(joined[key][mask], joined["phoneme_true"][mask])
            matrices[f"{split}__{name}"] = m
            reports[split][name] = acc.report(m, total_frames=int(mask.sum()))
    return reports, matrices


def build_alignment(
    work: Path, p: AlignParams, corpus: Any, features: Any, recognizer: Any, g2p: Any
) -> dict:
    """Label every frame of the selected splits and write the stage's files into ``work``."""
    work = Path(work)
    import torch

    device = resolve_device(p.device, "align.device")
    torch.set_num_threads(resolve_threads(p.threads))
    rec = RecognizerAdapter(recognizer, features, device=device)
    letters = G2PLetters(g2p.on(device) if hasattr(g2p, "on") else g2p)  # the study's G2P stays put
    parts = label_parts(work, p, corpus, features, rec, letters)

    joined = {name: np.concatenate([pt[name] for pt in parts]) for name in FRAME_ARRAYS}
    utts = np.concatenate([pt["utterances"] for pt in parts])
    splits = np.concatenate([pt["splits"] for pt in parts])
    n_frames = np.concatenate([pt["n_frames"] for pt in parts])
    offsets = np.concatenate([[0], np.cumsum(n_frames)]).astype(np.int64)
    frame_split = np.repeat(splits, n_frames)
    has_truth = bool((joined["phoneme_true"] >= 0).any())
    geom = rec.geometry
    lag = estimate_delay(joined, utts, splits, offsets, corpus, geom.stride * geom.hop_s, p)
    if has_truth:  # the paper's cascade, before the delay is taken out
        on_eval = frame_split == p.eval_split
        lag["eval_accuracy_lag0"] = acc.report(
            acc.confusion(joined["phoneme"][on_eval], joined["phoneme_true"][on_eval])
        )["accuracy"]
        if lag.get("table"):  # the recognizer's one delay, for comparison with the per-key ones
            one, _ = move_by_delays(joined["phoneme"], lag["frames"], offsets, NONE)
            lag["eval_accuracy_one_lag"] = acc.report(
                acc.confusion(one[on_eval], joined["phoneme_true"][on_eval])
            )["accuracy"]
    shift_phonemes(joined, offsets, lag)

    reports, matrices = _splits_report(joined, frame_split, p.splits) if has_truth else ({}, {})
    timing = _timing(joined, utts, splits, offsets, corpus, p.eval_split) if has_truth else {}

    names = {
        "grapheme": GRAPHEMES,
        "phoneme": PHONEMES,
        "phoneme_true": PHONEMES,
        "phoneme_truetext": PHONEMES,
    }
    out = {
        "utterances": utts,
        "splits": splits,
        "offsets": offsets,
        "nw_score": np.concatenate([pt["nw_score"] for pt in parts]),
    }
    meta: dict[str, Any] = {"groups": {}, "counts": {}, "left_out": {}, "none": {}}
    for g in (*GROUPINGS, *EXTRA_GROUPINGS):
        relabelled, kept, counts, left_out = apply_min_count(joined[g], names[g], p.min_count)
        out[g] = relabelled.astype(np.int16)
        meta["groups"][g], meta["counts"][g], meta["left_out"][g] = kept, counts, left_out
        reason_key = f"{g}_reason"
        if reason_key in joined:
            codes = np.bincount(joined[reason_key].astype(np.int64), minlength=len(REASONS))
            meta["none"][g] = {r: int(c) for r, c in zip(REASONS, codes, strict=True) if r != "labelled"}
        else:
            meta["none"][g] = {"silence_or_outside": int((joined[g] < 0).sum())}
    for name in (
        "argmax",
        "grapheme_reason",
        "phoneme_reason",
        "phoneme_truetext_reason",
        "centre_s",
        "position",
    ):
        out[name] = joined[name]
    meta.update(
        {
            "lag": lag,
            "g2p_failed": dict(sorted(letters.failed.items())),
            "format": "nap.align frame labels, version 3 (see FORMAT.md)",
            "min_count": p.min_count,
            "reasons": list(REASONS),
            "symbols": list(rec.table.symbols),
            "frame": {
                "receptive_field": geom.receptive_field,
                "stride": geom.stride,
                "hop_s": geom.hop_s,
                "offset_s": geom.offset_s,
                "pad": geom.pad,
            },
        }
    )

    _save_npz(work / "labels.npz", out)
    write_json(work / "groups.json", meta)
    transcripts = {
        str(u): {"decoded": str(d), "truth": str(t)}
        for pt in parts
        for u, d, t in zip(pt["utterances"], pt["decoded"], pt["truth"], strict=True)
    }
    write_json(work / "transcripts.json", transcripts)
    write_json(work / "accuracy.json", reports)
    write_json(work / "timing.json", timing)
    _save_npz(
        work / "confusion.npz",
        {**matrices, "true_names": np.array(acc.TRUE_NAMES), "pred_names": np.array(acc.PRED_NAMES)},
    )
    with atomic_path(work / "FORMAT.md") as tmp:
        tmp.write_text(FORMAT)
    for f in sorted((work / "parts").glob("part-*.npz")):
        f.unlink()
    (work / "parts").rmdir()
    return _summary(p, parts, joined, meta, reports, timing)


def estimate_delay(
    joined: dict[str, np.ndarray],
    utts: np.ndarray,
    splits: np.ndarray,
    offsets: np.ndarray,
    corpus: Any,
    frame_s: float,
    p: AlignParams,
) -> dict[str, Any]:
    """The recognizer's emission delays in output frames: given, or estimated on the train split.

    A CTC recognizer may write a letter a few frames after the sound it stands for (here it
    learns to: the delay is a property of the trained network, not of the cascade). With
    ``lag_frames = auto`` the recognizer's delay is the shift of the cascade's phonemes that
    agrees best with the true phone timings of the train split (never the evaluation split),
    and with ``lag_per`` other than ``recognizer`` each letter (or letter and phoneme) gets
    its own delay the same way (:mod:`nap.align.delay`); a corpus without timings gets 0,
    the paper's cascade.
    """
    if p.lag_frames != "auto":
        frames = int(p.lag_frames)
        return {"frames": frames, "ms": round(1000 * frames * frame_s), "estimated": False}
    items = [it for it in _timed_items(joined, "phoneme", utts, splits, offsets, corpus, "train") if it[2]]
    if not items:
        return {"frames": 0, "ms": 0, "estimated": False, "why": "no train utterance with true phone timings"}
    curve = acc.shift_accuracy(items, [-k * frame_s for k in DELAYS])
    frames = DELAYS[int(np.argmax([a or 0.0 for a in curve["accuracy"]]))]
    table, table_frames = estimate_key_delays(
        joined["phoneme"],
        joined["grapheme"],
        joined["phoneme_true"],
        offsets,
        splits == "train",
        p.lag_per,
        int(frames),
        p.lag_min_frames,
    )
    return {
        "frames": int(frames),
        "ms": round(1000 * frames * frame_s),
        "estimated": True,
        "split": "train",
        "utterances": len(items),
        "lags": list(DELAYS),
        "accuracy": curve["accuracy"],
        "per": p.lag_per,
        "min_frames": p.lag_min_frames,
        "table": table,
        "table_frames": table_frames,
    }


def shift_phonemes(joined: dict[str, np.ndarray], offsets: np.ndarray, lag: Mapping[str, Any]) -> None:
    """Move every phoneme label back by its emission delay (:func:`estimate_delay`), in place.

    Frame ``t - delay`` takes the phoneme the cascade gave frame ``t``; the delay is the
    one of the letter written at ``t`` (and its phoneme) where ``lag["table"]`` has it,
    else ``lag["frames"]``. Frames no label lands on get reason ``moved_by_delay`` where they
    had none of their own. Graphemes and the argmax stay on the frames that wrote them.
    """
    from nap.align.cascade import LABELLED, MOVED_BY_DELAY

    frames = int(lag["frames"])
    if frames == 0 and not lag.get("table"):
        return
    for key in ("phoneme", "phoneme_truetext"):
        moved, landed = take_out_delays(joined[key], joined["grapheme"], offsets, lag, NONE)
        reason = joined[f"{key}_reason"]
        for a, b in zip(offsets[:-1], offsets[1:], strict=True):
            reason[a:b] = move_earlier(reason[a:b], frames, MOVED_BY_DELAY)
        reason[landed] = LABELLED
        reason[~landed & (reason == LABELLED)] = MOVED_BY_DELAY
        joined[key] = moved.astype(joined[key].dtype)


#: Shifts (s) at which the truth is read relative to each frame's centre, for the timing curve.
SHIFTS_S = tuple(k / 100 for k in range(-20, 21))


def _timing(
    joined: dict[str, np.ndarray],
    utts: np.ndarray,
    splits: np.ndarray,
    offsets: np.ndarray,
    corpus: Any,
    split: str,
) -> dict[str, Any]:
    """Accuracy against the shift at which the truth is read, decoded and true transcript (see
    :func:`nap.align.accuracy.shift_accuracy`), on ``split``."""
    out: dict[str, Any] = {"split": split}
    for name, key in (("decoded", "phoneme"), ("truth", "phoneme_truetext")):
        items = _timed_items(joined, key, utts, splits, offsets, corpus, split)
        out[name] = acc.shift_accuracy(items, SHIFTS_S)
    return out


def _timed_items(
    joined: dict[str, np.ndarray],
    key: str,
    utts: np.ndarray,
    splits: np.ndarray,
    offsets: np.ndarray,
    corpus: Any,
    split: str,
) -> Iterator[tuple[np.ndarray, np.ndarray, Any]]:
    """Per utterance of ``split``: its ``key`` labels, frame centres and true phones."""
    for u in range(len(utts)):
        if splits[u] == split:
            a, b = offsets[u], offsets[u + 1]
            yield joined[key][a:b].astype(np.int64), joined["centre_s"][a:b], corpus.true_phones(str(utts[u]))


def _summary(
    p: AlignParams,
    parts: list[dict[str, np.ndarray]],
    joined: dict[str, np.ndarray],
    meta: dict[str, Any],
    reports: dict[str, Any],
    timing: dict[str, Any],
) -> dict[str, Any]:
    n = len(joined["argmax"])
    audio_s = float(sum(float(pt["audio_s"]) for pt in parts))
    seconds = float(sum(float(pt["seconds"]) for pt in parts))
    summary: dict[str, Any] = {
        "utterances": int(sum(len(pt["utterances"]) for pt in parts)),
        "frames": n,
        "audio_hours": round(audio_s / 3600, 3),
        "labelling_seconds": round(seconds, 1),
        "audio_seconds_per_second": round(audio_s / seconds, 1) if seconds else None,
        "frames_per_audio_second": round(n / audio_s, 2) if audio_s else None,
        "phoneme_frames_per_audio_second": round(int((joined["phoneme"] >= 0).sum()) / audio_s, 2)
        if audio_s
        else None,
        "grapheme_labelled": round(float((joined["grapheme"] >= 0).mean()), 4) if n else None,
        "phoneme_labelled": round(float((joined["phoneme"] >= 0).mean()), 4) if n else None,
        "groups_kept": {g: len(v) for g, v in meta["groups"].items()},
        "groups_left_out": {g: sorted(v) for g, v in meta["left_out"].items()},
        "g2p_failed_words": len(meta["g2p_failed"]),
        # without them (LibriSpeech) the accuracies below and the phoneme_true grouping are absent
        "true_timings": bool(reports),
    }
    if reports:
        ev = reports[p.eval_split]
        summary.update(
            {
                "eval_split": p.eval_split,
                "phoneme_accuracy": _round(ev["decoded"]["accuracy"]),
                "phoneme_accuracy_true_transcript": _round(ev["truth"]["accuracy"]),
                "phoneme_class_accuracy": _round(ev["decoded"]["class_accuracy"]),
                "phoneme_coverage": _round(ev["decoded"]["coverage"]),
                "best_shift_ms": None
                if timing["decoded"]["best_shift_s"] is None
                else round(1000 * timing["decoded"]["best_shift_s"]),
                "phoneme_accuracy_at_best_shift": _round(timing["decoded"]["best_accuracy"]),
            }
        )
        summary["phoneme_accuracy_lag0"] = _round(meta["lag"]["eval_accuracy_lag0"])
        if "eval_accuracy_one_lag" in meta["lag"]:
            summary["phoneme_accuracy_one_lag"] = _round(meta["lag"]["eval_accuracy_one_lag"])
    summary["lag_frames"] = meta["lag"]["frames"]
    summary["lag_ms"] = meta["lag"]["ms"]
    summary["lag_per"] = meta["lag"].get("per", "recognizer")
    summary["lag_keys"] = len(meta["lag"].get("table", {}))
    summary["threads"] = resolve_threads(p.threads)  # machine settings (align.threads, align.workers)
    summary["workers"] = resolve_threads(p.workers)
    return summary


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)
