"""The naps stage: ``build_naps(work, p, corpus, features, recognizer, labels)``.

Thin glue: it takes the recognizer's network, derives its window geometry from the
modules, runs one pass over the labelled utterances (a shard per process under
``torchrun``), turns the sums into NAPs and writes a :class:`~nap.naps.io.NapSet`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from nap.hardware import module_on, resolve_device, resolve_threads
from nap.naps.api import probe_arrays, probe_labels, result_from
from nap.naps.distributed import world
from nap.naps.driver import (
    UNPADDED,
    checkpoint_path,
    plan_probe,
    remove_checkpoints,
    run_pass,
    with_unpadded,
    with_whole,
)
from nap.naps.folds import FILE as FOLDS_FILE
from nap.naps.folds import FoldTotals, speaker_folds, with_folds
from nap.naps.geometry import INPUT, Geometry, LayerGeometry, model_geometry
from nap.naps.io import CONTROL, UNPADDED_SET, save_npz, write_saliency
from nap.naps.normalize import WHOLE
from nap.naps.params import NapParams
from nap.params import ParamError

#: Seconds between checkpoints of the accumulators in the work folder (an interrupted
#: stage resumes from the last one).
CHECKPOINT_S = 60.0


def _split_of(utt: str, labels: Any, corpus: Any) -> str:
    splits = getattr(labels, "splits", None)
    if isinstance(splits, dict) and utt in splits:
        return str(splits[utt])
    for name, utts in (getattr(corpus, "splits", None) or {}).items():
        if any(getattr(u, "id", u) == utt for u in utts):
            return str(name)
    return ""


def network_input(recognizer: Any) -> Any:
    """``features (frames, n_mels) -> the network's input (frames', n_mels)``: the recognizer's own
    preparation (e.g. silence padded at both ends, which its output frames and so the labels
    count), or the features unchanged."""
    padded = getattr(recognizer, "padded", None)
    if callable(padded):
        return lambda f: np.asarray(padded(np.asarray(f, dtype=np.float32)), dtype=np.float32)
    return lambda f: np.asarray(f, dtype=np.float32)


def select_layers(geometry: Geometry, layers: list[str] | None) -> list[LayerGeometry]:
    """The layers to profile (chain order); an unknown name raises ParamError naming it."""
    if layers is None:
        return geometry.select(None)
    known = [g.name for g in geometry.layers]
    unknown = [n for n in layers if n not in known]
    if unknown:
        raise ParamError(f"parameter 'naps.layers': unknown layer(s) {unknown}; the recognizer has: {known}")
    return [g for g in geometry.layers if g.name in layers]


def untrained_network(recognizer: Any) -> Any:
    """The recognizer's architecture, untrained, initialised as its training began (``naps.control``)."""
    make = getattr(recognizer, "untrained", None)
    if not callable(make):
        raise ParamError(
            f"parameter 'naps.control': the recognizer ({type(recognizer).__name__}) cannot build its "
            "untrained network (no untrained()); set naps.control false"
        )
    return make()


def control_layers(geometry: Geometry, layers: list[LayerGeometry]) -> list[LayerGeometry]:
    """The control's layers: the trained network's, and the input window (the other baseline)."""
    names = {g.name for g in layers} | {INPUT}
    return [g for g in geometry.layers if g.name in names]


def _release_checkpoint(work: Path, rank: int, size: int) -> None:
    """Each process removes its own checkpoint once the sums are merged; then all meet."""
    checkpoint_path(Path(work), rank, size).unlink(missing_ok=True)
    if size > 1:
        import torch.distributed as dist

        dist.barrier()


def saliency_arrays(
    model: Any,
    geometry: Geometry,
    layers: list[LayerGeometry],
    p: NapParams,
    utts: list[str],
    load: Any,
    frame_labels: Any,
    n_groups: dict[str, int],
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Saliency-adjusted window sums (:mod:`nap.naps.variants`) on a seeded sample of labelled frames."""
    from nap.naps.variants import saliency_sums

    chosen = layers if p.saliency_layers is None else select_layers(geometry, p.saliency_layers)
    plan = plan_probe(utts, frame_labels, p.saliency_frames or 2**62, p.seed + 1)
    rows = plan.rows_of()
    picked = [u for u in utts if u in rows]
    inputs, labels = zip(*(load(u) for u in picked), strict=True) if picked else ((), ())
    return saliency_sums(
        model,
        {g.name: g.module for g in chosen},
        list(inputs),
        list(labels),
        n_groups,
        geometry.receptive_field,
        geometry.stride,
        frames=[rows[u][0] for u in picked],
    )


def build_naps(
    work: Path, p: NapParams, corpus: Any, features: Any, recognizer: Any, labels: Any, progress: bool = True
) -> dict[str, Any]:
    """Compute the NAPs of every chosen layer and grouping and write them into ``work``.

    Under ``torchrun`` (an initialized process group) every process calls this with the same
    arguments; each takes a shard of the utterances and only rank 0 writes.
    """
    start = time.time()
    import torch

    device = resolve_device(p.device, "naps.device")  # under torchrun: this process's GPU
    torch.set_num_threads(resolve_threads(p.threads))
    rank, size = world()
    model = module_on(recognizer.model, device)  # a copy there: the study's recognizer stays put
    geometry = model_geometry(model)
    layers = select_layers(geometry, p.layers)
    available = dict(labels.groups)
    groupings = [k for k in p.groupings if k in available]
    missing = [k for k in p.groupings if k not in available]
    if not groupings:
        raise ParamError(
            f"parameter 'naps.groupings': none of {p.groupings} is in the labels "
            f"(they have {list(available)})"
        )
    if missing and rank == 0:
        print(f"[nap] naps: grouping(s) {missing} not in the labels (e.g. no true phone timings); skipped")
    groups = {k: list(available[k]) for k in groupings}
    n_groups = {k: len(v) for k, v in groups.items()}

    split = {u: _split_of(u, labels, corpus) for u in labels.utterances}
    if p.splits is not None:
        unknown = sorted(set(p.splits) - set(split.values()))
        if unknown:
            raise ParamError(
                f"parameter 'naps.splits': no utterances in split(s) {unknown}; "
                f"splits are: {sorted(set(split.values()))}"
            )
    utts = [u for u in labels.utterances if p.splits is None or split[u] in p.splits]

    def frame_labels(u: str) -> dict[str, np.ndarray]:
        return labels.labels(u, tuple(groupings))

    lengths = {u: len(next(iter(frame_labels(u).values()))) for u in utts}
    too_short = [u for u in utts if lengths[u] == 0]
    utts = [u for u in utts if lengths[u] > 0]

    prepare = network_input(recognizer)

    def load(u: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return prepare(features.get(u)).T, frame_labels(u)

    plan = plan_probe(utts, frame_labels, p.probe_frames, p.seed) if p.probe_frames else None
    load_all, all_groups = with_whole(load, n_groups)  # also every frame's window: whole_data's mean
    pad = int(getattr(recognizer, "pad", 0) or 0)
    unpadded = p.unpadded and pad > 0
    if unpadded:  # and every grouping again, only where the window holds no added silence
        load_all, all_groups = with_unpadded(
            load_all, all_groups, geometry.receptive_field, geometry.stride, pad
        )
    load_pass, pass_groups = load_all, all_groups
    folded, fold_of = [*n_groups, WHOLE], None
    if p.folds:  # the trained network's groupings (and every frame) summed per speaker fold
        fold_of = speaker_folds(utts, p.folds, p.seed)
        load_pass, pass_groups = with_folds(load_all, all_groups, fold_of, p.folds, folded)
    t0 = time.time()
    acc = run_pass(
        model,
        geometry,
        layers,
        utts,
        lengths,
        load_pass,
        pass_groups,
        batch_size=p.batch_size,
        probe=plan,
        checkpoint_dir=Path(work),
        checkpoint_s=CHECKPOINT_S,
        rank=rank,
        world=size,
        progress=progress and rank == 0,
        part=fold_of,  # batches of one fold: each adds to one fold's sums
    )
    seconds = time.time() - t0
    if p.folds:
        acc = FoldTotals(acc, p.folds, folded)
    _release_checkpoint(Path(work), rank, size)
    control_acc, control_seconds = None, 0.0
    if p.control:  # a second pass over the same batches (cheaper than a second accumulator: see CONTROL)
        t1 = time.time()
        untrained = module_on(untrained_network(recognizer), device)
        c_geometry = model_geometry(untrained)
        (Path(work) / CONTROL).mkdir(parents=True, exist_ok=True)
        control_acc = run_pass(
            untrained,
            c_geometry,
            control_layers(c_geometry, layers),
            utts,
            lengths,
            load_all,
            all_groups,
            batch_size=p.batch_size,
            probe=plan,
            checkpoint_dir=Path(work) / CONTROL,
            checkpoint_s=CHECKPOINT_S,
            rank=rank,
            world=size,
            progress=progress and rank == 0,
        )
        _release_checkpoint(Path(work) / CONTROL, rank, size)
        control_seconds = time.time() - t1
    saliency_seconds = 0.0
    if p.saliency and rank == 0:
        t2 = time.time()
        saliency = saliency_arrays(model, geometry, layers, p, utts, load, frame_labels, n_groups)
        saliency_seconds = time.time() - t2
    if rank != 0:
        return {}
    extra = {
        "skipped_groupings": missing,
        "skipped_utterances": {"shorter than the receptive field": len(too_short)},
        "probe": {"frames": plan.size if plan is not None else 0, "seed": p.seed},
        "processes": size,
    }
    raw = probe_labels(plan, frame_labels, groupings) if plan is not None else {}
    splits = [split[u] for u in plan.utterances] if plan is not None else []
    result = result_from(acc, groups, p.normalization, p.min_count)
    if plan is not None:
        result.probe = probe_arrays(acc, plan, result.kept, n_groups, raw, splits)
    variants: dict[str, Any] = {"contrast": p.contrast, "contrast_weighted": p.contrast_weighted}
    if p.saliency:
        variants["saliency"] = write_saliency(Path(work), *saliency, groups, p.normalization, p.min_count)
    inner = UNPADDED_SET if unpadded else None
    windows = {**extra, "windows": "inside the utterance: none of the added silence", "pad": pad}

    def save_unpadded(sums: Any, folder: Path, meta: dict[str, Any]) -> None:
        """The unpadded copies' NAPs of accumulator ``sums`` into ``folder``/unpadded."""
        if unpadded:
            result_from(sums, groups, p.normalization, p.min_count, suffix=UNPADDED).save(
                folder / inner, meta
            )

    save_unpadded(acc, Path(work), windows)
    folds = None
    if isinstance(acc, FoldTotals):
        kept = {**result.kept, WHOLE: np.zeros(1, dtype=np.int64)}
        save_npz(Path(work) / FOLDS_FILE, acc.fold_arrays(kept))
        folds = {"file": FOLDS_FILE, "folds": p.folds, "seed": p.seed}
    result.save(
        Path(work),
        {
            **extra,
            "variants": variants,
            "control": CONTROL if p.control else None,
            "unpadded": inner,
            "folds": folds,
        },
    )
    remove_checkpoints(Path(work))
    if control_acc is not None:
        control = result_from(control_acc, groups, p.normalization, p.min_count)
        if plan is not None:
            control.probe = probe_arrays(control_acc, plan, control.kept, n_groups, raw, splits)
        c_variants = {"contrast": p.contrast, "contrast_weighted": p.contrast_weighted}
        save_unpadded(control_acc, Path(work) / CONTROL, {**windows, "network": "untrained"})
        control.save(
            Path(work) / CONTROL, {**extra, "network": "untrained", "variants": c_variants, "unpadded": inner}
        )
        remove_checkpoints(Path(work) / CONTROL)
    return {
        "layers": len(layers),
        "groups": {k: len(v) for k, v in result.names.items()},
        "left_out": {k: len(v) for k, v in result.left_out.items()},
        "skipped_groupings": missing,
        "utterances": result.utterances,
        "frames": result.frames,
        "probe_frames": plan.size if plan is not None else 0,
        "receptive_field": geometry.receptive_field,
        "stride": geometry.stride,
        "activations": sorted({g.activation for g in layers}),
        "extraction_seconds": round(seconds, 2),
        "control_seconds": round(control_seconds, 2),
        "saliency_seconds": round(saliency_seconds, 2),
        "unpadded_frames": int(acc.counts[WHOLE + UNPADDED][0]) if unpadded else 0,
        "frames_per_second": round(result.frames / max(seconds, 1e-9), 1),
        "processes": size,
        "threads": resolve_threads(p.threads),
        "device": str(device),
        "seconds": round(time.time() - start, 2),
    }
