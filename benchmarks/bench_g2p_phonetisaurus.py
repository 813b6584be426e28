"""Benchmark: our G2P against Phonetisaurus on the same CMUDict split, scored by the same code.

Phonetisaurus (joint-sequence n-gram WFST, ``pip install phonetisaurus==0.3.0``, which ships
its binaries) is trained with ``phonetisaurus-train --lexicon train.tsv --seq2_del
--ngram_order 8`` on the G2P artifact's training words (``train.tsv`` plus ``dev.tsv``: all
the words our model may see), then predicts the held-out words (1-best). Both models'
predictions are scored with :func:`nap.g2p.metrics.evaluate`; the script prints both rows
and the ratios, and stores the result beside the artifact (``<artifacts>/benchmarks/``)
where chapter 3 finds it. Not part of the default study or CI.

Usage::

    python benchmarks/bench_g2p_phonetisaurus.py                 # default profile (builds the G2P if needed)
    python benchmarks/bench_g2p_phonetisaurus.py --profile tiny
    python benchmarks/bench_g2p_phonetisaurus.py --g2p artifacts/default/g2p-<key>
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nap.g2p import G2P
from nap.g2p.data import read_lexicon, write_lexicon
from nap.g2p.metrics import evaluate
from nap.g2p.report import COLUMNS, benchmark_path, metrics_table
from nap.store import write_json


def _environment() -> dict[str, str]:
    try:
        import phonetisaurus
    except ImportError:
        sys.exit(
            "Phonetisaurus is not installed: pip install phonetisaurus==0.3.0 (or pip install -e '.[bench]')"
        )
    return phonetisaurus.guess_environment()


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def run_phonetisaurus(g2p_path: Path, ngram_order: int = 8) -> dict[str, Any]:
    """Train Phonetisaurus on the artifact's training words and score it on its held-out words."""
    env = _environment()
    train = {**read_lexicon(g2p_path / "train.tsv"), **read_lexicon(g2p_path / "dev.tsv")}
    test = read_lexicon(g2p_path / "test.tsv")
    with tempfile.TemporaryDirectory(prefix="nap-phonetisaurus-") as tmp_name:
        tmp = Path(tmp_name)
        write_lexicon(tmp / "train.tsv", [(w, p) for w, prons in train.items() for p in prons])
        (tmp / "words.txt").write_text("".join(f"{w}\n" for w in test))
        t0 = time.time()
        _run(
            [
                "phonetisaurus-train",
                "--lexicon",
                "train.tsv",
                "--seq2_del",
                "--ngram_order",
                str(ngram_order),
            ],
            tmp,
            env,
        )
        train_seconds = time.time() - t0
        t0 = time.time()
        apply = [
            "phonetisaurus-apply",
            "--model",
            "train/model.fst",
            "--word_list",
            "words.txt",
            "--nbest",
            "1",
        ]
        out = _run(apply, tmp, env)
        apply_seconds = time.time() - t0
    hyps: dict[str, list[str]] = {w: [] for w in test}  # a word it cannot convert counts as wrong
    for line in out.splitlines():
        word, _, pron = line.partition("\t")
        if word in hyps and not hyps[word]:
            hyps[word] = pron.split()
    missing = sum(1 for h in hyps.values() if not h)
    return {
        **evaluate(test, hyps),
        "train_words": len(train),
        "ngram_order": ngram_order,
        "unconverted_words": missing,
        "train_seconds": round(train_seconds, 1),
        "apply_seconds": round(apply_seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--profile", default="default", help="study profile whose G2P to compare (default: default)"
    )
    ap.add_argument("--params", default="{}", help="JSON changes to the profile, e.g. '{\"g2p.epochs\": 3}'")
    ap.add_argument("--artifacts", default=None, help="artifact folder (default: artifacts/<profile>)")
    ap.add_argument("--g2p", type=Path, default=None, help="a finished G2P artifact folder (skips the study)")
    ap.add_argument("--ngram-order", type=int, default=8)
    args = ap.parse_args(argv)
    if args.g2p is None:
        import nap

        study = nap.Study(args.profile, json.loads(args.params), args.artifacts)
        g2p_path = study.artifact("g2p").path
    else:
        g2p_path = args.g2p
    ours = G2P.open(g2p_path).metrics
    print(f"[bench] training Phonetisaurus on the training words of {g2p_path} ...", flush=True)
    theirs = run_phonetisaurus(g2p_path, args.ngram_order)
    result = {
        "g2p": str(g2p_path),
        "ours": ours,
        "phonetisaurus": theirs,
        "ratio": {k: ours[k] / theirs[k] for k, _ in COLUMNS if theirs.get(k)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    out = benchmark_path(g2p_path)
    write_json(out, result)
    print(metrics_table(ours, result))
    print(
        f"Phonetisaurus: trained in {theirs['train_seconds']} s, applied in {theirs['apply_seconds']} s; "
        f"{theirs['unconverted_words']} words without output"
    )
    print(f"[bench] result written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
