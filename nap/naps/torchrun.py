"""The naps stage in one process of a torchrun group (:mod:`nap.distributed`'s ``naps``).

See :mod:`nap.naps.distributed` for how the processes share the work.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
import torch.distributed as dist

from nap.hardware import process_group_backend, resolve_device
from nap.naps.distributed import broadcast_flag, init_from_env


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The naps stage has no options of its own (``--force`` is common to every stage)."""


def run(study: Any, args: argparse.Namespace) -> int:
    """Build the study's naps stage: rank 0 through the store, the others their share in its work folder.

    On GPUs (``naps.device``) each process takes its LOCAL_RANK's GPU and the group uses NCCL;
    on CPUs gloo.
    """
    device = resolve_device(study.params("naps").device, "naps.device")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    rank, size = init_from_env(process_group_backend(device))
    group = study.join_group("naps", rank == 0, broadcast_flag)
    if group is None:
        if rank == 0:
            print(f"[nap] naps: already built at {study.artifact('naps', build=False).path}")
        _leave(size)  # all together: a process that exits with its group alive can abort in gloo
        return 0
    if size > 1:
        dist.barrier()
    if rank == 0:
        art = study.artifact("naps")
        print(f"[nap] naps: built with {size} process(es) at {art.path}")
    else:  # computes its share in the work folder of rank 0's build
        study.compute("naps", *group)
    _leave(size)
    return 0


def _leave(size: int) -> None:
    """Wait for every process, then close the group."""
    if size > 1:
        dist.barrier()
        dist.destroy_process_group()
