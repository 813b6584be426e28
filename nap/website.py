"""The book's widget JavaScript, served by the site itself (no CDN at view time).

Pages with embedded ipywidgets state need two scripts: require.js and the html-manager of
``@jupyter-widgets`` (``embed-amd.js``), which renders the widgets from the state saved in
the executed notebook. jupyter-book loads both from CDNs by default. Here they come from
the npm registry (``npm pack``, checked against pinned SHA-256 sums) into a cache folder,
once, and the book serves them from ``_static/widgets/``:

* ``_config.yml`` lists this module in ``sphinx.extra_extensions`` and points
  ``nb_ipywidgets_js`` at ``widgets/require.js`` and ``widgets/embed-amd.js``;
* at the start of a build, :func:`setup`'s hook makes sure the cache holds the files
  (fetching them when it does not) and adds the cache to ``html_static_path``. The cache
  is a folder of its own, not the book's ``_static/`` (jupyter-book adds every ``.js`` file
  found there to every page); myst-nb loads the two scripts only on pages with widgets.

``python -m nap.website install`` fills the cache ahead of time (the set-up script does),
so that building the book needs no network. MathJax, which Sphinx also loads from a CDN
by default on pages with math, comes the same way (``_static/mathjax/``, ``mathjax_path``).
``python -m nap.website weight PAGE.html`` prints what a page and the files it loads weigh.
"""

from __future__ import annotations

import hashlib
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

#: The npm packages and the exact files taken from them.
HTML_MANAGER = ("@jupyter-widgets/html-manager", "1.0.15")  # ipywidgets 8.1 (widget protocol 2)
REQUIREJS = ("requirejs", "2.3.8")
MATHJAX = ("mathjax", "3.2.2")  # for pages with math: Sphinx loads MathJax from a CDN by default

#: SHA-256 of the scripts as published in those versions (paths inside the cache and ``_static/``).
SHA256 = {
    "widgets/embed-amd.js": "ca87dff57c70ffb2658794fde0eab0e27e5f5472a1f5df7ab2b08e1039fc4b72",
    "widgets/require.js": "c1fc6b1d53af7522f78d664922abb32acac64ed0ecccb8f907f1e6fc7262563a",
    "mathjax/tex-mml-chtml.js": "300480069078b5892d2363a2b65e2dfbbf30fe5c80f83edbfecf4610fd093862",
}

#: MathJax's parts that its combined component loads on demand (fonts, TeX extensions, menu).
MATHJAX_PARTS = ("input/", "output/", "ui/", "a11y/", "sre/", "adaptors/")

#: Font files of the html-manager's bundled Font Awesome, loaded from beside embed-amd.js.
FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".eot", ".svg")

#: Subfolder of the static path (and so of the site's ``_static/``) that holds the scripts.
FOLDER = "widgets"

#: A little CSS for the book: wide widgets and readable tables (added to every page).
CSS = """\
.nap-table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.9em; }
.nap-table caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.3em; }
.nap-table th, .nap-table td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: left; }
.nap-table thead th { border-bottom: 2px solid #999; }
.nap-table tbody tr:nth-child(even) { background: #f7f7f9; }
.cell_output .widget-image img, .cell_output img.nap-explorer { max-width: 100%; height: auto; }
.cell_output .jupyter-widgets { max-width: 100%; }
.cell_output .widget-slider .widget-readout { min-width: 6em; }
"""


#: Loaded between require.js and embed-amd.js: maps the html-manager's AMD modules to the
#: folder of this script, so that the Font Awesome files it loads relative to its modules'
#: addresses come from ``_static/widgets/`` instead of 404s beside each page.
REQUIRE_CONFIG_JS = """\
/* nap: the widget modules live beside this script (see nap/website.py) */
(function () {
  var dir = document.currentScript.src.replace(/\\/[^\\/]*$/, "");
  window.require.config({paths: {"@jupyter-widgets": dir, "@jupyter-widgets/html-manager/dist": dir}});
})();
"""

#: The site's icon (browsers ask for one; without it every page logs a 404).
FAVICON_SVG = """\
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">
<rect width="16" height="16" rx="3" fill="#1f3b57"/>
<rect x="3" y="3" width="3" height="10" fill="#d6604d"/>
<rect x="7" y="6" width="3" height="7" fill="#f4a582"/>
<rect x="11" y="9" width="2" height="4" fill="#92c5de"/></svg>
"""


class WidgetJsError(RuntimeError):
    """The widget JavaScript could not be installed or verified."""


def cache_root() -> Path:
    """``$NAP_WIDGET_JS`` if set, else ``$XDG_CACHE_HOME/nap`` (``~/.cache/nap``) + versions."""
    env = os.environ.get("NAP_WIDGET_JS")
    if env:
        return Path(env).expanduser().resolve()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return (base / "nap" / f"site-js-{HTML_MANAGER[1]}-{REQUIREJS[1]}-{MATHJAX[1]}").resolve()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_complete(root: Path) -> bool:
    """Whether ``root`` holds every pinned script with its checksum."""
    return all((root / n).is_file() and _sha256(root / n) == h for n, h in SHA256.items())


def _npm_pack(spec: str, dest: Path) -> Path:
    """Download one package tarball from the npm registry with ``npm pack``."""
    npm = shutil.which("npm")
    if npm is None:
        raise WidgetJsError(
            "the book's widget JavaScript is not cached and `npm` is not installed to fetch it: install "
            f"Node.js/npm (Debian: apt-get install npm), or fill {cache_root()} on a machine that has it"
        )
    proc = subprocess.run(
        [npm, "pack", spec, "--pack-destination", str(dest), "--json", "--silent"],
        capture_output=True,
        text=True,
        cwd=dest,
    )
    if proc.returncode != 0:
        raise WidgetJsError(
            f"`npm pack {spec}` failed (is the npm registry reachable?):\n{proc.stderr[-2000:]}"
        )
    try:
        name = json.loads(proc.stdout)[0]["filename"]
    except (ValueError, LookupError) as exc:
        raise WidgetJsError(f"`npm pack {spec}` gave no tarball name: {proc.stdout[-500:]}") from exc
    return dest / name.replace("@", "").replace("/", "-")


def _extract(tarball: Path, members: dict[str, str], into: Path) -> list[str]:
    """Copy the tarball's ``members`` (path inside → file name) into ``into``; returns names."""
    if not tarball.is_file():
        raise WidgetJsError(f"npm did not write the expected tarball {tarball}")
    out = []
    with tarfile.open(tarball) as tar:
        for inside, name in members.items():
            try:
                src = tar.extractfile(inside)
            except KeyError:
                src = None
            if src is None:
                raise WidgetJsError(f"{tarball.name} has no file {inside}")
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            (into / name).write_bytes(src.read())
            out.append(name)
    return out


def install(root: Path | None = None, force: bool = False) -> Path:
    """Make sure ``root`` (default :func:`cache_root`) holds the verified scripts; returns ``root``.

    Fetches the two packages from the npm registry only when the cache is missing or
    corrupt; writes atomically (a half-done install is never used).
    """
    root = Path(root) if root else cache_root()
    if not force and is_complete(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nap-widget-js-", dir=root.parent) as tmp_s:
        tmp = Path(tmp_s)
        folder = tmp / "site" / FOLDER
        folder.mkdir(parents=True)
        manager = _npm_pack(f"{HTML_MANAGER[0]}@{HTML_MANAGER[1]}", tmp)
        with tarfile.open(manager) as tar:
            fonts = {
                m.name: Path(m.name).name
                for m in tar.getmembers()
                if m.name.startswith("package/dist/") and m.name.endswith(FONT_SUFFIXES)
            }
        _extract(manager, {"package/dist/embed-amd.js": "embed-amd.js", **fonts}, folder)
        rjs = _npm_pack(f"{REQUIREJS[0]}@{REQUIREJS[1]}", tmp)
        _extract(rjs, {"package/require.js": "require.js"}, folder)
        mathjax = _npm_pack(f"{MATHJAX[0]}@{MATHJAX[1]}", tmp)
        with tarfile.open(mathjax) as tar:
            parts = {
                m.name: m.name.removeprefix("package/es5/")
                for m in tar.getmembers()
                if m.isfile() and m.name.removeprefix("package/es5/").startswith(MATHJAX_PARTS)
            }
        _extract(
            mathjax,
            {"package/es5/tex-mml-chtml.js": "tex-mml-chtml.js", "package/LICENSE": "LICENSE", **parts},
            tmp / "site" / "mathjax",
        )
        for name, want in SHA256.items():
            got = _sha256(tmp / "site" / name)
            if got != want:
                raise WidgetJsError(f"{name} from npm has SHA-256 {got}, expected {want}: not used")
        notice = (
            f"{HTML_MANAGER[0]} {HTML_MANAGER[1]} (BSD-3-Clause, Project Jupyter; includes Font Awesome "
            f"Free, SIL OFL 1.1 / MIT) and {REQUIREJS[0]} {REQUIREJS[1]} (MIT, the jQuery Foundation), "
            f"from the npm registry; {MATHJAX[0]} {MATHJAX[1]} (Apache-2.0) is in ../mathjax/.\n"
        )
        (folder / "NOTICE.txt").write_text(notice)
        if root.exists() and not is_complete(root):
            shutil.rmtree(root, ignore_errors=True)
        try:
            os.replace(tmp / "site", root)
        except OSError:  # another build finished the same install first
            if not is_complete(root):
                raise
    return root


# -- the Sphinx extension ---------------------------------------------------------------
def _on_config_inited(app: Any, config: Any) -> None:
    from sphinx.util import logging

    log = logging.getLogger(__name__)
    try:
        root = install()
    except WidgetJsError as exc:
        from sphinx.errors import ExtensionError

        raise ExtensionError(str(exc)) from exc
    config.html_static_path = [*config.html_static_path, str(root)]
    if "://" in str(config.mathjax_path or "://"):  # Sphinx's default is a CDN address
        config.mathjax_path = "mathjax/tex-mml-chtml.js"
    js = getattr(config, "nb_ipywidgets_js", {}) or {}
    remote = [src for src in js if "://" in src]
    if remote:
        log.warning("nb_ipywidgets_js loads %s from the network; the book serves %s/ itself", remote, FOLDER)
    assets = Path(app.doctreedir) / "nap-assets"  # not served itself; copied into _static/
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "nap.css").write_text(CSS)
    (assets / FOLDER).mkdir(exist_ok=True)
    (assets / FOLDER / "require-config.js").write_text(REQUIRE_CONFIG_JS)
    config.html_static_path = [*config.html_static_path, str(assets)]
    app.add_css_file("nap.css")
    if not config.html_favicon:
        (assets / "favicon.svg").write_text(FAVICON_SVG)
        config.html_favicon = str(assets / "favicon.svg")


def _drop_duplicate_scripts(
    app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Keep one copy of each inline script.

    Sphinx 7.4 registers a body-only script (filename None) a second time as filename ''
    when writing starts, so sphinx-thebe's ``const THEBE_JS_URL = ...`` appears twice and
    every page logs "Identifier 'THEBE_JS_URL' has already been declared".
    """
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen: set[tuple[Any, ...]] = set()
    keep = []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        key = (getattr(js, "filename", js) or "", tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key not in seen:
            seen.add(key)
            keep.append(js)
    scripts[:] = keep


def setup(app: Any) -> dict[str, Any]:
    """Sphinx extension: serve the widget scripts from ``_static/widgets/`` and add nap.css."""
    app.connect("config-inited", _on_config_inited)
    app.connect("html-page-context", _drop_duplicate_scripts)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


# -- page weight ------------------------------------------------------------------------
class _Refs(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.refs.append(str(a["src"]))
        elif tag == "link" and a.get("href") and (a.get("rel") or "") in ("stylesheet", "preload"):
            self.refs.append(str(a["href"]))
        elif tag == "img" and a.get("src") and not str(a["src"]).startswith("data:"):
            self.refs.append(str(a["src"]))


@dataclass
class PageWeight:
    """Bytes of a built page and of the local files its tags load (before compression)."""

    page: Path
    html_bytes: int
    files: dict[str, int]
    missing: list[str]
    remote: list[str]

    @property
    def total(self) -> int:
        return self.html_bytes + sum(self.files.values())

    def __str__(self) -> str:
        top = sorted(self.files.items(), key=lambda kv: -kv[1])[:6]
        lines = [f"{self.page.name}: {self.total / 1e6:.2f} MB in all (HTML {self.html_bytes / 1e6:.2f} MB)"]
        lines += [f"  {n}: {b / 1e6:.2f} MB" for n, b in top]
        if self.remote:
            lines.append(f"  remote: {self.remote}")
        if self.missing:
            lines.append(f"  missing: {self.missing}")
        return "\n".join(lines)


def page_weight(page: str | os.PathLike) -> PageWeight:
    """What ``page`` (a built HTML file) weighs with its scripts, style sheets and images."""
    page = Path(page)
    parser = _Refs()
    text = page.read_text(encoding="utf-8")
    parser.feed(text)
    files: dict[str, int] = {}
    missing, remote = [], []
    for ref in dict.fromkeys(parser.refs):
        parts = urlsplit(ref)
        if parts.scheme or ref.startswith("//"):
            remote.append(ref)
            continue
        target = (page.parent / unquote(parts.path)).resolve()
        if target.is_file():
            files[ref] = target.stat().st_size
        else:
            missing.append(ref)
    return PageWeight(page, len(text.encode()), files, missing, remote)


# -- the introduction's numbers ---------------------------------------------------------
#: Curated headline numbers for the book's front page: (stage, candidate keys, what it is).
#: The first key a stage's summary has is shown; a stage that is not built is left out.
GLANCE: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("corpus", ("minutes", "audio_minutes", "train_minutes"), "minutes of synthesized speech"),
    ("corpus", ("utterances", "n_utterances"), "utterances"),
    ("corpus", ("voices", "n_voices"), "voices"),
    ("asr", ("layers",), "convolutional layers of the recognizer"),
    ("asr", ("receptive_field",), "receptive field (input frames; the paper states 206)"),
    ("asr", ("parameters",), "recognizer parameters"),
    ("asr", ("cer",), "CER, held-out sentences (beam search)"),
    ("asr", ("wer",), "WER, held-out sentences (beam search)"),
    ("asr", ("test_voices_beam_cer",), "CER, held-out voices (beam search)"),
    ("g2p", ("wer", "test_wer"), "G2P word error rate (paper: 0.29)"),
    ("g2p", ("bleu", "test_bleu"), "G2P BLEU (paper: 0.78)"),
    (
        "align",
        ("phoneme_accuracy", "cascade_accuracy", "true_phoneme_agreement"),
        "frames whose cascade phoneme is the true one",
    ),
    ("naps", ("frames",), "frames behind the NAPs"),
    ("naps", ("extraction_seconds",), "seconds to extract every layer's NAPs"),
    ("cluster", ("figure4_layers",), "layers where phoneme structure is strongest"),
)


def _first(summary: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if k in summary and summary[k] is not None:
            return summary[k]
    return None


def at_a_glance(study: Any) -> Any:
    """The study's key numbers (read from the stages' summaries, never typed) as a table."""
    from nap.display import table

    rows = []
    for stage, keys, what in GLANCE:
        summary = study.summary(stage) or {}
        value = _first(summary, keys)
        if value is None:
            continue
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        elif (
            isinstance(value, float)
            and 0 <= value <= 1
            and ("CER" in what or "WER" in what or "frames" in what)
        ):
            value = f"{value:.1%}"
        elif isinstance(value, int):
            value = f"{value:,}"
        rows.append((what, value, stage))
    return table(
        rows, ["", "value", "stage"], title=f"The study at a glance (profile '{study.profile.name}')"
    )


def stage_numbers(study: Any) -> Any:
    """Every built stage's scalar headline numbers, one row each (the complete record)."""
    from nap.display import table

    rows = []
    for stage, summary in study.results().items():
        for key, value in (summary or {}).items():
            if isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) < 40):
                rows.append((stage, key, value))
    return table(rows, ["stage", "number", "value"], title="Every stage's headline numbers")


def main(argv: list[str] | None = None) -> int:
    """``install [--force]`` fills the cache; ``weight PAGE.html...`` prints page weights."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["install"]:
        root = install(force="--force" in args)
        print(f"[nap] the site's JavaScript (widgets, MathJax) is in {root}")
        return 0
    if args[:1] == ["weight"] and len(args) > 1:
        for page in args[1:]:
            print(page_weight(page))
        return 0
    print("usage: python -m nap.website install [--force] | weight PAGE.html ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
