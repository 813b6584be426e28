"""Batched beam search and forced decoding for :class:`nap.g2p.model.G2PNet`.

All words of a batch have the same length. Each word keeps ``beam`` hypotheses; a
hypothesis that has emitted </s> stays in the beam with its score frozen (its only
continuation is "stay finished"), so the whole search is a few tensor operations per step
for every word at once. Scores are summed log-probabilities, optionally divided by
``length ** alpha`` when the finished hypotheses are compared at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nap.g2p.data import Vocab
from nap.g2p.model import G2PNet


@dataclass(frozen=True)
class Decoded:
    """One word's best hypothesis: phone codes (without </s>), attention (T, L), log-probability."""

    codes: list[int]
    attention: Tensor
    score: float


def max_steps(n_letters: int) -> int:
    """Upper bound on the output length (CMUDict's longest ratio is 3 phones for 1 letter, as in X)."""
    return 2 * n_letters + 6


@torch.no_grad()
def beam_search(net: G2PNet, letters: Tensor, beam: int = 5, alpha: float = 0.0) -> list[Decoded]:
    """Best hypothesis for each word of ``letters`` (B, L); ``beam=1`` is greedy decoding."""
    if beam < 1:
        raise ValueError(f"beam width must be at least 1, got {beam}")
    n, length = letters.shape
    vocab_size = net.cfg.n_phones
    enc, keys, state = net.encode(letters)
    rows = torch.arange(n).repeat_interleave(beam)
    enc, keys, state = enc[rows], keys[rows], net.select(state, rows)
    scores = torch.full((n, beam), float("-inf"))
    scores[:, 0] = 0.0
    prev = torch.full((n * beam,), Vocab.BOS, dtype=torch.long)
    done = torch.zeros(n * beam, dtype=torch.bool)
    tokens = torch.zeros((n * beam, 0), dtype=torch.long)
    attns = torch.zeros((n * beam, 0, length))
    lengths = torch.zeros(n * beam)
    for t in range(max_steps(length)):
        logits, state, attn = net.step(prev, state, enc, keys)
        logp = torch.log_softmax(logits, dim=-1)
        logp[:, Vocab.PAD] = float("-inf")
        logp[:, Vocab.BOS] = float("-inf")
        if t == 0:
            logp[:, Vocab.EOS] = float("-inf")  # every word has at least one phone
        if t == max_steps(length) - 1:
            logp[~done] = float("-inf")
            logp[~done, Vocab.EOS] = 0.0  # force the end
        # a finished hypothesis continues only with PAD at no cost
        logp[done] = float("-inf")
        logp[done, Vocab.PAD] = 0.0
        total = (scores.view(-1, 1) + logp).view(n, beam * vocab_size)
        scores, flat = total.topk(beam, dim=1)
        origin = (flat // vocab_size + torch.arange(n).unsqueeze(1) * beam).view(-1)
        token = (flat % vocab_size).view(-1)
        state = net.select(state, origin)
        was_done = done[origin]
        done = was_done | (token == Vocab.EOS)
        lengths = lengths[origin] + (~was_done).float()
        tokens = torch.cat([tokens[origin], token.unsqueeze(1)], dim=1)
        attns = torch.cat([attns[origin], attn[origin].unsqueeze(1)], dim=1)
        prev = torch.where(token == Vocab.PAD, torch.full_like(token, Vocab.EOS), token)
        if bool(done.all()):
            break
    final = scores.view(-1) / lengths.clamp(min=1) ** alpha if alpha else scores.view(-1)
    best = final.view(n, beam).argmax(dim=1) + torch.arange(n) * beam
    out = []
    for r in best.tolist():
        codes = [c for c in tokens[r].tolist() if c not in (Vocab.PAD, Vocab.EOS)]
        out.append(Decoded(codes, attns[r, : len(codes)].clone(), float(scores.view(-1)[r])))
    return out


@torch.no_grad()
def force_decode(net: G2PNet, letters: Tensor, codes: list[list[int]]) -> list[Decoded]:
    """Teacher-forced decoding of given phone codes: their attention (T, L) and log-probability."""
    if len(codes) != letters.shape[0]:
        raise ValueError(f"{letters.shape[0]} words but {len(codes)} pronunciations")
    if any(len(c) == 0 for c in codes):
        raise ValueError("a pronunciation to force-decode must have at least one phone")
    width = max(map(len, codes)) + 1
    target = torch.zeros((len(codes), width), dtype=torch.long)
    for r, c in enumerate(codes):
        target[r, : len(c) + 1] = torch.tensor([*c, Vocab.EOS])
    logits, attn = net(letters, target)
    logp = torch.log_softmax(logits, dim=-1).gather(2, target.unsqueeze(2)).squeeze(2)
    out = []
    for r, c in enumerate(codes):
        out.append(Decoded(list(c), attn[r, : len(c)].clone(), float(logp[r, : len(c) + 1].sum())))
    return out


def decode_words(
    net: G2PNet, vocab: Vocab, words: list[str], beam: int = 5, batch_size: int = 256, alpha: float = 0.0
) -> list[Decoded]:
    """Beam-search every word (grouped by length, ``batch_size`` words at a time), in input order."""
    by_len: dict[int, list[int]] = {}
    for i, w in enumerate(words):
        by_len.setdefault(len(w), []).append(i)
    out: list[Decoded | None] = [None] * len(words)
    for idx in by_len.values():
        for s in range(0, len(idx), batch_size):
            chunk = idx[s : s + batch_size]
            letters = torch.tensor([vocab.encode_word(words[i]) for i in chunk], dtype=torch.long)
            for i, d in zip(chunk, beam_search(net, letters, beam, alpha), strict=True):
                out[i] = d
    return out  # type: ignore[return-value]
