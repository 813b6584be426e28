"""Benchmark of NAP extraction: the three ratios of issue 6, measured in one run.

1. **extraction / inference**: the single-pass extraction (every layer, three groupings,
   probe sample) over a corpus, against one plain inference pass over the same batches
   (target ≤ 1.3; the limit is 1.0).
2. **speed-up over the per-window reference** (:mod:`nap.naps.reference`: every labelled
   frame's window fed alone, windows batched) on the same utterances, against the ratio of
   their floating-point operations, which is computed from the layers and printed
   (target: speed-up ≥ 0.8 × FLOP ratio).
3. **peak RSS with 10× the utterances** against 1× (fresh processes; target ≤ 1.1).
4. with ``--device cuda`` only: **GPU NAPs against CPU NAPs** on the reference's utterances,
   the largest difference relative to the NAPs' scale (target ≤ 1e-5; extraction runs
   without TF32, :func:`nap.hardware.exact_float32`).

``--device cuda`` runs the model, the extraction and the reference on the GPU; ratio 1 then
compares extraction with one inference pass on the same GPU (as a user runs it, TF32 as
torch sets it, and in exact float32 like the extraction), from wall time (the default clock
there: this process's CPU time does not see the GPU's work) with the GPU synchronised.

The model is the study's Wav2Letter (``nap.asr.model``) with random weights (time does not
depend on the weights), at the paper's widths unless ``--channels/--hidden`` say otherwise;
inputs are random z-normalized 128-band spectrograms of random lengths, generated lazily
per utterance (nothing corpus-sized is held); labels imitate the study's: ``grapheme`` and
``phoneme`` on a CTC recognizer's peaky frames, ``phoneme_true`` on runs of ~4 frames over
most frames. Timings alternate the two passes ``--repeats`` times and keep each one's
fastest, which damps the load of other processes; say so when quoting them.

    python benchmarks/bench_naps.py                    # paper widths (256/2048)
    python benchmarks/bench_naps.py --channels 128 --hidden 512 --json out.json
    python benchmarks/bench_naps.py --device cuda --utterances 96   # on a GPU
"""

from __future__ import annotations

import argparse
import copy
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
from nap.hardware import exact_float32  # noqa: E402
from nap.naps.api import result_from  # noqa: E402
from nap.naps.driver import length_order, plan_probe, run_pass  # noqa: E402
from nap.naps.extract import pad_batch  # noqa: E402
from nap.naps.geometry import model_geometry  # noqa: E402
from nap.naps.reference import reference_sums  # noqa: E402

GROUPS = {"grapheme": 28, "phoneme": 39, "phoneme_true": 39}


def make_model(args: argparse.Namespace) -> Wav2Letter:
    torch.manual_seed(0)
    arch = Architecture(n_mels=128, classes=args.classes, channels=args.channels, hidden=args.hidden,
                        k7_layers=args.k7_layers)
    return Wav2Letter(arch).eval()


def n_input_frames(i: int, lengths: tuple[int, int], seed: int) -> int:
    return int(np.random.default_rng([seed, i, 0]).integers(*lengths))


def features(i: int, n_mels: int, n_in: int, seed: int) -> np.ndarray:
    """Utterance ``i``'s input (n_mels, frames): z-normalized noise, the same on every run."""
    return np.random.default_rng([seed, i, 1]).standard_normal((n_mels, n_in), dtype=np.float32)


def labels(i: int, n: int, seed: int) -> dict[str, np.ndarray]:
    """Frame labels like the study's: phone runs of ~4 frames, letters on 1-2 frames per phone."""
    rng = np.random.default_rng([seed, i, 2])
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
    return {"grapheme": grapheme, "phoneme": phoneme, "phoneme_true": true}


class Corpus:
    """Lazily generated utterances: memory does not grow with their number."""

    def __init__(self, n: int, args: argparse.Namespace, rf: int, stride: int):
        self.ids = [f"u{i:06d}" for i in range(n)]
        self.seed, self.rf, self.stride = args.seed, rf, stride
        self.n_in = {u: n_input_frames(i, (args.min_frames, args.max_frames), args.seed)
                     for i, u in enumerate(self.ids)}
        self.lengths = {u: max(0, (n - rf) // stride + 1) for u, n in self.n_in.items()}

    def labels(self, u: str) -> dict[str, np.ndarray]:
        return labels(int(u[1:]), self.lengths[u], self.seed)

    def features(self, u: str) -> np.ndarray:
        return features(int(u[1:]), 128, self.n_in[u], self.seed)

    def load(self, u: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return self.features(u), self.labels(u)


def synchronize() -> None:
    """Wait for the GPU's queued work (nothing on the CPU)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


class Clock:
    """CPU time of this process and wall time (the GPU's queued work finished), started on creation."""

    def __init__(self):
        synchronize()
        self.cpu0, self.wall0 = time.process_time(), time.perf_counter()

    def stop(self) -> dict[str, float]:
        synchronize()
        return {"cpu": time.process_time() - self.cpu0, "wall": time.perf_counter() - self.wall0}


def device_of(model) -> torch.device:
    return next(model.parameters()).device


def inference_pass(model, corpus: Corpus, batch_size: int) -> dict[str, float]:
    """One plain forward pass over the corpus in the extraction's batches (features made on the fly)."""
    names = length_order(corpus.ids, corpus.lengths)
    device = device_of(model)
    clock = Clock()
    with torch.no_grad():
        for i in range(0, len(names), batch_size):
            x = pad_batch([torch.from_numpy(corpus.features(u)) for u in names[i:i + batch_size]])
            model(x.to(device))
    return clock.stop()


def naps_of(model, geometry, corpus: Corpus, batch_size: int):
    """The NAPs (every layer, three groupings) of ``corpus`` with ``model`` where it is."""
    acc = run_pass(model, geometry, geometry.select(None), corpus.ids, corpus.lengths, corpus.load, GROUPS,
                   batch_size=batch_size, progress=False)
    return result_from(acc, {k: [str(i) for i in range(n)] for k, n in GROUPS.items()}, "global_mean", 1)


def device_difference(model, geometry, corpus: Corpus, batch_size: int) -> tuple[float, float]:
    """(largest |GPU NAP - CPU NAP| over layers and groupings, the largest |CPU NAP|)."""
    on_gpu = naps_of(model, geometry, corpus, batch_size)
    on_cpu = naps_of(copy.deepcopy(model).cpu(), geometry, corpus, batch_size)
    err = scale = 0.0
    for k in on_cpu.groupings:
        for layer in on_cpu.layer_names:
            a, b = on_cpu.nap(k, layer), on_gpu.nap(k, layer)
            err, scale = max(err, float(np.abs(a - b).max())), max(scale, float(np.abs(a).max()))
    return err, scale


def extraction_pass(model, geometry, corpus: Corpus, batch_size: int, probe_frames: int,
                    naps: bool = True) -> dict[str, float]:
    """Every layer, three groupings, the probe sample, the NAPs: what the naps stage computes.

    With ``naps`` off it stops at the float64 window sums, which is what the reference computes.
    """
    clock = Clock()
    plan = plan_probe(corpus.ids, corpus.labels, probe_frames, 0) if probe_frames else None
    acc = run_pass(model, geometry, geometry.select(None), corpus.ids, corpus.lengths, corpus.load, GROUPS,
                   batch_size=batch_size, probe=plan, progress=False)
    if naps:
        result_from(acc, {k: [str(i) for i in range(n)] for k, n in GROUPS.items()}, "global_mean", 1)
    else:
        acc.flush()
    return clock.stop()


def fastest(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: min(r[k] for r in runs) for k in runs[0]}


def flops(model, geometry, corpus: Corpus) -> tuple[float, float]:
    """(single-pass FLOPs, per-window FLOPs) of the convolutions over ``corpus``."""
    convs = [getattr(model, n).conv for n in model.layer_names]
    per_position = [2.0 * c.in_channels * c.out_channels * c.kernel_size[0] for c in convs]
    layers = geometry.select(None)
    single = window = 0.0
    for u in corpus.ids:
        labs = corpus.labels(u)
        n = corpus.n_in[u]
        lengths = []
        for c in convs:
            n = (n - c.dilation[0] * (c.kernel_size[0] - 1) - 1) // c.stride[0] + 1
            lengths.append(n)
        single += sum(cost * n_l for cost, n_l in zip(per_position, lengths, strict=False))
        labelled = int(np.any(np.stack([v >= 0 for v in labs.values()]), axis=0).sum())
        window += labelled * sum(cost * g.positions for cost, g in zip(per_position, layers, strict=False))
    return single, window


def rss_child(n: int, args: argparse.Namespace) -> int:
    """Peak RSS (bytes) of a fresh process extracting NAPs over ``n`` utterances."""
    cmd = [sys.executable, __file__, "--rss-child", str(n), "--channels", str(args.channels), "--hidden",
           str(args.hidden), "--k7-layers", str(args.k7_layers), "--min-frames", str(args.min_frames),
           "--max-frames", str(args.max_frames), "--batch-size", str(args.batch_size), "--probe-frames",
           str(args.probe_frames), "--threads", str(args.threads), "--seed", str(args.seed), "--device",
           args.device]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return int(json.loads(out.stdout.strip().splitlines()[-1])["peak_rss"])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--channels", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--k7-layers", type=int, default=7)
    ap.add_argument("--classes", type=int, default=31)
    ap.add_argument("--utterances", type=int, default=24, help="corpus for the time ratio")
    ap.add_argument("--reference-utterances", type=int, default=None,
                    help="utterances for the reference comparison (default: the whole corpus)")
    ap.add_argument("--rss-utterances", type=int, default=6,
                    help="1× corpus of the memory ratio (10× is 10×)")
    ap.add_argument("--min-frames", type=int, default=300)
    ap.add_argument("--max-frames", type=int, default=900)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--probe-frames", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; on a shared, loaded machine 2 threads stall on each other")
    ap.add_argument("--clock", choices=["cpu", "wall"], default=None,
                    help="time the ratios use: this process's CPU time (robust to other processes' load) "
                    "or wall (default: cpu on the CPU, wall with --device cuda)")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                    help="where the model, the extraction and the reference run (cuda: also GPU against "
                    "CPU NAPs)")
    ap.add_argument("--reference-batch", type=int, default=128,
                    help="windows per forward pass of the reference")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    ap.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = make_model(args).to(args.device)
    geometry = model_geometry(model)
    rf, stride = geometry.receptive_field, geometry.stride

    if args.rss_child is not None:
        corpus = Corpus(args.rss_child, args, rf, stride)
        extraction_pass(model, geometry, corpus, args.batch_size, args.probe_frames)
        print(json.dumps({"peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
        return {}

    corpus = Corpus(args.utterances, args, rf, stride)
    frames = sum(corpus.lengths.values())
    clk = args.clock or ("wall" if args.device == "cuda" else "cpu")
    where = (torch.cuda.get_device_name() if args.device == "cuda"
             else f"CPU {torch.backends.cpu.get_cpu_capability()}")
    print(f"model {args.channels}/{args.hidden} channels, {len(model.layer_names)} layers, receptive field "
          f"{rf}, stride {stride}; {args.utterances} utterances, {frames} output frames; {where}, "
          f"{args.threads} thread(s); ratios from {clk} time, the fastest of {args.repeats} alternating runs")
    if args.device == "cuda":  # warm-up: cuDNN's algorithm choice and the caching allocator
        inference_pass(model, corpus, args.batch_size)
        extraction_pass(model, geometry, corpus, args.batch_size, args.probe_frames)
    runs_inf, runs_ext, runs_exact = [], [], []
    for _ in range(args.repeats):
        runs_inf.append(inference_pass(model, corpus, args.batch_size))
        runs_ext.append(extraction_pass(model, geometry, corpus, args.batch_size, args.probe_frames))
        if args.device == "cuda":
            with exact_float32():
                runs_exact.append(inference_pass(model, corpus, args.batch_size))
    t_inf, t_ext = fastest(runs_inf), fastest(runs_ext)
    ratio_time = t_ext[clk] / t_inf[clk]
    print(f"1. inference {t_inf[clk]:.2f} s, extraction {t_ext[clk]:.2f} s (every layer, 3 groupings, probe "
          f"sample of {args.probe_frames}): ratio {ratio_time:.3f} (target <= 1.3; wall-clock ratio "
          f"{t_ext['wall'] / t_inf['wall']:.3f})")
    if runs_exact:
        t_exact = fastest(runs_exact)
        print(f"   inference in exact float32 (TF32 off, as the extraction) {t_exact[clk]:.2f} s: ratio "
              f"{t_ext[clk] / t_exact[clk]:.3f}; TF32 as torch sets it: matmul "
              f"{torch.backends.cuda.matmul.allow_tf32}, cuDNN {torch.backends.cudnn.allow_tf32}")

    sub = Corpus(args.reference_utterances or args.utterances, args, rf, stride)
    layers = geometry.select(None)
    single, window = flops(model, geometry, sub)
    flop_ratio = window / single
    t_fast = fastest([extraction_pass(model, geometry, sub, args.batch_size, 0, naps=False)
                      for _ in range(args.repeats)])
    clock = Clock()
    reference_sums(model, {g.name: g.module for g in layers}, [sub.features(u) for u in sub.ids],
                   [sub.labels(u) for u in sub.ids], GROUPS, rf, stride, batch_windows=args.reference_batch)
    t_ref = clock.stop()
    speedup = t_ref[clk] / t_fast[clk]
    print(f"2. window sums: per-window reference {t_ref[clk]:.2f} s ({args.reference_batch} windows a "
          f"batch), single pass {t_fast[clk]:.2f} s on {len(sub.ids)} utterances: speed-up {speedup:.2f}; "
          f"FLOP ratio {flop_ratio:.2f}; speed-up / FLOP ratio {speedup / flop_ratio:.2f} (target >= 0.8)")

    out = {
        "model": {"channels": args.channels, "hidden": args.hidden, "k7_layers": args.k7_layers,
                  "receptive_field": rf, "stride": stride},
        "device": where, "utterances": args.utterances, "frames": frames, "threads": args.threads,
        "clock": clk,
        "inference_s": t_inf, "extraction_s": t_ext, "extraction_over_inference": ratio_time,
        "reference_s": t_ref, "single_pass_s": t_fast, "speedup": speedup, "flop_ratio": flop_ratio,
        "speedup_over_flop_ratio": speedup / flop_ratio,
    }
    if not args.skip_rss:
        r1 = rss_child(args.rss_utterances, args)
        r10 = rss_child(10 * args.rss_utterances, args)
        print(f"3. peak RSS {r1 / 2**20:.0f} MiB with {args.rss_utterances} utterances, "
              f"{r10 / 2**20:.0f} MiB with {10 * args.rss_utterances}: ratio {r10 / r1:.3f} (target <= 1.1)")
        out.update({"rss_1x_bytes": r1, "rss_10x_bytes": r10, "rss_ratio": r10 / r1})
    if runs_exact:
        out["inference_exact_s"] = t_exact
        out["extraction_over_exact_inference"] = t_ext[clk] / t_exact[clk]
        err, scale = device_difference(model, geometry, sub, args.batch_size)
        print(f"4. GPU against CPU NAPs on {len(sub.ids)} utterances: largest difference {err:.2e} at a NAP "
              f"scale of {scale:.2f}: relative {err / scale:.2e} (target <= 1e-5)")
        out.update({"gpu_cpu_max_abs": err, "nap_scale": scale, "gpu_cpu_relative": err / scale})
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
