"""The asr stage end to end on synthetic data: artifact files, Recognizer, decoding, summary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nap.asr import Recognizer, build_asr
from nap.asr.params import AsrParams
from nap.asr.synthetic import SyntheticCorpus
from nap.params import ParamError
from tests.asr_small import SMALL_ASR

SMALL = {**SMALL_ASR, "epochs": 12}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    synth = SyntheticCorpus(n_train=48, n_test=6, n_mels=16)
    work = tmp_path_factory.mktemp("asr")
    p = AsrParams.from_dict(SMALL)
    return work, p, synth, build_asr(work, p, synth, synth)


def test_summary_and_files(built):
    work, p, synth, summary = built
    assert (
        summary["layers"] == 5 and summary["receptive_field"] == 48 + 2 * (6 + 31) and summary["stride"] == 2
    )
    assert summary["train_utterances"] == 48 and summary["skipped"] == {}
    for split in ("test_sentences", "test_voices"):
        for dec in ("greedy", "beam"):
            assert 0 <= summary[f"{split}_{dec}_cer"] <= 1.5
    assert summary["cer"] == summary["test_sentences_beam_cer"] < 0.9  # it learned something
    # the arithmetic and threads this machine chose (precision auto) are recorded, not keyed
    assert summary["precision"] == ("bfloat16" if summary["cpu_bf16"] else "float32")
    assert summary["threads"] == 1 and summary["cores"] >= 1 and summary["cpu_capability"]
    names = {f.name for f in work.iterdir()}
    assert {"model.pt", "config.json", "training.json", "evaluation.json"} <= names
    assert "checkpoint.pt" not in names
    state = torch.load(work / "model.pt", weights_only=True)
    assert not any("norm" in k for k in state)  # batch norm folded into the convolutions
    again = build_asr(work, p, synth, synth)  # finished training is reused, not redone
    assert again == summary


def test_recognizer_open_and_decode(built):
    work, p, synth, summary = built
    rec = Recognizer.open(work)
    assert rec.layer_names == [f"layer0{i}" for i in range(1, 6)]
    assert rec.receptive_field == summary["receptive_field"] and rec.pad == (rec.receptive_field - 2) // 2
    utt = synth.splits["test_sentences"][0]
    feats = synth.get(utt.id)
    logits = rec.logits(feats)
    assert logits.shape == (rec.output_frames(len(feats)), len(rec.vocab))
    assert logits.shape[0] == (len(feats) + 2 * rec.pad - rec.receptive_field) // 2 + 1
    ev = rec.evaluation["splits"]["test_sentences"]
    i = ev["ids"].index(utt.id)
    assert rec.greedy(feats) == ev["greedy"]["hyps"][i]
    assert rec.beam(feats) == ev["beam"]["hyps"][i]
    acts = rec.activations(feats, ["layer02", "layer05"])
    assert acts["layer02"].shape[0] == 32 and np.allclose(acts["layer05"].T, logits, atol=1e-5)
    graphemes = rec.frame_graphemes(logits)
    assert len(graphemes) == len(logits) and set(graphemes) - {None} <= set(" 'abcdefghijklmnopqrstuvwxyz")
    assert rec.training["steps"] == summary["steps"]
    with pytest.raises(ValueError, match=r"\(frames, 16\)"):
        rec.logits(np.zeros((300, 8), np.float32))


def test_open_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        Recognizer.open(tmp_path)


def test_parameters_are_checked():
    with pytest.raises(ParamError, match="asr.channels"):
        AsrParams.from_dict({"channels": 0})
    with pytest.raises(ParamError, match="asr.precision"):
        AsrParams.from_dict({"precision": "float16"})
    with pytest.raises(ParamError, match="asr.lr_final"):
        AsrParams.from_dict({"lr_final": 2.0})


def test_a_new_lm_weight_reuses_the_trained_network(tmp_path):
    from nap.store import Store

    synth = SyntheticCorpus(n_train=16, n_test=4, n_mels=16)
    store = Store(tmp_path)
    inputs = {"corpus": "c0", "features": "f0"}
    first_p = AsrParams.from_dict({**SMALL, "epochs": 2})

    def build(p):
        return store.build("asr", p.key_dict(), inputs, lambda work: build_asr(work, p, synth, synth))

    first = build(first_p)
    redecoded = build(AsrParams.from_dict({**SMALL, "epochs": 2, "lm_weight": 0.3, "beam_size": 5}))
    assert redecoded.path != first.path
    assert redecoded.summary["network_from"] == first.path.name
    assert (redecoded / "model.pt").read_bytes() == (first / "model.pt").read_bytes()
    assert redecoded.summary["steps"] == first.summary["steps"]
    retrained = build(AsrParams.from_dict({**SMALL, "epochs": 2, "lr": 1e-3}))  # a training parameter
    assert "network_from" not in retrained.summary
    other_inputs = store.build(
        "asr", first_p.key_dict(), {"corpus": "c1", "features": "f0"},
        lambda work: build_asr(work, first_p, synth, synth),
    )  # fmt: skip
    assert "network_from" not in other_inputs.summary


def test_the_dropout_parameter_reaches_the_training_network():
    from nap.asr.model import Wav2Letter
    from nap.asr.stage import architecture

    arch = architecture(AsrParams.from_dict({**SMALL, "dropout": 0.25}), 16)
    assert arch.dropout == 0.25
    drops = [m.dropout for m in Wav2Letter(arch).modules() if hasattr(m, "dropout")]
    assert drops[0] == 0.0 and set(drops[1:]) == {0.25}  # every layer but the first
    assert architecture(AsrParams.from_dict(SMALL), 16).dropout == 0.0


def test_no_held_out_utterances_give_no_score_not_a_perfect_one(tmp_path):
    """``librispeech_test: []`` and ``librispeech_heldout: 0``: nothing to score, so no CER or WER."""
    import json

    from nap.asr import plots
    from nap.asr.evaluate import NO_HELD_OUT

    synth = SyntheticCorpus(n_train=16, n_test=0, n_mels=16)
    p = AsrParams.from_dict({**SMALL, "epochs": 1})
    summary = build_asr(tmp_path, p, synth, synth)
    for split in ("test_sentences", "test_voices"):
        for dec in ("greedy", "beam"):
            assert summary[f"{split}_{dec}_cer"] is None and summary[f"{split}_{dec}_wer"] is None
    assert summary["cer"] is None and summary["wer"] is None
    assert summary["not_scored"] == f"test_sentences, test_voices: {NO_HELD_OUT}"
    text = (tmp_path / "evaluation.json").read_text()
    evaluation = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))  # standard JSON
    res = evaluation["splits"]["test_sentences"]
    assert (
        res["utterances"] == 0
        and res["loss"] is None
        and res["beam"] == {"cer": None, "wer": None, "hyps": []}
    )
    training = json.loads((tmp_path / "training.json").read_text())
    assert all(set(e) == {"step", "epoch", "train_seconds"} for e in training["history"]["evals"])  # no curve
    # chapter 2: the table and the sentence say so
    rows = plots.results_table(evaluation).rows
    assert rows == [[s, d, 0, NO_HELD_OUT, NO_HELD_OUT] for s in ("test_sentences", "test_voices")
                    for d in ("greedy", "beam")]  # fmt: skip
    assert plots.error_rates_text(summary, aim=True) == (
        f"beam search: no score on held-out sentences of seen voices ({NO_HELD_OUT}); no score on "
        f"held-out voices ({NO_HELD_OUT}), after {summary['train_minutes']:.1f} min of training\n"
        "aim for the default profile (CER <= 12 % after <= 35 min of training): NOT met"
    )
    assert plots.example_utterance(synth).id == "train-0000"


def test_error_rates_text_of_scored_splits(built):
    from nap.asr import plots

    _, _, synth, summary = built
    s = dict(summary, test_sentences_beam_cer=0.1, test_sentences_beam_wer=0.25, train_minutes=3.0)
    assert plots.error_rates_text(s, aim=True) == (
        "beam search: CER 10.0 % and WER 25.0 % on held-out sentences of seen voices; "
        f"CER {100 * s['test_voices_beam_cer']:.1f} % and WER {100 * s['test_voices_beam_wer']:.1f} % "
        "on held-out voices, after 3.0 min of training\n"
        "aim for the default profile (CER <= 12 % after <= 35 min of training): met"
    )
    assert plots.example_utterance(synth).id == "test_sentences-0000"


def test_the_decoding_parameters_are_those_the_network_is_reused_across():
    """Marked ``decoding=True`` in AsrParams: the store's kin of an asr build may differ in them."""
    assert AsrParams.decoding_params() == (
        "beam_size",
        "beam_threshold",
        "beam_size_token",
        "lexicon",
        "lm_order",
        "lm_text",
        "lm_weight",
        "lm_bonus",
    )
    assert "eval_utterances" not in AsrParams.decoding_params()  # changes the learning curves


def test_error_rates_per_engine_partition_each_split_and_mark_the_engines_never_heard():
    """Chapter 2's per-engine table: a held-out engine (piper by default) is one the training split lacks."""
    from types import SimpleNamespace

    from nap.asr import plots
    from nap.asr.metrics import cer, wer

    def utt(uid: str, split: str, voice: str) -> SimpleNamespace:
        return SimpleNamespace(id=uid, split=split, voice=voice)

    utts = [utt("t1", "train", "espeak en-us m1 rate 150"), utt("t2", "train", "flite kal rate 1")]
    utts += [utt("v1", "test_voices", "espeak de m3 rate 170"), utt("v2", "test_voices", "piper joe rate 1")]
    utts += [utt("v3", "test_voices", "piper joe rate 0.9"), utt("s1", "test_sentences", "flite kal rate 1")]
    splits = {s: [u for u in utts if u.split == s] for s in ("train", "test_sentences", "test_voices")}
    corpus = SimpleNamespace(utterances=utts, splits=splits)
    refs = {"v1": "the cat sat", "v2": "a dog ran home", "v3": "birds fly", "s1": "hello there"}
    beam = {"v1": "the cat sat", "v2": "a dg ran hom", "v3": "bird fly", "s1": "helo there"}
    greedy = {"v1": "te cat sat", "v2": "a dg rn hom", "v3": "brd fly", "s1": "helo thre"}

    def split(ids: list[str]) -> dict:
        return {"ids": ids, "refs": [refs[i] for i in ids], "greedy": {"hyps": [greedy[i] for i in ids]},
                "beam": {"hyps": [beam[i] for i in ids]}, "utterances": len(ids)}  # fmt: skip

    evaluation = {"splits": {"test_sentences": split(["s1"]), "test_voices": split(["v1", "v2", "v3"])}}
    rows = plots.engine_rates(evaluation, corpus)
    assert [(r["split"], r["engine"], r["heard"], r["utterances"]) for r in rows] == [
        ("test_sentences", "flite", True, 1),
        ("test_voices", "espeak", True, 1),
        ("test_voices", "piper", False, 2),
    ]
    piper = rows[2]
    assert piper["beam_cer"] == cer([refs["v2"], refs["v3"]], [beam["v2"], beam["v3"]]) == 3 / 23
    assert piper["greedy_wer"] == wer([refs["v2"], refs["v3"]], [greedy["v2"], greedy["v3"]]) == 4 / 6
    assert rows[1]["beam_cer"] == 0.0 and rows[1]["greedy_cer"] == 1 / 11
    table = plots.engine_table(evaluation, corpus)
    assert table.rows[2] == ["test_voices", "piper", "no", 2, round(500 / 23, 2), round(300 / 23, 2),
                             round(400 / 6, 2), 50.0]  # fmt: skip
