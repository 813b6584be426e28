"""Write chapters/04_alignment.ipynb (chapter 4: a phoneme for every frame), without outputs.

python scripts/make_notebooks/04_alignment.py
"""

from __future__ import annotations

from pathlib import Path

from nap.notebook import PARAMETERS, write

OUT = Path(__file__).resolve().parents[2] / "chapters" / "04_alignment.ipynb"


CELLS: list[tuple[str, str]] = [
    (
        "md",
        """\
# 4. Alignment: a phoneme for every frame

A neuron activation profile (NAP) averages a layer's activations over a *group* of output
frames. For graphemes the groups come straight from the recognizer: each output frame
predicts a symbol. For phonemes every frame first needs a phoneme, and the paper (§3.2,
Figure 2) gets it with a cascade of mappings:

1. the acoustic model's best symbol for every output frame;
2. repeated symbols merged and blanks removed (each remaining symbol remembers its frames;
   a repetition symbol, e.g. the `1` of `h e l 1 o`, stands for a second `l` and is expanded);
3. this sequence aligned globally with the beam-search transcript by Needleman-Wunsch
   (match 1, mismatch −1, gap −1), so every symbol, and with it its frames, gets a position
   in the transcript;
4. the transcript's words through the G2P model of chapter 3, and each letter's phoneme
   from the G2P's attention (the phoneme it attends to most);
5. so every frame gets a grapheme (its own prediction) and a phoneme (that of the
   transcript letter it was aligned to) — or none, on blanks, spaces and gaps.

The paper could not check how right this is. The embedded corpus knows when each phone was
spoken, so this chapter also measures how often the cascade gives a frame the phone that
is truly sounding at the centre of the frame's receptive field. LibriSpeech does not know
it: on a LibriSpeech corpus, as in the paper, these measurements and the grouping by true
phones are absent, and the chapter says so in their place.""",
    ),
    ("params", PARAMETERS),
    (
        "code",
        """\
import nap

study = nap.Study(profile, params, artifacts)""",
    ),
    (
        "code",
        """\
from nap.align import plots, report
from nap.align.explain import explain, pick_utterance
from nap.display import percent, table

labels = study.alignment()
summary = study.summary("align")
study.parameter_table("align")""",
    ),
    (
        "md",
        """\
## Figure 2 on one utterance

Below, one held-out sentence goes through the cascade. Top: its log-mel spectrogram with the
true phone boundaries. Then, from top to bottom: the best symbol of every output frame
(`·` = blank, one output frame per 20 ms), the symbols left after merging and removing blanks
(the bar under each spans its frames), the decoded transcript as Needleman-Wunsch aligned
it (red: mismatch or gap), each transcript letter's phoneme from the G2P's attention, the
phoneme every frame receives — moved a few frames earlier than the letter that gave it, by
the emission delay of that letter and phoneme measured further down (green: it is the true phone at the
frame's centre; red: it is not) — and the true phones.""",
    ),
    (
        "code",
        """\
corpus, features, recognizer, g2p = study.corpus(), study.features(), study.asr(), study.g2p()
utt = pick_utterance(corpus, "test_sentences")
ex = explain(corpus, features, recognizer, g2p, utt, decoder=study.params("align").decoder,
             lag=labels.delay)
print(report.explanation_text(ex))
fig = plots.plot_cascade(ex)""",
    ),
    (
        "md",
        """\
The G2P gives each word a pronunciation and, through its attention, each letter one of
its phonemes (silent letters borrow a neighbour's):""",
    ),
    (
        "code",
        """\
table([(w, " ".join(ph or "–" for ph in phones)) for _, w, phones in ex.decoded.words],
      ["decoded word", "phoneme of each letter"], title="G2P attention assignment")""",
    ),
    (
        "md",
        """\
The same chain, frame by frame, from a little before the first non-blank frame:""",
    ),
    (
        "code",
        """\
first = max(0, int((ex.decoded.grapheme >= 0).argmax()) - 3)
table(ex.frame_rows(first, first + 30),
      ["frame", "centre (s)", "best symbol", "grapheme", "phoneme", "true phone"])""",
    ),
    (
        "md",
        """\
## How many frames get a label

A CTC recognizer emits blank on most frames and a letter on few ("peaky" output). Blank
frames belong to no grapheme and no phoneme group; neither do frames that predict a word
boundary, frames whose symbol faces a gap of the transcript, or frames aligned to a space.
Groups with fewer frames than the stage's `min_count` are left out of the NAPs. Every
output frame of every labelled utterance is counted here:""",
    ),
    (
        "code",
        """\
report.reasons_table(labels)""",
    ),
    (
        "code",
        """\
none = labels.unlabelled["grapheme"]
print(f"{none['blank'] / labels.n_frames:.1%} of the {labels.n_frames} output frames are blank, "
      f"{summary['grapheme_labelled']:.1%} carry a grapheme and {summary['phoneme_labelled']:.1%} "
      f"a phoneme from the cascade ({summary['frames_per_audio_second']:.0f} output frames per second "
      f"of audio).")""",
    ),
    (
        "md",
        """\
## The recognizer's emission delays

A CTC recognizer is free to write a letter anywhere while its sound is in view, and how
late it writes is a property of the trained network, not of the method: one training of the
default recognizer wrote its letters 120 ms after their sounds, another (more data, fewer
epochs) on time. The paper's cascade puts each phoneme on the frame that writes its letter,
so with a delay of a few frames most phoneme labels sit on the sound *before* theirs.
The stage measures the delay on the train split (the corpus
knows when each phone sounds; the evaluation split is not used) as the shift of the
cascade's phonemes that agrees best with the true phones. Graphemes stay on the frames
that write them, as in the paper. `align.lag_frames = 0` gives the paper's cascade
unchanged; a corpus without phone timings (LibriSpeech) gets 0.""",
    ),
    (
        "code",
        """\
delay = labels.delay
fig = plots.plot_delay_curve(delay, labels.frame)
print(report.delay_text(delay, summary))""",
    ),
    (
        "md",
        """\
How late a letter comes depends on the letter and on its sound: `b` is written at its
burst, `n` only after its murmur, the `h` of `th` after the `t` that shares its phoneme.
With `align.lag_per = "letter_phoneme"` (the default) every pair of letter written and
cascade phoneme with at least `align.lag_min_frames` train frames gets its own delay,
estimated the same way; the others keep the recognizer's. Each phoneme label then moves
back by its own delay (where two land on one frame, the later-written one is kept).
Blue: written earlier than the recognizer's delay, red: later; hatched: too few train frames
for a delay of its own.""",
    ),
    (
        "code",
        """\
fig = plots.plot_delays(delay, labels.frame)
if "phoneme_accuracy_one_lag" in summary:
    print(f"{len(delay['table'])} {delay['per'].replace('_', ' and ')} delays; on {summary['eval_split']}: "
          f"{percent(summary['phoneme_accuracy_one_lag'])} right with the recognizer's one delay, "
          f"{percent(summary['phoneme_accuracy'])} with one per {delay['per'].replace('_', ' and ')}")""",
    ),
    (
        "md",
        """\
## Accuracy against the true phones

For every frame with a cascade phoneme, the true phone is the one sounding at the centre of
the frame's receptive field. The accuracy is the share of those frames whose cascade phoneme
is the true one; *coverage* is the share of all frames that have a cascade phoneme; *class
accuracy* counts a phoneme of the right phonetic class (vowel, plosive, fricative,
affricate, nasal, approximant) as right; *on silence* is the share of labelled frames
whose centre falls on a pause. The last column runs the same cascade with the true
transcript in place of the decoded one, which separates the recognizer's errors from those
of the G2P and the alignment.""",
    ),
    (
        "code",
        """\
report.accuracy_table(labels)""",
    ),
    (
        "code",
        """\
print(report.accuracy_text(summary))""",
    ),
    (
        "md",
        """\
Which phones are confused with which (rows: true phone, with its number of labelled frames;
columns: the cascade's phoneme; each row sums to one; phones ordered by class):""",
    ),
    (
        "code",
        """\
report.confusion_figure(labels, summary)""",
    ),
    (
        "code",
        """\
report.per_phone_figure(labels, summary)""",
    ),
    (
        "md",
        """\
Reading the true phone earlier or later than the frame's centre shows whether the
phoneme labels (after the delay is taken out) are still early or late, and how much of
the error is timing:""",
    ),
    (
        "code",
        """\
print(report.timing_text(labels, summary))
report.timing_figure(labels, summary)""",
    ),
    (
        "md",
        """\
## Groups for the NAPs

Chapter 5 averages activations over three groupings of frames: the frame's predicted
grapheme (as in the paper), its phoneme from the cascade, and — new here — the true phone
at its centre. Frames per group (grey: left out for having fewer than `min_count` frames):""",
    ),
    (
        "code",
        """\
fig = plots.plot_group_counts(labels)""",
    ),
    (
        "code",
        """\
print(report.groups_text(labels, summary))""",
    ),
    (
        "md",
        """\
## Cost

The stage runs the recognizer over every utterance, decodes it with the beam search, and
runs the cascade twice (decoded and true transcript); the G2P is asked once per distinct
word. Its headline numbers:""",
    ),
    (
        "code",
        """\
report.summary_table(summary)""",
    ),
]


if __name__ == "__main__":
    write(CELLS, OUT)
    print(f"wrote {OUT}")
