"""The site's own widget JavaScript (cache, checksums, failures), page weight, front-page numbers."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from nap import glance
from nap.website import extension, npm, weight


def _fake_npm(bin_dir: Path, content: bytes) -> None:
    """An ``npm`` that 'packs' tarballs whose scripts hold ``content`` (so their checksums are wrong)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "npm"
    script.write_text(
        "#!/usr/bin/env python3\n"
        "import io, json, sys, tarfile\n"
        "spec = sys.argv[2]; dest = sys.argv[sys.argv.index('--pack-destination') + 1]\n"
        "name = spec.lstrip('@').replace('/', '-').replace('@', '-') + '.tgz'\n"
        "members = {'html-manager': ['package/dist/embed-amd.js', 'package/dist/abc.woff2'],\n"
        "           'requirejs': ['package/require.js'],\n"
        "           'mathjax': ['package/es5/tex-mml-chtml.js', 'package/es5/output/f.woff',\n"
        "                       'package/LICENSE']}\n"
        "members = next(v for k, v in members.items() if k in spec)\n"
        "with tarfile.open(dest + '/' + name, 'w:gz') as tar:\n"
        "    for m in members:\n"
        f"        data = {content!r}\n"
        "        info = tarfile.TarInfo(m); info.size = len(data); tar.addfile(info, io.BytesIO(data))\n"
        "print(json.dumps([{'filename': name}]))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_a_corrupt_download_is_refused_and_nothing_is_cached(tmp_path, monkeypatch):
    _fake_npm(tmp_path / "bin", b"not the html-manager")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    root = tmp_path / "cache" / "widget-js"
    with pytest.raises(npm.WidgetJsError, match="embed-amd.js from npm has SHA-256"):
        npm.install(root)
    assert not root.exists()
    assert not list((tmp_path / "cache").iterdir())  # the temporary folder is gone too


def test_without_npm_or_cache_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(npm.WidgetJsError, match="npm.*is not installed"):
        npm.install(tmp_path / "cache")


def test_a_complete_cache_is_used_without_npm_and_a_changed_file_is_not(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    # files whose checksums match: pin the sums of what we write
    payload = {
        "widgets/embed-amd.js": b"// embed",
        "widgets/require.js": b"// require",
        "mathjax/m.js": b"// m",
    }
    import hashlib

    sums = {n: hashlib.sha256(b).hexdigest() for n, b in payload.items()}
    monkeypatch.setattr(npm, "SHA256", sums)
    for n, b in payload.items():
        (root / n).parent.mkdir(parents=True, exist_ok=True)
        (root / n).write_bytes(b)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no npm: must not be needed
    assert npm.is_complete(root)
    assert npm.install(root) == root
    (root / "widgets" / "require.js").write_bytes(b"// changed")
    assert not npm.is_complete(root)
    with pytest.raises(npm.WidgetJsError, match="npm"):
        npm.install(root)


def test_cache_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NAP_WIDGET_JS", str(tmp_path / "js"))
    assert npm.cache_root() == (tmp_path / "js").resolve()
    monkeypatch.delenv("NAP_WIDGET_JS")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = npm.cache_root()
    assert root.parent == (tmp_path / "xdg" / "nap").resolve()
    assert all(pkg[1] in root.name for pkg in (npm.HTML_MANAGER, npm.REQUIREJS, npm.MATHJAX))


def test_page_weight_counts_local_files_and_flags_remote_and_missing(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "a.js").write_bytes(b"x" * 1000)
    (tmp_path / "_static" / "s.css").write_bytes(b"y" * 500)
    (tmp_path / "img.png").write_bytes(b"z" * 250)
    page = tmp_path / "page.html"
    page.write_text(
        '<html><head><script src="_static/a.js?v=1"></script><link rel="stylesheet" href="_static/s.css">'
        '<script src="https://cdn.example/x.js"></script><script src="_static/gone.js"></script></head>'
        '<body><img src="img.png"><img src="data:image/png;base64,AAAA"></body></html>'
    )
    w = weight.page_weight(page)
    assert w.files == {"_static/a.js?v=1": 1000, "_static/s.css": 500, "img.png": 250}
    assert w.remote == ["https://cdn.example/x.js"] and w.missing == ["_static/gone.js"]
    assert w.total == len(page.read_bytes()) + 1750
    assert "page.html" in str(w)


class _Profile:
    name = "stub"


class _Study:
    profile = _Profile()
    summaries = {
        "asr": {"layers": 11, "receptive_field": 194, "cer": 0.1234, "wer": 0.3, "architecture": {"k": 1}},
        "cluster": {"figure4_layers": ["layer09", "layer10"]},
        "naps": None,
    }

    def summary(self, stage):
        return self.summaries.get(stage)

    def results(self):
        return dict(self.summaries)


def test_front_page_numbers_come_from_the_summaries():
    front = glance.at_a_glance(_Study())
    rows = {r[0]: r[1] for r in front.rows}
    assert rows["convolutional layers of the recognizer"] == "11"
    assert rows["CER, held-out sentences (beam search)"] == "12.3%"
    assert rows["layers where phoneme structure is strongest"] == "layer09, layer10"
    assert not any("G2P" in r for r in rows)  # a stage that is not built is left out
    numbers = glance.stage_numbers(_Study())
    assert ("asr", "cer", 0.1234) in [tuple(r) for r in numbers.rows]
    assert not any(r[1] == "architecture" for r in numbers.rows)  # nested values are left to the chapters


def test_require_config_maps_the_widget_modules_beside_itself():
    js = extension.REQUIRE_CONFIG_JS
    assert "document.currentScript.src" in js
    assert '"@jupyter-widgets": dir' in js and '"@jupyter-widgets/html-manager/dist": dir' in js


def test_tarball_extraction_names_a_missing_member(tmp_path):
    tgz = tmp_path / "p.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        info = tarfile.TarInfo("package/x.js")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(npm.WidgetJsError, match="has no file package/require.js"):
        npm._extract(tgz, {"package/require.js": "require.js"}, tmp_path)


def test_the_extension_named_in_config_is_the_packages_setup():
    """``_config.yml`` lists ``nap.website``: Sphinx calls that module's ``setup``."""
    import yaml

    import nap.website

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "_config.yml").read_text())
    assert "nap.website" in cfg["sphinx"]["extra_extensions"]
    assert nap.website.setup is extension.setup

    class _App:
        def __init__(self):
            self.events = []

        def connect(self, event, handler):
            self.events.append((event, handler))

    app = _App()
    assert extension.setup(app)["parallel_read_safe"] is True
    assert [e for e, _ in app.events] == ["config-inited", "html-page-context"]
