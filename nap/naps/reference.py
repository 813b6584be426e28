"""The per-window definition of NAPs, computed literally (slow; for tests and the benchmark).

Every labelled output frame's input window (``R`` input frames from ``t*S``) is fed to the
model on its own (windows batched), each chosen layer's whole output for that window is
its (channels × positions) activation block, blocks are summed per group in float64, and
the NAPs follow from the definition: group mean minus the normalization, each channel
sorted. Nothing here uses the fast path's window geometry: ``R`` and ``S`` are found by
running the model on growing inputs, and a layer's block is whatever the layer outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from nap.hardware import exact_float32
from nap.naps.windows import add_blocks, labelled_windows, tap


def empirical_frames(model: nn.Module, in_channels: int, max_len: int = 4096) -> tuple[int, int]:
    """(receptive field R, stride S) measured from the model's output length on growing inputs."""

    def n_out(length: int) -> int:
        with torch.no_grad():
            try:
                return int(model(torch.zeros(1, in_channels, length)).shape[-1])
            except RuntimeError:
                return 0

    r = next((n for n in range(1, max_len) if n_out(n) >= 1), None)
    if r is None:
        raise ValueError(f"the model gives no output frame for inputs up to {max_len} frames")
    s = next(d for d in range(1, max_len) if n_out(r + d) >= 2)
    return r, s


def reference_sums(
    model: nn.Module,
    modules: dict[str, str],
    inputs: Sequence[np.ndarray],
    labels: Sequence[dict[str, np.ndarray]],
    n_groups: dict[str, int],
    receptive_field: int,
    stride: int,
    batch_windows: int = 256,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Per layer and grouping, (G, C, P) float64 sums of the groups' window blocks, and the counts.

    ``modules`` maps a layer name to the module whose output is the layer's activations;
    ``"input"`` maps to ``""`` (the window itself). Runs where the model is, in exact float32
    (:func:`nap.hardware.exact_float32`), like the single pass it checks.
    """
    outputs, handles = tap(model, modules, detach=True)
    sums: dict[str, dict[str, np.ndarray]] = {n: {} for n in modules}
    counts = {k: np.zeros(g, dtype=np.int64) for k, g in n_groups.items()}
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with exact_float32():
            windows, owners = [], []

            def flush() -> None:
                if not windows:
                    return
                x = torch.stack(windows).to(device)
                with torch.no_grad():
                    model(x)
                outputs_all = dict(outputs)
                for n, m in modules.items():
                    block = (x if m == "" else outputs_all[n]).double().cpu().numpy()  # (B, C, P)
                    add_blocks(sums[n], block, owners, n_groups)
                windows.clear()
                owners.clear()

            for window, frame in labelled_windows(inputs, labels, n_groups, receptive_field, stride, counts):
                windows.append(window)
                owners.append(frame)
                if len(windows) >= batch_windows:
                    flush()
            flush()
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return sums, counts


def reference_naps(
    sums: np.ndarray, counts: np.ndarray, normalization: str, min_count: int, whole: np.ndarray | None = None
) -> np.ndarray:
    """The definition, spelled out: kept groups' means, minus the normalization, sorted per channel
    (``whole``: the mean window over every frame, for ``whole_data``)."""
    kept = [g for g in range(len(counts)) if counts[g] >= max(min_count, 1)]
    if not kept:
        return np.zeros((0, *np.shape(sums)[1:]))
    means = np.stack([sums[g] / counts[g] for g in kept])
    if normalization == "global_mean":
        overall = sum(sums[g] for g in kept) / sum(counts[g] for g in kept)
    elif normalization == "whole_data":
        overall = whole
    else:
        overall = means.mean(axis=0)
    return np.sort(means - overall, axis=-1)


def verify(
    model: nn.Module,
    inputs: Sequence[np.ndarray],
    labels: Sequence[dict[str, np.ndarray]],
    groups: dict[str, int],
    layers: list[str] | None = None,
    normalization: str = "global_mean",
    max_frames: int | None = None,
) -> dict[str, float]:
    """Largest |single pass - reference| of the NAPs per layer (over groupings), on these utterances.

    ``max_frames`` keeps the reference cheap: only each utterance's first ``max_frames``
    output frames keep their labels (for both computations).
    """
    from nap.naps.api import extract_naps
    from nap.naps.geometry import model_geometry

    if max_frames is not None:
        labels = [
            {k: np.where(np.arange(len(v)) < max_frames, v, -1) for k, v in lab.items()} for lab in labels
        ]

    geometry = model_geometry(model)
    chosen = geometry.select(layers)
    fast = extract_naps(
        model, inputs, labels, groups, layers=[g.name for g in chosen], normalization=normalization
    )
    sums, counts = reference_sums(
        model,
        {g.name: g.module for g in chosen},
        inputs,
        labels,
        groups,
        geometry.receptive_field,
        geometry.stride,
    )
    out = {}
    for g in chosen:
        diffs = [
            np.abs(fast.nap(k, g.name) - reference_naps(sums[g.name][k], counts[k], normalization, 1))
            for k in groups
        ]
        out[g.name] = max((float(d.max()) for d in diffs if d.size), default=float("nan"))
    return out
