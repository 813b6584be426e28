"""``torchrun --nproc_per_node N -m nap.naps --profile P``: the naps stage over N processes.

``python -m nap.naps ...`` is ``python -m nap.distributed naps ...`` (:mod:`nap.distributed`,
the stage's part is :mod:`nap.naps.torchrun`), kept for the scripts that use it. See
:mod:`nap.naps.distributed` for how the processes share the work.
"""

from __future__ import annotations

from nap import distributed


def main(argv: list[str] | None = None) -> int:
    """``python -m nap.distributed naps ...``."""
    return distributed.main(argv, stage="naps", prog="python -m nap.naps")


if __name__ == "__main__":
    raise SystemExit(main())
