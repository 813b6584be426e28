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
# the small network of the trainer's tests, without batch norm: with it, each process would
# normalise with its own half-batch statistics and the runs could not be compared exactly
PARAMS = [
    "-p",
    "asr.channels",
    "32",
    "-p",
    "asr.hidden",
    "64",
    "-p",
    "asr.k7_layers",
    "1",
    "-p",
    "asr.batch_size",
    "8",
    "-p",
    "asr.epochs",
    "2",
    "-p",
    "asr.threads",
    "1",
    "-p",
    "asr.norm",
    "none",
    "-p",
    "asr.device",
    "cpu",
    "-p",
    "asr.eval_utterances",
    "4",
    "-p",
    "asr.checkpoint_every",
    "4",
    "-p",
    "asr.freq_mask_width",
    "3",
]


def torchrun() -> list[str]:
    exe = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if exe is None:
        pytest.fail("torchrun is not installed beside python")
    return [exe, "--standalone", "--nproc_per_node", "2"]


def train_cli(cmd: list[str], args: list[str], timeout: int = 600) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [*cmd, "-m", "nap.asr.train", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def assert_close_weights(a: Path, b: Path, lr: float = 1.5e-3) -> None:
    """Equal up to the summation order of the gradient exchange. Adam's first steps move every
    weight by about ``lr`` whatever its gradient's size, so a weight whose gradient is near zero
    may move either way: a few may differ by a few ``lr``, almost all by nothing."""
    wa, wb = (torch.load(x / MODEL, weights_only=True) for x in (a, b))
    for k in wa:
        diff = (wa[k] - wb[k]).abs()
        assert float((diff > 1e-4).float().mean()) < 0.01, k
        assert float(diff.max()) < 20 * lr, k


def test_two_processes_train_like_one_on_synthetic_data(tmp_path):
    args = ["--profile", "tiny", "--synthetic", "40", "--no-progress", *PARAMS]
    train_cli([sys.executable], [*args, "--work", str(tmp_path / "one")])
    train_cli(torchrun(), [*args, "--work", str(tmp_path / "two")])
    one, two = read_json(tmp_path / "one" / TRAINING), read_json(tmp_path / "two" / TRAINING)
    assert (one["processes"], two["processes"]) == (1, 2)
    assert one["steps"] == two["steps"] == 10
    assert one["history"]["loss"] == pytest.approx(two["history"]["loss"], rel=1e-3)
    assert_close_weights(tmp_path / "one", tmp_path / "two")


@pytest.mark.slow
def test_torchrun_trains_the_tiny_profile_stage(tiny_study, tmp_path):
    """torchrun on the tiny profile's corpus and features, then the study finishes the stage."""
    tiny_study.features()
    art = ["--profile", "tiny", "--artifacts", str(tiny_study.store.root), "--no-progress"]
    changed = [*PARAMS, "-p", "asr.seed", "7"]  # its own key: the shared tiny asr artifact stays as it is
    train_cli(torchrun(), [*art, *changed])
    from nap.study import Study

    study = Study(
        "tiny",
        {"asr.seed": 7, **{PARAMS[i + 1]: _yaml(PARAMS[i + 2]) for i in range(0, len(PARAMS), 3)}},
        tiny_study.store.root,
    )
    done = study.artifact("asr", build=False)
    assert done is not None, "torchrun did not finish the asr stage"
    record = read_json(done.path / TRAINING)
    assert record["processes"] == 2 and record["steps"] > 0
    rec = study.asr()
    assert rec.layer_names[0] == "layer01" and rec.summary if hasattr(rec, "summary") else True


def _yaml(text: str):
    import yaml

    return yaml.safe_load(text)
