"""G2P ensembles: the members' mean probabilities, and members trained side by side."""

from __future__ import annotations

import copy

import pytest
import torch

from nap.g2p import G2P, G2PParams, build_g2p
from nap.g2p.beam import beam_search, force_decode
from nap.g2p.data import Vocab
from nap.g2p.model import Ensemble, G2PNet, NetConfig
from nap.g2p.train import load_weights, member_seeds

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


def test_an_ensemble_needs_members_of_one_size():
    with pytest.raises(ValueError, match="same sizes"):
        Ensemble([_net(0), G2PNet(NetConfig(CFG.n_letters, CFG.n_phones, embedding=4))])
    with pytest.raises(ValueError, match="at least one"):
        Ensemble([])


def test_member_zero_keeps_the_seed_and_the_others_differ():
    assert member_seeds(7, 0) == (7, [7])
    seeds = {member_seeds(7, m)[0] for m in range(4)}
    assert len(seeds) == 4
    assert member_seeds(7, 2) == member_seeds(7, 2)


@pytest.mark.slow
def test_members_trained_side_by_side_equal_members_trained_in_turn(tmp_path):
    params = {"max_words": 800, "embedding": 16, "encoder_hidden": 24, "decoder_hidden": 32,
              "epochs": 1, "evals_per_epoch": 1, "batch_size": 32, "warmup_steps": 5, "beam": 2,
              "members": 2, "ema": 0.0}  # fmt: skip
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
    assert (tmp_path / "2/test_predictions.tsv").read_text() == (
        tmp_path / "1/test_predictions.tsv"
    ).read_text()
    assert len(summaries[2]["member_wer"]) == 2
