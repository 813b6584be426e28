"""Writes ``chapters/05_naps.ipynb`` (without outputs): ``python -m nap.naps.chapter [path]``.

The notebook only calls ``nap``; its text explains, and every number it states is printed
by a cell.
"""

from __future__ import annotations

import sys
from pathlib import Path

from nap.notebook import PARAMETERS, write

CELLS: list[tuple[str, str]] = [
    (
        "md",
        """# 5. Time-independent neuron activation profiles

A neuron activation profile (NAP) is a layer's characteristic response to a *group* of
inputs — here, the frames predicted as one grapheme, or carrying one phoneme (paper §3.1).
For an output frame of the recognizer, its input is the window of spectrogram frames that
produce it: the receptive field, without any padding. In every layer that window leaves a
(neurons × positions) block of activations. For a group: the mean of those blocks over all
the group's frames (Figure 1 C), minus the mean over all frames of all groups (D), and then
each neuron's values sorted (E), so that *where* in the window a neuron fired no longer
matters — the time-independent NAP.

The stage computes this exactly but never feeds a window on its own: each utterance runs
through the network once, and a frame's window in a layer is a slice of that layer's
activations over the whole utterance (without padding, the two are the same numbers). Sums
per group stream in float64 over the corpus, so memory does not grow with it, and they add
up across processes, so `torchrun` shards the work over many GPUs or machines.""",
    ),
    ("params", PARAMETERS),
    (
        "code",
        """import nap

study = nap.Study(profile, params, artifacts)""",
    ),
    (
        "code",
        """from nap.naps import plots

napset = study.naps()
summary = study.summary("naps")
study.parameter_table("naps")""",
    ),
    (
        "md",
        """## The windows, derived from the network

The window geometry is read off the network's modules (kernel sizes, strides, dilations;
any padding is refused) and checked by feeding one receptive field alone. *Positions P* is
the length of a frame's window in a layer, *step* how far the window moves per output
frame, *frames per position* how many input frames one activation sees. (The paper states
206 input frames, which takes eight kernel-7 layers; with seven the field is 194.)""",
    ),
    ("code", "plots.geometry_table(napset)"),
    (
        "code",
        """geo, hop_ms = napset.geometry, study.features().hop_s * 1000
R, S = geo.receptive_field, geo.stride
print(f"receptive field R = {R} input frames ({R * hop_ms:g} ms at a {hop_ms:g} ms hop), stride S = {S}: "
      f"output frame t sees input frames [{S}t, {S}t + {R}).")""",
    ),
    (
        "md",
        """## The groups

Each grouping labels every output frame with a group or none (chapter 4): `grapheme` (the
frame's predicted letter, as in the paper), `phoneme` (the cascade of paper Figure 2) and
`phoneme_true` (the true phone at the frame's centre, which the synthesized corpus
knows). Groups with fewer frames than `min_count` are left out:""",
    ),
    ("code", "napset.summary_table()"),
    (
        "code",
        """print(f"{summary['frames']} output frames of {summary['utterances']} utterances went "
      f"through the network once for {summary['layers']} layers and {len(napset.groupings)} groupings, in "
      f"{summary['extraction_seconds']:.0f} s ({summary['frames_per_second']:.0f} frames per second, "
      f"{summary['processes']} process(es)).")""",
    ),
    (
        "md",
        """## Figure 1, step by step

The paper's Figure 1 for one group and one layer: the grapheme the paper shows ('A', if it
is one of the groups here, else the most frequent grapheme) in the first layer. **A**: the
input windows of the group's frames in one utterance (a few of them drawn as bars, each as
wide as the receptive field). **B**: the layer's activations
over one of these windows — a slice of the layer's activations over the utterance.
**C**: the mean over *all* windows of the group in the corpus. **D**: minus the mean over
all frames. **E**: each neuron's values sorted: the time-independent NAP.""",
    ),
    (
        "code",
        """recognizer, features, labels = study.asr(), study.features(), study.alignment()
group, layer = plots.pick_group(napset, "grapheme"), plots.pick_layers(napset, 1)[0]
fig1 = plots.figure1_data(napset, recognizer, features, labels, "grapheme", group, layer)
fig = plots.plot_figure1(fig1)""",
    ),
    (
        "code",
        """print(f"grapheme '{group}' in {layer}: {fig1.count} frames in the corpus, {len(fig1.frames)} "
      f"of them in {fig1.utterance}; each window is {fig1.nap.shape[0]} neurons × "
      f"{fig1.nap.shape[1]} positions. Normalization: {fig1.normalization}; the group mean lies on average "
      f"{abs(fig1.normalized).mean():.3f} away from the overall mean.")""",
    ),
    (
        "md",
        """## NAPs side by side

The NAPs of the most frequent groups in a few layers, neurons as rows and sorted positions
as columns (one colour scale per layer; red: more active than over all frames, blue: less).
Early layers have long windows and few neurons; after the kernel-32 layer a window is a
single position, and its NAP a vector.""",
    ),
    (
        "code",
        """fig = plots.plot_nap_grid(napset, "grapheme", plots.pick_groups(napset, "grapheme", 5),
                          plots.pick_layers(napset, 4))""",
    ),
    (
        "code",
        """fig = plots.plot_nap_grid(napset, "phoneme", plots.pick_groups(napset, "phoneme", 5),
                          plots.pick_layers(napset, 4))""",
    ),
    (
        "md",
        """## Exactly the per-window definition

A reference implementation feeds every labelled frame's window to the network on its own
and averages the blocks (`nap.naps.reference`). On the first 60 output frames of two
utterances of this corpus, the largest difference between its NAPs and the single pass's,
per layer (float32 rounding; the tests check more models and inputs):""",
    ),
    (
        "code",
        """from nap.naps import reference

utts = labels.utterances[:2]
groups = {k: len(labels.groups[k]) for k in napset.groupings}
inputs = [recognizer.padded(features.get(u)).T for u in utts]  # the network's input, as labelled
frame_labels = [labels.labels(u, tuple(groups)) for u in utts]
diff = reference.verify(recognizer.model, inputs, frame_labels, groups, layers=plots.pick_layers(napset, 4),
                        max_frames=60)
print(", ".join(f"{lay}: {d:.1e}" for lay, d in diff.items()))""",
    ),
    (
        "md",
        """## The stored format

The NAPs are plain numpy and JSON (`FORMAT.md` in the artifact folder says it all), so a
reader needs neither `nap` nor this book: `napset.json` names the layers, groups, counts,
normalization and window geometry; `naps_<grouping>.npz` holds one (groups × neurons ×
positions) array per layer; `means_<grouping>.npz` the unsorted group means and the
subtracted mean; `probe.npz` a seeded sample of per-frame features (each sampled frame's
window averaged over positions) for the linear probes of chapter 6.""",
    ),
    (
        "code",
        """import json

import numpy as np

meta = json.loads((napset.path / "napset.json").read_text())
with np.load(napset.path / meta["groupings"]["phoneme"]["files"]["naps"]) as f:
    print(f"phoneme groups: {len(f['groups'])}; arrays: "
          + ", ".join(f"{k} {f[k].shape}" for k in f.files if k not in ('groups', 'counts')))""",
    ),
    (
        "code",
        """x, probe_labels, utt_index, split = napset.probe_features(napset.layers[-1])
print(f"probe sample: {len(x)} frames of {len(set(utt_index.tolist()))} utterances, splits "
      + ", ".join(f"{s}: {int((split == s).sum())}" for s in sorted(set(split.tolist()))))""",
    ),
]


def build(path: Path) -> Path:
    """Write the chapter notebook (no outputs) to ``path``."""
    return write(CELLS, path, id_prefix="naps-")


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[2] / "chapters" / "05_naps.ipynb"
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else default))
