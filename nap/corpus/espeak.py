"""espeak-ng through ctypes: audio plus the exact start sample of every phoneme.

The library and its data come from the PyPI wheel ``espeakng-loader`` (no system package).
``espeak_Initialize`` runs in synchronous mode with ``espeakINITIALIZE_PHONEME_EVENTS``: the
synthesis callback receives each block of 22,050 Hz samples together with the events in
that block, and a phoneme event's ``sample`` field is the phoneme's first sample counted
from the start of the text. A phoneme ends where the next phoneme (or pause) starts; the
last one ends with the audio. Mnemonics (espeak's own phoneme names, stress marks
stripped) are turned into ARPAbet by :mod:`nap.corpus.phones`.

espeak-ng keeps global state and is not thread-safe: one :class:`Espeak` per process (the
corpus synthesizes in worker processes), and the ctypes callback object is kept referenced
for as long as the library may call it.

**Determinism.** espeak-ng seeds its noise generator (breathy variants) from the clock at
initialization, the klatt voices draw noise from libc's ``rand()``, and the state it
carries from one utterance to the next (the phase of the glottal waveform) makes the same
text come out a few samples different after other texts; a corpus would depend on the
time and on which worker spoke what before. :func:`speak` therefore lets a ``fork`` of the
process speak each utterance, after seeding both generators from the utterance (voice,
rate, pitch, text): the parent initializes the library once and never speaks, so every
utterance starts from the same state, whenever and wherever it is spoken.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import threading
import zlib
from dataclasses import dataclass

import numpy as np

from nap.corpus.audio import Synthesis, resample
from nap.errors import NapError

SAMPLE_RATE = 22050

# espeak_ng/speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_PARAM_RANGE = 4
_PARAM_WORDGAP = 7

#: English voices of espeak-ng 1.52 (``en-Shaw``, Shavian script, left out).
LANGUAGES = (
    "en-us",
    "en",
    "en-us-nyc",
    "en-029",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)
#: Voice variants (``<language>+<variant>``): formant settings of male, female and klatt voices.
VARIANTS = tuple(
    [f"m{i}" for i in range(1, 9)]
    + [f"f{i}" for i in range(1, 6)]
    + ["klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6"]
)


class EspeakError(NapError, RuntimeError):
    """espeak-ng could not be loaded or refused a call."""


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),  # union {int number; const char *name; char string[8]}
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class EspeakOutput:
    """22,050 Hz int16 audio and (mnemonic, start sample) for each phoneme, in order."""

    audio: np.ndarray
    events: list[tuple[str, int]]
    sample_rate: int = SAMPLE_RATE


class Espeak:
    """The espeak-ng library of this process (use :func:`engine`)."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:  # pragma: no cover - a dependency
            raise EspeakError("the PyPI package 'espeakng-loader' is not installed") from exc
        path = espeakng_loader.get_library_path()
        try:
            self.lib = ctypes.CDLL(path)
        except OSError as exc:
            raise EspeakError(f"cannot load espeak-ng from {path}: {exc}") from exc
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        data = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        )
        if rate != SAMPLE_RATE:
            raise EspeakError(
                f"espeak_Initialize({data.decode()}) returned {rate}, expected {SAMPLE_RATE} Hz"
            )
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[str, int]] = []
        self._callback = _CALLBACK(self._on_audio)  # kept referenced: the library calls it
        lib.espeak_SetSynthCallback(self._callback)
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def _on_audio(self, wav, n, events) -> int:
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                self._events.append((ev.id.decode("utf-8", errors="replace"), int(ev.sample)))
            i += 1
        return 0

    def synth(
        self,
        text: str,
        voice: str = "en-us",
        rate: int = 175,
        pitch: int = 50,
        pitch_range: int = 50,
        word_gap: int = 0,
    ) -> EspeakOutput:
        """Speak ``text`` with ``voice`` (``language+variant``), ``rate`` (words/min), ``pitch`` (0-100)."""
        if os.getpid() != self._pid:
            raise EspeakError("an Espeak object cannot be used in a forked child; call engine() there")
        with self._lock:
            lib = self.lib
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise EspeakError(f"espeak-ng has no voice {voice!r}")
            for par, value in (
                (_PARAM_RATE, rate),
                (_PARAM_PITCH, pitch),
                (_PARAM_RANGE, pitch_range),
                (_PARAM_VOLUME, 100),
                (_PARAM_WORDGAP, word_gap),
            ):
                if lib.espeak_SetParameter(par, int(value), 0) != 0:
                    raise EspeakError(f"espeak_SetParameter({par}, {value}) failed")
            self._chunks, self._events = [], []
            data = text.encode("utf-8")
            err = lib.espeak_Synth(
                data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None
            )
            if err != 0 or lib.espeak_Synchronize() != 0:
                raise EspeakError(f"espeak_Synth failed (error {err}) on {text!r}")
            audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            return EspeakOutput(audio, list(self._events))


_ENGINE: Espeak | None = None
_LIBC = ctypes.CDLL(None)


def engine() -> Espeak:
    """This process's espeak-ng (created on first use, again after a fork)."""
    global _ENGINE
    if _ENGINE is None or _ENGINE._pid != os.getpid():
        _ENGINE = Espeak()
    return _ENGINE


def speak(text: str, voice: str = "en-us", rate: int = 175, pitch: int = 50) -> EspeakOutput:
    """:meth:`Espeak.synth` in a forked child, so the result does not depend on earlier calls."""
    eng = engine()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: speak once, send, exit
        code = 0
        try:
            os.close(read_fd)
            seed = zlib.crc32(f"{voice}|{rate}|{pitch}|{text}".encode())
            _LIBC.srand(seed)  # klatt voices draw noise from libc's rand()
            eng.lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))  # breathy variants from espeak's own
            eng._pid = os.getpid()
            try:
                result: object = eng.synth(text, voice, rate, pitch)
            except Exception as exc:  # noqa: BLE001 - sent to the parent
                result = EspeakError(str(exc))
            with os.fdopen(write_fd, "wb") as fh:
                pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:  # noqa: BLE001 - never return into the caller
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        payload = fh.read()
    _, status = os.waitpid(pid, 0)
    if not payload or os.waitstatus_to_exitcode(status) != 0:
        raise EspeakError(
            f"the espeak-ng child process failed (status {status}) on {text!r} with voice {voice}"
        )
    result = pickle.loads(payload)
    if isinstance(result, Exception):
        raise result
    return result


def synthesize(
    text: str,
    language: str = "en-us",
    variant: str = "",
    rate: int = 175,
    pitch: int = 50,
    sample_rate: int = 16000,
):
    """Speak ``text``: a :class:`nap.corpus.audio.Synthesis` at ``sample_rate`` with ARPAbet timings.

    The 22,050 Hz output is resampled with :func:`nap.corpus.audio.resample` (zero-phase, so
    times are kept); timings are computed from the event samples at 22,050 Hz (see
    :func:`_units` for the one correction made to them).
    """
    from nap.corpus.phones import segments

    voice = f"{language}+{variant}" if variant else language
    out = speak(text, voice, rate=rate, pitch=pitch)
    n = len(out.audio)
    if n == 0 or not out.events:
        raise EspeakError(f"espeak-ng produced no audio for {text!r} with voice {voice}")
    marks = [(m, s) for m, s in out.events if 0 <= s <= n]
    units = _units(out.audio, marks, language)
    audio = resample(out.audio, SAMPLE_RATE, sample_rate)
    audio = np.clip(np.round(audio), -32768, 32767).astype(np.int16)
    return Synthesis(audio, segments(units), sample_rate)


#: |sample| at or below this counts as the digital silence espeak-ng writes for pauses.
SILENT = 8
#: A silent run of at least this length before a non-stop phoneme becomes a ``sil`` interval.
MIN_PAUSE_S = 0.03
_CLOSURE_PHONES = frozenset({"P", "T", "K", "B", "D", "G", "CH", "JH"})


def _units(
    audio: np.ndarray, marks: list[tuple[str, int]], language: str
) -> list[tuple[tuple[str, ...], float, float]]:
    """(ARPAbet phones, start s, end s) per phoneme event.

    espeak-ng writes a phoneme's *pre-pause* (the closure of a stop, the gap before some
    words) before it emits the phoneme's event, so read naively the closure silence would
    end the previous phone. The run of digital silence just before an event is therefore
    given to the phoneme when it is a stop or affricate (its closure), and becomes ``sil``
    when it is longer than :data:`MIN_PAUSE_S` before any other phoneme; the previous phone
    keeps at least 10 ms. A phoneme whose event comes at the same sample as the next one
    (a liquid that espeak-ng speaks as the end of the vowel before it, as in *sells*)
    shares the previous phoneme's interval. Before the first event the audio is ``sil``.
    """
    from nap.corpus.phones import SIL, espeak_phones

    n = len(audio)
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > SILENT)
    keep = int(0.01 * SAMPLE_RATE)
    starts = [s for _, s in marks]
    phones = [espeak_phones(m, language) for m, _ in marks]
    pauses: dict[int, int] = {}  # event index -> start of a sil interval before it
    for i in range(1, len(marks)):
        s, prev = starts[i], starts[i - 1]
        if phones[i - 1] == (SIL,) or s <= prev:
            continue
        j = np.searchsorted(loud, s) - 1  # last loud sample before s
        quiet_from = int(loud[j]) + 1 if j >= 0 else 0
        quiet_from = max(quiet_from, prev + min(keep, (s - prev) // 2))
        if quiet_from >= s:
            continue
        if phones[i][0] in _CLOSURE_PHONES:
            starts[i] = quiet_from
        elif (s - quiet_from) >= MIN_PAUSE_S * SAMPLE_RATE:
            pauses[i] = quiet_from
    units: list[tuple[tuple[str, ...], float, float]] = []
    if starts and starts[0] > 0:
        units.append(((SIL,), 0.0, starts[0] / SAMPLE_RATE))
    for i, ph in enumerate(phones):
        end = starts[i + 1] if i + 1 < len(starts) else n
        if i + 1 in pauses:
            end = pauses[i + 1]
        if end <= starts[i] and ph != (SIL,) and units and units[-1][0] != (SIL,):
            prev = units.pop()  # spoken inside the previous phone (a vowel's l-coloured end)
            units.append((prev[0] + ph, prev[1], prev[2]))
            continue
        units.append((ph, starts[i] / SAMPLE_RATE, end / SAMPLE_RATE))
        if i + 1 in pauses:
            units.append(((SIL,), pauses[i + 1] / SAMPLE_RATE, starts[i + 1] / SAMPLE_RATE))
    return units
