"""NAP extraction over several processes: each takes a shard of the utterances, sums are all-reduced.

The accumulators are plain sums (window sums, counts, probe rows that only one process
fills), so summing them across processes gives the single-process result. Under
``torchrun`` every process runs the same command; the process group uses gloo on CPUs, or
NCCL with one process per GPU (its LOCAL_RANK's) when ``naps.device`` is a GPU
(:func:`nap.hardware.process_group_backend`). For the study::

    torchrun --nproc_per_node 4 -m nap.distributed naps --profile paper [-p naps.layers '[layer09]']

builds the naps stage with 4 processes (its inputs — corpus, features, asr, align — are
built first by rank 0 if needed); rank 0 writes the artifact, the others only compute. That
command line is :mod:`nap.distributed` (the stage's part :mod:`nap.naps.torchrun`; ``-m nap.naps``
is an alias); this module holds only the process-group helpers.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, world size) of the current process group, (0, 1) when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(backend: str = "gloo") -> tuple[int, int]:
    """Join the process group torchrun describes in the environment (no-op outside torchrun)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group(backend)
    return world()


def collective_device() -> torch.device:
    """Where the group's collectives take tensors: this process's GPU under NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce(acc: Any) -> None:
    """Sum every tensor of a :class:`~nap.naps.extract.NapAccumulator` across processes, in place.

    Tensors held elsewhere than the collectives want them (counts and probe rows stay on the
    CPU under NCCL) and 0-d ones go through a buffer.
    """
    if world()[1] == 1:
        return
    device = collective_device()
    for tensor in acc.tensors().values():
        if tensor.dim() == 0 or tensor.device != device:
            buf = tensor.reshape(-1).to(device, copy=True)
            dist.all_reduce(buf)
            tensor.copy_(buf.reshape(tensor.shape))
        else:
            dist.all_reduce(tensor)


def broadcast_flag(flag: bool) -> bool:
    """Rank 0's ``flag`` on every process."""
    if world()[1] == 1:
        return flag
    t = torch.tensor([int(flag)], device=collective_device())
    dist.broadcast(t, 0)
    return bool(t.item())
