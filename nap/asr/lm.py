"""A symbol n-gram language model for flashlight's lexicon-free CTC beam search.

The model counts n-grams of the network's own symbols (letters, space, apostrophe and
repetition symbols, as :meth:`Vocab.tokenize` writes a transcript) in the training
transcripts, and smooths them by interpolated Witten-Bell (each order backs off to the
next lower one, down to a uniform distribution), so that unseen words still get a
probability from their letter sequences. :class:`FlashlightLM` hands it to flashlight's
decoder through torchaudio's ``CTCDecoderLM`` interface: the decoder keeps a tree of
states, one per decoded prefix, and asks for the log-probability of each next symbol.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from nap.asr.vocab import BLANK, Vocab

BOS = "<s>"
EOS = "</s>"


class SymbolNgram:
    """Interpolated Witten-Bell n-gram over symbols; ``logprob(context, symbol)`` in nats."""

    def __init__(self, sentences: Iterable[Sequence[str]], symbols: Sequence[str], order: int = 6):
        if order < 1:
            raise ValueError(f"n-gram order must be at least 1, got {order}")
        self.order = order
        self.symbols = [s for s in symbols if s != BLANK] + [EOS]
        self.counts: list[dict[tuple[str, ...], Counter]] = [defaultdict(Counter) for _ in range(order)]
        known = set(self.symbols)
        for sent in sentences:
            seq = [BOS] * (order - 1) + list(sent) + [EOS]
            for i in range(order - 1, len(seq)):
                if seq[i] not in known:
                    raise ValueError(f"symbol {seq[i]!r} is not in the vocabulary")
                for n in range(order):  # context lengths 0 .. order-1
                    self.counts[n][tuple(seq[i - n : i])][seq[i]] += 1
        self._totals = [{h: (sum(c.values()), len(c)) for h, c in level.items()} for level in self.counts]
        self._cache: dict[tuple[tuple[str, ...], str], float] = {}

    def prob(self, context: Sequence[str], symbol: str) -> float:
        """P(symbol | the last order-1 symbols of context)."""
        ctx = tuple(context)[-(self.order - 1) :] if self.order > 1 else ()
        ctx = (BOS,) * (self.order - 1 - len(ctx)) + ctx
        p = 1.0 / len(self.symbols)
        for n in range(self.order):  # lowest order first, each interpolating the one below
            h = ctx[len(ctx) - n :] if n else ()
            total, types = self._totals[n].get(h, (0, 0))
            if total:
                p = (self.counts[n][h][symbol] + types * p) / (total + types)
        return p

    def logprob(self, context: Sequence[str], symbol: str) -> float:
        key = (tuple(context)[-(self.order - 1) :] if self.order > 1 else (), symbol)
        if key not in self._cache:
            self._cache[key] = math.log(self.prob(key[0], symbol))
        return self._cache[key]

    def perplexity(self, sentences: Iterable[Sequence[str]]) -> float:
        """Per-symbol perplexity (end of sentence included) of ``sentences``."""
        total, n = 0.0, 0
        for sent in sentences:
            ctx: list[str] = []
            for s in [*sent, EOS]:
                total -= self.logprob(ctx, s)
                ctx.append(s)
                n += 1
        return math.exp(total / max(n, 1))

    @classmethod
    def from_texts(cls, texts: Iterable[str], vocab: Vocab, order: int = 6) -> SymbolNgram:
        """Train on transcripts, tokenized as the network writes them."""
        return cls((vocab.tokenize(t) for t in texts), vocab.symbols, order)


def flashlight_lm(
    ngram: SymbolNgram, tokens: Sequence[str], sil_token: str, bonus: float = 0.0, space: str = " "
):
    """A torchaudio ``CTCDecoderLM`` asking ``ngram`` for each decoder token (``sil_token`` = space).

    ``bonus`` is added to every symbol's log-probability: an insertion bonus, which offsets
    the model's preference for short hypotheses (each symbol costs probability).
    """
    from torchaudio.models.decoder import CTCDecoderLM, CTCDecoderLMState

    names = [space if t == sil_token else t for t in tokens]

    class FlashlightLM(CTCDecoderLM):
        def __init__(self) -> None:
            CTCDecoderLM.__init__(self)
            self.contexts: dict[CTCDecoderLMState, tuple[str, ...]] = {}
            self.keep = max(ngram.order - 1, 0)

        def start(self, start_with_nothing: bool):
            self.contexts = {}
            state = CTCDecoderLMState()
            self.contexts[state] = ()
            return state

        def score(self, state, usr_token_idx: int):
            ctx = self.contexts[state]
            child = state.child(usr_token_idx)
            if child not in self.contexts:
                self.contexts[child] = (ctx + (names[usr_token_idx],))[-self.keep :] if self.keep else ()
            return child, ngram.logprob(ctx, names[usr_token_idx]) + bonus

        def finish(self, state):
            return state, ngram.logprob(self.contexts[state], EOS)

    return FlashlightLM()
