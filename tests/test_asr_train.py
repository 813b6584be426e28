"""CTC training: it learns, resumes exactly after an interruption or a kill, handles bad input."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nap.asr import train as T
from nap.asr.data import ctc_min_frames, epoch_batches, prepare
from nap.asr.model import Architecture, Wav2Letter
from nap.asr.params import AsrParams
from nap.asr.stage import prepare_all
from nap.asr.synthetic import SyntheticCorpus
from nap.asr.train import CHECKPOINT, MODEL, TrainingError, load_checkpoint, train
from nap.asr.vocab import Vocab
from tests.asr_small import SMALL_ASR

SMALL = {**SMALL_ASR, "checkpoint_every": 3, "epochs": 4}


def small(**changes) -> AsrParams:
    return AsrParams.from_dict({**SMALL, **changes})


@pytest.fixture(scope="module")
def synth() -> SyntheticCorpus:
    return SyntheticCorpus(n_train=40, n_test=6, n_mels=16)


def run(work: Path, p: AsrParams, synth: SyntheticCorpus, **kw):
    arch, train_set, evals = prepare_all(p, synth, synth)
    return train(work, p, arch, train_set, evals, progress=False, **kw)


def weights(work: Path) -> dict[str, torch.Tensor]:
    return torch.load(work / MODEL, weights_only=True)


def test_training_lowers_the_loss_and_records_curves(tmp_path, synth):
    record = run(tmp_path, small(epochs=8), synth)
    loss = record["history"]["loss"]
    assert record["steps"] == len(loss) == 8 * 5
    assert np.mean(loss[-5:]) < 0.5 * np.mean(loss[:3]), loss
    evals = record["history"]["evals"]
    assert [e["step"] for e in evals] == [5 * k for k in range(1, 9)]
    for e in evals:
        for split in ("test_sentences", "test_voices"):
            assert np.isfinite(e[split]["loss"]) and 0 <= e[split]["cer"] <= 2
    assert evals[-1]["test_sentences"]["loss"] < evals[0]["test_sentences"]["loss"]
    # float32 on a CPU: the k32 layer's input gradient was timed both ways and the faster kept
    wide = f"layer{int(SMALL['k7_layers']) + 2:02d}"  # k48, the k7 layers, then k32
    if record["precision"] == "float32":
        ms = record["input_grad_milliseconds"][wide]
        assert set(record["input_grad_milliseconds"]) == {wide} and ms["onednn"] > 0 and ms["flipped"] > 0
        assert record["flipped_input_grad"] == ([wide] if T.flip_wins(ms) else [])
        assert record["flipped_input_grad"] == []  # a layer this small keeps oneDNN's (FLIP_MIN_MS)
    else:
        assert record["flipped_input_grad"] == [] and record["input_grad_milliseconds"] == {}
    assert not (tmp_path / CHECKPOINT).exists() and (tmp_path / MODEL).exists()
    assert run(tmp_path, small(epochs=8), synth) == record  # finished: read back, not retrained


def test_interrupted_training_resumes_to_the_same_weights(tmp_path, synth):
    p = small()
    run(tmp_path / "whole", p, synth)
    assert run(tmp_path / "parts", p, synth, stop_after=7) == {"stopped_at": 7}
    ckpt = load_checkpoint(tmp_path / "parts" / CHECKPOINT)  # weights_only=True
    assert ckpt["step"] == 6 and len(ckpt["history"]["loss"]) == 6
    run(tmp_path / "parts", p, synth)
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "parts")
    assert all(torch.equal(a[k], b[k]) for k in a)


KILLED = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
import nap.asr.train as T
from nap.asr.params import AsrParams
from nap.asr.stage import prepare_all
from nap.asr.synthetic import SyntheticCorpus
synth = SyntheticCorpus(n_train=40, n_test=6, n_mels=16)
p = AsrParams.from_dict({params!r})
arch, train_set, evals = prepare_all(p, synth, synth)
slow = T.save_checkpoint
def save(*a, **k):
    slow(*a, **k)
    print("checkpoint", flush=True)
    time.sleep(0.5)
T.save_checkpoint = save
T.train(Path({work!r}), p, arch, train_set, evals, progress=False)
"""


def test_killed_training_resumes_to_the_same_weights(tmp_path, synth):
    p = small()
    run(tmp_path / "whole", p, synth)
    work = tmp_path / "killed"
    root = str(Path(__file__).resolve().parents[1])
    code = KILLED.format(root=root, params=p.to_dict(), work=str(work))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        seen = 0
        while seen < 2:  # kill it after its second checkpoint, mid-run
            line = proc.stdout.readline()
            assert line, "training ended before it was killed"
            seen += line.startswith("checkpoint")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (work / MODEL).exists()
    assert load_checkpoint(work / CHECKPOINT)["step"] == 6
    run(work, p, synth)
    a, b = weights(tmp_path / "whole"), weights(work)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_non_finite_losses_are_skipped_and_counted(tmp_path, synth):
    p = small(epochs=2)
    arch, train_set, evals = prepare_all(p, synth, synth)
    bad = train_set.items[3].id
    train_set.cache[bad] = np.full_like(train_set.cache[bad], np.nan)  # NaN after the input checks
    record = train(tmp_path, p, arch, train_set, evals, progress=False)
    assert record["history"]["bad_steps"] == 2  # the batch holding it, once per epoch
    assert record["history"]["nonfinite_utterances"] == 0  # whole steps were skipped, not counted twice
    assert len(record["history"]["loss"]) == record["steps"] - 2
    assert all(torch.isfinite(w).all() for w in weights(tmp_path).values())


def test_a_loss_that_stays_non_finite_stops_with_a_clear_error(tmp_path, synth):
    p = small(max_bad_steps=3)
    arch, train_set, evals = prepare_all(p, synth, synth)
    for e in train_set.items:
        train_set.cache[e.id] = np.full_like(train_set.cache[e.id], np.inf)
    with pytest.raises(TrainingError, match=r"4 steps in a row .* 'asr.lr'"):
        train(tmp_path, p, arch, train_set, evals, progress=False)
    assert not (tmp_path / MODEL).exists()


def test_bad_utterances_are_skipped_and_counted():
    vocab = Vocab(2)
    model = Wav2Letter(Architecture(n_mels=4, classes=len(vocab), channels=4, hidden=4, k7_layers=1))
    rf = model.receptive_field
    feats = {
        "ok": np.zeros((rf + 40, 4), np.float32),
        "long": np.zeros((rf + 900, 4), np.float32),
        "short": np.zeros((rf + 4, 4), np.float32),  # 3 output frames for 5 letters
        "oov": np.zeros((rf + 40, 4), np.float32),
        "nan": np.full((rf + 40, 4), np.nan, np.float32),
    }
    texts = [
        ("ok", "a cat"),
        ("long", "a cat"),
        ("short", "a cat"),
        ("oov", "a cat!"),
        ("nan", "a cat"),
        ("gone", "a cat"),
    ]
    ex = prepare(texts, lambda i: feats[i], vocab, model.output_frames, max_frames=rf + 500)
    assert [e.id for e in ex.items] == ["ok"]
    assert dict(ex.skipped) == {
        "too_long": 1,
        "too_short": 1,
        "out_of_vocabulary": 1,
        "non_finite_features": 1,
        "missing_features": 1,
    }
    # padding with silence makes the short one fit
    padded = prepare(texts[2:3], lambda i: feats[i], vocab, model.output_frames, pad=model.context_pad)
    assert [e.id for e in padded.items] == ["short"]
    assert ctc_min_frames([1, 2, 2, 3]) == 5


def test_batches_are_bucketed_by_length_and_fixed_by_seed_and_epoch(synth):
    p = small()
    _, train_set, _ = prepare_all(p, synth, synth)
    a = epoch_batches(train_set.items, 8, seed=0, epoch=1)
    assert a == epoch_batches(train_set.items, 8, seed=0, epoch=1)
    assert a != epoch_batches(train_set.items, 8, seed=0, epoch=2)
    assert sorted(i for b in a for i in b) == list(range(len(train_set.items)))
    frames = [[train_set.items[i].frames for i in b] for b in a]
    assert all(f == sorted(f) for f in frames)


def test_cpu_kernels_keep_the_input_gradient_that_measures_clearly_faster(monkeypatch):
    """cpu_kernels: a wide layer goes through FlippedInputGrad only when its timing beats oneDNN's
    by FLIP_MARGIN; never on a GPU or under bfloat16 autocast (the timings are faked here)."""
    model = Wav2Letter(Architecture(n_mels=8, channels=6, hidden=10, classes=5))
    seen = []

    def fake(conv, batch, frames):
        seen.append((conv.in_channels, conv.out_channels, conv.kernel_size[0], batch, frames))
        return timing

    monkeypatch.setattr(T, "input_grad_ms", fake)
    cpu = torch.device("cpu")
    timing = {"onednn": 100.0, "flipped": 50.0}
    chosen, ms = T.cpu_kernels(model, cpu, False, 300, 4)
    assert chosen == ["layer09"] and ms == {"layer09": timing}
    assert model.layer09.flipped_input_grad and not model.layer08.flipped_input_grad
    # the k32 layer's input: 300 frames through k48 stride 2 (127), then seven k7 layers (85)
    assert seen == [(6, 10, 32, 4, 85)]
    timing = {"onednn": 100.0, "flipped": 90.0}  # faster, but within the margin: oneDNN stays
    assert T.cpu_kernels(model, cpu, False, 300, 4)[0] == [] and not model.layer09.flipped_input_grad
    timing = {"onednn": 10.0, "flipped": 1.0}  # too fast to tell: oneDNN stays
    assert T.cpu_kernels(model, cpu, False, 300, 4)[0] == []
    assert T.cpu_kernels(model, cpu, True, 300, 4) == ([], {})  # bfloat16 autocast: not measured
    assert T.cpu_kernels(model, torch.device("meta"), False, 300, 4) == ([], {})
