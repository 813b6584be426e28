"""The layer explorer on planted NAPs: its numbers, its figures and its widget wiring."""

from __future__ import annotations

import numpy as np
import pytest

from nap import explore
from nap.cluster.arrays import ArrayNapSet
from nap.cluster.params import ClusterParams
from nap.cluster.results import Clustering
from nap.cluster.stage import run_clustering
from nap.phonetics import PHONE_CLASS

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo():
    return explore.demo(seed=0, layers=3, channels=8, positions=6)


@pytest.fixture(scope="module")
def views(demo):
    return explore.Views(*demo, dpi=40)


def test_planted_classes_are_found_in_the_last_layer(views):
    vowels = {p for p, c in PHONE_CLASS.items() if c == "vowel"}
    near = views.neighbours("phoneme", "layer03", "AA", k=3)
    assert len(near) == 3 and {n for n, _ in near} <= vowels
    assert [d for _, d in near] == sorted(d for _, d in near)
    assert vowels <= set(views.cluster_of("phoneme", "layer03", "AA"))
    assert "AA" in views.cluster_of("phoneme", "layer03", "AA")
    res = views.result("phoneme", "layer03")
    i, j = res.names.index("AA"), res.names.index(near[0][0])
    assert near[0][1] == pytest.approx(res.distances[i, j])


def test_layer_naps_share_channel_order_and_scale(views, demo):
    _, napset = demo
    naps, order, vmax = views.layer_naps("grapheme", "layer02")
    assert naps.shape == napset.nap("grapheme", "layer02").shape
    assert sorted(order.tolist()) == list(range(naps.shape[1]))
    means = naps.mean(axis=(0, 2))[order]
    assert np.all(np.diff(means) <= 1e-6)  # channels by decreasing mean over groups
    assert vmax == pytest.approx(np.percentile(np.abs(naps), 99), rel=1e-5)


def test_figures_are_png_and_differ_by_layer_and_highlight(views):
    a = views.matrix("phoneme", "layer01")
    b = views.matrix("phoneme", "layer03")
    c = views.matrix("phoneme", "layer03", highlight="AA")
    for img in (a, b, c, views.gallery("grapheme", "layer01"), views.nap_png("grapheme", "layer01", "a")):
        assert img.startswith(PNG)
    assert len({a, b, c}) == 3
    assert views.matrix("phoneme", "layer03") is b  # drawn once, then kept


def test_unknown_group_layer_or_grouping_is_named(views, demo):
    with pytest.raises(KeyError, match="no group 'QQ'"):
        views.nap("phoneme", "layer01", "QQ")
    with pytest.raises(KeyError, match="groupings \\['nope'\\]"):
        explore.static_explorer(*demo, groupings=["nope"])
    with pytest.raises(KeyError, match="layers \\['layer99'\\]"):
        explore.Explorer(*demo, layers=["layer99"])


def test_group_without_frames_is_drawn_as_a_message():
    rng = np.random.default_rng(1)
    naps = rng.normal(size=(5, 4, 3)).astype(np.float32)
    naps[2] = np.nan
    names = ["a", "b", "c", "d", "e"]
    napset = ArrayNapSet(
        {"grapheme": {"layer01": naps}}, {"grapheme": names}, {"grapheme": np.array([9, 9, 0, 9, 9])}
    )
    doc, arrays = run_clustering(napset, ClusterParams(probes=False, permutations=5))
    clustering = Clustering(None, doc, arrays, {}, {})
    v = explore.Views(clustering, napset, dpi=30)
    fig = v.nap_figure("grapheme", "layer01", "c")
    assert "no NAP for 'c'" in " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert v.gallery("grapheme", "layer01").startswith(PNG)
    assert "c" not in v.result("grapheme", "layer01").names
    assert v.cluster_of("grapheme", "layer01", "c") == [] and v.neighbours("grapheme", "layer01", "c") == []


def _links(box):
    return box._nap_links


def test_static_explorer_links_sliders_to_stacks_of_the_right_images(demo, views):
    import ipywidgets as w

    clustering, napset = demo
    box = explore.static_explorer(clustering, napset, views=views)
    links = _links(box)
    sliders = [lk.source[0] for lk in links if isinstance(lk.source[0], w.SelectionSlider)]
    toggles = [lk.source[0] for lk in links if isinstance(lk.source[0], w.ToggleButtons)]
    assert all(lk.target[1] == "selected_index" and isinstance(lk.target[0], w.Stack) for lk in links)
    assert {lk.source[1] for lk in links} == {"index"}
    assert len(set(map(id, sliders))) == 3 and len(set(map(id, toggles))) == 1  # main, left, right
    # moving a slider to layer i shows layer i's matrix of the grouping the toggle picks
    main = box._nap_sliders[0]
    per_layer = [lk.target[0] for lk in links if lk.source[0] is main]
    assert len(per_layer) == len(clustering.groupings)
    for g, stack in zip(clustering.groupings, per_layer, strict=True):
        for i, layer in enumerate(clustering.layers):
            page = stack.children[i]
            assert page.children[0].value == views.matrix(g, layer)
            assert page.children[1].value == views.gallery(g, layer)
    # the comparison reuses the same image widgets: no extra image bytes in the page
    images = {id(x): x for x in _walk(box) if isinstance(x, w.Image)}
    assert len(images) == 2 * len(clustering.groupings) * len(clustering.layers)


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_static_explorer_state_embeds_the_links(demo, views):
    from ipywidgets.embed import embed_data

    box = explore.static_explorer(*demo, views=views, gallery=False, compare=False)
    # a notebook's execution saves the state of every widget alive in the kernel, links included
    state = embed_data(views=[box])["manager_state"]["state"]
    ours = {x.model_id for x in _walk(box)}
    links = [
        m
        for m in state.values()
        if m["model_name"] == "LinkModel" and m["state"]["target"][0].removeprefix("IPY_MODEL_") in ours
    ]
    assert len(links) == len(demo[0].groupings) + 1
    for link in links:
        target = link["state"]["target"][0].removeprefix("IPY_MODEL_")
        assert state[target]["model_name"] == "StackModel"


def test_live_explorer_follows_its_controls(demo):
    ex = explore.Explorer(*demo, dpi=30)
    assert ex.grouping.value == "grapheme" and ex.group.value in demo[1].groups("grapheme")
    first = ex.matrix.value
    ex.layer.value = "layer03"
    assert ex.matrix.value != first and bytes(ex.matrix.value).startswith(PNG)
    assert "layer 3" in ex.info.value
    ex.grouping.value = "phoneme"
    assert list(ex.group.options) == demo[1].groups("phoneme")
    ex.group.value = "AA"
    ex.mode.value = "groups"
    ex.group_b.value = "IY"
    assert "distance" in ex.compare_info.value and "the same clusters" in ex.compare_info.value
    assert ex.layer_b.layout.display == "none"
    ex.grouping.value = "grapheme"  # switching grouping while comparing two groups
    assert ex.group.value in demo[1].groups("grapheme") and ex.group_b.value in demo[1].groups("grapheme")
    assert f"<b>{ex.group.value}</b> vs" in ex.compare_info.value.replace("&#x27;", "'")
    ex.mode.value = "layers"
    ex.layer_b.value = "layer01"
    assert "layer 1" in ex.compare_info.value and ex.left.value != ex.right.value


def test_palette_png_is_smaller_and_the_same_picture(views):
    import io

    from PIL import Image

    fig = views.gallery_figure("phoneme", "layer03")
    full, small = explore.png_bytes(fig, 60, palette=False), explore.png_bytes(fig, 60)
    a, b = Image.open(io.BytesIO(full)).convert("RGB"), Image.open(io.BytesIO(small)).convert("RGB")
    assert a.size == b.size and len(small) < 0.8 * len(full)
    diff = np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int))
    assert diff.mean() < 2.0  # mean colour error of a few levels out of 255
