"""The align stage end to end on hand-made inputs: a network whose output is planned frame by frame.

The fake network copies a one-hot code from the centre input frame of each receptive field
(receptive field 5, stride 2), so output frame ``t`` says the class coded in input frame
``2t + 2``, whose centre lies at ``(2t + 2) * 10 ms``; the true phones are laid out per
output frame around those centres. Every number below is then known by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

import nap.align.stage as stage
from nap.align import AlignParams, FrameLabels, build_alignment
from nap.align.adapters import RecognizerAdapter
from nap.align.cascade import GRAPHEMES, PHONEMES
from nap.asr.vocab import Vocab
from nap.params import ParamError

VOCAB = Vocab(repetitions=2)
IX = {s: i for i, s in enumerate(VOCAB.symbols)}
N_MELS, RF, STRIDE, HOP = 32, 5, 2, 0.01
B = "<b>"
LEXICON = {
    "hello": ["HH", "AH", "L", None, "OW"],
    "word": ["W", "ER", "ER", "D"],
    "cat": ["K", "AE", "T"],
    "hat": ["HH", "AE", "T"],
    "a": ["AH"],
}

# per utterance: (split, true text, planned output path, true phone per output frame)
PLAN = {
    "u1": ("test_sentences", "hello word",
           [B, "h", "h", B, "e", "l", "l", B, "1", "o", B, " ", "w", "o", "o", B, "r", "d", B],
           ["sil", "HH", "HH", "sil", "AH", "L", "L", "sil", "L", "OW", "sil", "sil", "W", "ER", "ER", "sil",
            "ER", "D", "sil"]),
    "u2": ("test_sentences", "hat", [B, "c", B, "a", "t", B], ["sil", "K", "sil", "AE", "K", "sil"]),
    "u3": ("train", "a cat", ["a", B, " ", "c", "a", "t"], ["AH", "sil", "sil", "K", "AE", "T"]),
    "u4": ("test_voices", "a", [B, "a", "a", B], ["sil", "AH", "AH", "sil"]),
}  # fmt: skip


class OneHotNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(N_MELS, len(VOCAB), RF, stride=STRIDE, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            for c in range(len(VOCAB)):
                self.conv.weight[c, c, RF // 2] = 10.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def output_frames(self, n: int) -> int:
        return max((n - RF) // STRIDE + 1, 0)


class GreedyAsBeam:
    def batch(self, logits):
        return [" ".join(VOCAB.decode(VOCAB.collapse(lg.argmax(-1).tolist())).split()) for lg in logits]


@dataclass
class FakeRecognizer:
    model: torch.nn.Module
    vocab: Vocab = VOCAB
    receptive_field: int = RF
    stride: int = STRIDE
    beam_decoder: GreedyAsBeam = GreedyAsBeam()


@dataclass
class Utt:
    id: str
    text: str


class FakeCorpus:
    def __init__(self, plan):
        self.splits = {"train": [], "test_sentences": [], "test_voices": []}
        for uid, (split, text, _, _) in plan.items():
            self.splits[split].append(Utt(uid, text))
        self.plan = plan

    def true_phones(self, uid):
        truth = self.plan[uid][3]
        return [(ph, (2 * t + 1) * HOP, (2 * t + 3) * HOP) for t, ph in enumerate(truth)]


class FakeFeatures:
    hop_s = HOP

    def __init__(self, plan):
        self.plan = plan

    def get(self, uid):
        path = self.plan[uid][2]
        x = np.zeros((STRIDE * (len(path) - 1) + RF, N_MELS), np.float32)
        for t, sym in enumerate(path):
            x[STRIDE * t + RF // 2, IX[sym]] = 1.0
        return x


@pytest.fixture
def inputs():
    plan = dict(PLAN)
    plan["u5"] = ("train", "a", [], [])  # shorter than the receptive field: no output frames
    feats = FakeFeatures(plan)
    feats.get = lambda uid, f=feats.get: np.zeros((3, N_MELS), np.float32) if uid == "u5" else f(uid)
    return FakeCorpus(plan), feats, FakeRecognizer(OneHotNet()), LEXICON


def test_adapter_batches_like_single_runs(inputs):
    corpus, feats, rec, _ = inputs
    adapter = RecognizerAdapter(rec, feats, batch_size=3)
    uids = ["u1", "u2", "u3", "u4", "u5"]
    logits = adapter.logits([feats.get(u) for u in uids])
    for u, lg in zip(uids, logits, strict=True):
        assert [VOCAB.symbols[i] for i in lg.argmax(-1)] == (PLAN[u][2] if u != "u5" else [])
    assert adapter.decode(logits, "greedy") == adapter.decode(logits, "beam") == [
        "hello word", "cat", "a cat", "a", ""]  # fmt: skip


def test_build_labels_every_frame_and_scores_them(tmp_path, inputs):
    corpus, feats, rec, g2p = inputs
    p = AlignParams.from_dict({"min_count": 2, "chunk": 2})
    summary = build_alignment(tmp_path, p, corpus, feats, rec, g2p)
    labels = FrameLabels.open(tmp_path)
    assert labels.utterances == ["u3", "u5", "u1", "u2", "u4"]  # split order: train, test_sentences, voices
    assert labels.splits["u1"] == "test_sentences"
    assert labels.n_frames == 19 + 6 + 6 + 4 == summary["frames"]
    assert not (tmp_path / "parts").exists()

    u1 = labels.labels("u1")
    g = labels.groups
    assert set(u1) == {"grapheme", "phoneme", "phoneme_true"}
    # e, w, r, d are predicted on one frame each: below min_count 2, so their frames get no group
    assert "".join(g["grapheme"][i] if i >= 0 else "-" for i in u1["grapheme"]) == "-hh--ll-lo---oo----"
    # OW (one frame) is left out too
    assert [g["phoneme"][i] if i >= 0 else "-" for i in u1["phoneme"]][:10] == [
        "-", "HH", "HH", "-", "AH", "L", "L", "-", "-", "-"]  # fmt: skip
    assert len(labels.labels("u5")["grapheme"]) == 0
    # the centre of output frame t is (2t + 2) * 10 ms
    assert labels.array("centre_s", "u2") == pytest.approx(0.02 + 0.02 * np.arange(6))
    assert labels.frame == {"receptive_field": RF, "stride": STRIDE, "hop_s": HOP, "offset_s": 0.0, "pad": 0}

    # groups below min_count 2 are left out and reported
    assert set(labels.left_out["grapheme"]) == set("bdefgijkmnpqrsuvwxyz'") and "c" in g["grapheme"]
    assert labels.left_out["grapheme"]["d"] == 1
    assert labels.counts["grapheme"]["a"] == 5  # u3: a, a; u2: a; u4: a, a
    assert labels.counts["phoneme_true"]["AH"] == 4  # u1: 1, u3: 1, u4: 2
    assert labels.meta["none"]["phoneme"]["no_phoneme"] == 1

    # accuracy on held-out sentences, by hand: u1 11 of 11, u2 2 of 3 (t said K)
    acc = labels.accuracy["test_sentences"]
    assert acc["decoded"]["frames"] == 14 and acc["decoded"]["correct"] == 13
    assert summary["phoneme_accuracy"] == pytest.approx(round(13 / 14, 4))
    # with the true transcript "hat", u2's c frame becomes HH: 1 of 3 there, 12 of 14 in all
    assert acc["truth"]["correct"] == 12
    assert summary["phoneme_accuracy_true_transcript"] == pytest.approx(round(12 / 14, 4))
    m = labels.confusion("test_sentences")
    k, t = PHONEMES.index("K"), PHONEMES.index("T")
    assert m.sum() == 14 and m[k, k] == 1 and m[k, t] == 1  # rows: all 39 phones and sil, unfiltered
    assert labels.transcripts["u2"] == {"decoded": "cat", "truth": "hat"}
    assert (tmp_path / "FORMAT.md").read_text().startswith("# Frame labels")
    # the arrays are plain numpy: readable without nap
    with np.load(tmp_path / "labels.npz", allow_pickle=False) as raw:
        assert raw["offsets"].tolist() == [0, 6, 6, 25, 31, 35]


def test_killed_run_resumes_after_its_last_part(tmp_path, inputs, monkeypatch):
    corpus, feats, rec, g2p = inputs
    p = AlignParams.from_dict({"chunk": 2})
    calls = []
    real = stage._label_part

    def dying(items, *args):
        calls.append([u for u, _, _ in items])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(items, *args)

    monkeypatch.setattr(stage, "_label_part", dying)
    with pytest.raises(KeyboardInterrupt):
        build_alignment(tmp_path / "a", p, corpus, feats, rec, g2p)
    assert (tmp_path / "a" / "parts" / "part-0000.npz").is_file()
    assert not (tmp_path / "a" / "parts" / "part-0001.npz").exists()
    calls.clear()
    monkeypatch.setattr(stage, "_label_part", real)
    resumed = build_alignment(tmp_path / "a", p, corpus, feats, rec, g2p)
    whole = build_alignment(tmp_path / "b", p, corpus, feats, rec, g2p)
    for key in ("frames", "phoneme_accuracy", "phoneme_accuracy_true_transcript", "groups_kept"):
        assert resumed[key] == whole[key]
    with np.load(tmp_path / "a" / "labels.npz") as a, np.load(tmp_path / "b" / "labels.npz") as b:
        assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)


def test_parameters_are_checked():
    with pytest.raises(ParamError, match="align.splits"):
        AlignParams.from_dict({"splits": ["dev"]})
    with pytest.raises(ParamError, match="align.eval_split"):
        AlignParams.from_dict({"splits": ["train"]})
    with pytest.raises(ParamError, match="align.decoder"):
        AlignParams.from_dict({"decoder": "viterbi"})
    with pytest.raises(ParamError, match="align.chunk"):
        AlignParams.from_dict({"chunk": 0})


@dataclass
class PaddingRecognizer(FakeRecognizer):
    """Adds ``pad`` frames of silence at both ends, as the real recognizer does."""

    pad: int = 2

    def padded(self, feats):
        edge = np.zeros((self.pad, feats.shape[1]), np.float32)
        return np.concatenate([edge, feats, edge])


def test_padding_shifts_frames_but_not_their_times(tmp_path, inputs):
    corpus, feats, _, g2p = inputs
    p = AlignParams.from_dict({"min_count": 1})
    plain = build_alignment(tmp_path / "plain", p, corpus, feats, FakeRecognizer(OneHotNet()), g2p)
    padded = build_alignment(tmp_path / "padded", p, corpus, feats, PaddingRecognizer(OneHotNet()), g2p)
    # 2 frames of padding at each end give 2 more output frames per utterance (stride 2), both blank;
    # u5's 3 frames + 4 of padding now fill the receptive field: 2 frames
    assert padded["frames"] == plain["frames"] + 2 * 4 + 2
    assert len(FrameLabels.open(tmp_path / "padded").labels("u5")["grapheme"]) == 2
    a, b = FrameLabels.open(tmp_path / "plain"), FrameLabels.open(tmp_path / "padded")
    assert b.frame["pad"] == 2
    assert b.array("centre_s", "u2")[1:-1] == pytest.approx(a.array("centre_s", "u2"))
    for g in ("grapheme", "phoneme", "phoneme_true"):
        assert np.array_equal(b.labels("u1")[g][1:-1], a.labels("u1")[g])
    assert padded["phoneme_accuracy"] == plain["phoneme_accuracy"]


def test_explain_figures_and_tables(tmp_path, inputs):
    import matplotlib

    matplotlib.use("Agg")
    from nap.align import accuracy, plots, report
    from nap.align.explain import explain, pick_utterance

    corpus, feats, rec, g2p = inputs
    build_alignment(tmp_path, AlignParams.from_dict({"min_count": 1}), corpus, feats, rec, g2p)
    labels = FrameLabels.open(tmp_path)
    assert pick_utterance(corpus, "test_sentences", 0.0, 1.0) == "u1"
    ex = explain(corpus, feats, rec, g2p, "u2")
    # the same cascade as the stage: same labels, and the utterance's accuracy by hand (2 of 3)
    assert [labels.groups["phoneme"][i] if i >= 0 else "-" for i in labels.labels("u2")["phoneme"]] == [
        "-" if i < 0 else PHONEMES[i] for i in ex.decoded.phoneme]  # fmt: skip
    assert ex.accuracy == pytest.approx(2 / 3)
    assert ex.frame_rows(1, 2) == [(1, 0.04, "c", "c", "K", "K")]
    for fig in (
        plots.plot_cascade(ex),
        plots.plot_confusion(labels.confusion("test_sentences"), accuracy.TRUE_NAMES, accuracy.PRED_NAMES),
        plots.plot_per_phone(labels.accuracy["test_sentences"]["decoded"]),
        plots.plot_group_counts(labels),
        plots.plot_shift(accuracy.shift_curve(labels, corpus, "test_sentences", [-0.02, 0.0, 0.02])),
        plots.plot_shift(labels.timing),
    ):
        assert fig.axes
        fig.savefig(tmp_path / "fig.png")
    text = str(report.accuracy_table(labels))
    assert "test_sentences" in text and "92.9 %" in text  # 13 of 14
    assert "blank" in str(report.reasons_table(labels))
    assert str(report.groups_table(labels, "grapheme")).splitlines()[3].startswith("a ")
    assert "phoneme_accuracy" in str(report.summary_table(labels.meta | {"phoneme_accuracy": 0.9}))


def test_shift_curve_peaks_where_the_truth_is(tmp_path, inputs):
    from nap.align import accuracy

    corpus, feats, rec, g2p = inputs
    build_alignment(tmp_path, AlignParams.from_dict({"min_count": 1}), corpus, feats, rec, g2p)
    labels = FrameLabels.open(tmp_path)
    curve = accuracy.shift_curve(labels, corpus, "test_sentences", [-0.02, 0.0, 0.02])
    # unshifted: 13 of 14 as in the stage's report; a whole frame (20 ms) off, fewer are right
    assert curve["accuracy"][1] == pytest.approx(13 / 14) and curve["frames"] == 14
    assert max(curve["accuracy"][0], curve["accuracy"][2]) < 13 / 14
    assert curve["best_shift_s"] == 0.0 and curve["best_accuracy"] == pytest.approx(13 / 14)
    # the stage stores the same curve (finer shifts) for its evaluation split
    timing = labels.timing
    assert timing["split"] == "test_sentences"
    k = timing["decoded"]["shift_s"].index(0.0)
    assert timing["decoded"]["accuracy"][k] == pytest.approx(13 / 14)
    assert timing["truth"]["accuracy"][k] == pytest.approx(12 / 14)


def test_g2p_letters_batches_caches_and_survives_rejected_words():
    from nap.align.adapters import G2PLetters

    @dataclass
    class A:
        letter_phones: list

    class FakeG2P:
        def __init__(self):
            self.batches = []

        def assign(self, word):
            if word == "zzz":
                raise ValueError("no phone found")
            return A(LEXICON[word])

        def assign_batch(self, words):
            self.batches.append(list(words))
            return [self.assign(w) for w in words]

    g2p = FakeG2P()
    letters = G2PLetters(g2p)
    letters.prefetch(["cat", "a", "cat", ""])
    assert g2p.batches == [["a", "cat"]]
    assert letters("cat") == ["K", "AE", "T"]
    letters.prefetch(["hat", "zzz", "cat"])  # the batch fails on zzz: one by one, zzz without phonemes
    assert g2p.batches[-1] == ["hat", "zzz"]
    assert letters("hat") == ["HH", "AE", "T"] and letters("zzz") == [None, None, None]
    assert list(letters.failed) == ["zzz"] and "no phone found" in letters.failed["zzz"]


def test_shift_phonemes_moves_phoneme_labels_earlier_and_leaves_graphemes():
    from nap.align.cascade import MOVED_BY_DELAY
    from nap.align.stage import shift_phonemes

    offsets = np.array([0, 5, 8])
    joined = {
        "phoneme": np.array([0, 1, 2, 3, 4, 5, 6, 7], np.int16),
        "phoneme_truetext": np.array([0, 1, 2, 3, 4, 5, 6, 7], np.int16),
        "phoneme_reason": np.zeros(8, np.int8),
        "phoneme_truetext_reason": np.zeros(8, np.int8),
        "grapheme": np.array([9, 9, 9, 9, 9, 9, 9, 9], np.int16),
    }
    shift_phonemes(joined, offsets, {"frames": 2})
    assert joined["phoneme"].tolist() == [2, 3, 4, -1, -1, 7, -1, -1]
    m = MOVED_BY_DELAY
    assert joined["phoneme_reason"].tolist() == [0, 0, 0, m, m, 0, m, m]
    assert joined["grapheme"].tolist() == [9] * 8
    shift_phonemes(joined, offsets, {"frames": -1})
    assert joined["phoneme_truetext"].tolist() == [-1, 2, 3, 4, -1, -1, 7, -1]
    shift_phonemes(joined, offsets, {"frames": 0})
    assert joined["phoneme_truetext"].tolist() == [-1, 2, 3, 4, -1, -1, 7, -1]


def test_estimate_delay_finds_a_delay_planted_in_the_labels():
    from nap.align.params import AlignParams
    from nap.align.stage import estimate_delay

    frame_s = 0.02
    phones = [("sil", 0.0, 0.1), ("AA", 0.1, 0.2), ("B", 0.2, 0.3), ("IY", 0.3, 0.4), ("sil", 0.4, 1.0)]
    centres = np.arange(50) * frame_s + 0.01
    truth = np.full(50, -1)
    for name, a, b in phones[1:4]:
        truth[(centres >= a) & (centres < b)] = PHONEMES.index(name)
    delayed = np.full(50, -1)
    delayed[3:] = truth[:-3]  # every phoneme written 3 frames after its sound

    class Corpus:
        def true_phones(self, u):
            return phones

    joined = {
        "phoneme": delayed.astype(np.int16),
        "centre_s": centres.astype(np.float32),
        "grapheme": np.where(delayed >= 0, GRAPHEMES.index("a"), -1).astype(np.int16),
        "phoneme_true": truth.astype(np.int16),
    }
    lag = estimate_delay(joined, np.array(["u"]), np.array(["train"]), np.array([0, 50]), Corpus(), frame_s,
                         AlignParams())  # fmt: skip
    assert lag["frames"] == 3 and lag["ms"] == 60 and lag["estimated"]
    assert lag["per"] == "letter_phoneme" and lag["table"] == {}  # 10 frames per pair: below lag_min_frames
    one = (joined, np.array(["u"]), np.array(["train"]), np.array([0, 50]), Corpus(), frame_s)
    per_pair = estimate_delay(*one, AlignParams(lag_min_frames=2))
    assert per_pair["table"] == {"a AA": 3, "a B": 3, "a IY": 3}
    assert max(lag["accuracy"]) == 1.0
    fixed = estimate_delay(joined, np.array(["u"]), np.array(["train"]), np.array([0, 50]), Corpus(), frame_s,
                           AlignParams(lag_frames=0))  # fmt: skip
    assert fixed == {"frames": 0, "ms": 0, "estimated": False}
    nothing = estimate_delay(joined, np.array(["u"]), np.array(["test_sentences"]), np.array([0, 50]),
                             Corpus(), frame_s, AlignParams())  # fmt: skip
    assert nothing["frames"] == 0 and not nothing["estimated"]


def test_without_true_timings_chapter_4_says_what_is_absent(tmp_path, inputs):
    """A corpus without phone timings (LibriSpeech): no accuracy, and sentences in its place."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from nap.align import report
    from nap.align.explain import explain
    from nap.display import Markdown, percent

    corpus, feats, rec, g2p = inputs
    scored = tmp_path / "scored"
    truth = build_alignment(scored, AlignParams.from_dict({"min_count": 1}), corpus, feats, rec, g2p)
    corpus.true_phones = lambda uid: None  # as LibriSpeech's reader has it
    summary = build_alignment(
        tmp_path / "bare", AlignParams.from_dict({"min_count": 1}), corpus, feats, rec, g2p
    )
    labels = FrameLabels.open(tmp_path / "bare")
    assert truth["true_timings"] is True and summary["true_timings"] is False
    assert "eval_split" not in summary and "phoneme_accuracy" not in summary
    assert not report.has_true_timings(summary) and report.has_true_timings({"eval_split": "test_sentences"})
    absent = "is absent: the corpus has no true phone timings (LibriSpeech has none)."
    assert report.delay_text(labels.meta["lag"], summary) == (
        "emission delay: 0 output frames = 0 ms (not estimated: no train utterance with true phone "
        f"timings); the accuracy of the paper's cascade (no delay) {absent}"
    )
    assert (
        report.accuracy_text(summary)
        == f"The accuracy of the cascade's phonemes against the true phones {absent}"
    )
    for shown, what in (
        (report.accuracy_table(labels), "The accuracy against the true phones"),
        (report.confusion_figure(labels, summary), "The confusion matrix"),
        (report.per_phone_figure(labels, summary), "The accuracy per true phone"),
        (report.timing_figure(labels, summary), "The timing curve"),
    ):
        assert isinstance(shown, Markdown) and shown == f"{what} {absent}"
    assert report.timing_text(labels, summary).endswith(absent)
    groups = report.groups_text(labels, summary).splitlines()
    assert groups[0].startswith("grapheme: ") and groups[2] == f"phoneme_true: this grouping {absent}"
    ex = explain(corpus, feats, rec, g2p, "u2")
    assert ex.accuracy is None and ex.frame_rows(1, 2) == [(1, 0.04, "c", "c", "K", "–")]
    assert report.explanation_text(ex).endswith(f"whether its frames get their true phone {absent}")
    # with the timings, the same calls give the numbers and figures
    labels, s = FrameLabels.open(scored), truth
    assert report.delay_text(labels.meta["lag"], s).endswith(
        f"on test_sentences the paper's cascade (no delay) is right on {percent(s['phoneme_accuracy_lag0'])}"
    )
    assert report.accuracy_text(s).startswith(
        "On test_sentences: 92.9 % of the frames labelled by the cascade"
    )
    for fig in (
        report.confusion_figure(labels, s),
        report.per_phone_figure(labels, s),
        report.timing_figure(labels, s),
    ):
        assert isinstance(fig, Figure) and fig.axes
    assert report.timing_text(labels, s).startswith("Read +0 ms from the frame's centre")
    assert report.groups_text(labels, s).splitlines()[2].startswith("phoneme_true: ")
    assert "absent" not in report.groups_text(labels, s)
