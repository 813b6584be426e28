"""Needleman-Wunsch global alignment (paper §3.2: match 1, mismatch -1, gap -1).

The score matrix is filled one row at a time with numpy. With a linear gap cost the
horizontal dependence inside a row is a running maximum::

    D[j]    = max(H[i-1, j-1] + s(a_i, b_j), H[i-1, j] + gap)      (diagonal or from above)
    H[i, j] = max_{k <= j} (D[k] + gap * (j - k))                   (then gaps from the left)
            = cummax(D[k] - gap * k)[j] + gap * j

so a row costs a few vector operations and a whole utterance a few milliseconds.

**Tie rule.** The traceback starts at the end of both sequences and, where several moves
reach the same score, takes the diagonal (pair ``a_i`` with ``b_j``) first, then the move
from above (``a_i`` against a gap), then the move from the left (``b_j`` against a gap).
Among equally good alignments it therefore pairs symbols as late as possible and puts
gaps as early as possible; aligning a sequence with itself gives the identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MATCH = 1
MISMATCH = -1
GAP = -1


@dataclass(frozen=True)
class Alignment:
    """A global alignment: ``a_index[k]``/``b_index[k]`` are the positions paired in column
    ``k`` of the alignment, -1 where that side has a gap."""

    score: int
    a_index: np.ndarray
    b_index: np.ndarray

    def __len__(self) -> int:
        return len(self.a_index)

    def a_to_b(self, n_a: int | None = None) -> np.ndarray:
        """For each position of ``a``, the position of ``b`` it is paired with (-1: a gap)."""
        n = int(self.a_index.max(initial=-1) + 1) if n_a is None else n_a
        out = np.full(n, -1, dtype=np.int64)
        keep = self.a_index >= 0
        out[self.a_index[keep]] = self.b_index[keep]
        return out

    def pairs(self, a: Sequence, b: Sequence, gap: object = "-") -> list[tuple[object, object]]:
        """The alignment's columns as ``(a symbol or gap, b symbol or gap)``."""
        return [
            (a[i] if i >= 0 else gap, b[j] if j >= 0 else gap)
            for i, j in zip(self.a_index.tolist(), self.b_index.tolist(), strict=True)
        ]


def _codes(a: Sequence | np.ndarray, b: Sequence | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sequences as integer arrays with equal symbols mapped to equal codes."""
    if isinstance(a, str) and isinstance(b, str):
        return (
            np.frombuffer(a.encode("utf-32-le"), dtype=np.uint32).astype(np.int64),
            np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32).astype(np.int64),
        )
    arr_a, arr_b = np.asarray(a), np.asarray(b)
    if arr_a.dtype.kind in "iub" and arr_b.dtype.kind in "iub":
        return arr_a.astype(np.int64).ravel(), arr_b.astype(np.int64).ravel()
    table: dict[object, int] = {}
    ca = np.array([table.setdefault(x, len(table)) for x in a], dtype=np.int64)
    cb = np.array([table.setdefault(x, len(table)) for x in b], dtype=np.int64)
    return ca, cb


def score_matrix(
    a: np.ndarray, b: np.ndarray, match: int = MATCH, mismatch: int = MISMATCH, gap: int = GAP
) -> np.ndarray:
    """The ``(len(a)+1, len(b)+1)`` matrix of best prefix scores (``a``, ``b`` int arrays)."""
    if gap > 0:
        raise ValueError(f"gap score must be <= 0 (a cost), got {gap}")
    n, m = len(a), len(b)
    cols = np.arange(m + 1, dtype=np.int64)
    H = np.empty((n + 1, m + 1), dtype=np.int64)
    H[0] = gap * cols
    for i in range(1, n + 1):
        prev = H[i - 1]
        d = np.empty(m + 1, dtype=np.int64)
        d[0] = gap * i
        np.maximum(prev[:-1] + np.where(b == a[i - 1], match, mismatch), prev[1:] + gap, out=d[1:])
        H[i] = np.maximum.accumulate(d - gap * cols) + gap * cols
    return H


def needleman_wunsch(
    a: Sequence | np.ndarray,
    b: Sequence | np.ndarray,
    match: int = MATCH,
    mismatch: int = MISMATCH,
    gap: int = GAP,
) -> Alignment:
    """Globally align ``a`` with ``b`` (strings, int arrays or sequences of hashables).

    Returns the optimal score and the aligned positions; ties are broken as the module
    docstring says (diagonal, then a gap in ``b``, then a gap in ``a``, from the end).
    """
    ca, cb = _codes(a, b)
    H = score_matrix(ca, cb, match, mismatch, gap)
    i, j = len(ca), len(cb)
    a_idx: list[int] = []
    b_idx: list[int] = []
    while i > 0 or j > 0:
        h = H[i, j]
        if i > 0 and j > 0 and h == H[i - 1, j - 1] + (match if ca[i - 1] == cb[j - 1] else mismatch):
            i, j = i - 1, j - 1
            a_idx.append(i)
            b_idx.append(j)
        elif i > 0 and h == H[i - 1, j] + gap:
            i -= 1
            a_idx.append(i)
            b_idx.append(-1)
        else:
            j -= 1
            a_idx.append(-1)
            b_idx.append(j)
    return Alignment(
        int(H[-1, -1]), np.array(a_idx[::-1], dtype=np.int64), np.array(b_idx[::-1], dtype=np.int64)
    )


def alignment_score(
    a: Sequence, b: Sequence, aln: Alignment, match: int = MATCH, mismatch: int = MISMATCH, gap: int = GAP
) -> int:
    """The score of the columns of ``aln`` (to check it against ``aln.score``)."""
    total = 0
    for i, j in zip(aln.a_index.tolist(), aln.b_index.tolist(), strict=True):
        if i < 0 or j < 0:
            total += gap
        else:
            total += match if a[i] == b[j] else mismatch
    return total
