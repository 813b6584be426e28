"""The single-pass NAPs equal the per-window definition (reference) on random models and real speech."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import torch
from torch import nn

from nap.naps import LabelError, extract_naps, model_geometry
from nap.naps.reference import reference_naps, reference_sums

torch.set_num_threads(1)


def runs(rng: np.random.Generator, n: int, groups: int, none: float = 0.2, mean_run: float = 4) -> np.ndarray:
    """Labels in runs (like phones), some frames without a group."""
    lab = np.repeat(rng.integers(0, groups, n), rng.geometric(1 / mean_run, n))[:n]
    lab[rng.random(n) < none] = -1
    return lab


def random_data(
    model: nn.Module,
    n_utt: int,
    seed: int,
    min_extra: int = 0,
    max_extra: int = 60,
    groups: dict[str, int] | None = None,
):
    groups = groups or {"grapheme": 6, "phoneme": 4}
    g = model_geometry(model)
    rng = np.random.default_rng(seed)
    inputs, labels = [], []
    for _ in range(n_utt):
        n_in = g.receptive_field + int(rng.integers(min_extra, max_extra))
        x = rng.standard_normal((g.in_channels, n_in)).astype(np.float32)
        frames = g.frames(n_in)
        inputs.append(x)
        labels.append({k: runs(rng, frames, n) for k, n in groups.items()})
    return inputs, labels, groups


def assert_equals_reference(
    model,
    inputs,
    labels,
    groups,
    normalization="global_mean",
    min_count=1,
    batch_size=3,
    layers=None,
    tol=1e-5,
):
    res = extract_naps(
        model,
        inputs,
        labels,
        groups,
        layers=layers,
        normalization=normalization,
        min_count=min_count,
        batch_size=batch_size,
    )
    g = model_geometry(model)
    chosen = g.select(layers)
    n_groups = {k: v if isinstance(v, int) else len(v) for k, v in groups.items()}
    every = [{**lab, "every frame": np.zeros(len(next(iter(lab.values()))), np.int64)} for lab in labels]
    sums, counts = reference_sums(
        model,
        {lay.name: lay.module for lay in chosen},
        inputs,
        every,
        {**n_groups, "every frame": 1},
        *_empirical(model, g),
        batch_windows=50,
    )
    # the mean window over every frame, labelled or not (what whole_data subtracts)
    whole = {lay.name: sums[lay.name]["every frame"][0] / counts["every frame"][0] for lay in chosen}
    assert res.whole is not None and res.whole[1] == counts["every frame"][0] == res.frames
    for lay in chosen:
        scale = max(1.0, float(np.abs(whole[lay.name]).max()))
        assert np.abs(res.whole[0][lay.name] - whole[lay.name]).max() <= tol * scale, lay.name
    for k in groups:
        np.testing.assert_array_equal(np.asarray(counts[k])[res.kept[k]], res.counts(k))
        for lay in chosen:
            ref = reference_naps(sums[lay.name][k], counts[k], normalization, min_count, whole[lay.name])
            got = res.nap(k, lay.name)
            assert got.shape == ref.shape == (len(res.groups(k)), lay.channels, lay.positions)
            scale = max(1.0, float(np.abs(ref).max()))
            assert np.abs(got - ref).max() <= tol * scale, (k, lay.name, np.abs(got - ref).max())
    return res


def _empirical(model, g):
    from nap.naps.reference import empirical_frames

    found = empirical_frames(model, g.in_channels)
    assert found == (g.receptive_field, g.stride)
    return found


class Chain(nn.Module):
    """A plain stack of Conv1d + ReLU with chosen kernels, strides and dilations."""

    def __init__(self, spec: list[tuple[int, int, int, int]], c_in: int = 5):
        super().__init__()
        layers = []
        for i, (c_out, k, s, d) in enumerate(spec):
            layers += [nn.Conv1d(c_in, c_out, k, stride=s, dilation=d)]
            if i < len(spec) - 1:
                layers.append(nn.ReLU())
            c_in = c_out
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


SPECS = {
    "stride2-first": [(7, 6, 2, 1), (8, 3, 1, 1), (6, 5, 1, 1), (4, 1, 1, 1)],
    "stride-late": [(6, 3, 1, 1), (7, 4, 2, 1), (5, 3, 3, 1), (3, 2, 1, 1)],
    "dilated": [(6, 3, 1, 2), (6, 3, 1, 3), (5, 4, 2, 1), (3, 1, 1, 1)],
    "wide-kernel": [(8, 11, 1, 1), (8, 9, 2, 1), (4, 1, 1, 1)],
}


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("normalization", ["global_mean", "mean_of_groups", "whole_data"])
def test_random_chains_equal_the_reference(name, normalization):
    torch.manual_seed(hash(name) % 1000)
    model = Chain(SPECS[name])
    inputs, labels, groups = random_data(model, 7, seed=len(name), max_extra=40)
    layers = None if normalization == "global_mean" else ["input", *model_geometry(model).names]
    assert_equals_reference(model, inputs, labels, groups, normalization=normalization, layers=layers)


def test_pooling_and_a_custom_forward_equal_the_reference():
    class Pooled(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv1d(4, 6, 5, stride=2)
            self.pool = nn.AvgPool1d(3, stride=2)
            self.b = nn.Conv1d(6, 5, 3)

        def forward(self, x):
            return self.b(torch.relu(self.pool(torch.relu(self.a(x)))))

    torch.manual_seed(3)
    model = Pooled()
    inputs, labels, groups = random_data(model, 6, seed=3, max_extra=50)
    assert_equals_reference(model, inputs, labels, groups)


def _wav2letter(channels=16, hidden=24, n_mels=16, k7=7):
    from nap.asr.model import Architecture, Wav2Letter

    torch.manual_seed(0)
    return Wav2Letter(Architecture(n_mels=n_mels, classes=9, channels=channels, hidden=hidden, k7_layers=k7))


def test_wav2letter_min_count_and_batch_sizes():
    model = _wav2letter()
    inputs, labels, _ = random_data(model, 9, seed=1, max_extra=80, groups={"grapheme": 8})
    groups = {"grapheme": [f"g{i}" for i in range(8)]}
    for lab in labels:  # group 7 gets one frame only, group 6 none
        lab["grapheme"][lab["grapheme"] >= 6] = 5
    labels[0]["grapheme"][0] = 7
    res = assert_equals_reference(model, inputs, labels, groups, min_count=2, batch_size=4)
    assert res.groups("grapheme") == [f"g{i}" for i in range(6)]
    assert res.left_out["grapheme"] == {"g6": 0, "g7": 1}
    one = extract_naps(model, inputs, labels, groups, batch_size=1, min_count=2)
    for layer in res.layer_names:
        np.testing.assert_allclose(one.nap("grapheme", layer), res.nap("grapheme", layer), atol=1e-6)


@pytest.fixture(scope="module")
def real_utterances():
    """Two sentences of real synthesized speech (flite), as the features stage computes them."""
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed")
    import soundfile as sf

    from nap.features import log_mel

    feats = []
    sentences = [
        ("slt", "The quick brown fox jumps over the lazy dog near the river bank."),
        ("kal16", "Neuron activation profiles show what each layer has learned."),
    ]
    for i, (voice, text) in enumerate(sentences):
        wav = f"/tmp/nap_test_naps_{i}.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", wav], check=True, capture_output=True)
        audio, sr = sf.read(wav, dtype="float32")
        feats.append(log_mel(audio, sr).T.copy())  # (n_mels, frames)
    return feats


def test_real_speech_on_a_wav2letter_equals_the_reference(real_utterances):
    model = _wav2letter(channels=24, hidden=32, n_mels=real_utterances[0].shape[0])
    g = model_geometry(model)
    rng = np.random.default_rng(5)
    labels = [
        {
            "grapheme": runs(rng, g.frames(x.shape[1]), 10, none=0.6, mean_run=1.5),
            "phoneme": runs(rng, g.frames(x.shape[1]), 12, none=0.15),
        }
        for x in real_utterances
    ]
    assert all(g.frames(x.shape[1]) > 20 for x in real_utterances)
    assert_equals_reference(
        model,
        real_utterances,
        labels,
        {"grapheme": 10, "phoneme": 12},
        layers=["input", "layer01", "layer05", "layer09", "layer11"],
    )


def test_probe_features_are_window_means():
    model = _wav2letter()
    inputs, labels, groups = random_data(model, 5, seed=2, max_extra=60)
    splits = ["a", "b", "a", "c", "a"]
    res = extract_naps(model, inputs, labels, groups, probe_frames=40, seed=4, splits=splits)
    g = model_geometry(model)
    probe = res.probe
    assert probe["utt_index"].size == 40 and list(probe["utterances"]) == [f"{i:08d}" for i in range(5)]
    assert set(probe["split"]) <= {"a", "b", "c"}
    acts = {}
    modules = dict(model.named_modules())
    hooks = [
        modules[lay.module].register_forward_hook(lambda m, a, o, n=lay.name: acts.__setitem__(n, o))
        for lay in g.layers[1:]
    ]
    for row, (u, t) in enumerate(zip(probe["utt_index"], probe["frame"], strict=True)):
        with torch.no_grad():
            model(torch.from_numpy(inputs[u])[None])
        for lay in g.layers[1:]:
            want = acts[lay.name][0, :, lay.window(int(t))].mean(-1).numpy()
            np.testing.assert_allclose(probe[f"X__{lay.name}"][row], want, atol=1e-5)
        for k in groups:
            assert probe[f"label__{k}"][row] == labels[u][k][t]  # min_count 1: every group kept
        assert any(labels[u][k][t] >= 0 for k in groups)
    for h in hooks:
        h.remove()
    again = extract_naps(model, inputs, labels, groups, probe_frames=40, seed=4)
    np.testing.assert_array_equal(again.probe["frame"], probe["frame"])


def test_bad_labels_are_named():
    model = _wav2letter()
    inputs, labels, groups = random_data(model, 3, seed=0)
    bad = [dict(lab) for lab in labels]
    bad[1] = {k: v[:-1] for k, v in bad[1].items()}
    with pytest.raises(LabelError, match="utterance '00000001', grouping 'grapheme': .* labels, but the"):
        extract_naps(model, inputs, bad, groups)
    bad = [dict(lab) for lab in labels]
    bad[0]["phoneme"] = bad[0]["phoneme"].copy()
    bad[0]["phoneme"][0] = 4
    with pytest.raises(LabelError, match="grouping 'phoneme': label 4 outside -1..3"):
        extract_naps(model, inputs, bad, groups)


def test_only_chosen_layers_are_computed():
    model = _wav2letter()
    calls = []
    model.layer03.register_forward_hook(lambda m, args, out: calls.append((3, len(out))))
    model.layer05.register_forward_hook(lambda m, args, out: calls.append((5, len(out))))
    inputs, labels, groups = random_data(model, 2, seed=0)
    res = extract_naps(model, inputs, labels, groups, layers=["layer03"], batch_size=2)
    # one batch of 2 (the geometry's probe passes have batch 1): the pass stopped after layer03
    assert res.layer_names == ["layer03"] and [c for c in calls if c[1] == 2] == [(3, 2)]


def test_a_saved_napset_rereads_its_naps_under_each_normalization(tmp_path):
    """NapSet.reread: the NAPs of another reading of Figure 1D from the stored means and whole
    window equal those extracted under that reading (to the float32 storage of the means)."""
    from nap.naps.io import NapSet

    torch.manual_seed(3)
    model = Chain(SPECS["stride2-first"])
    inputs, labels, groups = random_data(model, 6, seed=11, max_extra=40)
    extract_naps(model, inputs, labels, groups, min_count=2).save(tmp_path / "set")
    saved = NapSet.open(tmp_path / "set")
    assert saved.meta["whole"]["frames"] == sum(len(lab["grapheme"]) for lab in labels)
    for normalization in ("global_mean", "mean_of_groups", "whole_data"):
        direct = extract_naps(model, inputs, labels, groups, normalization=normalization, min_count=2)
        for k in groups:
            for layer in saved.layers:
                got, want = saved.reread(k, layer, normalization), direct.nap(k, layer)
                assert got.shape == want.shape
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    a, b = saved.reread("phoneme", "net.0", "mean_of_groups"), saved.reread("phoneme", "net.0", "whole_data")
    assert not np.allclose(a, b)  # the readings differ
