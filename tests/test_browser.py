"""The built website, read as a reader would: headless Chromium on pages served from localhost.

Every chapter page must load with no console error and no failed request (a CDN address
fails too: the machine has no network, and the site must not need one), show its figures,
and the layer explorer must switch its image when its slider moves. Screenshots of every
page are saved under the test's tmp dir (their paths are printed).

Needs Debian ``chromium`` and ``chromium-driver`` (Selenium drives them; no browser is ever
downloaded). Without them the tests skip locally and fail in CI (``CI`` set).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _need_browser() -> None:
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromium-driver", CHROMEDRIVER)) if not path]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        why = f"the browser test needs {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on an ephemeral localhost port; yields the base URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium(profile_dir: Path) -> Iterator[Any]:
    """Headless Debian Chromium driven by Selenium, logging the console and the network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--window-size=1280,1000",
        f"--user-data-dir={profile_dir}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    driver.get("about:blank")
    driver.get_log("browser"), driver.get_log("performance")  # drop what the first tab logged
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, path: Path) -> Path:
    """A full-page PNG screenshot (the page's whole height, at most 12000 px)."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": min(max(height, 800), 12000), "deviceScaleFactor": 1, "mobile": False},
    )
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def problems(driver: Any, base: str) -> list[str]:
    """Console errors, failed requests and requests that left localhost since the last call."""
    out = [f"console: {e['message']}" for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    urls: dict[str, str] = {}
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            urls[params["requestId"]] = url
            if url.startswith(("chrome:", "chrome-extension:", "chrome-search:")):
                continue  # the browser's own pages (its first tab), not the site's
            if not url.startswith((base, "data:", "blob:", "about:")):
                out.append(f"request leaves the site: {url}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            out.append(f"failed: {urls.get(params['requestId'], '?')} ({params.get('errorText')})")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            out.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
    return out


def wait_ready(driver: Any, widgets: bool, timeout: float = 180) -> None:
    """Until the page has loaded, its images have decoded and (if any) the widgets have rendered.

    Widgets are any rendered widget view: a page may hold only a progress bar (a stage built
    while its chapter ran), not the explorer's images.
    """
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    if widgets:
        WebDriverWait(driver, timeout).until(
            lambda d: d.execute_script(
                "return document.querySelectorAll('.jupyter-widgets, .widget-image').length > 0"
            )
        )
    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)")
    )


VISIBLE_IMAGES = """
const root = document.querySelector('.jupyter-widgets.widget-vbox') || document;
return Array.from(root.querySelectorAll('img'))
  .filter(i => i.offsetParent !== null && i.getBoundingClientRect().height > 0)
  .map(i => i.src);
"""


def move_slider(driver: Any) -> tuple[list[str], list[str]]:
    """Press → on the explorer's first slider; returns the visible images before and after."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    before = driver.execute_script(VISIBLE_IMAGES)
    handle = driver.find_element(By.CSS_SELECTOR, ".widget-slider .noUi-handle")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", handle)
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)
    WebDriverWait(driver, 20).until(lambda d: d.execute_script(VISIBLE_IMAGES) != before)
    return before, driver.execute_script(VISIBLE_IMAGES)


def check_site(html_root: Path, pages: list[str], explorer: str, shots: Path) -> dict[str, Any]:
    """Open every page; assert no problems and figures present; move the explorer's slider."""
    from selenium.webdriver.support.ui import WebDriverWait

    shots.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {}
    with serve(html_root) as base, chromium(shots / "profile") as driver:
        for page in pages:
            url = f"{base}/{page}.html"
            driver.get(url)
            view = "script[type='application/vnd.jupyter.widget-view+json']"
            has_widgets = bool(driver.execute_script(f'return !!document.querySelector("{view}")'))
            wait_ready(driver, has_widgets)
            if driver.execute_script("return !!document.querySelector('script[src*=\"mathjax\"]')"):
                WebDriverWait(driver, 30).until(
                    lambda d: d.execute_script("return document.querySelectorAll('mjx-container').length > 0")
                )
            math = driver.execute_script("return document.querySelectorAll('mjx-container').length")
            figures = driver.execute_script(
                "return Array.from(document.querySelectorAll('article img, .bd-article img'))"
                ".filter(i => i.naturalWidth > 0).length"
            )
            shot = screenshot(driver, shots / (page.replace("/", "_") + ".png"))
            report[page] = {
                "figures": figures,
                "math": math,
                "screenshot": str(shot),
                "problems": problems(driver, base),
            }
        driver.get(f"{base}/{explorer}.html")
        wait_ready(driver, True)
        problems(driver, base)
        before, after = move_slider(driver)
        report["slider"] = {
            "before": before,
            "after": after,
            "screenshot": str(screenshot(driver, shots / "explorer_after_slider.png")),
            "problems": problems(driver, base),
        }
    print(json.dumps(report, indent=1))
    return report


def test_demo_book_in_chromium(tmp_path, tmp_path_factory):
    """The small book of test_book_build: pages clean, explorer slider switches the image."""
    _need_browser()
    from test_book_build import demo_book_html

    html = demo_book_html(tmp_path_factory)
    report = check_site(html, ["book/intro", "book/explorer"], "book/explorer", tmp_path / "shots")
    for page in ("book/intro", "book/explorer", "slider"):
        assert report[page]["problems"] == [], (page, report[page]["problems"])
    assert report["book/explorer"]["figures"] >= 1
    assert report["book/intro"]["math"] >= 1  # MathJax from the site rendered the formula
    assert report["slider"]["before"] != report["slider"]["after"]


def _chapter_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]


@pytest.mark.slow
def test_study_book_in_chromium(tiny_book, tmp_path):
    """The tiny study's whole book: every page clean, chapters with figures, the explorer works."""
    _need_browser()
    pages = _chapter_pages()
    explorer = next(p for p in pages if p.endswith("_explorer"))
    report = check_site(tiny_book, pages, explorer, tmp_path / "shots")
    bad = {p: r["problems"] for p, r in report.items() if r["problems"]}
    assert not bad, bad
    for page in pages:
        if Path(page).name[:2].isdigit():  # the executed chapters (not the Markdown pages)
            assert report[page]["figures"] >= 1, f"{page} shows no figure"
    assert report["slider"]["before"] != report["slider"]["after"]
