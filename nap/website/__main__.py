"""``python -m nap.website install [--force]`` fills the JavaScript cache; ``weight PAGE.html ...``
prints page weights."""

from __future__ import annotations

import sys

from nap.website.npm import install
from nap.website.weight import page_weight


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
