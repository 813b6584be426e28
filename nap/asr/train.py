"""CTC training of Wav2Letter: Adam, bucketed batches, checkpoints that resume, DDP through torchrun.

Everything random is a function of the seed and the step (weights from the seed, batch
order from (seed, epoch), SpecAugment masks from (seed, step, position in the batch)), so
a run killed at any point and resumed from its last checkpoint ends with the same weights
as an uninterrupted one. The checkpoint (``checkpoint.pt``: weights, Adam's state, step,
learning curves) is rewritten atomically every ``checkpoint_every`` steps; the finished
model is ``model.pt`` (batch norm, if trained with it, folded into the convolutions) plus
``training.json``. Every file loads with ``weights_only=True``.

The command line that trains with several processes (torchrun) is :mod:`nap.distributed`
(``-m nap.distributed asr``, or ``-m nap.asr``; the stage's part is :mod:`nap.asr.torchrun`).

On a GPU the loop keeps the device busy: the batches are built by DataLoader workers in
pinned memory (:func:`nap.asr.data.step_loader`) and copied without blocking, a step whose
loss or gradient is not finite is skipped on the device (fused AdamW's ``found_inf``, the
mechanism of torch's GradScaler), and the loss statistics are read back every
:data:`SYNC_EVERY` steps (:class:`LossLog`), not every step. On a CPU the same steps run in
the same order with the same numbers as before these changes, the batches built in the
training process.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from nap.asr import distributed as D
from nap.asr.channel import Channel
from nap.asr.data import (
    Augment,
    EpochPlan,
    Examples,
    StepBatch,
    StepBatches,
    augment_seed,
    collate,
    loader_workers,
    step_loader,
)
from nap.asr.model import Architecture, Wav2Letter, load_weights
from nap.asr.params import AsrParams
from nap.asr.vocab import Vocab
from nap.errors import NapError
from nap.eta import Eta
from nap.features import FeatureParams
from nap.hardware import Arithmetic, resolve_precision, resolve_threads
from nap.learning_rate import warmup_cosine
from nap.store import atomic_path, load_weights_file, read_json, write_json

CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
TRAINING = "training.json"

#: steps between reads of the loss statistics from the device (and the progress bar's loss, their
#: mean). Each read waits for the GPU to finish the steps queued so far and leaves it idle until
#: the next step's work arrives (~1 ms): every 20 steps of ~10 ms that costs < 1 %, every step
#: ~10 %. A loss that stays non-finite stops training at the read after ``asr.max_bad_steps``.
SYNC_EVERY = 20

#: forward and backward passes per timing in ``precision: auto``'s measurement on a GPU
MEASURE_PASSES = 3


class TrainingError(NapError, RuntimeError):
    """Training cannot go on (e.g. the loss stays non-finite)."""


@dataclass
class History:
    """Learning curves: per-step training loss and learning rate, periodic held-out checks."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    evals: list[dict[str, Any]] = field(default_factory=list)
    bad_steps: int = 0
    nonfinite_utterances: int = 0
    cpu_seconds: float = 0.0  # CPU time of the training steps (wall time inflates on a busy machine)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        return cls(**d)


def build_model(arch: Architecture, seed: int, local_init: float = 0.0) -> Wav2Letter:
    """A freshly initialised network; the weights depend on ``seed`` only.

    ``local_init`` > 0 starts training from a network that looks at the middle of its
    receptive field: every layer whose input and output widths agree (the kernel-7 stack)
    is the identity (a Dirac kernel) plus its random weights times ``local_init``, so the
    stack first passes its input on (after a ReLU, the identity of a non-negative input is
    itself); the other wide kernels (k48, k32) get their random weights tapered by a
    Gaussian window around the kernel's centre (standard deviation a sixth of the kernel,
    variance kept). Training then widens what each layer looks at as the data asks.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Wav2Letter(arch)
        if local_init > 0:
            with torch.no_grad():
                for layer in model.layers():
                    conv = layer.conv
                    k = conv.kernel_size[0]
                    if conv.in_channels == conv.out_channels and conv.stride[0] == 1:
                        noise = conv.weight * local_init
                        torch.nn.init.dirac_(conv.weight)
                        conv.weight.add_(noise)
                    elif k > 1:
                        pos = torch.arange(k, dtype=torch.float32) - (k - 1) / 2
                        window = torch.exp(-0.5 * (pos / (k / 6)) ** 2)
                        conv.weight.mul_(window / window.pow(2).mean().sqrt())
        return model


class LossLog:
    """The steps' statistics, kept on the device and read back into ``history`` in one go.

    :meth:`add` takes a step's statistics tensor (:func:`_step`: loss sum, finite and
    non-finite utterances, whether the step was taken) without reading it; :meth:`flush`
    reads all pending steps with one host synchronisation, appends the taken steps' losses
    to ``history`` exactly as a per-step read would, counts the skipped ones and stops with
    :class:`TrainingError` at the step where more than ``max_bad_steps`` were skipped in a row.
    """

    def __init__(self, history: History, max_bad_steps: int):
        self.history, self.max_bad_steps = history, max_bad_steps
        self.bad_in_a_row = 0
        self.pending: list[tuple[int, float, torch.Tensor]] = []

    def add(self, step: int, lr: float, stats: torch.Tensor) -> None:
        self.pending.append((step, lr, stats))

    def flush(self) -> float | None:
        """Read the pending steps into the history; the mean loss of those taken (None: none)."""
        if not self.pending:
            return None
        rows = torch.stack([stats for _, _, stats in self.pending]).tolist()  # the one host sync
        steps, self.pending = self.pending, []
        losses = []
        for (step, lr, _), (loss_sum, n_finite, n_bad, taken) in zip(steps, rows, strict=True):
            if not taken:
                self.history.bad_steps += 1
                self.bad_in_a_row += 1
                if self.bad_in_a_row > self.max_bad_steps:
                    raise TrainingError(
                        f"asr training: {self.bad_in_a_row} steps in a row had a non-finite loss or "
                        f"gradient (step {step}, lr {lr:.3g}); lower 'asr.lr' or check the features "
                        "for NaN/inf"
                    )
                continue
            self.bad_in_a_row = 0
            self.history.nonfinite_utterances += int(n_bad)
            self.history.step.append(step)
            self.history.loss.append(loss_sum / n_finite)
            self.history.lr.append(lr)
            losses.append(loss_sum / n_finite)
        return float(np.mean(losses)) if losses else None


def save_checkpoint(
    path: Path,
    model: Wav2Letter,
    opt: torch.optim.Optimizer,
    step: int,
    seconds: float,
    history: History,
    fingerprint: str,
) -> None:
    """Weights, optimizer state, step and curves, written atomically."""
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "step": step,
        "seconds": seconds,
        "history": history.to_dict(),
        "fingerprint": fingerprint,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return load_weights_file(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is reported the same way
        raise TrainingError(
            f"checkpoint {path} cannot be read ({exc}); delete it to train from scratch"
        ) from exc


def is_trained(work: Path) -> bool:
    """True when ``work`` holds a finished training (``model.pt`` and ``training.json``)."""
    return (work / MODEL).is_file() and (work / TRAINING).is_file()


def train(
    work: Path,
    p: AsrParams,
    arch: Architecture,
    train_set: Examples,
    eval_sets: dict[str, tuple[Examples, list[int]]] | None = None,
    info: D.DistInfo | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train in ``work`` (resuming from its checkpoint) and return the training record.

    ``eval_sets`` maps a name to (examples, indices) scored with greedy decoding for the
    learning curves (monitoring only: the final model is the last step's). ``stop_after``
    ends the run after that many steps without finishing (tests of resumption).
    """
    work = Path(work)
    info = info or D.DistInfo()
    if is_trained(work):
        return read_json(work / TRAINING)
    threads = resolve_threads(p.threads, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    torch.set_num_threads(threads)
    device = D.device_for(info, p.device)
    D.init(info, device)
    vocab = Vocab(p.repetitions)
    if arch.classes != len(vocab):
        raise TrainingError(f"architecture has {arch.classes} classes, vocabulary {len(vocab)}")
    if not train_set.items:
        raise TrainingError(f"no usable training utterances (skipped: {dict(train_set.skipped)})")

    model = build_model(arch, p.seed, p.local_init).to(device)
    opt = make_optimizer(model, p, device)
    fingerprint = train_set.fingerprint()
    history, step, seconds = History(), 0, 0.0
    ckpt_path = work / CHECKPOINT
    if ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path)
        if ckpt["fingerprint"] != fingerprint:
            raise TrainingError(
                f"checkpoint {ckpt_path} was made on other training data; delete it to restart"
            )
        load_weights(model, ckpt["model"], ckpt_path, "asr parameters channels/hidden/k7_layers")
        opt.load_state_dict(ckpt["optimizer"])
        step, seconds, history = int(ckpt["step"]), float(ckpt["seconds"]), History.from_dict(ckpt["history"])
    net = model
    if info.active:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    plan = EpochPlan(train_set.items, p.batch_size, p.seed)
    steps_per_epoch = plan.steps_per_epoch
    total = p.epochs * steps_per_epoch
    eval_every = p.eval_every or steps_per_epoch
    first_epoch = [plan(i) for i in range(steps_per_epoch)]
    arithmetic = training_precision(p, model, train_set, first_epoch, device, info)
    autocast = arithmetic.autocast
    flipped, kernel_ms = choose_kernels(model, device, autocast, train_set, first_epoch)
    batches = StepBatches(
        train_set,
        plan,
        augmentation(p, train_set.feature_params),
        p.seed,
        model.stride,
        model.receptive_field,
        info.rank,
        info.world,
    )
    workers = loader_workers(p.loader_workers, device, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    eta = Eta(
        "asr training",
        total,
        done=step,
        budget_minutes=p.budget_minutes if info.main else 0.0,
        precision=arithmetic.precision,
        threads=threads,
        device=device.type,
    )
    log = LossLog(history, p.max_bad_steps)
    bar = tqdm(
        total=total,
        initial=step,
        disable=not (progress and info.main),
        desc="asr training",
        unit="step",
        mininterval=0.5 if sys.stderr.isatty() else 10.0,
        dynamic_ncols=True,
    )
    model.train()
    loader = iter(step_loader(batches, step, total, device, workers))
    try:
        while step < total:
            if stop_after is not None and step >= stop_after:
                return {"stopped_at": step}
            t0, c0 = time.perf_counter(), time.process_time()
            batch = next(loader)
            lr = warmup_cosine(step, total, p.lr, p.lr_final, p.warmup_steps, overlap=False)
            for group in opt.param_groups:
                group["lr"] = lr
            log.add(step, lr, _step(net, model, opt, batch, step, p, info, device, autocast))
            step += 1
            checkpoint = step % p.checkpoint_every == 0 or step == total
            if step % SYNC_EVERY == 0 or checkpoint:  # the same steps in every process
                loss = log.flush()
                if loss is not None:  # the bar's own interval
                    bar.set_postfix(
                        loss=f"{loss:.3f}", epoch=(step - 1) // steps_per_epoch + 1, refresh=False
                    )
            seconds += time.perf_counter() - t0
            history.cpu_seconds += time.process_time() - c0
            bar.update(1)
            if info.main:
                eta.step()
            if info.main and eval_sets and (step % eval_every == 0 or step == total):
                history.evals.append(_curve_point(model, eval_sets, step, steps_per_epoch, seconds, device))
            if info.main and checkpoint:
                save_checkpoint(ckpt_path, model, opt, step, seconds, history, fingerprint)
        record = {
            "steps": total,
            "steps_per_epoch": steps_per_epoch,
            "epochs": p.epochs,
            "train_seconds": round(seconds, 1),
            "train_cpu_seconds": round(history.cpu_seconds, 1),
            "processes": info.world,
            "threads": threads,
            **arithmetic.record(),
            "flipped_input_grad": flipped,  # layers whose input gradient is a forward convolution
            "input_grad_milliseconds": kernel_ms,  # the timings behind that choice (cpu_kernels)
            "estimated_minutes": eta.minutes,  # this run's, from its first steps (None: too few)
            "train_utterances": len(train_set.items),
            "train_audio_seconds": round(train_set.seconds, 1),
            "skipped": dict(train_set.skipped),
            "skipped_ids": train_set.skipped_ids,  # the first SKIPPED_IDS of each reason
            "final_loss": float(np.mean(history.loss[-20:])) if history.loss else float("nan"),
            "history": history.to_dict(),
        }
        if info.main:
            plain = model.eval().fold_norm()  # batch norm folded in: plain conv + ReLU
            with atomic_path(work / MODEL) as tmp:
                torch.save(plain.state_dict(), tmp)
            write_json(work / TRAINING, record)
            ckpt_path.unlink(missing_ok=True)
        D.barrier(info)
        return record
    finally:
        del loader  # its worker processes end with it
        bar.close()


def make_optimizer(model: Wav2Letter, p: AsrParams, device: torch.device) -> torch.optim.AdamW:
    """AdamW over ``model``'s parameters; fused on a GPU, where :func:`_step` skips a bad step
    on the device (through ``found_inf``) instead of reading its loss first."""
    fused = True if device.type == "cuda" else None  # None on a CPU: torch's default, as before
    return torch.optim.AdamW(model.parameters(), lr=p.lr, weight_decay=p.weight_decay, fused=fused)


def augmentation(p: AsrParams, features: FeatureParams | None = None) -> Augment:
    """The training's augmentation of each utterance's features (``asr.tempo``, SpecAugment ...)
    made with ``features`` (default: the features stage's defaults)."""
    channel = Channel(
        p.band_limit, tuple(p.band_limit_hz), p.noise, tuple(p.noise_snr_db), features or FeatureParams()
    )
    return Augment(
        p.tempo, p.freq_shift, p.freq_masks, p.freq_mask_width, p.time_masks, p.time_mask_width, channel
    )


#: a wide layer trains through FlippedInputGrad when its input gradient measures at most this
#: share of oneDNN's: a clear margin, so the choice does not flip with timing noise
FLIP_MARGIN = 0.8
#: ... and oneDNN's takes at least this many milliseconds: smaller layers (tests, tiny
#: profiles) keep oneDNN's, where a timing says little and a choice could differ between runs
FLIP_MIN_MS = 20.0


def flip_wins(ms: dict[str, float]) -> bool:
    """Whether the flipped input gradient is clearly faster than oneDNN's in the timings ``ms``."""
    return ms["onednn"] >= FLIP_MIN_MS and ms["flipped"] <= FLIP_MARGIN * ms["onednn"]


def median_batch(data: Examples, batches: list[list[int]]) -> list[int]:
    """The batch of median length (its longest utterance) among ``batches``: what the precision
    and the kernels are measured on."""
    by_length = sorted(batches, key=lambda b: (max(data.items[i].frames for i in b), b))
    return by_length[len(by_length) // 2]


def choose_kernels(
    model: Wav2Letter, device: torch.device, autocast: bool, data: Examples, batches: list[list[int]]
) -> tuple[list[str], dict[str, dict[str, float]]]:
    """:func:`cpu_kernels` on the shapes of :func:`median_batch` of ``batches`` (silence included)."""
    median = median_batch(data, batches)
    frames = max(data.items[i].frames for i in median) + 2 * data.pad
    return cpu_kernels(model, device, autocast, frames, len(median))


def cpu_kernels(
    model: Wav2Letter, device: torch.device, autocast: bool, frames: int, batch: int
) -> tuple[list[str], dict[str, dict[str, float]]]:
    """Kernels for float32 training on a CPU: each wide layer's input gradient as oneDNN computes it
    or as a forward convolution (:class:`nap.asr.model.FlippedInputGrad`), whichever measures
    faster by :data:`FLIP_MARGIN` (:func:`flip_wins`), on random tensors of that layer's shapes for a batch of
    ``batch`` inputs of ``frames`` frames (one warm-up, then the median of 3). Which way wins
    depends on the shape and the CPU: on an AVX2 EPYC, 1 thread, the default widths' k32 layer
    (192 → 768) took 535-563 ms in oneDNN and 253 ms flipped; at the paper's widths (250 →
    2000, batch 8) the flipped way made the whole step 4.5 % slower. Returns the chosen layers
    and the timings (ms) behind the choice; nothing on a GPU or under bfloat16 autocast."""
    if device.type != "cpu" or autocast:
        return model.flip_input_grads(False), {}
    timings: dict[str, dict[str, float]] = {}
    chosen = []
    wide = set(model.wide_layers())
    n = frames
    for name, layer in zip(model.layer_names, model.layers(), strict=True):
        conv = layer.conv
        if name in wide:
            timings[name] = input_grad_ms(conv, batch, n)
            if flip_wins(timings[name]):
                chosen.append(name)
        d, k, s = conv.dilation[0], conv.kernel_size[0], conv.stride[0]
        n = max((n - d * (k - 1) - 1) // s + 1, 1)
    return model.flip_input_grads(chosen), timings


def input_grad_ms(conv: torch.nn.Conv1d, batch: int, frames: int) -> dict[str, float]:
    """Milliseconds of ``conv``'s input gradient for a (batch, channels, frames) input: oneDNN's
    (``convolution_backward``) and :meth:`FlippedInputGrad.input_grad`'s, on random tensors."""
    from nap.asr.model import FlippedInputGrad

    k, w = conv.kernel_size[0], conv.weight.detach()
    x = torch.randn(batch, conv.in_channels, frames)
    grad = torch.randn(batch, conv.out_channels, max(frames - k + 1, 1))
    mask = [True, False, False]

    def onednn() -> None:
        torch.ops.aten.convolution_backward(grad, x, w, [w.shape[0]], [1], [0], [1], False, [0], 1, mask)

    return {"onednn": _median_ms(onednn), "flipped": _median_ms(lambda: FlippedInputGrad.input_grad(grad, w))}


def _median_ms(fn: Callable[[], None], repeats: int = 3) -> float:
    """Median wall time of ``fn`` in ms after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(sorted(times)[len(times) // 2], 2)


def training_precision(
    p: AsrParams,
    model: Wav2Letter,
    data: Examples,
    batches: list[list[int]],
    device: torch.device,
    info: D.DistInfo | None = None,
) -> Arithmetic:
    """``asr.precision`` resolved for ``device``.

    On a GPU ``auto`` times forward and backward passes both ways
    (:func:`nap.hardware.resolve_precision`: one warm-up call, then three timed, of
    :data:`MEASURE_PASSES` passes each) on the batch of median length among ``batches`` (the
    first epoch's), copied to the device once, outside the timing, under the cuDNN settings
    training runs with. The processes of a group train alike: bfloat16 only where every one
    of them measured it faster.
    """
    info = info or D.DistInfo()
    if device.type != "cuda":
        return resolve_precision(p.precision, device, "asr.precision")
    x = collate(data, median_batch(data, batches))[0].to(device)

    def measure(autocast: bool) -> None:
        saved = [b.detach().clone() for b in model.buffers()]
        for _ in range(MEASURE_PASSES):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                y = model(x)
            y.float().square().mean().backward()
            model.zero_grad(set_to_none=True)
        with torch.no_grad():
            for b, old in zip(model.buffers(), saved, strict=True):
                b.copy_(old)

    arithmetic = resolve_precision(p.precision, device, "asr.precision", measure)
    votes = D.all_sum([float(arithmetic.autocast)], info, device)[0]
    if 0 < votes < info.world:
        return Arithmetic(
            "float32", arithmetic.requested, f"bfloat16 faster on {votes:.0f} of {info.world} processes only"
        )
    return arithmetic


def _step(
    net: torch.nn.Module,
    model: Wav2Letter,
    opt: torch.optim.Optimizer,
    batch: StepBatch,
    step: int,
    p: AsrParams,
    info: D.DistInfo,
    device: torch.device,
    autocast: bool,
) -> torch.Tensor:
    """One optimisation step on this process's share of the step's batch.

    Returns the step's statistics, summed over processes, as a float64 tensor on ``device``:
    (loss sum, finite utterances, non-finite utterances, 1 if the step was taken else 0). A
    step without a finite loss or with a non-finite gradient is skipped (weights, Adam's state
    and batch-norm statistics as before it). With a fused optimizer (on a GPU) nothing here
    waits for the device: the skip happens on it; otherwise the decision is read per step.
    """
    opt.zero_grad(set_to_none=True)
    saved = [b.detach().clone() for b in model.buffers()]  # batch-norm statistics, restored if skipped

    def skip() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            for b, old in zip(model.buffers(), saved, strict=True):
                b.copy_(old)
        return torch.cat([local, local.new_zeros(1)])

    if batch.share is not None:
        torch.manual_seed(augment_seed(p.seed, step, 1_000_000 + info.rank))  # dropout masks
        x, lengths, targets, target_lengths = batch.share
        x = x.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = net(x)
        logp = logits.float().log_softmax(1).permute(2, 0, 1)  # (frames, batch, classes)
        losses = F.ctc_loss(
            logp,
            targets.to(device, non_blocking=True),
            model.output_frames(lengths),  # lengths stay on the host: ctc_loss reads them there
            target_lengths,
            blank=0,
            reduction="none",
            zero_infinity=True,
        )
        losses = losses / target_lengths.to(device, non_blocking=True)
        finite = torch.isfinite(losses)
        kept = torch.where(finite, losses, torch.zeros_like(losses))
        loss = kept.sum() * (info.world / batch.size)
        local = torch.stack([kept.detach().sum().double(), finite.sum().double(), (~finite).sum().double()])
    else:  # fewer utterances than processes: take part in the gradient exchange with nothing
        rf = model.receptive_field
        loss = net(torch.zeros(1, model.arch.n_mels, rf, device=device)).sum() * 0.0
        local = torch.zeros(3, dtype=torch.float64, device=device)
    D.all_sum_(local, info)
    loss.backward()
    on_device = all(group.get("fused") for group in opt.param_groups)
    if not on_device and local[1].item() == 0:
        return skip()
    if p.grad_clip:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), p.grad_clip)
    else:
        norm = torch.nn.utils.get_total_norm([q.grad for q in model.parameters() if q.grad is not None])
    taken = torch.isfinite(norm) & (local[1] > 0)
    if not on_device:
        if not taken.item():
            return skip()
        opt.step()
        return torch.cat([local, local.new_ones(1)])
    opt.found_inf = (~taken).float()  # type: ignore[attr-defined]  # the fused step leaves all alone
    try:
        opt.step()
    finally:
        del opt.found_inf  # type: ignore[attr-defined]
    with torch.no_grad():
        for b, old in zip(model.buffers(), saved, strict=True):
            b.copy_(torch.where(taken, b, old))
    return torch.cat([local, taken.double().reshape(1)])


def _curve_point(
    model: Wav2Letter,
    eval_sets: dict[str, tuple[Examples, list[int]]],
    step: int,
    steps_per_epoch: int,
    seconds: float,
    device: torch.device,
) -> dict[str, Any]:
    from nap.asr.evaluate import score

    point: dict[str, Any] = {
        "step": step,
        "epoch": step / steps_per_epoch,
        "train_seconds": round(seconds, 1),
    }
    for name, (examples, indices) in eval_sets.items():
        res = score(model, Vocab(_repetitions(model)), examples, indices, device=device)
        point[name] = {"loss": res["loss"], "cer": res["greedy"]["cer"], "wer": res["greedy"]["wer"]}  # type: ignore[index]
    return point


def _repetitions(model: Wav2Letter) -> int:
    from nap.asr.vocab import ALPHABET

    return model.arch.classes - 1 - len(ALPHABET)
