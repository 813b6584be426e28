"""Training throughput of nap's training loop against its own raw model step and torchaudio's Wav2Letter.

All sides train the same widths (torchaudio's are fixed: 250 / 2000 channels) on the same
batches (features with the length spread of real utterances, random transcripts) with CTC
and Adam(W):

- ``nap``: the real training loop: its batches through its loader (``nap.asr.data.step_loader``:
  augmentation, silence padding, worker processes and pinned memory on a GPU), its step
  (``nap.asr.train._step``: per-utterance CTC, skipping of non-finite steps, gradient clipping,
  fused AdamW on a GPU) and its loss read back every ``SYNC_EVERY`` steps;
- ``raw``: nap's network alone on the loop's own batches, made beforehand and already on the
  device: forward, CTC, backward, the same optimizer; what the model costs, the ceiling of
  the loop (the issue's target on a GPU: the loop at >= 70 % of it);
- ``torchaudio``: ``torchaudio.models.Wav2Letter`` in a plain loop (forward, CTC, backward, Adam).

Each side runs in its own process, the order rotating between rounds, so the reported peak
memory is that side's alone and a change in machine load hits every side.

    python benchmarks/bench_asr_throughput.py            # prints a table, writes JSON with --out
    python benchmarks/bench_asr_throughput.py --precision bfloat16 --rounds 3
    python benchmarks/bench_asr_throughput.py --device cuda --channels 256 --hidden 2048 \
        --batch-size 16 --frames 1100 1400 --steps 60 --sides nap raw

Throughput is audio seconds trained per wall-clock second (unpadded audio, 10 ms frames),
timed from after the first (warm-up) step to the end of the last, the device drained.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIDES = ("nap", "raw", "torchaudio")
#: the share of the raw model step's rate the training loop should reach on a GPU (issue 20)
LOOP_TARGET = 0.70


def make_batches(
    n_batches: int, batch_size: int, n_mels: int, seed: int, frames: tuple[int, int] = (200, 800)
) -> list[tuple[list, list[str]]]:
    """Random features of ``frames`` (default 2-8 s) and random lowercase transcripts (~14
    characters per second)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    batches = []
    for _ in range(n_batches):
        feats, texts = [], []
        for _ in range(batch_size):
            n_frames = int(rng.integers(*frames))
            feats.append(rng.normal(0, 1, (n_frames, n_mels)).astype(np.float32))
            n_chars = max(n_frames * 14 // 100, 2)
            words = []
            while sum(len(w) + 1 for w in words) < n_chars:
                words.append("".join(rng.choice(letters, int(rng.integers(2, 8)))))
            texts.append(" ".join(words)[:n_chars].strip())
        batches.append((feats, texts))
    return batches


def run_side(side: str, args: argparse.Namespace) -> dict:
    """Time ``args.steps`` training steps of one side (after one warm-up step)."""
    import torch
    import torch.nn.functional as F

    from nap.asr.vocab import Vocab

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    vocab = Vocab(2)
    batches = make_batches(args.steps + 1, args.batch_size, args.n_mels, seed=1, frames=tuple(args.frames))
    precision = "float32"
    if side in ("nap", "raw"):
        from nap.asr import distributed as D
        from nap.asr import train as T
        from nap.asr.data import Examples, StepBatches, loader_workers, prepare, step_loader
        from nap.asr.model import Architecture, Wav2Letter
        from nap.asr.params import AsrParams

        model = Wav2Letter(
            Architecture(n_mels=args.n_mels, classes=len(vocab), channels=args.channels, hidden=args.hidden)
        ).to(device)
        p = AsrParams.from_dict(
            {
                "channels": args.channels,
                "hidden": args.hidden,
                "precision": args.precision,
                "threads": args.threads,
                "device": args.device,
                "loader_workers": args.loader_workers,
                "lr": 1e-4,
            }
        )
        opt = T.make_optimizer(model, p, device)
        info = D.DistInfo()
        # every step's utterances in one split, as training has them; step i trains batch i
        store = {f"b{i}u{k}": f for i, (feats, _) in enumerate(batches) for k, f in enumerate(feats)}
        texts = [(f"b{i}u{k}", t) for i, (_, ts) in enumerate(batches) for k, t in enumerate(ts)]
        data: Examples = prepare(
            texts, store.__getitem__, vocab, model.output_frames, pad=model.context_pad if p.pad else 0
        )
        if len(data.items) != len(texts):
            raise RuntimeError(f"benchmark batches lost utterances: {dict(data.skipped)}")
        size = args.batch_size

        def plan(step: int) -> list[int]:
            return list(range(step * size, (step + 1) * size))

        steps = StepBatches(data, plan, T.augmentation(p), p.seed, model.stride, model.receptive_field)
        planned = [plan(i) for i in range(len(batches))]
        arithmetic = T.training_precision(p, model, data, planned, device)
        precision, autocast = arithmetic.precision, arithmetic.autocast
        T.choose_kernels(model, device, autocast, data, planned)
        model.train()
        if side == "nap":
            workers = loader_workers(p.loader_workers, device)
            loader = iter(step_loader(steps, 0, len(batches), device, workers))
            log = T.LossLog(T.History(), p.max_bad_steps)

            def step(i: int) -> None:
                item = next(loader)
                for group in opt.param_groups:
                    group["lr"] = p.lr
                log.add(i, p.lr, T._step(model, model, opt, item, i, p, info, device, autocast))
                if (i + 1) % T.SYNC_EVERY == 0:
                    log.flush()

            def finish() -> None:
                log.flush()
        else:
            workers = 0
            made = []
            for i in range(len(batches)):
                x, lengths, targets, target_lengths = steps[i].share
                made.append((x.to(device), model.output_frames(lengths), targets.to(device), target_lengths))
            if cuda:
                torch.cuda.synchronize()

            def step(i: int) -> None:
                x, out_lens, targets, target_lengths = made[i]
                opt.zero_grad(set_to_none=True)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                    logits = model(x)
                logp = logits.float().log_softmax(1).permute(2, 0, 1)
                loss = F.ctc_loss(logp, targets, out_lens, target_lengths, blank=0, zero_infinity=True)
                loss.backward()
                opt.step()

            def finish() -> None:
                pass
    else:
        from torchaudio.models import Wav2Letter as TAWav2Letter

        if (args.channels, args.hidden) != (250, 2000):
            raise SystemExit(
                "torchaudio's Wav2Letter has fixed widths 250/2000: use --channels 250 --hidden 2000"
            )
        workers = 0
        model = TAWav2Letter(num_classes=len(vocab), input_type="mfcc", num_features=args.n_mels).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step(i: int) -> None:
            feats, texts = batches[i]
            longest = max(f.shape[0] for f in feats)
            x = torch.zeros(len(feats), args.n_mels, longest)
            for k, f in enumerate(feats):
                x[k, :, : f.shape[0]] = torch.from_numpy(f).T
            targets = [vocab.encode(t) for t in texts]
            logp = model(x.to(device)).permute(2, 0, 1)  # (frames, batch, classes), already log-softmaxed
            out_lens = torch.tensor([(f.shape[0] + 1) // 2 + 1 for f in feats]).clamp(max=logp.shape[0])
            loss = F.ctc_loss(
                logp,
                torch.tensor([s for t in targets for s in t]).to(device),
                out_lens,
                torch.tensor([len(t) for t in targets]),
                blank=0,
                zero_infinity=True,
            )
            opt.zero_grad()
            loss.backward()
            opt.step()

        def finish() -> None:
            pass

    def drain() -> None:
        if cuda:
            torch.cuda.synchronize()

    step(0)  # warm-up
    drain()
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    t0 = time.perf_counter()
    for i in range(1, len(batches)):
        ti = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - ti)  # on a GPU: the time to queue the step
    finish()
    drain()
    seconds = time.perf_counter() - t0
    audio = sum(f.shape[0] for feats, _ in batches[1:] for f in feats) * 0.01
    out = {
        "side": side,
        "precision": precision,
        "loader_workers": workers,
        "seconds": seconds,
        "audio_seconds": audio,
        "step_seconds": times,
        "throughput": audio / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if cuda:
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--channels", type=int, default=250)
    ap.add_argument("--hidden", type=int, default=2000)
    ap.add_argument("--n-mels", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=4, help="timed steps per side and round")
    ap.add_argument("--rounds", type=int, default=2, help="rounds, each side once per round (order rotating)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--precision",
        choices=["auto", "float32", "bfloat16"],
        default="float32",
        help="nap's sides (auto: what asr.precision auto picks here; on a GPU it times both)",
    )
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where every side trains")
    ap.add_argument(
        "--frames", type=int, nargs=2, default=[200, 800], metavar=("LO", "HI"), help="utterance lengths"
    )
    ap.add_argument(
        "--loader-workers", default="auto", help="the loop's asr.loader_workers (auto: 0 on a CPU)"
    )
    ap.add_argument(
        "--sides", nargs="+", choices=SIDES, default=list(SIDES), help="which sides to run (default: all)"
    )
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.loader_workers != "auto":
        args.loader_workers = int(args.loader_workers)
    if args.side:  # a child process: measure one side, print JSON
        print(json.dumps(run_side(args.side, args)))
        return 0
    forwarded = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--out"]
    if args.out:
        i = forwarded.index(str(args.out))
        del forwarded[i]
    runs: dict[str, list[dict]] = {side: [] for side in args.sides}
    for r in range(args.rounds):
        order = args.sides[r % len(args.sides) :] + args.sides[: r % len(args.sides)]
        for side in order:
            out = subprocess.run(
                [sys.executable, __file__, *forwarded, "--side", side],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode:
                raise SystemExit(f"{side} side failed:\n{out.stderr}")
            runs[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
    from nap.hardware import cpu_bf16, cpu_capability

    native, why = cpu_bf16()
    result: dict = {
        "config": {k: v for k, v in vars(args).items() if k not in ("out", "side")},
        "cpu_capability": cpu_capability(),
        "cpu_bf16": native,
        "cpu": why,
    }
    if args.device == "cuda":
        import torch

        result["gpu"] = torch.cuda.get_device_name()
        result["torch"] = torch.__version__
    for side, rs in runs.items():
        result[side] = {
            "throughput": statistics.median(r["throughput"] for r in rs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            "rounds": [round(r["throughput"], 2) for r in rs],
            "precision": rs[0]["precision"],
            "loader_workers": rs[0]["loader_workers"],
        }
        if "peak_gpu_mb" in rs[0]:
            result[side]["peak_gpu_mb"] = max(r["peak_gpu_mb"] for r in rs)
    nap_side = result.get("nap", result.get("raw"))
    if nap_side:
        result["nap_precision"] = nap_side["precision"]
    if "nap" in runs and "torchaudio" in runs:
        result["ratio"] = result["nap"]["throughput"] / result["torchaudio"]["throughput"]
    if "nap" in runs and "raw" in runs:
        result["loop_share"] = result["nap"]["throughput"] / result["raw"]["throughput"]
    print(f"CPU: {why}" + (f"; GPU: {result['gpu']}" if "gpu" in result else ""))
    gpu = args.device == "cuda"
    print(
        f"{'side':<12}{'audio s / s':>12}{'peak RSS MB':>13}"
        + (f"{'peak GPU MB':>13}" if gpu else "")
        + "  rounds"
    )
    for side in runs:
        r = result[side]
        memory = f"{r['peak_gpu_mb']:>13.0f}" if gpu else ""
        print(f"{side:<12}{r['throughput']:>12.2f}{r['peak_rss_mb']:>13.0f}{memory}  {r['rounds']}")
    where = f"{args.threads} threads" if not gpu else result["gpu"]
    if "ratio" in result:
        print(
            f"ratio nap / torchaudio = {result['ratio']:.3f} ({result['nap_precision']} on nap's side, "
            f"{where}, widths {args.channels}/{args.hidden})"
        )
    if "loop_share" in result:
        print(
            f"loop / raw model step = {result['loop_share']:.3f} (target on a GPU: >= {LOOP_TARGET:.2f}; "
            f"{result['nap']['loader_workers']} loader worker(s))"
        )
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
