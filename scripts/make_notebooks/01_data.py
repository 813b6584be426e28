"""Write chapters/01_data.ipynb (chapter 1: the data), without outputs.

python scripts/make_notebooks/01_data.py
"""

from __future__ import annotations

from pathlib import Path

from nap.notebook import PARAMETERS, write

OUT = Path(__file__).resolve().parents[2] / "chapters" / "01_data.ipynb"


CELLS: list[tuple[str, str]] = [
    (
        "md",
        """\
# 1. Data: an embedded speech corpus with true phone timings

The paper trains its recognizer on LibriSpeech. Nothing can be downloaded here, so the
default study speaks its own corpus: sentences from the Debian `fortunes` collection, read
by many synthetic voices of two engines, **espeak-ng** (formant synthesis; American, British,
Scottish and Caribbean English; male, female and klatt variants; different rates and
pitches) and **flite** (a diphone voice and three statistical voices trained on recordings
of real speakers). A *speaker* is one voice configuration. The corpus is written in
LibriSpeech's layout, so the code that reads it is the code that reads LibriSpeech (set
`corpus.source` to `"librispeech"` and `corpus.librispeech_root` to run every chapter on a
real corpus).

Because the engines say what they speak and when, every utterance comes with **true phone
timings** (39 ARPAbet phones without stress, plus `sil`), which the paper did not have: chapter 4
uses them to measure how often its phoneme alignment is right.

Three splits keep evaluation honest: `train`; `test_sentences`, held-out sentences spoken by
training voices; `test_voices`, held-out sentences spoken by voices never heard in training
(espeak-ng language + variant pairs not used for training, and a flite voice not used for training).""",
    ),
    ("params", PARAMETERS),
    ("code", "import nap\n\nstudy = nap.Study(profile, params, artifacts)"),
    (
        "code",
        """\
from nap.corpus import plots, stats
from nap.display import table

corpus = study.corpus()
summary = study.summary("corpus")
study.parameter_table("corpus")""",
    ),
    ("md", "## What the corpus holds"),
    (
        "code",
        """\
print(f"{summary['hours']:.2f} hours in {summary['utterances']} utterances by {summary['voices']} voices "
      f"({', '.join(summary['engines'])}); {summary['phones']} true phones (silences not counted).")
print(f"utterances left out as bad input: {summary.get('bad_input_skipped', 0)}, "
      f"files resampled to 16 kHz: {summary.get('resampled', 0)}")
rows = [list(r.values()) for r in corpus.stats()]
table(rows, list(corpus.stats()[0]), title="splits")""",
    ),
    (
        "md",
        """\
Every voice with its splits. Training voices also speak the held-out sentences of
`test_sentences`; the voices of `test_voices` speak nothing else.""",
    ),
    (
        "code",
        """\
table(stats.voice_rows(corpus), ["speaker", "splits", "voice", "utterances", "minutes"], title="voices")""",
    ),
    (
        "md",
        """\
## Phones

How often each phone occurs, as a share of each split's phones (silence not counted),
ordered and coloured by phonetic class: the held-out splits should test the phones the
recognizer was trained on, in similar proportions.""",
    ),
    (
        "code",
        """\
fig = plots.phone_histogram(corpus)
counts = corpus.phone_counts("train")
rare = sorted(counts, key=counts.get)[:3]
print(f"{len(counts)} different phones in train; rarest:", ", ".join(f"{p} ({counts[p]})" for p in rare))""",
    ),
    (
        "md",
        """\
## Do the timings match the audio?

The engines report where each phone starts (espeak-ng: the sample of each phoneme event;
flite: the end time of each segment). The check below measures the energy of every 10 ms
frame inside a phone (15 ms away from its edges), in dB below the loudest frame of its
utterance: vowels must be loud and almost never silent, silences quiet. Consonants lie
between, since the closure of a stop is silent by nature. (`nap/corpus/espeak.py` explains
the one correction made to espeak-ng's event times: a stop's closure is written before its
event.)""",
    ),
    (
        "code",
        """\
rows = stats.timing_energy(corpus, utterances=200, seed=0)
table(rows, ["engine", "phones", "frames", "median dB", f"share below {stats.SILENT_DB:g} dB"],
      title="frame energy inside true phones (200 utterances)")""",
    ),
    (
        "md",
        """\
## One utterance

The waveform and the log-mel spectrogram the network sees (next section), with the true
phone boundaries (cyan) and labels:""",
    ),
    (
        "code",
        """\
features = study.features()
utt = plots.examples(corpus, per_split=1, seed=1)[1]
fig = plots.spectrogram(corpus, utt, features)""",
    ),
    ("md", "## Listen\n\nTwo utterances of every split, from different engines where the split has several:"),
    ("code", "plots.players(corpus, plots.examples(corpus, per_split=2, seed=0))"),
    (
        "md",
        """\
## Features

The network's input (paper §2.1): 128 log-mel bands every 10 ms from 16 kHz audio, with a
25 ms window (FFT of 512 points), z-normalized over each utterance as in the `speechless`
code the paper builds on. `nap/features.py` documents each choice; all features of the
corpus are computed once and cached in one float16 array.""",
    ),
    (
        "code",
        """\
fsum = study.summary("features")
x = features.get(utt)
print(f"{fsum['utterances']} utterances, {fsum['frames']} frames x {fsum['n_mels']} bands "
      f"({fsum['megabytes']} MB); one frame every {features.hop_s * 1000:g} ms")
print(f"utterance {utt}: features {x.shape}, mean {x.mean():.3f}, std {x.std():.3f}")
study.parameter_table("features")""",
    ),
]


if __name__ == "__main__":
    write(CELLS, OUT)
    print(f"wrote {OUT}")
