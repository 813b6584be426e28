"""Lazy exports of a package: its heavy parts (torch, scikit-learn) are imported on first use.

A stage package's ``__init__`` keeps its parameter class light and names the rest with
:func:`exports`, so that ``nap params`` and ``nap results``, which need only parameters and
keys, start without importing torch or scikit-learn (seconds per command)::

    __getattr__ = exports(__name__, {"nap.asr.recognizer": ["Recognizer"], ...})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def exports(package: str, modules: dict[str, list[str]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) that imports each name from its module when first used."""
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        setattr(sys.modules[package], name, value)  # the next use is a plain attribute
        return value

    return __getattr__
