"""The untrained-network control and the authors' later NAP variants (contrastive, saliency-adjusted)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from nap.asr.model import Architecture, Wav2Letter
from nap.asr.recognizer import Recognizer
from nap.asr.train import build_model
from nap.asr.vocab import Vocab
from nap.naps import NapSet, build_naps, extract_naps, model_geometry
from nap.naps.reference import reference_naps, reference_sums
from nap.naps.variants import contrast_indices, contrastive_naps, saliency_sums

torch.set_num_threads(1)
ARCH = Architecture(n_mels=10, classes=len(Vocab(2)), channels=8, hidden=12, k7_layers=2)


def _recognizer(tmp_path, seed: int = 3, local_init: float = 0.1, norm: str = "none") -> Recognizer:
    """A 'trained' recognizer (weights moved away from the initialisation) with its asr params.json."""
    model = build_model(ARCH, seed, local_init)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05)
    (tmp_path / "params.json").write_text(
        json.dumps({"params": {"seed": seed, "local_init": local_init, "norm": norm}})
    )
    return Recognizer(model, Vocab(2), path=tmp_path)


def test_the_control_is_the_same_architecture_seeded_as_training_began(tmp_path):
    rec = _recognizer(tmp_path)
    a, b = rec.untrained(), rec.untrained()
    expected = build_model(ARCH, 3, 0.1).state_dict()
    trained = rec.model.state_dict()
    assert list(a.state_dict()) == list(trained) and not a.training
    for k, v in a.state_dict().items():
        assert v.shape == trained[k].shape
        torch.testing.assert_close(v, expected[k], rtol=0, atol=0)  # the training's own initialisation
        torch.testing.assert_close(v, b.state_dict()[k], rtol=0, atol=0)  # seeded: the same every time
        assert not torch.equal(v, trained[k])  # not the trained weights
    other = rec.untrained(seed=4).state_dict()
    assert not torch.equal(other["layer01.conv.weight"], expected["layer01.conv.weight"])


def test_the_control_folds_batch_norm_as_training_does(tmp_path):
    rec = _recognizer(tmp_path, seed=5, local_init=0.0, norm="batch")
    start = build_model(Architecture(**{**ARCH.to_dict(), "norm": "batch"}), 5, 0.0).eval().fold_norm()
    for k, v in rec.untrained().state_dict().items():
        torch.testing.assert_close(v, start.state_dict()[k], rtol=0, atol=0)
    (tmp_path / "params.json").unlink()
    with pytest.raises(ValueError, match="no seed given and no asr params.json"):
        rec.untrained()


def _data(model: nn.Module, n_utt: int = 5, groups: int = 4, seed: int = 0):
    g = model_geometry(model)
    rng = np.random.default_rng(seed)
    inputs, labels = [], []
    for _ in range(n_utt):
        n = g.receptive_field + int(rng.integers(0, 12))
        inputs.append(rng.standard_normal((g.in_channels, n)).astype(np.float32))
        labels.append({"phoneme": rng.integers(-1, groups, g.frames(n))})
    return g, inputs, labels


def test_contrastive_naps_equal_the_per_window_reference():
    torch.manual_seed(0)
    model = Wav2Letter(ARCH).eval()
    g, inputs, labels = _data(model)
    fast = extract_naps(model, inputs, labels, {"phoneme": 4})
    sums, counts = reference_sums(
        model, {"layer02": "layer02"}, inputs, labels, {"phoneme": 4}, g.receptive_field, g.stride
    )
    ref_means = [sums["layer02"]["phoneme"][i] / counts["phoneme"][i] for i in range(4)]
    for chosen, weighted in ((["0", "2", "3"], False), (["0", "2", "3"], True), (None, False)):
        idx = contrast_indices(fast.groups("phoneme"), chosen)
        got = contrastive_naps(fast.means["phoneme"]["layer02"], fast.counts("phoneme"), idx, weighted)
        w = np.array([counts["phoneme"][i] if weighted else 1.0 for i in idx])
        mean = sum(wi * ref_means[i] for wi, i in zip(w, idx, strict=True)) / w.sum()
        ref = np.stack([np.sort(ref_means[i] - mean, axis=-1) for i in idx])
        np.testing.assert_allclose(got, ref, atol=1e-5)
    # over every group, weighted = the paper's global mean, unweighted = the mean of group means
    every = np.arange(4)
    for weighted, norm in ((True, "global_mean"), (False, "mean_of_groups")):
        got = contrastive_naps(fast.means["phoneme"]["layer02"], fast.counts("phoneme"), every, weighted)
        ref = reference_naps(sums["layer02"]["phoneme"], counts["phoneme"], norm, 1)
        np.testing.assert_allclose(got, ref, atol=1e-5)
    assert contrast_indices(["AA", "B", "IY"], ["IY", "AA", "ZZ"]).tolist() == [0, 2]


def _one_window_saliency(model: nn.Module, window: torch.Tensor, layer: str) -> np.ndarray:
    """Activation × gradient of the predicted logit, for one window alone (torch.func.vjp)."""
    acts: dict[str, torch.Tensor] = {}
    handle = dict(model.named_modules())[layer].register_forward_hook(
        lambda m, a, out: acts.__setitem__("a", out)
    )
    try:
        x = window[None].clone().requires_grad_(True)
        out = model(x)[0, :, 0]
        c = int(out.argmax())
        (grad,) = torch.autograd.grad(out[c], acts["a"])
        return (acts["a"] * grad)[0].detach().double().numpy()
    finally:
        handle.remove()


def test_saliency_sums_equal_one_window_at_a_time_and_a_closed_form():
    torch.manual_seed(1)
    model = Wav2Letter(ARCH).eval()
    g, inputs, labels = _data(model, n_utt=3, groups=3, seed=2)
    sums, counts = saliency_sums(
        model, {"layer02": "layer02"}, inputs, labels, {"phoneme": 3}, g.receptive_field, g.stride
    )
    ref = np.zeros_like(sums["layer02"]["phoneme"])
    ref_counts = np.zeros(3, dtype=np.int64)
    for x, lab in zip(inputs, labels, strict=True):
        for t, k in enumerate(lab["phoneme"]):
            if k >= 0:
                w = torch.from_numpy(x[:, t * g.stride : t * g.stride + g.receptive_field])
                ref[k] += _one_window_saliency(model, w, "layer02")
                ref_counts[k] += 1
    np.testing.assert_array_equal(counts["phoneme"], ref_counts)
    np.testing.assert_allclose(sums["layer02"]["phoneme"], ref, atol=1e-5)
    # one linear conv over the whole window: the input's saliency is x * W[predicted class]
    conv = nn.Conv1d(2, 3, 5)
    x = np.random.default_rng(3).standard_normal((2, 5)).astype(np.float32)
    s, _ = saliency_sums(conv, {"input": ""}, [x], [{"k": np.array([0])}], {"k": 1}, 5, 1)
    c = int(conv(torch.from_numpy(x)[None])[0, :, 0].argmax())
    np.testing.assert_allclose(s["input"]["k"][0], x * conv.weight[c].detach().numpy(), rtol=1e-6)


class _Labels:
    def __init__(self, labels: list[dict[str, np.ndarray]]):
        self.utterances = [f"u{i}" for i in range(len(labels))]
        self.splits = {u: "train" for u in self.utterances}
        self.groups = {"phoneme": ["AA", "B", "IY", "K"]}
        self._l = dict(zip(self.utterances, labels, strict=True))

    def labels(self, utt: str, groupings=("phoneme",)) -> dict[str, np.ndarray]:
        return {k: self._l[utt][k] for k in groupings}


class _Features:
    def __init__(self, inputs: list[np.ndarray]):
        self.x = {f"u{i}": x.T for i, x in enumerate(inputs)}

    def get(self, utt: str) -> np.ndarray:
        return self.x[utt]


def test_the_stage_stores_the_control_and_the_variants(tmp_path):
    (tmp_path / "asr").mkdir()
    rec = _recognizer(tmp_path / "asr")
    model = rec.model
    g, inputs, labels = _data(model, n_utt=4)
    p = {
        "min_count": 1,
        "probe_frames": 20,
        "batch_size": 2,
        "groupings": ["phoneme"],
        "contrast": ["AA", "IY", "K"],
        "saliency": True,
        "saliency_layers": ["layer03"],
        "saliency_frames": 0,
    }
    from nap.naps import NapParams

    summary = build_naps(
        tmp_path / "naps", NapParams.from_dict(p), None, _Features(inputs), rec, _Labels(labels), False
    )
    assert summary["control_seconds"] > 0 and summary["saliency_seconds"] > 0
    napset = NapSet.open(tmp_path / "naps")
    control = napset.control
    assert control is not None and control.layers == ["input", *napset.layers]
    assert control.meta["network"] == "untrained"
    ref = extract_naps(rec.untrained(), inputs, labels, {"phoneme": 4}, layers=control.layers)
    for lay in control.layers:
        np.testing.assert_allclose(control.nap("phoneme", lay), ref.nap("phoneme", lay), atol=1e-5)
    assert not np.allclose(control.nap("phoneme", "layer03"), napset.nap("phoneme", "layer03"))
    np.testing.assert_array_equal(
        control.probe_features("layer03")[1]["phoneme"], napset.probe_features("layer03")[1]["phoneme"]
    )
    names, con = napset.contrastive("phoneme", "layer02")
    assert names == ["AA", "IY", "K"] and con.shape[0] == 3
    idx = np.array([0, 2, 3])
    np.testing.assert_allclose(
        con, contrastive_naps(napset.mean("phoneme", "layer02"), napset.counts("phoneme"), idx)
    )
    assert napset.saliency_layers == ["layer03"]
    names, snap = napset.saliency_nap("phoneme", "layer03")
    sums, counts = saliency_sums(
        model, {"layer03": "layer03"}, inputs, labels, {"phoneme": 4}, g.receptive_field, g.stride
    )
    want = reference_naps(sums["layer03"]["phoneme"], counts["phoneme"], "global_mean", 1)
    np.testing.assert_allclose(snap, want, atol=1e-5)
    with pytest.raises(KeyError, match="no saliency-adjusted NAPs of layer 'layer02'"):
        napset.saliency_nap("phoneme", "layer02")
