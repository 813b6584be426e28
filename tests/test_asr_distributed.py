"""Data-parallel training through torchrun: 2 CPU processes (gloo) match one process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nap.asr.train import MODEL, TRAINING
from nap.store import read_json

ROOT = Path(__file__).resolve().parents[1]
# the small network of the trainer's tests, without batch norm (each process would normalise
# with its own half-batch statistics) and dropout (each process draws its own masks), so that
# the runs can be compared
CHANGES = {
    "asr.channels": 32,
    "asr.hidden": 64,
    "asr.k7_layers": 1,
    "asr.batch_size": 8,
    "asr.epochs": 2,
    "asr.threads": 1,
    "asr.norm": "none",
    "asr.precision": "float32",  # bfloat16 rounding differs between 1 and 2 processes
    "asr.dropout": 0.0,
    "asr.device": "cpu",
    "asr.eval_utterances": 4,
    "asr.checkpoint_every": 4,
    "asr.freq_mask_width": 3,
    "asr.freq_shift": 1,
    "asr.lr": 1.5e-3,
}


def cli_params(changes: dict) -> list[str]:
    return [a for name, value in changes.items() for a in ("-p", name, str(value))]


def torchrun() -> list[str]:
    exe = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if exe is None:
        pytest.fail("torchrun is not installed beside python")
    return [exe, "--standalone", "--nproc_per_node", "2"]


def train_cli(
    cmd: list[str], args: list[str], timeout: int = 900, entry: tuple[str, ...] = ("nap.asr",)
) -> str:
    """Run ``cmd -m ENTRY args`` (``nap.asr``, or the one torchrun entry point ``nap.distributed asr``)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [*cmd, "-m", *entry, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def assert_close_weights(a: Path, b: Path, lr: float) -> None:
    """Equal up to the summation order of the gradient exchange. Adam's first steps move every
    weight by about ``lr`` whatever its gradient's size, so a weight whose gradient is near zero
    may move either way: a few may differ by a few ``lr``, almost all by nothing."""
    wa, wb = (torch.load(x / MODEL, weights_only=True) for x in (a, b))
    for k in wa:
        diff = (wa[k] - wb[k]).abs()
        assert float((diff > 1e-4).float().mean()) < 0.01, k
        assert float(diff.max()) < 20 * lr, k


def test_two_processes_train_like_one_on_synthetic_data(tmp_path):
    """One process through the alias ``-m nap.asr``, two through ``-m nap.distributed asr``."""
    args = ["--profile", "tiny", "--synthetic", "40", "--no-progress", *cli_params(CHANGES)]
    train_cli([sys.executable], [*args, "--work", str(tmp_path / "one")])
    train_cli(torchrun(), [*args, "--work", str(tmp_path / "two")], entry=("nap.distributed", "asr"))
    one, two = read_json(tmp_path / "one" / TRAINING), read_json(tmp_path / "two" / TRAINING)
    assert (one["processes"], two["processes"]) == (1, 2)
    assert one["steps"] == two["steps"] == 10
    assert one["history"]["loss"] == pytest.approx(two["history"]["loss"], rel=1e-3)
    assert_close_weights(tmp_path / "one", tmp_path / "two", CHANGES["asr.lr"])


@pytest.mark.slow
def test_torchrun_trains_the_tiny_profile_stage(tiny_study):
    """torchrun on the tiny profile's corpus and features, then the study only evaluates."""
    from nap.study import Study

    tiny_study.features()  # inputs built (and shared with the other tests)
    changes = {**CHANGES, "asr.seed": 7}  # a key of its own: the shared tiny asr artifact stays as it is
    root = tiny_study.store.root
    earlier = Study("tiny", changes, root).artifact("asr", build=False)
    if earlier is not None:  # built by an earlier run into a kept store (NAP_ARTIFACTS): build again
        shutil.rmtree(earlier.path)
    out = train_cli(
        torchrun(), ["--profile", "tiny", "--artifacts", str(root), "--no-progress", *cli_params(changes)]
    )
    assert "finished at" in out
    study = Study("tiny", changes, root)
    done = study.artifact("asr", build=False)
    assert done is not None, "torchrun did not finish the asr stage"
    record = read_json(done.path / TRAINING)
    assert record["processes"] == 2 and record["steps"] > 0
    rec = study.asr()
    assert rec.layer_names == [f"layer{i:02d}" for i in range(1, 6)]
    assert set(study.summary("asr")) >= {"test_sentences_beam_cer", "test_voices_beam_cer"}
