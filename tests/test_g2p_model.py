"""The G2P model: building, prediction, assignment, forced decoding, bad input, resumption."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nap.g2p import G2P, G2PInputError, G2PParams, build_g2p
from nap.g2p.beam import beam_search, force_decode
from nap.g2p.data import PHONES, Vocab, load_cmudict, split_words
from nap.g2p.stage import MAX_LETTERS, pieces
from nap.g2p.train import CHECKPOINT, load_weights, train
from nap.params import ParamError

#: A model that trains in seconds: it shows that the code works, not how well it converts.
TINY = {
    "max_words": 4000,
    "embedding": 24,
    "encoder_hidden": 48,
    "decoder_hidden": 64,
    "dropout": 0.1,
    "epochs": 3,
    "evals_per_epoch": 2,
    "batch_size": 32,
    "lr": 0.006,
    "warmup_steps": 20,
    "beam": 3,
    "threads": 1,
    "members": 1,
    "ema": 0.0,
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("g2p")
    summary = build_g2p(work, G2PParams.from_dict(TINY), progress_bar=False)
    return work, summary


@pytest.fixture(scope="module")
def g2p(built):
    return G2P.open(built[0])


def test_build_writes_the_artifact_and_headline_numbers(built):
    work, s = built
    for name in ("train.tsv", "dev.tsv", "test.tsv", "config.json", "model.pt", "history.json",
                 "metrics.json", "test_predictions.tsv"):  # fmt: skip
        assert (work / name).is_file(), name
    assert not (work / CHECKPOINT).exists()  # removed once the model is final
    assert s["entries"] == 4000 and s["test_words"] == 800
    assert s["train_words"] + s["dev_words"] + s["test_words"] == 4000
    assert s["stopped"] == "all epochs done" and s["epochs_run"] == 3
    for key in ("wer", "wer_sample", "per", "per_sample", "bleu", "bleu_sample"):
        assert 0 <= s[key] <= 1, key
    assert s["wer"] <= s["wer_sample"]  # any-reference WER never exceeds the per-sample WER
    assert s["per"] < 0.6  # it has learnt something in three tiny epochs


def test_split_files_share_no_word(g2p):
    parts = {p: set(g2p.lexicon(p)) for p in ("train", "dev", "test")}
    assert not parts["train"] & parts["test"] and not parts["dev"] & parts["test"]
    assert not parts["train"] & parts["dev"]
    assert set(g2p.test_predictions()) == parts["test"]


def test_history_is_a_learning_curve(g2p):
    h = g2p.history
    assert [e["epoch"] for e in h] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert h[-1]["dev_loss"] < h[0]["dev_loss"]


def test_predict_gives_arpabet_for_known_and_unknown_words(g2p):
    for word in ("the", "knight", "don't", "zzyzxqw", "'s", "a"):
        phones = g2p.predict(word)
        assert phones and set(phones) <= set(PHONES), word
    assert g2p.predict_batch(["the", "where", "the"]) == [g2p.predict("the"), g2p.predict("where")] * 1 + [
        g2p.predict("the")
    ]
    assert g2p.predict("THE") == g2p.predict("the")  # upper case is accepted


@pytest.mark.parametrize("word", ["the", "where", "who", "knight", "don't", "'", "xylophonist"])
def test_assignment_gives_one_phone_per_letter(g2p, word):
    a = g2p.assign(word)
    assert a.phones == g2p.predict(word)
    assert len(a.letter_phones) == len(word) == len(a.letter_index)
    assert a.attention.shape == (len(a.phones), len(word))
    np.testing.assert_allclose(a.attention.sum(axis=1), 1.0, rtol=1e-5)
    for j, (letter_phone, i) in enumerate(zip(a.letter_phones, a.letter_index, strict=True)):
        assert letter_phone == a.phones[i]
        assert a.attention[i, j] == a.attention[:, j].max()
    assert [c for c, _ in a.pairs()] == list(word)


def test_forced_decoding_uses_the_given_phones(g2p):
    a = g2p.assign("knight", ["N", "AY1", "T"])  # stress marks are dropped
    assert a.phones == ["N", "AY", "T"]
    assert a.attention.shape == (3, 6) and len(a.letter_phones) == 6
    b = g2p.assign_batch(["the", "the"], [["DH", "AH"], "DH IY"])
    assert b[0].phones == ["DH", "AH"] and b[1].phones == ["DH", "IY"]


def test_beam_score_equals_the_forced_score_and_beats_greedy(g2p):
    v = Vocab()
    words = ["knight", "thames", "wright", "phonic"]
    for w in words:
        letters = torch.tensor([v.encode_word(w)])
        best = beam_search(g2p.net, letters, beam=5)[0]
        greedy = beam_search(g2p.net, letters, beam=1)[0]
        forced = force_decode(g2p.net, letters, [best.codes])[0]
        assert best.score == pytest.approx(forced.score, abs=1e-4)
        torch.testing.assert_close(best.attention, forced.attention)
        assert best.score >= greedy.score - 1e-5


@pytest.mark.parametrize("bad", ["", "caf\u00e9", "two words", "hyphen-ated", "x" * 1001, "1st"])
def test_bad_words_raise_a_clear_error(g2p, bad):
    with pytest.raises(G2PInputError, match="word|letters"):
        g2p.predict(bad)
    with pytest.raises(G2PInputError):
        g2p.assign(bad)


def test_bad_input_types_and_pronunciations(g2p):
    with pytest.raises(G2PInputError, match="must be a string"):
        g2p.predict(None)  # type: ignore[arg-type]
    with pytest.raises(G2PInputError, match="outside the 39 ARPAbet"):
        g2p.assign("the", ["DH", "XX"])
    with pytest.raises(G2PInputError, match="empty pronunciation"):
        g2p.assign("the", [])
    with pytest.raises(G2PInputError, match="2 words but 1"):
        g2p.assign_batch(["a", "b"], [["AH"]])


def test_long_words_are_converted_in_pieces(g2p):
    word = "antidisestablishmentarianism" * 3  # 84 letters
    assert [len(p) for p in pieces(word)] == [28, 28, 28]
    assert all(len(p) <= MAX_LETTERS for p in pieces("a" * 33))
    a = g2p.assign(word)
    assert len(a.letter_phones) == 84
    assert a.phones == g2p.predict(word[:28]) * 3


def test_open_refuses_a_folder_without_a_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a G2P artifact"):
        G2P.open(tmp_path)


def test_params_are_checked():
    with pytest.raises(ParamError, match="g2p.test_fraction"):
        G2PParams.from_dict({"test_fraction": 1.0})
    with pytest.raises(ParamError, match="g2p.beam"):
        G2PParams.from_dict({"beam": 0})
    with pytest.raises(ParamError, match="g2p.max_words"):
        G2PParams.from_dict({"max_words": 5})


def test_interrupted_training_resumes_to_the_same_weights(tmp_path):
    torch.set_num_threads(1)
    p = G2PParams.from_dict({**TINY, "max_words": 800, "epochs": 2, "dropout": 0.3, "ema": 0.9})
    lexicon = load_cmudict()
    lexicon = {w: lexicon[w] for w in sorted(lexicon)[5000:5800]}
    split = split_words(list(lexicon), p.test_fraction, p.dev_fraction, p.seed)
    straight = train(tmp_path / "a", p, lexicon, split, progress_bar=False)
    first = train(tmp_path / "b", p, lexicon, split, progress_bar=False, stop_after_evals=1)
    assert first.stopped == "interrupted" and (tmp_path / "b" / CHECKPOINT).is_file()
    resumed = train(tmp_path / "b", p, lexicon, split, progress_bar=False)
    drop = lambda h: [{k: v for k, v in e.items() if k not in ("seconds", "cpu_seconds")} for e in h]  # noqa: E731
    assert drop(resumed.history) == drop(straight.history)
    a, b = load_weights(tmp_path / "a" / "model.pt"), load_weights(tmp_path / "b" / "model.pt")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)


def test_report_tables_and_figures(g2p, built):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nap.g2p import plots, report

    summary = built[1]
    data = report.data_table(summary)
    assert [r[1] for r in data.rows] == [4000, summary["train_words"], summary["dev_words"], 800]
    alone = report.metrics_table(g2p.metrics)
    assert [r[0] for r in alone.rows] == ["attention encoder-decoder (this study)", "paper (Krug et al.)"]
    assert report.load_benchmark(g2p.path) is None
    theirs = {**g2p.metrics, "wer": g2p.metrics["wer"] * 2}
    side = report.metrics_table(g2p.metrics, {"phonetisaurus": theirs})
    assert side.rows[2][1] == 0.5  # ratio of the WERs
    assert report.benchmark_path(g2p.path).parent.name == "benchmarks"
    text = report.verdict(summary, g2p.metrics, {"phonetisaurus": theirs})
    assert "NOT met" in text and "ours is better (ratio 0.500)" in text  # a tiny model misses the target
    good = {**g2p.metrics, "wer": 0.24, "wer_sample": 0.29}
    assert "target, WER <= 0.24 (any) and <= 0.29 (per sample): met." in report.verdict(summary, good)
    a = g2p.assign("knight")
    assert report.assignment_table([a]).rows[0][0] == "KNIGHT"
    for fig in (plots.learning_curves(g2p.history), plots.attention_maps([a, g2p.assign("who")], cols=4)):
        assert fig.axes
        plt.close(fig)
