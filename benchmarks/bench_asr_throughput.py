"""Training throughput of nap's Wav2Letter step against torchaudio's Wav2Letter, side by side.

Both networks get the same widths (torchaudio's are fixed: 250 / 2000 channels), the same
batches (features with the length spread of real utterances, random transcripts) and the
same CTC loss and Adam. nap's side is its real training step (``nap.asr.train._step``:
silence padding, SpecAugment, gradient clipping included); torchaudio's is a plain loop
(forward, CTC, backward, Adam). Each side runs in its own process, alternating rounds, so
the reported peak RSS is that side's alone and a change in machine load hits both.

    python benchmarks/bench_asr_throughput.py            # prints a table, writes JSON with --out
    python benchmarks/bench_asr_throughput.py --precision bfloat16 --rounds 3

Throughput is audio seconds trained per wall-clock second (unpadded audio, 10 ms frames).
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


def make_batches(n_batches: int, batch_size: int, n_mels: int, seed: int) -> list[tuple[list, list[str]]]:
    """Random features of 2-8 s and random lowercase transcripts (~14 characters per second)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    batches = []
    for _ in range(n_batches):
        feats, texts = [], []
        for _ in range(batch_size):
            frames = int(rng.integers(200, 800))
            feats.append(rng.normal(0, 1, (frames, n_mels)).astype(np.float32))
            n_chars = max(frames * 14 // 100, 2)
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

    from nap.asr.data import Examples, prepare
    from nap.asr.vocab import Vocab

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    vocab = Vocab(2)
    batches = make_batches(args.steps + 1, args.batch_size, args.n_mels, seed=1)
    if side == "nap":
        from nap.asr import distributed as D
        from nap.asr.model import Architecture, Wav2Letter
        from nap.asr.params import AsrParams
        from nap.asr.train import _step
        from nap.hardware import resolve_precision

        model = Wav2Letter(
            Architecture(n_mels=args.n_mels, classes=len(vocab), channels=args.channels, hidden=args.hidden)
        )
        p = AsrParams.from_dict(
            {
                "channels": args.channels,
                "hidden": args.hidden,
                "precision": args.precision,
                "threads": args.threads,
                "device": "cpu",
            }
        )
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)
        pad = model.context_pad if p.pad else 0
        arithmetic = resolve_precision(p.precision, "cpu", "asr.precision")
        info, device = D.DistInfo(), torch.device("cpu")

        prepared: dict[int, Examples] = {}
        for i, (feats, texts) in enumerate(batches):  # checked once, as training does before its loop
            store = {f"u{k}": f for k, f in enumerate(feats)}
            prepared[i] = prepare(
                [(f"u{k}", t) for k, t in enumerate(texts)],
                store.__getitem__,
                vocab,
                model.output_frames,
                pad=pad,
            )
            if len(prepared[i].items) != len(feats):
                raise RuntimeError(f"benchmark batch lost utterances: {dict(prepared[i].skipped)}")

        def step(i: int, feats: list, texts: list[str]) -> None:
            _step(
                model,
                model,
                opt,
                prepared[i],
                list(range(len(feats))),
                i,
                p,
                info,
                device,
                arithmetic.autocast,
            )
    else:
        from torchaudio.models import Wav2Letter as TAWav2Letter

        if (args.channels, args.hidden) != (250, 2000):
            raise SystemExit(
                "torchaudio's Wav2Letter has fixed widths 250/2000: use --channels 250 --hidden 2000"
            )
        model = TAWav2Letter(num_classes=len(vocab), input_type="mfcc", num_features=args.n_mels)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step(i: int, feats: list, texts: list[str]) -> None:
            longest = max(f.shape[0] for f in feats)
            x = torch.zeros(len(feats), args.n_mels, longest)
            for k, f in enumerate(feats):
                x[k, :, : f.shape[0]] = torch.from_numpy(f).T
            targets = [vocab.encode(t) for t in texts]
            logp = model(x).permute(2, 0, 1)  # (frames, batch, classes), already log-softmaxed
            out_lens = torch.tensor([(f.shape[0] + 1) // 2 + 1 for f in feats]).clamp(max=logp.shape[0])
            loss = F.ctc_loss(
                logp,
                torch.tensor([s for t in targets for s in t]),
                out_lens,
                torch.tensor([len(t) for t in targets]),
                blank=0,
                zero_infinity=True,
            )
            opt.zero_grad()
            loss.backward()
            opt.step()

    feats, texts = batches[0]
    step(0, feats, texts)  # warm-up
    times = []
    for i, (feats, texts) in enumerate(batches[1:], 1):
        t0 = time.perf_counter()
        step(i, feats, texts)
        times.append(time.perf_counter() - t0)
    audio = sum(f.shape[0] for feats, _ in batches[1:] for f in feats) * 0.01
    return {
        "side": side,
        "seconds": sum(times),
        "audio_seconds": audio,
        "step_seconds": times,
        "throughput": audio / sum(times),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--channels", type=int, default=250)
    ap.add_argument("--hidden", type=int, default=2000)
    ap.add_argument("--n-mels", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=4, help="timed steps per side and round")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds (nap, torchaudio, nap, ...)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--precision",
        choices=["auto", "float32", "bfloat16"],
        default="float32",
        help="nap's side (auto: what asr.precision auto picks on this CPU)",
    )
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--side", choices=["nap", "torchaudio"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.side:  # a child process: measure one side, print JSON
        print(json.dumps(run_side(args.side, args)))
        return 0
    forwarded = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--out"]
    if args.out:
        i = forwarded.index(str(args.out))
        del forwarded[i]
    runs: dict[str, list[dict]] = {"nap": [], "torchaudio": []}
    for r in range(args.rounds):
        for side in ("nap", "torchaudio") if r % 2 == 0 else ("torchaudio", "nap"):
            out = subprocess.run(
                [sys.executable, __file__, *forwarded, "--side", side],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode:
                raise SystemExit(f"{side} side failed:\n{out.stderr}")
            runs[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
    from nap.hardware import cpu_bf16, cpu_capability, resolve_precision

    native, why = cpu_bf16()
    result = {
        "config": {k: v for k, v in vars(args).items() if k not in ("out", "side")},
        "cpu_capability": cpu_capability(),
        "cpu_bf16": native,
        "cpu": why,
        "nap_precision": resolve_precision(args.precision, "cpu", "asr.precision").precision,
    }
    for side, rs in runs.items():
        result[side] = {
            "throughput": statistics.median(r["throughput"] for r in rs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            "rounds": [round(r["throughput"], 2) for r in rs],
        }
    result["ratio"] = result["nap"]["throughput"] / result["torchaudio"]["throughput"]
    print(f"CPU: {why}")
    print(f"{'side':<12}{'audio s / s':>12}{'peak RSS MB':>13}  rounds")
    for side in ("nap", "torchaudio"):
        r = result[side]
        print(f"{side:<12}{r['throughput']:>12.2f}{r['peak_rss_mb']:>13.0f}  {r['rounds']}")
    print(
        f"ratio nap / torchaudio = {result['ratio']:.3f} ({result['nap_precision']} on nap's side, "
        f"{args.threads} threads, widths {args.channels}/{args.hidden})"
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
