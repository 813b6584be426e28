"""Train the recognizer in one process or, through torchrun, in several (one per GPU or CPU share)::

    torchrun --nproc_per_node 2 -m nap.asr --profile tiny -p asr.epochs 3
    python -m nap.asr --profile default --train-only
    torchrun --nproc_per_node 2 -m nap.asr --synthetic 64 --work /tmp/w  # check a set-up

Trained with several processes, the stage's work folder holds the finished training, and
the study (``nap run 02``) then only evaluates it. The training itself is :mod:`nap.asr.train`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nap.asr import distributed as D
from nap.asr.params import AsrParams
from nap.asr.stage import prepare_all
from nap.asr.train import train
from nap.params import add_change_arguments, read_changes
from nap.profile import Profile
from nap.study import Study


def main(argv: list[str] | None = None) -> int:
    """Train the ``asr`` stage of a profile, in its work folder, in one or (torchrun) several processes."""
    ap = argparse.ArgumentParser(prog="python -m nap.asr", description=main.__doc__)
    ap.add_argument("--profile", default="default", help="profile name or YAML file (default: default)")
    add_change_arguments(ap)
    ap.add_argument("--artifacts", default=None, help="artifact folder (default: artifacts/<profile>)")
    ap.add_argument("--work", default=None, help="train into this folder instead of the stage's work folder")
    ap.add_argument(
        "--train-only", action="store_true", help="leave evaluating and finishing the stage for later"
    )
    ap.add_argument(
        "--synthetic",
        type=int,
        default=0,
        metavar="N",
        help="train on N synthetic utterances (nap.asr.synthetic) to check a set-up; needs --work",
    )
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)

    changes = read_changes(args)
    info = D.from_env()
    p: AsrParams = Profile.load(args.profile, changes)["asr"]  # type: ignore[assignment]
    device = D.device_for(info, p.device)
    D.init(info, device)

    study = None
    if args.synthetic:
        if not args.work:
            ap.error("--synthetic needs --work")
        from nap.asr.synthetic import SyntheticCorpus

        corpus = features = SyntheticCorpus(n_train=args.synthetic, n_test=8, seed=p.seed)
        work = Path(args.work)
    else:
        # with --work the stage's artifact is not looked for: it trains into that folder anyway
        study = Study(args.profile, changes, args.artifacts, force=["asr"] if args.work else False)
        group = study.join_group("asr", info.main, lambda flag: D.all_sum([float(flag)], info, device)[0] > 0)
        if group is None:
            if info.main:
                print(f"[nap] asr: already built at {study.artifact('asr', build=False).path}")
            D.shutdown(info)
            return 0
        work, (corpus, features) = group
        if args.work:
            work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    arch, train_set, eval_sets = prepare_all(p, corpus, features, curves=info.main)
    record = train(work, p, arch, train_set, eval_sets, info=info, progress=not args.no_progress)
    D.shutdown(info)
    if info.main:
        print(json.dumps({k: v for k, v in record.items() if k != "history"}))
        if study is not None and not args.train_only and not args.work:
            print(f"[nap] asr: finished at {study.artifact('asr').path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
