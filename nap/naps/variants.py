"""The authors' later NAP variants: contrastive NAPs and saliency-adjusted NAPs.

*Contrastive NAPs* (the authors' iNNtrospect toolbox, ``compute_contrastive_naps``): of the
chosen groups only, each group's mean minus the mean of the chosen groups' means, every
group alike or weighted by its frames. Over every kept group, the weighted contrast is the
paper's ``global_mean`` normalization and the unweighted one ``mean_of_groups``; a subset
(e.g. the vowels) contrasts the groups against each other alone. They need nothing but
the group means and counts the naps stage stores, so :func:`contrastive_naps` computes
them from those; each channel is then sorted as the paper's step E does.

*Saliency-adjusted NAPs* (Krug et al., Electronics 2021, "SNAPs"; GradNAPs in Krug &
Stober 2020): a window's activations weighted by their relevance for the prediction —
here each activation times the gradient, with respect to it, of the logit of the class the
network predicts for the window's output frame — averaged per group, normalized and sorted
like NAPs. A gradient is per output frame, and the windows of neighbouring frames overlap,
so one backward pass over a whole utterance would mix them; :func:`saliency_sums` feeds
windows as separate batch items (each gives exactly one output frame, so one backward pass
over the batch's summed predicted logits gives every window its own gradient).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from nap.hardware import exact_float32
from nap.naps.normalize import GroupNaps, group_naps
from nap.naps.windows import add_blocks, labelled_windows, tap


def contrast_indices(names: Sequence[str], contrast: Sequence[str] | None) -> np.ndarray:
    """Positions in ``names`` of the contrast's groups (all for None; names not there are ignored)."""
    if contrast is None:
        return np.arange(len(names))
    wanted = set(contrast)
    return np.asarray([i for i, n in enumerate(names) if n in wanted], dtype=np.int64)


def contrastive_naps(
    means: np.ndarray, counts: np.ndarray, idx: np.ndarray, weighted: bool = False
) -> np.ndarray:
    """(len(idx), C, P) contrastive NAPs of groups ``idx`` from (G, C, P) group means and (G,) counts.

    Each chosen group's mean minus the weighted mean of the chosen groups' means (weights 1,
    or the groups' frames when ``weighted``, normalized to sum 1), each channel sorted.
    """
    idx = np.asarray(idx, dtype=np.int64)
    if idx.size == 0:
        return np.zeros((0, *np.shape(means)[1:]))
    chosen = np.asarray(means, dtype=np.float64)[idx]
    w = np.asarray(counts, dtype=np.float64)[idx] if weighted else np.ones(idx.size)
    w = w / w.sum()
    contrast = np.tensordot(w, chosen, axes=1)
    return np.sort(chosen - contrast[None], axis=-1)


def saliency_sums(
    model: nn.Module,
    modules: dict[str, str],
    inputs: Sequence[np.ndarray],
    labels: Sequence[dict[str, np.ndarray]],
    n_groups: dict[str, int],
    receptive_field: int,
    stride: int,
    batch_windows: int = 64,
    frames: Sequence[np.ndarray] | None = None,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Per layer and grouping, (G, C, P) float64 sums of the windows' activation × gradient, and counts.

    ``modules`` maps a layer name to the module whose output is the layer's activations
    (``""``: the input window). The gradient is that of the window's predicted class's logit
    (argmax over the model's output at the window's single output frame). ``frames[i]``
    restricts utterance ``i`` to those output frames (a sample); None = every labelled frame.
    ``batch_windows`` = 1 is the literal, one-window-at-a-time definition.
    """
    outputs, handles = tap(model, modules, detach=False)  # the gradient flows through them
    sums: dict[str, dict[str, np.ndarray]] = {n: {} for n in modules}
    counts = {k: np.zeros(g, dtype=np.int64) for k, g in n_groups.items()}
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    windows: list[torch.Tensor] = []
    owners: list[dict[str, int]] = []

    def flush() -> None:
        if not windows:
            return
        x = torch.stack(windows).to(device).requires_grad_(True)
        out = model(x)  # (B, classes, 1)
        if out.shape[-1] != 1:
            raise ValueError(
                f"a window of {receptive_field} frames gives {out.shape[-1]} output frames, not 1"
            )
        logits = out[:, :, 0]
        target = logits.gather(1, logits.argmax(1, keepdim=True)).sum()
        acts = {n: x if m == "" else outputs[n] for n, m in modules.items()}
        grads = dict(zip(acts, torch.autograd.grad(target, list(acts.values())), strict=True))
        for n in modules:
            block = (acts[n] * grads[n]).detach().double().cpu().numpy()  # (B, C, P)
            add_blocks(sums[n], block, owners, n_groups)
        windows.clear()
        owners.clear()

    try:
        with exact_float32(), torch.enable_grad():
            windows_of = labelled_windows(inputs, labels, n_groups, receptive_field, stride, counts, frames)
            for window, frame in windows_of:
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


def saliency_naps(sums: np.ndarray, counts: np.ndarray, normalization: str, min_count: int) -> GroupNaps:
    """Saliency-adjusted NAPs from :func:`saliency_sums`: normalized and sorted as NAPs are."""
    return group_naps(sums, counts, normalization, min_count)
