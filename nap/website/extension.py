"""The Sphinx extension of the book (``_config.yml`` lists ``nap.website``): the site serves its own
JavaScript, never a CDN at view time.

* ``_config.yml`` points ``nb_ipywidgets_js`` at ``widgets/require.js`` and
  ``widgets/embed-amd.js``;
* at the start of a build, :func:`setup`'s hook makes sure the cache of
  :mod:`nap.website.npm` holds the files (fetching them when it does not) and adds the cache
  to ``html_static_path``. The cache is a folder of its own, not the book's ``_static/``
  (jupyter-book adds every ``.js`` file found there to every page); myst-nb loads the two
  scripts only on pages with widgets. MathJax comes the same way (``_static/mathjax/``,
  ``mathjax_path``). The hook also adds the book's CSS and icon.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nap.website.npm import FOLDER, WidgetJsError, install

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
/* nap: the widget modules live beside this script (see nap/website/extension.py) */
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
