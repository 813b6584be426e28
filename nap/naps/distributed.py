"""NAP extraction over several processes: each takes a shard of the utterances, sums are all-reduced.

The accumulators are plain sums (window sums, counts, probe rows that only one process
fills), so summing them across processes gives the single-process result. Under
``torchrun`` every process runs the same command; the process group uses gloo (CPU) or
NCCL when a GPU is chosen. For the study::

    torchrun --nproc_per_node 4 -m nap.naps --profile paper [--artifacts DIR] [-p naps.layers '[layer09]']

builds the naps stage with 4 processes (its inputs — corpus, features, asr, align — are
built first by rank 0 if needed); rank 0 writes the artifact, the others only compute.
"""

from __future__ import annotations

import argparse
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


def all_reduce(acc: Any) -> None:
    """Sum every tensor of a :class:`~nap.naps.extract.NapAccumulator` across processes, in place."""
    if world()[1] == 1:
        return
    for tensor in acc.tensors().values():
        if tensor.dim() == 0:
            buf = tensor.reshape(1).clone()
            dist.all_reduce(buf)
            tensor.copy_(buf[0])
        else:
            dist.all_reduce(tensor)


def broadcast_flag(flag: bool) -> bool:
    """Rank 0's ``flag`` on every process."""
    if world()[1] == 1:
        return flag
    t = torch.tensor([int(flag)])
    dist.broadcast(t, 0)
    return bool(t.item())


def main(argv: list[str] | None = None) -> int:
    """``torchrun ... -m nap.naps``: build the study's naps stage with every process of the group."""
    from nap.study import DEPENDS, Study

    ap = argparse.ArgumentParser(prog="python -m nap.naps", description=main.__doc__)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--artifacts", default=None)
    ap.add_argument(
        "-p",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter change (value in YAML), e.g. -p naps.layers '[layer09]'",
    )
    ap.add_argument("--force", action="store_true", help="recompute even if the artifact exists")
    args = ap.parse_args(argv)
    from nap.params import parse_value

    changes = {name: parse_value(value) for name, value in args.p}
    rank, size = init_from_env()
    study = Study(args.profile, changes, args.artifacts, force=["naps"] if args.force else False)
    if rank == 0:
        for dep in DEPENDS["naps"]:
            study.load(dep)  # builds what is missing, on rank 0 only
        done = study.artifact("naps", build=False) is not None and not args.force
    else:
        done = False
    done = broadcast_flag(done)
    if done:
        if rank == 0:
            print(f"[nap] naps: already built at {study.artifact('naps', build=False).path}")
        return 0
    if size > 1:
        dist.barrier()
    if rank == 0:
        art = study.artifact("naps")
        print(f"[nap] naps: built with {size} process(es) at {art.path}")
    else:
        from nap.naps.stage import build_naps

        deps = [study.load(dep) for dep in DEPENDS["naps"]]
        work = study.store.folder("naps", study.key("naps")).with_name(
            study.store.folder("naps", study.key("naps")).name + ".partial"
        )
        build_naps(work, study.params("naps"), *deps)
    if size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return 0
