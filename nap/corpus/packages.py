"""Optional packages of the corpus stage: which are missing, and the error that says what to install.

The default study needs none of them. The neural voice (:mod:`nap.corpus.piper`), the
reference aligner (:mod:`nap.corpus.reference_aligner`) and the real-speech corpus
(:mod:`nap.corpus.real`) do; each entry point calls :func:`require` first, so a missing
package is one clear error naming the pip or apt package to install, never an
``ImportError`` from deep inside a library.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path

from nap.errors import NapError


class MissingPackageError(NapError, RuntimeError):
    """An optional package that an entry point needs is not installed."""


def missing_modules(modules: Mapping[str, str]) -> list[str]:
    """The pip names (values of ``modules``: import name -> pip requirement) not importable here."""
    return [pip for module, pip in modules.items() if importlib.util.find_spec(module) is None]


def missing_files(files: Mapping[str, str]) -> list[str]:
    """The apt package names (values of ``files``: path -> Debian package) whose path is absent."""
    return list(dict.fromkeys(pkg for path, pkg in files.items() if not Path(path).exists()))


def require(
    what: str,
    modules: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
    error: type[NapError] = MissingPackageError,
) -> None:
    """Raise ``error`` naming every missing pip and apt package that ``what`` needs."""
    pip = missing_modules(modules or {})
    apt = missing_files(files or {})
    if not pip and not apt:
        return
    parts = []
    if pip:
        parts.append(f"pip install {' '.join(pip)}")
    if apt:
        parts.append(f"apt-get install {' '.join(apt)}")
    raise error(f"{what} needs packages that are not installed: {'; '.join(parts)}")
