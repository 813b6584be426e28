"""Greedy and beam-search CTC decoding; the beam search is flashlight-text's, through torchaudio.

flashlight's decoder works on the network's symbols, so a repetition symbol is just
another token to it: it decodes ``h e l 1 o`` and :meth:`Vocab.expand` then writes
``hello``. The word separator is the space symbol (given to flashlight as ``|``). With a
lexicon, every word is spelled in the same symbols (``hello h e l 1 o |``), so only words
of the lexicon can come out.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from nap.asr.lm import SymbolNgram
from nap.asr.vocab import BLANK, SPACE, Vocab
from nap.store import atomic_path

SIL = "|"


def greedy(vocab: Vocab, logits: torch.Tensor | np.ndarray) -> str:
    """Best symbol per frame, repeats merged, blanks dropped, repetitions expanded.

    ``logits``: (frames, classes).
    """
    path = torch.as_tensor(logits).argmax(-1).tolist()
    return " ".join(vocab.decode(vocab.collapse(path)).split())


def decoder_tokens(vocab: Vocab) -> list[str]:
    """The vocabulary's symbols as flashlight tokens (space written as ``|``)."""
    return [SIL if s == SPACE else s for s in vocab.symbols]


def write_lexicon(path: Path, vocab: Vocab, words: Iterable[str]) -> int:
    """A flashlight lexicon file: each word, then its spelling in network symbols and ``|``."""
    lines = []
    for word in sorted(set(words)):
        if not word or vocab.oov(word) or SPACE in word:
            continue
        lines.append(f"{word} {' '.join(vocab.tokenize(word))} {SIL}")
    if not lines:
        raise ValueError(f"lexicon {path}: no usable words")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return len(lines)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence what C++ code writes to file descriptor 2 (errors still raise exceptions)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class BeamDecoder:
    """flashlight-text's CTC beam search, lexicon-free unless a lexicon file is given.

    With ``lm`` (a :class:`nap.asr.lm.SymbolNgram`), hypotheses are scored by the network's
    log-probabilities plus ``lm_weight`` times the n-gram's (natural log), plus ``lm_bonus``
    for every word (flashlight's silence score: it offsets the n-gram's preference for short
    hypotheses; lexicon-free decoding only). The n-gram goes to flashlight as a temporary
    ARPA file read by its built-in KenLM.
    """

    def __init__(
        self,
        vocab: Vocab,
        beam_size: int = 50,
        beam_threshold: float = 25.0,
        lexicon: str | Path | None = None,
        lm: SymbolNgram | None = None,
        lm_weight: float = 0.5,
        lm_bonus: float = 0.0,
        beam_size_token: int | None = None,
    ):
        from torchaudio.models.decoder import ctc_decoder

        self.vocab = vocab
        self.tokens = decoder_tokens(vocab)
        self.lexicon = None if lexicon is None else Path(lexicon)
        if self.lexicon is not None and not self.lexicon.is_file():
            raise FileNotFoundError(f"lexicon file {self.lexicon} does not exist")
        if lm is not None and self.lexicon is not None:
            raise ValueError("the symbol n-gram scores letters: use it with lexicon-free decoding only")
        self.lm = lm
        with tempfile.TemporaryDirectory(prefix="nap-lm-") as tmp:
            lm_file = None
            if lm is not None:
                lm_file = Path(tmp) / "lm.arpa"
                lm.write_arpa(lm_file, {SPACE: SIL})
                # the n-gram's words are the tokens, in token order: flashlight's lexicon-free
                # decoder asks the LM by token index (torchaudio's default word list is unordered)
                lm_dict = Path(tmp) / "tokens.txt"
                lm_dict.write_text("".join(t + "\n" for t in self.tokens), encoding="utf-8")
            # KenLM scores in log10: the weight takes the factor ln 10 so that it weighs nats
            with _quiet_stderr():  # KenLM prints a progress bar while reading the ARPA file
                self._decoder = ctc_decoder(
                    lexicon=None if self.lexicon is None else str(self.lexicon),
                    tokens=self.tokens,
                    lm=None if lm_file is None else str(lm_file),
                    lm_dict=None if lm_file is None else str(lm_dict),
                    lm_weight=lm_weight * math.log(10) if lm_file is not None else 0.0,
                    beam_size=beam_size,
                    beam_size_token=beam_size_token,
                    beam_threshold=beam_threshold,
                    blank_token=BLANK,
                    sil_token=SIL,
                    sil_score=lm_bonus if lm_file is not None else 0.0,
                    unk_word="<unk>",
                )

    def __call__(self, logits: torch.Tensor | np.ndarray) -> str:
        """The best transcript for one utterance's logits (frames, classes)."""
        return self.batch([logits])[0]

    def batch(self, logits: list[torch.Tensor | np.ndarray]) -> list[str]:
        """Best transcripts for several utterances (each (frames, classes), any lengths)."""
        out = []
        for lg in logits:
            emissions = torch.as_tensor(lg, dtype=torch.float32).log_softmax(-1)[None].contiguous()
            hyps = self._decoder(emissions)[0]
            if not hyps:
                out.append("")
                continue
            best = hyps[0]
            if self.lexicon is not None:
                out.append(" ".join(w for w in best.words if w != "<unk>"))
            else:
                symbols = [SPACE if self.tokens[i] == SIL else self.tokens[i] for i in best.tokens.tolist()]
                out.append(" ".join(self.vocab.expand(symbols).split()))
        return out
