"""The NAP benchmark runs and reports its three ratios (tiny widths: a smoke test, not the numbers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_reports_the_three_ratios(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_naps.py"),
            "--channels",
            "16",
            "--hidden",
            "24",
            "--utterances",
            "4",
            "--reference-utterances",
            "2",
            "--rss-utterances",
            "1",
            "--repeats",
            "1",
            "--min-frames",
            "200",
            "--max-frames",
            "260",
            "--probe-frames",
            "20",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for line in ("1. inference", "2. window sums", "3. peak RSS"):
        assert line in proc.stdout
    numbers = json.loads(out.read_text())
    assert numbers["flop_ratio"] > 1 and numbers["extraction_over_inference"] > 0
    assert 0.5 < numbers["rss_ratio"] < 2
