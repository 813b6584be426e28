"""Benchmark: recognizers trained another way, on the held-out synthetic splits and on real speech.

Each variant is the profile plus some parameter changes (e.g. the channel augmentation off,
or the piper voice in the training corpus). Every variant's recognizer is built through the
study's own stages, in the same artifact store (so one already built is reused by its key),
and scored on the same utterances: the profile's held-out synthetic splits (a variant with
another corpus is evaluated on the profile's, with chapter 2's code) and, with the real-speech
chapter's code, the real utterances: CER and WER of the greedy and beam decoders, overall and
per speaker (the Asterisk prompts are 8 kHz telephone audio; the two LibriVox and "cards"
speakers are wide-band, 10 utterances only).
The result goes to ``<artifacts>/benchmarks/asr-variants.json``, where chapter 8 shows it.
Not part of the default study or CI: each variant trains a recognizer (on 2 AVX2 cores ~50
min; a variant with piper also synthesizes its corpus).

Usage::

    python benchmarks/bench_asr_variants.py                      # the default variants, default profile
    python benchmarks/bench_asr_variants.py --profile tiny
    python benchmarks/bench_asr_variants.py --variant "no noise" '{"asr.noise": 0}'
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

#: name -> parameter changes to the profile (the study's own recognizer first)
VARIANTS: dict[str, dict[str, Any]] = {
    "study": {},
    "channel augmentation": {"asr.band_limit": 0.3, "asr.noise": 0.3},
    "with the piper voice": {"corpus.piper_voices": 4},
}


#: the held-out synthetic scores kept per variant (chapter 2's splits)
SYNTHETIC = ("test_sentences_beam_cer", "test_voices_beam_cer")


def run_variant(profile: str, changes: dict[str, Any], artifacts: str | None) -> dict[str, Any]:
    """Build the variant's recognizer (reused when built) and score it on real speech."""
    import nap
    from nap.asr.stage import evaluate
    from nap.real_speech.params import RealSpeechParams
    from nap.real_speech.stage import real_corpus, recognition, require_packages, transcribe

    require_packages()
    base = nap.Study(profile, {}, artifacts)
    study = nap.Study(profile, changes, artifacts)
    asr = study.artifact("asr")
    summary = asr.summary
    synthetic = {k: summary.get(k) for k in SYNTHETIC}
    if study.key("corpus") != base.key("corpus"):  # scored on the profile's held-out utterances
        evaluation = evaluate(
            study.load("asr"), base.load("corpus"), base.load("features"), study.params("asr")
        )
        synthetic = {f"{split}_beam_cer": res["beam"]["cer"] for split, res in evaluation["splits"].items()}
    p = base.params("real_speech")
    assert isinstance(p, RealSpeechParams)
    folder = base.store.root / "benchmarks" / f"real-{base.key('features')}"
    _, utts, feats = real_corpus(folder, base.load("features").params, p)
    t0 = time.time()
    _, _, greedy, beam, truths = transcribe(study.load("asr"), feats, utts)
    real = recognition(utts, greedy, beam, truths)
    return {
        "changes": changes,
        "asr": asr.path.name,
        "train_minutes": summary.get("train_minutes"),
        "precision": summary.get("precision"),
        "cpu_capability": summary.get("cpu_capability"),
        "synthetic": {k: None if v is None else round(v, 4) for k, v in synthetic.items()},
        "real": {"all": real["all"], "speakers": real["speakers"]},
        "real_seconds": round(time.time() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="default", help="study profile (default: default)")
    ap.add_argument("--artifacts", default=None, help="artifact folder (default: artifacts/<profile>)")
    ap.add_argument(
        "--variant",
        nargs=2,
        action="append",
        metavar=("NAME", "JSON"),
        help="a variant of your own: its name and its parameter changes as JSON (repeatable; "
        "replaces the default variants)",
    )
    args = ap.parse_args(argv)
    variants = {name: json.loads(text) for name, text in args.variant} if args.variant else VARIANTS
    import nap
    from nap.real_speech.results import variants_path, variants_table
    from nap.store import read_json, write_json

    out = variants_path(nap.Study(args.profile, {}, args.artifacts).store.root)
    result = read_json(out) if out.is_file() else {"variants": {}}
    for name, changes in variants.items():
        print(f"[bench] {name}: {changes or 'the profile as it is'}", flush=True)
        result["variants"][name] = run_variant(args.profile, changes, args.artifacts)
        result["created"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        write_json(out, result)  # after each variant: an interrupted run keeps what it measured
    print(variants_table(result))
    print(f"[bench] result written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
