"""Training of the G2P network: resumable, deterministic, with dev-set early stopping.

Everything lives in the stage's work folder: ``checkpoint.pt`` (weights, optimiser, RNG,
position in the epoch, the history so far), written atomically at every dev evaluation, so
an interrupted build resumes where it stopped and ends with the same weights as an
uninterrupted one; ``model.pt`` holds the weights with the best dev WER so far and
``history.json`` the learning curve. The batch order of epoch ``e`` comes from
``default_rng([seed, e])``; dropout draws from torch's generator, saved in the checkpoint.
The learning rate warms up linearly and then follows a cosine to ``lr * lr_floor`` at the
end of the last epoch. The weights that are evaluated and kept are an exponential moving
average of the trained ones (``ema``): a cheap way to a smoother model on a short budget.
Training runs on ``g2p.device``; the weights are initialised on the CPU from the same seed
either way (on a GPU the checkpoint also keeps the GPU's generator, which dropout draws from).
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from nap.errors import NapError
from nap.eta import Eta
from nap.g2p.beam import decode_words, device_of
from nap.g2p.data import Batch, Lexicon, Split, Vocab, batches, samples
from nap.g2p.metrics import wer_any
from nap.g2p.model import G2PNet, NetConfig
from nap.g2p.params import G2PParams
from nap.hardware import resolve_device, resolve_precision
from nap.learning_rate import warmup_cosine
from nap.store import StoreError, atomic_path, load_weights_file, write_json

CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
HISTORY = "history.json"


class G2PTrainingError(NapError, RuntimeError):
    """Training cannot go on: a setting this machine cannot run, or a checkpoint it cannot resume from."""


def net_config(p: G2PParams, vocab: Vocab) -> NetConfig:
    return NetConfig(
        n_letters=vocab.n_letters,
        n_phones=vocab.n_phones,
        embedding=p.embedding,
        encoder_hidden=p.encoder_hidden,
        decoder_hidden=p.decoder_hidden,
        dropout=p.dropout,
    )


def member_seeds(seed: int, member: int) -> tuple[int, list[int]]:
    """(torch seed of the initialisation and dropout, numpy seed prefix of the batch order) of a member.

    Member 0 keeps ``seed`` itself, so a one-member G2P is the single network of earlier versions.
    """
    if member == 0:
        return seed, [seed]
    return int(np.random.SeedSequence([seed, member]).generate_state(1)[0]), [seed, 1000 + member]


def reversed_pronunciations(lexicon: Lexicon) -> Lexicon:
    """Every pronunciation last phone first: what a right-to-left member learns."""
    return {w: [p[::-1] for p in prons] for w, prons in lexicon.items()}


def save_weights(net: G2PNet, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(net.state_dict(), tmp)


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """A member's weights (tensors only; anything else is refused naming the file)."""
    return load_weights_file(path)


@torch.no_grad()
def dev_scores(
    net: G2PNet, vocab: Vocab, lexicon: Lexicon, words: list[str], batch_size: int
) -> tuple[float, float]:
    """(teacher-forced loss per phone, greedy WER against any pronunciation) on ``words``."""
    net.eval()
    device = device_of(net)
    try:
        items = samples(lexicon, words)
        total = count = 0.0
        for b in batches(items, vocab, 4 * batch_size):
            target = torch.from_numpy(b.target).to(device)
            logits, _ = net(torch.from_numpy(b.letters).to(device), target)
            total += float(
                F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=0, reduction="sum")
            )
            count += int((target != 0).sum())
        decoded = decode_words(net, vocab, words, beam=1, batch_size=4 * batch_size)
        hyps = {w: vocab.decode_phones(d.codes) for w, d in zip(words, decoded, strict=True)}
        return total / count, wer_any({w: lexicon[w] for w in words}, hyps)
    finally:
        net.train()


@torch.no_grad()
def _update_ema(ema: G2PNet, net: G2PNet, decay: float, step: int) -> None:
    """``ema = d * ema + (1 - d) * net`` with ``d = min(decay, (1 + step) / (10 + step))`` (0: a copy)."""
    d = min(decay, (1 + step) / (10 + step))
    torch._foreach_lerp_(list(ema.parameters()), list(net.parameters()), 1.0 - d)


def train_step(
    net: G2PNet, opt: torch.optim.Optimizer, b: Batch, p: G2PParams, autocast: bool
) -> tuple[float, int]:
    """One optimisation step on batch ``b`` (on the network's device): (mean loss per phone, phones)."""
    device = device_of(net)
    target = torch.from_numpy(b.target).to(device)
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits, _ = net(torch.from_numpy(b.letters).to(device), target)
    except RuntimeError as exc:
        if not autocast:
            raise
        raise G2PTrainingError(
            f"g2p: the LSTM cannot run in bfloat16 on this CPU ({exc}); set g2p.precision auto or float32"
        ) from exc
    loss = F.cross_entropy(
        logits.float().flatten(0, 1), target.flatten(), ignore_index=0, label_smoothing=p.label_smoothing
    )
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), p.clip_norm)
    opt.step()
    return float(loss.detach()), int((b.target != 0).sum())  # counted on the host: no wait


@dataclass
class Progress:
    """What the checkpoint records besides weights: where training stands."""

    epoch: int = 0
    batch: int = 0  # batches of ``epoch`` already done
    step: int = 0
    best_wer: float = float("inf")
    bad_evals: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # process CPU time (all threads): judges a wall time under contention
    stopped: str = ""
    precision: str = ""  # the resolved g2p.precision of the latest run
    precision_reason: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)


def _save_checkpoint(
    work: Path, net: G2PNet, ema: G2PNet, opt: torch.optim.Optimizer, prog: Progress
) -> None:
    state = {
        "model": net.state_dict(),
        "ema": ema.state_dict(),
        "optimizer": opt.state_dict(),
        "rng": torch.get_rng_state(),
        "progress": {k: v for k, v in prog.__dict__.items() if k != "history"},
        "history": prog.history,
    }
    if device_of(net).type == "cuda":  # dropout draws from the GPU's generator there
        state["cuda_rng"] = torch.cuda.get_rng_state(device_of(net))
    with atomic_path(work / CHECKPOINT) as tmp:
        torch.save(state, tmp)
    write_json(work / HISTORY, prog.history)


def _load_checkpoint(work: Path, net: G2PNet, ema: G2PNet, opt: torch.optim.Optimizer) -> Progress:
    path = work / CHECKPOINT
    if not path.is_file():
        return Progress()
    try:
        state = load_weights_file(path)
        net.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
    except (StoreError, RuntimeError, KeyError, ValueError) as exc:
        raise G2PTrainingError(
            f"cannot resume from {path}: {exc}; it was written with other parameters or is damaged "
            "(delete it to start over)"
        ) from exc
    torch.set_rng_state(state["rng"])
    if "cuda_rng" in state and device_of(net).type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"], device_of(net))
    return Progress(**state["progress"], history=list(state["history"]))


def train(
    work: Path,
    p: G2PParams,
    lexicon: Lexicon,
    split: Split,
    progress_bar: bool = True,
    stop_after_evals: int | None = None,
    member: int = 0,
) -> Progress:
    """Train (or resume training) member ``member`` in ``work``; returns the final :class:`Progress`.

    A right-to-left member (:meth:`G2PParams.right_to_left`) learns and is scored on the
    pronunciations reversed.

    ``stop_after_evals`` interrupts after that many dev evaluations in this call (for tests
    of resumption); the run then stops as an interruption would, with ``stopped="interrupted"``.
    """
    vocab = Vocab()
    if p.right_to_left(member):
        lexicon = reversed_pronunciations(lexicon)
    torch_seed, order_seed = member_seeds(p.seed, member)
    device = resolve_device(p.device, "g2p.device")
    torch.manual_seed(torch_seed)  # also seeds the GPUs' generators
    net = G2PNet(net_config(p, vocab)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=p.lr, fused=True)  # one kernel: ~6 % faster than foreach
    ema = copy.deepcopy(net)
    prog = _load_checkpoint(work, net, ema, opt)
    if prog.stopped:
        return prog
    arithmetic = resolve_precision(p.precision, device, "g2p.precision", cpu_kernels=False)
    prog.precision, prog.precision_reason = arithmetic.precision, arithmetic.reason
    items = samples(lexicon, split.train)
    n_batches = sum(1 for _ in batches(items, vocab, p.batch_size))
    total = p.epochs * n_batches
    eval_at = {round(n_batches * (k + 1) / p.evals_per_epoch) for k in range(p.evals_per_epoch)}
    evals_here = 0
    eta = Eta(
        f"g2p{f' member {member}' if p.members > 1 else ''} training",
        total,
        done=prog.step,
        budget_minutes=p.budget_minutes,
        precision=arithmetic.precision,
        threads=torch.get_num_threads(),
        processes=p.processes,
        after=50,
    )
    start = time.time() - prog.seconds
    cpu_start = time.process_time() - prog.cpu_seconds
    net.train()
    while prog.epoch < p.epochs and not prog.stopped:
        order = list(batches(items, vocab, p.batch_size, np.random.default_rng([*order_seed, prog.epoch])))
        bar = tqdm(
            total=n_batches,
            initial=prog.batch,
            desc=f"g2p{f' member {member}' if p.members > 1 else ''} epoch {prog.epoch + 1}/{p.epochs}",
            disable=not progress_bar,
            file=sys.stderr,
            mininterval=5.0,
            leave=False,
        )
        loss_sum = phones = 0.0
        for b in order[prog.batch :]:
            for group in opt.param_groups:
                group["lr"] = warmup_cosine(prog.step, total, p.lr, p.lr_floor, p.warmup_steps, overlap=True)
            loss, n = train_step(net, opt, b, p, arithmetic.autocast)
            _update_ema(ema, net, p.ema, prog.step)
            loss_sum += loss * n
            phones += n
            prog.step += 1
            prog.batch += 1
            bar.update(1)
            eta.step()
            if prog.batch in eval_at:
                dev_loss, dev_wer = dev_scores(ema, vocab, lexicon, split.dev, p.batch_size)
                prog.seconds = time.time() - start
                prog.cpu_seconds = time.process_time() - cpu_start
                prog.history.append(
                    {
                        "epoch": round(prog.epoch + prog.batch / n_batches, 4),
                        "step": prog.step,
                        "lr": opt.param_groups[0]["lr"],
                        "train_loss": loss_sum / max(phones, 1),
                        "dev_loss": dev_loss,
                        "dev_wer": dev_wer,
                        "seconds": round(prog.seconds, 1),
                        "cpu_seconds": round(prog.cpu_seconds, 1),
                    }
                )
                loss_sum = phones = 0.0
                bar.set_postfix(dev_wer=f"{dev_wer:.3f}", refresh=False)
                if dev_wer < prog.best_wer:
                    prog.best_wer, prog.bad_evals = dev_wer, 0
                    save_weights(ema, work / MODEL)
                else:
                    prog.bad_evals += 1
                if prog.batch == n_batches:
                    prog.epoch, prog.batch = prog.epoch + 1, 0
                if prog.bad_evals >= p.patience:
                    prog.stopped = f"early stop: no better dev WER in {p.patience} evaluations"
                elif p.time_limit_minutes and prog.seconds > 60 * p.time_limit_minutes:
                    prog.stopped = f"time limit of {p.time_limit_minutes} min"
                elif prog.epoch == p.epochs:
                    prog.stopped = "all epochs done"
                _save_checkpoint(work, net, ema, opt, prog)
                evals_here += 1
                if prog.stopped or (stop_after_evals is not None and evals_here >= stop_after_evals):
                    break
        bar.close()
        if stop_after_evals is not None and evals_here >= stop_after_evals and not prog.stopped:
            return Progress(**{**prog.__dict__, "stopped": "interrupted"})
    return prog
