"""The site's JavaScript from the npm registry: fetched once into a cache, checked against pinned sums.

Pages with embedded ipywidgets state need two scripts: require.js and the html-manager of
``@jupyter-widgets`` (``embed-amd.js``), which renders the widgets from the state saved in
the executed notebook; pages with math need MathJax. jupyter-book and Sphinx load them from
CDNs by default. Here they come from the npm registry (``npm pack``, checked against pinned
SHA-256 sums) into a cache folder, once, and the book serves them itself (see
:mod:`nap.website.extension`). ``python -m nap.website install`` fills the cache ahead of
time (the set-up script does), so that building the book needs no network.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from nap.errors import NapError

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


class WidgetJsError(NapError, RuntimeError):
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
