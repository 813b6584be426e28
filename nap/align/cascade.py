"""The cascade of paper Figure 2: a grapheme and a phoneme for every output frame.

Per utterance:

1. the acoustic model's best symbol per output frame (``frame_ids``);
2. runs of equal symbols merged and blanks dropped, each kept symbol remembering the frames
   of its run; a repetition symbol ``k`` (Collobert et al.: ``hello`` is written
   ``h e l 1 o``) is expanded into ``k`` copies of the previous symbol, exactly as the
   recognizer's decoder expands it, and its frames are split evenly among the copies (a
   repetition symbol with nothing before it is dropped, its frames labelled none);
3. this sequence aligned globally with the decoded transcript (Needleman-Wunsch, match 1,
   mismatch -1, gap -1), so each kept symbol, and with it each of its frames, gets a
   position in the transcript, or none where it faces a gap;
4. the transcript's words through the G2P, and each letter's phoneme by attention;
5. so each frame gets a **grapheme** (its own predicted letter or apostrophe, as in the
   paper) and a **phoneme** (that of the transcript letter its symbol was aligned to).

Frames get no label (-1) where they are blank, predict a space, belong to a dropped
repetition, face a gap or a space of the transcript, or fall on a letter without phoneme;
:data:`REASONS` names these cases and every frame's case is kept, so they can be counted.
The cascade works on plain arrays and strings and a callable G2P, so it is tested without
a trained model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from nap.align.needleman_wunsch import Alignment, needleman_wunsch
from nap.phonetics import GRAPHEMES, PHONES

#: The phoneme groups: the 39 ARPAbet phones.
PHONEMES: tuple[str, ...] = PHONES
NONE = -1

#: Why a frame has (or lacks) a label; index = the reason code stored per frame.
REASONS: tuple[str, ...] = (
    "labelled",  # 0
    "blank",  # 1: the frame's best symbol is the CTC blank
    "space",  # 2: the frame predicts a word boundary
    "orphan_repetition",  # 3: a repetition symbol with no symbol before it
    "gap",  # 4: the frame's symbol faces a gap of the transcript in the alignment
    "transcript_space",  # 5: the frame's symbol is aligned to a space of the transcript
    "no_phoneme",  # 6: the G2P gave the transcript letter no phoneme
    "moved_by_delay",  # 7: no phoneme label landed here once the emission delays were taken out
)
LABELLED, BLANK, SPACE, ORPHAN, GAP, TRANSCRIPT_SPACE, NO_PHONEME, MOVED_BY_DELAY = range(len(REASONS))

_GRAPHEME_INDEX = {g: i for i, g in enumerate(GRAPHEMES)}
_PHONE_INDEX = {p: i for i, p in enumerate(PHONEMES)}

#: word -> one phoneme (or None) per letter; the G2P's attention assignment.
LetterPhones = Callable[[str], Sequence[str | None]]


@dataclass(frozen=True)
class SymbolTable:
    """The recognizer's output symbols: which index is blank, space, a repetition symbol.

    ``symbols[i]`` is the text of class ``i``; a symbol made of digits is a repetition
    symbol repeating the previous symbol that many times (the ASR vocabulary's convention).
    """

    symbols: tuple[str, ...]
    blank: int = 0
    space: str = " "

    @classmethod
    def from_vocab(cls, vocab: object) -> SymbolTable:
        """From the recognizer's vocabulary (anything with ``.symbols`` and ``.blank``)."""
        return cls(tuple(vocab.symbols), int(getattr(vocab, "blank", 0)))  # type: ignore[attr-defined]

    def repeats(self) -> np.ndarray:
        """Per class: its repetition count, 0 for ordinary symbols."""
        return np.array([int(s) if s.isdigit() else 0 for s in self.symbols], dtype=np.int64)


@dataclass
class Tokens:
    """The collapsed, expanded symbol sequence with each symbol's frames ``[start, end)``."""

    chars: list[str]
    start: np.ndarray
    end: np.ndarray

    @property
    def text(self) -> str:
        return "".join(self.chars)


@dataclass
class CascadeResult:
    """Everything the cascade computed for one utterance (the chain of Figure 2)."""

    frame_ids: np.ndarray  # (T,) best class per output frame
    tokens: Tokens  # collapsed and expanded symbols with their frame spans
    transcript: str  # the transcript aligned to (decoded, or the true one)
    alignment: Alignment  # tokens.text against transcript
    token_position: np.ndarray  # (n_tokens,) transcript position of each token, -1 = gap
    position_phone: np.ndarray  # (len(transcript),) phoneme index of each transcript letter, -1 none
    words: list[tuple[int, str, list[str | None]]]  # (start position, word, phoneme of each letter)
    grapheme: np.ndarray  # (T,) grapheme index per frame, -1 none
    phoneme: np.ndarray  # (T,) phoneme index per frame, -1 none
    grapheme_reason: np.ndarray  # (T,) reason code (REASONS) of the grapheme label
    phoneme_reason: np.ndarray  # (T,) reason code of the phoneme label
    frame_token: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))  # (T,) -1 none

    @property
    def position(self) -> np.ndarray:
        """(T,) each frame's position in the transcript, -1 for blanks, dropped symbols and gaps."""
        pos = np.full(len(self.frame_token), NONE, dtype=np.int64)
        has = self.frame_token >= 0
        pos[has] = self.token_position[self.frame_token[has]]
        return pos

    def reason_counts(self, which: str = "phoneme") -> dict[str, int]:
        codes = self.phoneme_reason if which == "phoneme" else self.grapheme_reason
        counts = np.bincount(codes, minlength=len(REASONS))
        return {name: int(c) for name, c in zip(REASONS, counts, strict=True)}


def collapse(frame_ids: np.ndarray, table: SymbolTable) -> tuple[Tokens, np.ndarray]:
    """Merge runs, drop blanks, expand repetition symbols; also each frame's token (-1 none).

    Returns the tokens and, per frame, the index of its token, -1 for blank frames and
    -2 for frames of a dropped (orphan) repetition symbol.
    """
    ids = np.asarray(frame_ids, dtype=np.int64).ravel()
    n = len(ids)
    frame_token = np.full(n, -1, dtype=np.int64)
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    if n == 0:
        return Tokens(chars, np.zeros(0, np.int64), np.zeros(0, np.int64)), frame_token
    if ids.min() < 0 or ids.max() >= len(table.symbols):
        raise ValueError(
            f"frame symbol ids must lie in [0, {len(table.symbols)}), got {ids.min()}..{ids.max()}"
        )
    reps = table.repeats()
    bounds = np.flatnonzero(np.diff(ids)) + 1
    run_start = np.concatenate([[0], bounds])
    run_end = np.concatenate([bounds, [n]])
    for s, e in zip(run_start.tolist(), run_end.tolist(), strict=True):
        sym = int(ids[s])
        if sym == table.blank:
            continue
        k = int(reps[sym])
        if k == 0:
            frame_token[s:e] = len(chars)
            chars.append(table.symbols[sym])
            starts.append(s)
            ends.append(e)
            continue
        if not chars:
            frame_token[s:e] = -2
            continue
        # k copies of the previous symbol share the run's frames as evenly as possible (a copy gets
        # no frame of its own when the run is shorter than k frames)
        edges = s + (np.arange(k + 1) * (e - s)) // k
        for a, b in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
            frame_token[a:b] = len(chars)
            chars.append(chars[-1])
            starts.append(a)
            ends.append(b)
    return Tokens(chars, np.array(starts, np.int64), np.array(ends, np.int64)), frame_token


def transcript_phones(
    transcript: str, letter_phones: LetterPhones
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str, list[str | None]]]]:
    """Per transcript position: phoneme index and reason code; and the words with their phones."""
    n = len(transcript)
    phone = np.full(n, NONE, dtype=np.int64)
    reason = np.full(n, TRANSCRIPT_SPACE, dtype=np.int64)
    words: list[tuple[int, str, list[str | None]]] = []
    pos = 0
    for word in transcript.split(" "):
        if word:
            per_letter = list(letter_phones(word))
            if len(per_letter) != len(word):
                raise ValueError(
                    f"G2P assignment for {word!r} has {len(per_letter)} phonemes, expected one per letter"
                )
            names: list[str | None] = []
            for i, ph in enumerate(per_letter):
                key = None if ph is None else ph.rstrip("012").upper()
                if key is not None and key not in _PHONE_INDEX:
                    raise ValueError(f"G2P gave {word!r} the unknown phoneme {ph!r}")
                names.append(key)
                phone[pos + i] = NONE if key is None else _PHONE_INDEX[key]
                reason[pos + i] = NO_PHONEME if key is None else LABELLED
            words.append((pos, word, names))
        pos += len(word) + 1
    return phone, reason, words


def normalize_transcript(text: str) -> str:
    """Lower case, single spaces, no leading or trailing space (the decoder's convention)."""
    return " ".join(text.lower().split())


def run_cascade(
    frame_ids: np.ndarray, table: SymbolTable, transcript: str, letter_phones: LetterPhones
) -> CascadeResult:
    """The whole cascade for one utterance (module docstring): labels for every frame."""
    ids = np.asarray(frame_ids, dtype=np.int64).ravel()
    transcript = normalize_transcript(transcript)
    tokens, frame_token = collapse(ids, table)
    aln = needleman_wunsch(tokens.text, transcript)
    token_position = aln.a_to_b(len(tokens.chars))
    position_phone, position_reason, words = transcript_phones(transcript, letter_phones)

    n = len(ids)
    grapheme = np.full(n, NONE, dtype=np.int64)
    g_reason = np.full(n, BLANK, dtype=np.int64)
    phoneme = np.full(n, NONE, dtype=np.int64)
    p_reason = np.full(n, BLANK, dtype=np.int64)
    g_reason[frame_token == -2] = ORPHAN
    p_reason[frame_token == -2] = ORPHAN

    has = frame_token >= 0
    tok = frame_token[has]
    char_code = np.array([_GRAPHEME_INDEX.get(c, NONE) for c in tokens.chars], dtype=np.int64)
    is_space = np.array([c == table.space for c in tokens.chars], dtype=bool)
    grapheme[has] = char_code[tok]
    g_reason[has] = np.where(is_space[tok], SPACE, LABELLED)

    # index -1 (a gap) picks the padding: no phoneme, reason "gap"
    pos = token_position[tok]
    pad_phone = np.append(position_phone, NONE)
    pad_reason = np.append(position_reason, GAP)
    reason = np.where(is_space[tok], SPACE, pad_reason[pos])
    phoneme[has] = np.where(reason == LABELLED, pad_phone[pos], NONE)
    p_reason[has] = reason
    return CascadeResult(
        frame_ids=ids,
        tokens=tokens,
        transcript=transcript,
        alignment=aln,
        token_position=token_position,
        position_phone=position_phone,
        words=words,
        grapheme=grapheme,
        phoneme=phoneme,
        grapheme_reason=g_reason,
        phoneme_reason=p_reason,
        frame_token=frame_token,
    )
