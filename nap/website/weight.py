"""What a built page of the book weighs: the HTML and every local file its tags load.

``python -m nap.website weight PAGE.html`` prints it; the book's tests check that no page
loads anything from the network.
"""

from __future__ import annotations

import html.parser
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit


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
