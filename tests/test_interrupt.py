"""Kill the tiny study during each stage, rerun it, and get what an uninterrupted run gets.

Each round starts ``nap build`` on one artifact folder, waits until the stage under test is
being built (its ``.partial`` folder has files; for training, a checkpoint), kills the whole
process group with SIGKILL, and checks that no finished artifact of that stage exists. A
last run completes the study; every artifact must then match its checksums and the NAPs and
clusterings must equal those of the uninterrupted tiny study.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nap.profile import STAGES
from nap.store import verify_manifest

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTED = {"asr", "g2p"}


def _started(artifacts: Path, stage: str) -> bool:
    for partial in artifacts.glob(f"{stage}-*.partial"):
        files = [f for f in partial.rglob("*") if f.is_file() and not f.name.endswith(".tmp")]
        if stage in CHECKPOINTED:
            files = [f for f in files if "ckpt" in f.name or "checkpoint" in f.name]
        if files:
            return True
    return False


def _finished(artifacts: Path, stage: str) -> bool:
    return any(
        p.is_dir() and (p / "manifest.json").exists()
        for p in artifacts.glob(f"{stage}-*")
        if "." not in p.name
    )


def _build(artifacts: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nap", "build", "--profile", "tiny", "--artifacts", str(artifacts)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _npz_arrays(folder: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for f in sorted(folder.rglob("*.npz")):
        with np.load(f, allow_pickle=False) as data:
            for k in data.files:
                arrays[f"{f.relative_to(folder)}:{k}"] = data[k]
    return arrays


@pytest.mark.slow
def test_killed_in_every_stage_resumes_to_the_same_results(tmp_path, tiny_study):
    reference = {s: tiny_study.artifact(s).path for s in ("naps", "cluster")}
    artifacts = tmp_path / "interrupted"
    interrupted = []
    for stage in STAGES:
        if _finished(artifacts, stage):
            continue
        proc = _build(artifacts)
        deadline = time.time() + 600
        try:
            while time.time() < deadline and proc.poll() is None:
                if _started(artifacts, stage) or _finished(artifacts, stage):
                    break
                time.sleep(0.02)
            if proc.poll() is None and not _finished(artifacts, stage):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                interrupted.append(stage)
                assert not _finished(artifacts, stage), stage
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert {"corpus", "asr", "g2p", "naps"} <= set(interrupted), interrupted

    final = _build(artifacts)
    assert final.wait(timeout=1200) == 0
    for stage in STAGES:
        folders = [p for p in artifacts.glob(f"{stage}-*") if "." not in p.name]
        assert len(folders) == 1, (stage, folders)
        assert verify_manifest(folders[0]) is None
        assert not list(artifacts.glob(f"{stage}-*.partial"))
        if stage in reference:
            assert folders[0].name == reference[stage].name
            got, want = _npz_arrays(folders[0]), _npz_arrays(reference[stage])
            assert got.keys() == want.keys() and got
            for k in want:
                if want[k].dtype.kind in "fc":
                    np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-6, err_msg=k)
                else:
                    np.testing.assert_array_equal(got[k], want[k], err_msg=k)


@pytest.mark.slow
def test_killed_book_build_rebuilds(tiny_site, tmp_path):
    from nap.runner import build_book

    site = tmp_path / "site"
    shutil.copytree(tiny_site, site, ignore=shutil.ignore_patterns("_build"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
            "build",
            str(site),
            "--builder",
            "html",
        ],
        cwd=site,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (site / "_build" / "html").exists():
        time.sleep(0.05)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    index = build_book(site)
    page = index.parent / "book" / "00_introduction.html"
    assert page.is_file() and "<html" in page.read_text()


def test_the_book_build_dies_with_a_killed_nap(tmp_path):
    """SIGKILL of the process building the book takes its jupyter-book child with it."""
    site = tmp_path / "site"
    site.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, site / name)
    shutil.copytree(ROOT / "book", site / "book", ignore=shutil.ignore_patterns("*.ipynb", ".runner"))
    pid_file = tmp_path / "child.pid"
    sleeper = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    parent = tmp_path / "parent.py"
    parent.write_text(
        "import subprocess\n"
        "import nap.runner as runner\n"
        "real = subprocess.run\n"
        "def run(cmd, **kw):  # the book build's command, with the runner's own process options\n"
        f"    return real([cmd[0], '-c', {sleeper!r}], preexec_fn=kw['preexec_fn'])\n"
        "runner.subprocess.run = run\n"
        f"runner.build_book(runner.Path({str(site)!r}))\n"
    )
    proc = subprocess.Popen([sys.executable, str(parent)], cwd=ROOT)
    deadline = time.time() + 60
    while time.time() < deadline and not (pid_file.exists() and pid_file.read_text()):
        time.sleep(0.05)
    child = int(pid_file.read_text())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and Path(f"/proc/{child}").exists():
        time.sleep(0.05)
    alive = Path(f"/proc/{child}").exists()
    if alive:
        os.kill(child, signal.SIGKILL)
    assert not alive
