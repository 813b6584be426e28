"""The training's batches through a DataLoader, its device-side skips and its loss read every N steps.

The loader must give exactly the batches the training built in its own loop before it existed
(same utterances, same augmentation, same tensors, same order), with or without worker
processes; a step must be skippable without reading anything back from the device; and the
loss, read back in groups of steps, must land in the history as if read every step.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nap.asr.data as data_mod
import nap.asr.train as T
from nap.asr import distributed as D
from nap.asr.data import (
    Augment,
    EpochPlan,
    StepBatch,
    StepBatches,
    collate,
    ctc_min_frames,
    epoch_batches,
    loader_workers,
    step_loader,
)
from nap.asr.model import Wav2Letter
from nap.asr.params import AsrParams
from nap.asr.stage import prepare_all
from nap.asr.synthetic import SyntheticCorpus
from tests.asr_small import SMALL_ASR

#: with augmentation and dropout, so that the loader's random draws are exercised
SMALL = {
    **SMALL_ASR,
    "tempo": 0.1,
    "freq_shift": 2,
    "freq_masks": 1,
    "time_masks": 1,
    "dropout": 0.1,
    "epochs": 3,
    "checkpoint_every": 100,
}


@pytest.fixture(scope="module")
def setup():
    p = AsrParams.from_dict(SMALL)
    synth = SyntheticCorpus(n_train=36, n_test=6, n_mels=16)
    arch, train_set, evals = prepare_all(p, synth, synth)
    return p, arch, train_set, evals


def todays_batch(p, model, data, step, rank=0, world=1):
    """The batch of ``step`` as the training loop built it before the loader (commit 0be6a6f)."""
    steps_per_epoch = len(epoch_batches(data.items, p.batch_size, p.seed, 0))
    epoch, pos = divmod(step, steps_per_epoch)
    batch = epoch_batches(data.items, p.batch_size, p.seed, epoch)[pos]
    share = list(range(rank, len(batch), world))
    aug = Augment(p.tempo, p.freq_shift, p.freq_masks, p.freq_mask_width, p.time_masks, p.time_mask_width)
    items = [data.items[batch[k]] for k in share]

    def transform(k, feats):
        need = model.stride * (ctc_min_frames(items[k].targets) - 1) + model.receptive_field - 2 * data.pad
        seed = int(np.random.SeedSequence([p.seed, step, share[k], 11]).generate_state(1)[0])
        return aug(feats, seed, need)

    return batch, collate(data, [batch[k] for k in share], transform)


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize(("rank", "world"), [(0, 1), (1, 2)])
def test_the_loader_gives_todays_batches_in_todays_order(setup, workers, rank, world):
    p, arch, data, _ = setup
    model = Wav2Letter(arch)
    plan = EpochPlan(data.items, p.batch_size, p.seed)
    assert plan.steps_per_epoch == 5
    batches = StepBatches(
        data, plan, T.augmentation(p), p.seed, model.stride, model.receptive_field, rank, world
    )
    start, stop = 3, 12  # a resumed run, across two epoch boundaries
    got = list(step_loader(batches, start, stop, torch.device("cpu"), workers))
    assert len(got) == stop - start
    for step, item in zip(range(start, stop), got, strict=True):
        indices, want = todays_batch(p, model, data, step, rank, world)
        assert plan(step) == indices
        assert item.size == len(indices)
        assert len(item.share[1]) == len(range(rank, len(indices), world))
        for a, b in zip(item.share, want, strict=True):
            assert a.dtype == b.dtype and torch.equal(a, b)
    augmented = todays_batch(p, model, data, 3)[1][0]
    plain = collate(data, plan(3))[0]
    assert augmented.shape != plain.shape or not torch.equal(augmented, plain)  # augmentation is on


def test_a_process_without_utterances_gets_an_empty_share(setup):
    p, arch, data, _ = setup
    model = Wav2Letter(arch)
    batches = StepBatches(
        data, lambda step: [0, 1], Augment(), p.seed, model.stride, model.receptive_field, rank=2, world=3
    )
    assert batches[0] == StepBatch(2, None)


def test_the_loader_leaves_torch_global_generator_alone(setup):
    p, arch, data, _ = setup
    model = Wav2Letter(arch)
    plan = EpochPlan(data.items, p.batch_size, p.seed)
    batches = StepBatches(data, plan, T.augmentation(p), p.seed, model.stride, model.receptive_field)
    before = torch.random.get_rng_state()
    list(step_loader(batches, 0, 3, torch.device("cpu")))
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize(
    ("requested", "device", "cores", "share", "expected"),
    [
        ("auto", "cpu", 16, 1, 0),  # a CPU trains with every core: batches built in-process
        ("auto", "cuda", 16, 1, 8),  # capped at MAX_AUTO_WORKERS
        ("auto", "cuda", 6, 1, 5),  # the cores less one for the training process
        ("auto", "cuda", 16, 8, 1),  # 8 GPU processes share 16 cores
        ("auto", "cuda", 1, 1, 1),  # at least one
        (3, "cpu", 16, 1, 3),  # asked for: as asked
        (0, "cuda", 16, 1, 0),
    ],
)
def test_loader_workers_auto_rule(monkeypatch, requested, device, cores, share, expected):
    monkeypatch.setattr(data_mod, "cores", lambda: cores)
    assert data_mod.MAX_AUTO_WORKERS == 8
    assert loader_workers(requested, torch.device(device), share) == expected


def test_batches_are_pinned_for_a_gpu_only(setup, monkeypatch):
    p, arch, data, _ = setup
    model = Wav2Letter(arch)
    batches = StepBatches(data, EpochPlan(data.items, p.batch_size, p.seed), Augment(), 0, model.stride, 1)
    assert step_loader(batches, 0, 2, torch.device("cuda", 0)).pin_memory
    assert not step_loader(batches, 0, 2, torch.device("cpu")).pin_memory
    pinned = []

    def fake_pin(item, device=None):  # what the DataLoader calls for each batch it pins
        pinned.append(item.size)
        return item

    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda *a, **k: torch.device("cuda"))
    monkeypatch.setattr(torch.utils.data._utils.pin_memory, "pin_memory", fake_pin)
    list(step_loader(batches, 0, 2, torch.device("cpu")))
    assert pinned == []
    list(step_loader(batches, 0, 2, torch.device("cuda", 0)))
    assert pinned == [batches[0].size, batches[1].size]


def stats(loss_sum: float, n_finite: int, n_bad: int, taken: bool) -> torch.Tensor:
    return torch.tensor([loss_sum, n_finite, n_bad, float(taken)], dtype=torch.float64)


def test_the_loss_log_reads_pending_steps_at_once_into_the_history():
    history = T.History()
    log = T.LossLog(history, max_bad_steps=5)
    rows = [(10.0, 4, 0, True), (0.0, 0, 4, False), (9.0, 3, 1, True), (4.0, 4, 0, True)]
    for step, row in enumerate(rows):
        log.add(step, 0.1 * (step + 1), stats(*row))
    assert history.loss == [] and len(log.pending) == 4  # nothing read yet
    mean = log.flush()
    assert log.pending == []
    assert history.step == [0, 2, 3]
    assert history.loss == [2.5, 3.0, 1.0]  # each step's loss sum over its finite utterances
    assert history.lr == [0.1, 0.30000000000000004, 0.4]
    assert mean == 6.5 / 3  # the mean of the steps' losses: what the progress bar shows
    assert history.bad_steps == 1 and history.nonfinite_utterances == 1
    assert log.flush() is None
    log.add(4, 0.5, stats(0.0, 0, 4, False))
    assert log.flush() is None and history.bad_steps == 2 and history.step == [0, 2, 3]


def test_the_loss_log_stops_at_the_step_where_too_many_were_skipped_in_a_row():
    log = T.LossLog(T.History(), max_bad_steps=2)
    log.add(0, 0.1, stats(1.0, 1, 0, True))
    for step in range(1, 6):
        log.add(step, 0.01 * step, stats(0.0, 0, 8, False))
    with pytest.raises(T.TrainingError) as info:
        log.flush()
    assert str(info.value) == (
        "asr training: 3 steps in a row had a non-finite loss or gradient (step 3, lr 0.03); "
        "lower 'asr.lr' or check the features for NaN/inf"
    )


def test_training_reads_the_loss_every_sync_every_steps(setup, tmp_path, monkeypatch):
    p, arch, data, evals = setup
    monkeypatch.setattr(T, "SYNC_EVERY", 4)
    read, flush = [], T.LossLog.flush

    def counted(self):
        read.append(len(self.pending))
        return flush(self)

    monkeypatch.setattr(T.LossLog, "flush", counted)
    record = T.train(tmp_path, p.replace(epochs=2, checkpoint_every=7), arch, data, None, progress=False)
    assert record["steps"] == 10
    assert read == [4, 3, 1, 2]  # steps 4, 7 (a checkpoint), 8, 10 (the last)
    assert record["history"]["step"] == list(range(10))


def small_step_setup(setup, fused: bool):
    p, arch, data, _ = setup
    model = T.build_model(arch, p.seed, p.local_init)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, fused=fused or None)
    model.train()
    batches = StepBatches(
        data, EpochPlan(data.items, p.batch_size, p.seed), T.augmentation(p), p.seed, model.stride,
        model.receptive_field,
    )  # fmt: skip
    return p, model, opt, batches


def snapshot(model, opt):
    state = [v.clone() for s in opt.state.values() for v in s.values() if torch.is_tensor(v)]
    return [t.detach().clone() for t in [*model.parameters(), *model.buffers()]], state


@pytest.mark.parametrize("fused", [False, True])
def test_a_step_with_a_non_finite_loss_changes_nothing(setup, fused):
    p, model, opt, batches = small_step_setup(setup, fused)
    info, cpu = D.DistInfo(), torch.device("cpu")
    good = T._step(model, model, opt, batches[0], 0, p, info, cpu, False)
    assert good[3].item() == 1 and good[1].item() == batches[0].size
    before = snapshot(model, opt)
    item = batches[1]
    bad = StepBatch(item.size, (torch.full_like(item.share[0], float("nan")), *item.share[1:]))
    out = T._step(model, model, opt, bad, 1, p, info, cpu, False)
    assert out.tolist() == [0.0, 0.0, item.size, 0.0]  # no finite loss: not taken
    after = snapshot(model, opt)
    for a, b in zip(before[0] + before[1], after[0] + after[1], strict=True):
        assert torch.equal(a, b)  # weights, batch-norm statistics, Adam's moments and step
    again = T._step(model, model, opt, batches[2], 2, p, info, cpu, False)
    assert again[3].item() == 1
    assert not torch.equal(next(model.parameters()), before[0][0])


def test_a_step_with_a_fused_optimizer_reads_nothing_back(setup, monkeypatch):
    p, model, opt, batches = small_step_setup(setup, fused=True)
    item = batches[0]

    def no_read(*args, **kwargs):
        raise AssertionError("a step read a tensor back to the host")

    for name in ("item", "tolist", "__bool__", "__float__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, no_read)
    out = T._step(model, model, opt, item, 0, p, D.DistInfo(), torch.device("cpu"), False)
    monkeypatch.undo()
    assert out.tolist()[1:] == [item.size, 0.0, 1.0]
