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
from nap.naps.driver import checkpoint_path, plan_probe, remove_checkpoints, run_pass
from nap.naps.geometry import Geometry, LayerGeometry, model_geometry
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


def _release_checkpoint(work: Path, rank: int, size: int) -> None:
    """Each process removes its own checkpoint once the sums are merged; then all meet."""
    checkpoint_path(Path(work), rank, size).unlink(missing_ok=True)
    if size > 1:
        import torch.distributed as dist

        dist.barrier()


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
    t0 = time.time()
    acc = run_pass(
        model,
        geometry,
        layers,
        utts,
        lengths,
        load,
        n_groups,
        batch_size=p.batch_size,
        probe=plan,
        checkpoint_dir=Path(work),
        checkpoint_s=CHECKPOINT_S,
        rank=rank,
        world=size,
        progress=progress and rank == 0,
    )
    seconds = time.time() - t0
    _release_checkpoint(Path(work), rank, size)
    if rank != 0:
        return {}
    result = result_from(acc, groups, p.normalization, p.min_count)
    if plan is not None:
        raw = probe_labels(plan, frame_labels, groupings)
        splits = [split[u] for u in plan.utterances]
        result.probe = probe_arrays(acc, plan, result.kept, n_groups, raw, splits)
    result.save(
        Path(work),
        {
            "skipped_groupings": missing,
            "skipped_utterances": {"shorter than the receptive field": len(too_short)},
            "probe": {"frames": plan.size if plan is not None else 0, "seed": p.seed},
            "processes": size,
        },
    )
    remove_checkpoints(Path(work))
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
        "frames_per_second": round(result.frames / max(seconds, 1e-9), 1),
        "processes": size,
        "threads": resolve_threads(p.threads),
        "device": str(device),
        "seconds": round(time.time() - start, 2),
    }
