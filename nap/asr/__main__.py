"""Train the recognizer in one process or, through torchrun, in several (one per GPU or CPU share)::

    torchrun --nproc_per_node 2 -m nap.distributed asr --profile tiny -p asr.epochs 3
    python -m nap.asr --profile default --train-only
    torchrun --nproc_per_node 2 -m nap.asr --synthetic 64 --work /tmp/w  # check a set-up

``python -m nap.asr ...`` is ``python -m nap.distributed asr ...`` (:mod:`nap.distributed`,
the stage's part is :mod:`nap.asr.torchrun`), kept for the scripts that use it.
"""

from __future__ import annotations

from nap import distributed


def main(argv: list[str] | None = None) -> int:
    """``python -m nap.distributed asr ...``."""
    return distributed.main(argv, stage="asr", prog="python -m nap.asr")


if __name__ == "__main__":
    raise SystemExit(main())
