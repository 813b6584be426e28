"""Alignment (chapter 4): a grapheme and a phoneme for every output frame of the recognizer.

The cascade of paper Figure 2 (:mod:`.cascade`, with :mod:`.needleman_wunsch`), the
frame groups for the NAP stage (:mod:`.groups`), the accuracy against the corpus' true
phone timings (:mod:`.accuracy`), the stage (``build_alignment``) and its stored result
(``FrameLabels``), and the chapter's figures (:mod:`.plots`).
"""

from typing import TYPE_CHECKING

from nap.align.cascade import GRAPHEMES, PHONEMES, REASONS, CascadeResult, SymbolTable, run_cascade
from nap.align.explain import Explanation, explain
from nap.align.labels import GROUPINGS, FrameLabels
from nap.align.needleman_wunsch import Alignment, needleman_wunsch
from nap.align.params import AlignParams
from nap.lazy import exports

if TYPE_CHECKING:
    from nap.align.stage import build_alignment

# the stage imports torch on first use (nap.lazy): `nap params` and `nap results` stay fast
__getattr__ = exports(__name__, {"nap.align.stage": ["build_alignment"]})

__all__ = [
    "GRAPHEMES",
    "GROUPINGS",
    "PHONEMES",
    "REASONS",
    "AlignParams",
    "Alignment",
    "CascadeResult",
    "Explanation",
    "FrameLabels",
    "SymbolTable",
    "build_alignment",
    "explain",
    "needleman_wunsch",
    "run_cascade",
]
