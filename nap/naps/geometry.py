"""Window geometry of a chain of 1D convolutions, derived from the modules themselves.

An output frame ``t`` of the model sees the input frames ``[t*S, t*S + R)`` (stride ``S``,
receptive field ``R``; no padding anywhere). Fed alone, that window gives every layer a
``(channels, P)`` block of activations, and because nothing is padded this block is exactly
the slice ``[t*s + offset, t*s + offset + P)`` of the layer's activations over the whole
utterance, where ``s = S / jump`` is the layer's positions per output frame and ``jump``
its cumulative stride. :func:`model_geometry` finds the chain (every ``Conv1d`` and 1D
pooling module), computes ``R``, ``S``, and per layer ``offset``, ``P`` (``positions``),
``s`` (``step``) from kernel sizes, strides and dilations, and checks all of it with two
probe forward passes (the window alone, and a few frames), so that any ``nn.Module`` whose
convolutions form a plain chain works, not only the study's Wav2Letter.

Which activations a layer stands for: the output of the outermost module around the
``Conv1d`` that contains no other layer (e.g. ``layer03`` holding ``conv`` and a ReLU), or
of the last shape-preserving module applied to the conv's output before the next layer
(e.g. an ``nn.ReLU`` after it in an ``nn.Sequential``) — the paper's activations after the
nonlinearity. ``LayerGeometry.activation`` says what was found (``relu``, ``none`` for the
output layer, or ``other``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from nap.errors import NapError

#: Modules that form the chain (all must have padding 0).
CHAIN_TYPES = (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d)

#: The pseudo-layer name of the model's input (the spectrogram window itself).
INPUT = "input"


class GeometryError(NapError, ValueError):
    """The model's modules do not form a chain of unpadded 1D convolutions."""


@dataclass(frozen=True)
class LayerGeometry:
    """Where a layer's window lies in its activations, for every output frame.

    Frame ``t``'s window is positions ``[offset + t*step, offset + t*step + positions)``;
    position ``j`` sees input frames ``[j*jump, j*jump + receptive_field)``.
    """

    name: str  # the layer's name (e.g. "layer03"), "input" for the spectrogram
    module: str  # module whose forward output is taken ("" = the model's input)
    conv: str  # the Conv1d's module path
    channels: int
    kernel_size: int
    stride: int
    dilation: int
    jump: int  # input frames between neighbouring positions (cumulative stride)
    receptive_field: int  # input frames one position sees
    offset: int  # first position of frame 0's window
    positions: int  # P: window length in positions
    step: int  # positions per output frame
    activation: str  # "relu", "none" (the conv's own output), "other", or "input"

    def window(self, t: int) -> slice:
        """Positions of output frame ``t``'s window."""
        start = self.offset + t * self.step
        return slice(start, start + self.positions)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Geometry:
    """The chain's receptive field and stride, and each Conv1d layer's window geometry."""

    receptive_field: int  # R: input frames per output frame
    stride: int  # S: input frames between output frames
    in_channels: int
    layers: tuple[LayerGeometry, ...]  # every Conv1d layer in order (plus "input" first)

    @property
    def names(self) -> list[str]:
        """Names of the model's Conv1d layers (``input`` excluded)."""
        return [g.name for g in self.layers if g.name != INPUT]

    def __getitem__(self, name: str) -> LayerGeometry:
        for g in self.layers:
            if g.name == name or (g.conv == name and name):
                return g
        raise KeyError(f"no layer {name!r}; layers are: {', '.join(g.name for g in self.layers)}")

    def frames(self, n_input: int) -> int:
        """Output frames for ``n_input`` input frames (0 when shorter than the receptive field)."""
        return max(0, (n_input - self.receptive_field) // self.stride + 1)

    def input_window(self, t: int) -> slice:
        """Input frames of output frame ``t``."""
        return slice(t * self.stride, t * self.stride + self.receptive_field)

    def select(self, layers: list[str] | None) -> list[LayerGeometry]:
        """The named layers in chain order (None = every Conv1d layer); unknown names raise."""
        if layers is None:
            return [g for g in self.layers if g.name != INPUT]
        unknown = [n for n in layers if not any(n in (g.name, g.conv) for g in self.layers)]
        if unknown:
            raise GeometryError(
                f"unknown layer(s) {unknown}; the model's layers are: "
                f"{', '.join(g.name for g in self.layers)}"
            )
        return [g for g in self.layers if g.name in layers or g.conv in layers]

    def to_dict(self) -> dict[str, Any]:
        return {
            "receptive_field": self.receptive_field,
            "stride": self.stride,
            "in_channels": self.in_channels,
            "layers": [g.to_dict() for g in self.layers],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Geometry:
        return cls(
            d["receptive_field"],
            d["stride"],
            d["in_channels"],
            tuple(LayerGeometry(**g) for g in d["layers"]),
        )


def _int1(value: Any) -> int:
    return int(value[0]) if isinstance(value, (tuple, list)) else int(value)


def _chain_params(name: str, m: nn.Module) -> tuple[int, int, int]:
    """(kernel, stride, dilation) of a chain module; padding must be 0."""
    pad = m.padding
    if isinstance(pad, str):
        if pad != "valid":
            raise GeometryError(
                f"module {name!r} ({type(m).__name__}) has padding={pad!r}: NAP windows need padding 0, "
                "so that a window's activations depend on nothing outside it"
            )
    elif _int1(pad) != 0:
        raise GeometryError(
            f"module {name!r} ({type(m).__name__}) has padding={_int1(pad)}: NAP windows need padding 0, "
            "so that a window's activations depend on nothing outside it"
        )
    if getattr(m, "ceil_mode", False):
        raise GeometryError(
            f"module {name!r} ({type(m).__name__}) has ceil_mode=True; NAP windows need ceil_mode=False"
        )
    kernel = _int1(m.kernel_size)
    stride = _int1(m.stride) if m.stride is not None else kernel
    dilation = _int1(getattr(m, "dilation", 1))
    return kernel, stride, dilation


def _lengths(chain: list[tuple[str, int, int, int]], n: int) -> list[int]:
    out = []
    for _, k, s, d in chain:
        n = (n - d * (k - 1) - 1) // s + 1
        out.append(n)
    return out


class _Recorder:
    """Forward (pre-)hooks on every module that log call order, shapes and outputs."""

    def __init__(self, model: nn.Module):
        self.events: list[tuple[str, str, Any]] = []
        self.handles = []
        for name, m in model.named_modules():
            self.handles.append(m.register_forward_pre_hook(self._pre(name)))
            self.handles.append(m.register_forward_hook(self._post(name)))

    def _pre(self, name: str):
        def hook(module, args):
            x = args[0] if args else None
            self.events.append(("pre", name, tuple(x.shape) if isinstance(x, torch.Tensor) else None))

        return hook

    def _post(self, name: str):
        def hook(module, args, output):
            out = output.detach().clone() if isinstance(output, torch.Tensor) else None
            self.events.append(("post", name, out))

        return hook

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def _run(model: nn.Module, x: torch.Tensor) -> list[tuple[str, str, Any]]:
    rec = _Recorder(model)
    try:
        with torch.no_grad():
            model(x)
    finally:
        rec.close()
    return rec.events


def _activation(conv_out: torch.Tensor, out: torch.Tensor) -> str:
    if torch.equal(out, conv_out):
        return "none"
    if torch.allclose(out, conv_out.clamp_min(0)):
        return "relu"
    return "other"


def model_geometry(model: nn.Module, in_channels: int | None = None, include_input: bool = True) -> Geometry:
    """Derive the window geometry of ``model``'s chain of Conv1d (and 1D pooling) modules.

    Raises :class:`GeometryError` naming the module when a module is padded, called more
    than once, not part of one plain chain, or when something between two layers changes
    the time axis.
    """
    named = [(n, m) for n, m in model.named_modules() if isinstance(m, CHAIN_TYPES)]
    if not any(isinstance(m, nn.Conv1d) for _, m in named):
        raise GeometryError(
            f"{type(model).__name__} has no torch.nn.Conv1d module; NAPs need 1D convolutions"
        )
    params = {n: _chain_params(n, m) for n, m in named}
    first_conv = next(m for _, m in named if isinstance(m, nn.Conv1d))
    in_channels = int(in_channels or first_conv.in_channels)

    # receptive field from registration order, then the call order decides (checked below)
    def rf_stride(order: list[str]) -> tuple[int, int]:
        rf, jump = 1, 1
        for n in order:
            k, s, d = params[n]
            rf += d * (k - 1) * jump
            jump *= s
        return rf, jump

    was_training = model.training
    model.eval()
    try:
        rf, stride = rf_stride([n for n, _ in named])
        gen = torch.Generator().manual_seed(0)
        param = next(model.parameters(), None)
        dtype = param.dtype if param is not None else torch.float32
        device = param.device if param is not None else torch.device("cpu")
        x = torch.randn(1, in_channels, rf + 2 * stride, generator=gen).to(device=device, dtype=dtype)
        events = _run(model, x)
        pre = [(n, shape) for kind, n, shape in events if kind == "pre" and n in params]
        order = [n for n, _ in pre]
        for n in params:
            calls = order.count(n)
            if calls != 1:
                raise GeometryError(
                    f"module {n!r} ({type(dict(named)[n]).__name__}) ran {calls} times in one forward pass; "
                    "NAP windows need each layer of the chain to run exactly once"
                )
        rf, stride = rf_stride(order)
        chain = [(n, *params[n]) for n in order]
        expected = _lengths(chain, rf + 2 * stride)
        inputs = [shape[-1] if shape else None for _, shape in pre]
        prev_len, prev_name = rf + 2 * stride, "the input"
        for (n, _, _, _), got, out_len in zip(chain, inputs, expected, strict=False):
            if got != prev_len:
                raise GeometryError(
                    f"the time axis changes between {prev_name} ({prev_len} positions) and module {n!r} "
                    f"({got} positions): NAP windows need a plain chain of unpadded Conv1d/pooling layers"
                )
            prev_len, prev_name = out_len, f"module {n!r}"
        if expected[-1] != 3:
            raise GeometryError(f"internal: chain gives {expected[-1]} frames for R + 2S inputs, expected 3")

        # the module whose output stands for each conv layer
        idx_post = {n: i for i, (kind, n, _) in enumerate(events) if kind == "post"}
        idx_pre = {n: i for i, (kind, n, _) in enumerate(events) if kind == "pre" and n in params}
        layers: list[LayerGeometry] = []
        if include_input:
            layers.append(LayerGeometry(INPUT, "", "", in_channels, 1, 1, 1, 1, 1, 0, rf, stride, "input"))
        jump, lrf = 1, 1
        for i, (n, k, s, d) in enumerate(chain):
            lrf += d * (k - 1) * jump
            jump *= s
            m = dict(named)[n]
            if not isinstance(m, nn.Conv1d):
                continue
            conv_out = events[idx_post[n]][2]
            end = idx_pre[chain[i + 1][0]] if i + 1 < len(chain) else len(events)
            chosen, out = n, conv_out
            for j in range(idx_post[n] + 1, end):
                kind, name, value = events[j]
                if kind != "post" or not isinstance(value, torch.Tensor) or value.shape != conv_out.shape:
                    continue
                inner = [c for c in params if c == name or c.startswith(name + ".") or name == ""]
                if inner and inner != [n]:
                    continue  # contains other layers of the chain (e.g. the whole model)
                chosen, out = name, value
            label = chosen if chosen and n.startswith(chosen + ".") else n
            positions = (rf - lrf) // jump + 1
            layers.append(
                LayerGeometry(
                    name=label,
                    module=chosen,
                    conv=n,
                    channels=int(m.out_channels),
                    kernel_size=k,
                    stride=s,
                    dilation=d,
                    jump=jump,
                    receptive_field=lrf,
                    offset=0,
                    positions=positions,
                    step=stride // jump,
                    activation=_activation(conv_out, out),
                )
            )
        geometry = Geometry(rf, stride, in_channels, tuple(layers))
        _check_window(model, geometry, device, dtype)
        return geometry
    finally:
        model.train(was_training)


def _check_window(model: nn.Module, geometry: Geometry, device: torch.device, dtype: torch.dtype) -> None:
    """Feed one receptive field alone: every layer must give exactly ``positions`` positions."""
    x = torch.zeros(1, geometry.in_channels, geometry.receptive_field, device=device, dtype=dtype)
    events = _run(model, x)
    outs = {n: v for kind, n, v in events if kind == "post" and isinstance(v, torch.Tensor)}
    for g in geometry.layers:
        if g.name == INPUT:
            continue
        got = outs[g.module].shape[-1]
        if got != g.positions:
            raise GeometryError(
                f"layer {g.name!r}: a window of {geometry.receptive_field} input frames gives {got} "
                f"positions, the geometry says {g.positions}"
            )
