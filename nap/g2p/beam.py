"""Batched beam search and forced decoding for :class:`nap.g2p.model.G2PNet`.

All words of a batch have the same length. Each word keeps ``beam`` hypotheses; a
hypothesis that has emitted </s> stays in the beam with its score frozen (its only
continuation is "stay finished"), so the whole search is a few tensor operations per step
for every word at once. Scores are summed log-probabilities, optionally divided by
``length ** alpha`` when the finished hypotheses are compared at the end. An ensemble of
both reading directions (:class:`nap.g2p.model.TwoWay`) reranks the union of both beams.

The search runs where the network is (:func:`device_of`); the decoded codes and attention
come back to the CPU once per batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nap.g2p.data import Vocab
from nap.g2p.model import Net, TwoWay


@dataclass(frozen=True)
class Decoded:
    """One word's best hypothesis: phone codes (without </s>), attention (T, L), log-probability."""

    codes: list[int]
    attention: Tensor
    score: float


def device_of(net: torch.nn.Module) -> torch.device:
    """The device of ``net``'s parameters (its inputs are made there)."""
    param = next(net.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def max_steps(n_letters: int) -> int:
    """Upper bound on the output length (CMUDict's longest ratio is 3 phones for 1 letter, as in X)."""
    return 2 * n_letters + 6


@torch.no_grad()
def beam_hypotheses(net: Net, letters: Tensor, beam: int = 5) -> list[list[Decoded]]:
    """Every hypothesis left in each word's beam at the end, best (highest log-probability) first."""
    if beam < 1:
        raise ValueError(f"beam width must be at least 1, got {beam}")
    n, length = letters.shape
    dev = letters.device
    vocab_size = net.cfg.n_phones
    enc, keys, state = net.encode(letters)
    rows = torch.arange(n, device=dev).repeat_interleave(beam)
    enc, keys, state = enc[rows], keys[rows], net.select(state, rows)
    scores = torch.full((n, beam), float("-inf"), device=dev)
    scores[:, 0] = 0.0
    prev = torch.full((n * beam,), Vocab.BOS, dtype=torch.long, device=dev)
    done = torch.zeros(n * beam, dtype=torch.bool, device=dev)
    tokens = torch.zeros((n * beam, 0), dtype=torch.long, device=dev)
    attns = torch.zeros((n * beam, 0, length), device=dev)
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
        origin = (flat // vocab_size + torch.arange(n, device=dev).unsqueeze(1) * beam).view(-1)
        token = (flat % vocab_size).view(-1)
        state = net.select(state, origin)
        done = done[origin] | (token == Vocab.EOS)
        tokens = torch.cat([tokens[origin], token.unsqueeze(1)], dim=1)
        attns = torch.cat([attns[origin], attn[origin].unsqueeze(1)], dim=1)
        prev = torch.where(token == Vocab.PAD, torch.full_like(token, Vocab.EOS), token)
        if bool(done.all()):
            break
    flat_scores = scores.view(-1).tolist()
    tokens, attns = tokens.cpu(), attns.cpu()
    out: list[list[Decoded]] = []
    for i in range(n):
        hyps = []
        for r in range(i * beam, (i + 1) * beam):
            if flat_scores[r] == float("-inf"):  # fewer hypotheses than the beam is wide
                continue
            codes = [c for c in tokens[r].tolist() if c not in (Vocab.PAD, Vocab.EOS)]
            hyps.append(Decoded(codes, attns[r, : len(codes)].clone(), flat_scores[r]))
        out.append(hyps)
    return out


def beam_search(net: Net | TwoWay, letters: Tensor, beam: int = 5, alpha: float = 0.0) -> list[Decoded]:
    """Best hypothesis for each word of ``letters`` (B, L); ``beam=1`` is greedy decoding.

    With ``alpha`` the hypotheses compete by log-probability over ``(phones + 1) ** alpha``.
    A :class:`TwoWay` ensemble reranks both sides' beams (:func:`rerank`).
    """
    if isinstance(net, TwoWay):
        if alpha:
            raise ValueError("length normalisation (alpha) is not available for a two-way ensemble")
        return rerank(net, letters, beam)
    best = []
    for hyps in beam_hypotheses(net, letters, beam):
        key = [h.score / (len(h.codes) + 1) ** alpha if alpha else h.score for h in hyps]
        best.append(hyps[key.index(max(key))])
    return best


@torch.no_grad()
def rerank(net: TwoWay, letters: Tensor, beam: int = 5) -> list[Decoded]:
    """The best of both sides' beams for each word by the summed log-probability of both sides."""
    left = beam_hypotheses(net.left, letters, beam)
    right = beam_hypotheses(net.right, letters, beam)
    candidates = [
        list(dict.fromkeys([tuple(h.codes) for h in lh] + [tuple(reversed(h.codes)) for h in rh]))
        for lh, rh in zip(left, right, strict=True)
    ]
    rows = torch.tensor([i for i, c in enumerate(candidates) for _ in c], device=letters.device)
    scored = iter(force_decode(net, letters, [list(c) for cs in candidates for c in cs], rows))
    out = []
    for cs in candidates:
        options = [next(scored) for _ in cs]
        out.append(max(options, key=lambda d: d.score))  # the first of equals: the left side's order
    return out


@torch.no_grad()
def force_decode(
    net: Net | TwoWay, letters: Tensor, codes: list[list[int]], rows: Tensor | None = None
) -> list[Decoded]:
    """Teacher-forced decoding of given phone codes: their attention (T, L) and log-probability.

    ``codes[b]`` is a pronunciation of word ``rows[b]`` of ``letters`` (default: of word ``b``);
    each word is encoded once however many pronunciations it has.
    """
    if len(codes) != (letters.shape[0] if rows is None else len(rows)):
        raise ValueError(
            f"{letters.shape[0] if rows is None else len(rows)} words but {len(codes)} pronunciations"
        )
    if any(len(c) == 0 for c in codes):
        raise ValueError("a pronunciation to force-decode must have at least one phone")
    if isinstance(net, TwoWay):
        left = force_decode(net.left, letters, codes, rows)
        right = force_decode(net.right, letters, [list(c)[::-1] for c in codes], rows)
        return [
            Decoded(a.codes, (a.attention + b.attention.flip(0)) / 2, a.score + b.score)
            for a, b in zip(left, right, strict=True)
        ]
    width = max(map(len, codes)) + 1
    target = torch.zeros((len(codes), width), dtype=torch.long)
    for r, c in enumerate(codes):
        target[r, : len(c) + 1] = torch.tensor([*c, Vocab.EOS])
    target = target.to(letters.device)
    logits, attn = net(letters, target, rows)
    logp = torch.log_softmax(logits, dim=-1).gather(2, target.unsqueeze(2)).squeeze(2)
    attn, logp = attn.cpu(), logp.cpu()
    out = []
    for r, c in enumerate(codes):
        out.append(Decoded(list(c), attn[r, : len(c)].clone(), float(logp[r, : len(c) + 1].sum())))
    return out


def decode_words(
    net: Net | TwoWay,
    vocab: Vocab,
    words: list[str],
    beam: int = 5,
    batch_size: int = 256,
    alpha: float = 0.0,
) -> list[Decoded]:
    """Beam-search every word (grouped by length, ``batch_size`` words at a time), in input order."""
    by_len: dict[int, list[int]] = {}
    for i, w in enumerate(words):
        by_len.setdefault(len(w), []).append(i)
    out: list[Decoded | None] = [None] * len(words)
    device = device_of(net)
    for idx in by_len.values():
        for s in range(0, len(idx), batch_size):
            chunk = idx[s : s + batch_size]
            letters = torch.tensor(
                [vocab.encode_word(words[i]) for i in chunk], dtype=torch.long, device=device
            )
            for i, d in zip(chunk, beam_search(net, letters, beam, alpha), strict=True):
                out[i] = d
    return out  # type: ignore[return-value]
