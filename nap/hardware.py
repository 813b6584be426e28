"""What the machine offers, and the arithmetic and threads chosen from it.

Every stage that runs a network asks here once: ``precision: auto`` becomes bfloat16 only
where the hardware runs it natively and faster, and ``threads: auto`` becomes the cores this
process may use. The resolved values are machine settings: they are recorded in each stage's
summary, never in an artifact key (the key holds what was asked, e.g. ``auto``), so a store
built on one machine is reused on another rather than silently recomputed.

Devices too: every ``<stage>.device`` parameter (``auto``, ``cpu``, ``cuda`` or ``cuda:N``) is
only spelling-checked when parameters are read (:func:`check_device`; ``nap params`` and ``nap
results`` work for a cuda profile on a machine without a GPU) and resolved when the stage runs
(:func:`resolve_device`), where ``cuda`` without a GPU is an error naming the parameter. NAP
extraction runs in exact float32 on a GPU (:func:`exact_float32`: cuDNN's default TF32 moved the
NAPs by 5.5e-4 at a NAP scale of 0.4 on an H200; without it they differ from the CPU's by 4e-6).

Measured reasons (2 threads, the default Wav2Letter, batch 16 x 3.5 s, torch 2.13.0 CPU):
on an AMD EPYC with AVX2 only, one training step takes 16-26 s in bfloat16 (oneDNN's reference
kernels) against 1.2 s in float32, and the G2P's LSTM under bfloat16 autocast fails ("could
not create a primitive descriptor"); on a CPU with AVX512-BF16, bfloat16 is 1.6x faster than
float32 for the recognizer and ~3x for the G2P. On an H200, bfloat16 autocast of these Conv1d
layers was slower than float32 with TF32 (6,400 against 22,000 audio s/s).
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from nap.params import ParamError

if TYPE_CHECKING:
    import torch

Precision = Literal["float32", "bfloat16"]
Requested = Literal["auto", "float32", "bfloat16"]

#: oneDNN ISA caps (``ONEDNN_MAX_CPU_ISA``) that still allow its native bfloat16 kernels.
_ONEDNN_BF16_ISAS = {
    "ALL",
    "DEFAULT",
    "AVX512_CORE_BF16",
    "AVX512_CORE_FP16",
    "AVX512_CORE_AMX",
    "AVX512_CORE_AMX_FP16",
    "AVX10_1_512",
    "AVX10_1_512_AMX",
    "AVX10_1_512_AMX_FP16",
    "AVX10_2_512",
    "AVX10_2_512_AMX_2",
}

#: What one training step costs in bfloat16 without native support (the issue's measurement).
SLOW_BF16 = (
    "measured: one training step of the default Wav2Letter took 16-26 s in bfloat16 against "
    "1.2 s in float32 on an AMD EPYC with AVX2 only (2 threads)"
)


class PrecisionWarning(UserWarning):
    """bfloat16 was asked for where the hardware does not run it natively."""


def cores() -> int:
    """CPU cores this process may run on (its affinity mask; ``taskset`` and containers narrow it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def cpu_capability() -> str:
    """torch's CPU capability (``AVX2``, ``AVX512``, ``DEFAULT`` …; ``ATEN_CPU_CAPABILITY`` caps it)."""
    import torch

    return str(torch.backends.cpu.get_cpu_capability())


def cpu_bf16() -> tuple[bool, str]:
    """(whether this CPU runs bfloat16 natively, a sentence saying why or why not).

    Native means x86 with AVX512-BF16 or AMX, with neither ATen (``ATEN_CPU_CAPABILITY``) nor
    oneDNN (``ONEDNN_MAX_CPU_ISA``) capped below it. ARM and other CPUs count as not native:
    the project has no measurement there that bfloat16 is faster.
    """
    import torch

    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64", "i686", "x86"):
        return False, f"{machine} CPU (bfloat16 is only chosen on x86 with AVX512-BF16 or AMX)"
    cap = cpu_capability()
    avx512_bf16 = bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())
    amx = bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())
    if not (avx512_bf16 or amx):
        return False, f"CPU capability {cap}, without AVX512-BF16 or AMX"
    if not cap.startswith("AVX512"):
        return False, f"ATen capped at {cap} (ATEN_CPU_CAPABILITY)"
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
    if isa not in _ONEDNN_BF16_ISAS:
        return False, f"oneDNN capped at {isa} (ONEDNN_MAX_CPU_ISA)"
    return True, f"CPU capability {cap} with {'AMX' if amx else 'AVX512-BF16'}"


@dataclass(frozen=True)
class Arithmetic:
    """A stage's resolved precision and why it was chosen."""

    precision: Precision
    requested: Requested
    reason: str

    @property
    def autocast(self) -> bool:
        return self.precision == "bfloat16"

    def record(self) -> dict[str, str]:
        """What a stage's summary says about it."""
        return {"precision": self.precision, "precision_reason": self.reason}


def faster_in_bf16(step: Callable[[bool], None], repeats: int = 3) -> tuple[bool, float, float]:
    """Time ``step(autocast)`` both ways (after one warm-up each): (bf16 faster, s float32, s bf16)."""
    import torch

    seconds = {}
    for autocast in (False, True):
        step(autocast)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(repeats):
            step(autocast)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds[autocast] = (time.perf_counter() - t0) / repeats
    return seconds[True] < 0.9 * seconds[False], seconds[False], seconds[True]


def resolve_precision(
    requested: Requested,
    device: torch.device | str,
    name: str,
    measure: Callable[[bool], None] | None = None,
    cpu_kernels: bool = True,
) -> Arithmetic:
    """The arithmetic of stage parameter ``name`` (e.g. ``asr.precision``) on ``device``.

    ``auto``: bfloat16 on a CPU with native bfloat16 (:func:`cpu_bf16`); on a GPU only when
    ``measure(autocast)`` (one training step) runs at least 10 % faster in it; float32
    elsewhere. An explicit ``bfloat16`` on a CPU without native support warns with the
    measured cost, or, where the stage has no bfloat16 CPU kernels there (``cpu_kernels``
    False: oneDNN's LSTM), falls back to float32 and says so.
    """
    import torch

    device = torch.device(device)
    if requested == "float32":
        return Arithmetic("float32", requested, "asked for")
    if device.type == "cuda":
        if requested == "bfloat16":
            return Arithmetic("bfloat16", requested, "asked for")
        if measure is None or not torch.cuda.is_bf16_supported():
            return Arithmetic("float32", requested, "GPU: bfloat16 not measured faster")
        faster, f32, bf16 = faster_in_bf16(measure)
        verdict = "faster" if faster else "not faster"
        return Arithmetic(
            "bfloat16" if faster else "float32",
            requested,
            f"{torch.cuda.get_device_name(device)}: bfloat16 {verdict} "
            f"({bf16:.3f} s against {f32:.3f} s a step)",
        )
    native, why = cpu_bf16()
    if requested == "auto":
        return Arithmetic("bfloat16" if native else "float32", requested, why)
    if native:
        return Arithmetic("bfloat16", requested, f"asked for; {why}")
    if not cpu_kernels:
        _warn(
            f"{name} bfloat16: this CPU has no native bfloat16 ({why}) and oneDNN has no bfloat16 "
            f"LSTM for it ('could not create a primitive descriptor'); training in float32 instead"
        )
        return Arithmetic("float32", requested, f"bfloat16 asked for, no bfloat16 LSTM here ({why})")
    _warn(
        f"{name} bfloat16 on a CPU without native bfloat16 ({why}): oneDNN runs reference kernels, "
        f"many times slower than float32 ({SLOW_BF16}); set {name} auto or float32"
    )
    return Arithmetic("bfloat16", requested, f"asked for; not native here ({why})")


def _warn(message: str) -> None:
    """A :class:`PrecisionWarning`, also printed (a notebook or a worker process may hide warnings)."""
    warnings.warn(message, PrecisionWarning, stacklevel=3)
    print(f"[nap] warning: {message}", file=sys.stderr)


#: The help text of every ``<stage>.device`` parameter after its first words (what auto picks and why).
DEVICE_HELP = (
    "auto, cpu, cuda or cuda:N. auto: the GPU when torch finds one (under torchrun each process's "
    "LOCAL_RANK GPU), else the CPU, since the same network runs many times faster there; cuda "
    "without a GPU is an error when the stage runs (reading parameters never looks for one). A "
    "machine setting like threads: not in the artifact key"
)

_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device(value: object, name: str) -> None:
    """A device parameter is spelled ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (no GPU looked for)."""
    if not isinstance(value, str) or not _DEVICE.fullmatch(value):
        raise ParamError(f"parameter {name!r} must be auto, cpu, cuda or cuda:N, got {value!r}")


def resolve_device(requested: str, name: str, local_rank: int | None = None) -> torch.device:
    """The torch device of device parameter ``name`` (e.g. ``naps.device``) on this machine, now.

    ``auto`` is the GPU when torch finds one, else the CPU. ``auto`` and ``cuda`` take GPU
    ``local_rank`` (default: torchrun's ``LOCAL_RANK``, 0 outside torchrun), so each process of
    a group has its own; ``cuda:N`` is GPU N for every process. ``cuda`` on a machine without
    a GPU, or a GPU it does not have, is a :class:`~nap.params.ParamError` naming ``name``.
    """
    import torch

    check_device(requested, name)
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ParamError(
            f"parameter {name!r} is {requested}, but torch finds no CUDA GPU on this machine; "
            "use auto (a GPU when there is one) or cpu"
        )
    count = torch.cuda.device_count()
    if ":" in requested:
        index = int(requested.partition(":")[2])
        where = requested
    else:
        index = int(os.environ.get("LOCAL_RANK", "0")) if local_rank is None else int(local_rank)
        where = f"{requested} for the process of LOCAL_RANK {index} (one GPU per process)"
    if index >= count:
        found = "1 CUDA GPU (cuda:0)" if count == 1 else f"{count} CUDA GPUs (cuda:0 to cuda:{count - 1})"
        raise ParamError(f"parameter {name!r} is {where}, but torch finds {found} on this machine")
    return torch.device("cuda", index)


def module_on(module: torch.nn.Module, device: torch.device | str) -> torch.nn.Module:
    """``module`` itself when its parameters are on ``device``, else a copy of it there.

    The original stays where it is: a network a study has loaded (and caches for the chapters)
    is never moved by a stage that runs it on another device.
    """
    import copy

    import torch

    param = next(module.parameters(), None)
    if param is None or param.device == torch.device(device):
        return module
    return copy.deepcopy(module).to(device)


def process_group_backend(device: torch.device | str) -> str:
    """The torch.distributed backend for processes computing on ``device``: NCCL on GPUs, gloo on CPUs."""
    import torch

    return "nccl" if torch.device(device).type == "cuda" else "gloo"


@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """float32 matmuls and convolutions without TF32 inside, the previous settings restored after.

    TF32 (on by default for cuDNN convolutions on Ampere and later GPUs) keeps 10 mantissa bits:
    fine for training, but NAP extraction must equal the CPU's result (and the per-window
    reference) to float32 rounding. On the CPU the flags change nothing.
    """
    import torch

    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def resolve_threads(requested: int | str, share: int = 1) -> int:
    """Threads for one of ``share`` processes side by side: ``auto`` = this machine's cores / share."""
    if requested == "auto":
        return max(1, cores() // max(1, share))
    return int(requested)


def describe_machine() -> str:
    """One line for the start of a study: cores, CPU capability, and the arithmetic ``auto`` picks."""
    native, why = cpu_bf16()
    return (
        f"machine: {cores()} core(s), {why}: precision auto trains in "
        f"{'bfloat16' if native else 'float32'} on the CPU, threads auto = {cores()}"
    )


def machine_record() -> dict[str, object]:
    """The facts a stage's summary records about the machine it ran on."""
    native, _ = cpu_bf16()
    return {"cores": cores(), "cpu_capability": cpu_capability(), "cpu_bf16": native}
