"""Run the network over a split and score its transcripts (greedy and beam search)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from nap.asr.data import Examples, collate
from nap.asr.metrics import cer, wer
from nap.asr.model import Wav2Letter
from nap.asr.vocab import Vocab

#: How an error rate of a split without utterances is reported: it has no score (None), not a perfect one.
NO_HELD_OUT = "no held-out utterances"


def batched_logits(
    model: Wav2Letter,
    examples: Examples,
    indices: Sequence[int] | None = None,
    batch_size: int = 16,
    device: torch.device | str = "cpu",
) -> Iterator[tuple[int, torch.Tensor]]:
    """(index, logits (out_frames, classes)) for each example, batched by length, float32, no grad."""
    idx = list(range(len(examples.items))) if indices is None else list(indices)
    idx.sort(key=lambda i: examples.items[i].frames)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(idx), batch_size):
                chunk = idx[start : start + batch_size]
                x, lengths, _, _ = collate(examples, chunk)
                logits = model(x.to(device)).float().cpu()
                out_lens = model.output_frames(lengths)
                for k, i in enumerate(chunk):
                    yield i, logits[k, :, : int(out_lens[k])].T.contiguous()
    finally:
        model.train(was_training)


def ctc_loss_per_token(logits: torch.Tensor, targets: Sequence[int]) -> float:
    """CTC loss of one utterance divided by its number of target symbols."""
    logp = logits.float().log_softmax(-1)[:, None, :]
    loss = F.ctc_loss(
        logp,
        torch.tensor([list(targets)]),
        torch.tensor([logp.shape[0]]),
        torch.tensor([len(targets)]),
        blank=0,
        reduction="sum",
        zero_infinity=True,
    )
    return float(loss) / max(len(targets), 1)


def score(
    model: Wav2Letter,
    vocab: Vocab,
    examples: Examples,
    indices: Sequence[int] | None = None,
    decoders: dict[str, Callable[[torch.Tensor], str]] | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 16,
) -> dict[str, object]:
    """Loss, and CER/WER of every decoder (default: greedy), with each utterance's hypotheses.

    Without utterances there is nothing to score: loss, CER and WER are None (0 edits over 0
    reference characters would read as a perfect 0.0).
    """
    from nap.asr.decode import greedy

    decoders = decoders or {"greedy": lambda lg: greedy(vocab, lg)}
    refs: dict[int, str] = {}
    hyps: dict[str, dict[int, str]] = {name: {} for name in decoders}
    losses = []
    for i, logits in batched_logits(model, examples, indices, batch_size, device):
        ex = examples.items[i]
        refs[i] = ex.text
        losses.append(ctc_loss_per_token(logits, ex.targets))
        for name, dec in decoders.items():
            hyps[name][i] = dec(logits)
    order = sorted(refs)
    out: dict[str, object] = {
        "utterances": len(order),
        "loss": float(np.mean(losses)) if losses else None,
        "ids": [examples.items[i].id for i in order],
        "refs": [refs[i] for i in order],
    }
    for name in decoders:
        h = [hyps[name][i] for i in order]
        rates = (cer(out["refs"], h), wer(out["refs"], h)) if order else (None, None)  # type: ignore[arg-type]
        out[name] = {"cer": rates[0], "wer": rates[1], "hyps": h}
    return out
