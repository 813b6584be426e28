"""Window geometry derived from the modules: receptive field, stride, per-layer windows, bad models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nap.naps.geometry import GeometryError, model_geometry
from nap.naps.reference import empirical_frames


def _w2l(k7_layers: int = 7, channels: int = 8, hidden: int = 12):
    from nap.asr.model import Architecture, Wav2Letter

    torch.manual_seed(0)
    arch = Architecture(n_mels=16, classes=5, channels=channels, hidden=hidden, k7_layers=k7_layers)
    return Wav2Letter(arch)


@pytest.mark.parametrize(("k7", "rf"), [(7, 194), (8, 206)])
def test_wav2letter_receptive_field(k7, rf):
    model = _w2l(k7)
    g = model_geometry(model)
    assert (g.receptive_field, g.stride) == (rf, 2)
    assert (g.receptive_field, g.stride) == empirical_frames(model, 16)
    assert g.names == [f"layer{i:02d}" for i in range(1, k7 + 5)]
    assert [lay.activation for lay in g.layers[1:]] == ["relu"] * (k7 + 3) + ["none"]
    # k48 stride 2: (194 - 48) / 2 + 1 = 74 positions, each k7 layer 6 fewer, k32 leaves 1
    first = 74 + 6 * (k7 - 7)
    assert [lay.positions for lay in g.layers[1:]] == [first - 6 * i for i in range(k7 + 1)] + [1, 1, 1]
    assert all(lay.step == 1 for lay in g.layers[1:])
    assert g["input"].positions == rf and g["input"].step == 2
    assert g.frames(rf - 1) == 0 and g.frames(rf) == 1 and g.frames(rf + 5) == 3


class Strided(nn.Module):
    """Convs and pools with strides, dilations and a functional nonlinearity in a custom forward."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(3, 5, 4, stride=2)
        self.pool = nn.MaxPool1d(2)
        self.b = nn.Sequential(nn.Conv1d(5, 6, 3, dilation=2), nn.ReLU())
        self.c = nn.Conv1d(6, 4, 3, stride=3)

    def forward(self, x):
        x = torch.tanh(self.a(x))
        return self.c(self.b(self.pool(x)))


def test_strides_dilations_pooling_match_the_model():
    model = Strided()
    g = model_geometry(model)
    assert (g.receptive_field, g.stride) == empirical_frames(model, 3)
    assert [lay.name for lay in g.layers] == ["input", "a", "b", "c"]
    assert [lay.activation for lay in g.layers] == ["input", "none", "relu", "none"]
    assert g["b"].module == "b" and g["b"].conv == "b.0" and g["a"].step == 6


@pytest.mark.parametrize("model_fn", [_w2l, Strided])
def test_windows_are_slices_of_the_whole_utterance(model_fn):
    """The core claim: a window fed alone gives exactly the slice ``window(t)`` of each layer."""
    model = model_fn().eval()
    g = model_geometry(model)
    modules = dict(model.named_modules())
    acts: dict[str, torch.Tensor] = {}
    hooks = [
        modules[lay.module].register_forward_hook(lambda m, a, o, n=lay.name: acts.__setitem__(n, o))
        for lay in g.layers[1:]
    ]
    x = torch.randn(1, g.in_channels, g.receptive_field + 7 * g.stride + 1)
    with torch.no_grad():
        model(x)
        whole = dict(acts)
        for t in range(g.frames(x.shape[-1])):
            model(x[..., g.input_window(t)])
            for lay in g.layers[1:]:
                want = whole[lay.name][..., lay.window(t)]
                torch.testing.assert_close(acts[lay.name], want, atol=1e-5, rtol=1e-5)
    for h in hooks:
        h.remove()


def test_sequential_takes_the_relu_after_each_conv():
    model = nn.Sequential(
        nn.Conv1d(2, 3, 3), nn.ReLU(), nn.Conv1d(3, 4, 2, stride=2), nn.ReLU(), nn.Conv1d(4, 2, 1)
    )
    g = model_geometry(model)
    assert [(lay.name, lay.module, lay.activation) for lay in g.layers[1:]] == [
        ("0", "1", "relu"),
        ("2", "3", "relu"),
        ("4", "4", "none"),
    ]
    assert (g.receptive_field, g.stride) == (4, 2)


def test_padding_is_refused_naming_the_module():
    model = nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU(), nn.Conv1d(3, 3, 3, padding=1))
    with pytest.raises(GeometryError, match=r"module '2'.*padding=1"):
        model_geometry(model)
    with pytest.raises(GeometryError, match="padding='same'"):
        model_geometry(nn.Sequential(nn.Conv1d(2, 3, 3, padding="same")))


def test_a_module_run_twice_is_refused():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(2, 2, 3)

        def forward(self, x):
            return self.conv(self.conv(x))

    with pytest.raises(GeometryError, match="'conv'.*ran 2 times"):
        model_geometry(Twice())


def test_a_time_changing_op_between_layers_is_refused():
    class Cropped(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv1d(2, 2, 3), nn.Conv1d(2, 2, 3)

        def forward(self, x):
            return self.b(self.a(x)[..., 1:])

    with pytest.raises(GeometryError, match="time axis changes between module 'a'"):
        model_geometry(Cropped())


def test_no_conv_and_unknown_layers():
    with pytest.raises(GeometryError, match="no torch.nn.Conv1d"):
        model_geometry(nn.Sequential(nn.Linear(2, 2)))
    g = model_geometry(_w2l())
    with pytest.raises(GeometryError, match="unknown layer"):
        g.select(["layer99"])
    assert [lay.name for lay in g.select(["layer03", "input"])] == ["input", "layer03"]


def test_geometry_round_trips_through_a_dict():
    from nap.naps.geometry import Geometry

    g = model_geometry(Strided())
    assert Geometry.from_dict(g.to_dict()) == g
