"""The ``real_speech`` stage's stored result, :class:`RealSpeech`, and chapter 8's tables and figure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nap.store import PARAMS, SUMMARY, StoreError, read_json

#: Similarity columns shown per layer: (key in a row, heading).
COLUMNS = (
    ("match_r", "r same phoneme"),
    ("other_r", "r other phonemes"),
    ("retrieval", "nearest is same"),
    ("ari", "clustering ARI"),
    ("probe_accuracy", "probe syn→real"),
    ("probe_ci_low", "95 % from"),
    ("probe_ci_high", "to"),
    ("probe_chance", "probe chance"),
)


class RealSpeech:
    """Real speech through the study: recognition, cascade, reference aligner, NAP similarity."""

    def __init__(self, path: Path, summary: dict[str, Any]):
        self.path = Path(path)
        self.summary = summary

    @classmethod
    def open(cls, path: str | Path) -> RealSpeech:
        path = Path(path)
        if not (path / SUMMARY).is_file():
            raise StoreError(f"{path} is not a real_speech artifact: {SUMMARY} is missing")
        return cls(path, read_json(path / SUMMARY))

    def __repr__(self) -> str:
        state = f"{self.summary.get('utterances')} utterances" if self.available else "packages missing"
        return f"RealSpeech({state}, path='{self.path}')"

    @property
    def available(self) -> bool:
        """Whether the packages were there (else :attr:`missing` says what to install)."""
        return bool(self.summary.get("available"))

    @property
    def missing(self) -> str | None:
        return None if self.available else str(self.summary.get("missing"))

    def _json(self, name: str) -> Any:
        if not self.available:
            raise StoreError(f"the real_speech stage ran without its packages: {self.missing}")
        return read_json(self.path / name)

    @property
    def calibration(self) -> dict[str, Any]:
        return self._json("calibration.json")

    @property
    def recognition(self) -> dict[str, Any]:
        return self._json("recognition.json")

    @property
    def cascade(self) -> dict[str, Any]:
        return self._json("cascade.json")

    @property
    def similarity(self) -> dict[str, dict[str, dict[str, Any]]]:
        return self._json("similarity.json")

    def corpus(self) -> Any:
        """The ``real`` corpus (a :class:`nap.corpus.Corpus`)."""
        from nap.corpus import Corpus

        return Corpus.open(self.path / "corpus")

    def features(self) -> Any:
        """Features of the studied utterances (a :class:`nap.features.Features`)."""
        from nap.features import Features

        return Features.open(self.path / "features")

    def reference_corpus(self) -> Any:
        """The studied utterances the aligner aligned, with its phones as their ``true_phones`` (for
        chapter 4's figures; a reference, not ground truth)."""
        return ReferenceCorpus(self.corpus(), self.reference_phones())

    def naps(self) -> Any:
        """NAPs of real speech (a :class:`nap.naps.NapSet`; groupings ``phoneme_reference``, ``phoneme``)."""
        from nap.naps import NapSet

        return NapSet.open(self.path / "naps")

    def reference_phones(self) -> dict[str, list[tuple[str, float, float]]]:
        """The reference aligner's phones per studied utterance (not ground truth)."""
        from nap.real_speech.stage import read_phones

        self._json("reference.json")
        return read_phones(self.path / "reference_phones.tsv")

    def variants(self) -> dict[str, Any] | None:
        """The recognizer-variants benchmark of this artifact's store, or None when it was not
        run, or was run against another study's recognizer (its row "study" is not this one's
        recognizer: other parameters since, e.g. another corpus)."""
        result = load_variants(self.path.parent)
        if result is None:
            return None
        own = read_json(self.path / PARAMS).get("inputs", {}).get("asr")
        study = result["variants"].get("study", {}).get("asr")
        return result if study is None or study == f"asr-{own}" else None

    def variants_table(self) -> Any:
        """The recognizer-variants benchmark as a table (see :func:`variants_table`)."""
        result = self.variants()
        if result is None:
            raise StoreError(
                f"no recognizer-variants benchmark of this study's recognizer in {self.path.parent}: "
                "run benchmarks/bench_asr_variants.py"
            )
        return variants_table(result)

    # -- tables and figures ---------------------------------------------------------------
    def headline_table(self) -> Any:
        """Recognition, cascade and aligner numbers on one table."""
        from nap.display import table

        s = self.summary
        rows = [
            ("real utterances studied", s["utterances"], f"{s['minutes']} min, {s['speakers']} speakers"),
            ("CER greedy / beam", f"{s['greedy_cer']:.1%} / {s['beam_cer']:.1%}", "recognizer, real speech"),
            ("WER greedy / beam", f"{s['greedy_wer']:.1%} / {s['beam_wer']:.1%}", "recognizer, real speech"),
            ("cascade frame accuracy", _pct(s["cascade_accuracy"]), "against the reference aligner's phones"),
            ("… with the true transcript", _pct(s["cascade_accuracy_true_transcript"]), "G2P of the truth"),
            ("aligner frame agreement", _pct(s["aligner_frame_agreement"]),
             f"on {s['aligner_utterances']} synthetic utterances with exact timings"),
            ("aligner boundaries within ±20 ms", _pct(s["aligner_boundaries_within_20ms"]), "same"),
            ("utterances the aligner could not align", s["reference_failed"], "left out of cascade and NAPs"),
        ]  # fmt: skip
        return table(rows, ["", "value", "note"], title="Real speech through the study")

    def domain_table(self, engine_rates: list[dict[str, Any]]) -> Any:
        """Beam CER and WER from the training domain outwards: each synthesis engine's held-out
        voices (``engine_rates``: :func:`nap.asr.plots.engine_rates` of chapter 2), heard in
        training or not, then real speech."""
        from nap.display import table

        rows = [
            (f"held-out {r['engine']} voices", "yes" if r["heard"] else "no", r["utterances"],
             _pct(r["beam_cer"]), _pct(r["beam_wer"]))
            for r in engine_rates
            if r["split"] == "test_voices"
        ]  # fmt: skip
        s = self.summary
        rows.append(("real speech", "no", s["utterances"], _pct(s["beam_cer"]), _pct(s["beam_wer"])))
        heads = ["speech", "engine in training", "utterances", "CER beam", "WER beam"]
        return table(rows, heads, title="From the training domain outwards")

    def speaker_table(self) -> Any:
        """CER and WER per real speaker."""
        from nap.corpus.real import SPEAKERS
        from nap.display import table

        rows = [
            (SPEAKERS.get(spk, spk), r["utterances"], _pct(r["greedy_cer"]), _pct(r["beam_cer"]),
             _pct(r["greedy_wer"]), _pct(r["beam_wer"]))
            for spk, r in self.recognition["speakers"].items()
        ]  # fmt: skip
        heads = ["speaker", "utterances", "CER greedy", "CER beam", "WER greedy", "WER beam"]
        return table(rows, heads, title="Recognition per real speaker")

    def transcript_table(self, n: int = 6) -> Any:
        """The first ``n`` studied utterances: truth, greedy and beam transcripts."""
        from nap.display import table

        rows = [
            (u, t["truth"], t["greedy"], t["beam"])
            for u, t in list(self.recognition["transcripts"].items())[:n]
        ]
        return table(rows, ["utterance", "truth", "greedy", "beam"], title="Transcripts of real speech")

    def calibration_table(self) -> Any:
        """The reference aligner against exact timings on synthetic test utterances."""
        from nap.display import table

        c = self.calibration
        speed = c.get("audio_seconds", 0) / max(c.get("align_seconds") or 0.0, 1e-9)
        rows = [
            ("utterances aligned", c.get("utterances"), f"{c.get('failed', 0)} could not be aligned"),
            ("frames with the true phone", _pct(c.get("frame_agreement")),
             f"of {c.get('frames')} 10 ms frames"),
            ("speech frames with the true phone", _pct(c.get("speech_frame_agreement")),
             f"of {c.get('speech_frames')} frames (silence left out)"),
            ("boundaries within ±20 ms", _pct(c.get("boundaries_within")),
             f"of {c.get('boundaries')} true phone changes, between the same phones"),
            ("alignment speed", f"{speed:.1f}x real time", "one process"),
        ]  # fmt: skip
        return table(rows, ["", "value", "note"], title="Reference aligner (pocketsphinx) vs exact timings")

    def similarity_table(self, grouping: str = "phoneme_reference") -> Any:
        """Per layer: how alike the real and synthetic NAPs of ``grouping`` are."""
        from nap.display import table

        per_layer = self.summary.get(f"cross_domain_{grouping}", {})
        rows = [(layer, *(_num(r.get(k)) for k, _ in COLUMNS)) for layer, r in per_layer.items()]
        return table(rows, ["layer", *(h for _, h in COLUMNS)], title=f"Real vs synthetic NAPs, {grouping}")

    def similarity_figure(self) -> Any:
        """Per layer and grouping: matching vs other correlation, retrieval, ARI and probe accuracy."""
        import matplotlib.pyplot as plt

        groupings = [k.removeprefix("cross_domain_") for k in self.summary if k.startswith("cross_domain_")]
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), constrained_layout=True)
        for g in groupings:
            per_layer = self.summary[f"cross_domain_{g}"]
            layers = list(per_layer)
            x = range(len(layers))

            def col(key: str, rows: dict[str, Any] = per_layer) -> list[float]:
                return [float("nan") if r.get(key) is None else r[key] for r in rows.values()]

            axes[0].plot(x, col("match_r"), marker="o", label=f"{g}: same phoneme")
            axes[0].plot(x, col("other_r"), ls="--", label=f"{g}: other phonemes")
            axes[1].plot(x, col("retrieval"), marker="o", label=f"{g}: nearest is same")
            axes[1].plot(x, col("ari"), marker="s", ls=":", label=f"{g}: clustering ARI")
            if any(r.get("probe_accuracy") is not None for r in per_layer.values()):
                axes[2].plot(x, col("probe_accuracy"), marker="o", label=f"{g}: probe syn→real")
                axes[2].fill_between(x, col("probe_ci_low"), col("probe_ci_high"), alpha=0.2)
                axes[2].plot(x, col("probe_chance"), ls="--", label=f"{g}: chance")
            for ax in axes:
                ax.set_xticks(list(x), layers, rotation=60, fontsize=7)
        axes[0].set_title("NAP correlation, real vs synthetic")
        axes[1].set_title("retrieval and clustering agreement")
        axes[2].set_title("probe trained on synthetic, tested on real")
        for ax in axes:
            ax.legend(fontsize=7)
            ax.grid(alpha=0.3)
        plt.close(fig)
        return fig


class ReferenceCorpus:
    """A corpus whose ``true_phones`` are the reference aligner's (only the utterances it aligned)."""

    def __init__(self, corpus: Any, phones: dict[str, list[tuple[str, float, float]]]):
        self.path, self.info = corpus.path, corpus.info
        self.utterances = [u for u in corpus.utterances if u.id in phones]
        self.splits = {"real": self.utterances}
        self._reference = phones

    def true_phones(self, utt_id: str) -> list[tuple[str, float, float]] | None:
        return self._reference.get(utt_id)

    def audio(self, utt: Any) -> Any:
        from nap.corpus.librispeech import read_audio

        return read_audio(next(u for u in self.utterances if u.id == getattr(utt, "id", utt)).path)


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.1%}"


def _num(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.3f}"


#: where ``benchmarks/bench_asr_variants.py`` stores its result, under ``<artifacts>/benchmarks/``
VARIANTS_FILE = "asr-variants.json"


def variants_path(artifacts_root: str | Path) -> Path:
    """Where the recognizer-variants benchmark of the store at ``artifacts_root`` is written."""
    return Path(artifacts_root) / "benchmarks" / VARIANTS_FILE


def load_variants(artifacts_root: str | Path) -> dict[str, Any] | None:
    """The recognizer-variants benchmark of the store at ``artifacts_root``, or None when not run."""
    path = variants_path(artifacts_root)
    return read_json(path) if path.is_file() else None


def variants_table(result: dict[str, Any]) -> Any:
    """One row per recognizer variant: its changes, synthetic held-out and real-speech beam CER."""
    from nap.corpus.real import SPEAKERS
    from nap.display import table

    speakers = sorted({s for v in result["variants"].values() for s in v["real"]["speakers"]})
    rows = []
    for name, v in result["variants"].items():
        changes = ", ".join(f"{k}={json.dumps(x)}" for k, x in v["changes"].items()) or "as the study"
        per_speaker = [_pct(v["real"]["speakers"].get(s, {}).get("beam_cer")) for s in speakers]
        rows.append(
            (name, changes, _pct(v["synthetic"]["test_sentences_beam_cer"]),
             _pct(v["synthetic"]["test_voices_beam_cer"]), _pct(v["real"]["all"]["beam_cer"]), *per_speaker,
             f"{v['train_minutes']} min, {v['precision']}, {v['cpu_capability']}")
        )  # fmt: skip
    heads = ["variant", "changes", "held-out sentences", "held-out voices", "real speech",
             *(SPEAKERS.get(s, s).split(",")[0] for s in speakers), "training"]  # fmt: skip
    return table(rows, heads, title="Beam CER of recognizer variants (benchmarks/bench_asr_variants.py)")
