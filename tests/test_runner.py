"""The runner: a book of only the chapters executed so far builds strictly."""

from __future__ import annotations

import shutil

from nap.runner import build_book, toc_of_existing_pages


def test_partial_book_leaves_out_chapters_not_executed(tiny_site, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(tiny_site, site, ignore=shutil.ignore_patterns("_build"))
    for nb in (site / "book").glob("*.ipynb"):
        if not nb.name.startswith("01_"):
            nb.unlink()
    toc, missing = toc_of_existing_pages(site)
    assert "book/02_asr" in missing and "book/00_introduction" in missing
    assert "book/01_data" not in missing
    index = build_book(site)
    assert (index.parent / "book" / "01_data.html").is_file()
    assert not (index.parent / "book" / "02_asr.html").exists()
