"""flite (Debian package ``flite``): audio plus the end time of every phone of its Segment relation.

Voices: ``kal16`` (diphone), ``awb``, ``rms``, ``slt`` (statistical parametric voices built
from real recordings of three speakers); all speak at 16 kHz. The command line
``flite -voice V -psdur -t TEXT -o out.wav`` prints every segment of the utterance's
``Segment`` relation as ``phone:end`` (seconds), in the "radio" phone set that
:func:`nap.corpus.phones.radio_phones` maps to ARPAbet. A phone starts where the previous
one ends; the last phone is cut (or extended) to the end of the audio, which the diphone
voice may end a few milliseconds before its last pause's nominal end.

Speed and pitch: ``--setf duration_stretch=1/rate`` and ``--setf f0_shift=pitch`` (both
voices types honour these; 1.0 is the voice's own).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from nap.corpus.audio import Synthesis
from nap.errors import NapError

VOICES = ("kal16", "awb", "rms", "slt")
SAMPLE_RATE = 16000


class FliteError(NapError, RuntimeError):
    """flite is missing or failed."""


def executable() -> str:
    path = shutil.which("flite")
    if path is None:
        raise FliteError("the flite program is not installed (Debian/Ubuntu: apt-get install flite)")
    return path


def available() -> bool:
    return shutil.which("flite") is not None


def synthesize(
    text: str, voice: str = "slt", rate: float = 1.0, pitch: float = 1.0, sample_rate: int = SAMPLE_RATE
):
    """Speak ``text`` with flite ``voice``: a :class:`nap.corpus.audio.Synthesis` with ARPAbet timings."""
    from nap.corpus.phones import radio_phones, segments

    if voice not in VOICES:
        raise FliteError(f"unknown flite voice {voice!r}; voices are {', '.join(VOICES)}")
    with tempfile.TemporaryDirectory(prefix="nap-flite-") as tmp:
        wav = Path(tmp) / "out.wav"
        cmd = [
            executable(),
            "-voice",
            voice,
            "--setf",
            f"duration_stretch={1.0 / rate:.4f}",
            "--setf",
            f"f0_shift={pitch:.4f}",
            "-psdur",
            "-t",
            text,
            "-o",
            str(wav),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not wav.is_file():
            raise FliteError(f"flite failed on {text!r} (voice {voice}): {proc.stderr.strip()[-500:]}")
        audio, sr = sf.read(wav, dtype="int16")
    if sr != sample_rate:
        raise FliteError(f"flite voice {voice} spoke at {sr} Hz, expected {sample_rate} Hz")
    seconds = len(audio) / sr
    units, start = [], 0.0
    for token in proc.stdout.split():
        name, _, end = token.rpartition(":")
        if not name:
            continue
        end_s = min(float(end), seconds)
        units.append((radio_phones(name), start, end_s))
        start = end_s
    if not units or len(audio) == 0:
        raise FliteError(f"flite printed no segments for {text!r} (voice {voice})")
    last = units[-1]
    units[-1] = (last[0], last[1], seconds)
    return Synthesis(np.ascontiguousarray(audio), segments(units), sr)
