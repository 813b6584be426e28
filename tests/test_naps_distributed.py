"""Two CPU processes under torchrun (gloo), each with half the utterances, equal one process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from nap.naps import NapAccumulator, extract_naps, model_geometry

ROOT = Path(__file__).resolve().parents[1]

DATA = textwrap.dedent("""
    import numpy as np, torch
    from nap.asr.model import Architecture, Wav2Letter
    from nap.naps import model_geometry

    def data():
        torch.manual_seed(0)
        model = Wav2Letter(Architecture(n_mels=12, classes=7, channels=10, hidden=14, k7_layers=2))
        g = model_geometry(model)
        rng = np.random.default_rng(7)
        inputs, labels = [], []
        for i in range(7):
            n = g.receptive_field + int(rng.integers(0, 50))
            inputs.append(rng.standard_normal((12, n)).astype(np.float32))
            f = g.frames(n)
            labels.append({"a": rng.integers(-1, 5, f), "b": np.repeat(rng.integers(-1, 3, f), 3)[:f]})
        return model, inputs, labels, {"a": 5, "b": 3}
""")

WORKER = DATA + textwrap.dedent("""
    import sys
    import torch.distributed as dist
    from nap.naps import extract_naps
    from nap.naps.distributed import init_from_env

    torch.set_num_threads(1)
    rank, size = init_from_env()
    assert size == 2, size
    model, inputs, labels, groups = data()
    res = extract_naps(model, inputs, labels, groups, batch_size=2, probe_frames=25, seed=3)
    if rank == 0:
        out = {f"{k}/{lay}": res.nap(k, lay) for k in groups for lay in res.layer_names}
        out.update({f"count/{k}": res.counts(k) for k in groups})
        out.update({f"probe/{k}": v for k, v in res.probe.items() if k not in ("utterances", "split")})
        out["frames"] = np.asarray(res.frames)
        np.savez(sys.argv[1], **out)
    dist.destroy_process_group()
""")


def test_two_processes_equal_one(tmp_path):
    (tmp_path / "worker.py").write_text(WORKER)
    out = tmp_path / "two.npz"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(tmp_path / "worker.py"),
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    scope: dict = {}
    exec(DATA, scope)
    model, inputs, labels, groups = scope["data"]()
    one = extract_naps(model, inputs, labels, groups, batch_size=2, probe_frames=25, seed=3)
    with np.load(out) as two:
        assert int(two["frames"]) == one.frames
        for k in groups:
            np.testing.assert_array_equal(two[f"count/{k}"], one.counts(k))
            for lay in one.layer_names:
                np.testing.assert_allclose(two[f"{k}/{lay}"], one.nap(k, lay), rtol=1e-6, atol=1e-6)
        for key, value in one.probe.items():  # rows from other batches: float32 conv rounding differs
            if key not in ("utterances", "split"):
                np.testing.assert_allclose(two[f"probe/{key}"], value, rtol=1e-5, atol=1e-5)


def test_accumulators_merge_by_summing():
    """What all_reduce does: the sum of two halves' accumulators equals the whole's."""
    torch.manual_seed(0)
    scope: dict = {}
    exec(DATA, scope)
    model, inputs, labels, groups = scope["data"]()
    g = model_geometry(model)
    from nap.naps.driver import run_pass

    ids = [str(i) for i in range(len(inputs))]
    lengths = {u: len(labels[int(u)]["a"]) for u in ids}

    def load(u):
        return inputs[int(u)], labels[int(u)]

    layers = g.select(None)
    whole = run_pass(model, g, layers, ids, lengths, load, groups, batch_size=1, progress=False)
    first = run_pass(model, g, layers, ids[:3], lengths, load, groups, batch_size=1, progress=False)
    second = run_pass(model, g, layers, ids[3:], lengths, load, groups, batch_size=1, progress=False)
    first.merge(second)
    for name, t in whole.tensors().items():
        torch.testing.assert_close(first.tensors()[name], t, rtol=1e-6, atol=1e-6)
    assert isinstance(first, NapAccumulator) and int(first.utterances) == len(ids)


def test_a_process_of_a_torchrun_group_gets_its_work_folder_and_inputs_from_the_study(tmp_path, monkeypatch):
    """``Study.join_group``, which ``python -m nap.naps`` and ``python -m nap.asr`` go through."""
    from nap.study import Study

    study = Study("tiny", artifacts=tmp_path)
    loaded: list[str] = []
    monkeypatch.setattr(study, "load", lambda stage: loaded.append(stage) or f"<{stage}>")
    shared: list[bool] = []

    def share(flag: bool) -> bool:
        shared.append(flag)
        return flag

    work, inputs = study.join_group("naps", True, share)
    assert work == tmp_path / f"naps-{study.key('naps')}.partial" == study.work_folder("naps")
    assert inputs == ["<corpus>", "<features>", "<asr>", "<align>"]
    assert loaded == ["corpus", "features", "asr", "align"] * 2 and shared == [False]

    loaded.clear()
    assert study.join_group("naps", False, lambda flag: True) is None  # the main process found it built
    assert loaded == []  # a helper process loads nothing then

    monkeypatch.setattr(study, "artifact", lambda stage, build=True: object())  # built
    shared.clear()
    assert study.join_group("naps", True, share) is None and shared == [True]
    study.force.add("naps")  # --force: built again
    assert study.join_group("naps", True, share) is not None and shared == [True, False]


@pytest.mark.slow
def test_torchrun_builds_the_tiny_profile_naps_stage_like_one_process(tiny_study, tmp_path):
    """``torchrun -m nap.distributed naps`` goes through the study: 2 processes build what 1 would."""
    from nap.naps import NapSet
    from nap.study import Study

    tiny_study.alignment()  # inputs built (and shared with the other tests)
    root = tiny_study.store.root
    changes = {"naps.seed": 7}  # a key of its own: the shared tiny naps artifact stays as it is
    earlier = Study("tiny", changes, root).artifact("naps", build=False)
    if earlier is not None:  # built by an earlier run into a kept store (NAP_ARTIFACTS): build again
        shutil.rmtree(earlier.path)
    exe = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    options = ["--profile", "tiny", "--artifacts", str(root), "-p", "naps.seed", "7"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    outs = []
    # built through the one entry point, then found built through the alias ``-m nap.naps``
    for entry in (["nap.distributed", "naps"], ["nap.naps"]):
        cmd = [exe, "--standalone", "--nproc_per_node", "2", "-m", *entry, *options]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        outs.append(proc.stdout)
    two = Study("tiny", changes, root).artifact("naps", build=False)
    assert two is not None
    assert f"[nap] naps: built with 2 process(es) at {two.path}" in outs[0]
    assert f"[nap] naps: already built at {two.path}" in outs[1]

    alone = tmp_path / "alone"  # the same inputs, naps built by one process
    alone.mkdir()
    for stage in ("corpus", "features", "asr", "g2p", "align"):
        (alone / tiny_study.store.folder(stage, tiny_study.key(stage)).name).symlink_to(
            tiny_study.artifact(stage).path
        )
    one_study = Study("tiny", changes, alone)
    assert one_study.key("naps") == two.key
    one, mine = one_study.naps(), NapSet.open(two.path)
    for grouping in one.groupings:
        np.testing.assert_array_equal(mine.counts(grouping), one.counts(grouping))
        for layer in one.layers:
            np.testing.assert_allclose(
                mine.nap(grouping, layer), one.nap(grouping, layer), rtol=1e-5, atol=1e-4
            )
