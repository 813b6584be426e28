"""Greedy and flashlight-text beam-search decoding on hand-made posteriorgrams."""

from __future__ import annotations

import numpy as np
import pytest

from nap.asr.decode import BeamDecoder, decoder_tokens, greedy, write_lexicon
from nap.asr.vocab import Vocab


def posteriorgram(vocab: Vocab, frames: list[dict[str, float]]) -> np.ndarray:
    """Log-probabilities: each frame's listed symbols get their probability, the rest share 1e-4."""
    out = np.full((len(frames), len(vocab)), 1e-4)
    for t, probs in enumerate(frames):
        for sym, pr in probs.items():
            out[t, vocab.index(sym)] = pr
    return np.log(out / out.sum(1, keepdims=True)).astype(np.float32)


def sure(vocab: Vocab, symbols: str | list[str]) -> np.ndarray:
    return posteriorgram(vocab, [{s: 1.0} for s in symbols])


def test_greedy_collapses_and_expands_repetitions():
    vocab = Vocab(2)
    path = ["<b>", "h", "h", "e", "<b>", "l", "1", "o", " ", " ", "w", "o", "r", "l", "d", "<b>"]
    assert greedy(vocab, sure(vocab, path)) == "hello world"


def test_beam_search_returns_the_text_of_a_clear_posteriorgram():
    vocab = Vocab(2)
    path = ["<b>", "h", "e", "e", "l", "1", "<b>", "o", " ", "<b>", "b", "o", "1", "k", "<b>", "<b>"]
    assert BeamDecoder(vocab, beam_size=10)(sure(vocab, path)) == "hello book"
    assert decoder_tokens(vocab)[1] == "|"


def test_lexicon_restricts_words(tmp_path):
    vocab = Vocab(2)
    # the acoustics say "bok sat", with the repetition symbol a close second after the 'o';
    # the lexicon knows "book" and "sat" (and others), but not "bok"
    frames = [
        {"b": 1},
        {"o": 1},
        {"<b>": 0.55, "1": 0.45},
        {"k": 1},
        {" ": 1},
        {"s": 1},
        {"a": 1},
        {"t": 1},
        {"<b>": 1},
    ]
    lp = posteriorgram(vocab, frames)
    lexicon = tmp_path / "lexicon.txt"
    assert write_lexicon(lexicon, vocab, ["book", "sat", "cat", "it's", "bad word"]) == 4
    assert "book b o 1 k |" in lexicon.read_text()
    assert greedy(vocab, lp) == "bok sat"
    assert BeamDecoder(vocab, beam_size=50, beam_threshold=100.0)(lp) == "bok sat"
    assert BeamDecoder(vocab, beam_size=50, beam_threshold=100.0, lexicon=lexicon)(lp) == "book sat"


def test_missing_lexicon_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nolex.txt"):
        BeamDecoder(Vocab(), lexicon=tmp_path / "nolex.txt")
