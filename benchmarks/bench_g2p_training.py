"""G2P training rate in bfloat16 against float32, side by side, on this machine's CPU.

Both sides run nap's real training step (``nap.g2p.train.train_step``: the default network,
label smoothing, clipping, fused Adam) on the same CMUDict batches of the default size (128
samples of one word length), one process each, alternating rounds, so the peak RSS is that
side's alone and a change in machine load hits both. The reference is float32; the ratio is
bfloat16 words/s over float32 words/s. Where the CPU has no native bfloat16, oneDNN has no
bfloat16 LSTM and the bfloat16 side fails: the table says so (``nap.hardware`` then trains
in float32, which is what ``g2p.precision: auto`` picks).

    python benchmarks/bench_g2p_training.py [--threads 1 --batches 30 --rounds 2 --out r.json]
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


def run_side(precision: str, args: argparse.Namespace) -> dict:
    """Words per second of ``args.batches`` timed training steps (after two warm-up steps)."""
    import numpy as np
    import torch

    from nap.g2p.data import Vocab, batches, load_cmudict, samples
    from nap.g2p.model import G2PNet
    from nap.g2p.params import G2PParams
    from nap.g2p.train import net_config, train_step

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    p = G2PParams.from_dict({"precision": precision})
    vocab = Vocab()
    lexicon = load_cmudict()
    words = sorted(lexicon)
    items = samples(lexicon, words)
    order = list(batches(items, vocab, p.batch_size, np.random.default_rng(0)))
    chosen = order[: args.batches + 2]
    net = G2PNet(net_config(p, vocab))
    opt = torch.optim.Adam(net.parameters(), lr=p.lr, fused=True)
    autocast = precision == "bfloat16"
    try:
        for b in chosen[:2]:
            train_step(net, opt, b, p, autocast)
    except RuntimeError as exc:
        return {"precision": precision, "error": str(exc).splitlines()[0][:200]}
    t0 = time.perf_counter()
    n_words = 0
    for b in chosen[2:]:
        train_step(net, opt, b, p, autocast)
        n_words += len(b.letters)
    seconds = time.perf_counter() - t0
    return {
        "precision": precision,
        "words_per_second": n_words / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the default G2P trains on 1 each)")
    ap.add_argument("--batches", type=int, default=30, help="timed batches per side and round")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds (float32, bfloat16, ...)")
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--side", choices=["float32", "bfloat16"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.side:
        print(json.dumps(run_side(args.side, args)))
        return 0
    from nap.hardware import cpu_bf16, cpu_capability

    runs: dict[str, list[dict]] = {"float32": [], "bfloat16": []}
    for r in range(args.rounds):
        for side in ("float32", "bfloat16") if r % 2 == 0 else ("bfloat16", "float32"):
            cmd = [sys.executable, __file__, "--threads", str(args.threads), "--batches", str(args.batches)]
            out = subprocess.run([*cmd, "--side", side], capture_output=True, text=True, check=False)
            if out.returncode:
                raise SystemExit(f"{side} side failed:\n{out.stderr}")
            runs[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
    native, why = cpu_bf16()
    result: dict = {
        "config": {"threads": args.threads, "batches": args.batches, "rounds": args.rounds},
        "cpu_capability": cpu_capability(),
        "cpu_bf16": native,
        "cpu": why,
    }
    for side, rs in runs.items():
        errors = [r["error"] for r in rs if "error" in r]
        if errors:
            result[side] = {"error": errors[0]}
            continue
        result[side] = {
            "words_per_second": statistics.median(r["words_per_second"] for r in rs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            "rounds": [round(r["words_per_second"]) for r in rs],
        }
    ok = all("error" not in result[s] for s in runs)
    result["ratio"] = (
        result["bfloat16"]["words_per_second"] / result["float32"]["words_per_second"] if ok else None
    )
    print(f"CPU: {why}; {args.threads} thread(s)")
    print(f"{'precision':<12}{'words / s':>11}{'peak RSS MB':>13}  rounds")
    for side in runs:
        r = result[side]
        if "error" in r:
            print(f"{side:<12}{'fails':>11}{'':>13}  {r['error']}")
        else:
            print(f"{side:<12}{r['words_per_second']:>11.0f}{r['peak_rss_mb']:>13.0f}  {r['rounds']}")
    if ok:
        print(f"ratio bfloat16 / float32 = {result['ratio']:.2f}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
