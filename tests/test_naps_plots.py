"""Chapter 5's figures from a small NAP set: Figure 1 A–E and NAPs side by side."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nap.naps import NapSet, build_naps  # noqa: E402
from nap.naps.plots import figure1_data, pick_group, pick_groups, plot_figure1, plot_nap_grid  # noqa: E402

try:  # python -m pytest puts the project on the path; plain pytest the tests folder
    from tests.test_naps_stage import _inputs, _params  # noqa: E402
except ImportError:
    from test_naps_stage import _inputs, _params  # noqa: E402


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    rec, feats, labels = _inputs(8)
    folder = tmp_path_factory.mktemp("naps")
    build_naps(
        folder,
        _params(layers=["input", "layer01", "layer03", "layer06"]),
        None,
        feats,
        rec,
        labels,
        progress=False,
    )
    return NapSet.open(folder), rec, feats, labels


@pytest.mark.parametrize("layer", ["input", "layer01", "layer06"])
def test_figure1_steps_agree(small, layer):
    napset, rec, feats, labels = small
    group = pick_group(napset, "phoneme")
    d = figure1_data(napset, rec.model, feats, labels, "phoneme", group, layer)
    g = napset.geometry[layer]
    assert d.instance.shape == d.mean.shape == d.nap.shape == (g.channels, g.positions)
    np.testing.assert_allclose(np.sort(d.normalized, axis=-1), d.nap, atol=1e-5)
    assert all(w.stop - w.start == napset.geometry.receptive_field for w in d.windows)
    index = labels.groups["phoneme"].index(group)
    assert len(d.frames) == (labels.labels(d.utterance)["phoneme"] == index).sum()
    fig = plot_figure1(d)
    assert len(fig.axes) >= 5


def test_nap_grid_and_bad_group(small):
    napset = small[0]
    groups = pick_groups(napset, "grapheme", 3)
    assert len(groups) == 3
    fig = plot_nap_grid(napset, "grapheme", groups, ["layer01", "layer06"])
    assert len([ax for ax in fig.axes if ax.images]) == 6
    with pytest.raises(KeyError, match="L5"):
        plot_nap_grid(napset, "grapheme", ["L5"], ["layer01"])
    empty = plot_nap_grid(napset, "grapheme", [], ["layer01"])  # e.g. no frame was labelled
    (text,) = [t.get_text() for ax in empty.axes for t in ax.texts]
    assert not any(ax.images for ax in empty.axes)
    assert text.replace("\n", " ") == (
        f"No NAP figure for the grapheme grouping: no groups to show ({len(napset.groups('grapheme'))} "
        "groups have NAPs; the alignment chapter says how many frames were labelled)."
    )
    with pytest.raises(KeyError, match="no NAP"):
        figure1_data(napset, small[1].model, small[2], small[3], "grapheme", "L5", "layer01")
