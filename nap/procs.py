"""Worker processes (synthesis, audio checks, frame labelling).

espeak-ng keeps global, non-thread-safe state, so workers are fresh *spawned* processes,
never forks of a process that may hold an initialized library. Spawning re-imports the
main module from its file; when ``__main__`` claims a file that does not exist (``python -``
reading a script from stdin) that import would fail in every worker and the pool would
restart them forever, so the claim is hidden while the workers start.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import sys
from collections.abc import Callable, Iterator
from multiprocessing.pool import Pool
from pathlib import Path


@contextlib.contextmanager
def pool(
    workers: int, initializer: Callable[..., None] | None = None, initargs: tuple = ()
) -> Iterator[Pool]:
    """A spawn-context process pool of ``workers`` processes, terminated on exit."""
    main = sys.modules.get("__main__")
    fake = getattr(main, "__file__", None)
    hide = fake is not None and not Path(fake).is_file()
    if hide:
        del main.__file__
    try:
        p = mp.get_context("spawn").Pool(workers, initializer, initargs)
    finally:
        if hide:
            main.__file__ = fake
    try:
        yield p
    finally:
        p.terminate()
        p.join()
