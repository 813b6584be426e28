"""The asr stage in one process of a torchrun group (:mod:`nap.distributed`'s ``asr``).

Trained with several processes, the stage's work folder holds the finished training, and
the study (``nap run 02``) then only evaluates it. The training itself is :mod:`nap.asr.train`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nap.asr import distributed as D
from nap.asr.params import AsrParams
from nap.asr.stage import prepare_all
from nap.asr.train import train
from nap.params import ParamError


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The asr stage's own options."""
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


def run(study: Any, args: argparse.Namespace) -> int:
    """Train the study's ``asr`` stage, in its work folder (or ``--work``), in this process's share."""
    if args.synthetic and not args.work:
        raise ParamError("--synthetic needs --work")
    info = D.from_env()
    p: AsrParams = study.params("asr")
    device = D.device_for(info, p.device)
    D.init(info, device)

    if args.synthetic:
        from nap.asr.synthetic import SyntheticCorpus

        corpus = features = SyntheticCorpus(n_train=args.synthetic, n_test=8, seed=p.seed)
        work = Path(args.work)
    else:
        if args.work:  # the stage's artifact is not looked for: it trains into that folder anyway
            study.force.add("asr")
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
        if not args.train_only and not args.work:  # (--synthetic needs --work)
            print(f"[nap] asr: finished at {study.artifact('asr').path}")
    return 0
