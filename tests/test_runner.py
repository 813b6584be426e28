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


ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_a_chapter_brings_the_chapters_that_show_what_depends_on_it():
    from nap.runner import with_dependents

    assert with_dependents(["05"], ROOT) == [
        "05_naps",
        "06_clustering",
        "07_explorer",
        "08_real_speech",
        "00_introduction",
    ]
    assert with_dependents(["07_explorer"], ROOT) == [
        "06_clustering",
        "07_explorer",
        "08_real_speech",
        "00_introduction",
    ]
    assert with_dependents(["03"], ROOT) == [
        "03_g2p",
        "04_alignment",
        "05_naps",
        "06_clustering",
        "07_explorer",
        "08_real_speech",
        "00_introduction",
    ]


def _site(tmp_path):
    """The project's chapters and book sources, without executed chapters."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "chapters", site / "chapters")
    shutil.copytree(ROOT / "book", site / "book", ignore=shutil.ignore_patterns("*.ipynb", ".runner"))
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, site / name)
    (site / "nap").mkdir()
    return site


def test_rerunning_a_chapter_with_a_changed_stage_reruns_the_chapters_downstream(tmp_path, monkeypatch):
    import nap.runner as runner
    import nap.schedule as schedule
    from nap.study import Study

    site = _site(tmp_path)
    executed: list[str] = []

    def fake_execute(nb, out, parameters, cwd):
        executed.append(nb.stem)
        out.write_text("{}")
        return 0.0

    monkeypatch.setattr(runner, "execute_chapter", fake_execute)
    monkeypatch.setattr(schedule, "build_stages", lambda study, stages: {})
    study = Study("tiny", artifacts=tmp_path / "artifacts")
    runner.run_study(study, book=False, root=site)  # the whole study once
    assert executed[-1] == "00_introduction" and len(executed) == 9

    executed.clear()
    runner.run_study(study, select=["05"], book=False, root=site)
    assert executed == []  # nothing changed: every page is up to date

    changed = Study("tiny", {"naps.seed": 1}, artifacts=tmp_path / "artifacts")
    runner.run_study(changed, select=["05"], book=False, root=site)
    assert executed == ["05_naps", "06_clustering", "07_explorer", "08_real_speech", "00_introduction"]
    assert runner.stale_chapters(changed, site) == []  # no page of the old parameters is left
    assert runner.stale_chapters(study, site) == [
        "book/05_naps",
        "book/06_clustering",
        "book/07_explorer",
        "book/08_real_speech",
        "book/00_introduction",
    ]


def test_temporaries_of_an_interrupted_run_are_removed_at_the_start(tmp_path, monkeypatch):
    import nap.runner as runner
    from nap.study import Study

    site = _site(tmp_path)
    book = site / "book"
    leftovers = [book / ".05_naps.ipynb.k2j3.tmp", book / ".05_naps.ipynb.k2j3.ipynb"]
    for f in leftovers:
        f.write_text("half")
    monkeypatch.setattr(
        runner, "execute_chapter", lambda nb, out, parameters, cwd: out.write_text("{}") and 0.0
    )
    runner.run_chapters(Study("tiny", artifacts=tmp_path / "a"), select=["01"], root=site)
    assert not any(f.exists() for f in leftovers)
    assert (book / "bad_input.md").is_file() and (book / "01_data.ipynb").is_file()


def test_a_failed_book_build_leaves_the_previous_site(tmp_path, monkeypatch):
    import subprocess

    import pytest

    import nap.runner as runner

    site = _site(tmp_path)
    html = site / "_build" / "html"
    html.mkdir(parents=True)
    (html / "index.html").write_text("previous site")

    def failing(cmd, **kw):
        assert kw["preexec_fn"].__name__ == "die_with_parent"  # the build dies with nap
        html.mkdir(parents=True)  # the build had started to write a new site
        (html / "half.html").write_text("half")
        return subprocess.CompletedProcess(cmd, 1, "", "boom")

    monkeypatch.setattr(runner.subprocess, "run", failing)
    with pytest.raises(runner.RunnerError, match="the book build failed"):
        runner.build_book(site)
    assert sorted(p.name for p in html.iterdir()) == ["index.html"]
    assert (html / "index.html").read_text() == "previous site"
    assert not (site / "_build" / ".html-previous").exists()


def test_the_site_is_built_clean_without_pages_of_other_parameters(tmp_path):
    """A rebuilt book keeps no page left out of it, and its index leads to the new first page."""
    site = _site(tmp_path)
    shutil.rmtree(site / "chapters")
    for entry in ("00_introduction", "01_data", "02_asr"):
        (site / "book" / f"{entry}.md").write_text(f"# {entry}\n\nA page.\n")
    toc = (site / "_toc.yml").read_text()
    for gone in ("03_g2p", "04_alignment", "05_naps", "06_clustering", "07_explorer"):
        toc = toc.replace(f"      - file: book/{gone}\n", "")
    (site / "_toc.yml").write_text(toc)
    index = build_book(site)
    assert "book/00_introduction.html" in index.read_text()
    index = build_book(site, stale=["book/00_introduction"])  # executed with other parameters
    assert not (index.parent / "book" / "00_introduction.html").exists()
    assert "book/01_data.html" in index.read_text()
    assert (index.parent / "book" / "02_asr.html").is_file()


def test_a_new_benchmark_makes_its_chapter_stale(tmp_path):
    """Chapters 3 and 8 show benchmark files no stage writes: a new one reruns them, no other."""
    from nap.g2p.report import benchmark_path
    from nap.real_speech.results import variants_path
    from nap.runner import chapter_stamp
    from nap.study import Study

    study = Study("tiny", artifacts=tmp_path)
    chapters = {nb.name[:2]: nb for nb in (ROOT / "chapters").glob("0*.ipynb")}
    before = {n: chapter_stamp(nb, study, "code") for n, nb in chapters.items()}
    written = {
        "03": benchmark_path(study.store.folder("g2p", study.key("g2p"))),
        "08": variants_path(study.store.root),
    }
    for number, path in written.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('{"variants": {}}')
        after = {n: chapter_stamp(nb, study, "code") for n, nb in chapters.items()}
        assert {n for n in chapters if after[n] != before[n]} == {number}
        before = after
