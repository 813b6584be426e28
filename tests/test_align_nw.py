"""Needleman-Wunsch: hand-worked alignments, the tie rule, and properties (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nap.align.needleman_wunsch import alignment_score, needleman_wunsch


def reference_nw(a, b, match=1, mismatch=-1, gap=-1):
    """Textbook O(nm) recurrence and traceback (diagonal, then up, then left), in plain Python."""
    n, m = len(a), len(b)
    H = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        H[i][0] = gap * i
    for j in range(m + 1):
        H[0][j] = gap * j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            s = match if a[i - 1] == b[j - 1] else mismatch
            H[i][j] = max(H[i - 1][j - 1] + s, H[i - 1][j] + gap, H[i][j - 1] + gap)
    i, j, cols = n, m, []
    while i > 0 or j > 0:
        if i > 0 and j > 0 and H[i][j] == H[i - 1][j - 1] + (match if a[i - 1] == b[j - 1] else mismatch):
            i, j = i - 1, j - 1
            cols.append((i, j))
        elif i > 0 and H[i][j] == H[i - 1][j] + gap:
            i -= 1
            cols.append((i, -1))
        else:
            j -= 1
            cols.append((-1, j))
    return H[n][m], cols[::-1]


def test_wikipedia_example():
    # the classic GATTACA / GCATGCU example scores 0 with match 1, mismatch -1, gap -1
    aln = needleman_wunsch("GATTACA", "GCATGCU")
    assert aln.score == 0
    assert alignment_score("GATTACA", "GCATGCU", aln) == 0
    top = "".join(x for x, _ in aln.pairs("GATTACA", "GCATGCU"))
    bottom = "".join(y for _, y in aln.pairs("GATTACA", "GCATGCU"))
    # one of the optimal alignments listed there; the tie rule picks the one with the earlier gap
    assert (top, bottom) == ("G-ATTACA", "GCA-TGCU")


def test_hand_worked_small_cases():
    # "ab" vs "b": a gap and a match, score 0; the gap goes first
    aln = needleman_wunsch("ab", "b")
    assert aln.score == 0 and aln.pairs("ab", "b") == [("a", "-"), ("b", "b")]
    # "abc" vs "ac": the b faces a gap
    aln = needleman_wunsch("abc", "ac")
    assert aln.score == 1 and aln.pairs("abc", "ac") == [("a", "a"), ("b", "-"), ("c", "c")]
    # a deleted letter and a space: "helo wrld" vs "hello world" = 9 matches, 2 gaps
    aln = needleman_wunsch("helo wrld", "hello world")
    assert aln.score == 7
    assert aln.a_to_b().tolist() == [0, 1, 3, 4, 5, 6, 8, 9, 10]
    # two mismatches cost less than four gaps
    aln = needleman_wunsch("cat", "cut")
    assert aln.score == 1 and aln.pairs("cat", "cut") == [("c", "c"), ("a", "u"), ("t", "t")]


def test_tie_rule_puts_gaps_first():
    # "a" vs "aa": both columns orders score 0; the diagonal is taken at the end, the gap first
    aln = needleman_wunsch("a", "aa")
    assert aln.score == 0
    assert aln.b_index.tolist() == [0, 1] and aln.a_index.tolist() == [-1, 0]
    # "ab" vs "ba": gap, match, gap (-1) beats two mismatches (-2); of the two such alignments the
    # traceback takes "b" against a gap at the end first (a gap in b before a gap in a)
    aln = needleman_wunsch("ab", "ba")
    assert aln.score == -1
    assert aln.pairs("ab", "ba") == [("-", "b"), ("a", "a"), ("b", "-")]


def test_empty_and_other_symbol_types():
    aln = needleman_wunsch("", "abc")
    assert aln.score == -3 and aln.a_index.tolist() == [-1, -1, -1] and aln.b_index.tolist() == [0, 1, 2]
    assert needleman_wunsch("", "").score == 0 and len(needleman_wunsch("", "")) == 0
    ints = needleman_wunsch(np.array([1, 2, 3]), np.array([1, 3]))
    words = needleman_wunsch(["AH", "B", "K"], ["AH", "K"])
    assert ints.score == words.score == 1
    assert ints.a_index.tolist() == words.a_index.tolist()
    with pytest.raises(ValueError, match="gap score"):
        needleman_wunsch("a", "b", gap=1)


def test_vectorised_rows_beat_the_plain_recurrence():
    # a corpus of ~2000 utterances of ~250 symbols needs the row-wise numpy fill: compared on the
    # same machine (and load), it must be several times faster than the textbook double loop
    import time

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 28, 250).tolist(), rng.integers(0, 28, 250).tolist()

    def best_of_3(fn):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    assert needleman_wunsch(np.array(a), np.array(b)).score == reference_nw(a, b)[0]
    t_fast = best_of_3(lambda: needleman_wunsch(np.array(a), np.array(b)))
    t_slow = best_of_3(lambda: reference_nw(a, b))
    assert t_fast * 3 < t_slow


seqs = st.text(alphabet="abcd ", max_size=25)


@settings(max_examples=300, deadline=None)
@given(seqs, seqs)
def test_matches_reference_dp_and_traceback(a, b):
    aln = needleman_wunsch(a, b)
    score, cols = reference_nw(a, b)
    assert aln.score == score
    assert list(zip(aln.a_index.tolist(), aln.b_index.tolist(), strict=True)) == cols


@settings(max_examples=300, deadline=None)
@given(seqs, seqs)
def test_score_is_the_score_of_the_returned_alignment(a, b):
    aln = needleman_wunsch(a, b)
    assert alignment_score(a, b, aln) == aln.score
    # every position of both sequences appears once, in order, and no column is gap-gap
    assert [i for i in aln.a_index.tolist() if i >= 0] == list(range(len(a)))
    assert [j for j in aln.b_index.tolist() if j >= 0] == list(range(len(b)))
    assert not np.any((aln.a_index < 0) & (aln.b_index < 0))


@settings(max_examples=200, deadline=None)
@given(seqs)
def test_self_alignment_is_the_identity(a):
    aln = needleman_wunsch(a, a)
    assert aln.score == len(a)
    assert aln.a_index.tolist() == aln.b_index.tolist() == list(range(len(a)))


@settings(max_examples=200, deadline=None)
@given(seqs, seqs)
def test_scores_are_symmetric(a, b):
    assert needleman_wunsch(a, b).score == needleman_wunsch(b, a).score
