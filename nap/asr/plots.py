"""Tables and figures of chapter 2: architecture, learning curves, error rates, posteriorgram."""

from __future__ import annotations

from typing import Any

import numpy as np

from nap.asr.evaluate import NO_HELD_OUT
from nap.asr.model import Architecture, Wav2Letter
from nap.asr.recognizer import Recognizer
from nap.display import Table, table


def architecture_table(rec: Recognizer, hop_s: float = 0.01) -> Table:
    """Layer, kernel, stride, channels and receptive field (frames and ms), from the modules."""
    rows = [
        (
            g.name,
            g.kernel,
            g.stride,
            g.in_channels,
            g.out_channels,
            g.receptive_field,
            round(g.receptive_field * hop_s * 1000),
            g.jump,
            g.parameters,
        )
        for g in rec.geometry()
    ]
    return table(
        rows,
        ["layer", "kernel", "stride", "in", "out", "receptive field", "ms", "jump", "parameters"],
        title=f"Wav2Letter: {len(rows)} layers, receptive field {rec.receptive_field} frames, "
        f"stride {rec.stride}",
    )


def receptive_field(k7_layers: int) -> int:
    """The receptive field with ``k7_layers`` kernel-7 layers (computed from a built network)."""
    return Wav2Letter(
        Architecture(n_mels=1, classes=2, channels=1, hidden=1, k7_layers=k7_layers)
    ).receptive_field


def _smooth(values: list[float], window: int) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if len(v) < window or window < 2:
        return v
    kernel = np.ones(window) / window
    return np.convolve(v, kernel, mode="valid")


def learning_curves(training: dict[str, Any]):
    """Training CTC loss per step (smoothed) and held-out greedy CER at the checks, against epochs."""
    import matplotlib.pyplot as plt

    h = training["history"]
    spe = training["steps_per_epoch"]
    fig, (ax_loss, ax_cer) = plt.subplots(1, 2, figsize=(11, 3.6))
    window = max(1, min(25, len(h["loss"]) // 10))
    loss = _smooth(h["loss"], window)
    steps = np.asarray(h["step"][window - 1 :] if window > 1 and len(h["loss"]) >= window else h["step"])
    ax_loss.plot((steps + 1) / spe, loss, label=f"training (mean of {window} steps)", color="C0")
    for k, split in enumerate(("test_sentences", "test_voices")):
        pts = [(e["epoch"], e[split]["loss"], e[split]["cer"]) for e in h["evals"] if split in e]
        if pts:
            ep, lo, ce = zip(*pts, strict=True)
            ax_loss.plot(ep, lo, "o-", ms=3, color=f"C{k + 1}", label=f"{split} (subset)")
            ax_cer.plot(ep, 100 * np.asarray(ce), "o-", ms=3, color=f"C{k + 1}", label=f"{split} (subset)")
    ax_loss.set(xlabel="epoch", ylabel="CTC loss per symbol", yscale="log", title="loss")
    ax_cer.set(xlabel="epoch", ylabel="CER (%), greedy", title="held-out character error rate")
    ax_cer.set_ylim(0, 100)
    for ax in (ax_loss, ax_cer):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _percent(rate: float | None) -> float | str:
    return NO_HELD_OUT if rate is None else round(100 * rate, 2)


def results_table(evaluation: dict[str, Any]) -> Table:
    """CER and WER (%) of greedy and beam-search decoding on each test split (a split without
    utterances has no score: "no held-out utterances")."""
    rows = []
    for split, res in evaluation["splits"].items():
        for dec in ("greedy", "beam"):
            rows.append((split, dec, res["utterances"], _percent(res[dec]["cer"]), _percent(res[dec]["wer"])))
    return table(
        rows, ["split", "decoder", "utterances", "CER %", "WER %"], title="error rates on held-out data"
    )


def engine_rates(evaluation: dict[str, Any], corpus: Any) -> list[dict[str, Any]]:
    """Greedy and beam CER/WER per held-out split and synthesis engine (the first word of an
    utterance's voice: espeak, flite, piper; or ``librispeech``), and whether the recognizer
    heard that engine in training: a held-out engine is a voice family it never heard."""
    from nap.asr.metrics import cer, wer

    engine = {u.id: u.voice.split()[0] for u in corpus.utterances}
    trained = {engine[u.id] for u in corpus.splits.get("train", [])}
    out = []
    for split, res in evaluation["splits"].items():
        ids = res.get("ids", [])
        for name in sorted({engine.get(i, "?") for i in ids}):
            idx = [k for k, i in enumerate(ids) if engine.get(i, "?") == name]
            refs = [res["refs"][k] for k in idx]
            row: dict[str, Any] = {"split": split, "engine": name, "heard": name in trained}
            row["utterances"] = len(idx)
            for dec in ("greedy", "beam"):
                hyps = [res[dec]["hyps"][k] for k in idx]
                row[f"{dec}_cer"], row[f"{dec}_wer"] = cer(refs, hyps), wer(refs, hyps)
            out.append(row)
    return out


def engine_table(evaluation: dict[str, Any], corpus: Any) -> Table:
    """:func:`engine_rates` as a table (%)."""
    rows = [
        (r["split"], r["engine"], "yes" if r["heard"] else "no", r["utterances"], _percent(r["greedy_cer"]),
         _percent(r["beam_cer"]), _percent(r["greedy_wer"]), _percent(r["beam_wer"]))
        for r in engine_rates(evaluation, corpus)
    ]  # fmt: skip
    heads = ["split", "engine", "in training", "utterances"]
    heads += ["CER greedy", "CER beam", "WER greedy", "WER beam"]
    return table(rows, heads, title="error rates per synthesis engine")


def error_rates_text(summary: dict[str, Any], aim: bool = False) -> str:
    """Chapter 2's sentence on the beam-search error rates of both held-out splits; with ``aim``,
    whether the default profile's aim (CER <= 12 % after <= 35 min of training) is met."""

    def rates(split: str, what: str) -> str:
        cer, wer = summary.get(f"{split}_beam_cer"), summary.get(f"{split}_beam_wer")
        if cer is None or wer is None:
            return f"no score on {what} ({NO_HELD_OUT})"
        return f"CER {100 * cer:.1f} % and WER {100 * wer:.1f} % on {what}"

    text = (
        f"beam search: {rates('test_sentences', 'held-out sentences of seen voices')}; "
        f"{rates('test_voices', 'held-out voices')}, after {summary['train_minutes']:.1f} min of training"
    )
    if aim:
        cer = summary.get("test_sentences_beam_cer")
        met = cer is not None and cer <= 0.12 and summary["train_minutes"] <= 35
        text += "\naim for the default profile (CER <= 12 % after <= 35 min of training): "
        text += "met" if met else "NOT met"
    return text


def example_utterance(
    corpus: Any, splits: tuple[str, ...] = ("test_sentences", "test_voices", "train")
) -> Any:
    """The first utterance of the first of ``splits`` that has one: a held-out sentence where
    there is one, for the frame-by-frame figure."""
    for split in splits:
        if corpus.splits.get(split):
            return corpus.splits[split][0]
    raise ValueError(f"the corpus has no utterances in the splits {list(splits)}")


def examples_table(evaluation: dict[str, Any], split: str = "test_sentences", n: int = 6) -> Table:
    """The first ``n`` utterances of a split: truth, greedy and beam transcripts."""
    res = evaluation["splits"][split]
    rows = [
        (res["ids"][i], res["refs"][i], res["greedy"]["hyps"][i], res["beam"]["hyps"][i])
        for i in range(min(n, len(res["ids"])))
    ]
    return table(rows, ["utterance", "truth", "greedy", "beam search"], title=f"decoded examples ({split})")


def posteriorgram(rec: Recognizer, features: np.ndarray, title: str = "", hop_s: float = 0.01):
    """The utterance's log-mel spectrogram above the network's per-frame symbol probabilities.

    Output frame ``t`` is drawn at the centre of its receptive field, so both panels share
    the time axis; rows are the symbols (blank first), darker = more probable.
    """
    import matplotlib.pyplot as plt

    logits = rec.logits(features)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    centres = np.array([np.mean(rec.input_window(t)) for t in range(len(probs))]) * hop_s
    seconds = features.shape[0] * hop_s
    fig, (ax_spec, ax_post) = plt.subplots(
        2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [1, 1.3]}
    )
    ax_spec.imshow(
        features.T, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, features.shape[1])
    )
    ax_spec.set(ylabel="mel band", title=title or "log-mel spectrogram")
    symbols = ["∅" if s == "<b>" else ("␣" if s == " " else s) for s in rec.vocab.symbols]
    half = rec.stride * hop_s / 2
    ax_post.imshow(
        probs.T,
        origin="lower",
        aspect="auto",
        cmap="Greys",
        vmin=0,
        vmax=1,
        extent=(centres[0] - half, centres[-1] + half, -0.5, len(symbols) - 0.5),
        interpolation="nearest",
    )
    ax_post.set_yticks(range(len(symbols)), symbols, fontsize=6)
    ax_post.set(xlabel="time (s)", ylabel="symbol", xlim=(0, seconds), title="network output (posteriorgram)")
    best = probs.argmax(1)
    for t, k in enumerate(best):
        if k != rec.vocab.blank and (t == 0 or best[t - 1] != k):
            ax_post.annotate(symbols[k], (centres[t], k), color="C3", fontsize=7, ha="center", va="bottom")
    fig.tight_layout()
    return fig
