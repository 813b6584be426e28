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
    """``device`` ("auto", "cpu", "cuda"), one GPU per local rank when on CUDA."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.cuda.set_device(info.local_rank)
        return torch.device("cuda", info.local_rank)
    return torch.device(device)


def init(info: DistInfo, device: torch.device, timeout_minutes: float = 60.0) -> None:
    """Join the process group (a no-op for a single process)."""
    if info.active and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(
            backend, rank=info.rank, world_size=info.world, timeout=timedelta(minutes=timeout_minutes)
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


def barrier(info: DistInfo) -> None:
    if info.active:
        dist.barrier()
