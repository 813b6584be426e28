"""Small display helpers shared by the chapters: tables that render in Jupyter and the book."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure, SubFigure

#: The box around a message drawn in place of a figure.
MESSAGE_BOX = {"boxstyle": "round", "fc": "#fff4e5", "ec": "#d9822b"}


def message_panel(fig: Figure | SubFigure, text: str, title: str = "") -> None:
    """Write ``text`` where the panel's figure would be (the chapter still renders around it)."""
    ax = fig.add_subplot(1, 1, 1)
    ax.set_axis_off()
    ax.text(
        0.5,
        0.5,
        "\n".join(textwrap.wrap(text, 60)),
        ha="center",
        va="center",
        fontsize=9,
        transform=ax.transAxes,
        bbox=MESSAGE_BOX,
    )
    if title:
        ax.set_title(title, fontsize=10)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class Table:
    """Rows with headers; HTML in notebooks and the book, aligned text elsewhere."""

    def __init__(self, rows: Sequence[Sequence[Any]], headers: Sequence[str], title: str = ""):
        self.rows = [list(r) for r in rows]
        self.headers = list(headers)
        self.title = title

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in self.rows
        )
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return (
            f'<table class="nap-table">{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        )

    def __str__(self) -> str:
        cells = [self.headers] + [[_fmt(v) for v in row] for row in self.rows]
        widths = [max(len(str(r[i])) for r in cells) for i in range(len(self.headers))]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return (self.title + "\n" if self.title else "") + "\n".join(lines)

    __repr__ = __str__


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str], title: str = "") -> Table:
    return Table(rows, headers, title)


class Markdown(str):
    """Text that notebooks and the book render as Markdown (e.g. a sentence in place of a figure)."""

    def _repr_markdown_(self) -> str:
        return str(self)


def percent(share: float | None, digits: int = 1) -> str:
    """``0.1234`` as ``'12.3 %'``; None (nothing to count, e.g. no labelled frame) as ``'n/a'``."""
    return "n/a" if share is None else f"{100 * share:.{digits}f} %"
