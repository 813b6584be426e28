"""Time-independent Neuron Activation Profiles (paper §3.1, Figure 1), exact and in one pass.

For an output frame of a model made of unpadded 1D convolutions, its input window is the
receptive field producing it; a layer's activations over that window are a
(channels × positions) slice of the layer's activations over the whole utterance. Per group
of frames: the mean of those slices, minus the mean over all frames, each channel's values
sorted — the group's NAP. :func:`extract_naps` computes them for any such ``nn.Module`` in a
single forward pass per batch with streaming float64 sums; :func:`build_naps` is the
study's stage, :class:`NapSet` its stored result (format in :mod:`nap.naps.io`).

    from nap.naps import extract_naps
    result = extract_naps(model, inputs, labels, {"phoneme": names})
    result.nap("phoneme", "layer09")        # (G, C, P)
"""

from typing import TYPE_CHECKING

from nap.lazy import exports
from nap.naps.params import NapParams

if TYPE_CHECKING:
    from nap.naps.api import NapResult, extract_naps
    from nap.naps.extract import LabelError, LayerTap, NapAccumulator
    from nap.naps.geometry import Geometry, GeometryError, LayerGeometry, model_geometry
    from nap.naps.io import NapSet
    from nap.naps.normalize import group_naps
    from nap.naps.stage import build_naps

# torch is imported on first use of these (nap.lazy): `nap params` and `nap results` stay fast
__getattr__ = exports(
    __name__,
    {
        "nap.naps.api": ["NapResult", "extract_naps"],
        "nap.naps.extract": ["LabelError", "LayerTap", "NapAccumulator"],
        "nap.naps.geometry": ["Geometry", "GeometryError", "LayerGeometry", "model_geometry"],
        "nap.naps.io": ["NapSet"],
        "nap.naps.normalize": ["group_naps"],
        "nap.naps.stage": ["build_naps"],
    },
)

__all__ = [
    "Geometry",
    "GeometryError",
    "LabelError",
    "LayerGeometry",
    "LayerTap",
    "NapAccumulator",
    "NapParams",
    "NapResult",
    "NapSet",
    "build_naps",
    "extract_naps",
    "group_naps",
    "model_geometry",
]
