"""Grapheme-to-phoneme conversion (chapter 3): an attention encoder-decoder on CMUDict.

``build_g2p(work, params)`` splits CMUDict by word, trains the model and scores it on the
held-out words; ``G2P.open(path)`` loads it for ``predict``, ``predict_batch`` and
``assign`` (each letter's phone from the attention, paper §3.2).
"""

from typing import TYPE_CHECKING

from nap.g2p.params import G2PParams
from nap.lazy import exports

if TYPE_CHECKING:
    from nap.g2p.assign import Assignment
    from nap.g2p.stage import G2P, G2PInputError, build_g2p

# torch is imported on first use of these (nap.lazy): `nap params` and `nap results` stay fast
__getattr__ = exports(
    __name__, {"nap.g2p.assign": ["Assignment"], "nap.g2p.stage": ["G2P", "G2PInputError", "build_g2p"]}
)

__all__ = ["G2P", "Assignment", "G2PInputError", "G2PParams", "build_g2p"]
