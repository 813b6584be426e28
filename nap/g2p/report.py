"""Tables of chapter 3 and the Phonetisaurus benchmark's result file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nap.display import Table, table
from nap.store import read_json

#: The paper's G2P numbers (§3.2): WER and BLEU on its own held-out samples.
PAPER = {"wer_sample": 0.29, "bleu_sample": 0.78}

#: The study's aim for the default profile (issue "G2P"): held-out WER against any
#: pronunciation and per sample.
TARGET = {"wer": 0.24, "wer_sample": 0.29}

#: (key, column heading) of the metrics shown side by side.
COLUMNS = (
    ("wer", "WER (any pron.)"),
    ("wer_sample", "WER (per sample)"),
    ("per", "PER (any pron.)"),
    ("per_sample", "PER (per sample)"),
    ("bleu_sample", "BLEU (per sample)"),
    ("bleu", "BLEU (all prons.)"),
)


def benchmark_path(g2p_path: str | Path) -> Path:
    """Where the Phonetisaurus benchmark stores its result for the G2P artifact at ``g2p_path``."""
    g2p_path = Path(g2p_path)
    return g2p_path.parent / "benchmarks" / f"phonetisaurus-{g2p_path.name}.json"


def load_benchmark(g2p_path: str | Path | None) -> dict[str, Any] | None:
    """The benchmark's result for this artifact, or None when it has not been run."""
    if g2p_path is None:
        return None
    path = benchmark_path(g2p_path)
    return read_json(path) if path.is_file() else None


def data_table(summary: dict[str, Any]) -> Table:
    """CMUDict entries and samples, and how they are split."""
    rows = [("CMUDict words of the ASR alphabet", summary["entries"], summary["samples"])]
    for part, meaning in (
        ("train", "training"),
        ("dev", "dev (early stopping)"),
        ("test", "held out (20 %)"),
    ):
        rows.append((meaning, summary[f"{part}_words"], summary[f"{part}_samples"]))
    return table(
        rows, ["part", "words", "samples (pronunciations)"], "CMUDict, stress removed, split by word"
    )


def metrics_table(metrics: dict[str, Any], phonetisaurus: dict[str, Any] | None = None) -> Table:
    """Our held-out metrics next to Phonetisaurus (if benchmarked) and the paper's numbers."""

    def row(name: str, values: dict[str, Any]) -> list[Any]:
        return [name, *(round(values[k], 4) if k in values else "–" for k, _ in COLUMNS)]

    rows = [row("attention encoder-decoder (this study)", metrics)]
    if phonetisaurus is not None:
        theirs = phonetisaurus["phonetisaurus"]
        rows.append(row("Phonetisaurus, same split", theirs))
        rows.append(["ratio this study / Phonetisaurus", *(_ratio(metrics, theirs, k) for k, _ in COLUMNS)])
    rows.append(row("paper (Krug et al.)", PAPER))
    return table(
        rows,
        ["model", *(h for _, h in COLUMNS)],
        f"held-out words: {metrics['words']} words, {metrics['samples']} samples",
    )


def verdict(
    summary: dict[str, Any], metrics: dict[str, Any], phonetisaurus: dict[str, Any] | None = None
) -> str:
    """Chapter 3's reading of the metrics: against the paper, each member alone, greedy
    decoding, the study's target and (if benchmarked) Phonetisaurus."""
    m = metrics
    lines = [
        f"WER {m['wer']:.3f} against any pronunciation and {m['wer_sample']:.3f} per sample "
        f"(paper: {PAPER['wer_sample']}); BLEU per sample {m['bleu_sample']:.3f} "
        f"(paper: {PAPER['bleu_sample']})."
    ]
    backwards = summary.get("right_to_left", [False] * summary["members"])
    for k, (w, ws) in enumerate(zip(summary["member_wer"], summary["member_wer_sample"], strict=True)):
        way = " (right to left)" if backwards[k] else ""
        lines.append(f"member {k}{way} alone: WER {w:.3f} / {ws:.3f} per sample")
    lines.append(
        f"Greedy decoding instead of a beam of {summary['beam']}: WER {summary['greedy_wer']:.3f} "
        f"/ {summary['greedy_wer_sample']:.3f} per sample."
    )
    met = all(m[k] <= v for k, v in TARGET.items())
    lines.append(
        f"The study's target, WER <= {TARGET['wer']} (any) and <= {TARGET['wer_sample']} (per sample): "
        f"{'met' if met else 'NOT met'}."
    )
    if phonetisaurus is not None:
        theirs = phonetisaurus["phonetisaurus"]
        lines.append(
            f"Phonetisaurus on the same split: WER {theirs['wer']:.3f} / {theirs['wer_sample']:.3f} "
            f"per sample -- ours is {'better' if m['wer'] < theirs['wer'] else 'WORSE'} "
            f"(ratio {m['wer'] / theirs['wer']:.3f})."
        )
    return "\n".join(lines)


def _ratio(ours: dict[str, Any], theirs: dict[str, Any], key: str) -> Any:
    if key not in ours or key not in theirs or not theirs[key]:
        return "–"
    return round(ours[key] / theirs[key], 3)


def assignment_table(assignments: list[Any]) -> Table:
    """Each word's phones and, letter by letter, the phone the attention assigns to it."""
    rows = [
        (a.word.upper(), " ".join(a.phones), "  ".join(f"{c.upper()}→{p}" for c, p in a.pairs()))
        for a in assignments
    ]
    return table(
        rows, ["word", "phones", "letter → phone (highest attention)"], "grapheme → phoneme assignment"
    )


def predictions_table(g2p: Any, words: list[str]) -> Table:
    """Predicted phones of ``words``, with CMUDict's pronunciations where the word is in it."""
    from nap.g2p.data import load_cmudict

    lexicon = load_cmudict()
    rows = []
    for w, phones in zip(words, g2p.predict_batch(words), strict=True):
        known = lexicon.get(w.lower())
        rows.append(
            (w, " ".join(phones), " | ".join(" ".join(p) for p in known) if known else "(not in CMUDict)")
        )
    return table(rows, ["word", "predicted", "CMUDict"], "predictions")
