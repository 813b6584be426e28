"""``torchrun --nproc_per_node N -m nap.naps --profile P``: the naps stage over N processes.

See :mod:`nap.naps.distributed` for how the processes share the work.
"""

from __future__ import annotations

import argparse

import torch.distributed as dist

from nap.naps.distributed import broadcast_flag, init_from_env
from nap.params import add_change_arguments, read_changes
from nap.study import Study


def main(argv: list[str] | None = None) -> int:
    """``torchrun ... -m nap.naps``: build the study's naps stage with every process of the group."""
    ap = argparse.ArgumentParser(prog="python -m nap.naps", description=main.__doc__)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--artifacts", default=None)
    add_change_arguments(ap)
    ap.add_argument("--force", action="store_true", help="recompute even if the artifact exists")
    args = ap.parse_args(argv)
    changes = read_changes(args)
    rank, size = init_from_env()
    study = Study(args.profile, changes, args.artifacts, force=["naps"] if args.force else False)
    group = study.join_group("naps", rank == 0, broadcast_flag)
    if group is None:
        if rank == 0:
            print(f"[nap] naps: already built at {study.artifact('naps', build=False).path}")
        return 0
    if size > 1:
        dist.barrier()
    if rank == 0:
        art = study.artifact("naps")
        print(f"[nap] naps: built with {size} process(es) at {art.path}")
    else:  # computes its share in the work folder of rank 0's build
        study.compute("naps", *group)
    if size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
