"""Window by window: the labelled input windows of a corpus and their per-group sums.

The literal definition of a NAP (:mod:`nap.naps.reference`) and of the saliency-adjusted NAP
(:mod:`nap.naps.variants`) both feed every labelled frame's input window through the network
alone and add what a layer gives to the sums of the window's groups; this is that loop's one copy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn


def add_blocks(
    sums: dict[str, np.ndarray], block: np.ndarray, owners: list[dict[str, int]], n_groups: dict[str, int]
) -> None:
    """Add each window's block (B, C, P) to the float64 sums (G, C, P) of its groups, per grouping."""
    for k in n_groups:
        if k not in sums:
            sums[k] = np.zeros((n_groups[k], *block.shape[1:]))
        for b, labs in enumerate(owners):
            if labs[k] >= 0:
                sums[k][labs[k]] += block[b]


def labelled_windows(
    inputs: Sequence[np.ndarray],
    labels: Sequence[dict[str, np.ndarray]],
    n_groups: dict[str, int],
    receptive_field: int,
    stride: int,
    counts: dict[str, np.ndarray],
    frames: Sequence[np.ndarray] | None = None,
) -> Iterator[tuple[torch.Tensor, dict[str, int]]]:
    """Each labelled output frame's input window and its group per grouping (-1: none); counts them.

    ``frames[i]`` restricts utterance ``i`` to those output frames; None = every frame.
    """
    for i, (x_utt, labs) in enumerate(zip(inputs, labels, strict=True)):
        x = torch.as_tensor(np.asarray(x_utt, dtype=np.float32))
        n_frames = len(next(iter(labs.values())))
        for t in range(n_frames) if frames is None else (int(t) for t in frames[i]):
            frame = {k: int(labs[k][t]) for k in n_groups}
            if all(v < 0 for v in frame.values()):
                continue
            for k, v in frame.items():
                if v >= 0:
                    counts[k][v] += 1
            yield x[:, t * stride : t * stride + receptive_field], frame


def tap(
    model: nn.Module, modules: dict[str, str], detach: bool = True
) -> tuple[dict[str, torch.Tensor], list[torch.utils.hooks.RemovableHandle]]:
    """Forward hooks that keep each layer's output (``modules``: layer -> module; ``""`` = the input)."""
    named = dict(model.named_modules())
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str):
        return lambda mod, args, out: outputs.__setitem__(name, out.detach() if detach else out)

    handles = [named[m].register_forward_hook(keep(n)) for n, m in modules.items() if m != ""]
    return outputs, handles
