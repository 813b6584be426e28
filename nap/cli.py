"""The ``nap`` command line: run the study or chapters, show results and parameters, synthesize.

nap study [--profile P] [-p NAME VALUE]... [--force] [--no-book]
nap run 05 [06 ...] [--profile P] [-p naps.layers '[layer09, layer10]']
nap build [STAGE ...] [--profile P]      # stages only, no notebooks
nap results [--profile P] [--json]      # reads only: never moves or writes anything
nap gc [--profile P] [--yes]             # stale .partial, .corrupt-* and unused artifacts
nap params [--profile P] [STAGE]
nap corpus synth --out DIR --minutes M --seed S
nap book
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
from pathlib import Path
from typing import Any

from nap.errors import NapError
from nap.params import ParamError, add_change_arguments, check_seed, coerce, read_changes
from nap.profile import STAGES, available_profiles, params_class
from nap.store import DiskFullError


def _study(args: argparse.Namespace, force: bool = False):
    from nap.study import Study

    return Study(args.profile, read_changes(args), args.artifacts, force=force)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="default", help="tiny | default | paper | a profile .yaml file")
    add_change_arguments(p)
    p.add_argument(
        "--artifacts", metavar="DIR", help="artifact folder (default: artifacts/<profile>, or $NAP_ARTIFACTS)"
    )


def cmd_study(args: argparse.Namespace) -> int:
    from nap.runner import run_study

    study = _study(args, force=args.force)
    run_study(study, book=not args.no_book, force=args.force)
    return 0


def _check_chapters(selectors: list[str]) -> None:
    """Every selector must start the name of a chapter notebook (``05``, ``05_naps``)."""
    from nap.runner import chapters, sources_root

    names = [nb.stem for nb in chapters(sources_root())]
    unknown = [s for s in selectors if not any(n.startswith(s) for n in names)]
    if unknown:
        raise ParamError(
            f"unknown chapter(s) {', '.join(map(repr, unknown))}; chapters are: {', '.join(names)} "
            "(give a number such as 05 or a name)"
        )


def cmd_run(args: argparse.Namespace) -> int:
    from nap.runner import run_study

    _check_chapters(args.chapters)
    study = _study(args, force=args.force)
    run_study(study, select=args.chapters, book=not args.no_book, force=args.force)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from nap.schedule import build_stages
    from nap.study import Study

    for stage in args.stages:
        if stage not in STAGES:
            raise ParamError(f"unknown stage {stage!r}; stages are: {', '.join(STAGES)}")
    force = (args.stages or True) if args.force else False
    study = Study(args.profile, read_changes(args), args.artifacts, force=force)
    build_stages(study, args.stages or list(STAGES))
    for stage in args.stages or list(STAGES):
        print(f"[nap] {stage}: {study.artifact(stage).path}")
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    """Every stage's headline numbers. Reads only: a corrupt artifact is reported, not moved."""
    from nap.display import table

    study = _study(args)
    results: dict[str, Any] = {}
    corrupt: dict[str, str] = {}
    for stage in STAGES:
        art, problem = study.store.inspect(stage, study.key(stage))
        results[stage] = None if art is None else art.summary
        if problem is not None:
            corrupt[stage] = (
                f"{study.store.folder(stage, study.key(stage)).name} is corrupt ({problem}); "
                "the next build of the stage moves it aside and recomputes it"
            )
    if args.json:
        out = {"profile": study.profile.name, "artifacts": str(study.store.root), "stages": results}
        print(json.dumps({**out, "corrupt": corrupt} if corrupt else out, indent=2, default=str))
        return 0
    rows = []
    for stage, summary in results.items():
        if summary is None:
            rows.append((stage, "-", f"corrupt: {corrupt[stage]}" if stage in corrupt else "not built"))
            continue
        for key, value in summary.items():
            if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
                rows.extend((stage, f"{key} {inner}", _with_intervals(v)) for inner, v in value.items())
                continue
            if isinstance(value, (dict, list)):
                value = json.dumps(value, default=str)
                value = value if len(value) <= 70 else value[:67] + "..."
            rows.append((stage, key, value))
    print(
        table(rows, ["stage", "number", "value"], title=f"profile {study.profile.name}: {study.store.root}")
    )
    return 0


def _with_intervals(numbers: dict[str, Any]) -> str:
    """One row of per-layer numbers: ``accuracy 0.41 [0.35, 0.47], control 0.30 …``.

    ``ci_low``/``ci_high`` are the interval of the first number, ``<name>_ci_low``/``…_ci_high``
    that of ``<name>``; a missing number shows as n/a.
    """

    def num(x: Any) -> str:
        return "n/a" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)

    parts = []
    for k, (name, value) in enumerate(numbers.items()):
        if name.endswith(("ci_low", "ci_high")):
            continue
        prefix = "" if k == 0 else f"{name}_"
        lo, hi = numbers.get(f"{prefix}ci_low"), numbers.get(f"{prefix}ci_high")
        parts.append(f"{name} {num(value)}" + (f" [{num(lo)}, {num(hi)}]" if lo is not None else ""))
    return ", ".join(parts)


def cmd_seeds(args: argparse.Namespace) -> int:
    """Train and profile one recognizer per seed; write the spread across them (:mod:`nap.seeds`)."""
    from nap.seeds import claims_table, read_spread, run_seeds, spread_table

    for seed in args.seeds:
        check_seed(seed, "nap seeds")
    study = _study(args)
    path = run_seeds(study, args.seeds)
    doc = read_spread(study) or {}
    for g in doc.get("layers", {}):
        print(spread_table(doc, g))
    print(claims_table(doc))
    print(f"[nap] seeds: {path}; `nap run 06` with the same options shows it in the book")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    """List, and with ``--yes`` delete, the folders of the store no build of these parameters uses."""
    from nap.display import table
    from nap.store import folder_bytes

    study = _study(args)
    store = study.store
    found = store.leftovers({stage: study.key(stage) for stage in STAGES}) if store.root.is_dir() else []
    if not found:
        print(f"[nap] nothing to remove in {store.root}")
        return 0
    sizes = {f.path: folder_bytes(f.path) for f in found}
    rows = [(f.kind, f.path.name, f"{sizes[f.path] / 1e6:.1f} MB", f.why) for f in found]
    title = f"{store.root}: not used by profile {study.profile.name} with these parameters"
    print(table(rows, ["kind", "folder", "size", "why"], title=title))
    total = sum(sizes.values()) / 1e6
    if not args.yes:
        print(f"[nap] dry run, nothing removed: --yes removes these {len(found)} folder(s), {total:.1f} MB")
        return 0
    kept = [f for f in found if not store.remove(f)]
    print(f"[nap] removed {len(found) - len(kept)} folder(s) from {store.root}")
    for f in kept:
        print(f"[nap] kept {f.path.name}: a build started on it meanwhile")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    from nap.display import table
    from nap.profile import Profile

    profile = Profile.load(args.profile, read_changes(args))
    stages = [args.stage] if args.stage else list(STAGES)
    for stage in stages:
        cls = params_class(stage)
        values = profile[stage]
        rows = [(name, tp, repr(getattr(values, name)), doc) for name, tp, _, doc in cls.describe()]
        print(table(rows, ["parameter", "type", "value", "meaning"], title=f"[{stage}]"))
        print()
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from nap.corpus import synthesize

    if coerce(args.minutes, float, "--minutes") <= 0:  # coerce refuses nan and inf
        raise ParamError(f"parameter '--minutes' must be > 0, got {args.minutes}")
    check_seed(args.seed, "--seed")
    if args.workers < 1:
        raise ParamError(f"parameter '--workers' must be at least 1, got {args.workers}")
    summary = synthesize(Path(args.out), minutes=args.minutes, seed=args.seed, workers=args.workers)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def cmd_book(args: argparse.Namespace) -> int:
    from nap.runner import build_book

    build_book()
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="nap", description="Neuron Activation Profiles: run and explore the study."
    )
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("study", help="run every chapter with a profile and build the book")
    _add_common(p)
    p.add_argument("--force", action="store_true", help="recompute every stage and re-execute every chapter")
    p.add_argument("--no-book", action="store_true", help="run the chapters but do not build the book")
    p.set_defaults(func=cmd_study)

    p = sub.add_parser("run", help="run chapters by number (e.g. 05) with changed parameters")
    p.add_argument("chapters", nargs="+", help="chapter numbers or names, e.g. 05 or 05_naps")
    _add_common(p)
    p.add_argument("--force", action="store_true", help="recompute the stages of these chapters")
    p.add_argument("--no-book", action="store_true", help="do not rebuild the book")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("build", help="build stages (and what they read) without running the chapters")
    p.add_argument(
        "stages", nargs="*", metavar="STAGE", help=f"stages to build (default: all): {', '.join(STAGES)}"
    )
    _add_common(p)
    p.add_argument("--force", action="store_true", help="recompute the named stages")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("results", help="every stage's headline numbers")
    _add_common(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser(
        "seeds",
        help="train and profile one recognizer per seed (asr.seed) and report the spread of the "
        "per-layer scores and verdicts (each seed is a whole recognizer: meant for GPUs)",
    )
    p.add_argument(
        "seeds", nargs="+", type=int, metavar="SEED", help="at least two recognizer seeds, e.g. 0 1 2"
    )
    _add_common(p)
    p.set_defaults(func=cmd_seeds)

    p = sub.add_parser(
        "gc",
        help="list (with --yes: delete) stale .partial folders, corrupt artifacts moved aside, and "
        "artifacts of other parameters than the profile's (with the -p changes)",
    )
    _add_common(p)
    p.add_argument("--yes", action="store_true", help="delete what is listed (default: only list it)")
    p.set_defaults(func=cmd_gc)

    p = sub.add_parser("params", help="every parameter with its value and meaning")
    _add_common(p)
    p.add_argument("stage", nargs="?", choices=list(STAGES))
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("corpus", help="corpus tools")
    csub = p.add_subparsers(dest="corpus_command", required=True)
    s = csub.add_parser("synth", help="synthesize the embedded corpus in LibriSpeech layout")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--minutes", type=float, default=60.0, help="minutes of audio (default 60)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--workers", type=int, default=2, help="parallel synthesis processes")
    s.set_defaults(func=cmd_synth)

    p = sub.add_parser("book", help="build the book from the executed chapters in book/")
    p.set_defaults(func=cmd_book)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ParamError as exc:  # parameters and profiles: 2; every other NapError and a full disk: 1
        print(f"nap: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("nap: interrupted; finished artifacts are kept and the next run resumes", file=sys.stderr)
        return 130
    except Exception as exc:
        if not is_user_error(exc):
            raise
        print(f"nap: error: {exc}", file=sys.stderr)
        if isinstance(exc, DiskFullError) or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
            print("nap: finished artifacts are kept; free some space and rerun to resume", file=sys.stderr)
        return 1


def is_user_error(exc: BaseException) -> bool:
    """An error the user can act on: a :class:`~nap.errors.NapError` (its message names the file
    or parameter at fault, e.g. a missing LibriSpeech folder or a bad audio file) or a full disk.
    Anything else is a bug and keeps its traceback."""
    return isinstance(exc, NapError) or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["main", "parser", "available_profiles"]
