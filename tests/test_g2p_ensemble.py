"""G2P ensembles: the members' mean probabilities, and members trained side by side."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from nap.g2p import G2P, G2PParams, build_g2p
from nap.g2p.beam import beam_hypotheses, beam_search, force_decode
from nap.g2p.data import Vocab, split_words
from nap.g2p.model import Ensemble, G2PNet, NetConfig, TwoWay, combine
from nap.g2p.train import MODEL, load_weights, member_seeds, reversed_pronunciations, train

CFG = NetConfig(n_letters=Vocab().n_letters, n_phones=Vocab().n_phones, embedding=8, encoder_hidden=12,
                decoder_hidden=16, dropout=0.0)  # fmt: skip


def _net(seed: int) -> G2PNet:
    torch.manual_seed(seed)
    return G2PNet(CFG).eval()


def _letters(*words: str) -> torch.Tensor:
    v = Vocab()
    return torch.tensor([v.encode_word(w) for w in words])


def test_ensemble_probabilities_and_attention_are_the_members_mean():
    a, b = _net(0), _net(1)
    letters = _letters("cat", "dog")
    target = torch.tensor([[5, 6, 2], [7, 2, 0]])
    with torch.no_grad():
        logits, attn = Ensemble([a, b])(letters, target)
        (la, aa), (lb, ab) = a(letters, target), b(letters, target)
    mean = (la.softmax(-1) + lb.softmax(-1)) / 2
    torch.testing.assert_close(logits.exp(), mean)
    torch.testing.assert_close(logits.log_softmax(-1), logits)  # already normalised
    torch.testing.assert_close(attn, (aa + ab) / 2)


def test_ensemble_steps_agree_with_its_teacher_forced_pass():
    ens = Ensemble([_net(0), _net(1)])
    letters = _letters("knight")
    target = torch.tensor(
        [[Vocab().phone_index["N"], Vocab().phone_index["AY"], Vocab().phone_index["T"], 2]]
    )
    with torch.no_grad():
        forced, forced_attn = ens(letters, target)
        enc, keys, state = ens.encode(letters)
        prev = torch.tensor([Vocab.BOS])
        for t in range(target.shape[1]):
            logp, state, attn = ens.step(prev, state, enc, keys)
            torch.testing.assert_close(logp, forced[:, t])
            torch.testing.assert_close(attn, forced_attn[:, t])
            prev = target[:, t]


def test_an_ensemble_of_copies_decodes_like_the_network():
    net = _net(3)
    letters = _letters("where", "whose")
    alone = beam_search(net, letters, beam=3)
    twice = beam_search(Ensemble([net, copy.deepcopy(net)]), letters, beam=3)
    assert [d.codes for d in twice] == [d.codes for d in alone]
    for x, y in zip(twice, alone, strict=True):
        assert x.score == pytest.approx(y.score, abs=1e-4)
        torch.testing.assert_close(x.attention, y.attention)
    codes = [alone[0].codes, alone[1].codes]
    forced = force_decode(Ensemble([net, net]), letters, codes)
    assert [f.score for f in forced] == pytest.approx(
        [f.score for f in force_decode(net, letters, codes)], abs=1e-4
    )


def test_forced_decoding_encodes_each_word_once_for_its_candidates():
    """Rows point candidates at their word: the same scores and attention as repeating the words."""
    net = TwoWay(Ensemble([_net(0), _net(1)]), _net(2))
    letters = _letters("cat", "dog")
    v = Vocab().phone_index
    codes = [[v["K"], v["AE"], v["T"]], [v["K"], v["AA"]], [v["D"], v["AO"], v["G"]]]
    rows = torch.tensor([0, 0, 1])
    once = force_decode(net, letters, codes, rows)
    repeated = force_decode(net, letters[rows], codes)
    for a, b in zip(once, repeated, strict=True):
        assert a.codes == b.codes and a.score == pytest.approx(b.score, abs=1e-5)
        torch.testing.assert_close(a.attention, b.attention)
    with pytest.raises(ValueError, match="3 words but 2 pronunciations"):
        force_decode(net, letters, codes[:2], rows)


def test_an_ensemble_needs_members_of_one_size():
    with pytest.raises(ValueError, match="same sizes"):
        Ensemble([_net(0), G2PNet(NetConfig(CFG.n_letters, CFG.n_phones, embedding=4))])
    with pytest.raises(ValueError, match="at least one"):
        Ensemble([])


def test_combine_puts_right_to_left_members_on_their_side():
    a, b, c = _net(0), _net(1), _net(2)
    assert combine([a], [False]) is a
    assert isinstance(combine([a, b], [False, False]), Ensemble)
    two = combine([a, b, c], [False, True, False])
    assert isinstance(two, TwoWay) and two.right is b
    assert isinstance(two.left, Ensemble) and list(two.left.nets) == [a, c]
    with pytest.raises(ValueError, match="left-to-right member"):
        combine([a], [True])
    with pytest.raises(ValueError, match="directions"):
        combine([a, b], [False])
    assert G2PParams(members=3).right_to_left(1) and not G2PParams(members=3).right_to_left(2)
    assert not G2PParams(members=2, bidirectional=False).right_to_left(1)
    assert reversed_pronunciations({"cat": [("K", "AE", "T")]}) == {"cat": [("T", "AE", "K")]}


def test_two_way_forced_decoding_sums_both_sides_and_averages_their_attention():
    left, right = _net(0), _net(1)
    letters = _letters("cat", "dog")
    codes = [[5, 6, 7], [8, 9]]
    both = force_decode(TwoWay(left, right), letters, codes)
    one = force_decode(left, letters, codes)
    other = force_decode(right, letters, [c[::-1] for c in codes])
    for b, x, y, c in zip(both, one, other, codes, strict=True):
        assert b.codes == c
        assert b.score == pytest.approx(x.score + y.score, abs=1e-5)
        torch.testing.assert_close(b.attention, (x.attention + y.attention.flip(0)) / 2)


def test_two_way_search_takes_the_best_of_both_beams_by_the_summed_score():
    two = TwoWay(_net(4), _net(5))
    letters = _letters("knight", "wheres")
    best = beam_search(two, letters, beam=3)
    lefts, rights = beam_hypotheses(two.left, letters, 3), beam_hypotheses(two.right, letters, 3)
    for i, (lh, rh) in enumerate(zip(lefts, rights, strict=True)):
        options = {tuple(h.codes) for h in lh} | {tuple(h.codes[::-1]) for h in rh}
        scored = force_decode(two, letters[[i] * len(options)], [list(o) for o in options])
        top = max(d.score for d in scored)
        assert best[i].score == pytest.approx(top, abs=1e-5)
        assert tuple(best[i].codes) in options
    with pytest.raises(ValueError, match="alpha"):
        beam_search(two, letters, beam=3, alpha=0.5)


def test_a_right_to_left_member_learns_the_pronunciations_backwards(tmp_path):
    rng = np.random.default_rng(0)
    words = sorted({"".join(rng.choice(list("abcdefgh"), size=rng.integers(3, 7))) for _ in range(300)})
    lexicon = {w: [("K", "AE", "T")] for w in words}
    split = split_words(words, 0.2, 0.1, seed=0)
    p = G2PParams(embedding=8, encoder_hidden=8, decoder_hidden=16, epochs=15, batch_size=8,
                  warmup_steps=1, lr=0.02, ema=0.0, members=2)  # fmt: skip
    net = G2PNet(NetConfig(Vocab().n_letters, Vocab().n_phones, 8, 8, 16, dropout=0.0))
    guesses = {}
    for member in (0, 1):
        train(tmp_path / str(member), p, lexicon, split, progress_bar=False, member=member)
        net.load_state_dict(load_weights(tmp_path / str(member) / MODEL))
        guesses[member] = G2P(net).predict_batch(split.test)
    assert all(g[0] == "K" for g in guesses[0])  # every pronunciation starts with K ...
    assert all(g[0] == "T" and g[-1] == "K" for g in guesses[1])  # ... and ends with T


def test_member_zero_keeps_the_seed_and_the_others_differ():
    assert member_seeds(7, 0) == (7, [7])
    seeds = {member_seeds(7, m)[0] for m in range(4)}
    assert len(seeds) == 4
    assert member_seeds(7, 2) == member_seeds(7, 2)


@pytest.mark.slow
def test_members_trained_side_by_side_equal_members_trained_in_turn(tmp_path):
    params = {"max_words": 800, "embedding": 16, "encoder_hidden": 24, "decoder_hidden": 32,
              "epochs": 1, "evals_per_epoch": 1, "batch_size": 32, "warmup_steps": 5, "beam": 2,
              "members": 2, "ema": 0.0, "threads": 1}  # fmt: skip  # equal threads: equal sums
    summaries = {}
    for workers in (1, 2):
        p = G2PParams.from_dict({**params, "workers": workers})
        summaries[workers] = build_g2p(tmp_path / str(workers), p, progress_bar=False)
    assert summaries[1]["processes"] == 1 and summaries[2]["processes"] == 2
    for key in ("wer", "wer_sample", "member_wer", "best_dev_wer"):
        assert summaries[1][key] == summaries[2][key], key
    for sub in ("model.pt", "member-1/model.pt"):
        one, two = load_weights(tmp_path / "1" / sub), load_weights(tmp_path / "2" / sub)
        assert all(torch.equal(one[k], two[k]) for k in one), sub
    first, second = load_weights(tmp_path / "1/model.pt"), load_weights(tmp_path / "1/member-1/model.pt")
    assert not all(torch.equal(first[k], second[k]) for k in first)  # two different networks
    g2p = G2P.open(tmp_path / "2")
    assert g2p.members == 2 and len(g2p.histories) == 2
    assert isinstance(g2p.net, TwoWay) and summaries[2]["right_to_left"] == [False, True]
    assert (tmp_path / "2/test_predictions.tsv").read_text() == (
        tmp_path / "1/test_predictions.tsv"
    ).read_text()
    assert len(summaries[2]["member_wer"]) == 2
