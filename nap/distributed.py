"""The one torchrun entry point: a stage built by every process of a torchrun group::

    torchrun --nproc_per_node 4 -m nap.distributed asr --profile paper
    torchrun --nproc_per_node 4 -m nap.distributed naps --profile paper -p naps.layers '[layer09]'

It makes the :class:`~nap.study.Study` and hands it to the stage's own function, named by
the ``torchrun`` field of its record in :mod:`nap.stages` (``run(study, args)``, whose
module's ``add_arguments(parser)`` adds the stage's own options). That function goes
through ``Study.join_group`` and ``Study.compute``. ``python -m nap.asr`` and
``python -m nap.naps`` are aliases of this command with their stage.
"""

from __future__ import annotations

import argparse
from typing import Any

from nap.params import ParamError, add_change_arguments, read_changes
from nap.stages import REGISTRY, resolve
from nap.study import Study


def stages() -> list[str]:
    """The stages whose build a torchrun group can share (those with a ``torchrun`` function)."""
    return [name for name, stage in REGISTRY.items() if stage.torchrun]


def _add_arguments(stage: str) -> Any:
    """The ``add_arguments(parser)`` beside the stage's torchrun function."""
    module = REGISTRY[stage].torchrun.partition(":")[0]  # type: ignore[union-attr]
    return resolve(f"{module}:add_arguments")


def parser(stage: str | None = None, prog: str = "python -m nap.distributed") -> argparse.ArgumentParser:
    """The command line: ``STAGE`` and the common options, then the stage's own options.

    With ``stage`` given (the aliases ``python -m nap.asr`` and ``-m nap.naps``) there is no
    ``STAGE`` argument and only that stage's options.
    """
    ap = argparse.ArgumentParser(prog=prog, description=main.__doc__)
    if stage is None:
        sub = ap.add_subparsers(dest="stage", required=True, metavar="STAGE")
        parsers = {name: sub.add_parser(name, help=f"build the {name} stage") for name in stages()}
    else:
        parsers = {stage: ap}
        ap.set_defaults(stage=stage)
    for name, p in parsers.items():
        p.add_argument("--profile", default="default", help="profile name or YAML file (default: default)")
        add_change_arguments(p)
        p.add_argument("--artifacts", default=None, help="artifact folder (default: artifacts/<profile>)")
        p.add_argument("--force", action="store_true", help="build the stage even if its artifact exists")
        _add_arguments(name)(p)
    return ap


def main(argv: list[str] | None = None, stage: str | None = None, prog: str | None = None) -> int:
    """Build a stage of the study with every process of a torchrun group (or with one process)."""
    ap = parser(stage, prog or "python -m nap.distributed")
    args = ap.parse_args(argv)
    try:
        study = Study(
            args.profile, read_changes(args), args.artifacts, force=[args.stage] if args.force else False
        )
        return int(REGISTRY[args.stage].torchrun_function()(study, args))
    except ParamError as exc:  # a parameter, a profile or an option: status 2, one line
        ap.error(str(exc))


if __name__ == "__main__":
    raise SystemExit(main())
