"""The symbol n-gram language model and its use by flashlight's beam search."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nap.asr.decode import BeamDecoder, greedy
from nap.asr.lm import EOS, SymbolNgram
from nap.asr.vocab import ALPHABET, Vocab

TEXTS = ["the cat sat on the mat", "the dog sat on the log", "a cat and the dog", "see the cat"]


@pytest.fixture(scope="module")
def lm() -> SymbolNgram:
    return SymbolNgram.from_texts(TEXTS, Vocab(2), order=4)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=8))
def test_probabilities_sum_to_one_in_every_context(lm, context):
    ctx = Vocab(2).tokenize(context)
    total = sum(lm.prob(ctx, s) for s in lm.symbols)
    assert total == pytest.approx(1.0, abs=1e-9)
    assert all(lm.prob(ctx, s) > 0 for s in lm.symbols)


def test_witten_bell_by_hand():
    # unigram model over symbols a, b (+ end of sentence) from "ab" and "a":
    # counts a:2 b:1 </s>:2, 3 types, 5 tokens; P(a) = (2 + 3 * 1/31) / (5 + 3) with 31 symbols
    # (blank excluded: space, apostrophe, a-z, '1', '2', </s>)
    lm = SymbolNgram.from_texts(["ab", "a"], Vocab(2), order=1)
    assert len(lm.symbols) == 31
    assert lm.prob([], "a") == pytest.approx((2 + 3 / 31) / 8)
    assert lm.prob([], EOS) == pytest.approx((2 + 3 / 31) / 8)
    assert lm.prob([], "z") == pytest.approx((3 / 31) / 8)


def test_in_domain_text_is_more_probable(lm):
    vocab = Vocab(2)
    seen = lm.perplexity([vocab.tokenize("the cat sat on the log")])
    unseen = lm.perplexity([vocab.tokenize("zqx vjk wvv")])
    assert seen < 3 < unseen
    assert math.isfinite(unseen)


def test_beam_search_with_the_lm_prefers_known_spellings(lm):
    vocab = Vocab(2)
    # the acoustics hesitate between "tha" (0.55) and "the" (0.45) at the third symbol
    frames = [{"t": 1.0}, {"h": 1.0}, {"a": 0.55, "e": 0.45}, {" ": 1.0}, {"c": 1.0}, {"a": 1.0}, {"t": 1.0}]
    lp = np.full((len(frames), len(vocab)), 1e-4)
    for t, probs in enumerate(frames):
        for sym, pr in probs.items():
            lp[t, vocab.index(sym)] = pr
    lp = np.log(lp / lp.sum(1, keepdims=True)).astype(np.float32)
    assert greedy(vocab, lp) == "tha cat"
    assert BeamDecoder(vocab, beam_size=20, beam_threshold=100.0)(lp) == "tha cat"
    with_lm = BeamDecoder(vocab, beam_size=20, beam_threshold=100.0, lm=lm, lm_weight=0.5, lm_bonus=0.5)
    assert with_lm(lp) == "the cat"


def test_lm_and_lexicon_do_not_mix(tmp_path, lm):
    lex = tmp_path / "lexicon.txt"
    lex.write_text("cat c a t |\n")
    with pytest.raises(ValueError, match="lexicon-free"):
        BeamDecoder(Vocab(2), lexicon=lex, lm=lm)


def test_lm_text_comes_from_the_corpus_or_the_training_transcripts():
    from types import SimpleNamespace

    from nap.asr.params import AsrParams
    from nap.asr.stage import lm_texts

    corpus = SimpleNamespace(lm_texts=lambda: ["the cat sat", "no digits 4 here", "a dog ran"])
    train = SimpleNamespace(items=[SimpleNamespace(text="the cat sat")])
    # text outside the alphabet is left out, not a crash in the n-gram
    assert lm_texts(AsrParams(), corpus, train) == ["the cat sat", "a dog ran"]
    assert lm_texts(AsrParams.from_dict({"lm_text": "train"}), corpus, train) == ["the cat sat"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(list(ALPHABET)), max_size=12))
def test_kenlm_reads_the_arpa_export_as_the_same_model(lm, text):
    """flashlight's KenLM scores every symbol exactly as the Python n-gram does."""
    vocab = Vocab(2)
    dec = BeamDecoder(vocab, beam_size=5, lm=lm)
    kenlm, tokens = dec._decoder.lm, dec.tokens
    state, ctx = kenlm.start(False), []
    for s in vocab.tokenize("".join(text)):
        state, score = kenlm.score(state, tokens.index("|" if s == " " else s))
        assert score * math.log(10) == pytest.approx(lm.logprob(ctx, s), abs=1e-4)
        ctx.append(s)
    _, end = kenlm.finish(state)
    assert end * math.log(10) == pytest.approx(lm.logprob(ctx, EOS), abs=1e-4)
