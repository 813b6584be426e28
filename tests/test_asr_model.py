"""Wav2Letter's geometry is computed from its modules and matches what the network does."""

from __future__ import annotations

import pytest
import torch

from nap.asr.model import Architecture, Wav2Letter


@pytest.mark.parametrize(("k7", "rf", "n_layers"), [(7, 194, 11), (8, 206, 12)])
def test_receptive_field_and_layer_names(k7, rf, n_layers):
    model = Wav2Letter(Architecture(n_mels=8, channels=4, hidden=8, k7_layers=k7))
    assert model.receptive_field == rf
    assert model.stride == 2
    assert model.layer_names == [f"layer{i:02d}" for i in range(1, n_layers + 1)]
    geo = model.geometry()
    assert [g.kernel for g in geo] == [48] + [7] * k7 + [32, 1, 1]
    assert [g.stride for g in geo] == [2] + [1] * (n_layers - 1)
    assert geo[0].receptive_field == 48 and geo[1].receptive_field == 48 + 2 * 6
    for name in model.layer_names:
        assert isinstance(getattr(model, name).conv, torch.nn.Conv1d)
    assert [getattr(model, n).relu for n in model.layer_names] == [True] * (n_layers - 1) + [False]
    assert model.context_pad == (rf - 2) // 2


def test_paper_widths():
    model = Wav2Letter(Architecture(n_mels=128, classes=31, channels=256, hidden=2048))
    assert [(g.in_channels, g.out_channels) for g in model.geometry()][-3:] == [
        (256, 2048),
        (2048, 2048),
        (2048, 31),
    ]


def test_output_frames_and_empirical_receptive_field():
    torch.manual_seed(0)
    model = Wav2Letter(Architecture(n_mels=3, classes=5, channels=4, hidden=6, k7_layers=2))
    rf = model.receptive_field
    assert rf == 48 + 2 * (2 * 6 + 31)
    assert model.output_frames(rf - 1) == 0
    for frames in (rf, rf + 1, rf + 2, 300):
        x = torch.randn(1, 3, frames)
        assert model(x).shape[-1] == model.output_frames(frames)
    assert model.output_frames(torch.tensor([rf - 1, rf, 301])).tolist() == [0, 1, model.output_frames(301)]
    # output frame t depends on exactly the input frames of its window (positive weights and
    # inputs keep every ReLU open, so every connection shows in the gradient)
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    x = torch.rand(1, 3, 300, dtype=torch.float64, requires_grad=True)
    t = 10
    model.double()(x)[0, :, t].sum().backward()
    seen = (x.grad.abs().sum(1)[0] > 0).nonzero().flatten()
    start, end = model.input_window(t)
    assert (int(seen.min()), int(seen.max()) + 1) == (start, end) == (2 * t, 2 * t + rf)
    assert model.input_window(t, pad=model.context_pad) == (
        2 * t - model.context_pad,
        2 * t - model.context_pad + rf,
    )


def test_activations_are_the_named_layers_after_relu():
    torch.manual_seed(0)
    model = Wav2Letter(Architecture(n_mels=3, classes=5, channels=4, hidden=6, k7_layers=1))
    x = torch.randn(2, 3, 200)
    hooked = {}
    for name in model.layer_names:
        getattr(model, name).register_forward_hook(lambda m, i, o, name=name: hooked.__setitem__(name, o))
    logits, acts = model.activations(x)
    assert torch.equal(logits, model(x))
    assert set(acts) == set(model.layer_names)
    for name in model.layer_names[:-1]:
        assert torch.equal(acts[name], hooked[name]) and acts[name].min() >= 0
    assert acts["layer02"].shape == (2, 4, (200 - 48) // 2 + 1 - 6)
    with pytest.raises(KeyError, match="layer99"):
        model.activations(x, ["layer99"])


def test_flipped_input_grad_is_the_convolutions_gradient():
    """FlippedInputGrad: the same function and the same gradients as Conv1d (float64 gradcheck),
    and only the wide stride-1 layer of the network takes it, in training only."""
    from nap.asr.model import FlippedInputGrad

    torch.manual_seed(0)
    x = torch.randn(2, 3, 40, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 3, 32, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(FlippedInputGrad.apply, (x, w, b))
    assert torch.autograd.gradcheck(lambda x, w: FlippedInputGrad.apply(x, w, None), (x, w))

    model = Wav2Letter(Architecture(n_mels=8, channels=6, hidden=10, classes=5))
    assert model.flip_input_grads() == ["layer09"]
    plain = Wav2Letter(Architecture(n_mels=8, channels=6, hidden=10, classes=5))
    plain.load_state_dict(model.state_dict())
    feats = torch.randn(3, 8, 260)
    for net in (model, plain):
        net.train()
        net(feats).square().mean().backward()
    for (name, p), q in zip(model.named_parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=name)
    assert model.flip_input_grads(False) == []
    assert not any(layer.flipped_input_grad for layer in model.layers())
