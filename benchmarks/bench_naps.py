"""Benchmark of NAP extraction: the three ratios of issue 6, measured in one run.

1. **extraction / inference**: the single-pass extraction (every layer, three groupings,
   probe sample) over a corpus, against one plain inference pass over the same batches
   (target ≤ 1.3; the limit is 1.0).
2. **speed-up over the per-window reference** (:mod:`nap.naps.reference`: every labelled
   frame's window fed alone, windows batched) on the same utterances, against the ratio of
   their floating-point operations, which is computed from the layers and printed
   (target: speed-up ≥ 0.8 × FLOP ratio).
3. **peak RSS with 10× the utterances** against 1× (fresh processes; target ≤ 1.1).

The model is the study's Wav2Letter (``nap.asr.model``) with random weights (time does not
depend on the weights), at the paper's widths unless ``--channels/--hidden`` say otherwise;
inputs are random z-normalized 128-band spectrograms of random lengths, generated lazily
per utterance (nothing corpus-sized is held); labels imitate the study's: ``grapheme`` and
``phoneme`` on a CTC recognizer's peaky frames, ``phoneme_true`` on runs of ~4 frames over
most frames. Timings alternate the two passes ``--repeats`` times and keep each one's
fastest, which damps the load of other processes; say so when quoting them.

    python benchmarks/bench_naps.py                    # paper widths (256/2048)
    python benchmarks/bench_naps.py --channels 128 --hidden 512 --json out.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nap.asr.model import Architecture, Wav2Letter  # noqa: E402
from nap.naps.driver import length_order, plan_probe, run_pass  # noqa: E402
from nap.naps.geometry import model_geometry  # noqa: E402
from nap.naps.reference import reference_sums  # noqa: E402

GROUPS = {"grapheme": 28, "phoneme": 39, "phoneme_true": 39}


def make_model(args: argparse.Namespace) -> Wav2Letter:
    torch.manual_seed(0)
    arch = Architecture(n_mels=128, classes=args.classes, channels=args.channels, hidden=args.hidden,
                        k7_layers=args.k7_layers)
    return Wav2Letter(arch).eval()


def utterance(i: int, n_mels: int, lengths: tuple[int, int], rf: int, stride: int, seed: int):
    """Utterance ``i``: (features (n_mels, frames), labels), the same for every run."""
    rng = np.random.default_rng([seed, i])
    n_in = int(rng.integers(*lengths))
    x = rng.standard_normal((n_mels, n_in), dtype=np.float32)
    n = max(0, (n_in - rf) // stride + 1)
    seg = np.cumsum(rng.geometric(1 / 4, size=n + 1))  # phone runs of ~4 frames
    seg_id = np.searchsorted(seg, np.arange(n), side="right")
    phone = rng.integers(0, GROUPS["phoneme_true"], size=seg_id.max() + 1 if n else 1)
    silent = rng.random(phone.size) < 0.15
    true = np.where(silent[seg_id], -1, phone[seg_id])
    first = np.r_[True, seg_id[1:] != seg_id[:-1]] if n else np.zeros(0, bool)
    peak = first | (np.r_[False, first[:-1]] & (rng.random(n) < 0.5))  # 1-2 frames per phone
    letter = rng.integers(0, GROUPS["grapheme"], size=phone.size)
    grapheme = np.where(peak & ~silent[seg_id], letter[seg_id], -1)
    cascade = np.where(rng.random(phone.size) < 0.7, phone, rng.integers(0, 39, size=phone.size))
    phoneme = np.where(grapheme >= 0, cascade[seg_id], -1)
    return x, {"grapheme": grapheme, "phoneme": phoneme, "phoneme_true": true}


class Corpus:
    """Lazily generated utterances: memory does not grow with their number."""

    def __init__(self, n: int, args: argparse.Namespace, rf: int, stride: int):
        self.ids = [f"u{i:06d}" for i in range(n)]
        self.args, self.rf, self.stride = args, rf, stride
        self.lengths = {u: len(self.load(u)[1]["grapheme"]) for u in self.ids}

    def load(self, u: str):
        return utterance(int(u[1:]), 128, (self.args.min_frames, self.args.max_frames), self.rf, self.stride,
                         self.args.seed)

    def labels(self, u: str):
        return self.load(u)[1]


def inference_pass(model, corpus: Corpus, batch_size: int) -> float:
    names = length_order(corpus.ids, corpus.lengths)
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(names), batch_size):
            feats = [torch.from_numpy(corpus.load(u)[0]) for u in names[i:i + batch_size]]
            x = feats[0].new_zeros(len(feats), feats[0].shape[0], max(f.shape[1] for f in feats))
            for j, f in enumerate(feats):
                x[j, :, :f.shape[1]] = f
            model(x)
    return time.perf_counter() - start


def extraction_pass(model, geometry, corpus: Corpus, batch_size: int, probe_frames: int) -> float:
    start = time.perf_counter()
    plan = plan_probe(corpus.ids, corpus.labels, probe_frames, 0) if probe_frames else None
    run_pass(model, geometry, geometry.select(None), corpus.ids, corpus.lengths, corpus.load, GROUPS,
             batch_size=batch_size, probe=plan, progress=False)
    return time.perf_counter() - start


def flops(model, geometry, corpus: Corpus) -> tuple[float, float]:
    """(single-pass FLOPs, per-window FLOPs) of the convolutions over ``corpus``."""
    convs = [getattr(model, n).conv for n in model.layer_names]
    per_position = [2.0 * c.in_channels * c.out_channels * c.kernel_size[0] for c in convs]
    layers = geometry.select(None)
    single = window = 0.0
    for u in corpus.ids:
        x, labs = corpus.load(u)
        n = x.shape[1]
        lengths = []
        for c in convs:
            n = (n - c.dilation[0] * (c.kernel_size[0] - 1) - 1) // c.stride[0] + 1
            lengths.append(n)
        single += sum(cost * n_l for cost, n_l in zip(per_position, lengths))
        labelled = int(np.any(np.stack([v >= 0 for v in labs.values()]), axis=0).sum())
        window += labelled * sum(cost * g.positions for cost, g in zip(per_position, layers))
    return single, window


def rss_child(n: int, args: argparse.Namespace) -> int:
    """Peak RSS (bytes) of a fresh process extracting NAPs over ``n`` utterances."""
    cmd = [sys.executable, __file__, "--rss-child", str(n), "--channels", str(args.channels), "--hidden",
           str(args.hidden), "--k7-layers", str(args.k7_layers), "--min-frames", str(args.min_frames),
           "--max-frames", str(args.max_frames), "--batch-size", str(args.batch_size), "--probe-frames",
           str(args.probe_frames), "--threads", str(args.threads), "--seed", str(args.seed)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return int(json.loads(out.stdout.strip().splitlines()[-1])["peak_rss"])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--channels", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--k7-layers", type=int, default=7)
    ap.add_argument("--classes", type=int, default=31)
    ap.add_argument("--utterances", type=int, default=16, help="corpus for the time ratio")
    ap.add_argument("--reference-utterances", type=int, default=3)
    ap.add_argument("--rss-utterances", type=int, default=6, help="1× corpus of the memory ratio (10× is 10×)")
    ap.add_argument("--min-frames", type=int, default=300)
    ap.add_argument("--max-frames", type=int, default=900)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--probe-frames", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    ap.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = make_model(args)
    geometry = model_geometry(model)
    rf, stride = geometry.receptive_field, geometry.stride

    if args.rss_child is not None:
        corpus = Corpus(args.rss_child, args, rf, stride)
        extraction_pass(model, geometry, corpus, args.batch_size, args.probe_frames)
        print(json.dumps({"peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
        return {}

    corpus = Corpus(args.utterances, args, rf, stride)
    frames = sum(corpus.lengths.values())
    print(f"model {args.channels}/{args.hidden} channels, {len(model.layer_names)} layers, receptive field "
          f"{rf}, stride {stride}; {args.utterances} utterances, {frames} output frames; "
          f"{args.threads} threads")
    t_inf, t_ext = [], []
    for _ in range(args.repeats):
        t_inf.append(inference_pass(model, corpus, args.batch_size))
        t_ext.append(extraction_pass(model, geometry, corpus, args.batch_size, args.probe_frames))
    ratio_time = min(t_ext) / min(t_inf)
    print(f"1. inference {min(t_inf):.2f} s, extraction {min(t_ext):.2f} s (every layer, 3 groupings, "
          f"probe sample): ratio {ratio_time:.3f} (target <= 1.3)")

    sub = Corpus(args.reference_utterances, args, rf, stride)
    layers = geometry.select(None)
    single, window = flops(model, geometry, sub)
    flop_ratio = window / single
    t_fast = min(extraction_pass(model, geometry, sub, args.batch_size, 0) for _ in range(args.repeats))
    start = time.perf_counter()
    reference_sums(model, {g.name: g.module for g in layers}, [sub.load(u)[0] for u in sub.ids],
                   [sub.labels(u) for u in sub.ids], GROUPS, rf, stride, batch_windows=64)
    t_ref = time.perf_counter() - start
    speedup = t_ref / t_fast
    print(f"2. per-window reference {t_ref:.2f} s, single pass {t_fast:.2f} s on {len(sub.ids)} utterances: "
          f"speed-up {speedup:.2f}; FLOP ratio {flop_ratio:.2f}; speed-up / FLOP ratio "
          f"{speedup / flop_ratio:.2f} (target >= 0.8)")

    out = {
        "model": {"channels": args.channels, "hidden": args.hidden, "k7_layers": args.k7_layers,
                  "receptive_field": rf, "stride": stride},
        "utterances": args.utterances, "frames": frames, "threads": args.threads,
        "inference_s": min(t_inf), "extraction_s": min(t_ext), "extraction_over_inference": ratio_time,
        "reference_s": t_ref, "single_pass_s": t_fast, "speedup": speedup, "flop_ratio": flop_ratio,
        "speedup_over_flop_ratio": speedup / flop_ratio,
    }
    if not args.skip_rss:
        r1 = rss_child(args.rss_utterances, args)
        r10 = rss_child(10 * args.rss_utterances, args)
        print(f"3. peak RSS {r1 / 2**20:.0f} MiB with {args.rss_utterances} utterances, {r10 / 2**20:.0f} MiB "
              f"with {10 * args.rss_utterances}: ratio {r10 / r1:.3f} (target <= 1.1)")
        out.update({"rss_1x_bytes": r1, "rss_10x_bytes": r10, "rss_ratio": r10 / r1})
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
