"""A symbol n-gram language model for flashlight's lexicon-free CTC beam search.

The model counts n-grams of the network's own symbols (letters, space, apostrophe and
repetition symbols, as :meth:`Vocab.tokenize` writes a transcript) in text-only sentences,
and smooths them by interpolated Witten-Bell (each order backs off to the next lower one,
down to a uniform distribution), so that unseen words still get a probability from their
letter sequences. A sentence is ``<s> s1 … sn </s>``; a context never reaches back past
``<s>``.

Interpolated Witten-Bell is exactly an ARPA back-off model (an unseen symbol after context
``h`` gets ``T(h) / (N(h) + T(h))`` times its probability after the shorter context), so
:meth:`SymbolNgram.write_arpa` writes it for KenLM, which flashlight-text's decoder queries
natively: no Python call per hypothesis and symbol.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from nap.asr.vocab import BLANK, Vocab
from nap.store import atomic_path

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
#: ARPA's log10 "probability" of events that never happen (``<s>`` as a predicted symbol)
NEVER = -99.0


class SymbolNgram:
    """Interpolated Witten-Bell n-gram over symbols; ``logprob(context, symbol)`` in nats."""

    def __init__(self, sentences: Iterable[Sequence[str]], symbols: Sequence[str], order: int = 6):
        if order < 1:
            raise ValueError(f"n-gram order must be at least 1, got {order}")
        self.order = order
        self.symbols = [s for s in symbols if s != BLANK] + [EOS]
        #: counts[n][h][w]: how often symbol w followed the n symbols h
        self.counts: list[dict[tuple[str, ...], Counter]] = [defaultdict(Counter) for _ in range(order)]
        known = set(self.symbols)
        for sent in sentences:
            seq = [BOS, *sent, EOS]
            for i in range(1, len(seq)):
                if seq[i] not in known:
                    raise ValueError(f"symbol {seq[i]!r} is not in the vocabulary")
                for n in range(min(order, i + 1)):  # context lengths 0 .. order-1, not before <s>
                    self.counts[n][tuple(seq[i - n : i])][seq[i]] += 1
        self._totals = [{h: (sum(c.values()), len(c)) for h, c in level.items()} for level in self.counts]
        self._cache: dict[tuple[tuple[str, ...], str], float] = {}

    def _history(self, context: Sequence[str]) -> tuple[str, ...]:
        """The last order-1 symbols of ``<s>`` + context."""
        if self.order == 1:
            return ()
        return ((BOS, *context))[-(self.order - 1) :]

    def backoff(self, h: tuple[str, ...]) -> float:
        """Witten-Bell's weight of the shorter context after ``h``: T(h) / (N(h) + T(h))."""
        total, types = self._totals[len(h)].get(h, (0, 0))
        return types / (total + types) if total else 1.0

    def prob(self, context: Sequence[str], symbol: str) -> float:
        """P(symbol | <s> and the symbols of ``context``, of which the last order-1 count)."""
        return self._prob_exact(self._history(context), symbol)

    def logprob(self, context: Sequence[str], symbol: str) -> float:
        key = (self._history(context), symbol)
        if key not in self._cache:
            self._cache[key] = math.log(self._prob_exact(*key))
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

    def write_arpa(self, path: Path, names: Mapping[str, str] | None = None) -> int:
        """Write the model as an ARPA file (log10) for KenLM; returns the number of n-grams.

        ``names`` renames symbols (flashlight writes the space as ``|``).
        """
        names = dict(names or {})

        def word(s: str) -> str:
            return names.get(s, s)

        levels: list[list[str]] = [[] for _ in range(self.order)]
        # unigrams: every symbol (seen or not), <s> (never predicted) and <unk>
        for w in [*self.symbols, BOS]:
            lp = NEVER if w == BOS else math.log10(self._prob_exact((), w))
            bo = math.log10(self.backoff((w,))) if self.order > 1 and (w,) in self._totals[1] else None
            levels[0].append(_arpa_line(lp, word(w), bo))
        levels[0].append(_arpa_line(NEVER, UNK, None))
        for n in range(1, self.order):
            for h, following in self.counts[n].items():
                for w in following:
                    g = (*h, w)
                    lp = math.log10(self._prob_exact(h, w))
                    bo = None
                    if n + 1 < self.order and g in self._totals[n + 1]:
                        bo = math.log10(self.backoff(g))
                    levels[n].append(_arpa_line(lp, " ".join(word(s) for s in g), bo))
        with atomic_path(Path(path)) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.write("\\data\\\n")
            for n, lines in enumerate(levels):
                fh.write(f"ngram {n + 1}={len(lines)}\n")
            for n, lines in enumerate(levels):
                fh.write(f"\n\\{n + 1}-grams:\n")
                fh.write("\n".join(lines) + "\n")
            fh.write("\n\\end\\\n")
        return sum(len(lines) for lines in levels)

    def _prob_exact(self, h: tuple[str, ...], w: str) -> float:
        """P(w | h), interpolated from the empty context up over the suffixes of ``h``."""
        p = 1.0 / len(self.symbols)
        for n in range(len(h) + 1):
            hn = h[len(h) - n :]
            total, types = self._totals[n].get(hn, (0, 0))
            if total:
                p = (self.counts[n][hn][w] + types * p) / (total + types)
        return p

    @classmethod
    def from_texts(cls, texts: Iterable[str], vocab: Vocab, order: int = 6) -> SymbolNgram:
        """Train on transcripts, tokenized as the network writes them."""
        return cls((vocab.tokenize(t) for t in texts), vocab.symbols, order)


def _arpa_line(logprob: float, ngram: str, backoff: float | None) -> str:
    return f"{logprob:.6f}\t{ngram}" + (f"\t{backoff:.6f}" if backoff is not None else "")
