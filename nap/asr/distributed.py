"""Data-parallel training through ``torchrun``: process group set-up from its environment.

``torchrun --nproc_per_node N -m nap.asr ...`` sets RANK, WORLD_SIZE and
LOCAL_RANK; each process then trains on its share of every batch and
DistributedDataParallel averages the gradients (gloo on CPU, NCCL on GPUs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from nap.hardware import process_group_backend, resolve_device


@dataclass(frozen=True)
class DistInfo:
    """This process's place among the training processes."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def from_env() -> DistInfo:
    """Rank and world size as torchrun sets them (a single process when unset)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not 0 <= rank < world:
        raise RuntimeError(f"RANK={rank} is outside WORLD_SIZE={world}")
    return DistInfo(rank, world, local)


def device_for(info: DistInfo, device: str) -> torch.device:
    """``asr.device`` resolved (:func:`nap.hardware.resolve_device`), one GPU per local rank on CUDA."""
    resolved = resolve_device(device, "asr.device", info.local_rank)
    if resolved.type == "cuda":
        torch.cuda.set_device(resolved)
    return resolved


def init(info: DistInfo, device: torch.device, timeout_minutes: float = 60.0) -> None:
    """Join the process group (a no-op for a single process)."""
    if info.active and not dist.is_initialized():
        dist.init_process_group(
            process_group_backend(device),
            rank=info.rank,
            world_size=info.world,
            timeout=timedelta(minutes=timeout_minutes),
        )


def shutdown(info: DistInfo) -> None:
    if info.active and dist.is_initialized():
        dist.destroy_process_group()


def all_sum(values: list[float], info: DistInfo, device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over all processes."""
    if not info.active:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def all_sum_(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``t`` over all processes in place, without reading it back to the host (on GPUs the
    exchange is queued on the device like any other work); a no-op for a single process."""
    if info.active:
        dist.all_reduce(t)
    return t


def barrier(info: DistInfo) -> None:
    if info.active:
        dist.barrier()
