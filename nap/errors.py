"""The base of every error a user can cause and act on.

Bad input (a profile, a parameter, a LibriSpeech file, a damaged checkpoint) and the machine
(a full disk, a missing program) raise a subclass of :class:`NapError` whose message names the
file or parameter at fault. The ``nap`` command prints such an error as one line
``nap: error: ...`` and shows a traceback for anything else, which is a bug.

Each subclass keeps the builtin base its callers catch, e.g. ``class ParamError(NapError,
ValueError)``, so that ``except ValueError`` keeps working. This module imports nothing, so
every module of the package may import it.
"""

from __future__ import annotations


class NapError(Exception):
    """An error the user can act on: the message says what is wrong and where."""


__all__ = ["NapError"]
