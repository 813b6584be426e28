"""Wav2Letter after Kunze et al. (``speechless``): 1D convolutions without padding, ReLU.

k48 stride 2 → N × k7 → k32 → k1 → k1 (classes). Every layer is a named submodule
``layer01``, ``layer02``, … holding a ``torch.nn.Conv1d`` (``.conv``) followed by a ReLU
(all but the last), so a forward hook on ``model.layerNN`` sees the layer's activations as
the NAP stage uses them. Receptive field, stride and each layer's geometry are computed
from the modules, never typed in: N = 7 gives 194 input frames, N = 8 the paper's 206.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from nap.errors import NapError

#: narrowest kernel whose input gradient :class:`FlippedInputGrad` computes (see there)
FLIPPED_GRAD_KERNEL = 16


class FlippedInputGrad(torch.autograd.Function):
    """A stride-1, unpadded conv1d whose input gradient is a forward convolution.

    The input gradient of ``y = conv1d(x, w)`` is ``conv1d(pad(g, k - 1), flip(w)ᵀ)``. On a
    CPU, oneDNN's backward-data kernel for the wide k32 layer is slow: with 192 → 768
    channels, a batch of 16 × 155 frames, one thread, float32 on an AVX2 EPYC it takes 535-563
    ms, the same product as a forward convolution 253 ms, and the whole network's training
    step (1.72 s) loses ~0.3 s to it; for k7 and k1 the two are equal (22 / 19 ms, 29 / 29 ms).
    Same sums in another order: relative difference ~1e-5. The weight gradient is oneDNN's.
    Which way is faster depends on the shape and the CPU (at the paper's widths, 250 → 2000,
    oneDNN's was faster there), so training measures both (:func:`nap.asr.train.cpu_kernels`).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return nn.functional.conv1d(x, weight, bias)

    @staticmethod
    def input_grad(grad: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """The input gradient from the output gradient: ``conv1d(pad(grad, k - 1), flip(weight)ᵀ)``."""
        k = weight.shape[2]
        return nn.functional.conv1d(nn.functional.pad(grad, (k - 1, k - 1)), weight.flip(2).transpose(0, 1))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = FlippedInputGrad.input_grad(grad, weight)
        want_w = ctx.needs_input_grad[1]
        want_b = ctx.has_bias and ctx.needs_input_grad[2]
        if want_w or want_b:
            _, grad_w, grad_b = torch.ops.aten.convolution_backward(
                grad, x, weight, [weight.shape[0]], [1], [0], [1], False, [0], 1, [False, want_w, want_b]
            )
        return grad_x, grad_w, grad_b


@dataclass(frozen=True)
class Architecture:
    """Everything that determines the network's shape."""

    n_mels: int = 128
    classes: int = 31
    channels: int = 256
    hidden: int = 2048
    k7_layers: int = 7
    first_kernel: int = 48
    first_stride: int = 2
    wide_kernel: int = 32
    norm: str = "none"  # "batch": BatchNorm1d between each conv and its ReLU (for training; see fold_norm)
    dropout: float = 0.0  # dropout on the input of every layer but the first, in training mode only

    def layer_specs(self) -> list[tuple[int, int, int, int]]:
        """(in channels, out channels, kernel, stride) of every layer, in order."""
        specs = [(self.n_mels, self.channels, self.first_kernel, self.first_stride)]
        specs += [(self.channels, self.channels, 7, 1)] * self.k7_layers
        specs += [
            (self.channels, self.hidden, self.wide_kernel, 1),
            (self.hidden, self.hidden, 1, 1),
            (self.hidden, self.classes, 1, 1),
        ]
        return specs

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class LayerSpec:
    """One layer of the built network: its :meth:`Architecture.layer_specs` entry, measured from its
    Conv1d, with the input frames it sees and its parameter count (the architecture table's row).

    The NAP stage's window geometry of a layer is :class:`nap.naps.geometry.LayerGeometry`.
    """

    name: str
    kernel: int
    stride: int
    in_channels: int
    out_channels: int
    receptive_field: int  # input frames one output frame of this layer sees
    jump: int  # input frames between two neighbouring output frames of this layer
    parameters: int


class ConvLayer(nn.Module):
    """A Conv1d without padding, then (optionally) batch norm, then a ReLU unless it is the output layer."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int,
        relu: bool,
        norm: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.dropout = dropout
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride=stride)
        #: train through :class:`FlippedInputGrad` (set by :meth:`Wav2Letter.flip_input_grads`)
        self.flipped_input_grad = False
        self.norm = nn.BatchNorm1d(c_out) if norm else None
        self.relu = relu
        if relu:
            nn.init.kaiming_uniform_(self.conv.weight, nonlinearity="relu")
            nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dropout and self.training:
            x = nn.functional.dropout(x, self.dropout, training=True)
        if self.flipped_input_grad and self.training and x.requires_grad:
            y = FlippedInputGrad.apply(x, self.conv.weight, self.conv.bias)
        else:
            y = self.conv(x)
        if self.norm is not None:
            y = self.norm(y)
        return torch.relu(y) if self.relu else y

    def extra_repr(self) -> str:
        return f"relu={self.relu}, dropout={self.dropout}"


class Wav2Letter(nn.Module):
    """(batch, n_mels, frames) → (batch, classes, out_frames) logits."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.arch = arch
        specs = arch.layer_specs()
        self.layer_names = [f"layer{i:02d}" for i in range(1, len(specs) + 1)]
        for i, (name, (c_in, c_out, k, s)) in enumerate(zip(self.layer_names, specs, strict=True)):
            last = i == len(specs) - 1
            norm = arch.norm == "batch" and not last
            drop = arch.dropout if i > 0 else 0.0
            self.add_module(name, ConvLayer(c_in, c_out, k, s, relu=not last, norm=norm, dropout=drop))

    def layers(self) -> list[ConvLayer]:
        return [getattr(self, n) for n in self.layer_names]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers():
            x = layer(x)
        return x

    def wide_layers(self) -> list[str]:
        """The stride-1, unpadded, undilated layers of kernels ≥ :data:`FLIPPED_GRAD_KERNEL`: those
        :class:`FlippedInputGrad` may train."""
        return [
            name
            for name, layer in zip(self.layer_names, self.layers(), strict=True)
            if layer.conv.kernel_size[0] >= FLIPPED_GRAD_KERNEL
            and layer.conv.stride[0] == 1
            and layer.conv.dilation[0] == 1
            and layer.conv.padding[0] == 0
        ]

    def flip_input_grads(self, layers: Iterable[str] | bool = True) -> list[str]:
        """Train ``layers`` (True: every :meth:`wide_layers` one; False: none) through
        :class:`FlippedInputGrad`; returns their names."""
        wide = self.wide_layers()
        chosen = set(wide if layers is True else [] if layers is False else layers)
        if chosen - set(wide):
            raise ValueError(f"layers {sorted(chosen - set(wide))} are not among the wide layers {wide}")
        for name, layer in zip(self.layer_names, self.layers(), strict=True):
            layer.flipped_input_grad = name in chosen
        return [n for n in self.layer_names if n in chosen]

    def activations(
        self, x: torch.Tensor, layers: Iterable[str] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Logits and the named layers' activations (after ReLU), each (batch, channels, frames)."""
        wanted = set(self.layer_names if layers is None else layers)
        unknown = wanted - set(self.layer_names)
        if unknown:
            raise KeyError(f"unknown layer(s) {sorted(unknown)}; the model has {self.layer_names}")
        acts = {}
        for name, layer in zip(self.layer_names, self.layers(), strict=False):
            x = layer(x)
            if name in wanted:
                acts[name] = x
        return x, acts

    # -- geometry, computed from the modules ------------------------------------------
    def geometry(self) -> list[LayerSpec]:
        """Receptive field and jump of every layer, from its Conv1d's kernel and stride."""
        out, rf, jump = [], 1, 1
        for name, layer in zip(self.layer_names, self.layers(), strict=False):
            conv = layer.conv
            k, s, d = conv.kernel_size[0], conv.stride[0], conv.dilation[0]
            rf += (d * (k - 1)) * jump
            jump *= s
            n_params = sum(p.numel() for p in conv.parameters())
            out.append(LayerSpec(name, k, s, conv.in_channels, conv.out_channels, rf, jump, n_params))
        return out

    @property
    def receptive_field(self) -> int:
        """Input frames that one output frame depends on."""
        return self.geometry()[-1].receptive_field

    @property
    def stride(self) -> int:
        """Input frames between two output frames."""
        return self.geometry()[-1].jump

    def output_frames(self, frames: int | torch.Tensor) -> int | torch.Tensor:
        """Output frames for ``frames`` input frames (0 when shorter than the receptive field)."""
        n = frames
        for layer in self.layers():
            conv = layer.conv
            k, s, d = conv.kernel_size[0], conv.stride[0], conv.dilation[0]
            n = (n - d * (k - 1) - 1) // s + 1
        if isinstance(n, torch.Tensor):
            return n.clamp(min=0)
        return max(int(n), 0)

    def fold_norm(self) -> Wav2Letter:
        """The same function as a plain Wav2Letter in eval mode: each batch norm's running
        statistics and affine map folded into its convolution's weights and bias; no dropout."""
        plain = Wav2Letter(replace(self.arch, norm="none", dropout=0.0))
        with torch.no_grad():
            for src, dst in zip(self.layers(), plain.layers(), strict=True):
                w, b = src.conv.weight, src.conv.bias
                if src.norm is not None:
                    n = src.norm
                    scale = n.weight / torch.sqrt(n.running_var + n.eps)
                    w = w * scale[:, None, None]
                    b = (b - n.running_mean) * scale + n.bias
                dst.conv.weight.copy_(w)
                dst.conv.bias.copy_(b)
        return plain

    @property
    def context_pad(self) -> int:
        """Frames of silence added at each end of an utterance so every frame gets an output
        centred on it: (receptive field - stride) / 2."""
        return (self.receptive_field - self.stride) // 2

    def input_window(self, t: int, pad: int = 0) -> tuple[int, int]:
        """The frames [start, end) of the unpadded utterance that output frame ``t`` sees, when
        ``pad`` frames were added at its start (start < 0: the window reaches into the padding)."""
        return t * self.stride - pad, t * self.stride - pad + self.receptive_field


class ArchitectureError(NapError, ValueError):
    """Weights that do not fit the network they are loaded into."""


def load_weights(
    model: nn.Module, state: dict[str, torch.Tensor], source: object, config: object = None
) -> None:
    """``model.load_state_dict(state)``, with an error naming ``source`` when the shapes differ."""
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        detail = next((ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()), str(e))
        where = f" (the architecture in {config})" if config is not None else ""
        raise ArchitectureError(
            f"{source} holds weights of another architecture than this network{where}: {detail}"
        ) from None
