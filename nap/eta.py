"""An estimate of a training's wall time from its first steps, and a warning when it is far over budget.

A stage that trains for a long time (the recognizer, the G2P) feeds :class:`Eta` its steps;
after the first few (the very first is left out: it allocates and warms up kernels) it
prints how long the whole training will take and, when that is well over the stage's
``budget_minutes``, the likely cause: bfloat16 without native support, fewer threads than
cores, or a busy machine (this process got less CPU time than its threads could use).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from nap.hardware import cores, cpu_bf16


def _say(line: str) -> None:
    """Print above any progress bar (tqdm moves the bar below the line)."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)
    sys.stderr.flush()


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def likely_causes(
    precision: str, threads: int, cpu_share: float, device: str = "cpu", processes: int = 1
) -> list[str]:
    """Why a training on ``device`` may run slower than planned, from what the machine says.

    ``processes`` trainings run side by side with ``threads`` each (the G2P's members).
    """
    causes = []
    if device == "cpu":
        native, why = cpu_bf16()
        if precision == "bfloat16" and not native:
            causes.append(f"bfloat16 on a CPU without native bfloat16 ({why}): use precision auto")
        if precision == "float32" and not native:
            causes.append(f"float32 arithmetic ({why}): a CPU with native bfloat16 trains 1.6-3x faster")
        if threads * processes < cores():
            causes.append(
                f"{threads * processes} thread(s) on a machine with {cores()} cores: set threads auto"
            )
        if cpu_share < 0.75:
            causes.append(
                f"a busy machine: this process got {cpu_share:.0%} of the CPU time its {threads} "
                "thread(s) could use"
            )
    return causes or ["a slower CPU than the profile was measured on"]


@dataclass
class Eta:
    """Feed it every step (:meth:`step`); it reports once, after ``after`` timed steps."""

    name: str
    total: int
    done: int = 0  # steps done before this run (resumed)
    budget_minutes: float = 0.0
    precision: str = "float32"
    threads: int = 1
    device: str = "cpu"
    processes: int = 1  # trainings side by side, each with ``threads``
    after: int = 10
    report: list[str] = field(default_factory=list)  # the lines printed
    minutes: float | None = None  # the predicted wall time of the whole training
    _start: tuple[float, float] | None = None
    _timed: int = 0

    def step(self, n: int = 1) -> None:
        """``n`` more steps are done."""
        if self._start is None:  # the first step warms up: time from its end
            self._start = (time.perf_counter(), time.process_time())
            self.done += n
            return
        self.done += n
        self._timed += n
        if self._timed >= self.after and not self.report:
            self._estimate()

    def _estimate(self) -> None:
        wall = time.perf_counter() - self._start[0]  # type: ignore[index]
        cpu = time.process_time() - self._start[1]  # type: ignore[index]
        per_step = wall / self._timed
        left = per_step * max(0, self.total - self.done)
        self.minutes = round((wall + left) / 60, 1)
        line = (
            f"[nap] {self.name}: {per_step:.3g} s a step, {self.total - self.done} steps left: "
            f"about {_minutes(left)} more ({self.precision}, {self.threads} thread(s))"
        )
        self.report.append(line)
        _say(line)
        if self.budget_minutes and left > 1.25 * 60 * self.budget_minutes:
            share = cpu / max(wall * self.threads, 1e-9)
            causes = "; ".join(
                likely_causes(self.precision, self.threads, share, self.device, self.processes)
            )
            warn = (
                f"[nap] warning: {self.name} will take about {_minutes(left)}, over its budget of "
                f"{_minutes(60 * self.budget_minutes)}. Likely cause: {causes}"
            )
            self.report.append(warn)
            _say(warn)
