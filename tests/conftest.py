"""Shared fixtures: the tiny study, executed once per test session, and its built book."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _artifacts_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$NAP_ARTIFACTS (scripts/test.sh sets it, so reruns reuse the tiny artifacts) or a temp dir."""
    env = os.environ.get("NAP_ARTIFACTS")
    return Path(env) if env else tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """The tiny profile's study; stages are built on first use and shared by all tests."""
    from nap.study import Study

    return Study("tiny", artifacts=_artifacts_base(tmp_path_factory) / "tiny")


@pytest.fixture(scope="session")
def tiny_site(tmp_path_factory, tiny_study) -> Path:
    """A copy of the project's book sources with every chapter executed (papermill, tiny profile)."""
    from nap.runner import run_chapters

    site = tmp_path_factory.mktemp("site")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, site / name)
    shutil.copytree(ROOT / "book", site / "book", ignore=shutil.ignore_patterns("*.ipynb", ".runner"))
    (site / "nap").mkdir()  # marks the copy as a project root for nap.study.project_root
    run_chapters(tiny_study, root=ROOT, book_dir=site / "book")
    return site


@pytest.fixture(scope="session")
def tiny_book(tiny_site) -> Path:
    """The HTML book built strictly (-W) and offline from ``tiny_site``; returns ``_build/html``."""
    from nap.runner import build_book

    index = build_book(tiny_site)
    return index.parent
