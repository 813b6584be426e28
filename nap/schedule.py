"""Build the study's stages in data-flow order, an independent one side by side.

The G2P reads only CMUDict, so a G2P of one process can train while the corpus is
synthesised and the recognizer trains: on 2 cores a 1-thread G2P (2 threads are only ~8 %
faster) beside a 2-thread recognizer runs both at their 1-thread speed, and the recognizer
gets both cores back when the G2P is done. The default G2P is an ensemble of two networks
trained side by side in two processes; it takes both cores, so it is built in turn.

The background stage runs in a spawned process that writes its progress to a log of its
own, ``<artifacts>/logs/<stage>-<key>.<time>-<pid>.log`` (two studies building the same
stage at once never write into one file), and dies with its parent; the store's lock keeps
two processes from building the same stage at once, and an interrupted stage resumes
from its checkpoints like any other.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from nap.errors import NapError
from nap.profile import STAGES
from nap.stages import REGISTRY, upstream
from nap.study import Study

#: Stages that read nothing the acoustic chain makes, built in a background process (their
#: records' ``side_by_side``).
SIDE_BY_SIDE: tuple[str, ...] = tuple(s.name for s in REGISTRY.values() if s.side_by_side)


class ScheduleError(NapError, RuntimeError):
    """A stage built in the background failed."""


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent dies (no orphaned trainings or book
    builds); meant for the child's side of a fork (``preexec_fn``) or a spawned process."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _build_in_background(
    profile: str, changes: dict[str, Any], artifacts: str, stage: str, force: bool, log: str
) -> None:
    die_with_parent()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - the process' own streams
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    study = Study(profile, changes, artifacts, force=[stage] if force else ())
    art = study.artifact(stage)
    print(f"[nap] {stage}: {art.path}", flush=True)


class _Background:
    """One stage building in a spawned process."""

    def __init__(self, study: Study, stage: str):
        self.stage = stage
        logs = study.store.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        self.log = logs / f"{stage}-{study.key(stage)}.{time.strftime('%Y%m%d-%H%M%S')}-{pid}.log"
        with open(self.log, "w") as fh:  # this run's own log: never another run's, never truncated
            fh.write(f"[nap] {stage}: built in the background for {study!r} (process {pid})\n")
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(
            target=_build_in_background,
            args=(
                study.profile_ref,
                study.changes,
                str(study.store.root),
                stage,
                stage in study.force,
                str(self.log),
            ),
            name=f"nap-{stage}",
        )
        self.started = time.time()
        self.process.start()
        study.force.discard(stage)
        print(f"[nap] {stage}: building in a background process beside the other stages (log: {self.log})")

    @property
    def failed(self) -> bool:
        """The process has ended with an error."""
        return self.process.exitcode not in (None, 0)

    def join(self, study: Study) -> float:
        """Wait for the stage; the seconds its build took. Raises ScheduleError if it failed."""
        self.process.join()
        if self.process.exitcode != 0:
            tail = "\n".join(self.log.read_text(errors="replace").replace("\r", "\n").splitlines()[-15:])
            raise ScheduleError(
                f"stage {self.stage} failed in its background process (exit code {self.process.exitcode}); "
                f"log: {self.log}\n{tail}"
            )
        art = study.artifact(self.stage)
        seconds = float(art.summary.get("seconds", time.time() - self.started))
        print(f"[nap] {self.stage}: {art.path} ({seconds:.0f} s, built in the background)")
        return seconds

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(10)
            if self.process.is_alive():
                self.process.kill()


@contextlib.contextmanager
def _stopped_on_error(running: dict[str, _Background]) -> Iterator[None]:
    try:
        yield
    except BaseException:
        for job in running.values():
            job.stop()
        raise


def build_stages(
    study: Study, stages: Iterable[str] = STAGES, side_by_side: Iterable[str] = SIDE_BY_SIDE
) -> dict[str, float]:
    """Build ``stages`` (and what they read); returns the seconds each stage built here took.

    A background stage's seconds are its own build time (its summary's), not the wait for it.

    A stage of ``side_by_side`` that reads nothing still to be built goes to a background
    process when anything else is left to build; the stages that read it wait for it. A
    stage that itself trains in several processes (a G2P ensemble trained side by side)
    would take the cores from the others, so it is built in turn instead.
    """
    order = upstream(stages)
    todo = [s for s in order if s in study.force or study.artifact(s, build=False) is None]
    side = [
        s
        for s in todo
        if s in set(side_by_side)
        and not any(d in todo for d in REGISTRY[s].inputs)
        and getattr(study.params(s), "processes", 1) == 1  # one of several processes takes the cores
    ]
    if len(todo) <= len(side):
        side = []
    seconds: dict[str, float] = {}
    running: dict[str, _Background] = {}
    with _stopped_on_error(running):
        for stage in side:
            running[stage] = _Background(study, stage)
        for stage in order:
            if stage in running:
                continue
            for name, job in list(running.items()):
                if job.failed:  # say so now rather than after the stages still to come
                    running.pop(name).join(study)
            for dep in REGISTRY[stage].inputs:
                if dep in running:
                    seconds[dep] = running.pop(dep).join(study)
            start = time.time()
            art = study.artifact(stage)
            if stage in todo:
                seconds[stage] = time.time() - start
                print(f"[nap] {stage}: {art.path} ({seconds[stage]:.0f} s)")
        for stage in list(running):
            seconds[stage] = running.pop(stage).join(study)
    return {s: round(seconds[s], 1) for s in order if s in seconds}
