"""Artifact store: each stage's outputs in a folder keyed by its parameters and inputs.

A stage's folder is ``<root>/<stage>-<key>`` where ``key`` hashes the stage's name, its
version, its parameters and the keys of the stages it reads. A stage is built in
``<stage>-<key>.partial`` (which survives an interruption, so long work such as training
can resume from checkpoints kept there) and renamed into place only when complete, with a
``manifest.json`` of every file's size and SHA-256. A folder whose files no longer match
their manifest is moved aside and rebuilt, never used (a read-only look, such as
``nap results``, only reports it). ``nap gc`` lists and removes what no build will use:
stale ``.partial`` folders, folders moved aside as corrupt, and artifacts of other
parameters (:meth:`Store.leftovers`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nap.errors import NapError

try:
    import fcntl
except ImportError:  # not POSIX: no cross-process lock
    fcntl = None  # type: ignore[assignment]

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
PARAMS = "params.json"
#: Suffix of a stage's work folder (:meth:`Store.work_folder`).
PARTIAL = ".partial"


class StoreError(NapError, RuntimeError):
    """An artifact could not be written or read."""


class DiskFullError(StoreError):
    """The disk filled up while a file was written; nothing was written."""


def stable_hash(obj: Any, length: int = 12) -> str:
    """Hex digest of ``obj``'s canonical JSON: equal parameters give equal keys."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    On any error (disk full included) the temporary file is removed and ``path`` is left
    as it was, so readers never see a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException as exc:
        # writers such as torch.save report a full disk as a RuntimeError: ask the disk
        full = (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or (
            isinstance(exc, Exception) and disk_full(path.parent)
        )
        tmp_path.unlink(missing_ok=True)
        if full:
            raise DiskFullError(f"disk full while writing {path}; nothing was written ({exc})") from exc
        raise


def disk_full(folder: str | os.PathLike, margin: int = 1 << 20) -> bool:
    """True when the file system holding ``folder`` has less than ``margin`` bytes free."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < margin


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_json(path: str | os.PathLike) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read JSON file {path}: {exc}") from exc


def load_weights_file(path: str | os.PathLike) -> Any:
    """The tensors saved in ``path`` by ``torch.save``, loaded with ``weights_only=True``.

    A file holding anything but tensors and plain containers (a pickle of Python objects
    could run code when loaded) is refused with a :class:`StoreError` that names it; so is a
    file torch cannot read at all. torch's own advice to load such a file unsafely is not
    passed on.
    """
    import pickle
    import warnings

    import torch

    path = Path(path)
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of foreign files
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise StoreError(
            f"{path} is not a nap weights file: it holds Python objects, not only tensors, and nap "
            "loads nothing else (a pickle can run code); rebuild the stage that writes it"
        ) from exc
    except (RuntimeError, EOFError, ValueError) as exc:
        raise StoreError(
            f"{path} is not a nap weights file: torch cannot read it (empty, truncated or another "
            "format); rebuild the stage that writes it"
        ) from exc


def write_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """Record size and SHA-256 of every file below ``folder`` (except the manifest)."""
    files = {}
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.name != MANIFEST and not f.name.endswith(".tmp"):
            rel = f.relative_to(folder).as_posix()
            files[rel] = {"size": f.stat().st_size, "sha256": file_sha256(f)}
    write_json(folder / MANIFEST, {"files": files, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return files


def verify_manifest(folder: Path) -> str | None:
    """None if every file matches the manifest, else what is wrong."""
    try:
        manifest = read_json(folder / MANIFEST)
    except FileNotFoundError:
        return "no manifest"
    except StoreError as exc:
        return str(exc)
    for rel, meta in manifest.get("files", {}).items():
        f = folder / rel
        if not f.is_file():
            return f"{rel} is missing"
        if f.stat().st_size != meta["size"]:
            return f"{rel} has size {f.stat().st_size}, expected {meta['size']}"
        if file_sha256(f) != meta["sha256"]:
            return f"{rel} does not match its checksum"
    return None


@contextlib.contextmanager
def file_lock(path: Path, what: str, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` (created if missing); yields whether it is held.

    The lock is the kernel's (``flock``), so a killed process never leaves it held. With
    ``wait`` a held lock is waited for (saying ``waiting for another process that is
    <what>``); without, the context yields False at once and holds nothing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        if fcntl is not None:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    yield False
                    return
                print(f"[nap] waiting for another process that is {what}")
                fcntl.flock(fh, fcntl.LOCK_EX)
        yield True


def is_locked(path: Path) -> bool:
    """Whether another process holds :func:`file_lock` on ``path`` (creates and changes nothing)."""
    if fcntl is None or not path.is_file():
        return False
    with open(path) as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def folder_bytes(folder: Path) -> int:
    """Bytes of the files below ``folder``."""
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


@dataclass(frozen=True)
class Leftover:
    """A folder of the store that no build of the current parameters will use (see ``nap gc``)."""

    path: Path
    kind: str  # "partial", "corrupt" or "unused"
    why: str


@dataclass(frozen=True)
class Artifact:
    """A finished stage folder: its path, key and recorded summary."""

    stage: str
    key: str
    path: Path

    @property
    def summary(self) -> dict[str, Any]:
        return read_json(self.path / SUMMARY)

    @property
    def params(self) -> dict[str, Any]:
        return read_json(self.path / PARAMS)["params"]

    def __truediv__(self, name: str) -> Path:
        return self.path / name


class Store:
    """Stage folders under one root (``artifacts/<profile>`` by default)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def key(self, stage: str, params: dict[str, Any], inputs: dict[str, str], version: int = 1) -> str:
        return stable_hash({"stage": stage, "version": version, "params": params, "inputs": inputs})

    def folder(self, stage: str, key: str) -> Path:
        """``<root>/<stage>-<key>``: the finished artifact's folder."""
        return self.root / f"{stage}-{key}"

    def work_folder(self, stage: str, key: str) -> Path:
        """``<root>/<stage>-<key>.partial``: where the artifact is built, and renamed from when
        complete; it survives an interruption, so a build (or a torchrun group's processes,
        which work in it too) may resume from what is there."""
        return self.root / f"{stage}-{key}{PARTIAL}"

    def kin(self, work: Path, differing: Iterable[str]) -> Artifact | None:
        """A finished artifact built like the work folder ``work`` but for the parameters in
        ``differing``, else None.

        Kin has the same stage, code version and inputs as ``work``'s ``params.json`` (which
        the store writes before the build starts) and the same parameters except those in
        ``differing``: so a build may take over its costly part (the asr stage, a network
        trained with the same training parameters when only decoding ones changed). The
        first such folder by name whose files match their manifest is returned.
        """
        try:
            mine = read_json(work / PARAMS)
        except (FileNotFoundError, StoreError):
            return None
        skip = set(differing)

        def like(record: dict[str, Any]) -> tuple[Any, ...]:
            params = {k: v for k, v in record.get("params", {}).items() if k not in skip}
            return record.get("version"), record.get("inputs"), params

        wanted = like(mine)
        for folder in sorted(self.root.glob(f"{mine['stage']}-*")):
            if "." in folder.name or folder == work or not (folder / PARAMS).is_file():
                continue
            try:
                record = read_json(folder / PARAMS)
            except StoreError:
                continue
            if like(record) == wanted and verify_manifest(folder) is None:
                return Artifact(mine["stage"], record.get("key", folder.name.rpartition("-")[2]), folder)
        return None

    def inspect(self, stage: str, key: str, verify: bool = True) -> tuple[Artifact | None, str | None]:
        """(the finished artifact, None), or (None, what is wrong with it) when it is corrupt,
        or (None, None) when there is none. Reads only: a corrupt artifact stays where it is."""
        folder = self.folder(stage, key)
        if not folder.is_dir():
            return None, None
        problem = verify_manifest(folder) if verify else None
        if problem is None:
            return Artifact(stage, key, folder), None
        return None, problem

    def lookup(self, stage: str, key: str, verify: bool = True) -> Artifact | None:
        """The finished artifact, or None; a corrupt one is moved aside (and reported) to be rebuilt."""
        found, problem = self.inspect(stage, key, verify)
        if problem is None:
            return found
        folder = self.folder(stage, key)
        aside = folder.with_name(f"{folder.name}.corrupt-{int(time.time())}")
        folder.rename(aside)
        print(f"[nap] {stage}: artifact {folder} is corrupt ({problem}); moved to {aside.name}, recomputing")
        return None

    def build(
        self,
        stage: str,
        params: dict[str, Any],
        inputs: dict[str, str],
        compute: Callable[[Path], dict[str, Any]],
        *,
        version: int = 1,
        force: bool = False,
        verify: bool = True,
    ) -> Artifact:
        """Return the stage's artifact, computing it with ``compute(work_dir)`` if needed.

        ``compute`` writes its files into ``work_dir`` and returns the stage's headline
        numbers (JSON-serialisable). ``work_dir`` persists across interruptions until the
        stage completes, so ``compute`` may resume from what it finds there.
        """
        key = self.key(stage, params, inputs, version)
        final = self.folder(stage, key)
        if not force:
            found = self.lookup(stage, key, verify=verify)
            if found is not None:
                return found
        with self._lock(f"{stage}-{key}"):
            if force and final.exists():
                shutil.rmtree(final)
                shutil.rmtree(self.work_folder(stage, key), ignore_errors=True)
            found = self.lookup(stage, key, verify=verify)  # another process may have built it meanwhile
            if found is not None:
                return found
            return self._compute(stage, key, params, inputs, compute, version)

    def lock_path(self, name: str) -> Path:
        """``<root>/.locks/<name>.lock``, held while the folder ``name`` is built."""
        return self.root / ".locks" / f"{name}.lock"

    @contextlib.contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        """Hold the lock of ``name``: one process builds a stage folder at a time."""
        with file_lock(self.lock_path(name), f"building {name}"):
            yield

    def _compute(
        self,
        stage: str,
        key: str,
        params: dict[str, Any],
        inputs: dict[str, str],
        compute: Callable[[Path], dict[str, Any]],
        version: int,
    ) -> Artifact:
        final = self.folder(stage, key)
        work = self.work_folder(stage, key)
        resumed = work.is_dir()
        work.mkdir(parents=True, exist_ok=True)
        record = {"stage": stage, "key": key, "version": version, "params": params, "inputs": inputs}
        write_json(work / PARAMS, record)  # readable while computing: a stage may look for its kin
        start = time.time()
        try:
            summary = dict(compute(work) or {})
        except Exception:
            # a stage that fails before writing anything (a parameter or input error) leaves no
            # .partial folder behind; one with work in it is kept for the next run to resume
            if not resumed and [f.name for f in work.iterdir()] == [PARAMS]:
                shutil.rmtree(work, ignore_errors=True)
            raise
        summary.setdefault("seconds", round(time.time() - start, 2))
        write_json(work / PARAMS, record)
        write_json(work / SUMMARY, summary)
        write_manifest(work)
        os.replace(work, final)
        return Artifact(stage, key, final)

    def leftovers(self, used: dict[str, str]) -> list[Leftover]:
        """Folders no build of the current parameters will use; ``used`` maps stage -> current key.

        * ``<stage>-<key>.partial`` of a key not in ``used`` whose build is not running (its
          lock is free): work of other parameters, left by an interrupted or failed build (a
          ``.partial`` of the current parameters is kept: the next build resumes from it);
        * ``*.corrupt-<time>``: artifacts moved aside because their files no longer matched
          their manifest, never read again;
        * finished ``<stage>-<key>`` of a stage in ``used`` but another key: built with other
          parameters (or inputs, or code version) than the current ones.

        Folders of stages not in ``used`` and anything else (logs, locks, timings) are never
        listed. Reads only.
        """
        found = []
        for folder in sorted(p for p in self.root.glob("*-*") if p.is_dir()):
            name = folder.name
            if ".corrupt-" in name:
                found.append(Leftover(folder, "corrupt", "moved aside as corrupt; never read again"))
                continue
            base, dot, suffix = name.partition(".")
            stage, _, key = base.rpartition("-")
            if stage not in used or (dot and dot + suffix != PARTIAL):
                continue
            if dot + suffix == PARTIAL:
                if key != used[stage] and not is_locked(self.lock_path(base)):
                    found.append(Leftover(folder, "partial", "unfinished build of other parameters"))
            elif key != used[stage] and (folder / MANIFEST).is_file():
                found.append(Leftover(folder, "unused", "built with other parameters than the current ones"))
        return found

    def remove(self, leftover: Leftover) -> bool:
        """Delete a folder :meth:`leftovers` listed unless a build started on it since; True if deleted."""
        base = leftover.path.name.partition(".")[0]
        if leftover.kind == "corrupt":
            shutil.rmtree(leftover.path, ignore_errors=True)
            return True
        with file_lock(self.lock_path(base), f"building {base}", wait=False) as held:
            if not held:
                return False
            shutil.rmtree(leftover.path, ignore_errors=True)
            return True

    def artifacts(self) -> list[Artifact]:
        """Every finished artifact under the root, oldest first."""
        found = []
        for folder in sorted(self.root.glob("*-*"), key=lambda p: p.stat().st_mtime):
            if folder.is_dir() and (folder / MANIFEST).exists() and "." not in folder.name:
                stage, _, key = folder.name.rpartition("-")
                found.append(Artifact(stage, key, folder))
        return found
