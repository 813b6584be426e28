"""A strict (-W), offline build of a small book with the project's own ``_config.yml``.

The small book has a Markdown page and an executed notebook holding the kernel-free layer
explorer (on :func:`nap.explore.demo`'s planted NAPs), so it exercises what the real book
needs: execution off, widget state embedded by the notebook's execution, and the widget
JavaScript served from the site itself (``_static/widgets/``), with no CDN address left.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

INTRO = r"""# A small book

This page checks the book configuration; the next one holds the static layer explorer.
Pages with math, like $\mathrm{NAP}_g = \operatorname{sort}(\bar a_g - \bar a)$, get MathJax from the
site itself.
"""

EXPLORER_CELLS = [
    ("markdown", "# Explorer\n\nPlanted NAPs, clustered; the slider switches images with no kernel."),
    (
        "code",
        "from nap import explore\nclustering, napset = explore.demo(seed=0, layers=3, channels=8, "
        "positions=6)",
    ),
    ("code", "explore.static_explorer(clustering, napset, dpi=50)"),
]


def make_demo_site(dest: Path) -> Path:
    """Write and execute the small book's sources under ``dest`` (returns ``dest``)."""
    from nbclient import NotebookClient

    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "_config.yml", dest / "_config.yml")
    toc = {"format": "jb-book", "root": "book/intro", "chapters": [{"file": "book/explorer"}]}
    (dest / "_toc.yml").write_text(yaml.safe_dump(toc))
    (dest / "nap").mkdir(exist_ok=True)  # marks the folder as a project root for nap.study
    book = dest / "book"
    book.mkdir(exist_ok=True)
    (book / "intro.md").write_text(INTRO)
    shutil.copy(ROOT / "book" / "references.bib", book / "references.bib")  # _config.yml's bibtex_bibfiles
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
        for kind, src in EXPLORER_CELLS
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(book)}}
    ).execute()
    nbformat.write(nb, book / "explorer.ipynb")
    return dest


_BUILT: dict[str, Path] = {}


def demo_book_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small book built strictly, once per session (the browser test reuses it); its ``_build/html``."""
    from nap.runner import build_book

    if "html" not in _BUILT:
        site = make_demo_site(tmp_path_factory.mktemp("demo-site"))
        _BUILT["html"] = build_book(site, strict=True).parent
    return _BUILT["html"]


@pytest.fixture
def demo_book(tmp_path_factory) -> Path:
    return demo_book_html(tmp_path_factory)


def test_config_is_what_the_study_needs():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["only_build_toc_files"] is True
    assert cfg["execute"]["execute_notebooks"] == "off"
    for folder in (".venv", "artifacts", "chapters", "tests"):
        assert folder in cfg["exclude_patterns"]
    assert "nap.website" in cfg["sphinx"]["extra_extensions"]
    js = cfg["sphinx"]["config"]["nb_ipywidgets_js"]
    assert list(js) == ["widgets/require.js", "widgets/require-config.js", "widgets/embed-amd.js"]
    assert not any("://" in src for src in js)
    assert not (ROOT / "_static").exists(), "jupyter-book adds every .js under _static/ to every page"


def test_toc_lists_every_chapter_and_page():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    chapters = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    for stem in chapters:
        assert f"book/{stem}" in files, f"chapters/{stem}.ipynb is not in _toc.yml"
    for page in ("book/paper_profile", "book/references"):
        assert page in files
    for entry in files:  # every entry is an executed chapter's source or a Markdown page
        stem = Path(entry).name
        assert (ROOT / "chapters" / f"{stem}.ipynb").is_file() or (ROOT / f"{entry}.md").is_file(), (
            f"_toc.yml lists {entry}, but there is neither chapters/{stem}.ipynb nor {entry}.md"
        )


def test_small_book_builds_strictly_offline_with_local_widget_js(demo_book):
    from nap.website.npm import FOLDER, SHA256
    from nap.website.weight import page_weight

    page = demo_book / "book" / "explorer.html"
    text = page.read_text()
    # the widget state is embedded and the scripts are the site's own
    state = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', text, re.S)
    assert state, "no widget state in the explorer page"
    models = json.loads(state.group(1))["state"]
    kinds = {m["model_name"] for m in models.values()}
    assert {"StackModel", "SelectionSliderModel", "LinkModel", "ImageModel", "ToggleButtonsModel"} <= kinds
    assert sum(m["model_name"] == "ImageModel" for m in models.values()) == 2 * 3 * 2  # matrices + galleries
    for name in SHA256:
        assert (demo_book / "_static" / name).is_file()
        if name.startswith(f"{FOLDER}/"):
            assert f"_static/{name}" in text
    weight = page_weight(page)  # every script, style sheet and image the page's tags load
    assert not weight.missing and not weight.remote, weight
    assert not re.search(r"<script[^>]+src=\"https?://", text), "a script is loaded from the network"
    # pages without widgets do not load the widget scripts
    assert "embed-amd.js" not in (demo_book / "book" / "intro.html").read_text()
    intro = (demo_book / "book" / "intro.html").read_text()
    assert "nap.css" in intro
    assert "_static/mathjax/tex-mml-chtml.js" in intro and "cdn.jsdelivr" not in intro
