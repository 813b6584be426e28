"""Run the chapters with papermill into ``book/`` and build the book with jupyter-book.

Each chapter ``chapters/NN_name.ipynb`` is executed with the parameters ``profile``,
``params`` and ``artifacts`` into ``book/NN_name.ipynb``. A chapter is re-executed only
when its notebook, the ``nap`` code or the keys of the stages it shows changed (a stamp
beside the executed notebook records them), so a rerun with nothing changed only
rebuilds the book, and a changed parameter re-executes the chapters that depend on it.
The introduction (``00_``) reads every stage and runs last. ``nap run 05`` also reruns the
chapters that show what depends on chapter 5's stages (6, 7 and the introduction; each only
if its stamp changed). The book is built with execution off, warnings as errors (``-W``)
and nothing fetched from the network, into a fresh ``_build/html`` each time, so no page
of other parameters (nor a redirect to one) stays reachable.

The chapters and the book's sources live in the project's checkout, not in the installed
package: these functions look for it at or above the current folder (:func:`sources_root`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nap.errors import NapError
from nap.stages import chapter_stages, downstream
from nap.store import atomic_path, file_lock, read_json, stable_hash, write_json
from nap.study import Study, project_root

#: The stages whose results each chapter shows, by chapter number (from the stages' records;
#: the introduction shows every stage).
CHAPTER_STAGES: dict[str, tuple[str, ...]] = chapter_stages()


class RunnerError(NapError, RuntimeError):
    """A chapter or the book build failed."""


def chapters(root: Path) -> list[Path]:
    """The chapter notebooks in execution order (the ``00_`` introduction last)."""
    found = sorted((root / "chapters").glob("[0-9][0-9]_*.ipynb"))
    return [c for c in found if not c.name.startswith("00_")] + [c for c in found if c.name.startswith("00_")]


def sources_root(root: Path | None = None, need_chapters: bool = True) -> Path:
    """``root`` (default: the checkout at or above the current folder) after checking that it
    holds the book's sources (``_config.yml``, ``_toc.yml``) and, with ``need_chapters``, the
    chapter notebooks; else a :class:`RunnerError` that says where they are expected."""
    root = root or project_root()
    needed = ["_config.yml", "_toc.yml"] + (["chapters/NN_*.ipynb"] if need_chapters else [])
    missing = [n for n in needed[:2] if not (root / n).is_file()]
    if need_chapters and not chapters(root):
        missing.append(needed[2])
    if missing:
        package_checkout = project_root(Path(__file__).parent)
        hint = (
            f" (the nap package in use comes from the checkout {package_checkout}: run it there)"
            if chapters(package_checkout)
            else " (a clone of the project's repository; the installed package holds no chapters)"
        )
        raise RunnerError(
            f"no book sources in {root} (missing {', '.join(missing)}): nap study, nap run and nap book "
            f"run in the project's checkout, the folder holding {', '.join(needed)} and book/; "
            f"run them from inside it{hint}"
        )
    return root


def with_dependents(select: Iterable[str], root: Path) -> list[str]:
    """The chapters ``select`` names plus every chapter that shows a stage reading (directly or
    not) one they show, or one of those stages itself: the pages a change there makes stale.

    ``nap run 05`` (the NAPs) gives ``05_naps``, ``06_clustering``, ``07_explorer`` and the
    introduction, which shows every stage.
    """
    wanted = list(select)
    names = [nb.stem for nb in chapters(root)]
    picked = [n for n in names if any(n.startswith(w) for w in wanted)]
    stale = set(downstream(s for n in picked for s in CHAPTER_STAGES.get(n[:2], ())))
    return [n for n in names if n in picked or stale & set(CHAPTER_STAGES.get(n[:2], ()))]


@contextlib.contextmanager
def book_lock(book: Path) -> Iterator[None]:
    """One process executes chapters into ``book`` at a time (two would overwrite each other's pages)."""
    with file_lock(book / ".runner" / "lock", f"executing chapters into {book}"):
        yield


def remove_stale_temporaries(book: Path) -> list[Path]:
    """Delete the temporary notebooks (``book/.NN_name.ipynb.*``) an interrupted run left; call
    it holding :func:`book_lock`, so that no running execution owns them. Returns what it deleted."""
    stale = sorted(f for f in book.glob(".[0-9][0-9]_*.ipynb.*") if f.is_file())
    for f in stale:
        f.unlink(missing_ok=True)
    if stale:
        print(f"[nap] removed {len(stale)} temporary notebook(s) of an interrupted run: {stale[0].name}, ...")
    return stale


def code_hash(root: Path) -> str:
    """Hash of the ``nap`` package's source: executed chapters go stale when it changes."""
    digest = hashlib.sha256()
    for f in sorted((root / "nap").rglob("*")):
        if f.suffix in (".py", ".yaml") and "__pycache__" not in f.parts:
            digest.update(f.relative_to(root).as_posix().encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def shown_files(number: str, study: Study) -> list[Path]:
    """Files a chapter shows where they exist, written outside the stages: the spread across
    recognizer seeds (chapter 6, ``nap seeds``), the Phonetisaurus benchmark (chapter 3) and
    the recognizer variants (chapter 8), both from ``benchmarks/``."""
    from nap import seeds
    from nap.g2p.report import benchmark_path
    from nap.real_speech.results import variants_path

    files = {
        seeds.CHAPTER: lambda: [seeds.spread_path(study)],
        "03": lambda: [benchmark_path(study.store.folder("g2p", study.key("g2p")))],
        "08": lambda: [variants_path(study.store.root)],
    }
    return files[number]() if number in files else []


def chapter_stamp(nb: Path, study: Study, code: str) -> str:
    """What an executed chapter depends on: its notebook, the code, the keys of the stages it
    shows, the artifact folder it read them from (another store holds other files), and the
    files it shows that no stage writes (:func:`shown_files`), so a new benchmark reruns it."""
    number = nb.name[:2]
    keys = {s: study.key(s) for s in CHAPTER_STAGES.get(number, tuple(study.profile.stages))}
    stamp = {
        "notebook": hashlib.sha256(nb.read_bytes()).hexdigest(),
        "code": code,
        "keys": keys,
        "artifacts": str(study.store.root),
        "files": {
            f.name: hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else None
            for f in shown_files(number, study)
        },
    }
    return stable_hash(stamp)


def execute_chapter(nb: Path, out: Path, parameters: dict[str, Any], cwd: Path) -> float:
    """Execute one chapter with papermill into ``out`` (atomically); returns seconds."""
    import papermill

    start = time.time()
    with atomic_path(out) as tmp:
        tmp_nb = tmp.with_suffix(".ipynb")
        try:
            papermill.execute_notebook(
                str(nb),
                str(tmp_nb),
                parameters=parameters,
                cwd=str(cwd),
                kernel_name="python3",
                progress_bar=False,
                log_output=True,
            )
        except Exception as exc:  # papermill raises PapermillExecutionError with the cell
            failed = out.with_name(out.stem + ".failed.ipynb")
            if tmp_nb.exists():
                shutil.move(tmp_nb, failed)
            raise RunnerError(f"chapter {nb.name} failed (executed copy: {failed}):\n{exc}") from exc
        os.replace(tmp_nb, tmp)
    return time.time() - start


def run_chapters(
    study: Study,
    select: Iterable[str] | None = None,
    root: Path | None = None,
    force: bool = False,
    book_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Execute the chapters (all, or those whose number or name starts with one of ``select``).

    The executed copies go to ``book_dir`` (default ``<root>/book``); temporary notebooks of
    an interrupted run there are deleted first.
    """
    root = sources_root(root)
    book = book_dir or root / "book"
    with book_lock(book):
        remove_stale_temporaries(book)
        return _run_chapters(study, select, root, force, book)


def _run_chapters(
    study: Study, select: Iterable[str] | None, root: Path, force: bool, book: Path
) -> list[dict[str, Any]]:
    stamps_dir = book / ".runner"
    code = code_hash(root)
    parameters = {
        "profile": str(study.profile_ref),
        "params": study.changes,
        "artifacts": str(study.store.root),
    }
    report = []
    wanted = list(select or [])
    for nb in chapters(root):
        if wanted and not any(nb.name.startswith(w) for w in wanted):
            continue
        out = book / nb.name
        stamp = chapter_stamp(nb, study, code)
        stamp_file = stamps_dir / f"{nb.stem}.json"
        if not force and out.exists() and stamp_file.exists() and read_json(stamp_file).get("stamp") == stamp:
            print(f"[nap] {nb.name}: up to date")
            report.append({"chapter": nb.stem, "seconds": 0.0, "skipped": True})
            continue
        print(f"[nap] {nb.name}: executing")
        seconds = execute_chapter(nb, out, parameters, cwd=root)
        write_json(stamp_file, {"stamp": stamp, "seconds": round(seconds, 1), "parameters": parameters})
        print(f"[nap] {nb.name}: done in {seconds:.0f} s")
        report.append({"chapter": nb.stem, "seconds": round(seconds, 1), "skipped": False})
    return report


def toc_of_existing_pages(root: Path, stale: Iterable[str] = ()) -> tuple[Path, list[str]]:
    """``_toc.yml`` without the pages that do not exist yet (chapters not executed).

    Returns the path of the table of contents to build with (the project's own when every
    page exists, else a filtered copy under ``_build/``) and the pages left out, so that
    ``nap run 01`` publishes chapter 1 before the later chapters have run. Pages named in
    ``stale`` (executed with other parameters than this run's) are left out too, so a book
    never mixes the results of two profiles.
    """
    import yaml

    stale = set(stale)

    toc_path = root / "_toc.yml"
    toc = yaml.safe_load(toc_path.read_text())

    def exists(entry: str) -> bool:
        if entry in stale:
            return False
        return any((root / f"{entry}{ext}").exists() for ext in ("", ".md", ".ipynb"))

    missing: list[str] = []
    for part in toc.get("parts", []):
        kept = []
        for chapter in part.get("chapters", []):
            if "file" in chapter and not exists(chapter["file"]):
                missing.append(chapter["file"])
            else:
                kept.append(chapter)
        part["chapters"] = kept
    toc["parts"] = [p for p in toc.get("parts", []) if p.get("chapters")]
    if not exists(toc["root"]):
        missing.append(toc["root"])
        first = toc["parts"][0]["chapters"].pop(0)
        toc["root"] = first["file"]
        toc["parts"] = [p for p in toc["parts"] if p.get("chapters")]
    if not missing:
        return toc_path, []
    filtered = root / "_build" / "_toc.partial.yml"
    filtered.parent.mkdir(parents=True, exist_ok=True)
    filtered.write_text(yaml.safe_dump(toc, sort_keys=False))
    return filtered, missing


def stale_chapters(study: Study, root: Path, book_dir: Path | None = None) -> list[str]:
    """Executed chapters in the book whose stamp does not match this study (other parameters)."""
    book = book_dir or root / "book"
    code = code_hash(root)
    stale = []
    for nb in chapters(root):
        out, stamp_file = book / nb.name, book / ".runner" / f"{nb.stem}.json"
        if out.exists():
            recorded = read_json(stamp_file).get("stamp") if stamp_file.exists() else None
            if recorded != chapter_stamp(nb, study, code):
                stale.append(f"book/{nb.stem}")
    return stale


def build_book(root: Path | None = None, strict: bool = True, stale: Iterable[str] = ()) -> Path:
    """Build the HTML book of the project at ``root`` (execution off, ``-W``); returns the index page.

    ``root`` holds ``_config.yml``, ``_toc.yml`` and ``book/`` (tests build a copy elsewhere).
    """
    root = sources_root(root, need_chapters=False)
    with file_lock(root / "_build" / ".lock", f"building the book in {root / '_build'}"):
        return _build_book(root, strict, stale)


def _build_book(root: Path, strict: bool, stale: Iterable[str]) -> Path:
    """Build into a fresh ``_build/html`` (the parsed pages' cache is kept); the previous site
    stays in place until the new one is complete, and comes back if the build fails."""
    from nap.schedule import die_with_parent

    launcher = "import sys; from jupyter_book.cli.main import main; sys.exit(main())"
    cmd = [sys.executable, "-c", launcher, "build", str(root), "--builder", "html"]
    toc, missing = toc_of_existing_pages(root, stale)
    if missing:
        print(f"[nap] not executed yet with these parameters, left out of the book: {', '.join(missing)}")
        cmd += ["--toc", str(toc)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")
    html = root / "_build" / "html"
    previous = html.with_name(".html-previous")
    shutil.rmtree(previous, ignore_errors=True)  # left by a killed build: html is the last good site
    if html.exists():
        os.replace(html, previous)  # pages of a former build (other parameters, left-out chapters) go
    print("[nap] building the book:", "jupyter-book", " ".join(cmd[3:]))
    try:
        # the build dies with this process: a killed `nap study` leaves no jupyter-book behind
        proc = subprocess.run(
            cmd, cwd=root, env=env, text=True, capture_output=True, preexec_fn=die_with_parent
        )
    except BaseException:
        _restore(html, previous)
        raise
    log = root / "_build" / "build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        _restore(html, previous)
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise RunnerError(f"the book build failed (full log: {log}):\n{tail}")
    shutil.rmtree(previous, ignore_errors=True)
    index = html / "index.html"
    print(f"[nap] book built: {index}")
    return index


def _restore(html: Path, previous: Path) -> None:
    """Put the previous site back after a failed build (a half-built one is never left)."""
    if previous.exists():
        shutil.rmtree(html, ignore_errors=True)
        os.replace(previous, html)


def run_study(
    study: Study,
    select: Iterable[str] | None = None,
    book: bool = True,
    root: Path | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Build the stages the chapters show, run the chapters and build the book.

    Returns the wall-clock seconds of each stage built and each chapter run (also saved in
    ``<artifacts>/timings.json``).
    """
    from nap.hardware import describe_machine, machine_record
    from nap.schedule import build_stages

    root = sources_root(root)
    start = time.time()
    print(f"[nap] {describe_machine()}", file=sys.stderr, flush=True)
    wanted = list(select or [])
    if wanted:
        more = [n for n in with_dependents(wanted, root) if not any(n.startswith(w) for w in wanted)]
        if more:
            print(
                f"[nap] the chapters that show what depends on {', '.join(wanted)} run too when stale: "
                f"{', '.join(more)}"
            )
        wanted += more
    select = wanted
    shown = [
        stage
        for nb in chapters(root)
        if not wanted or any(nb.name.startswith(w) for w in wanted)
        for stage in CHAPTER_STAGES.get(nb.name[:2], ())
    ]
    stages = build_stages(study, [s for s in study.profile.stages if s in shown])
    report = run_chapters(study, select=select, root=root, force=force)
    timings: dict[str, Any] = {"stages": stages, "chapters": report}
    if book:
        t0 = time.time()
        build_book(root, stale=stale_chapters(study, root))
        timings["book_seconds"] = round(time.time() - t0, 1)
    timings["total_seconds"] = round(time.time() - start, 1)
    timings["machine"] = machine_record()
    path = study.store.root / "timings.json"
    previous = read_json(path) if path.exists() else {}
    write_json(path, {**previous, "last_run": timings})
    print(json.dumps(timings, indent=1))
    return timings
